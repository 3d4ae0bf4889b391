package pve_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"

	"github.com/proxbox/proxbox/lab/pve"
)

func TestGenerateDeterministic(t *testing.T) {
	a, b, c := pve.Generate(80, 7), pve.Generate(80, 7), pve.Generate(80, 8)
	if len(a.Clusters) != 3 {
		t.Fatalf("%d clusters, want 2 clusters + 1 standalone", len(a.Clusters))
	}
	total := 0
	for i := range a.Clusters {
		fa, err := a.Clusters[i].Fixture()
		if err != nil {
			t.Fatal(err)
		}
		fb, _ := b.Clusters[i].Fixture()
		fc, _ := c.Clusters[i].Fixture()
		if !bytes.Equal(fa, fb) {
			t.Fatalf("cluster %d: same seed, different bytes", i)
		}
		if bytes.Equal(fa, fc) {
			t.Fatalf("cluster %d: different seed, same bytes", i)
		}
		total += a.Clusters[i].Guests
	}
	if total != 80 {
		t.Fatalf("%d guests, want 80", total)
	}
	if last := a.Clusters[2]; !last.Standalone || last.Name != "pve" {
		t.Fatalf("last cluster %+v is not the standalone node", last)
	}
}

// TestGeneratedShapes checks the edge cases the issue asks the generated lab to carry.
func TestGeneratedShapes(t *testing.T) {
	var all bytes.Buffer
	for _, c := range pve.Generate(300, 1).Clusters {
		b, err := c.Fixture()
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	s := all.String()
	for _, want := range []string{
		`"memory": "`, `"cores": "`, `"memory": 4096`, `"tags": "prod;web"`, `"net15": "virtio=`, `,tag=`, `mtu=9000`,
		`"scsi0": "`, `"virtio0": "`, `"sata0": "`, `media=cdrom`, `"unused0": "`, `"rootfs": "`, `"mp0": "`,
		`"template": 1`, `"status": "stopped"`, `"hardware-address": "00:00:00:00:00:00"`, `"ip-address": "fe80::`,
		`"name": "docker0"`, `"hardware-address": "ee:ee:ee:ee:ee:ee"`, `"name": "current"`, `"format": "pbs-vm"`,
		`"format": "vma.zst"`, `"format": "tar.zst"`, `:backup/vm/`, `"verification": {`, `"guest": `,
		`"type": "vzdump"`, `"type": "bond"`, `"type": "vlan"`, `"bridge_vlan_aware": 1`, `"hastate": "started"`,
		`"ipconfig0": "ip=`, `"agent": "enabled=1,fstrim_cloned_disks=1"`, `"efidisk0": "`, `"WARNINGS: 1"`,
		`"release": "9.0"`, `"release": "8.3"`, `"nodeid": 0`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("generated lab lacks %s", want)
		}
	}
}

func TestGeneratedServing(t *testing.T) {
	s, ts := genServer(t, 300, 3)
	if s.Name() != "lab-alpha" {
		t.Fatalf("first cluster name %q", s.Name())
	}
	nodes := list(t, get(t, ts, "/nodes"))
	node := nodes[0]["node"].(string)
	tasks := get(t, ts, "/nodes/"+node+"/tasks")
	if n := len(list(t, tasks)); n != 50 || tasks.body["total"].(float64) <= 50 {
		t.Fatalf("tasks: %d entries, total %v; want PVE's default limit 50 and a larger total", n, tasks.body["total"])
	}
	// shared storage lists the same backups on every node
	a := get(t, ts, "/nodes/alpha-pve1/storage/pbs/content?content=backup").raw
	b := get(t, ts, "/nodes/alpha-pve2/storage/pbs/content?content=backup").raw
	if a != b || len(a) < 100 {
		t.Fatalf("pbs content differs between nodes or is empty (%d bytes)", len(a))
	}
	st := list(t, get(t, ts, "/nodes/alpha-pve1/storage"))
	if len(st) < 4 {
		t.Fatalf("node storage: %v", st)
	}
	labs, err := pve.NewLab(pve.Options{Scale: 30, Seed: 3})
	if err != nil || len(labs) != 3 || labs[2].Name() != "pve" {
		t.Fatalf("NewLab: %v %d", err, len(labs))
	}
	solo := httptest.NewServer(labs[2])
	defer solo.Close()
	if r := get(t, solo, "/cluster/config/join"); r.status != 500 || r.reason != "node is not in a cluster, no join info available!" {
		t.Fatalf("standalone join: %d %q", r.status, r.reason)
	}
}

