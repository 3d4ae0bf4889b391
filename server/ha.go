package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/proxbox/proxbox/store"
)

// ProxmoxWriter sends a write (POST) to a Proxmox endpoint. The proxmox
// wiring in cmd/proxbox implements it beside ProxmoxAPI; the write routes
// use it only when PROXBOX_PROXMOX_WRITES is on.
type ProxmoxWriter interface {
	Post(ctx context.Context, ep store.ProxmoxEndpoint, path string, params url.Values) (json.RawMessage, error)
}

// The newer plugin's HA page and VM tab (views/ha.py, views/vm_ha.py,
// api/ha.py@fed47142) read GET /proxmox/cluster/ha/summary and
// /proxmox/cluster/ha/resources/by-vm/{vmid}; its arm/disarm buttons
// (views/ha_actions.py@fed47142) POST /proxmox/cluster/ha/{arm,disarm} once
// per endpoint. Reads come from PVE's /cluster/ha/status/current,
// /cluster/ha/resources, /cluster/ha/groups (PVE 8) and /cluster/ha/rules
// (PVE 9); the writes are PVE 9.2's /cluster/ha/status/{arm-ha,disarm-ha}.

func (s *Server) haRoutes() {
	if s.opt.Proxmox == nil {
		return
	}
	s.e.GET("/proxmox/cluster/ha/summary", s.pxHASummary)
	s.e.GET("/proxmox/cluster/ha/resources/by-vm/:vmid", s.pxHAByVM)
	s.e.POST("/proxmox/cluster/ha/arm", s.pxHAAction("arm-ha"))
	s.e.POST("/proxmox/cluster/ha/disarm", s.pxHAAction("disarm-ha"))
}

// optionalList reads a list that an older or newer PVE may not have (501 or
// 404: none).
func (s *Server) optionalList(ctx context.Context, ep store.ProxmoxEndpoint, path string) ([]map[string]any, error) {
	l, err := s.pveList(ctx, ep, path, nil)
	if st := upstreamStatus(err); st == http.StatusNotImplemented || st == http.StatusNotFound {
		return nil, nil
	}
	return l, err
}

// haRead is one endpoint's HA state: status rows, resources with their
// runtime state merged from the status rows (by sid), groups and rules.
func (s *Server) haRead(ctx context.Context, ss pxSession) (haSummaryJSON, error) {
	var out haSummaryJSON
	status, err := s.pveList(ctx, ss.ep, "/cluster/ha/status/current", nil)
	if err != nil {
		return out, err
	}
	byID := map[string]map[string]any{}
	for _, r := range status {
		r["cluster_name"] = ss.name
		if sid := str(r["sid"]); sid != "" {
			byID[sid] = r
		}
	}
	res, err := s.pveList(ctx, ss.ep, "/cluster/ha/resources", nil)
	if err != nil {
		return out, err
	}
	for _, r := range res {
		r["cluster_name"] = ss.name
		if st := byID[str(r["sid"])]; st != nil {
			for _, k := range []string{"node", "crm_state", "request_state", "status"} {
				if v, ok := st[k]; ok {
					r[k] = v
				}
			}
		}
	}
	groups, err := s.optionalList(ctx, ss.ep, "/cluster/ha/groups")
	if err != nil {
		return out, err
	}
	rules, err := s.optionalList(ctx, ss.ep, "/cluster/ha/rules")
	if err != nil {
		return out, err
	}
	for _, l := range [][]map[string]any{groups, rules} {
		for _, r := range l {
			r["cluster_name"] = ss.name
		}
	}
	return haSummaryJSON{Status: nonNil(status), Resources: nonNil(res), Groups: nonNil(groups), Rules: nonNil(rules)}, nil
}

// pxHASummary serves {status, groups, resources, rules} over the selected
// endpoints, each row with cluster_name; an endpoint that cannot be read is
// left out, and when none can the answer is 502.
func (s *Server) pxHASummary(c echo.Context) error {
	eps, err := s.selectEndpoints(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	out := haSummaryJSON{Status: []map[string]any{}, Groups: []map[string]any{}, Resources: []map[string]any{}, Rules: []map[string]any{}}
	read := 0
	var lastErr error
	for _, ss := range s.resolveSessions(ctx, eps) {
		one, err := s.haRead(ctx, ss)
		if err != nil {
			lastErr = err
			continue
		}
		read++
		out.Status = append(out.Status, one.Status...)
		out.Groups = append(out.Groups, one.Groups...)
		out.Resources = append(out.Resources, one.Resources...)
		out.Rules = append(out.Rules, one.Rules...)
	}
	if read == 0 {
		return upstreamErr("Could not read the HA state of any Proxmox endpoint", lastErr)
	}
	return c.JSON(http.StatusOK, out)
}

// pxHAByVM serves the HA resource of guest vmid (vm:<id>, else ct:<id>) with
// its runtime state, or null when HA does not manage it.
func (s *Server) pxHAByVM(c echo.Context) error {
	vmid, err := strconv.Atoi(c.Param("vmid"))
	if err != nil || vmid < 1 {
		return fail(http.StatusUnprocessableEntity, "vmid must be a positive integer.")
	}
	eps, err := s.selectEndpoints(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	var lastErr error
	read := 0
	for _, ss := range s.resolveSessions(ctx, eps) {
		one, err := s.haRead(ctx, ss)
		if err != nil {
			lastErr = err
			continue
		}
		read++
		for _, sid := range []string{fmt.Sprintf("vm:%d", vmid), fmt.Sprintf("ct:%d", vmid)} {
			for _, r := range one.Resources {
				if str(r["sid"]) == sid {
					return c.JSON(http.StatusOK, r)
				}
			}
		}
	}
	if read == 0 {
		return upstreamErr("Could not read the HA state of any Proxmox endpoint", lastErr)
	}
	return c.JSON(http.StatusOK, nil)
}

// pxHAAction arms or disarms HA on every selected endpoint (PVE 9.2+):
// [{cluster_name, status: ok|error, error}]. Refused with 403 unless
// PROXBOX_PROXMOX_WRITES is on.
func (s *Server) pxHAAction(cmd string) echo.HandlerFunc {
	return func(c echo.Context) error {
		w, err := s.writer()
		if err != nil {
			return err
		}
		eps, err := s.selectEndpoints(c)
		if err != nil {
			return err
		}
		ctx := c.Request().Context()
		out := []haActionJSON{}
		for _, ss := range s.resolveSessions(ctx, eps) {
			r := haActionJSON{ClusterName: ss.name, EndpointID: ss.ep.ID, Status: "ok"}
			if _, err := w.Post(ctx, ss.ep, "/cluster/ha/status/"+cmd, nil); err != nil {
				msg := upstreamReason(err)
				if upstreamStatus(err) == http.StatusNotImplemented {
					msg = "this Proxmox VE has no " + cmd + " (PVE 9.2 or later): " + msg
				}
				r.Status, r.Error = "error", &msg
			}
			s.log.Info("proxmox write", "action", cmd, "endpoint", ss.ep.Name, "status", r.Status)
			out = append(out, r)
		}
		return c.JSON(http.StatusOK, out)
	}
}
