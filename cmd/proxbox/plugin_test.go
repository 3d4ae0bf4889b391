package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proxbox/proxbox/config"
	"github.com/proxbox/proxbox/lab"
	"github.com/proxbox/proxbox/lab/nbtest"
)

// The plugin's SSE parser (contract 3.1): lines split the way Python's
// str.splitlines does; "event:" starts a frame, "data:" appends, ":" lines
// are ignored, a blank line flushes, any other line is appended as data.
type frame struct {
	event string
	data  map[string]any
	raw   string
}

var pyLineBreaks = []string{"\r\n", "\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\u0085", "\u2028", "\u2029"}

func pySplitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		cut, size := -1, 0
		for _, br := range pyLineBreaks {
			if i := strings.Index(s, br); i >= 0 && (cut < 0 || i < cut || (i == cut && len(br) > size)) {
				cut, size = i, len(br)
			}
		}
		if cut < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:cut])
		s = s[cut+size:]
	}
	return out
}

func parsePluginFrames(body string) []frame {
	var frames []frame
	event, data := "", []string{}
	flush := func() {
		if len(data) == 0 {
			event = ""
			return
		}
		raw := strings.Join(data, "\n")
		f := frame{event: event, raw: raw}
		if f.event == "" {
			f.event = "message"
		}
		if err := json.Unmarshal([]byte(raw), &f.data); err != nil {
			f.data = map[string]any{"raw": raw}
		}
		frames = append(frames, f)
		event, data = "", []string{}
	}
	for _, line := range pySplitLines(body) {
		switch {
		case strings.HasPrefix(line, "event:"):
			flush()
			event = strings.TrimSpace(line[len("event:"):])
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(line[len("data:"):], " "))
		case strings.HasPrefix(line, ":"):
		case line == "":
			flush()
		default:
			data = append(data, line)
		}
	}
	flush()
	return frames
}

// stageFailures lists what a stage stream reports as failed: error and
// error_detail frames, phase summaries with failed objects, the complete
// frame's errors. A stage that completes "ok" may still carry refused
// objects (a partial run); against a real NetBox each is a write it refused.
func stageFailures(frames []frame) []string {
	var out []string
	for _, f := range frames {
		switch f.event {
		case "error", "error_detail":
			out = append(out, f.raw)
		case "phase_summary":
			if r, _ := f.data["result"].(map[string]any); r["failed"] != 0.0 {
				out = append(out, f.raw)
			}
		case "complete":
			if errs, _ := f.data["errors"].([]any); len(errs) > 0 {
				out = append(out, fmt.Sprint(errs))
			}
		}
	}
	return out
}

func TestPySplitLines(t *testing.T) {
	got := pySplitLines("a\r\nb\u0085c\u2028d\ne")
	if strings.Join(got, "|") != "a|b|c|d|e" {
		t.Fatalf("%q", got)
	}
}

// pluginStages are the plugin's 12 stage paths in its order, with the
// stage-specific parameters it adds (contract 2.5).
var pluginStages = []struct{ slug, path, extra string }{
	{"devices", "dcim/devices/create/stream", ""},
	{"storage", "virtualization/virtual-machines/storage/create/stream", ""},
	{"virtual-machines", "virtualization/virtual-machines/create/stream", "&sync_vm_network=false"},
	{"task-history", "virtualization/virtual-machines/task-history/create/stream", ""},
	{"vm-disks", "virtualization/virtual-machines/virtual-disks/create/stream", ""},
	{"vm-backups", "virtualization/virtual-machines/backups/all/create/stream", "&delete_nonexistent_backup=True"},
	{"vm-snapshots", "virtualization/virtual-machines/snapshots/all/create/stream", "&delete_nonexistent_snapshot=True"},
	{"network-interfaces", "dcim/devices/interfaces/create/stream", ""},
	{"vm-interfaces", "virtualization/virtual-machines/interfaces/create/stream", ""},
	{"ip-addresses", "virtualization/virtual-machines/interfaces/ip-address/create/stream", ""},
	{"replications", "proxmox/replication/stream", ""},
	{"backup-routines", "proxmox/cluster/backup/stream", ""},
}