func proxmoxClient(ts *httptest.Server) *proxmox.Client {
	id, secret, _ := strings.Cut(pve.DefaultToken, "=")
	return proxmox.NewClient(ts.URL+"/api2/json", proxmox.WithAPIToken(id, secret), proxmox.WithHTTPClient(ts.Client()))
}

// TestGoProxmoxDecodes reads the simulator through go-proxmox v0.8.2, the library our
// adapter uses, over HTTPS: both the shared fixture and a generated lab must decode.
func TestGoProxmoxDecodes(t *testing.T) {
	fix, err := pve.New(pve.Options{FixturesFile: sharedFixture})
	if err != nil {
		t.Fatal(err)
	}
	gen, err := pve.New(pve.Options{Scale: 120, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	for name, srv := range map[string]*pve.Server{"fixture": fix, "generated": gen} {
		t.Run(name, func(t *testing.T) {
			ts := httptest.NewTLSServer(srv)
			defer ts.Close()
			ctx := context.Background()
			c := proxmoxClient(ts)
			if _, err := c.Version(ctx); err != nil {
				t.Fatalf("version: %v", err)
			}
			cl, err := c.Cluster(ctx)
			if err != nil {
				t.Fatalf("cluster: %v", err)
			}
			vms, err := cl.Resources(ctx, "vm")
			if err != nil || len(vms) == 0 {
				t.Fatalf("resources: %v (%d)", err, len(vms))
			}
			if _, err := cl.Backups(ctx); err != nil {
				t.Fatalf("backup jobs: %v", err)
			}
			nodes, err := c.Nodes(ctx)
			if err != nil || len(nodes) == 0 {
				t.Fatalf("nodes: %v", err)
			}
			var vmNode string
			var vmid uint64
			for _, r := range vms {
				if r.Type == "qemu" {
					vmNode, vmid = r.Node, r.VMID
					break
				}
			}
			node, err := c.Node(ctx, vmNode)
			if err != nil {
				t.Fatalf("node: %v", err)
			}
			if _, err := node.Networks(ctx); err != nil {
				t.Fatalf("networks: %v", err)
			}
			var conf proxmox.VirtualMachineConfig
			if err := c.Get(ctx, "/nodes/"+vmNode+"/qemu/"+itoa(vmid)+"/config", &conf); err != nil {
				t.Fatalf("config: %v", err)
			}
			if len(conf.Nets) == 0 && name == "generated" {
				t.Fatal("config decoded without nets")
			}
			storages, err := node.Storages(ctx)
			if err != nil || len(storages) == 0 {
				t.Fatalf("storages: %v", err)
			}
			for _, st := range storages {
				content, err := st.GetContent(ctx)
				if err != nil {
					t.Fatalf("content of %s: %v", st.Name, err)
				}
				_ = content
			}
			var backups []proxmox.StorageContent
			if err := c.GetWithParams(ctx, "/nodes/"+vmNode+"/storage/"+storages[0].Name+"/content", map[string]string{"content": "backup"}, &backups); err != nil {
				t.Fatalf("content?content=backup: %v", err)
			}
			vm, err := node.VirtualMachine(ctx, int(vmid))
			if err != nil {
				t.Fatalf("virtual machine: %v", err)
			}
			if _, err := vm.Snapshots(ctx); err != nil {
				t.Fatalf("snapshots: %v", err)
			}
		})
	}
	// the PVE reason phrase reaches go-proxmox's error
	ts := httptest.NewTLSServer(fix)
	defer ts.Close()
	err = proxmoxClient(ts).Get(context.Background(), "/nodes/pve02/qemu/105/agent/network-get-interfaces", &json.RawMessage{})
	if err == nil || !strings.Contains(err.Error(), "VM 105 is not running") {
		t.Fatalf("agent error through go-proxmox: %v", err)
	}
}

func itoa(u uint64) string { b, _ := json.Marshal(u); return string(b) }

func TestMutations(t *testing.T) {
	s, ts := fixtureServer(t, sharedFixture)
	mustOK := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // keep reading while mutating
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = get(t, ts, "/cluster/resources")
			}
		}
	}()
	mustOK(s.RenameGuest(103, "web-renamed"))
	mustOK(s.SetGuestMemory(103, 8192))
	mustOK(s.MigrateGuest(103, "pve03"))
	mustOK(s.StopGuest(104))
	mustOK(s.StartGuest(105))
	mustOK(s.RemoveGuest(110))
	volid, err := s.AddBackup(106, "nfs-backup", time.Date(2026, 2, 1, 2, 0, 0, 0, time.UTC))
	mustOK(err)
	mustOK(s.AddSnapshot(106, "pre-test", "made by a test", time.Unix(1770000000, 0)))
	close(stop)
	wg.Wait()

	if !errors.Is(s.RenameGuest(4242, "x"), pve.ErrNoGuest) {
		t.Fatal("rename of unknown guest did not return ErrNoGuest")
	}
	if err := s.MigrateGuest(101, "nowhere"); err == nil {
		t.Fatal("migrate to unknown node accepted")
	}
	conf := get(t, ts, "/nodes/pve03/qemu/103/config").body["data"].(map[string]any)
	if conf["name"] != "web-renamed" || conf["memory"] != "8192" {
		t.Fatalf("config after rename/memory/migrate: %v", conf)
	}
	if r := get(t, ts, "/nodes/pve01/qemu/103/config"); r.status != 500 {
		t.Fatalf("old node still serves migrated config: %d", r.status)
	}
	if n := len(list(t, get(t, ts, "/nodes/pve03/qemu/103/snapshot"))); n != 2 {
		t.Fatalf("snapshots did not move: %d", n)
	}
	res := map[float64]map[string]any{}
	for _, e := range list(t, get(t, ts, "/cluster/resources")) {
		if id, ok := e["vmid"].(float64); ok {
			res[id] = e
		}
	}
	if res[103]["node"] != "pve03" || res[103]["maxmem"] != float64(8192<<20) || res[104]["status"] != "stopped" || res[105]["status"] != "running" {
		t.Fatalf("resources after mutations: 103=%v 104=%v 105=%v", res[103], res[104], res[105])
	}
	if _, still := res[110]; still || len(res) != 9 {
		t.Fatalf("removed guest still listed (%d guests)", len(res))
	}
	for _, n := range []string{"pve01", "pve02", "pve03"} {
		if !strings.Contains(get(t, ts, "/nodes/"+n+"/storage/nfs-backup/content").raw, volid) {
			t.Fatalf("backup %s not listed on shared storage of %s", volid, n)
		}
	}
	snaps := list(t, get(t, ts, "/nodes/pve03/qemu/106/snapshot"))
	if len(snaps) != 2 || snaps[0]["name"] != "grafana-10-install" || snaps[1]["name"] != "pre-test" {
		t.Fatalf("snapshots after add: %v", snaps)
	}
	if tasks := get(t, ts, "/nodes/pve01/tasks?typefilter=qmigrate"); len(list(t, tasks)) != 1 {
		t.Fatalf("migrate task not logged: %s", tasks.raw)
	}
}

