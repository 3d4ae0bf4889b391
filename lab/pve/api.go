package pve

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// result is a fully encoded answer, built under the read lock and written after it.
type result struct {
	status int
	body   []byte // JSON body for status 200 (or a fixture's own status)
	msg    string // reason phrase for errors
	errs   map[string]string
}

func okResult(v any) result { return encodeResult(http.StatusOK, map[string]any{"data": v}) }

func encodeResult(status int, body any) result {
	b, err := json.Marshal(body)
	if err != nil {
		return errResult(http.StatusInternalServerError, "unable to encode reply")
	}
	return result{status: status, body: b}
}

func errResult(status int, msg string) result { return result{status: status, msg: msg} }

func paramError(errs map[string]string) result {
	return result{status: http.StatusBadRequest, msg: "Parameter verification failed.", errs: errs}
}

func notImplemented(method, rel string) result {
	return errResult(http.StatusNotImplemented, fmt.Sprintf("Method '%s %s' not implemented", method, rel))
}

func (s *Server) write(w http.ResponseWriter, res result) {
	if res.body == nil {
		s.writeError(w, res.status, res.msg, res.errs)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "max-age=0")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(res.body)))
	w.WriteHeader(res.status)
	_, _ = w.Write(res.body)
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, rel string, p *pattern, vars map[string]string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.write(w, s.serveWrite(r, rel, p, vars))
		return
	}
	s.mu.RLock()
	res := s.resolve(rel, r.URL.Query(), p, vars)
	s.mu.RUnlock()
	s.write(w, res)
}

// valueResult turns a stored route value into a result.
func valueResult(v any) result {
	if rp, ok := v.(*reply); ok {
		if rp.status >= 400 && rp.body == nil {
			return errResult(rp.status, http.StatusText(rp.status))
		}
		return encodeResult(rp.status, rp.body)
	}
	return okResult(v)
}

// resolve answers a GET; the caller holds s.mu for reading.
func (s *Server) resolve(rel string, q url.Values, p *pattern, vars map[string]string) result {
	if p != nil && strings.Contains(p.text, "/agent/") {
		if res, bad := s.checkVars(vars); bad {
			return res
		}
		if res, blocked := s.agentCheck(vars); blocked {
			return res
		}
	}
	if len(q) > 0 {
		if v, ok := s.routes[rel+"?"+canonicalQuery(q)]; ok {
			return valueResult(v)
		}
	}
	if p == nil {
		if v, ok := s.routes[rel]; ok && len(q) == 0 {
			return valueResult(v)
		}
		return notImplemented(http.MethodGet, rel)
	}
	if p.query != nil {
		errs := map[string]string{}
		for k := range q {
			if !p.query[k] {
				errs[k] = "property is not defined in schema and the schema does not allow additional properties"
			}
		}
		if len(errs) > 0 {
			return paramError(errs)
		}
	}
	if res, bad := s.checkVars(vars); bad {
		return res
	}
	if v, ok := s.routes[rel]; ok {
		if rp, isReply := v.(*reply); isReply && (rp.status != http.StatusOK || len(q) == 0) {
			return valueResult(v)
		} else if isReply {
			m, _ := rp.body.(map[string]any)
			v = m["data"]
		}
		return s.filter(p, vars, q, v)
	}
	return s.derive(p, vars, q)
}

// checkVars validates path parameters like PVE's schema does.
func (s *Server) checkVars(vars map[string]string) (result, bool) {
	if id, ok := vars["vmid"]; ok {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return paramError(map[string]string{"vmid": fmt.Sprintf("type check ('integer') failed - got '%s'", id)}), true
		}
		if n < 100 || n > 999999999 {
			return paramError(map[string]string{"vmid": fmt.Sprintf("value must have a minimum value of 100 - got %d", n)}), true
		}
	}
	if n, ok := vars["node"]; ok {
		if !s.nodeExists(n) {
			return errResult(http.StatusInternalServerError,
				fmt.Sprintf("hostname lookup '%s' failed - failed to get address info for: %s: Name or service not known", n, n)), true
		}
	}
	return result{}, false
}

// ---------------------------------------------------------------------------------------
// model accessors (caller holds s.mu)

func (s *Server) resources() []map[string]any {
	return asList(s.data("/cluster/resources"))
}

// data returns the stored data at a bare path, unwrapping 200 envelopes with extra keys.
func (s *Server) data(key string) any {
	v := s.routes[key]
	if rp, ok := v.(*reply); ok {
		if rp.status != http.StatusOK {
			return nil
		}
		m, _ := rp.body.(map[string]any)
		return m["data"]
	}
	return v
}

