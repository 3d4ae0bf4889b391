package netbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	testV1 = "0123456789abcdef0123456789abcdef01234567"
	testV2 = "nbt_abcdefghijkl.0123456789abcdef0123456789abcdef01234567"
	testRO = "fedcba9876543210fedcba9876543210fedcba98"
)

type harness struct {
	t   *testing.T
	srv *Server
	ts  *httptest.Server
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	opts.Tokens = append(opts.Tokens, Token{Value: testV1}, Token{Value: testV2}, Token{Value: testRO, ReadOnly: true})
	srv := New(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &harness{t: t, srv: srv, ts: ts}
}

// do sends a request with the v1 token and decodes the JSON reply.
func (h *harness) do(method, path string, body any) (int, any) {
	h.t.Helper()
	return h.doAuth(method, path, body, "Token "+testV1)
}

func (h *harness) doAuth(method, path string, body any, auth string) (int, any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, h.ts.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	if len(raw) == 0 {
		return resp.StatusCode, nil
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		return resp.StatusCode, string(raw) // Django's HTML error page
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		h.t.Fatalf("%s %s: reply is not JSON: %v: %s", method, path, err, raw)
	}
	return resp.StatusCode, v
}

func (h *harness) mustCreate(path string, body map[string]any) map[string]any {
	h.t.Helper()
	code, v := h.do("POST", path, body)
	if code != http.StatusCreated {
		h.t.Fatalf("POST %s %v: %d %v", path, body, code, v)
	}
	return v.(map[string]any)
}

func idOf(v map[string]any) int64 { return int64(v["id"].(float64)) }

// base seeds a cluster type, two clusters and returns their ids.
func (h *harness) base() (ct, c1, c2 int64) {
	ct = idOf(h.mustCreate("/api/virtualization/cluster-types/", map[string]any{"name": "Cluster", "slug": "cluster"}))
	c1 = idOf(h.mustCreate("/api/virtualization/clusters/", map[string]any{"name": "pve-a", "type": ct}))
	c2 = idOf(h.mustCreate("/api/virtualization/clusters/", map[string]any{"name": "pve-b", "type": ct}))
	return
}

func errField(v any, field string) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	list, ok := m[field].([]any)
	if !ok || len(list) == 0 {
		return ""
	}
	s, _ := list[0].(string)
	return s
}

func TestAuth(t *testing.T) {
	h := newHarness(t, Options{})
	cases := []struct {
		name, auth, method string
		code               int
		detail             string
	}{
		{"missing", "", "GET", 403, "Authentication credentials were not provided."},
		{"bad v1", "Token 0000000000000000000000000000000000000000", "GET", 403, "Invalid v1 token"},
		{"bad v2", "Bearer nbt_abcdefghijkl.wrong", "GET", 403, "Invalid v2 token"},
		{"v2 without dot", "Bearer nbt_abcdefghijkl", "GET", 403, "Invalid authorization header: Could not parse key from v2 token. Did you mean to use 'Token' instead of 'Bearer'?"},
		{"v1 token sent as Bearer", "Bearer " + testV1, "GET", 403, "Invalid v1 token"},
		{"v2 token sent as Token", "Token " + testV2, "GET", 403, "Invalid v1 token"},
		{"short v1", "Token 0123456789", "GET", 403, "Invalid v1 token"},
		{"bad keyword", "Basic xyz", "GET", 403, `Invalid authorization header: Must be in the form "Bearer <key>.<token>" or "Token <token>"`},
		{"v1 ok", "Token " + testV1, "GET", 200, ""},
		{"v1 keyword case-insensitive", "token " + testV1, "GET", 200, ""},
		{"v2 ok", "Bearer " + testV2, "GET", 200, ""},
		{"read-only write", "Token " + testRO, "POST", 403, "You do not have permission to perform this action."},
		{"read-only read", "Token " + testRO, "GET", 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.method == "POST" {
				body = map[string]any{"name": "x", "slug": "x"}
			}
			code, v := h.doAuth(c.method, "/api/dcim/sites/", body, c.auth)
			if code != c.code {
				t.Fatalf("code %d, want %d (%v)", code, c.code, v)
			}
			if c.detail != "" && v.(map[string]any)["detail"] != c.detail {
				t.Fatalf("detail %q, want %q", v.(map[string]any)["detail"], c.detail)
			}
		})
	}
}

func TestStatusAndPluginSwitch(t *testing.T) {
	for _, disabled := range []bool{false, true} {
		h := newHarness(t, Options{DisablePlugin: disabled})
		code, v := h.do("GET", "/api/status/", nil)
		if code != 200 {
			t.Fatalf("status: %d", code)
		}
		st := v.(map[string]any)
		if !strings.HasPrefix(st["netbox-version"].(string), "4.6.") {
			t.Fatalf("netbox-version %v", st["netbox-version"])
		}
		_, has := st["plugins"].(map[string]any)["netbox_proxbox"]
		if has == disabled {
			t.Fatalf("disabled=%v but plugins=%v", disabled, st["plugins"])
		}
		for _, p := range []string{"storage", "backups", "snapshots", "task-history", "replications", "backup-routines", "settings"} {
			code, v := h.do("GET", "/api/plugins/proxbox/"+p+"/", nil)
			want := 200
			if disabled {
				want = 404
			}
			body, _ := v.(string)
			if code != want || disabled != strings.Contains(body, "<title>Page Not Found | NetBox</title>") {
				t.Fatalf("disabled=%v %s: %d %v, want %d (HTML page without the plugin)", disabled, p, code, v, want)
			}
		}
	}
}

func TestVMValidation(t *testing.T) {
	h := newHarness(t, Options{})
	_, c1, c2 := h.base()
	h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "web01", "cluster": c1})
	cases := []struct {
		name  string
		body  map[string]any
		field string
		msg   string
	}{
		{"no name", map[string]any{"cluster": c1}, "name", "This field is required."},
		{"blank name", map[string]any{"name": "", "cluster": c1}, "name", "This field may not be blank."},
		{"duplicate", map[string]any{"name": "web01", "cluster": c1}, "__all__", "Virtual machine name must be unique per cluster."},
		{"duplicate other case", map[string]any{"name": "WEB01", "cluster": c1}, "__all__", "Virtual machine name must be unique per cluster."},
		{"bad status", map[string]any{"name": "x", "cluster": c1, "status": "running"}, "status", "running is not a valid choice."},
		{"unknown cluster", map[string]any{"name": "x", "cluster": 999}, "cluster", "Related object not found using the provided numeric ID: 999"},
		{"cluster by attrs", map[string]any{"name": "x", "cluster": map[string]any{"name": "nope"}}, "cluster", "Related object not found using the provided attributes: {'name': 'nope'}"},
		{"no site or cluster", map[string]any{"name": "x"}, "cluster", "A virtual machine must be assigned to a site and/or cluster."},
		{"name too long", map[string]any{"name": strings.Repeat("a", 65), "cluster": c1}, "name", "Ensure this field has no more than 64 characters."},
		{"vcpus zero (schema minimum)", map[string]any{"name": "x", "cluster": c1, "vcpus": 0}, "vcpus", "Ensure this value is greater than or equal to 0.01."},
		{"memory not a number", map[string]any{"name": "x", "cluster": c1, "memory": "lots"}, "memory", "A valid integer is required."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, v := h.do("POST", "/api/virtualization/virtual-machines/", c.body)
			if code != 400 {
				t.Fatalf("code %d (%v)", code, v)
			}
			if got := errField(v, c.field); got != c.msg {
				t.Fatalf("%s: %q, want %q (body %v)", c.field, got, c.msg, v)
			}
		})
	}
	// Same name in another cluster is fine; numbers sent as strings are coerced like DRF.
	vm := h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "web01", "cluster": c2, "memory": "4096", "status": "offline"})
	if vm["memory"].(float64) != 4096 || vm["status"].(map[string]any)["label"] != "Offline" {
		t.Fatalf("vm %v", vm)
	}
	// Cluster by attribute dict.
	vm = h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "db", "cluster": map[string]any{"name": "pve-a"}})
	if vm["cluster"].(map[string]any)["name"] != "pve-a" {
		t.Fatalf("cluster %v", vm["cluster"])
	}
}