// pluginClient sends what the plugin sends: the key header, JSON bodies,
// Accept */*, no redirects followed.
type pluginClient struct {
	t    *testing.T
	base string
	key  string
	http *http.Client
}

func (p *pluginClient) do(method, path string, body any) (int, []byte) {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.base+"/"+path, rd)
	req.Header.Set("Accept", "*/*")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if p.key != "" {
		req.Header.Set("X-Proxbox-API-Key", p.key)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// startPluginAppliance serves the appliance on loopback (plain HTTP, a fresh
// data dir, cfg tweaked by tune) until the test ends and returns a client
// that behaves like the plugin's.
func startPluginAppliance(t *testing.T, tune func(*config.Config)) *pluginClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS, cfg.Port, cfg.BindHost, cfg.DataDir = config.TLSOff, 0, "127.0.0.1", t.TempDir()
	if tune != nil {
		tune(&cfg)
	}
	ready := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		served <- serveAppliance(ctx, cfg, io.Discard, func(_ context.Context, a *appliance) error {
			ready <- strings.Replace(a.baseURL, "localhost", "127.0.0.1", 1)
			return nil
		})
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-served:
		cancel()
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		<-served
	})
	return &pluginClient{t: t, base: base, http: &http.Client{Timeout: 2 * time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// pluginNetBox is the NetBox a plugin conformance test syncs into:
// lab/netbox, or the real NetBox of PROXBOX_TEST_NETBOX_URL (make
// test-real: NetBox 4.5 with netbox-proxbox 0.0.24), reset first. proxbox
// reaches it through rec, which counts what proxbox sent; the test reads
// and seeds it only through api, NetBox's REST API, the same calls against
// both.
type pluginNetBox struct {
	api   *nbtest.API
	rec   *nbtest.Recorder
	host  string
	port  int
	token string
}

// startPluginLab starts the Proxmox simulators of cfg and the simulated
// NetBox, or uses the real one, until the test ends.
func startPluginLab(t *testing.T, cfg lab.Config) (*lab.Lab, *pluginNetBox) {
	t.Helper()
	rn := nbtest.FromEnv(t)
	cfg.PVEListen, cfg.NetBoxListen = "127.0.0.1:0", "127.0.0.1:0"
	if rn.URL != "" {
		cfg.NetBoxListen = ""
		rn.Reset(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l, err := lab.Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); l.Wait() })
	nb := &pluginNetBox{token: rn.Token}
	base := rn.URL
	if rn.URL == "" {
		base, nb.token = l.Info.NetBox.URL, l.Info.NetBox.Token
	} else {
		t.Logf("NetBox: the real one at %s (PROXBOX_TEST_NETBOX_URL)", rn.URL)
	}
	nb.api, nb.rec = nbtest.NewAPI(base, nb.token), nbtest.NewRecorder(t, base)
	u, _ := url.Parse(nb.rec.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	nb.host = host
	nb.port, _ = strconv.Atoi(port)
	return l, nb
}

// seedProxmoxEndpoint creates the plugin's ProxmoxEndpoint row for a
// Proxmox endpoint as a user of netbox-proxbox 0.0.24 does: mode is
// required and ip_address is an IPAddress (host/32, reused when it exists).
func (nb *pluginNetBox) seedProxmoxEndpoint(t *testing.T, name, host string, port int, user string) int64 {
	t.Helper()
	addr := host + "/32"
	var ip int64
	if rows := nb.api.List(t, "ipam/ip-addresses", url.Values{"address": {addr}}); len(rows) > 0 {
		ip = nbtest.ID(rows[0])
	} else {
		ip = nbtest.ID(nb.api.Create(t, "ipam/ip-addresses", map[string]any{"address": addr, "status": "active"}))
	}
	return nbtest.ID(nb.api.Create(t, "plugins/proxbox/endpoints/proxmox", map[string]any{
		"name": name, "ip_address": ip, "port": port, "mode": "cluster", "username": user, "verify_ssl": false}))
}

// TestPluginConformance plays the unmodified plugin's job against serve +
// the lab: bootstrap, endpoint push, preflight, the 12 stage streams in
// order with the plugin's exact query strings, frames parsed its way; no
// stage reports a refused object, NetBox holds the fixture's objects, a
// second job writes nothing. NetBox is lab/netbox or, under make test-real,
// the real kit (startPluginLab).
func TestPluginConformance(t *testing.T) {
	l, nb := startPluginLab(t, lab.Config{PVEFixtures: sharedFixture})
	p := startPluginAppliance(t, nil)

	// 1. Keepalive and key bootstrap.
	if code, _ := p.do("GET", "", nil); code != 200 {
		t.Fatalf("GET / = %d", code)
	}
	code, b := p.do("GET", "auth/bootstrap-status", nil)
	var bs map[string]bool
	json.Unmarshal(b, &bs)
	if code != 200 || !bs["needs_bootstrap"] {
		t.Fatalf("bootstrap-status: %d %s", code, b)
	}
	p.key = strings.Repeat("k", 22) + "pluginpluginpluginplugin0123456789abcdef01"
	if code, b := p.do("POST", "auth/register-key", map[string]string{"api_key": p.key, "label": "netbox-proxbox-plugin"}); code != 201 {
		t.Fatalf("register: %d %s", code, b)
	}
	// v0.0.12 reads the first non-empty of version, app_version, backend_version
	// (services/openapi_schema.py@7608d58f), only as a cache key.
	var ver map[string]any
	if code, b := p.do("GET", "version", nil); json.Unmarshal(b, &ver) != nil || code != 200 || ver["version"] == "" || ver["version"] == nil {
		t.Fatalf("version: %d %s", code, b)
	}
	// 2. Endpoint push, as views/backend_sync.py does it.
	if code, b := p.do("GET", "netbox/endpoint", nil); code != 200 || strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("netbox list: %d %s", code, b)
	}
	if code, b := p.do("POST", "netbox/endpoint", map[string]any{"name": "NetBox Endpoint", "ip_address": nb.host, "domain": "", "port": nb.port,
		"verify_ssl": false, "token_version": "v1", "token": nb.token}); code != 200 && code != 201 {
		t.Fatalf("netbox push: %d %s", code, b)
	}
	pve := l.Info.PVE[0]
	user, tokName, _ := strings.Cut(pve.TokenID, "!")
	// The plugin's own ProxmoxEndpoint row in NetBox, which the pushed endpoint mirrors
	// (backup routines and replications point at it).
	nb.seedProxmoxEndpoint(t, "PVE", pve.Host, pve.Port, user)
	if code, b := p.do("GET", "proxmox/endpoints", nil); code != 200 || strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("proxmox list: %d %s", code, b)
	}
	if code, b := p.do("POST", "proxmox/endpoints", map[string]any{"name": "PVE (nb:3)", "ip_address": pve.Host, "domain": nil, "port": pve.Port,
		"username": user, "password": nil, "verify_ssl": false, "token_name": tokName, "token_value": pve.TokenSecret}); code >= 300 {
		t.Fatalf("proxmox push: %d %s", code, b)
	}
	// 3. Preflight: no selector; v0.0.12's parser sees the three nodes and cluster mode.
	if code, b := p.do("GET", "proxmox/cluster/status", nil); code != 200 {
		t.Fatalf("preflight status: %d %s", code, b)
	} else if st := parseClusterStatusV12(t, b); st.mode != "cluster" || len(st.nodes) != 3 {
		t.Fatalf("v0.0.12 parser: mode %s, nodes %v: %s", st.mode, st.nodes, b)
	}
	if code, b := p.do("GET", "proxmox/nodes/", nil); code != 200 {
		t.Fatalf("preflight nodes/: %d %s", code, b)
	}
	nb.rec.Reset()
	// 4. The 12 stages in order.
	common := "use_guest_agent_interface_name=true&fetch_max_concurrency=8&ignore_ipv6_link_local_addresses=true&primary_ip_preference=ipv4&proxmox_endpoint_ids=3"
	for _, st := range pluginStages {
		if code, _ := p.do("GET", "health", nil); code != 200 {
			t.Fatalf("health before %s: %d", st.slug, code)
		}
		code, body := p.do("GET", st.path+"?"+common+st.extra, nil)
		if code != 200 {
			t.Fatalf("%s: HTTP %d %s", st.slug, code, body)
		}
		for _, c := range body {
			if c >= 0x80 {
				t.Fatalf("%s: non-ASCII byte on the wire", st.slug)
			}
		}
		frames := parsePluginFrames(string(body))
		if len(frames) == 0 {
			t.Fatalf("%s: no frames", st.slug)
		}
		last := frames[len(frames)-1]
		if last.event != "complete" {
			t.Fatalf("%s: last frame is %q, not complete", st.slug, last.event)
		}
		if ok, _ := last.data["ok"].(bool); !ok {
			t.Fatalf("%s: complete ok=false: %s", st.slug, last.raw)
		}
		for _, f := range frames {
			if _, raw := f.data["raw"]; raw {
				t.Fatalf("%s: a frame did not parse as JSON: %q", st.slug, f.raw)
			}
		}
		if fail := stageFailures(frames); len(fail) > 0 {
			t.Errorf("%s: NetBox refused objects: %v", st.slug, fail)
		}
	}
	t.Logf("12-stage plugin job: %d NetBox requests, %d kinds of write", nb.rec.Requests(), len(nb.rec.Writes()))
	// The stages share NetBox reads through the GET cache.
	var cacheMetrics map[string]any
	_, b = p.do("GET", "cache/metrics", nil)
	if err := json.Unmarshal(b, &cacheMetrics); err != nil {
		t.Fatal(err)
	}
	if hits, _ := cacheMetrics["hits"].(float64); hits == 0 {
		t.Fatalf("the 12-stage job got no cache hits: %s", b)
	}
	t.Logf("cache over the job: %v hits, %v misses, hit rate %v%%", cacheMetrics["hits"], cacheMetrics["misses"], cacheMetrics["hit_rate"])
	// 5. NetBox holds the fixture's objects (a real NetBox accepted each write).
	for model, want := range map[string]int{"virtualization/clusters": 1, "dcim/sites": 1, "dcim/devices": 3, "virtualization/virtual-machines": 10,
		"virtualization/interfaces": 8, "dcim/mac-addresses": 8, "virtualization/virtual-disks": 11, "plugins/proxbox/proxmox-clusters": 1,
		"plugins/proxbox/proxmox-nodes": 3, "plugins/proxbox/storage": 4, "plugins/proxbox/backups": 17, "plugins/proxbox/snapshots": 11,
		"plugins/proxbox/backup-routines": 2, "plugins/proxbox/replications": 2} {
		if n := nb.api.Count(t, model, nil); n != want {
			t.Errorf("NetBox has %d %s after the job, want %d", n, model, want)
		}
	}
	// A second job is steady: no writes.
	nb.rec.Reset()
	for _, st := range pluginStages {
		code, body := p.do("GET", st.path+"?"+common+st.extra, nil)
		frames := parsePluginFrames(string(body))
		if fail := stageFailures(frames); code != 200 || len(frames) == 0 || frames[len(frames)-1].data["ok"] != true || len(fail) > 0 {
			t.Fatalf("second job, %s: HTTP %d, failures %v", st.slug, code, fail)
		}
	}
	if w := nb.rec.Writes(); len(w) != 0 {
		t.Fatalf("second job wrote: %v", w)
	}

	// 6. Individual sync of one VM after a rename in Proxmox: updated, then unchanged.
	code, b = p.do("GET", "proxmox/cluster/status", nil)
	var status []map[string]any
	if err := json.Unmarshal(b, &status); code != 200 || err != nil || len(status) == 0 {
		t.Fatalf("cluster status: %d %s", code, b)
	}
	cluster := status[0]["name"].(string)
	if err := l.PVE[0].RenameGuest(101, "renamed-101"); err != nil {
		t.Fatal(err)
	}
	q := "sync/individual/vm?cluster_name=" + cluster + "&node=pve01&type=qemu&vmid=101&proxmox_endpoint_ids=3"
	var res map[string]any
	code, b = p.do("GET", q, nil)
	json.Unmarshal(b, &res)
	obj, _ := res["netbox_object"].(map[string]any)
	if code != 200 || res["action"] != "updated" || obj == nil || res["object_type"] != "vm" || res["error"] != nil {
		t.Fatalf("individual vm after rename: %d %s", code, b)
	}
	code, b = p.do("GET", q, nil)
	json.Unmarshal(b, &res)
	if code != 200 || res["action"] != "unchanged" {
		t.Fatalf("individual vm again: %d %s", code, b)
	}
	if code, b := p.do("GET", "sync/individual/bogus", nil); code != 404 {
		t.Fatalf("unknown kind: %d %s", code, b)
	}
	// Every kind the plugin asks for answers in its shape (the batch call for
	// task history sends vm_type instead of type).
	for _, q := range []string{
		"cluster?cluster_name=" + cluster,
		"node?node_name=pve01&cluster_name=" + cluster,
		"storage?cluster_name=" + cluster + "&storage_name=local",
		"backup?cluster_name=" + cluster + "&node=pve01&storage=local&vmid=101",
		"snapshot?cluster_name=" + cluster + "&node=pve01&type=qemu&vmid=101&snapshot_name=pre-upgrade",
		"task-history?node=pve01&vm_type=qemu&vmid=101&cluster_name=" + cluster,
		"interface?cluster_name=" + cluster + "&vmid=101&interface_name=net0",
		"ip?cluster_name=" + cluster + "&ip_address=10.0.0.1",
		"disk?cluster_name=" + cluster + "&vmid=101&disk_name=scsi0",
		"replication?cluster_name=" + cluster + "&replication_id=102-0",
	} {
		code, b := p.do("GET", "sync/individual/"+q, nil)
		var r map[string]any
		if err := json.Unmarshal(b, &r); code != 200 || err != nil || r["action"] == nil || r["action"] == "failed" || r["dependencies_synced"] == nil {
			t.Errorf("individual %s: %d %s", q, code, b)
		}
	}
	// The fixture's tasks are older than the 30 days proxbox keeps; the rename is the
	// one recent task, written by the task-history kind above.
	if th := nb.api.List(t, "plugins/proxbox/task-history", nil); len(th) != 1 || th[0]["task_type"] != "qmset" ||
		th[0]["virtual_machine"].(map[string]any)["name"] != "renamed-101" {
		t.Errorf("task history after the individual sync: %v", th)
	}

	// Two callers of the same stage at once both get a clean stream.
	errs := make(chan string, 2)
	for i := 0; i < 2; i++ {
		go func() {
			code, body := p.do("GET", pluginStages[2].path+"?"+common, nil)
			frames := parsePluginFrames(string(body))
			if code != 200 || len(frames) == 0 || frames[len(frames)-1].event != "complete" || frames[len(frames)-1].data["ok"] != true {
				errs <- fmt.Sprintf("HTTP %d, %d frames", code, len(frames))
				return
			}
			errs <- ""
		}()
	}
	for i := 0; i < 2; i++ {
		if e := <-errs; e != "" {
			t.Errorf("concurrent stage call: %s", e)
		}
	}
}