// nodeNames lists the cluster's nodes: those of /cluster/resources, then those only in
// /cluster/status, in order.
func (s *Server) nodeNames() []string { return s.index().nodes }

func (s *Server) nodeExists(n string) bool { return s.index().nodeSet[n] }

func (s *Server) standalone() bool {
	for _, e := range asList(s.data("/cluster/status")) {
		if asString(e["type"]) == "cluster" {
			return false
		}
	}
	return len(s.nodeNames()) <= 1
}

// guest finds a guest resource by vmid.
func (s *Server) guest(vmid int64) map[string]any { return s.index().guests[vmid] }

// routeIndex is what the handlers look up on every request, derived from the stored routes
// once instead of scanning /cluster/resources per request. The guest maps are the stored
// ones (mutations change them in place); any write under s.mu drops the whole index.
type routeIndex struct {
	guests  map[int64]map[string]any // first qemu or lxc resource per vmid
	nodes   []string
	nodeSet map[string]bool
}

// index returns the current routeIndex, building it if a write dropped it. Callers hold s.mu
// (read or write): a writer drops the index before unlocking, so no reader stores a stale one.
func (s *Server) index() *routeIndex {
	if x := s.idx.Load(); x != nil {
		return x
	}
	x := &routeIndex{guests: map[int64]map[string]any{}, nodeSet: map[string]bool{}}
	add := func(n string) {
		if n != "" && !x.nodeSet[n] {
			x.nodeSet[n] = true
			x.nodes = append(x.nodes, n)
		}
	}
	for _, e := range s.resources() {
		switch asString(e["type"]) {
		case "node":
			add(asString(e["node"]))
		case "qemu", "lxc":
			if id, ok := asInt(e["vmid"]); ok && x.guests[id] == nil {
				x.guests[id] = e
			}
		}
	}
	for _, e := range asList(s.data("/cluster/status")) {
		if asString(e["type"]) == "node" {
			add(asString(e["name"]))
		}
	}
	s.idx.Store(x)
	return x
}

func (s *Server) dropIndex() { s.idx.Store(nil) }

// guestAt finds a guest of the given type on the given node, or PVE's error.
func (s *Server) guestAt(vars map[string]string) (map[string]any, result, bool) {
	vmid, _ := strconv.ParseInt(vars["vmid"], 10, 64)
	g := s.guest(vmid)
	typ, node := vars["type"], vars["node"]
	if typ == "" {
		typ = "qemu"
	}
	if g == nil || asString(g["type"]) != typ || asString(g["node"]) != node {
		return nil, errResult(http.StatusInternalServerError, confMissing(typ, node, vmid)), false
	}
	return g, result{}, true
}

func confMissing(typ, node string, vmid int64) string {
	dir := "qemu-server"
	if typ == "lxc" {
		dir = "lxc"
	}
	return fmt.Sprintf("Configuration file 'nodes/%s/%s/%d.conf' does not exist", node, dir, vmid)
}

func guestPrefix(typ, node string, vmid int64) string {
	return fmt.Sprintf("/nodes/%s/%s/%d", node, typ, vmid)
}

// config returns a guest's config (stored, or derived from its resource).
func (s *Server) config(g map[string]any) map[string]any {
	vmid, _ := asInt(g["vmid"])
	key := guestPrefix(asString(g["type"]), asString(g["node"]), vmid) + "/config"
	if m, ok := s.data(key).(map[string]any); ok {
		return m
	}
	return deriveConfig(g)
}

// agentCheck applies PVE's agent_available rules to a guest-agent call.
func (s *Server) agentCheck(vars map[string]string) (result, bool) {
	vars["type"] = "qemu"
	g, res, ok := s.guestAt(vars)
	if !ok {
		return res, true
	}
	conf := s.config(g)
	if !agentEnabled(conf["agent"]) {
		return errResult(http.StatusInternalServerError, "No QEMU guest agent configured"), true
	}
	if asString(g["status"]) != "running" {
		return errResult(http.StatusInternalServerError, fmt.Sprintf("VM %s is not running", vars["vmid"])), true
	}
	return result{}, false
}

// ---------------------------------------------------------------------------------------
// filters applied to stored lists

var resourceTypes = []string{"vm", "storage", "node", "sdn"}

var contentTypes = []string{"images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"}