func TestBulkAtomic(t *testing.T) {
	h := newHarness(t, Options{})
	_, c1, _ := h.base()
	code, v := h.do("POST", "/api/virtualization/virtual-machines/", []any{
		map[string]any{"name": "a", "cluster": c1},
		map[string]any{"cluster": c1},
		map[string]any{"name": "c", "cluster": c1},
	})
	if code != 400 {
		t.Fatalf("code %d", code)
	}
	list := v.([]any)
	if len(list) != 3 || len(list[0].(map[string]any)) != 0 || errField(list[1], "name") != "This field is required." {
		t.Fatalf("errors %v", v)
	}
	if n := h.srv.Count("virtualization.virtualmachine"); n != 0 {
		t.Fatalf("%d VMs written by a failed bulk create", n)
	}
	// Duplicates inside one batch pass validation (each is checked against the
	// database before the request) and break the unique constraint on save:
	// NetBox answers 500 IntegrityError and writes nothing.
	code, v = h.do("POST", "/api/virtualization/virtual-machines/", []any{
		map[string]any{"name": "dup", "cluster": c1}, map[string]any{"name": "DUP", "cluster": c1}})
	if code != 500 || v.(map[string]any)["exception"] != "IntegrityError" || h.srv.Count("virtualization.virtualmachine") != 0 {
		t.Fatalf("in-batch duplicate: %d %v, %d VMs", code, v, h.srv.Count("virtualization.virtualmachine"))
	}
	code, v = h.do("POST", "/api/virtualization/virtual-machines/", []any{
		map[string]any{"name": "a", "cluster": c1}, map[string]any{"name": "b", "cluster": c1}})
	if code != 201 || len(v.([]any)) != 2 || v.([]any)[1].(map[string]any)["name"] != "b" {
		t.Fatalf("bulk create %d %v", code, v)
	}
	ids := []int64{idOf(v.([]any)[0].(map[string]any)), idOf(v.([]any)[1].(map[string]any))}
	// Bulk PATCH: one bad item -> nothing changes.
	code, _ = h.do("PATCH", "/api/virtualization/virtual-machines/", []any{
		map[string]any{"id": ids[0], "description": "x"}, map[string]any{"id": ids[1], "status": "bogus"}})
	if code != 400 {
		t.Fatalf("bulk patch code %d", code)
	}
	if vm, _ := h.srv.Get("virtualization.virtualmachine", ids[0]); vm["description"] != "" {
		t.Fatalf("bulk patch not atomic: %v", vm["description"])
	}
	code, v = h.do("PATCH", "/api/virtualization/virtual-machines/", []any{
		map[string]any{"id": ids[0], "description": "x"}, map[string]any{"id": ids[1], "description": "y"}, map[string]any{"id": 9999, "description": "z"}})
	if code != 200 || len(v.([]any)) != 2 {
		t.Fatalf("bulk patch %d %v", code, v)
	}
	code, _ = h.do("DELETE", "/api/virtualization/virtual-machines/", []any{map[string]any{"id": ids[0]}, map[string]any{"id": ids[1]}, map[string]any{"id": 9999}})
	if code != 204 || h.srv.Count("virtualization.virtualmachine") != 0 {
		t.Fatalf("bulk delete %d, %d left", code, h.srv.Count("virtualization.virtualmachine"))
	}
}

func TestPagination(t *testing.T) {
	h := newHarness(t, Options{})
	ct := idOf(h.mustCreate("/api/virtualization/cluster-types/", map[string]any{"name": "T", "slug": "t"}))
	var items []any
	for i := 0; i < 1205; i++ {
		items = append(items, map[string]any{"name": fmt.Sprintf("c%04d", i), "type": ct})
	}
	if code, v := h.do("POST", "/api/virtualization/clusters/", items); code != 201 {
		t.Fatalf("seed %d %v", code, v)
	}
	p := "/api/virtualization/clusters/"
	cases := []struct {
		query      string
		n          int
		next, prev string // "" = null; else query of the URL
	}{
		{"", 50, "limit=50&offset=50", ""},
		{"?limit=2", 2, "limit=2&offset=2", ""},
		{"?limit=2&offset=2", 2, "limit=2&offset=4", "limit=2"},
		{"?limit=2&offset=3", 2, "limit=2&offset=5", "limit=2&offset=1"},
		{"?limit=5&offset=1200", 5, "", "limit=5&offset=1195"},
		{"?limit=5&offset=1201", 4, "", "limit=5&offset=1196"},
		{"?limit=5&offset=1205", 0, "", "limit=5&offset=1200"},
		{"?limit=0", 1000, "limit=1000&offset=1000", ""},
		{"?limit=5000", 1000, "limit=1000&offset=1000", ""},
		{"?limit=1000&offset=1000", 205, "", "limit=1000"},
		{"?limit=abc", 50, "limit=50&offset=50", ""},
		{"?limit=-3", 50, "limit=50&offset=50", ""},
		{"?limit=2&name=c0001", 1, "", ""},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			code, v := h.do("GET", p+c.query, nil)
			if code != 200 {
				t.Fatalf("code %d", code)
			}
			page := v.(map[string]any)
			wantCount := 1205.0
			if strings.Contains(c.query, "name=") {
				wantCount = 1
			}
			if page["count"] != wantCount || len(page["results"].([]any)) != c.n {
				t.Fatalf("count %v results %d", page["count"], len(page["results"].([]any)))
			}
			for _, k := range []struct{ key, want string }{{"next", c.next}, {"previous", c.prev}} {
				got := page[k.key]
				if k.want == "" {
					if got != nil {
						t.Fatalf("%s = %v, want null", k.key, got)
					}
					continue
				}
				u, err := url.Parse(fmt.Sprint(got))
				if err != nil || u.Path != p || !strings.HasPrefix(fmt.Sprint(got), h.ts.URL) {
					t.Fatalf("%s = %v", k.key, got)
				}
				want, _ := url.ParseQuery(k.want)
				if c.query != "" && strings.Contains(c.query, "name=") {
					want.Set("name", "c0001")
				}
				if u.Query().Encode() != want.Encode() {
					t.Fatalf("%s query %q, want %q", k.key, u.Query().Encode(), want.Encode())
				}
			}
		})
	}
	// Cursor pagination (4.6 start=).
	_, v := h.do("GET", p+"?start=1200&limit=3", nil)
	page := v.(map[string]any)
	if page["count"] != nil || page["previous"] != nil || len(page["results"].([]any)) != 3 || !strings.Contains(fmt.Sprint(page["next"]), "start=1203") {
		t.Fatalf("cursor page %v", page)
	}
}

