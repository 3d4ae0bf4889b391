package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/proxbox/proxbox/egress"
	"github.com/proxbox/proxbox/store"
)

// ProxmoxAPI reads one Proxmox endpoint's API (the envelope's "data"
// member) for the read routes. The proxmox package implements it.
type ProxmoxAPI interface {
	Get(ctx context.Context, ep store.ProxmoxEndpoint, path string, query url.Values) (json.RawMessage, error)
}

// ErrProxmoxUpstream marks an error the Proxmox API returned (502 here).
var ErrProxmoxUpstream = errors.New("proxmox upstream error")

func (s *Server) proxmoxRoutes() {
	if s.opt.Proxmox == nil {
		return
	}
	e := s.e
	e.GET("/proxmox/sessions", s.pxSessions)
	e.GET("/proxmox/version", s.pxPerSession("/version", "No Proxmox active connections found, not able to retrieve version information"))
	e.GET("/proxmox/cluster/status", s.pxClusterStatus)
	e.GET("/proxmox/cluster/resources", s.pxPerSession("/cluster/resources", "", "type"))
	e.GET("/proxmox/cluster/backup", s.pxFlat("/cluster/backup"))
	e.GET("/proxmox/replication", s.pxFlat("/cluster/replication"))
	// Every node of every session (the Python service returned only the first).
	nodes := s.pxPerSession("/nodes", "")
	e.GET("/proxmox/nodes/", nodes)
	e.GET("/proxmox/nodes", nodes)
	e.GET("/proxmox/storage", s.pxPerSession("/storage", ""))
	e.GET("/proxmox/nodes/:node/storage/:storage/content", s.pxStorageContent)
	e.GET("/proxmox/nodes/:node/network", s.pxNodeScoped("network", "type"))
	e.GET("/proxmox/nodes/:node/qemu/:vmid/firewall", s.pxFirewall)
	e.GET("/proxmox/:node/:type/:vmid/config", s.pxGuestConfig)
}

// pxSession is one selected Proxmox endpoint with its display name.
type pxSession struct {
	ep   store.ProxmoxEndpoint
	name string // cluster name, node name (standalone), or host (restricted)
	mode string // cluster | standalone | restricted
	err  error
}

// selectEndpoints applies the plugin's selector (source=database with
// ip_address > domain > name, or endpoint_ids / proxmox_endpoint_ids).
func (s *Server) selectEndpoints(c echo.Context) ([]store.ProxmoxEndpoint, error) {
	if src := c.QueryParam("source"); src != "" && src != "database" && src != "netbox" {
		return nil, fail(http.StatusBadRequest, "Invalid source parameter: use 'database'.")
	}
	eps, err := s.store.ProxmoxEndpoints(c.Request().Context())
	if err != nil {
		return nil, err
	}
	ids := c.QueryParam("endpoint_ids")
	if ids == "" {
		ids = c.QueryParam("proxmox_endpoint_ids")
	}
	if ids != "" {
		want := map[int64]bool{}
		for _, p := range strings.Split(ids, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
			if err != nil {
				return nil, fail(http.StatusBadRequest, "Invalid Proxmox endpoint_ids query parameter.")
			}
			want[n] = true
		}
		eps = filterEndpoints(eps, func(e store.ProxmoxEndpoint) bool { return want[e.ID] })
	}
	for _, sel := range []struct {
		param string
		match func(store.ProxmoxEndpoint, string) bool
	}{
		{"ip_address", func(e store.ProxmoxEndpoint, v string) bool { return e.IPAddress == stripMask(v) }},
		{"domain", func(e store.ProxmoxEndpoint, v string) bool { return strings.EqualFold(e.Domain, v) }},
		{"name", func(e store.ProxmoxEndpoint, v string) bool { return e.Name == v }},
	} {
		v := c.QueryParam(sel.param)
		if v == "" {
			continue
		}
		eps = filterEndpoints(eps, func(e store.ProxmoxEndpoint) bool { return sel.match(e, v) })
		if len(eps) == 0 {
			return nil, fail(http.StatusBadRequest, "No result found for Proxmox Sessions based on the provided "+sel.param)
		}
		break
	}
	if len(eps) == 0 {
		return nil, fail(http.StatusNotFound, "No Proxmox endpoint configured: push one with POST /proxmox/endpoints.")
	}
	return eps, nil
}

