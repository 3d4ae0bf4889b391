package netbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Base URL used in url fields of objects returned by the Go API.
const goAPIBase = "http://netbox.lab"

func (s *Server) model(name string) (*model, error) {
	n := strings.Trim(strings.TrimPrefix(strings.TrimPrefix(name, "/"), "api/"), "/")
	if m := s.st.byKey[n]; m != nil {
		return m, nil
	}
	if m := s.st.byPath[n]; m != nil {
		return m, nil
	}
	return nil, fmt.Errorf("netbox lab: unknown model %q", name)
}

// Models lists the served models as app_label.model keys.
func (s *Server) Models() []string {
	out := make([]string, 0, len(s.st.models))
	for _, m := range s.st.models {
		if m.plugin && s.opts.DisablePlugin {
			continue
		}
		out = append(out, m.key)
	}
	return out
}

func decodeRendered(b []byte) (any, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decode rendered object: %w", err)
	}
	return v, nil
}

// Create seeds one object (body is anything that marshals to the JSON NetBox would accept,
// or a slice of them for a bulk create) through the same validation as POST. It returns the
// created object(s) as NetBox renders them. A rejected body returns an error whose Error()
// holds NetBox's JSON error body.
func (s *Server) Create(ctx context.Context, model string, body any) (any, error) {
	return s.goWrite(ctx, model, 0, http.MethodPost, body)
}

// Update PATCHes object id with patch.
func (s *Server) Update(ctx context.Context, model string, id int64, patch any) (map[string]any, error) {
	v, err := s.goWrite(ctx, model, id, http.MethodPatch, patch)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	return m, nil
}

// Delete deletes object id, cascading as NetBox does.
func (s *Server) Delete(ctx context.Context, model string, id int64) error {
	_, err := s.goWrite(ctx, model, id, http.MethodDelete, nil)
	return err
}

func (s *Server) goWrite(ctx context.Context, model string, id int64, method string, body any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("netbox lab write: %w", err)
	}
	m, err := s.model(model)
	if err != nil {
		return nil, err
	}
	var raw []byte
	if body != nil {
		if raw, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("netbox lab: marshal body: %w", err)
		}
	}
	out, _, aerr := s.write(goAPIBase, m, id, method, raw, url.Values{})
	if aerr != nil {
		return nil, aerr
	}
	if method == http.MethodDelete {
		return nil, nil
	}
	return decodeRendered(out)
}

// Get returns object id as NetBox renders it, and whether it exists.
func (s *Server) Get(model string, id int64) (map[string]any, bool) {
	m, err := s.model(model)
	if err != nil {
		return nil, false
	}
	status, out, _ := s.getOne(goAPIBase, m, id, url.Values{})
	if status != http.StatusOK {
		return nil, false
	}
	v, err := decodeRendered(out)
	if err != nil {
		return nil, false
	}
	obj, _ := v.(map[string]any)
	return obj, true
}

// List returns every object of model matching query (NetBox filter syntax, e.g.
// url.Values{"cluster_id": {"3"}}), unpaginated.
func (s *Server) List(model string, query url.Values) ([]map[string]any, error) {
	m, err := s.model(model)
	if err != nil {
		return nil, err
	}
	s.st.mu.RLock()
	rows, errs := s.st.filterRows(m, query)
	if errs != nil {
		s.st.mu.RUnlock()
		return nil, &apiError{status: http.StatusBadRequest, body: errs}
	}
	rc := newRctx(s.st, goAPIBase)
	w := &jw{}
	w.raw("[")
	names := shape(m, query, true)
	for i, o := range rows {
		if i > 0 {
			w.raw(",")
		}
		rc.writeObj(w, m, o, names)
	}
	w.raw("]")
	s.st.mu.RUnlock()
	var out []map[string]any
	if err := json.Unmarshal(w.b, &out); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	return out, nil
}

// Count returns the number of objects of model.
func (s *Server) Count(model string) int {
	m, err := s.model(model)
	if err != nil {
		return 0
	}
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	return len(s.st.tables[m.key].order)
}

// Changes returns how many change-log rows object id has produced: 1 for its creation plus
// one per update that changed its data. 0 if it does not exist.
func (s *Server) Changes(model string, id int64) int64 {
	m, err := s.model(model)
	if err != nil {
		return 0
	}
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	if o := s.st.get(m.key, id); o != nil {
		return o.changes
	}
	return 0
}

// Stats returns a snapshot of the request and write counters (also GET /_lab/stats).
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// ResetStats zeroes the counters (also POST /_lab/stats/reset). Objects keep their
// per-object change counts.
func (s *Server) ResetStats() { s.stats.reset(); s.ResetRequestLog() }

// SeedProxmoxEndpoint creates the plugin's ProxmoxEndpoint row for a Proxmox endpoint at
// host:port as a user of netbox-proxbox 0.0.24 does: its ip_address is an IPAddress object
// (host/32, or /128; reused when it exists) and mode is required ("cluster"). It returns the
// row's id.
func (s *Server) SeedProxmoxEndpoint(ctx context.Context, name, host string, port int, username string) (int64, error) {
	addr := host + "/32"
	if strings.Contains(host, ":") {
		addr = host + "/128"
	}
	var ipID any
	if rows, err := s.List("ipam.ipaddress", url.Values{"address": {addr}}); err == nil && len(rows) > 0 {
		ipID = rows[0]["id"]
	} else {
		v, err := s.Create(ctx, "ipam.ipaddress", map[string]any{"address": addr, "status": "active"})
		if err != nil {
			return 0, fmt.Errorf("seed endpoint address %s: %w", addr, err)
		}
		ipID = v.(map[string]any)["id"]
	}
	v, err := s.Create(ctx, "plugins/proxbox/endpoints/proxmox", map[string]any{
		"name": name, "ip_address": ipID, "port": port, "mode": "cluster", "username": username, "verify_ssl": false})
	if err != nil {
		return 0, fmt.Errorf("seed Proxmox endpoint %s: %w", name, err)
	}
	id, _ := v.(map[string]any)["id"].(float64)
	return int64(id), nil
}