func TestUniqueness(t *testing.T) {
	h := newHarness(t, Options{})
	ct, c1, _ := h.base()
	site := idOf(h.mustCreate("/api/dcim/sites/", map[string]any{"name": "S1", "slug": "s1"}))
	man := idOf(h.mustCreate("/api/dcim/manufacturers/", map[string]any{"name": "Proxmox", "slug": "proxmox"}))
	dt := idOf(h.mustCreate("/api/dcim/device-types/", map[string]any{"manufacturer": man, "model": "Generic", "slug": "generic"}))
	role := idOf(h.mustCreate("/api/dcim/device-roles/", map[string]any{"name": "Node", "slug": "node"}))
	dev := idOf(h.mustCreate("/api/dcim/devices/", map[string]any{"name": "pve01", "device_type": dt, "role": role, "site": site}))
	vm := idOf(h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "vm", "cluster": c1}))
	grp := idOf(h.mustCreate("/api/virtualization/cluster-groups/", map[string]any{"name": "G", "slug": "g"}))
	h.mustCreate("/api/virtualization/clusters/", map[string]any{"name": "same", "type": ct, "group": grp})
	h.mustCreate("/api/virtualization/interfaces/", map[string]any{"virtual_machine": vm, "name": "net0"})
	h.mustCreate("/api/virtualization/virtual-disks/", map[string]any{"virtual_machine": vm, "name": "scsi0", "size": 10})
	h.mustCreate("/api/dcim/interfaces/", map[string]any{"device": dev, "name": "vmbr0", "type": "bridge"})
	cases := []struct {
		path  string
		body  map[string]any
		field string
		msg   string
	}{
		{"/api/dcim/sites/", map[string]any{"name": "S1", "slug": "other"}, "name", "site with this name already exists."},
		{"/api/dcim/sites/", map[string]any{"name": "S2", "slug": "s1"}, "slug", "site with this slug already exists."},
		{"/api/dcim/sites/", map[string]any{"name": "S3", "slug": "bad slug"}, "slug", `Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.`},
		{"/api/dcim/manufacturers/", map[string]any{"name": "Proxmox", "slug": "p2"}, "name", "manufacturer with this name already exists."},
		{"/api/extras/tags/", map[string]any{"name": "t", "slug": "t"}, "", ""},
		{"/api/extras/tags/", map[string]any{"name": "t", "slug": "t2"}, "name", "tag with this name already exists."},
		{"/api/dcim/device-roles/", map[string]any{"name": "Node2", "slug": "node"}, "__all__", "A top-level device role with this slug already exists."},
		{"/api/virtualization/cluster-types/", map[string]any{"name": "Cluster", "slug": "c2"}, "name", "cluster type with this name already exists."},
		{"/api/dcim/devices/", map[string]any{"name": "PVE01", "device_type": dt, "role": role, "site": site}, "__all__", "Device name must be unique per site."},
		{"/api/virtualization/clusters/", map[string]any{"name": "same", "type": ct, "group": grp}, "__all__", "Cluster with this Group and Name already exists."},
		{"/api/virtualization/clusters/", map[string]any{"name": "same", "type": ct}, "", ""}, // no group: allowed
		{"/api/virtualization/interfaces/", map[string]any{"virtual_machine": vm, "name": "net0"}, "__all__", "Interface with this Virtual machine and Name already exists."},
		{"/api/virtualization/virtual-disks/", map[string]any{"virtual_machine": vm, "name": "scsi0", "size": 1}, "__all__", "Virtual disk with this Virtual machine and Name already exists."},
		{"/api/dcim/interfaces/", map[string]any{"device": dev, "name": "vmbr0", "type": "bridge"}, "__all__", "Interface with this Device and Name already exists."},
		{"/api/dcim/device-types/", map[string]any{"manufacturer": man, "model": "Generic", "slug": "g2"}, "__all__", "Device type with this Manufacturer and Model already exists."},
		{"/api/ipam/ip-addresses/", map[string]any{"address": "10.0.0.5/24"}, "", ""},
		{"/api/ipam/ip-addresses/", map[string]any{"address": "10.0.0.5/24"}, "address", "Duplicate IP address found in global table: 10.0.0.5/24"}, // ENFORCE_GLOBAL_UNIQUE, NetBox's default
	}
	for _, c := range cases {
		code, v := h.do("POST", c.path, c.body)
		if c.field == "" {
			if code != 201 {
				t.Fatalf("%s %v: %d %v", c.path, c.body, code, v)
			}
			continue
		}
		if code != 400 || errField(v, c.field) != c.msg {
			t.Fatalf("%s %v: %d %v, want %s: %s", c.path, c.body, code, v, c.field, c.msg)
		}
	}
	// PATCH keeping its own name is not a duplicate of itself.
	if code, v := h.do("PATCH", fmt.Sprintf("/api/dcim/devices/%d/", dev), map[string]any{"name": "pve01"}); code != 200 {
		t.Fatalf("self patch %d %v", code, v)
	}
	// Protected delete.
	if code, v := h.do("DELETE", fmt.Sprintf("/api/virtualization/clusters/%d/", c1), nil); code != 409 {
		t.Fatalf("delete protected cluster: %d %v", code, v)
	}
	// Cascade: deleting the VM deletes its interface and disk.
	if code, _ := h.do("DELETE", fmt.Sprintf("/api/virtualization/virtual-machines/%d/", vm), nil); code != 204 {
		t.Fatalf("delete vm %d", code)
	}
	if h.srv.Count("virtualization.vminterface") != 0 || h.srv.Count("virtualization.virtualdisk") != 0 {
		t.Fatal("VM children survived the VM")
	}
}