func TestMutationsGenerated(t *testing.T) {
	s, ts := genServer(t, 40, 9)
	vms := list(t, get(t, ts, "/cluster/resources?type=vm"))
	id := int(vms[0]["vmid"].(float64))
	if err := s.AddSnapshot(id, "snap-x", "", time.Unix(1770000000, 0)); err != nil {
		t.Fatal(err)
	}
	path := "/nodes/" + vms[0]["node"].(string) + "/" + vms[0]["type"].(string) + "/" + itoa(uint64(id)) + "/snapshot"
	snaps := list(t, get(t, ts, path))
	cur := snaps[len(snaps)-1]
	if cur["name"] != "current" || cur["parent"] != "snap-x" {
		t.Fatalf("current does not follow the new snapshot: %v", snaps)
	}
}

func TestFaults(t *testing.T) {
	statuses := func(seed int64) []int {
		s, ts := genServer(t, 10, 1)
		s.SetFaults(pve.Faults{ErrorRate: 0.5, Seed: seed})
		var out []int
		for i := 0; i < 40; i++ {
			out = append(out, get(t, ts, "/version").status)
		}
		return out
	}
	a, b := statuses(11), statuses(11)
	seen := map[int]bool{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different fault sequence at %d: %v vs %v", i, a, b)
		}
		seen[a[i]] = true
	}
	for _, code := range []int{200, 500, 502, 503, 429} {
		if !seen[code] {
			t.Errorf("status %d never drawn in %v", code, a)
		}
	}

	s, ts := genServer(t, 10, 1)
	s.SetFaults(pve.Faults{ResetRate: 1})
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api2/json/version", nil)
	req.Header.Set("Authorization", "PVEAPIToken="+pve.DefaultToken)
	if res, err := ts.Client().Do(req); err == nil {
		res.Body.Close()
		t.Fatal("reset fault answered")
	}
	s.SetFaults(pve.Faults{SlowBodyRate: 1, SlowBody: 8 * time.Millisecond, Latency: time.Millisecond, Jitter: time.Millisecond})
	if r := get(t, ts, "/cluster/resources"); r.status != 200 || len(list(t, r)) == 0 {
		t.Fatalf("slow body: %d", r.status)
	}
	f := s.Stats().Faults
	if f["reset"] != 1 || f["slow"] != 1 {
		t.Fatalf("fault counters %v", f)
	}
}