func (s *Server) filter(p *pattern, vars map[string]string, q url.Values, v any) result {
	switch p.text {
	case "/cluster/resources":
		t := q.Get("type")
		if t == "" {
			return okResult(v)
		}
		if !slices.Contains(resourceTypes, t) {
			return paramError(map[string]string{"type": fmt.Sprintf("value '%s' does not have a value in the enumeration '%s'", t, strings.Join(resourceTypes, ", "))})
		}
		out := []any{}
		for _, e := range asList(v) {
			et := asString(e["type"])
			if et == t || (t == "vm" && (et == "qemu" || et == "lxc")) {
				out = append(out, e)
			}
		}
		return okResult(out)
	case "/nodes/{node}/storage/{storage}/content":
		c := q.Get("content")
		if c != "" && !slices.Contains(contentTypes, c) {
			return paramError(map[string]string{"content": fmt.Sprintf("invalid format - invalid content type '%s'", c)})
		}
		var vmid int64 = -1
		if q.Has("vmid") {
			n, err := strconv.ParseInt(q.Get("vmid"), 10, 64)
			if err != nil {
				return paramError(map[string]string{"vmid": fmt.Sprintf("type check ('integer') failed - got '%s'", q.Get("vmid"))})
			}
			vmid = n
		}
		out := []any{}
		for _, e := range asList(v) {
			if c != "" && contentOf(e) != c {
				continue
			}
			if id, _ := asInt(e["vmid"]); vmid >= 0 && id != vmid {
				continue
			}
			out = append(out, e)
		}
		return okResult(out)
	case "/nodes/{node}/tasks":
		return tasksPage(asList(v), q)
	case "/storage":
		return okResult(filterField(v, "type", q.Get("type")))
	case "/nodes/{node}/network":
		t := q.Get("type")
		if t == "" {
			return okResult(v)
		}
		out := []any{}
		for _, e := range asList(v) {
			et := asString(e["type"])
			if et == t || (t == "any_bridge" && (et == "bridge" || et == "OVSBridge")) {
				out = append(out, e)
			}
		}
		return okResult(out)
	}
	return okResult(v)
}

func filterField(v any, field, want string) any {
	if want == "" {
		return v
	}
	out := []any{}
	for _, e := range asList(v) {
		if asString(e[field]) == want {
			out = append(out, e)
		}
	}
	return out
}

// contentOf reads a storage content entry's type, inferring it from the volid when the
// fixture left the field out.
func contentOf(e map[string]any) string {
	if c := asString(e["content"]); c != "" {
		return c
	}
	volid, format := asString(e["volid"]), asString(e["format"])
	switch {
	case strings.Contains(volid, ":backup/") || strings.Contains(volid, "vzdump-") || strings.HasPrefix(format, "pbs-"):
		return "backup"
	case strings.Contains(volid, ":iso/"):
		return "iso"
	case strings.Contains(volid, ":vztmpl/"):
		return "vztmpl"
	case strings.Contains(volid, ":snippets/"):
		return "snippets"
	case strings.Contains(volid, "subvol-"):
		return "rootdir"
	}
	return "images"
}

// tasksPage applies /nodes/{node}/tasks filters and PVE's default limit of 50, and adds
// "total" like PVE.
func tasksPage(list []map[string]any, q url.Values) result {
	start, limit := 0, 50
	for name, dst := range map[string]*int{"start": &start, "limit": &limit} {
		if q.Has(name) {
			n, err := strconv.Atoi(q.Get(name))
			if err != nil || n < 0 {
				return paramError(map[string]string{name: fmt.Sprintf("type check ('integer') failed - got '%s'", q.Get(name))})
			}
			*dst = n
		}
	}
	var out []any
	for _, e := range list {
		if v := q.Get("vmid"); v != "" && asString(e["id"]) != v {
			continue
		}
		if v := q.Get("typefilter"); v != "" && asString(e["type"]) != v {
			continue
		}
		if v := q.Get("userfilter"); v != "" && !strings.Contains(asString(e["user"]), v) {
			continue
		}
		if truthy(q.Get("errors")) && asString(e["status"]) == "OK" {
			continue
		}
		if v := q.Get("statusfilter"); v != "" && !taskStatusMatches(asString(e["status"]), v) {
			continue
		}
		out = append(out, e)
	}
	total := len(out)
	page := []any{}
	if start < total {
		page = out[start:min(total, start+limit)]
	}
	return encodeResult(http.StatusOK, map[string]any{"data": page, "total": total})
}

