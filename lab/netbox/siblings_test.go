package netbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/proxbox/proxbox/lab/nbtest"
)

// siblingTarget is the NetBox TestBulkCreateSiblings runs against: the simulator, or the real
// NetBox named by PROXBOX_TEST_NETBOX_URL (make test-real: the realnetbox kit, NetBox 4.5.10
// with netbox-proxbox 0.0.24), so that the real NetBox stays the referee of these answers.
func siblingTarget(t *testing.T) (api *nbtest.API, real bool) {
	t.Helper()
	r := nbtest.FromEnv(t)
	if r.URL != "" {
		r.Reset(t)
		return nbtest.NewAPI(r.URL, r.Token), true
	}
	ts := httptest.NewServer(New(Options{Tokens: []Token{{Value: testV1}}}))
	t.Cleanup(ts.Close)
	return nbtest.NewAPI(ts.URL, testV1), false
}

// rawPost POSTs body to path and decodes the reply, whatever its status.
func rawPost(t *testing.T, a *nbtest.API, path string, body any) (int, any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, a.URL+"/api/"+path+"/", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Token "+a.Token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := a.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("POST %s: reply %d is not JSON: %.300s", path, resp.StatusCode, raw)
	}
	return resp.StatusCode, v
}

// siblingFixture holds the objects the cases refer to, created first; n makes names and
// addresses unique per run (a real NetBox without a reset command keeps earlier runs' rows).
type siblingFixture struct {
	n                        int64
	cluster, vm, vrf, stored int64
	storedAddr               string
}

func (f siblingFixture) addr(i int) string {
	return fmt.Sprintf("10.%d.%d.%d/24", 100+f.n/250, f.n%250, i)
}
func (f siblingFixture) s(name string) string { return fmt.Sprintf("%s-%d", name, f.n) }

