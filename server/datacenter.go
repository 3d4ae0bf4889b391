package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/proxbox/proxbox/store"
)

// Datacenter-level reads of the newer plugin (v0.0.24): the firewall
// summary its preflight upserts into its firewall models
// (services/sync_firewall.py@fed47142), node and guest firewall rules, and
// the custom CPU models (services/sync_datacenter.py@fed47142). Each record
// names its session in cluster_name, which the plugin resolves through its
// ProxmoxCluster rows.

func (s *Server) datacenterRoutes() {
	if s.opt.Proxmox == nil {
		return
	}
	e := s.e
	e.GET("/proxmox/firewall/summary", s.pxFirewallSummary)
	for _, n := range firewallNouns {
		if n.datacenter {
			e.GET("/proxmox/firewall/datacenter/"+n.noun, s.pxFirewallDatacenter(n.sub))
		}
		if n.node {
			e.GET("/proxmox/firewall/nodes/:node/"+n.noun, s.pxFirewallNode(n.sub))
		}
		if n.guest {
			e.GET("/proxmox/firewall/vms/:vmid/"+n.noun, s.pxFirewallGuest(n.sub))
		}
	}
	e.GET("/proxmox/datacenter/cpu-models", s.pxCPUModels)
}

// upstreamStatus is the HTTP status Proxmox answered, 0 when unknown.
func upstreamStatus(err error) int {
	var hs interface{ HTTPStatus() int }
	if errors.As(err, &hs) {
		return hs.HTTPStatus()
	}
	return 0
}

// pveList reads a Proxmox list (nil on an empty reply).
func (s *Server) pveList(ctx context.Context, ep store.ProxmoxEndpoint, path string, q url.Values) ([]map[string]any, error) {
	raw, err := s.opt.Proxmox.Get(ctx, ep, path, q)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%s: not a list: %w", path, err)
	}
	return out, nil
}

// firewallSummary reads one endpoint's datacenter firewall: security groups
// with their rules, rules, IP sets with their entries, aliases and options.
// Any failed read fails the whole entry: the plugin marks everything a
// summary entry lacks as stale, so a partial entry would be wrong.
func (s *Server) firewallSummary(ctx context.Context, ss pxSession) (firewallSummaryJSON, error) {
	var none firewallSummaryJSON
	ep := ss.ep
	groups, err := s.pveList(ctx, ep, "/cluster/firewall/groups", nil)
	if err != nil {
		return none, err
	}
	for _, g := range groups {
		name := str(g["group"])
		g["name"] = name
		rules, err := s.pveList(ctx, ep, "/cluster/firewall/groups/"+url.PathEscape(name), nil)
		if err != nil {
			return none, err
		}
		g["rules"] = nonNil(rules)
	}
	rules, err := s.pveList(ctx, ep, "/cluster/firewall/rules", nil)
	if err != nil {
		return none, err
	}
	sets, err := s.pveList(ctx, ep, "/cluster/firewall/ipset", nil)
	if err != nil {
		return none, err
	}
	for _, set := range sets {
		entries, err := s.pveList(ctx, ep, "/cluster/firewall/ipset/"+url.PathEscape(str(set["name"])), nil)
		if err != nil {
			return none, err
		}
		set["entries"] = nonNil(entries)
	}
	aliases, err := s.pveList(ctx, ep, "/cluster/firewall/aliases", nil)
	if err != nil {
		return none, err
	}
	raw, err := s.opt.Proxmox.Get(ctx, ep, "/cluster/firewall/options", nil)
	if err != nil {
		return none, err
	}
	var opts map[string]any
	if err := json.Unmarshal(raw, &opts); err != nil {
		return none, fmt.Errorf("/cluster/firewall/options: not an object: %w", err)
	}
	return firewallSummaryJSON{ClusterName: ss.name, EndpointID: ep.ID, SecurityGroups: nonNil(groups), Rules: nonNil(rules),
		IPSets: nonNil(sets), Aliases: nonNil(aliases), Options: opts}, nil
}