func TestGlobalUniqueIPOption(t *testing.T) {
	h := newHarness(t, Options{})
	h.mustCreate("/api/ipam/ip-addresses/", map[string]any{"address": "10.0.0.5/24"})
	code, v := h.do("POST", "/api/ipam/ip-addresses/", map[string]any{"address": "10.0.0.5/16"})
	// The message names the address already there (NetBox 4.5.10 answers the same).
	if code != 400 || errField(v, "address") != "Duplicate IP address found in global table: 10.0.0.5/24" {
		t.Fatalf("%d %v", code, v)
	}
	// Anycast and VIP copies may repeat.
	h.mustCreate("/api/ipam/ip-addresses/", map[string]any{"address": "10.0.0.9/24", "role": "vip"})
	h.mustCreate("/api/ipam/ip-addresses/", map[string]any{"address": "10.0.0.9/24", "role": "vip"})
	if code, _ := h.do("POST", "/api/ipam/ip-addresses/", map[string]any{"address": "10.0.0.9/24"}); code != 400 {
		t.Fatalf("a plain copy of a VIP: %d", code)
	}
	// VRFs: a copy in a VRF is another table; a VRF with enforce_unique (the default)
	// refuses a second copy inside it, one without takes it. Texts as NetBox 4.5.10's.
	v1 := idOf(h.mustCreate("/api/ipam/vrfs/", map[string]any{"name": "v1"}))
	v2 := idOf(h.mustCreate("/api/ipam/vrfs/", map[string]any{"name": "v2", "rd": "65000:1"}))
	loose1 := idOf(h.mustCreate("/api/ipam/vrfs/", map[string]any{"name": "loose", "enforce_unique": false}))
	for _, vrf := range []int64{v1, v2, loose1} {
		h.mustCreate("/api/ipam/ip-addresses/", map[string]any{"address": "10.0.0.5/24", "vrf": vrf})
	}
	h.mustCreate("/api/ipam/ip-addresses/", map[string]any{"address": "10.0.0.5/24", "vrf": loose1})
	for vrf, want := range map[int64]string{v1: "VRF v1: 10.0.0.5/24", v2: "VRF v2 (65000:1): 10.0.0.5/24"} {
		code, v := h.do("POST", "/api/ipam/ip-addresses/", map[string]any{"address": "10.0.0.5/23", "vrf": vrf})
		if code != 400 || errField(v, "address") != "Duplicate IP address found in "+want {
			t.Fatalf("vrf %d: %d %v", vrf, code, v)
		}
	}
	if code, v := h.do("POST", "/api/ipam/vrfs/", map[string]any{"name": "v3", "rd": "65000:1"}); code != 400 || errField(v, "rd") != "VRF with this route distinguisher already exists." {
		t.Fatalf("duplicate rd: %d %v", code, v)
	}
	// Moving the global copy into v1 meets v1's copy.
	code, v = h.do("GET", "/api/ipam/ip-addresses/?address=10.0.0.5&vrf_id=null", nil)
	rows, _ := v.(map[string]any)["results"].([]any)
	if code != 200 || len(rows) != 1 {
		t.Fatalf("the global copy: %d %v", code, v)
	}
	global := idOf(rows[0].(map[string]any))
	if code, v := h.do("PATCH", fmt.Sprintf("/api/ipam/ip-addresses/%d/", global), map[string]any{"vrf": v1}); code != 400 || errField(v, "address") != "Duplicate IP address found in VRF v1: 10.0.0.5/24" {
		t.Fatalf("move into v1: %d %v", code, v)
	}
	if code, _ := h.do("DELETE", fmt.Sprintf("/api/ipam/vrfs/%d/", v1), nil); code != 409 {
		t.Fatalf("a VRF holding addresses is protected: %d", code)
	}
	// A NetBox configured with ENFORCE_GLOBAL_UNIQUE = False takes the duplicate.
	loose := newHarness(t, Options{AllowDuplicateIPs: true})
	loose.mustCreate("/api/ipam/ip-addresses/", map[string]any{"address": "10.0.0.5/24"})
	loose.mustCreate("/api/ipam/ip-addresses/", map[string]any{"address": "10.0.0.5/24"})
}

func TestModelRules(t *testing.T) {
	h := newHarness(t, Options{})
	_, c1, _ := h.base()
	vm := h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "vm", "cluster": c1, "disk": 100})
	vmPath := fmt.Sprintf("/api/virtualization/virtual-machines/%d/", idOf(vm))
	other := idOf(h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "other", "cluster": c1}))
	// Disks: the VM's disk becomes their sum; a different explicit disk is rejected.
	h.mustCreate("/api/virtualization/virtual-disks/", map[string]any{"virtual_machine": idOf(vm), "name": "scsi0", "size": 30})
	h.mustCreate("/api/virtualization/virtual-disks/", map[string]any{"virtual_machine": idOf(vm), "name": "scsi1", "size": 20})
	if got, _ := h.srv.Get("virtualization.virtualmachine", idOf(vm)); got["disk"].(float64) != 50 || got["virtual_disk_count"].(float64) != 2 {
		t.Fatalf("disk %v count %v", got["disk"], got["virtual_disk_count"])
	}
	code, v := h.do("PATCH", vmPath, map[string]any{"disk": 100})
	if code != 400 || errField(v, "disk") != "The specified disk size (100) must match the aggregate size of assigned virtual disks (50)." {
		t.Fatalf("disk rule: %d %v", code, v)
	}
	if code, _ := h.do("PATCH", vmPath, map[string]any{"disk": 50}); code != 200 {
		t.Fatalf("matching disk: %d", code)
	}
	// Primary IP must sit on one of the VM's own interfaces.
	ifOwn := idOf(h.mustCreate("/api/virtualization/interfaces/", map[string]any{"virtual_machine": idOf(vm), "name": "net0"}))
	ifOther := idOf(h.mustCreate("/api/virtualization/interfaces/", map[string]any{"virtual_machine": other, "name": "net0"}))
	ipOwn := idOf(h.mustCreate("/api/ipam/ip-addresses/", map[string]any{"address": "10.0.0.10/24", "assigned_object_type": "virtualization.vminterface", "assigned_object_id": ifOwn}))
	ipOther := idOf(h.mustCreate("/api/ipam/ip-addresses/", map[string]any{"address": "10.0.0.11/24", "assigned_object_type": "virtualization.vminterface", "assigned_object_id": ifOther}))
	ip6 := idOf(h.mustCreate("/api/ipam/ip-addresses/", map[string]any{"address": "2001:db8::1/64", "assigned_object_type": "virtualization.vminterface", "assigned_object_id": ifOwn}))
	code, v = h.do("PATCH", vmPath, map[string]any{"primary_ip4": ipOther})
	if code != 400 || errField(v, "primary_ip4") != "The specified IP address (10.0.0.11/24) is not assigned to this VM." {
		t.Fatalf("foreign primary ip: %d %v", code, v)
	}
	code, v = h.do("PATCH", vmPath, map[string]any{"primary_ip4": ip6})
	if code != 400 || errField(v, "primary_ip4") != "2001:db8::1/64 is not an IPv4 address." {
		t.Fatalf("v6 as primary_ip4: %d %v", code, v)
	}
	code, v = h.do("PATCH", vmPath, map[string]any{"primary_ip4": ipOwn})
	if code != 200 || v.(map[string]any)["primary_ip4"].(map[string]any)["address"] != "10.0.0.10/24" {
		t.Fatalf("own primary ip: %d %v", code, v)
	}
	// Network ID cannot be assigned to an interface.
	code, v = h.do("POST", "/api/ipam/ip-addresses/", map[string]any{"address": "10.0.0.0/24", "assigned_object_type": "virtualization.vminterface", "assigned_object_id": ifOwn})
	if code != 400 || errField(v, "address") != "10.0.0.0 is a network ID, which may not be assigned to an interface." {
		t.Fatalf("network id: %d %v", code, v)
	}
	// Custom fields: must exist for the object type; PATCH merges.
	h.mustCreate("/api/extras/custom-fields/", map[string]any{"name": "proxmox_vm_id", "type": "integer", "object_types": []string{"virtualization.virtualmachine"}})
	h.mustCreate("/api/extras/custom-fields/", map[string]any{"name": "proxmox_vm_type", "type": "text", "object_types": []string{"virtualization.virtualmachine"}})
	h.mustCreate("/api/extras/custom-fields/", map[string]any{"name": "proxmox_last_updated", "type": "datetime", "object_types": []string{"dcim.site"}})
	code, v = h.do("PATCH", vmPath, map[string]any{"custom_fields": map[string]any{"proxmox_last_updated": "2025-01-01T00:00:00Z"}})
	if code != 400 || fmt.Sprint(v) != "map[custom_fields:map[proxmox_last_updated:[Custom field 'proxmox_last_updated' does not exist for this object type.]]]" {
		t.Fatalf("cf for other type: %d %v", code, v)
	}
	code, v = h.do("PATCH", vmPath, map[string]any{"custom_fields": map[string]any{"proxmox_vm_id": "abc"}})
	if code != 400 {
		t.Fatalf("cf type: %d %v", code, v)
	}
	h.do("PATCH", vmPath, map[string]any{"custom_fields": map[string]any{"proxmox_vm_id": 101}})
	_, v = h.do("PATCH", vmPath, map[string]any{"custom_fields": map[string]any{"proxmox_vm_type": "qemu"}})
	cfs := v.(map[string]any)["custom_fields"].(map[string]any)
	if cfs["proxmox_vm_id"] != 101.0 || cfs["proxmox_vm_type"] != "qemu" {
		t.Fatalf("cf merge %v", cfs)
	}
	// Every defined custom field of the type is rendered, null when unset.
	if got, _ := h.srv.Get("virtualization.virtualmachine", other); fmt.Sprint(got["custom_fields"]) != "map[proxmox_vm_id:<nil> proxmox_vm_type:<nil>]" {
		t.Fatalf("cfs of untouched VM %v", got["custom_fields"])
	}
}