// TestBulkCreateSiblings: a bulk create whose items collide only with each other. NetBox
// validates every item against the database as it was before the request, then saves them in
// one transaction. Where the uniqueness is a database constraint the second insert fails
// (500 IntegrityError, nothing written); where only the model's clean() checks it (unique IP
// space, prefixes) both are created; a plugin serializer that upserts on save updates the
// sibling instead, and NetBox's post-save check answers 403. Every answer below is the one
// NetBox 4.5.10 + netbox-proxbox 0.0.24 (the realnetbox kit) gave on 2026-12-03; with
// PROXBOX_TEST_NETBOX_URL set the test checks the real NetBox itself.
func TestBulkCreateSiblings(t *testing.T) {
	a, real := siblingTarget(t)
	if real {
		t.Logf("against the real NetBox at %s", a.URL)
	}
	f := siblingFixture{n: time.Now().UnixNano()/1000%30000 + 1}
	ct := nbtest.ID(a.Create(t, "virtualization/cluster-types", map[string]any{"name": f.s("ct"), "slug": f.s("ct")}))
	f.cluster = nbtest.ID(a.Create(t, "virtualization/clusters", map[string]any{"name": f.s("c"), "type": ct}))
	f.vm = nbtest.ID(a.Create(t, "virtualization/virtual-machines", map[string]any{"name": f.s("vm"), "cluster": f.cluster}))
	f.vrf = nbtest.ID(a.Create(t, "ipam/vrfs", map[string]any{"name": f.s("vrf"), "enforce_unique": true}))
	f.storedAddr = f.addr(9)
	f.stored = nbtest.ID(a.Create(t, "ipam/ip-addresses", map[string]any{"address": f.storedAddr}))
	a.Create(t, "plugins/proxbox/storage", map[string]any{"cluster": f.cluster, "name": f.s("stored")})
	rd := fmt.Sprintf("65000:%d", f.n)
	integrity := func(constraint, key string) map[string]any {
		return map[string]any{"exception": "IntegrityError",
			"error": fmt.Sprintf("duplicate key value violates unique constraint \"%s\"\nDETAIL:  Key %s already exists.", constraint, key)}
	}
	task := func(desc string) map[string]any {
		return map[string]any{"virtual_machine": f.vm, "upid": f.s("UPID:pve:1"), "node": "pve", "task_type": "qmstart",
			"username": "root@pam", "start_time": "2026-01-01T00:00:00Z", "description": desc, "status": "OK"}
	}
	cases := []struct {
		name, path string
		body       any
		code       int
		want       any                         // the reply (for 500: exception and error only); nil: not compared
		match      func(o map[string]any) bool // the rows of path the request is about
		rows       int                         // how many exist afterwards
	}{
		// IPAddress.clean (ipam/models/ip.py:892-936 in v4.5.10) looks for duplicates in the
		// database; there is no database constraint: both copies are created.
		{name: "two copies of one address in the global table", path: "ipam/ip-addresses",
			body: []any{map[string]any{"address": f.addr(1)}, map[string]any{"address": f.addr(1)}},
			code: 201, match: fieldIs("address", f.addr(1)), rows: 2},
		{name: "two copies of one address in a VRF with enforce_unique", path: "ipam/ip-addresses",
			body: []any{map[string]any{"address": f.addr(2), "vrf": f.vrf}, map[string]any{"address": f.addr(2), "vrf": f.vrf}},
			code: 201, match: fieldIs("address", f.addr(2)), rows: 2},
		// A copy of an address stored before the request is refused by validation.
		{name: "a new address and a copy of a stored one", path: "ipam/ip-addresses",
			body: []any{map[string]any{"address": f.addr(3)}, map[string]any{"address": f.storedAddr}},
			code: 400, want: []any{map[string]any{}, map[string]any{"address": []any{"Duplicate IP address found in global table: " + f.storedAddr}}},
			match: fieldIs("address", f.addr(3)), rows: 0},
		// Validation errors are answered before anything is saved: the colliding pair is {}.
		{name: "an invalid item and two copies of one address in a VRF", path: "ipam/ip-addresses",
			body: []any{map[string]any{"address": f.addr(4), "status": "bogus"}, map[string]any{"address": f.addr(5), "vrf": f.vrf},
				map[string]any{"address": f.addr(5), "vrf": f.vrf}},
			code: 400, want: []any{map[string]any{"status": []any{"bogus is not a valid choice."}}, map[string]any{}, map[string]any{}},
			match: fieldIs("address", f.addr(5)), rows: 0},
		// Prefix.clean (ip.py:303-325) is the same kind of rule as IPAddress.clean.
		{name: "two copies of one prefix in the global table", path: "ipam/prefixes",
			body: []any{map[string]any{"prefix": f.addr(0)}, map[string]any{"prefix": f.addr(0)}},
			code: 201, match: fieldIs("prefix", f.addr(0)), rows: 2},
		// No uniqueness at all: MACAddress (dcim/models/devices.py:1320-1343) and a VLAN
		// without a group (the VLAN constraints, ipam/models/vlans.py:270-289, name the group).
		{name: "two copies of one MAC address", path: "dcim/mac-addresses",
			body: []any{map[string]any{"mac_address": "AA:BB:CC:00:00:01"}, map[string]any{"mac_address": "aa:bb:cc:00:00:01"}},
			code: 201},
		{name: "two VLANs with one VID and name, no group", path: "ipam/vlans",
			body: []any{map[string]any{"vid": 10, "name": f.s("v")}, map[string]any{"vid": 10, "name": f.s("v")}},
			code: 201, match: fieldIs("name", f.s("v")), rows: 2},
		// Database constraints: the second insert breaks them.
		{name: "two interfaces with one name on one VM", path: "virtualization/interfaces",
			body: []any{map[string]any{"virtual_machine": f.vm, "name": "eth0"}, map[string]any{"virtual_machine": f.vm, "name": "eth0"}},
			code: 500, want: integrity("virtualization_vminterface_unique_virtual_machine_name", fmt.Sprintf("(virtual_machine_id, name)=(%d, eth0)", f.vm)),
			match: fieldIs("name", "eth0"), rows: 0},
		{name: "two virtual disks with one name on one VM", path: "virtualization/virtual-disks",
			body: []any{map[string]any{"virtual_machine": f.vm, "name": "d0", "size": 1}, map[string]any{"virtual_machine": f.vm, "name": "d0", "size": 2}},
			code: 500, want: integrity("virtualization_virtualdisk_unique_virtual_machine_name", fmt.Sprintf("(virtual_machine_id, name)=(%d, d0)", f.vm)),
			match: fieldIs("name", "d0"), rows: 0},
		{name: "two tags with one slug", path: "extras/tags",
			body: []any{map[string]any{"name": f.s("A"), "slug": f.s("same")}, map[string]any{"name": f.s("B"), "slug": f.s("same")}},
			code: 500, want: integrity("extras_tag_slug_key", "(slug)=("+f.s("same")+")"), match: fieldIs("slug", f.s("same")), rows: 0},
		{name: "two tags with one name", path: "extras/tags",
			body: []any{map[string]any{"name": f.s("Same"), "slug": f.s("a")}, map[string]any{"name": f.s("Same"), "slug": f.s("b")}},
			code: 500, want: integrity("extras_tag_name_key", "(name)=("+f.s("Same")+")"), match: fieldIs("name", f.s("Same")), rows: 0},
		{name: "two VMs whose names differ in case, one cluster", path: "virtualization/virtual-machines",
			body: []any{map[string]any{"name": f.s("web"), "cluster": f.cluster}, map[string]any{"name": strings.ToUpper(f.s("web")), "cluster": f.cluster}},
			code: 500, want: integrity("virtualization_virtualmachine_unique_name_cluster", fmt.Sprintf("(lower(name::text), cluster_id)=(%s, %d)", f.s("web"), f.cluster)),
			match: func(o map[string]any) bool { return strings.EqualFold(fmt.Sprint(o["name"]), f.s("web")) }, rows: 0},
		{name: "two VRFs with one route distinguisher", path: "ipam/vrfs",
			body: []any{map[string]any{"name": f.s("r1"), "rd": rd}, map[string]any{"name": f.s("r2"), "rd": rd}},
			code: 500, want: integrity("ipam_vrf_rd_key", "(rd)=("+rd+")"), match: fieldIs("rd", rd), rows: 0},
		{name: "an invalid item and two VRFs with one route distinguisher", path: "ipam/vrfs",
			body: []any{map[string]any{"name": f.s("r0"), "enforce_unique": "maybe"}, map[string]any{"name": f.s("r1"), "rd": rd},
				map[string]any{"name": f.s("r2"), "rd": rd}},
			code: 400, want: []any{map[string]any{"enforce_unique": []any{"Must be a valid boolean."}}, map[string]any{}, map[string]any{}},
			match: fieldIs("rd", rd), rows: 0},
		// ProxmoxEndpoint's only constraint is (name, ip_address, domain) (netbox-proxbox
		// models/proxmox_endpoint.py:712-717): without an IP address the NULL never collides.
		{name: "two Proxmox endpoints with one name and domain, no IP address", path: "plugins/proxbox/endpoints/proxmox",
			body: []any{map[string]any{"name": f.s("pve"), "mode": "standalone", "domain": "pve.example"},
				map[string]any{"name": f.s("pve"), "mode": "standalone", "domain": "pve.example"}},
			code: 201, match: fieldIs("name", f.s("pve")), rows: 2},
		// The plugin's storage and task-history serializers upsert in create()
		// (api/serializers/storage.py:65-73, vm_task_history.py:57-64): the second item
		// updates the first, two saved objects name one row, and NetBox's
		// ObjectValidationMixin (netbox/api/viewsets/mixins.py:180-191) answers 403.
		{name: "two storages with one (cluster, name)", path: "plugins/proxbox/storage",
			body: []any{map[string]any{"cluster": f.cluster, "name": "local", "storage_type": "dir"},
				map[string]any{"cluster": f.cluster, "name": "local", "storage_type": "lvm"}},
			code: 403, want: map[string]any{"detail": "You do not have permission to perform this action."}, match: fieldIs("name", "local"), rows: 0},
		{name: "two task-history rows with one UPID", path: "plugins/proxbox/task-history",
			body: []any{task("first"), task("second")},
			code: 403, want: map[string]any{"detail": "You do not have permission to perform this action."}, match: fieldIs("upid", f.s("UPID:pve:1")), rows: 0},
		// Validation runs before the upsert: a key stored before the request is refused.
		{name: "a storage whose (cluster, name) is stored", path: "plugins/proxbox/storage",
			body: map[string]any{"cluster": f.cluster, "name": f.s("stored"), "storage_type": "zfspool"},
			code: 400, match: fieldIs("name", f.s("stored")), rows: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, v := rawPost(t, a, c.path, c.body)
			if code != c.code {
				t.Fatalf("HTTP %d %v, want %d", code, v, c.code)
			}
			if c.code == 201 {
				if list, ok := v.([]any); !ok || len(list) != 2 {
					t.Fatalf("reply %v, want the two objects", v)
				}
			}
			got := v
			if m, ok := v.(map[string]any); ok && c.code == 500 {
				got = map[string]any{"exception": m["exception"], "error": m["error"]}
			}
			if c.want != nil && !reflect.DeepEqual(got, c.want) {
				t.Fatalf("reply %#v\nwant      %#v", got, c.want)
			}
			if c.match == nil {
				return
			}
			n := 0
			for _, o := range a.List(t, c.path, nil) {
				if c.match(o) {
					n++
				}
			}
			if n != c.rows {
				t.Fatalf("%d matching rows afterwards, want %d", n, c.rows)
			}
		})
	}
}

// fieldIs matches rows whose field k is v (nested objects by their id).
func fieldIs(k string, v any) func(o map[string]any) bool {
	return func(o map[string]any) bool { return fmt.Sprint(o[k]) == fmt.Sprint(v) }
}