func TestStats(t *testing.T) {
	_, ts := fixtureServer(t, sharedFixture)
	_ = get(t, ts, "/nodes/pve01/qemu/101/config")
	_ = get(t, ts, "/nodes/pve02/qemu/104/config")
	_ = get(t, ts, "/nope")
	var st pve.Stats
	r := do(t, ts, http.MethodGet, "/_lab/stats", nil, nil)
	if err := json.Unmarshal([]byte(r.raw), &st); err != nil {
		t.Fatal(err)
	}
	if st.Requests["GET /nodes/{node}/{type}/{vmid}/config"] != 2 || st.Requests["GET (unmatched)"] != 1 || st.Total != 3 {
		t.Fatalf("stats %+v", st)
	}
	if r := do(t, ts, http.MethodPost, "/_lab/stats/reset", nil, nil); r.status != http.StatusNoContent {
		t.Fatalf("reset: %d", r.status)
	}
	r = do(t, ts, http.MethodGet, "/_lab/stats", nil, nil)
	if err := json.Unmarshal([]byte(r.raw), &st); err != nil || st.Total != 0 {
		t.Fatalf("after reset: %+v %v", st, err)
	}
}

func TestServeTLS(t *testing.T) {
	s, err := pve.New(pve.Options{Scale: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeTLS(ctx, ln, nil) }()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	req, _ := http.NewRequest(http.MethodGet, "https://"+ln.Addr().String()+"/api2/json/version", nil)
	req.Header.Set("Authorization", "PVEAPIToken="+pve.DefaultToken)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `"release"`) || res.Proto != "HTTP/1.1" {
		t.Fatalf("https: %d %s %s", res.StatusCode, res.Proto, body)
	}
	leaf := res.TLS.PeerCertificates[0]
	if leaf.Issuer.String() != leaf.Subject.String() || len(pve.Fingerprint(leaf)) != 95 {
		t.Fatalf("certificate is not self-signed: %v", leaf.Issuer)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ServeTLS after cancel: %v", err)
	}
}