func TestFiltersAndShaping(t *testing.T) {
	h := newHarness(t, Options{})
	_, c1, c2 := h.base()
	tag := idOf(h.mustCreate("/api/extras/tags/", map[string]any{"name": "Proxbox", "slug": "proxbox", "color": "ff5722"}))
	h.mustCreate("/api/extras/custom-fields/", map[string]any{"name": "proxmox_vm_id", "type": "integer", "object_types": []string{"virtualization.virtualmachine"}})
	a := idOf(h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "alpha", "cluster": c1, "tags": []any{tag}, "custom_fields": map[string]any{"proxmox_vm_id": 100}}))
	b := idOf(h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "beta", "cluster": c1, "description": "db server"}))
	c := idOf(h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "gamma", "cluster": c2, "tags": []any{map[string]any{"slug": "proxbox"}}, "custom_fields": map[string]any{"proxmox_vm_id": 101}}))
	ids := func(q string) string {
		code, v := h.do("GET", "/api/virtualization/virtual-machines/"+q, nil)
		if code != 200 {
			return fmt.Sprintf("HTTP %d %v", code, v)
		}
		var out []string
		for _, r := range v.(map[string]any)["results"].([]any) {
			out = append(out, fmt.Sprint(idOf(r.(map[string]any))))
		}
		return strings.Join(out, ",")
	}
	s := func(ns ...int64) string {
		var out []string
		for _, n := range ns {
			out = append(out, fmt.Sprint(n))
		}
		return strings.Join(out, ",")
	}
	cases := []struct{ q, want string }{
		{"?id=" + fmt.Sprint(a) + "&id=" + fmt.Sprint(c), s(a, c)},
		{"?name=beta", s(b)},
		{"?name=BETA", ""},
		{"?name__ie=BETA", s(b)},
		{"?cluster_id=" + fmt.Sprint(c1), s(a, b)},
		{"?cluster_id=" + fmt.Sprint(c1) + "&cluster_id=" + fmt.Sprint(c2), s(a, b, c)},
		{"?cluster=pve-b", s(c)},
		{"?tag=proxbox", s(a, c)},
		{"?cf_proxmox_vm_id=101", s(c)},
		{"?cf_proxmox_missing=1", s(a, b, c)}, // unknown filters are ignored
		{"?bogus=1", s(a, b, c)},
		{"?q=db", s(b)},
		{"?q=AMM", s(c)},
		{"?last_updated__gte=2000-01-01T00:00:00Z", s(a, b, c)},
		{"?last_updated__gte=2999-01-01T00:00:00Z", ""},
		{"?id__n=" + fmt.Sprint(a), s(b, c)},
		{"?cluster_id=999", "HTTP 400 map[cluster_id:[Select a valid choice. 999 is not one of the available choices.]]"},
		{"?tag=nope", "HTTP 400 map[tag:[Select a valid choice. nope is not one of the available choices.]]"},
	}
	for _, tc := range cases {
		if got := ids(tc.q); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.q, got, tc.want)
		}
	}
	// Interfaces and disks by parent.
	ifA := idOf(h.mustCreate("/api/virtualization/interfaces/", map[string]any{"virtual_machine": a, "name": "net0"}))
	h.mustCreate("/api/virtualization/interfaces/", map[string]any{"virtual_machine": b, "name": "net0"})
	h.mustCreate("/api/ipam/ip-addresses/", map[string]any{"address": "10.1.0.2/24", "assigned_object_type": "virtualization.vminterface", "assigned_object_id": ifA})
	_, v := h.do("GET", fmt.Sprintf("/api/virtualization/interfaces/?virtual_machine_id=%d", a), nil)
	if v.(map[string]any)["count"] != 1.0 {
		t.Fatalf("interfaces by vm: %v", v)
	}
	_, v = h.do("GET", fmt.Sprintf("/api/ipam/ip-addresses/?virtual_machine_id=%d", a), nil)
	if v.(map[string]any)["count"] != 1.0 {
		t.Fatalf("ips by vm: %v", v)
	}
	_, v = h.do("GET", "/api/ipam/ip-addresses/?address=10.1.0.2", nil)
	if v.(map[string]any)["count"] != 1.0 {
		t.Fatalf("ips by host: %v", v)
	}

	// Shaping: brief, fields, omit.
	keys := func(q string) string {
		_, v := h.do("GET", fmt.Sprintf("/api/virtualization/virtual-machines/%d/%s", a, q), nil)
		var ks []string
		for k := range v.(map[string]any) {
			ks = append(ks, k)
		}
		sortStrings(ks)
		return strings.Join(ks, ",")
	}
	if got := keys("?brief=1"); got != "description,display,display_url,id,name,url" {
		t.Errorf("brief: %s", got)
	}
	if got := keys("?fields=id,name,cluster"); got != "cluster,id,name" {
		t.Errorf("fields: %s", got)
	}
	if got := keys("?fields=id,name&brief=1"); got != "id,name" {
		t.Errorf("fields beats brief: %s", got)
	}
	if got := keys("?omit=custom_fields,tags,config_context"); strings.Contains(got, "custom_fields") || strings.Contains(got, "tags") || !strings.Contains(got, "cluster") {
		t.Errorf("omit: %s", got)
	}
	_, v = h.do("GET", fmt.Sprintf("/api/virtualization/virtual-machines/%d/", a), nil)
	vm := v.(map[string]any)
	if vm["status"].(map[string]any)["value"] != "active" || vm["tags"].([]any)[0].(map[string]any)["slug"] != "proxbox" ||
		vm["cluster"].(map[string]any)["display"] != "pve-a" || vm["interface_count"] != 1.0 {
		t.Errorf("full representation: %v", vm)
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestPluginModels(t *testing.T) {
	h := newHarness(t, Options{})
	_, c1, _ := h.base()
	vm := idOf(h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "vm", "cluster": c1}))
	st := h.mustCreate("/api/plugins/proxbox/storage/", map[string]any{"cluster": c1, "name": "local", "storage_type": "dir"})
	// The serializer's create() upserts on (cluster, name), but validation runs first and
	// refuses a pair already stored (NetBox 4.5.10 + plugin 0.0.24 answer 400, the row is kept).
	code, v := h.do("POST", "/api/plugins/proxbox/storage/", map[string]any{"cluster": c1, "name": "local", "storage_type": "zfspool"})
	if got, _ := h.srv.Get("netbox_proxbox.proxmoxstorage", idOf(st)); code != 400 || got["storage_type"] != "dir" || h.srv.Count("netbox_proxbox.proxmoxstorage") != 1 {
		t.Fatalf("storage stored twice: %d %v", code, v)
	}
	code, v = h.do("POST", "/api/plugins/proxbox/backups/", map[string]any{"virtual_machine": vm, "format": "vma"})
	if code != 400 || errField(v, "format") != "vma is not a valid choice." {
		t.Fatalf("backup format: %d %v", code, v)
	}
	b := h.mustCreate("/api/plugins/proxbox/backups/", map[string]any{"virtual_machine": vm, "format": "tzst", "subtype": "qemu", "volume_id": "local:backup/x.vma.zst", "vmid": 100, "storage": "local", "creation_time": "2025-01-01T10:00:00"})
	if b["format"].(map[string]any)["label"] != "TZST" || b["creation_time"] != "2025-01-01T10:00:00Z" {
		t.Fatalf("backup %v", b)
	}
	code, v = h.do("POST", "/api/plugins/proxbox/backups/", map[string]any{"virtual_machine": vm, "format": "tzst", "subtype": "qemu", "volume_id": "local:backup/x.vma.zst", "vmid": 100, "storage": "local"})
	if code != 400 || errField(v, "__all__") != "VM Backup with this Storage, Virtual machine, Subtype, Format, Volume id and Vmid already exists." {
		t.Fatalf("backup unique: %d %v", code, v)
	}
	snap := map[string]any{"virtual_machine": vm, "name": "pre", "vmid": 100, "node": "pve01"}
	h.mustCreate("/api/plugins/proxbox/snapshots/", snap)
	if code, _ := h.do("POST", "/api/plugins/proxbox/snapshots/", snap); code != 400 {
		t.Fatalf("snapshot unique: %d", code)
	}
	task := map[string]any{"virtual_machine": vm, "upid": "UPID:pve01:1", "node": "pve01", "task_type": "qmstart", "username": "root@pam", "start_time": "2025-01-01T00:00:00Z", "description": "QEMU 100 - Start", "status": "OK"}
	t1 := h.mustCreate("/api/plugins/proxbox/task-history/", task)
	task["status"] = "failed"
	if code, v := h.do("POST", "/api/plugins/proxbox/task-history/", task); code != 400 || errField(v, "upid") == "" {
		t.Fatalf("task stored twice: %d %v", code, v)
	}
	if got, _ := h.srv.Get("netbox_proxbox.vmtaskhistory", idOf(t1)); got["status"] != "OK" {
		t.Fatalf("task changed by a refused POST: %v", got)
	}
	// mode is required; ip_address is an IPAddress, never a bare string (0.0.24).
	code, v = h.do("POST", "/api/plugins/proxbox/endpoints/proxmox/", map[string]any{"name": "pve", "ip_address": "10.0.0.1", "port": 8006})
	if code != 400 || errField(v, "mode") != "This field is required." ||
		errField(v, "ip_address") != "Related objects must be referenced by numeric ID or by dictionary of attributes. Received an unrecognized value: 10.0.0.1" {
		t.Fatalf("endpoint without mode, bare address: %d %v", code, v)
	}
	ep := idOf(h.mustCreate("/api/plugins/proxbox/endpoints/proxmox/", map[string]any{"name": "pve", "password": "secret", "mode": "cluster"}))
	if got, _ := h.srv.Get("netbox_proxbox.proxmoxendpoint", ep); got["password"] != nil {
		t.Fatal("password rendered")
	}
	h.mustCreate("/api/plugins/proxbox/replications/", map[string]any{"endpoint": ep, "replication_id": "100-0", "guest": 100, "target": "pve02", "virtual_machine": vm, "jobnum": 0})
	h.mustCreate("/api/plugins/proxbox/backup-routines/", map[string]any{"endpoint": ep, "job_id": "backup-1", "selection": []any{"100"},
		"fleecing": "enabled=1,storage=local", "fleecing_storage": idOf(st), "comment": "", "schedule": "daily"})
	for _, f := range []string{"notes_template", "fleecing", "pbs_change_detection_mode", "schedule", "comment"} {
		code, v = h.do("POST", "/api/plugins/proxbox/backup-routines/", map[string]any{"endpoint": ep, "job_id": "backup-3", f: nil})
		if code != 400 || errField(v, f) != "This field may not be null." {
			t.Errorf("backup routine %s null: %d %v", f, code, v)
		}
	}
	code, v = h.do("POST", "/api/plugins/proxbox/backup-routines/", map[string]any{"job_id": "backup-2"})
	if code != 400 || errField(v, "endpoint") != "This field is required." {
		t.Fatalf("routine endpoint required: %d %v", code, v)
	}
	_, v = h.do("GET", "/api/plugins/proxbox/settings/", nil)
	if v.(map[string]any)["count"] != 1.0 {
		t.Fatalf("settings %v", v)
	}
}