// pxFirewallSummary serves [{cluster_name, security_groups, rules, ip_sets,
// aliases, options}] for the selected endpoints. An endpoint whose firewall
// cannot be read completely is left out (and logged); when none can be read
// the answer is 502.
func (s *Server) pxFirewallSummary(c echo.Context) error {
	eps, err := s.selectEndpoints(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	out := []firewallSummaryJSON{}
	var lastErr error
	for _, ss := range s.resolveSessions(ctx, eps) {
		if ss.err != nil {
			lastErr = ss.err
			continue
		}
		entry, err := s.firewallSummary(ctx, ss)
		if err != nil {
			s.log.Warn("firewall summary left out", "endpoint", ss.ep.Name, "err", err)
			lastErr = err
			continue
		}
		out = append(out, entry)
	}
	if len(out) == 0 && lastErr != nil {
		return upstreamErr("Could not read the firewall of any Proxmox endpoint", lastErr)
	}
	return c.JSON(http.StatusOK, out)
}

// firewallNouns are the plugin's firewall reads (intent/firewall_common.py
// @fed47142) and where each exists: the noun in the plugin's path, Proxmox's
// sub-path below .../firewall/.
var firewallNouns = []struct {
	noun, sub               string
	datacenter, node, guest bool
}{
	{"rules", "rules", true, true, true},
	{"groups", "groups", true, false, false},
	{"ipsets", "ipset", true, false, true},
	{"aliases", "aliases", true, false, true},
	{"options", "options", true, true, true},
}

// pxFirewallRead reads <base>/firewall/<sub> of one endpoint.
func (s *Server) pxFirewallRead(c echo.Context, ep store.ProxmoxEndpoint, base, sub string) error {
	path := base + "/firewall/" + sub
	raw, err := s.opt.Proxmox.Get(c.Request().Context(), ep, path, nil)
	if err != nil {
		return upstreamErr("Proxmox refused "+path, err)
	}
	return c.JSONBlob(http.StatusOK, raw)
}

// pxFirewallDatacenter reads the datacenter firewall of the first selected
// endpoint (the plugin selects one with proxmox_endpoint_ids).
func (s *Server) pxFirewallDatacenter(sub string) echo.HandlerFunc {
	return func(c echo.Context) error {
		eps, err := s.selectEndpoints(c)
		if err != nil {
			return err
		}
		return s.pxFirewallRead(c, eps[0], "/cluster", sub)
	}
}

func (s *Server) pxFirewallNode(sub string) echo.HandlerFunc {
	return func(c echo.Context) error {
		node := c.Param("node")
		ep, err := s.endpointOfNode(c, node)
		if err != nil {
			return err
		}
		return s.pxFirewallRead(c, ep, "/nodes/"+url.PathEscape(node), sub)
	}
}

// pxFirewallGuest reads a guest's firewall; its node and type come from
// /cluster/resources (node= and vm_type= narrow the match).
func (s *Server) pxFirewallGuest(sub string) echo.HandlerFunc {
	return func(c echo.Context) error {
		vmid, err := strconv.Atoi(c.Param("vmid"))
		if err != nil || vmid < 1 {
			return fail(http.StatusUnprocessableEntity, "vmid must be a positive integer.")
		}
		typ := c.QueryParam("vm_type")
		if typ != "" && typ != "qemu" && typ != "lxc" {
			return fail(http.StatusBadRequest, "Invalid VM Type. Use 'qemu' or 'lxc'.")
		}
		eps, err := s.selectEndpoints(c)
		if err != nil {
			return err
		}
		ctx := c.Request().Context()
		var lastErr error
		for _, ep := range eps {
			res, err := s.pveList(ctx, ep, "/cluster/resources", url.Values{"type": {"vm"}})
			if err != nil {
				lastErr = err
				continue
			}
			for _, r := range res {
				if num(r["vmid"]) != vmid || (typ != "" && str(r["type"]) != typ) {
					continue
				}
				if n := c.QueryParam("node"); n != "" && n != str(r["node"]) {
					continue
				}
				return s.pxFirewallRead(c, ep, fmt.Sprintf("/nodes/%s/%s/%d", url.PathEscape(str(r["node"])), str(r["type"]), vmid), sub)
			}
		}
		if lastErr != nil {
			return upstreamErr("Could not read /cluster/resources", lastErr)
		}
		return fail(http.StatusNotFound, fmt.Sprintf("Guest %d not found on the selected Proxmox endpoints.", vmid))
	}
}

// pxCPUModels serves the custom CPU models of every selected endpoint as
// one flat list, each with cluster_name. PVE before 9.2 has no
// /cluster/qemu/custom-cpu-models (501): such an endpoint contributes none.
func (s *Server) pxCPUModels(c echo.Context) error {
	eps, err := s.selectEndpoints(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	out := []map[string]any{}
	answered := 0
	var lastErr error
	for _, ss := range s.resolveSessions(ctx, eps) {
		models, err := s.pveList(ctx, ss.ep, "/cluster/qemu/custom-cpu-models", nil)
		if st := upstreamStatus(err); st == http.StatusNotImplemented || st == http.StatusNotFound {
			answered++
			continue
		}
		if err != nil {
			lastErr = err
			continue
		}
		answered++
		for _, m := range models {
			m["cluster_name"] = ss.name
			if _, ok := m["name"]; !ok {
				m["name"] = m["cputype"]
			}
			out = append(out, m)
		}
	}
	if answered == 0 && lastErr != nil {
		return upstreamErr("Could not read the custom CPU models of any Proxmox endpoint", lastErr)
	}
	return c.JSON(http.StatusOK, out)
}