func taskStatusMatches(status, filter string) bool {
	kind := "error"
	switch {
	case status == "OK":
		kind = "ok"
	case status == "":
		kind = "running"
	case strings.HasPrefix(status, "WARNINGS"):
		kind = "warning"
	case status == "unknown":
		kind = "unknown"
	}
	for _, f := range strings.Split(filter, ",") {
		if strings.TrimSpace(f) == kind {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------------------
// derived replies for paths a fixture does not carry

func fingerprint(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	parts := make([]string, 0, 32)
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

func (s *Server) version() map[string]any {
	if m, ok := s.data("/version").(map[string]any); ok {
		return m
	}
	return map[string]any{"release": "8.2", "repoid": "faa83925", "version": "8.2.4"}
}

func (s *Server) derive(p *pattern, vars map[string]string, q url.Values) result {
	node := vars["node"]
	if res, ok := s.deriveFirewall(p, vars); ok {
		return res
	}
	switch p.text {
	case "/version":
		return okResult(s.version())
	case "/cluster/status":
		return okResult(s.deriveClusterStatus())
	case "/cluster/config/join":
		if s.standalone() {
			return errResult(http.StatusInternalServerError, "node is not in a cluster, no join info available!")
		}
		var nl []any
		for i, n := range s.nodeNames() {
			nl = append(nl, map[string]any{"name": n, "nodeid": strconv.Itoa(i + 1), "pve_fp": fingerprint(n), "pve_addr": "", "quorum_votes": "1"})
		}
		return okResult(map[string]any{"nodelist": nl, "preferred_node": s.nodeNames()[0], "totem": map[string]any{"cluster_name": s.name, "config_version": "3", "version": "2"}})
	case "/cluster/tasks":
		return okResult(s.deriveClusterTasks())
	case "/cluster/backup", "/cluster/replication", "/cluster/ha/resources", "/pools":
		return okResult([]any{})
	case "/cluster/ha/status/current":
		return okResult([]any{map[string]any{"id": "quorum", "type": "quorum", "status": "OK", "quorate": 1, "node": firstOr(s.nodeNames(), "")}})
	case "/cluster/backup/{id}":
		return findByID(s.data("/cluster/backup"), vars["id"], fmt.Sprintf("No such backup job '%s'", vars["id"]))
	case "/cluster/replication/{id}":
		return findByID(s.data("/cluster/replication"), vars["id"], fmt.Sprintf("replication job '%s' does not exist", vars["id"]))
	case "/cluster/resources":
		return s.filter(p, vars, q, []any{})
	case "/storage":
		return okResult([]any{})
	case "/storage/{storage}":
		for _, e := range asList(s.data("/storage")) {
			if asString(e["storage"]) == vars["storage"] {
				return okResult(e)
			}
		}
		return errResult(http.StatusInternalServerError, fmt.Sprintf("storage '%s' does not exist", vars["storage"]))
	case "/nodes":
		return okResult(s.deriveNodes())
	case "/nodes/{node}":
		return okResult(dirIndex("apt", "capabilities", "ceph", "certificates", "disks", "firewall", "hardware", "lxc", "network", "qemu", "replication", "scan", "services", "status", "storage", "subscription", "tasks", "version"))
	case "/nodes/{node}/status":
		return okResult(s.deriveNodeStatus(node))
	case "/nodes/{node}/version":
		return okResult(s.version())
	case "/nodes/{node}/network":
		return s.filter(p, vars, q, []any{})
	case "/nodes/{node}/network/{iface}":
		for _, e := range asList(s.data("/nodes/" + node + "/network")) {
			if asString(e["iface"]) == vars["iface"] {
				return okResult(e)
			}
		}
		return errResult(http.StatusInternalServerError, fmt.Sprintf("network interface '%s' does not exist", vars["iface"]))
	case "/nodes/{node}/storage":
		return okResult(s.deriveNodeStorage(node, q.Get("content")))
	case "/nodes/{node}/storage/{storage}":
		if _, ok := s.storageOn(node, vars["storage"]); !ok {
			return errResult(http.StatusInternalServerError, fmt.Sprintf("storage '%s' does not exist", vars["storage"]))
		}
		return okResult(dirIndex("content", "download-url", "file-restore", "import-metadata", "prunebackups", "rrd", "rrddata", "status", "upload"))
	case "/nodes/{node}/storage/{storage}/status":
		e, ok := s.storageOn(node, vars["storage"])
		if !ok {
			return errResult(http.StatusInternalServerError, fmt.Sprintf("storage '%s' does not exist", vars["storage"]))
		}
		return okResult(e)
	case "/nodes/{node}/storage/{storage}/content":
		if _, ok := s.storageOn(node, vars["storage"]); !ok {
			return errResult(http.StatusInternalServerError, fmt.Sprintf("storage '%s' does not exist", vars["storage"]))
		}
		return s.filter(p, vars, q, []any{})
	case "/nodes/{node}/tasks":
		return tasksPage(nil, q)
	case "/nodes/{node}/tasks/{upid}", "/nodes/{node}/tasks/{upid}/status", "/nodes/{node}/tasks/{upid}/log":
		return s.deriveTask(p.text, node, vars["upid"])
	case "/nodes/{node}/replication":
		return okResult(s.deriveNodeReplication(node, q.Get("guest")))
	case "/nodes/{node}/replication/{id}/status":
		for _, e := range asList(s.deriveNodeReplication(node, "")) {
			if asString(e["id"]) == vars["id"] {
				return okResult(e)
			}
		}
		return errResult(http.StatusInternalServerError, fmt.Sprintf("replication job '%s' does not exist", vars["id"]))
	case "/nodes/{node}/qemu", "/nodes/{node}/lxc":
		typ := strings.TrimPrefix(p.text, "/nodes/{node}/")
		out := []any{}
		for _, g := range s.resources() {
			if asString(g["type"]) == typ && asString(g["node"]) == node {
				out = append(out, s.guestListEntry(g))
			}
		}
		return okResult(out)
	}

	// per-guest paths
	if _, ok := vars["vmid"]; ok {
		if _, has := vars["type"]; !has {
			if strings.Contains(p.text, "/lxc/") {
				vars["type"] = "lxc"
			} else {
				vars["type"] = "qemu"
			}
		}
		g, res, ok := s.guestAt(vars)
		if !ok {
			return res
		}
		return s.deriveGuest(p.text, g)
	}
	return notImplemented(http.MethodGet, p.text)
}

func firstOr(l []string, def string) string {
	if len(l) == 0 {
		return def
	}
	return l[0]
}

func dirIndex(names ...string) []any {
	out := make([]any, 0, len(names))
	for _, n := range names {
		out = append(out, map[string]any{"name": n})
	}
	return out
}

func findByID(list any, id, missing string) result {
	for _, e := range asList(list) {
		if asString(e["id"]) == id {
			return okResult(e)
		}
	}
	return errResult(http.StatusInternalServerError, missing)
}

func (s *Server) deriveClusterStatus() []any {
	nodes := s.nodeNames()
	out := []any{}
	if len(nodes) > 1 {
		name := s.name
		if name == "" {
			name = "cluster"
		}
		out = append(out, map[string]any{"type": "cluster", "id": "cluster", "name": name, "nodes": len(nodes), "quorate": 1, "version": len(nodes)})
	}
	for i, n := range nodes {
		online := 1
		for _, e := range s.resources() {
			if asString(e["type"]) == "node" && asString(e["node"]) == n && asString(e["status"]) != "online" {
				online = 0
			}
		}
		e := map[string]any{"type": "node", "id": "node/" + n, "name": n, "ip": fmt.Sprintf("10.0.0.%d", 11+i), "level": "", "local": boolInt(i == 0), "nodeid": i + 1, "online": online}
		if len(nodes) == 1 {
			e["nodeid"] = 0
		}
		out = append(out, e)
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Server) deriveNodes() []any {
	out := []any{}
	for _, e := range s.resources() {
		if asString(e["type"]) != "node" {
			continue
		}
		n := asString(e["node"])
		m := map[string]any{"node": n, "id": "node/" + n, "type": "node", "status": firstNonNil(e["status"], "online")}
		if asString(m["status"]) == "online" {
			for _, k := range []string{"cpu", "maxcpu", "mem", "maxmem", "disk", "maxdisk", "uptime"} {
				if v, ok := e[k]; ok {
					m[k] = v
				}
			}
			m["level"] = firstNonNil(e["level"], "")
			m["ssl_fingerprint"] = fingerprint(n)
		}
		out = append(out, m)
	}
	return out
}

func firstNonNil(v, def any) any {
	if v == nil {
		return def
	}
	return v
}

func (s *Server) nodeResource(node string) map[string]any {
	for _, e := range s.resources() {
		if asString(e["type"]) == "node" && asString(e["node"]) == node {
			return e
		}
	}
	return map[string]any{}
}

func (s *Server) deriveNodeStatus(node string) map[string]any {
	r := s.nodeResource(node)
	maxmem, _ := asInt(r["maxmem"])
	mem, _ := asInt(r["mem"])
	maxdisk, _ := asInt(r["maxdisk"])
	disk, _ := asInt(r["disk"])
	cpus, _ := asInt(r["maxcpu"])
	if cpus == 0 {
		cpus = 8
	}
	cpu, _ := asFloat(r["cpu"])
	uptime, _ := asInt(r["uptime"])
	v := s.version()
	release := asString(v["release"])
	kernel := "6.8.12-4-pve"
	if strings.HasPrefix(release, "9") {
		kernel = "6.14.8-2-pve"
	}
	return map[string]any{
		"uptime":         uptime,
		"cpu":            cpu,
		"wait":           0.0012,
		"idle":           0,
		"loadavg":        []any{"0.12", "0.20", "0.18"},
		"kversion":       "Linux " + kernel + " #1 SMP PREEMPT_DYNAMIC PMX",
		"pveversion":     fmt.Sprintf("pve-manager/%s/%s", asString(v["version"]), asString(v["repoid"])),
		"memory":         map[string]any{"total": maxmem, "used": mem, "free": maxmem - mem, "available": maxmem - mem},
		"swap":           map[string]any{"total": 8589934592, "used": 0, "free": 8589934592},
		"rootfs":         map[string]any{"total": maxdisk, "used": disk, "free": maxdisk - disk, "avail": maxdisk - disk},
		"ksm":            map[string]any{"shared": 0},
		"cpuinfo":        map[string]any{"model": "AMD EPYC 7302P 16-Core Processor", "cpus": cpus, "cores": max(cpus/2, 1), "sockets": 1, "mhz": "2999.998", "hvm": "1", "user_hz": 100, "flags": "fpu vme de pse tsc msr pae mce"},
		"current-kernel": map[string]any{"sysname": "Linux", "release": kernel, "machine": "x86_64", "version": "#1 SMP PREEMPT_DYNAMIC PMX"},
		"boot-info":      map[string]any{"mode": "efi", "secureboot": 0},
	}
}

// storageOn returns a node's view of a storage (as /nodes/{n}/storage lists it).
func (s *Server) storageOn(node, storage string) (map[string]any, bool) {
	for _, e := range asList(s.deriveNodeStorage(node, "")) {
		if asString(e["storage"]) == storage {
			return e, true
		}
	}
	return nil, false
}

func (s *Server) deriveNodeStorage(node, content string) any {
	if v, ok := s.routes["/nodes/"+node+"/storage"]; ok {
		list := asList(v)
		if rp, isReply := v.(*reply); isReply {
			m, _ := rp.body.(map[string]any)
			list = asList(m["data"])
		}
		out := []any{}
		for _, e := range list {
			if content == "" || slices.Contains(strings.Split(asString(e["content"]), ","), content) {
				out = append(out, e)
			}
		}
		return out
	}
	out := []any{}
	for _, st := range asList(s.data("/storage")) {
		if nodes := asString(st["nodes"]); nodes != "" && !slices.Contains(strings.Split(nodes, ","), node) {
			continue
		}
		if truthy(st["disable"]) {
			continue
		}
		if content != "" && !slices.Contains(strings.Split(asString(st["content"]), ","), content) {
			continue
		}
		name := asString(st["storage"])
		var total, used int64 = 1 << 40, 1 << 38
		for _, r := range s.resources() {
			if asString(r["type"]) == "storage" && asString(r["node"]) == node && asString(r["storage"]) == name {
				total, _ = asInt(r["maxdisk"])
				used, _ = asInt(r["disk"])
			}
		}
		shared := isShared(st)
		frac := 0.0
		if total > 0 {
			frac = float64(used) / float64(total)
		}
		out = append(out, map[string]any{
			"storage": name, "type": asString(st["type"]), "content": asString(st["content"]),
			"active": 1, "enabled": 1, "shared": boolInt(shared),
			"total": total, "used": used, "avail": total - used, "used_fraction": frac,
		})
	}
	return out
}

func (s *Server) deriveTask(pat, node, upid string) result {
	u, err := parseUPID(upid)
	if err != nil {
		return paramError(map[string]string{"upid": fmt.Sprintf("unable to parse worker upid '%s'", upid)})
	}
	if u.node != node {
		return paramError(map[string]string{"upid": fmt.Sprintf("upid does not belong to node '%s'", node)})
	}
	switch pat {
	case "/nodes/{node}/tasks/{upid}":
		return okResult(dirIndex("log", "status"))
	case "/nodes/{node}/tasks/{upid}/log":
		return encodeResult(http.StatusOK, map[string]any{"data": []any{
			map[string]any{"n": 1, "t": fmt.Sprintf("starting %s %s", u.typ, u.id)},
			map[string]any{"n": 2, "t": "TASK OK"},
		}, "total": 2})
	}
	status := map[string]any{
		"upid": upid, "node": u.node, "pid": u.pid, "pstart": u.pstart, "starttime": u.start,
		"type": u.typ, "id": u.id, "user": u.user, "status": "stopped", "exitstatus": "unknown",
	}
	for _, e := range asList(s.data("/nodes/" + node + "/tasks")) {
		if asString(e["upid"]) == upid {
			st := asString(e["status"])
			if st == "" {
				status["status"] = "running"
				delete(status, "exitstatus")
			} else {
				status["exitstatus"] = st
			}
		}
	}
	return okResult(status)
}

type upidParts struct {
	node, typ, id, user string
	pid, pstart, start  int64
}

// parseUPID reads UPID:node:pid:pstart:starttime:type:id:user: (hex numbers).
func parseUPID(s string) (upidParts, error) {
	f := strings.Split(s, ":")
	if len(f) < 9 || f[0] != "UPID" {
		return upidParts{}, fmt.Errorf("bad upid %q", s)
	}
	var u upidParts
	var err error
	u.node, u.typ, u.id, u.user = f[1], f[5], f[6], f[7]
	if u.pid, err = strconv.ParseInt(f[2], 16, 64); err != nil {
		return u, err
	}
	if u.pstart, err = strconv.ParseInt(f[3], 16, 64); err != nil {
		return u, err
	}
	if u.start, err = strconv.ParseInt(f[4], 16, 64); err != nil {
		return u, err
	}
	return u, nil
}

func (s *Server) deriveNodeReplication(node, guest string) []any {
	out := []any{}
	for _, j := range asList(s.data("/cluster/replication")) {
		gid, _ := asInt(j["guest"])
		g := s.guest(gid)
		if g == nil || asString(g["node"]) != node {
			continue
		}
		if guest != "" && asString(j["guest"]) != guest {
			continue
		}
		e := map[string]any{}
		for k, v := range j {
			e[k] = v
		}
		e["source"] = node
		e["vmtype"] = asString(g["type"])
		e["fail_count"] = 0
		e["duration"] = 2.1
		e["last_sync"] = 1767225600
		e["last_try"] = 1767225600
		e["next_sync"] = 1767226500
		if _, ok := e["jobnum"]; !ok {
			_, num, _ := strings.Cut(asString(j["id"]), "-")
			n, _ := strconv.Atoi(num)
			e["jobnum"] = n
		}
		out = append(out, e)
	}
	return out
}

func (s *Server) guestListEntry(g map[string]any) map[string]any {
	e := map[string]any{
		"vmid": g["vmid"], "name": g["name"], "status": g["status"],
		"cpus": g["maxcpu"], "maxmem": g["maxmem"], "maxdisk": g["maxdisk"],
		"mem": firstNonNil(g["mem"], 0), "disk": firstNonNil(g["disk"], 0), "cpu": firstNonNil(g["cpu"], 0),
		"uptime": firstNonNil(g["uptime"], 0), "netin": firstNonNil(g["netin"], 0), "netout": firstNonNil(g["netout"], 0),
		"diskread": firstNonNil(g["diskread"], 0), "diskwrite": firstNonNil(g["diskwrite"], 0),
	}
	if t, ok := g["tags"]; ok {
		e["tags"] = t
	}
	if truthy(g["template"]) {
		e["template"] = 1
	}
	if l, ok := g["lock"]; ok {
		e["lock"] = l
	}
	if asString(g["type"]) == "lxc" {
		e["type"] = "lxc"
		e["maxswap"] = 536870912
	}
	if asString(g["status"]) == "running" {
		id, _ := asInt(g["vmid"])
		e["pid"] = 1000 + id
	}
	return e
}

func deriveConfig(g map[string]any) map[string]any {
	vmid, _ := asInt(g["vmid"])
	maxmem, _ := asInt(g["maxmem"])
	cores, _ := asInt(g["maxcpu"])
	c := map[string]any{"digest": fingerprintHex(fmt.Sprint("conf", vmid, g["name"])), "cores": max(cores, 1), "memory": strconv.FormatInt(maxmem>>20, 10)}
	if asString(g["type"]) == "lxc" {
		c["hostname"] = g["name"]
		c["memory"] = maxmem >> 20
		c["arch"] = "amd64"
	} else {
		c["name"] = g["name"]
	}
	if t, ok := g["tags"]; ok {
		c["tags"] = t
	}
	if truthy(g["template"]) {
		c["template"] = 1
	}
	return c
}

func fingerprintHex(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return hex.EncodeToString(sum[:20])
}

func (s *Server) deriveGuest(pat string, g map[string]any) result {
	vmid, _ := asInt(g["vmid"])
	typ := asString(g["type"])
	running := asString(g["status"]) == "running"
	switch {
	case strings.HasSuffix(pat, "/config"), strings.HasSuffix(pat, "/pending"):
		conf := s.config(g)
		if strings.HasSuffix(pat, "/pending") {
			out := []any{}
			for k, v := range conf {
				out = append(out, map[string]any{"key": k, "value": v})
			}
			slices.SortFunc(out, func(a, b any) int {
				return strings.Compare(asString(a.(map[string]any)["key"]), asString(b.(map[string]any)["key"]))
			})
			return okResult(out)
		}
		return okResult(conf)
	case strings.HasSuffix(pat, "/status/current"):
		e := s.guestListEntry(g)
		e["ha"] = map[string]any{"managed": 0}
		if hs, ok := g["hastate"]; ok {
			e["ha"] = map[string]any{"managed": 1, "state": hs}
		}
		if typ == "qemu" {
			e["qmpstatus"] = g["status"]
			if agentEnabled(s.config(g)["agent"]) {
				e["agent"] = 1
			}
			if running {
				e["running-machine"] = "pc-i440fx-9.0+pve0"
				e["running-qemu"] = "9.0.2"
			}
		} else {
			e["swap"] = 0
		}
		return okResult(e)
	case strings.HasSuffix(pat, "/status"), pat == "/nodes/{node}/{type}/{vmid}":
		if strings.HasSuffix(pat, "/status") {
			return okResult(dirIndex("current", "reboot", "reset", "resume", "shutdown", "start", "stop", "suspend"))
		}
		return okResult(dirIndex("config", "firewall", "pending", "rrd", "rrddata", "snapshot", "status"))
	case strings.HasSuffix(pat, "/snapshot"):
		cur := map[string]any{"name": "current", "description": "You are here!", "digest": asString(s.config(g)["digest"])}
		if typ == "qemu" {
			cur["running"] = boolInt(running)
		}
		return okResult([]any{cur})
	case strings.HasSuffix(pat, "/agent"):
		return okResult(dirIndex("exec", "exec-status", "file-read", "file-write", "fsfreeze-freeze", "fsfreeze-status", "fsfreeze-thaw", "fstrim", "get-fsinfo", "get-host-name", "get-memory-block-info", "get-memory-blocks", "get-osinfo", "get-time", "get-timezone", "get-users", "get-vcpus", "info", "network-get-interfaces", "ping", "set-user-password", "shutdown", "suspend-disk", "suspend-hybrid", "suspend-ram"))
	case strings.Contains(pat, "/agent/"):
		return errResult(http.StatusInternalServerError, "QEMU guest agent is not running")
	case strings.HasSuffix(pat, "/interfaces"):
		if !running {
			return errResult(http.StatusInternalServerError, fmt.Sprintf("CT %d not running", vmid))
		}
		return okResult(lxcInterfaces(s.config(g)))
	}
	return notImplemented(http.MethodGet, pat)
}

// lxcInterfaces builds /lxc/{vmid}/interfaces from the netN entries of a config.
func lxcInterfaces(conf map[string]any) []any {
	out := []any{map[string]any{"name": "lo", "hwaddr": "00:00:00:00:00:00", "inet": "127.0.0.1/8", "inet6": "::1/128"}}
	keys := make([]string, 0)
	for k := range conf {
		if strings.HasPrefix(k, "net") {
			if _, err := strconv.Atoi(k[3:]); err == nil {
				keys = append(keys, k)
			}
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		x, _ := strconv.Atoi(a[3:])
		y, _ := strconv.Atoi(b[3:])
		return x - y
	})
	for _, k := range keys {
		props := parseProps(asString(conf[k]))
		e := map[string]any{"name": props["name"], "hwaddr": strings.ToLower(props["hwaddr"])}
		if ip := props["ip"]; ip != "" && ip != "dhcp" && ip != "manual" {
			e["inet"] = ip
		}
		if mac := props["hwaddr"]; mac != "" {
			e["inet6"] = linkLocal(mac) + "/64"
		}
		out = append(out, e)
	}
	return out
}

// parseProps parses a PVE property string "k=v,k2=v2".
func parseProps(s string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(part, "=")
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

// linkLocal is the EUI-64 fe80:: address of a MAC.
func linkLocal(mac string) string {
	parts := strings.Split(strings.ToLower(mac), ":")
	if len(parts) != 6 {
		return "fe80::1"
	}
	b := make([]byte, 6)
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 16, 8)
		if err != nil {
			return "fe80::1"
		}
		b[i] = byte(v)
	}
	b[0] ^= 0x02
	return fmt.Sprintf("fe80::%x:%x:%x:%x", uint16(b[0])<<8|uint16(b[1]), uint16(b[2])<<8|0xff, 0xfe00|uint16(b[3]), uint16(b[4])<<8|uint16(b[5]))
}