func TestChangesAndStats(t *testing.T) {
	h := newHarness(t, Options{})
	_, c1, _ := h.base()
	h.srv.ResetStats()
	vm := h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "vm", "cluster": c1})
	p := fmt.Sprintf("/api/virtualization/virtual-machines/%d/", idOf(vm))
	h.do("PATCH", p, map[string]any{"description": "a"})
	h.do("PATCH", p, map[string]any{"description": "a"}) // no change: no change-log row
	h.do("GET", p, nil)
	if n := h.srv.Changes("virtualization.virtualmachine", idOf(vm)); n != 2 {
		t.Fatalf("changes %d, want 2", n)
	}
	resp, err := h.ts.Client().Get(h.ts.URL + "/_lab/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st.Requests["PATCH /api/virtualization/virtual-machines/{id}/"] != 2 || st.Requests["GET /api/virtualization/virtual-machines/{id}/"] != 1 ||
		st.ObjectsWritten != 3 || st.ObjectChanges != 2 || st.Created["virtualization.virtualmachine"] != 1 {
		t.Fatalf("stats %+v", st)
	}
	resp, err = h.ts.Client().Post(h.ts.URL+"/_lab/stats/reset", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st := h.srv.Stats(); st.RequestsTotal != 0 || st.ObjectsWritten != 0 {
		t.Fatalf("after reset %+v", st)
	}
}

func TestFaultsDeterministic(t *testing.T) {
	run := func() []int {
		h := newHarness(t, Options{Seed: 42, Faults: Faults{ErrorRate: 0.5, ErrorCodes: []int{503, 429}, RetryAfter: 7}})
		var codes []int
		for i := 0; i < 40; i++ {
			req, _ := http.NewRequestWithContext(context.Background(), "GET", h.ts.URL+"/api/dcim/sites/", nil)
			req.Header.Set("Authorization", "Token "+testV1)
			resp, err := h.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "7" {
				t.Fatalf("429 without Retry-After: %q", resp.Header.Get("Retry-After"))
			}
			codes = append(codes, resp.StatusCode)
		}
		return codes
	}
	a, b := run(), run()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
	seen := map[int]bool{}
	for _, c := range a {
		seen[c] = true
	}
	if !seen[200] || !seen[503] || !seen[429] {
		t.Fatalf("codes %v", a)
	}
}

func TestConnectionReset(t *testing.T) {
	h := newHarness(t, Options{Faults: Faults{ResetRate: 1}})
	req, _ := http.NewRequestWithContext(context.Background(), "GET", h.ts.URL+"/api/status/", nil)
	resp, err := h.ts.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got HTTP %d, want a connection error", resp.StatusCode)
	}
	h.srv.SetFaults(Faults{})
	if code, _ := h.do("GET", "/api/status/", nil); code != 200 {
		t.Fatalf("after clearing faults: %d", code)
	}
}

