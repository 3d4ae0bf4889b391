package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/proxbox/proxbox/lab"
	"github.com/proxbox/proxbox/lab/nbtest"
	"github.com/proxbox/proxbox/lab/pve"
)

// The plugin's readers, written from what its code expects (never pasted):
// both generations' /proxmox/cluster/status parsers and their mode rule,
// v0.0.24's version gate and key adoption checks.

type statusView struct {
	cluster map[string]any
	nodes   []string
	mode    string
}

// parseClusterStatus flattens a list, or a dict of lists, into records.
// v0.0.12 (sync_cluster.py@7608d58f) reads top-level type=node records only;
// v0.0.24 (schemas/proxmox_node.py@fed47142) also hoists every node_list
// member. The mode is v0.0.24's derive_proxmox_endpoint_mode, which is
// v0.0.12's rule too: cluster with a cluster record and more than one node,
// standalone with exactly one node, else undefined.
func parseClusterStatus(t *testing.T, body []byte, hoist bool) statusView {
	t.Helper()
	var raw any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("cluster/status is not JSON: %v", err)
	}
	var items []any
	switch v := raw.(type) {
	case []any:
		items = v
	case map[string]any:
		for _, l := range v {
			if l, ok := l.([]any); ok {
				items = append(items, l...)
			}
		}
	}
	var recs []map[string]any
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		recs = append(recs, m)
		if nl, ok := m["node_list"].([]any); ok && hoist {
			for _, n := range nl {
				if n, ok := n.(map[string]any); ok {
					recs = append(recs, n)
				}
			}
		}
	}
	var sv statusView
	for _, r := range recs {
		switch r["type"] {
		case "cluster":
			if sv.cluster == nil {
				sv.cluster = r
			}
		case "node":
			name, _ := r["name"].(string)
			sv.nodes = append(sv.nodes, name)
		}
	}
	switch {
	case sv.cluster != nil && len(sv.nodes) > 1:
		sv.mode = "cluster"
	case len(sv.nodes) == 1:
		sv.mode = "standalone"
	default:
		sv.mode = "undefined"
	}
	return sv
}

func parseClusterStatusV12(t *testing.T, b []byte) statusView { return parseClusterStatus(t, b, false) }
func parseClusterStatusV24(t *testing.T, b []byte) statusView { return parseClusterStatus(t, b, true) }