func filterEndpoints(eps []store.ProxmoxEndpoint, keep func(store.ProxmoxEndpoint) bool) []store.ProxmoxEndpoint {
	out := eps[:0:0]
	for _, e := range eps {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

type statusRecord struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	ID      string `json:"id"`
	Nodes   int    `json:"nodes"`
	Quorate int    `json:"quorate"`
	Version int    `json:"version"`
	IP      string `json:"ip"`
	Level   string `json:"level"`
	Local   int    `json:"local"`
	NodeID  int    `json:"nodeid"`
	Online  int    `json:"online"`
}

// sessions resolves each endpoint's display name from /cluster/status,
// concurrently (bounded).
func (s *Server) resolveSessions(ctx context.Context, eps []store.ProxmoxEndpoint) []pxSession {
	out := make([]pxSession, len(eps))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, ep := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ss := pxSession{ep: ep, name: hostOf(ep.Domain, ep.IPAddress), mode: "restricted"}
			raw, err := s.opt.Proxmox.Get(ctx, ep, "/cluster/status", nil)
			if err != nil {
				ss.err = err
				out[i] = ss
				return
			}
			recs, _ := decodeStatus(raw)
			nodes := 0
			for _, r := range recs {
				switch r.Type {
				case "cluster":
					ss.name, ss.mode = r.Name, "cluster"
				case "node":
					nodes++
					if ss.mode != "cluster" {
						ss.name, ss.mode = r.Name, "standalone"
					}
				}
			}
			out[i] = ss
		}()
	}
	wg.Wait()
	return out
}

// decodeStatus reads /cluster/status tolerating PVE's string-or-number fields.
func decodeStatus(raw json.RawMessage) ([]statusRecord, error) {
	var loose []map[string]any
	if err := json.Unmarshal(raw, &loose); err != nil {
		return nil, err
	}
	out := make([]statusRecord, 0, len(loose))
	for _, m := range loose {
		out = append(out, statusRecord{
			Type: str(m["type"]), Name: str(m["name"]), ID: str(m["id"]), Nodes: num(m["nodes"]), Quorate: num(m["quorate"]),
			Version: num(m["version"]), IP: str(m["ip"]), Level: str(m["level"]), Local: num(m["local"]), NodeID: num(m["nodeid"]), Online: num(m["online"]),
		})
	}
	return out, nil
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func num(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case string:
		n, _ := strconv.Atoi(x)
		return n
	case bool:
		if x {
			return 1
		}
	}
	return 0
}

func (s *Server) pxSessions(c echo.Context) error {
	eps, err := s.selectEndpoints(c)
	if err != nil {
		return err
	}
	out := []pxSessionJSON{}
	for _, ss := range s.resolveSessions(c.Request().Context(), eps) {
		out = append(out, pxSessionJSON{Name: ss.name, IPAddress: ss.ep.IPAddress, Domain: nilIfEmpty(ss.ep.Domain),
			HTTPPort: ss.ep.Port, User: ss.ep.Username, Mode: ss.mode, EndpointID: ss.ep.ID, EndpointName: ss.ep.Name,
			Connected: ss.err == nil})
	}
	return c.JSON(http.StatusOK, out)
}