func TestGoAPI(t *testing.T) {
	srv := New(Options{})
	ctx := context.Background()
	ct, err := srv.Create(ctx, "virtualization/cluster-types", map[string]any{"name": "Cluster", "slug": "cluster"})
	if err != nil {
		t.Fatal(err)
	}
	ctID := int64(ct.(map[string]any)["id"].(float64))
	if _, err := srv.Create(ctx, "virtualization.cluster", map[string]any{"type": ctID}); err == nil || !strings.Contains(err.Error(), `"name":["This field is required."]`) {
		t.Fatalf("want name error, got %v", err)
	}
	c, err := srv.Create(ctx, "virtualization.cluster", map[string]any{"name": "c", "type": ctID})
	if err != nil {
		t.Fatal(err)
	}
	cid := int64(c.(map[string]any)["id"].(float64))
	if _, err := srv.Update(ctx, "virtualization.cluster", cid, map[string]any{"description": "d"}); err != nil {
		t.Fatal(err)
	}
	got, ok := srv.Get("virtualization.cluster", cid)
	if !ok || got["description"] != "d" {
		t.Fatalf("get %v %v", got, ok)
	}
	list, err := srv.List("virtualization.cluster", url.Values{"name": {"c"}})
	if err != nil || len(list) != 1 {
		t.Fatalf("list %v %v", list, err)
	}
	if err := srv.Delete(ctx, "virtualization.cluster", cid); err != nil || srv.Count("virtualization.cluster") != 0 {
		t.Fatalf("delete %v", err)
	}
}

func TestServeTLSAndLabFaults(t *testing.T) {
	srv := New(Options{Tokens: []Token{{Value: testV1}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, true) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed lab cert
	base := "https://" + ln.Addr().String()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/virtualization/clusters/?limit=1", nil)
	req.Header.Set("Authorization", "Token "+testV1)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("HTTPS GET: %d", resp.StatusCode)
	}
	// Runtime fault settings over /_lab/faults.
	put, _ := http.NewRequestWithContext(ctx, "PUT", base+"/_lab/faults", strings.NewReader(`{"error_rate":1,"error_codes":[502],"latency":"1ms"}`))
	resp, err = client.Do(put)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if f := srv.Faults(); f.ErrorRate != 1 || f.Latency != time.Millisecond {
		t.Fatalf("faults %+v", f)
	}
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 {
		t.Fatalf("want injected 502, got %d", resp.StatusCode)
	}
}

func TestSlowBodyIsComplete(t *testing.T) {
	h := newHarness(t, Options{Faults: Faults{SlowBodyRate: 1, SlowBodyDelay: 10 * time.Millisecond}})
	code, v := h.do("GET", "/api/status/", nil)
	if code != 200 || v.(map[string]any)["netbox-version"] == nil {
		t.Fatalf("%d %v", code, v)
	}
	if h.srv.Stats().Faults["slow"] != 1 {
		t.Fatalf("faults %v", h.srv.Stats().Faults)
	}
}

func TestPutAndDetail(t *testing.T) {
	h := newHarness(t, Options{})
	site := h.mustCreate("/api/dcim/sites/", map[string]any{"name": "S", "slug": "s", "description": "keep"})
	p := fmt.Sprintf("/api/dcim/sites/%d/", idOf(site))
	code, v := h.do("PUT", p, map[string]any{"name": "S2"})
	if code != 400 || errField(v, "slug") != "This field is required." {
		t.Fatalf("PUT without slug: %d %v", code, v)
	}
	code, v = h.do("PUT", p, map[string]any{"name": "S2", "slug": "s2"})
	if code != 200 || v.(map[string]any)["name"] != "S2" || v.(map[string]any)["description"] != "keep" {
		t.Fatalf("PUT: %d %v", code, v)
	}
	if code, v := h.do("GET", "/api/dcim/sites/999/", nil); code != 404 || v.(map[string]any)["detail"] != "No Site matches the given query." {
		t.Fatalf("404: %d %v", code, v)
	}
	if code, _ := h.do("GET", "/api/dcim/nothing/", nil); code != 404 {
		t.Fatalf("unknown path: %d", code)
	}
	if code, _ := h.do("DELETE", p, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
}

func TestConcurrentWritesAndReads(t *testing.T) {
	h := newHarness(t, Options{})
	_, c1, _ := h.base()
	ctx := context.Background()
	errc := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 20; i++ {
				if _, err := h.srv.Create(ctx, "virtualization.virtualmachine", map[string]any{"name": fmt.Sprintf("g%d-%d", g, i), "cluster": c1}); err != nil {
					errc <- err
					return
				}
				if _, err := h.srv.List("virtualization.virtualmachine", url.Values{"cluster_id": {fmt.Sprint(c1)}}); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if n := h.srv.Count("virtualization.virtualmachine"); n != 160 {
		t.Fatalf("%d VMs, want 160", n)
	}
}

func TestPrimaryIPMovesOnlyWithinItsParent(t *testing.T) {
	h := newHarness(t, Options{})
	_, c1, _ := h.base()
	vm := idOf(h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "vm", "cluster": c1}))
	other := idOf(h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "other", "cluster": c1}))
	if1 := idOf(h.mustCreate("/api/virtualization/interfaces/", map[string]any{"virtual_machine": vm, "name": "eth0"}))
	if2 := idOf(h.mustCreate("/api/virtualization/interfaces/", map[string]any{"virtual_machine": vm, "name": "eth1"}))
	if3 := idOf(h.mustCreate("/api/virtualization/interfaces/", map[string]any{"virtual_machine": other, "name": "eth0"}))
	ip := idOf(h.mustCreate("/api/ipam/ip-addresses/", map[string]any{"address": "10.1.0.5/24", "assigned_object_type": "virtualization.vminterface", "assigned_object_id": if1}))
	if code, v := h.do("PATCH", fmt.Sprintf("/api/virtualization/virtual-machines/%d/", vm), map[string]any{"primary_ip4": ip}); code != 200 {
		t.Fatalf("set primary: %d %v", code, v)
	}
	ipPath := fmt.Sprintf("/api/ipam/ip-addresses/%d/", ip)
	if code, v := h.do("PATCH", ipPath, map[string]any{"assigned_object_type": "virtualization.vminterface", "assigned_object_id": if2}); code != 200 {
		t.Fatalf("move within the VM: %d %v", code, v)
	}
	code, v := h.do("PATCH", ipPath, map[string]any{"assigned_object_type": "virtualization.vminterface", "assigned_object_id": if3})
	if code != 400 || errField(v, "__all__") != "Cannot reassign primary IP address for the parent device/VM" {
		t.Fatalf("move to another VM: %d %v", code, v)
	}
}

func TestRelatedFilterByUnknownNameIsRefused(t *testing.T) {
	h := newHarness(t, Options{})
	h.base()
	if code, v := h.do("GET", "/api/virtualization/virtual-machines/?cluster=pve-a", nil); code != 200 {
		t.Fatalf("known cluster: %d %v", code, v)
	}
	code, v := h.do("GET", "/api/virtualization/virtual-machines/?cluster=nope", nil)
	if code != 400 || !strings.Contains(fmt.Sprint(v), "Select a valid choice. nope is not one of the available choices.") {
		t.Fatalf("unknown cluster: %d %v", code, v)
	}
}