var backendVersionRe = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)(?:\.post\d+|rc\d+)?$`)

// versionGateV24 is services/backend_version.py@fed47142's verdict on GET
// /version: "blocking" below 0.0.13, "warning" up to 0.0.14 or when the
// version is missing or malformed, else "ok".
func versionGateV24(body []byte) string {
	var v map[string]any
	if json.Unmarshal(body, &v) != nil {
		return "warning"
	}
	s, _ := v["version"].(string)
	m := backendVersionRe.FindStringSubmatch(s)
	if m == nil {
		return "warning"
	}
	n := [3]int{}
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	cmp := func(a [3]int) int {
		for i := range n {
			if n[i] != a[i] {
				return n[i] - a[i]
			}
		}
		return 0
	}
	switch {
	case cmp([3]int{0, 0, 13}) < 0:
		return "blocking"
	case cmp([3]int{0, 0, 14}) <= 0:
		return "warning"
	}
	return "ok"
}

func TestPluginParsersAndGates(t *testing.T) {
	// Our answer for a standalone node, and for a 3-node cluster: the same
	// verdict under both generations' parsers.
	standalone := []byte(`[{"id":"cluster/pve","name":"pve","type":"cluster","nodes":1,"quorate":1,"mode":"standalone"},
		{"id":"node/pve","name":"pve","type":"node","ip":"10.0.0.1","online":1}]`)
	cluster := []byte(`[{"id":"cluster","name":"c","type":"cluster","nodes":3},{"type":"node","name":"a"},{"type":"node","name":"b"},{"type":"node","name":"c"}]`)
	for _, parse := range []func(*testing.T, []byte) statusView{parseClusterStatusV12, parseClusterStatusV24} {
		if sv := parse(t, standalone); sv.mode != "standalone" || len(sv.nodes) != 1 {
			t.Errorf("standalone: %+v", sv)
		}
		if sv := parse(t, cluster); sv.mode != "cluster" || len(sv.nodes) != 3 {
			t.Errorf("cluster: %+v", sv)
		}
	}
	// What we used to answer (nodes nested and flat) is what turned a
	// standalone endpoint into a "cluster" under v0.0.24: the parsers must tell.
	nested := []byte(`[{"name":"pve","type":"cluster","node_list":[{"type":"node","name":"pve"}]},{"type":"node","name":"pve"}]`)
	if parseClusterStatusV24(t, nested).mode != "cluster" || parseClusterStatusV12(t, nested).mode != "standalone" {
		t.Fatal("the parsers do not reproduce the plugin's double count")
	}
	for body, want := range map[string]string{`{"version":"0.0.12"}`: "blocking", `{"version":"0.0.14"}`: "warning",
		`{"version":"0.0.20"}`: "ok", `{"version":"0.0.19.post5"}`: "ok", `{}`: "warning", `{"version":"x"}`: "warning"} {
		if got := versionGateV24([]byte(body)); got != want {
			t.Errorf("version gate %s = %s, want %s", body, got, want)
		}
	}
}

// v24Stages is v0.0.24's full-sync stage order (sync_types.py@fed47142),
// with the stage-specific parameters it adds (sync_stages.py@fed47142).
var v24Stages = []struct{ slug, path, extra string }{
	{"devices", "dcim/devices/create/stream", ""},
	{"storage", "virtualization/virtual-machines/storage/create/stream", ""},
	{"virtual-machines", "virtualization/virtual-machines/create/stream", "&sync_task_history=false&sync_vm_network=false&run_id=6f1c2a9e-1d2b-4c3d-8e9f-0a1b2c3d4e5f"},
	{"task-history", "virtualization/virtual-machines/task-history/create/stream", ""},
	{"vm-disks", "virtualization/virtual-machines/virtual-disks/create/stream", ""},
	{"vm-backups", "virtualization/virtual-machines/backups/all/create/stream", "&delete_nonexistent_backup=true"},
	{"vm-snapshots", "virtualization/virtual-machines/snapshots/all/create/stream", "&delete_nonexistent_snapshot=true"},
	{"network-interfaces", "dcim/devices/interfaces/create/stream", ""},
	{"vm-interfaces", "virtualization/virtual-machines/interfaces/create/stream", ""},
	{"ip-addresses", "virtualization/virtual-machines/interfaces/ip-address/create/stream", ""},
	{"sdn", "proxmox/sdn/create/stream", ""},
	{"replications", "proxmox/replication/stream", ""},
	{"backup-routines", "proxmox/cluster/backup/stream", ""},
}

// v24Query is the base query v0.0.24 sends to every stage of one endpoint:
// lower-case booleans, its settings, every overwrite flag, the sync modes,
// and the endpoint's backend id.
func v24Query(backendID int64) string {
	q := url.Values{}
	q.Set("use_guest_agent_interface_name", "true")
	q.Set("vm_interface_sync_strategy", "match")
	q.Set("fetch_max_concurrency", "8")
	q.Set("ignore_ipv6_link_local_addresses", "true")
	q.Set("primary_ip_preference", "ipv4")
	q.Set("parse_description_metadata", "false")
	for _, f := range []string{"device_role", "device_type", "device_tags", "device_status", "device_description", "device_custom_fields",
		"vm_role", "vm_type", "vm_tags", "vm_proxmox_tags", "vm_description", "vm_custom_fields", "vm_cloudinit", "cluster_tags",
		"cluster_description", "cluster_custom_fields", "node_interface_tags", "node_interface_custom_fields", "storage_tags",
		"vm_interface_tags", "vm_interface_custom_fields", "ip_status", "ip_tags", "ip_custom_fields", "ip_address_dns_name"} {
		q.Set("overwrite_"+f, "true")
	}
	for _, m := range []string{"cluster", "node", "vm", "vm_template", "storage", "vm_interface", "ip_address"} {
		q.Set("sync_mode_"+m, "always")
	}
	q.Set("sync_mode_sdn", "always")
	q.Set("proxmox_endpoint_ids", strconv.FormatInt(backendID, 10))
	return q.Encode()
}

// TestPluginV24Conformance plays the newest plugin (v0.0.24) against serve
// and a generated lab with a 2-node cluster and a standalone node:
// discovery, key adoption, version gate, endpoint push and backend id
// resolution, its preflight (cluster/status with both parsers, the
// firewall summary, CPU models), the sync-state repair calls, the 13-stage
// job per endpoint (SDN answered as skipped), the ProxmoxCluster/Node links
// "Sync selected" relies on, and a steady second job. NetBox is lab/netbox
// or, under make test-real, the real kit (startPluginLab).
func TestPluginV24Conformance(t *testing.T) {
	l, nb := startPluginLab(t, lab.Config{Scale: 5, Seed: 7})
	if len(l.Info.PVE) != 2 {
		t.Fatalf("lab: %d Proxmox endpoints, want the cluster and the standalone node", len(l.Info.PVE))
	}
	p := startPluginAppliance(t, nil)

	// 1. Discovery (endpoint_autoconfiguration.py): GET / and /health without
	// a key and without following redirects.
	code, b := p.do("GET", "", nil)
	var root map[string]any
	if err := json.Unmarshal(b, &root); code != 200 || err != nil {
		t.Fatalf("GET /: %d %s", code, b)
	}
	if msg, _ := root["message"].(string); !strings.HasPrefix(msg, "Proxbox Backend") {
		t.Fatalf("GET / message %q does not start with \"Proxbox Backend\": the plugin's discovery ignores this backend", msg)
	}
	var health map[string]any
	code, b = p.do("GET", "health", nil)
	if json.Unmarshal(b, &health); code != 200 || health["status"] != "ready" || health["init_ok"] != true {
		t.Fatalf("health: %d %s", code, b)
	}

	// 2. Key adoption (backend_key_adoption.py): booleans that differ, then
	// the strict key list.
	checkBootstrap := func(wantNeeds bool) {
		t.Helper()
		code, b := p.do("GET", "auth/bootstrap-status", nil)
		var bs map[string]any
		json.Unmarshal(b, &bs)
		needs, ok1 := bs["needs_bootstrap"].(bool)
		has, ok2 := bs["has_db_keys"].(bool)
		if code != 200 || !ok1 || !ok2 || needs == has || needs != wantNeeds {
			t.Fatalf("bootstrap-status: %d %s", code, b)
		}
	}
	checkBootstrap(true)
	p.key = "v24v24v24v24v24v24v24v24v24v24v24v24v24v24v24v24v24v24v24v24v24v2"
	if code, b := p.do("POST", "auth/register-key", map[string]string{"api_key": p.key, "label": "netbox-proxbox-plugin"}); code != 201 {
		t.Fatalf("register: %d %s", code, b)
	}
	checkBootstrap(false)
	code, b = p.do("GET", "auth/keys", nil)
	var keys struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(b, &keys); code != 200 || err != nil || len(keys.Keys) == 0 {
		t.Fatalf("auth/keys: %d %s", code, b)
	}
	for _, k := range keys.Keys {
		id, _ := k["id"].(float64)
		_, lok := k["label"].(string)
		_, aok := k["is_active"].(bool)
		_, cok := k["created_at"].(float64)
		if id <= 0 || !lok || !aok || !cok {
			t.Fatalf("key adoption refuses key %v", k)
		}
	}
	// 3. Version gate.
	if _, b := p.do("GET", "version", nil); versionGateV24(b) != "ok" {
		t.Fatalf("version gate: %s", b)
	}

	// 4. Endpoint push; the plugin's own rows in NetBox.
	if code, b := p.do("POST", "netbox/endpoint", map[string]any{"name": "NetBox Endpoint", "ip_address": nb.host, "domain": "", "port": nb.port,
		"verify_ssl": false, "token_version": "v1", "token": nb.token}); code != 200 && code != 201 {
		t.Fatalf("netbox push: %d %s", code, b)
	}
	names := []string{"Alpha", "Solo"}
	backendID := map[string]int64{}
	// A plugin row that has no Proxmox behind it comes first, so the
	// plugin's pks differ from proxbox's ids (1, 2): v0.0.24 sends proxbox's.
	retired := nb.seedProxmoxEndpoint(t, "Retired", "192.0.2.1", 8006, "root@pam")
	pks := map[string]int64{}
	pluginPK := func(i int) int64 { return pks[names[i]] }
	for i, info := range l.Info.PVE {
		user, tok, _ := strings.Cut(info.TokenID, "!")
		pks[names[i]] = nb.seedProxmoxEndpoint(t, names[i], info.Host, info.Port, user)
		if pks[names[i]] <= retired || pks[names[i]] == int64(i+1) {
			t.Fatalf("plugin pk %d of %s: want it after the retired row's %d and unlike proxbox's id %d", pks[names[i]], names[i], retired, i+1)
		}
		pushed := fmt.Sprintf("%s (nb:%d)", names[i], pluginPK(i))
		if code, b := p.do("POST", "proxmox/endpoints", map[string]any{"name": pushed, "ip_address": info.Host, "domain": nil, "port": info.Port,
			"username": user, "password": nil, "verify_ssl": false, "token_name": tok, "token_value": info.TokenSecret,
			"timeout": 30, "max_retries": 2, "retry_backoff": 1, "site": nil, "tenant": nil}); code >= 300 {
			t.Fatalf("proxmox push: %d %s", code, b)
		}
	}
	// resolve_backend_endpoint_id: the backend's row named "<name> (nb:<pk>)".
	code, b = p.do("GET", "proxmox/endpoints", nil)
	var eps []map[string]any
	if err := json.Unmarshal(b, &eps); code != 200 || err != nil {
		t.Fatalf("endpoints: %d %s", code, b)
	}
	for _, e := range eps {
		for i, n := range names {
			if e["name"] == fmt.Sprintf("%s (nb:%d)", n, pluginPK(i)) {
				backendID[n] = int64(e["id"].(float64))
			}
		}
	}
	if len(backendID) != 2 {
		t.Fatalf("backend ids: %v from %s", backendID, b)
	}

	// 5. Preflight per endpoint (sync_cluster.py@fed47142): cluster/status and
	// nodes/ scoped to the backend id. Both parsers agree; the plugin's
	// ProxmoxCluster and ProxmoxNode rows are written as it writes them.
	wantMode := map[string]string{"Alpha": "cluster", "Solo": "standalone"}
	clusterName := map[string]string{}
	preflight := func() {
		t.Helper()
		for i, n := range names {
			scope := fmt.Sprintf("proxmox_endpoint_ids=%d", backendID[n])
			code, b := p.do("GET", "proxmox/cluster/status?"+scope, nil)
			if code != 200 {
				t.Fatalf("%s cluster/status: %d %s", n, code, b)
			}
			v24, v12 := parseClusterStatusV24(t, b), parseClusterStatusV12(t, b)
			if v24.mode != wantMode[n] || v12.mode != wantMode[n] || len(v24.nodes) != len(v12.nodes) {
				t.Fatalf("%s: v0.0.24 sees %s %v, v0.0.12 sees %s %v, want %s: %s", n, v24.mode, v24.nodes, v12.mode, v12.nodes, wantMode[n], b)
			}
			if code, b := p.do("GET", "proxmox/nodes/?"+scope, nil); code != 200 {
				t.Fatalf("%s nodes/: %d %s", n, code, b)
			}
			cname, _ := v24.cluster["name"].(string)
			clusterName[n] = cname
			// update_or_create(endpoint, name) of the cluster, then of each node.
			ep := strconv.FormatInt(pluginPK(i), 10)
			rows := nb.api.List(t, "plugins/proxbox/proxmox-clusters", url.Values{"endpoint": {ep}, "name": {cname}})
			fields := map[string]any{"endpoint": pluginPK(i), "name": cname, "cluster_id": v24.cluster["id"], "mode": v24.mode,
				"nodes_count": int(v24.cluster["nodes"].(float64)), "quorate": v24.cluster["quorate"].(float64) != 0}
			var clusterID int64
			if len(rows) == 0 {
				clusterID = nbtest.ID(nb.api.Create(t, "plugins/proxbox/proxmox-clusters", fields))
			} else {
				clusterID = nbtest.ID(rows[0])
				nb.api.Patch(t, "plugins/proxbox/proxmox-clusters", clusterID, fields)
			}
			var recs []map[string]any
			json.Unmarshal(b, &recs)
			for _, r := range recs {
				if r["type"] != "node" {
					continue
				}
				nf := map[string]any{"endpoint": pluginPK(i), "name": r["name"], "proxmox_cluster": clusterID, "ip_address": r["ip"], "online": r["online"].(float64) != 0}
				rows := nb.api.List(t, "plugins/proxbox/proxmox-nodes", url.Values{"endpoint": {ep}, "name": {r["name"].(string)}})
				if len(rows) == 0 {
					nb.api.Create(t, "plugins/proxbox/proxmox-nodes", nf)
				} else {
					nb.api.Patch(t, "plugins/proxbox/proxmox-nodes", nbtest.ID(rows[0]), nf)
				}
			}
		}
	}
	preflight()

	// 6. Preflight reads: the firewall summary and CPU models, each entry
	// naming its cluster as the plugin's ProxmoxCluster rows do.
	l.PVE[0].SetFirewall(pve.Firewall{
		Options: map[string]any{"enable": 1, "policy_in": "DROP", "policy_out": "ACCEPT"},
		Rules:   []map[string]any{{"pos": 0, "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22", "enable": 1}},
		Groups: map[string][]map[string]any{"web": {{"pos": 0, "type": "in", "action": "ACCEPT", "dport": "443", "proto": "tcp", "enable": 1},
			{"pos": 1, "type": "in", "action": "ACCEPT", "dport": "80", "proto": "tcp", "enable": 1}}},
		IPSets:  map[string][]map[string]any{"mgmt": {{"cidr": "10.0.0.0/24"}, {"cidr": "10.9.9.9", "nomatch": 1}}},
		Aliases: []map[string]any{{"name": "gw", "cidr": "10.0.0.1", "comment": "gateway"}},
	})
	code, b = p.do("GET", fmt.Sprintf("proxmox/firewall/summary?proxmox_endpoint_ids=%d,%d", backendID["Alpha"], backendID["Solo"]), nil)
	var fw []map[string]any
	if err := json.Unmarshal(b, &fw); code != 200 || err != nil || len(fw) != 2 {
		t.Fatalf("firewall summary: %d %s", code, b)
	}
	for _, e := range fw {
		switch e["cluster_name"] {
		case clusterName["Alpha"]:
			sg := e["security_groups"].([]any)
			sets := e["ip_sets"].([]any)
			if len(sg) != 1 || len(sg[0].(map[string]any)["rules"].([]any)) != 2 || sg[0].(map[string]any)["name"] != "web" ||
				len(e["rules"].([]any)) != 1 || len(sets) != 1 || len(sets[0].(map[string]any)["entries"].([]any)) != 2 ||
				len(e["aliases"].([]any)) != 1 || e["options"].(map[string]any)["policy_in"] != "DROP" {
				t.Fatalf("alpha's firewall: %v", e)
			}
		case clusterName["Solo"]:
			if len(e["rules"].([]any)) != 0 || len(e["options"].(map[string]any)) != 0 {
				t.Fatalf("solo's firewall: %v", e)
			}
		default:
			t.Fatalf("firewall entry names no plugin cluster: %v", e["cluster_name"])
		}
	}
	code, b = p.do("GET", fmt.Sprintf("proxmox/datacenter/cpu-models?proxmox_endpoint_ids=%d", backendID["Alpha"]), nil)
	if strings.TrimSpace(string(b)) != "[]" || code != 200 { // PVE 8: no custom CPU models API
		t.Fatalf("cpu-models: %d %s", code, b)
	}

	// HA page and VM tab: the summary names each row's cluster; a guest HA
	// does not manage is null; arm/disarm are writes, refused by default.
	code, b = p.do("GET", fmt.Sprintf("proxmox/cluster/ha/summary?proxmox_endpoint_ids=%d,%d", backendID["Alpha"], backendID["Solo"]), nil)
	var ha map[string][]map[string]any
	if err := json.Unmarshal(b, &ha); code != 200 || err != nil || len(ha["status"]) == 0 || ha["status"][0]["cluster_name"] == nil || ha["resources"] == nil {
		t.Fatalf("ha summary: %d %s", code, b)
	}
	if code, b := p.do("GET", fmt.Sprintf("proxmox/cluster/ha/resources/by-vm/100?proxmox_endpoint_ids=%d", backendID["Alpha"]), nil); code != 200 || strings.TrimSpace(string(b)) != "null" {
		t.Fatalf("ha by-vm: %d %s", code, b)
	}
	if code, b := p.do("POST", fmt.Sprintf("proxmox/cluster/ha/disarm?proxmox_endpoint_ids=%d", backendID["Alpha"]), nil); code != 403 || !strings.Contains(string(b), "PROXBOX_PROXMOX_WRITES") {
		t.Fatalf("disarm with writes off: %d %s", code, b)
	}
	// Features proxbox does not have answer with the reason, in the shapes
	// the plugin reports as unavailable (a 404 for host-key scanning).
	for path, want := range map[string]int{"pbs/status": 501, "ssh/host-key-fingerprint?host=10.0.0.1&port=22": 404, "proxmox/sdn/fabrics": 501} {
		code, b := p.do("GET", path, nil)
		var e map[string]any
		if json.Unmarshal(b, &e); code != want || e["detail"] == nil {
			t.Errorf("%s: %d %s", path, code, b)
		}
	}

	// 7. Sync-state repair: status (read only), reconcile, status again. A
	// NetBox before its first sync lacks proxbox's tags; the custom fields
	// netbox-proxbox's migrations create (a real NetBox with the plugin has
	// them) are reported as they are.
	var bst struct {
		OK                           bool
		Missing, Outdated, Unchanged []string
	}
	code, b = p.do("GET", "extras/bootstrap-status", nil)
	if json.Unmarshal(b, &bst); code != 200 || bst.OK || len(bst.Missing) == 0 {
		t.Fatalf("bootstrap-status before: %d %s", code, b)
	}
	nb.rec.Reset()
	if cfs := nb.api.Count(t, "extras/custom-fields", url.Values{"name": {"proxmox_vm_id"}}); cfs == 0 && !slices.Contains(bst.Missing, "custom_field:proxmox_vm_id") {
		t.Fatalf("NetBox lacks proxmox_vm_id, bootstrap-status does not say so: %s", b)
	}
	want := map[string]string{}
	for action, names := range map[string][]string{"created": bst.Missing, "updated": bst.Outdated, "unchanged": bst.Unchanged} {
		for _, n := range names {
			want[n] = action
		}
	}
	code, b = p.do("POST", "extras/custom-fields/reconcile", nil)
	var items []map[string]any
	if err := json.Unmarshal(b, &items); code != 200 || err != nil || len(items) != len(want) {
		t.Fatalf("reconcile: %d %s, want %d items", code, b, len(want))
	}
	for _, it := range items {
		if name := fmt.Sprint(it["kind"], ":", it["name"]); it["action"] != want[name] {
			t.Fatalf("reconcile %s: %v, bootstrap-status said %q", name, it["action"], want[name])
		}
	}
	if len(nb.rec.Writes()) == 0 {
		t.Fatal("reconcile wrote nothing to NetBox")
	}
	code, b = p.do("GET", "extras/bootstrap-status", nil)
	if json.Unmarshal(b, &bst); code != 200 || !bst.OK {
		t.Fatalf("bootstrap-status after: %d %s", code, b)
	}

	// 8. The job: every stage per endpoint, v0.0.24's parameters.
	runJob := func() []string {
		t.Helper()
		nb.rec.Reset()
		for _, n := range names {
			q := v24Query(backendID[n])
			for _, st := range v24Stages {
				code, body := p.do("GET", st.path+"?"+q+st.extra, nil)
				if code != 200 {
					t.Fatalf("%s %s: HTTP %d %s", n, st.slug, code, body)
				}
				frames := parsePluginFrames(string(body))
				last := frames[len(frames)-1]
				if last.event != "complete" || last.data["ok"] != true {
					t.Fatalf("%s %s: %s %s", n, st.slug, last.event, last.raw)
				}
				if fail := stageFailures(frames); len(fail) > 0 {
					t.Errorf("%s %s: NetBox refused objects: %v", n, st.slug, fail)
				}
				if res, _ := last.data["result"].(map[string]any); st.slug == "sdn" && res["skipped"] != true {
					t.Fatalf("sdn: not the skipped shape: %s", last.raw)
				}
				for _, f := range frames { // the newer plugin's tally: all failed, nothing done = error
					if f.event != "phase_summary" {
						continue
					}
					r, _ := f.data["result"].(map[string]any)
					if r["failed"].(float64) > 0 && r["created"].(float64)+r["updated"].(float64)+r["deleted"].(float64) == 0 {
						t.Fatalf("%s %s: everything failed: %s", n, st.slug, f.raw)
					}
				}
			}
		}
		return nb.rec.Writes()
	}
	if w := runJob(); len(w) == 0 {
		t.Fatal("the first job wrote nothing")
	}
	// What the generated lab holds, in NetBox (a real NetBox accepted each
	// write): the two endpoints' addresses are among the IP addresses.
	for model, want := range map[string]int{"virtualization/clusters": 2, "dcim/sites": 2, "dcim/devices": 3, "dcim/interfaces": 16,
		"virtualization/virtual-machines": 5, "virtualization/interfaces": 10, "dcim/mac-addresses": 10, "ipam/vlans": 4,
		"ipam/ip-addresses": 11, "virtualization/virtual-disks": 6, "plugins/proxbox/proxmox-clusters": 2, "plugins/proxbox/proxmox-nodes": 3,
		"plugins/proxbox/storage": 7, "plugins/proxbox/backups": 8, "plugins/proxbox/backup-routines": 3} {
		if n := nb.api.Count(t, model, nil); n != want {
			t.Errorf("NetBox has %d %s after the job, want %d", n, model, want)
		}
	}
	primary := 0
	for _, vm := range nb.api.List(t, "virtualization/virtual-machines", nil) {
		if vm["primary_ip4"] != nil {
			primary++
		}
	}
	if primary != 3 {
		t.Errorf("%d VMs with a primary IPv4, want 3", primary)
	}

	// 9. "Sync selected" and the VM "Sync now" find a VM's endpoint through
	// ProxmoxCluster.netbox_cluster (views/sync_now/endpoint_scope.py): one
	// row per endpoint (the plugin's own), linked to the cluster of its VMs.
	pcs := nb.api.List(t, "plugins/proxbox/proxmox-clusters", nil)
	if len(pcs) != 2 {
		t.Fatalf("%d ProxmoxCluster rows, want 2 (the plugin's, linked): %v", len(pcs), pcs)
	}
	owner := map[int64]int64{} // NetBox cluster -> plugin endpoint
	for _, pc := range pcs {
		nc, _ := pc["netbox_cluster"].(map[string]any)
		if nc == nil {
			t.Fatalf("ProxmoxCluster %v has no netbox_cluster", pc["name"])
		}
		owner[nbtest.ID(nc)] = nbtest.ID(pc["endpoint"])
	}
	vms := nb.api.List(t, "virtualization/virtual-machines", nil)
	if len(vms) == 0 {
		t.Fatal("no VMs synced")
	}
	for _, vm := range vms {
		cid := int64(vm["cluster"].(map[string]any)["id"].(float64))
		if owner[cid] == 0 {
			t.Fatalf("VM %v: no ProxmoxCluster links its cluster %d", vm["name"], cid)
		}
	}
	nodes := nb.api.List(t, "plugins/proxbox/proxmox-nodes", nil)
	if len(nodes) != 3 {
		t.Fatalf("%d ProxmoxNode rows, want 3", len(nodes))
	}
	for _, n := range nodes {
		dev, _ := n["netbox_device"].(map[string]any)
		if dev == nil || dev["name"] != n["name"] || n["proxmox_cluster"] == nil {
			t.Fatalf("node row %v: device %v, cluster %v", n["name"], dev, n["proxmox_cluster"])
		}
	}

	// "Sync selected" on a VM of the standalone node: the batch resolves its
	// endpoint as above and sends proxbox's id with the VM's coordinates; the
	// VM "Sync now" button runs the per-VM stage paths.
	var solo map[string]any
	for _, vm := range vms {
		cf, _ := vm["custom_fields"].(map[string]any)
		if owner[nbtest.ID(vm["cluster"])] == pluginPK(1) && cf["proxmox_vm_type"] == "qemu" {
			solo = vm
			break
		}
	}
	if solo == nil {
		t.Fatal("no QEMU VM of the standalone node")
	}
	cf := solo["custom_fields"].(map[string]any)
	q := fmt.Sprintf("sync/individual/vm?cluster_name=%s&node=%s&type=qemu&vmid=%v&proxmox_endpoint_ids=%d", clusterName["Solo"], cf["proxmox_node"], cf["proxmox_vm_id"], backendID["Solo"])
	var ind map[string]any
	code, b = p.do("GET", q, nil)
	if json.Unmarshal(b, &ind); code != 200 || ind["action"] != "unchanged" || ind["error"] != nil {
		t.Fatalf("sync selected: %d %s", code, b)
	}
	vmPK := int64(solo["id"].(float64))
	for _, path := range []string{"virtualization/virtual-machines/%d/create/stream", "virtualization/virtual-machines/%d/virtual-disks/create/stream",
		"virtualization/virtual-machines/%d/backups/create/stream", "virtualization/virtual-machines/%d/snapshots/create/stream"} {
		code, body := p.do("GET", fmt.Sprintf(path, vmPK)+"?"+v24Query(backendID["Solo"])+fmt.Sprintf("&netbox_vm_ids=%d", vmPK), nil)
		frames := parsePluginFrames(string(body))
		if code != 200 || len(frames) == 0 || frames[len(frames)-1].event != "complete" || frames[len(frames)-1].data["ok"] != true {
			t.Fatalf("sync now %s: %d %s", path, code, body)
		}
	}

	// 10. Steady state: the plugin's preflight again, a second job: proxbox
	// writes nothing; reconcile writes nothing.
	preflight()
	if w := runJob(); len(w) != 0 {
		t.Fatalf("second job wrote: %v", w)
	}
	nb.rec.Reset()
	_, b = p.do("POST", "extras/custom-fields/reconcile", nil)
	json.Unmarshal(b, &items)
	for _, it := range items {
		if it["action"] != "unchanged" {
			t.Fatalf("second reconcile: %s", b)
		}
	}
	if w := nb.rec.Writes(); len(w) != 0 {
		t.Fatalf("second reconcile wrote: %v", w)
	}
}