// pxClusterStatus serves what both plugin generations parse: one cluster
// record per session (a synthesised one for a standalone node, named after
// the node) followed by that session's nodes as flat type=node records.
//
// The nodes are not nested in node_list as well: v0.0.12 reads only
// top-level type=node records (plugin-client-contract.md §2.4), while v0.0.24
// keeps every top-level record and also hoists each node_list member
// (schemas/proxmox_node.py@fed47142), so a node listed in both places counted
// twice and a standalone endpoint turned into a two-node "cluster"
// (services/proxmox_mode.py@fed47142).
func (s *Server) pxClusterStatus(c echo.Context) error {
	eps, err := s.selectEndpoints(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	var out []any
	var lastErr error
	for _, ep := range eps {
		raw, err := s.opt.Proxmox.Get(ctx, ep, "/cluster/status", nil)
		if err != nil {
			lastErr = err
			continue
		}
		recs, err := decodeStatus(raw)
		if err != nil {
			lastErr = err
			continue
		}
		cl, nodes := clusterStatusRecords(ep, recs)
		out = append(out, cl)
		for _, n := range nodes {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return upstreamErr("Could not read /cluster/status from any Proxmox endpoint", lastErr)
	}
	return c.JSON(http.StatusOK, out)
}

// clusterStatusRecords turns one endpoint's /cluster/status into its cluster
// record (mode cluster, or standalone with a record named after its node)
// and its flat node records.
func clusterStatusRecords(ep store.ProxmoxEndpoint, recs []statusRecord) (pxClusterJSON, []pxNodeJSON) {
	var cluster *statusRecord
	var nodes []pxNodeJSON
	for i, r := range recs {
		switch r.Type {
		case "cluster":
			cluster = &recs[i]
		case "node":
			nodes = append(nodes, pxNodeJSON{ID: r.ID, Name: r.Name, Type: "node", IP: r.IP, Level: r.Level, Local: r.Local, NodeID: r.NodeID, Online: r.Online})
		}
	}
	mode := "cluster"
	if cluster == nil {
		mode = "standalone"
		name := hostOf(ep.Domain, ep.IPAddress)
		if len(nodes) == 1 {
			name = nodes[0].Name
		}
		cluster = &statusRecord{ID: "cluster/" + name, Name: name, Type: "cluster", Nodes: len(nodes), Quorate: 1}
	}
	return pxClusterJSON{ID: cluster.ID, Name: cluster.Name, Type: "cluster", Nodes: cluster.Nodes,
		Quorate: cluster.Quorate, Version: cluster.Version, Mode: mode, EndpointID: ep.ID}, nodes
}

// pxPerSession serves [{"<session name>": <data>}] for each endpoint,
// forwarding the named query parameters; when no endpoint answers, the
// error says empty (or names the path).
func (s *Server) pxPerSession(path, empty string, params ...string) echo.HandlerFunc {
	if empty == "" {
		empty = "Could not read " + path + " from any Proxmox endpoint"
	}
	return func(c echo.Context) error {
		eps, err := s.selectEndpoints(c)
		if err != nil {
			return err
		}
		q := forward(c, params...)
		ctx := c.Request().Context()
		out := []map[string]json.RawMessage{}
		var lastErr error
		for _, ss := range s.resolveSessions(ctx, eps) {
			raw, err := s.opt.Proxmox.Get(ctx, ss.ep, path, q)
			if err != nil {
				lastErr = err
				continue
			}
			out = append(out, map[string]json.RawMessage{ss.name: raw})
		}
		if len(out) == 0 {
			return upstreamErr(empty, lastErr)
		}
		return c.JSON(http.StatusOK, out)
	}
}

// pxFlat serves one flat list, each record tagged with cluster_name; a
// failing endpoint gives one {"cluster_name","error"} row.
func (s *Server) pxFlat(path string) echo.HandlerFunc {
	return func(c echo.Context) error {
		eps, err := s.selectEndpoints(c)
		if err != nil {
			return err
		}
		ctx := c.Request().Context()
		out := []map[string]any{}
		for _, ss := range s.resolveSessions(ctx, eps) {
			raw, err := s.opt.Proxmox.Get(ctx, ss.ep, path, nil)
			if err != nil {
				out = append(out, map[string]any{"cluster_name": ss.name, "status": "error", "error": upstreamReason(err)})
				continue
			}
			var recs []map[string]any
			if err := json.Unmarshal(raw, &recs); err != nil {
				out = append(out, map[string]any{"cluster_name": ss.name, "status": "error", "error": "unexpected reply"})
				continue
			}
			for _, r := range recs {
				r["cluster_name"] = ss.name
				out = append(out, r)
			}
		}
		return c.JSON(http.StatusOK, out)
	}
}

// endpointOfNode finds the session that has node.
func (s *Server) endpointOfNode(c echo.Context, node string) (store.ProxmoxEndpoint, error) {
	eps, err := s.selectEndpoints(c)
	if err != nil {
		return store.ProxmoxEndpoint{}, err
	}
	if cn := c.QueryParam("cluster_name"); cn != "" {
		for _, ss := range s.resolveSessions(c.Request().Context(), eps) {
			if ss.name == cn {
				return ss.ep, nil
			}
		}
	}
	ctx := c.Request().Context()
	for _, ep := range eps {
		raw, err := s.opt.Proxmox.Get(ctx, ep, "/nodes", nil)
		if err != nil {
			continue
		}
		var nodes []map[string]any
		if json.Unmarshal(raw, &nodes) != nil {
			continue
		}
		for _, n := range nodes {
			if str(n["node"]) == node {
				return ep, nil
			}
		}
	}
	return store.ProxmoxEndpoint{}, fail(http.StatusNotFound, "Node or Storage not found")
}

func (s *Server) pxNodeScoped(sub string, params ...string) echo.HandlerFunc {
	return func(c echo.Context) error {
		node := c.Param("node")
		ep, err := s.endpointOfNode(c, node)
		if err != nil {
			return err
		}
		raw, err := s.opt.Proxmox.Get(c.Request().Context(), ep, "/nodes/"+url.PathEscape(node)+"/"+sub, forward(c, params...))
		if err != nil {
			return upstreamErr("Proxmox refused /nodes/"+node+"/"+sub, err)
		}
		return c.JSONBlob(http.StatusOK, raw)
	}
}

func (s *Server) pxStorageContent(c echo.Context) error {
	node, storage := c.Param("node"), c.Param("storage")
	ep, err := s.endpointOfNode(c, node)
	if err != nil {
		return err
	}
	raw, err := s.opt.Proxmox.Get(c.Request().Context(), ep, "/nodes/"+url.PathEscape(node)+"/storage/"+url.PathEscape(storage)+"/content", forward(c, "content", "vmid"))
	if err != nil {
		return upstreamErr("Node or Storage not found", err)
	}
	return c.JSONBlob(http.StatusOK, raw)
}

func (s *Server) pxFirewall(c echo.Context) error {
	node := c.Param("node")
	vmid, err := strconv.Atoi(c.Param("vmid"))
	if err != nil || vmid < 1 {
		return fail(http.StatusUnprocessableEntity, "vmid must be a positive integer.")
	}
	ep, err := s.endpointOfNode(c, node)
	if err != nil {
		return err
	}
	raw, err := s.opt.Proxmox.Get(c.Request().Context(), ep, fmt.Sprintf("/nodes/%s/qemu/%d/firewall/options", url.PathEscape(node), vmid), nil)
	if err != nil {
		return upstreamErr("Proxmox refused the firewall read", err)
	}
	return c.JSONBlob(http.StatusOK, raw)
}

func (s *Server) pxGuestConfig(c echo.Context) error {
	node, typ := c.Param("node"), c.Param("type")
	if typ != "qemu" && typ != "lxc" {
		return fail(http.StatusBadRequest, "Invalid VM Type. Use 'qemu' or 'lxc'.")
	}
	vmid, err := strconv.Atoi(c.Param("vmid"))
	if err != nil || vmid < 1 {
		return fail(http.StatusUnprocessableEntity, "vmid must be a positive integer.")
	}
	// The plugin sends name=<endpoint name> as the selector here.
	ep, err := s.endpointOfNode(c, node)
	if err != nil {
		return err
	}
	raw, err := s.opt.Proxmox.Get(c.Request().Context(), ep, fmt.Sprintf("/nodes/%s/%s/%d/config", url.PathEscape(node), typ, vmid), nil)
	if err != nil {
		return fail(http.StatusBadRequest, "VM Config not found.")
	}
	var cfg map[string]any
	if json.Unmarshal(raw, &cfg) != nil {
		return fail(http.StatusBadGateway, "Proxmox sent a config that is not an object.")
	}
	for k, v := range cfg {
		if v == nil {
			delete(cfg, k)
		}
	}
	return c.JSON(http.StatusOK, cfg)
}

func forward(c echo.Context, params ...string) url.Values {
	var q url.Values
	for _, p := range params {
		if v := c.QueryParam(p); v != "" {
			if q == nil {
				q = url.Values{}
			}
			q.Set(p, v)
		}
	}
	return q
}

// upstreamErr reports a Proxmox failure: 404 when Proxmox says the object
// does not exist (PVE answers 404, or 500 "... does not exist"), else 502
// with Proxmox's reason. The endpoint's URL is never echoed.
func upstreamErr(msg string, err error) error {
	if err == nil {
		return fail(http.StatusNotFound, msg)
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var us upstreamReply
	if errors.As(err, &us) && (us.HTTPStatus() == http.StatusNotFound || strings.Contains(us.Reason(), "does not exist")) {
		return fail(http.StatusNotFound, msg+": "+truncate(us.Reason(), 200))
	}
	return &apiError{Status: http.StatusBadGateway, Detail: msg + ": " + upstreamReason(err), Message: msg}
}

// upstreamReply is what the Proxmox adapter's errors tell about a reply.
type upstreamReply interface {
	HTTPStatus() int
	Reason() string
}

// upstreamReason is an error of a Proxmox read as a caller may see it: the
// status and reason, never the endpoint's URL or credentials.
func upstreamReason(err error) string {
	if errors.Is(err, egress.ErrRefused) {
		return "the endpoint's address is refused by the outbound policy (PROXBOX_ALLOWED_TARGETS)"
	}
	var us upstreamReply
	if errors.As(err, &us) {
		if st := us.HTTPStatus(); st != 0 {
			return fmt.Sprintf("Proxmox answered %d %s", st, truncate(us.Reason(), 200))
		}
		return us.Reason()
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "timed out"
	}
	return "the endpoint could not be read"
}

// nonNil gives an empty slice for nil, so JSON carries [] and not null.
func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
