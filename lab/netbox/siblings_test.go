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

// TestUniqueRefusals: one object colliding with a stored one, for every uniqueness rule the
// simulator models, answered as NetBox 4.5.10 + netbox-proxbox 0.0.24 answered on 2026-12-03
// (with PROXBOX_TEST_NETBOX_URL set the test asks the real NetBox). Constraints NetBox checks in
// full_clean() are 400 under "__all__" with Django's text, unique=True fields 400 under the
// field, clean() rules 400 with their own text; a constraint on a column save() fills in
// (Cluster._site) is met only by PostgreSQL: 500 even for one object.
func TestUniqueRefusals(t *testing.T) {
	a, real := siblingTarget(t)
	if real {
		t.Logf("against the real NetBox at %s", a.URL)
	}
	f := siblingFixture{n: time.Now().UnixNano()/1000%30000 + 1}
	id := func(path string, obj map[string]any) int64 { return nbtest.ID(a.Create(t, path, obj)) }
	ct := id("virtualization/cluster-types", map[string]any{"name": f.s("ct"), "slug": f.s("ct")})
	cluster := id("virtualization/clusters", map[string]any{"name": f.s("c"), "type": ct})
	vm := id("virtualization/virtual-machines", map[string]any{"name": f.s("vm"), "cluster": cluster})
	site := id("dcim/sites", map[string]any{"name": f.s("site"), "slug": f.s("site")})
	man := id("dcim/manufacturers", map[string]any{"name": f.s("man"), "slug": f.s("man")})
	dt := id("dcim/device-types", map[string]any{"manufacturer": man, "model": f.s("dt"), "slug": f.s("dt")})
	role := id("dcim/device-roles", map[string]any{"name": f.s("role"), "slug": f.s("role")})
	dev := id("dcim/devices", map[string]any{"name": f.s("dev"), "device_type": dt, "role": role, "site": site})
	grp := id("virtualization/cluster-groups", map[string]any{"name": f.s("grp"), "slug": f.s("grp")})
	ip := id("ipam/ip-addresses", map[string]any{"address": f.addr(1)})
	ep := id("plugins/proxbox/endpoints/proxmox", map[string]any{"name": f.s("ep"), "mode": "cluster", "domain": "ep.example", "ip_address": ip})
	all := func(msgs ...string) map[string]any {
		l := make([]any, len(msgs))
		for i, m := range msgs {
			l[i] = m
		}
		return map[string]any{"__all__": l}
	}
	cases := []struct {
		name, path string
		obj, dup   map[string]any // dup nil: obj again
		code       int
		want       any
	}{
		{name: "site name and slug", path: "dcim/sites", obj: map[string]any{"name": f.s("s2"), "slug": f.s("s2")}, code: 400,
			want: map[string]any{"name": []any{"site with this name already exists."}, "slug": []any{"site with this slug already exists."}}},
		{name: "custom field name", path: "extras/custom-fields", obj: map[string]any{"name": fmt.Sprintf("cf%d", f.n), "object_types": []any{"dcim.site"}, "type": "text"},
			code: 400, want: map[string]any{"name": []any{"custom field with this name already exists."}}},
		{name: "device type model and slug", path: "dcim/device-types", obj: map[string]any{"manufacturer": man, "model": f.s("g"), "slug": f.s("g")}, code: 400,
			want: all("Device type with this Manufacturer and Model already exists.", "Device type with this Manufacturer and Slug already exists.")},
		{name: "top-level device role", path: "dcim/device-roles", obj: map[string]any{"name": f.s("r"), "slug": f.s("r")},
			dup: map[string]any{"name": f.s("r"), "slug": f.s("r2")}, code: 400, want: all("A top-level device role with this name already exists.")},
		{name: "platform without manufacturer", path: "dcim/platforms", obj: map[string]any{"name": f.s("p"), "slug": f.s("p")}, code: 400,
			want: all("Platform name must be unique.", "Platform slug must be unique.")},
		{name: "device name per site, any case", path: "dcim/devices", obj: map[string]any{"name": f.s("d"), "device_type": dt, "role": role, "site": site},
			dup: map[string]any{"name": strings.ToUpper(f.s("d")), "device_type": dt, "role": role, "site": site}, code: 400, want: all("Device name must be unique per site.")},
		{name: "device interface name", path: "dcim/interfaces", obj: map[string]any{"device": dev, "name": "e0", "type": "virtual"}, code: 400,
			want: all("Interface with this Device and Name already exists.")},
		{name: "cluster name per group", path: "virtualization/clusters", obj: map[string]any{"name": f.s("cg"), "type": ct, "group": grp}, code: 400,
			want: all("Cluster with this Group and Name already exists.")},
		{name: "cluster name per site (PostgreSQL only)", path: "virtualization/clusters", obj: map[string]any{"name": f.s("cs"), "type": ct, "scope_type": "dcim.site", "scope_id": site},
			code: 500, want: map[string]any{"exception": "IntegrityError", "error": fmt.Sprintf(
				"duplicate key value violates unique constraint \"virtualization_cluster_unique__site_name\"\nDETAIL:  Key (_site_id, name)=(%d, %s) already exists.", site, f.s("cs"))}},
		{name: "VM interface name", path: "virtualization/interfaces", obj: map[string]any{"virtual_machine": vm, "name": "net0"}, code: 400,
			want: all("Interface with this Virtual machine and Name already exists.")},
		{name: "virtual disk name", path: "virtualization/virtual-disks", obj: map[string]any{"virtual_machine": vm, "name": "scsi0", "size": 1}, code: 400,
			want: all("Virtual disk with this Virtual machine and Name already exists.")},
		{name: "prefix in the global table", path: "ipam/prefixes", obj: map[string]any{"prefix": f.addr(0)}, code: 400,
			want: map[string]any{"prefix": []any{"Duplicate prefix found in global table: " + f.addr(0)}}},
		{name: "Proxmox endpoint name, IP address and domain", path: "plugins/proxbox/endpoints/proxmox",
			obj: map[string]any{"name": f.s("ep2"), "mode": "cluster", "domain": "ep.example", "ip_address": ip}, code: 400,
			want: all("Proxmox endpoint with this Name, IP address and Domain already exists.")},
		{name: "Proxmox cluster name per endpoint", path: "plugins/proxbox/proxmox-clusters", obj: map[string]any{"endpoint": ep, "name": "pc", "mode": "cluster"}, code: 400,
			want: all("Proxmox cluster with this Proxmox endpoint and Cluster name already exists.")},
		{name: "Proxmox node name per endpoint", path: "plugins/proxbox/proxmox-nodes", obj: map[string]any{"endpoint": ep, "name": "pn", "ip_address": "10.0.0.1"}, code: 400,
			want: all("Proxmox node with this Proxmox endpoint and Node name already exists.")},
		{name: "storage name per cluster", path: "plugins/proxbox/storage", obj: map[string]any{"cluster": cluster, "name": "local"}, code: 400,
			want: all("Proxmox Storage with this Cluster and Name already exists.")},
		{name: "backup", path: "plugins/proxbox/backups", obj: map[string]any{"virtual_machine": vm, "format": "tzst", "subtype": "qemu", "volume_id": "local:backup/x", "vmid": 100, "storage": "local"},
			code: 400, want: all("VM Backup with this Storage, Virtual machine, Subtype, Format, Volume id and Vmid already exists.")},
		{name: "snapshot", path: "plugins/proxbox/snapshots", obj: map[string]any{"virtual_machine": vm, "name": f.s("pre"), "vmid": 100, "node": "pve", "subtype": "qemu", "status": "active"},
			code: 400, want: all("VM Snapshot with this Vmid, Name and Node already exists.")},
		{name: "replication", path: "plugins/proxbox/replications", obj: map[string]any{"endpoint": ep, "replication_id": "100-0", "guest": 100, "target": "pve2", "virtual_machine": vm, "jobnum": 0},
			code: 400, want: all("Replication with this Proxmox endpoint and Replication id already exists.")},
		{name: "backup routine", path: "plugins/proxbox/backup-routines", obj: map[string]any{"endpoint": ep, "job_id": "j1", "selection": map[string]any{"all": 1}},
			code: 400, want: all("Backup Routine with this Proxmox endpoint and Job ID already exists.")},
		{name: "task history UPID", path: "plugins/proxbox/task-history", obj: map[string]any{"virtual_machine": vm, "upid": f.s("UPID"), "node": "n", "task_type": "qmstart",
			"username": "root@pam", "start_time": "2026-01-01T00:00:00Z", "description": "x", "status": "OK"},
			code: 400, want: map[string]any{"upid": []any{"VM Task History with this upid already exists."}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a.Create(t, c.path, c.obj)
			dup := c.dup
			if dup == nil {
				dup = c.obj
			}
			code, v := rawPost(t, a, c.path, dup)
			got := v
			if m, ok := v.(map[string]any); ok && code == 500 {
				got = map[string]any{"exception": m["exception"], "error": m["error"]}
			}
			if code != c.code || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("HTTP %d %#v\nwant %d %#v", code, got, c.code, c.want)
			}
		})
	}
}