// TestFiltersOutsideTheFilterSetAreIgnored: NetBox ignores a query parameter
// its filter set does not define and returns everything (B.6 item 6).
func TestFiltersOutsideTheFilterSetAreIgnored(t *testing.T) {
	h := newHarness(t, Options{})
	_, c1, _ := h.base()
	h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "a", "cluster": c1, "comments": "x"})
	h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "b", "cluster": c1, "comments": "y"})
	for query, want := range map[string]float64{"comments=x": 2, "no_such_filter=1": 2, "name=a": 1} {
		code, v := h.do("GET", "/api/virtualization/virtual-machines/?"+query, nil)
		if code != 200 || v.(map[string]any)["count"].(float64) != want {
			t.Errorf("%s: %d %v, want count %v", query, code, v.(map[string]any)["count"], want)
		}
	}
}

// TestVLANMustBelongToTheInterfaceSite: NetBox refuses an untagged or tagged VLAN of another
// site than the interface's VM or device (VMInterface.clean, Interface.clean, the interface
// serializers); a global VLAN (no site) and a VLAN of the parent's own site are accepted.
func TestVLANMustBelongToTheInterfaceSite(t *testing.T) {
	h := newHarness(t, Options{})
	_, c1, _ := h.base()
	s1 := idOf(h.mustCreate("/api/dcim/sites/", map[string]any{"name": "s1", "slug": "s1"}))
	s2 := idOf(h.mustCreate("/api/dcim/sites/", map[string]any{"name": "s2", "slug": "s2"}))
	own := idOf(h.mustCreate("/api/ipam/vlans/", map[string]any{"vid": 10, "name": "VLAN 10", "site": s1}))
	other := idOf(h.mustCreate("/api/ipam/vlans/", map[string]any{"vid": 20, "name": "VLAN 20", "site": s2}))
	global := idOf(h.mustCreate("/api/ipam/vlans/", map[string]any{"vid": 30, "name": "VLAN 30"}))
	noSite := idOf(h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "nosite", "cluster": c1}))
	inSite := idOf(h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "insite", "cluster": c1, "site": s1}))
	mfr := idOf(h.mustCreate("/api/dcim/manufacturers/", map[string]any{"name": "m", "slug": "m"}))
	dt := idOf(h.mustCreate("/api/dcim/device-types/", map[string]any{"model": "d", "slug": "d", "manufacturer": mfr}))
	role := idOf(h.mustCreate("/api/dcim/device-roles/", map[string]any{"name": "r", "slug": "r"}))
	dev := idOf(h.mustCreate("/api/dcim/devices/", map[string]any{"name": "n1", "site": s1, "device_type": dt, "role": role}))
	cases := []struct {
		name, path string
		body       map[string]any
		field, msg string
	}{
		{"VM without site, site VLAN", "/api/virtualization/interfaces/", map[string]any{"virtual_machine": noSite, "name": "a", "mode": "access", "untagged_vlan": own},
			"untagged_vlan", "The untagged VLAN (VLAN 10 (10)) must belong to the same site as the interface's parent virtual machine, or it must be global."},
		{"VM without site, global VLAN", "/api/virtualization/interfaces/", map[string]any{"virtual_machine": noSite, "name": "b", "mode": "access", "untagged_vlan": global}, "", ""},
		{"VM in site, own VLAN", "/api/virtualization/interfaces/", map[string]any{"virtual_machine": inSite, "name": "a", "mode": "access", "untagged_vlan": own}, "", ""},
		{"VM in site, other site's VLAN", "/api/virtualization/interfaces/", map[string]any{"virtual_machine": inSite, "name": "b", "mode": "access", "untagged_vlan": other},
			"untagged_vlan", "The untagged VLAN (VLAN 20 (20)) must belong to the same site as the interface's parent virtual machine, or it must be global."},
		{"VM tagged, other site's VLAN", "/api/virtualization/interfaces/", map[string]any{"virtual_machine": inSite, "name": "c", "mode": "tagged", "tagged_vlans": []any{own, other}},
			"tagged_vlans", "VLAN VLAN 20 (20) must belong to the same site as the interface's parent virtual machine, or it must be global."},
		{"VM tagged, own and global", "/api/virtualization/interfaces/", map[string]any{"virtual_machine": inSite, "name": "d", "mode": "tagged", "tagged_vlans": []any{own, global}}, "", ""},
		{"device, other site's VLAN", "/api/dcim/interfaces/", map[string]any{"device": dev, "name": "e", "type": "virtual", "mode": "access", "untagged_vlan": other},
			"untagged_vlan", "The untagged VLAN (VLAN 20 (20)) must belong to the same site as the interface's parent device, or it must be global."},
		{"device tagged, other site's VLAN", "/api/dcim/interfaces/", map[string]any{"device": dev, "name": "f", "type": "virtual", "mode": "tagged", "tagged_vlans": []any{other}},
			"tagged_vlans", "VLAN VLAN 20 (20) must belong to the same site as the interface's parent device, or it must be global."},
		{"device, own VLAN", "/api/dcim/interfaces/", map[string]any{"device": dev, "name": "g", "type": "virtual", "mode": "access", "untagged_vlan": own}, "", ""},
	}
	for _, tc := range cases {
		code, v := h.do("POST", tc.path, tc.body)
		if tc.field == "" {
			if code != 201 {
				t.Errorf("%s: %d %v, want 201", tc.name, code, v)
			}
			continue
		}
		if code != 400 || errField(v, tc.field) != tc.msg {
			t.Errorf("%s: %d %v, want 400 %s: %s", tc.name, code, v, tc.field, tc.msg)
		}
	}
	// The tagged VLANs come back as brief VLANs.
	_, v := h.do("GET", "/api/virtualization/interfaces/?name=d", nil)
	res := v.(map[string]any)["results"].([]any)
	if tv := res[0].(map[string]any)["tagged_vlans"].([]any); len(tv) != 2 || tv[0].(map[string]any)["vid"].(float64) != 10 {
		t.Fatalf("tagged_vlans rendered as %v", tv)
	}
}

// TestWriteLandsAfterTheClientLeft: as NetBox finishes a request whose client disconnected
// and commits at its end, a slow write whose client gave up lands anyway, when its delayed
// reply would have been sent, and not before.
func TestWriteLandsAfterTheClientLeft(t *testing.T) {
	h := newHarness(t, Options{})
	h.srv.SetFaults(Faults{WriteCost: 300 * time.Millisecond})
	ct := idOf(h.mustCreate("/api/virtualization/cluster-types/", map[string]any{"name": "C", "slug": "c"}))
	body, _ := json.Marshal([]map[string]any{{"name": "a", "type": ct}, {"name": "b", "type": ct}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", h.ts.URL+"/api/virtualization/clusters/", bytes.NewReader(body))
	req.Header.Set("Authorization", "Token "+testV1)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := h.ts.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the client got a reply (%d) before its timeout", resp.StatusCode)
	}
	if n := h.srv.Count("virtualization.cluster"); n != 0 {
		t.Fatalf("%d clusters visible when the client gave up: the write must commit at its end", n)
	}
	for range 100 {
		if h.srv.Count("virtualization.cluster") == 2 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the write never landed: %d clusters", h.srv.Count("virtualization.cluster"))
}
