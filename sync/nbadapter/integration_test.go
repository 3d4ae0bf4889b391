package nbadapter_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/proxbox/proxbox/inventory"
	nblab "github.com/proxbox/proxbox/lab/netbox"
	pvelab "github.com/proxbox/proxbox/lab/pve"
	"github.com/proxbox/proxbox/netbox"
	"github.com/proxbox/proxbox/proxmox"
	pbsync "github.com/proxbox/proxbox/sync"
	"github.com/proxbox/proxbox/sync/nbadapter"
)

const fixture = "/work/shared/fixtures/pve/netbox-proxbox-e2e-cluster.json"
const nbToken = "0123456789abcdef0123456789abcdef01234567"

type harness struct {
	t   *testing.T
	nb  *nblab.Server
	nbc *netbox.Client
	eng *pbsync.Engine
	pve []*pvelab.Server
	tg  []pbsync.Target
}

func newHarness(t *testing.T, pves ...*pvelab.Server) *harness {
	t.Helper()
	h := &harness{t: t, pve: pves}
	h.nb = nblab.New(nblab.Options{Tokens: []nblab.Token{{Value: nbToken}}, Seed: 1})
	nbs := httptest.NewServer(h.nb)
	t.Cleanup(nbs.Close)
	c, err := netbox.New(netbox.Config{URL: nbs.URL, Token: nbToken, RetryBase: time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.nbc = c
	h.eng = nbadapter.Engine(c)
	for i, p := range pves {
		ps := httptest.NewServer(p)
		t.Cleanup(ps.Close)
		pc, err := proxmox.New(proxmox.Config{BaseURL: ps.URL, TokenID: pvelab.DefaultToken})
		if err != nil {
			t.Fatal(err)
		}
		ep := inventory.Endpoint{ID: int64(i + 1), Name: "pve-" + string(rune('a'+i)), Host: ps.URL}
		h.tg = append(h.tg, pbsync.Target{Endpoint: ep, Read: func(ctx context.Context) (*inventory.Snapshot, error) {
			return pc.Read(ctx, ep, proxmox.DefaultReadOptions())
		}})
	}
	return h
}

func (h *harness) sync(opt pbsync.Options) *pbsync.Summary {
	h.t.Helper()
	s := h.eng.Run(context.Background(), h.tg, opt)
	return s
}

func (h *harness) list(model string, q url.Values) []map[string]any {
	h.t.Helper()
	rows, err := h.nbc.List(netbox.FreshRead(context.Background()), model, q)
	if err != nil {
		h.t.Fatal(err)
	}
	return rows
}

func (h *harness) vms() map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, v := range h.list(pbsync.ModelVM, url.Values{}) {
		cf, _ := v["custom_fields"].(map[string]any)
		out[jsonStr(cf["proxmox_vm_type"])+"/"+jsonStr(cf["proxmox_vm_id"])] = v
	}
	return out
}

func jsonStr(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

func fixtureServer(t *testing.T) *pvelab.Server {
	s, err := pvelab.New(pvelab.Options{FixturesFile: fixture})
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	return s
}

func mustOK(t *testing.T, s *pbsync.Summary) {
	t.Helper()
	if !s.OK {
		b, _ := json.MarshalIndent(s.Errors, "", " ")
		t.Fatalf("run not ok: %s", b)
	}
}

func TestFixtureClusterFirstAndSteadyRun(t *testing.T) {
	h := newHarness(t, fixtureServer(t))
	s := h.sync(pbsync.Options{})
	mustOK(t, s)
	if n := len(h.list(pbsync.ModelCluster, nil)); n != 1 {
		t.Errorf("clusters: %d, want 1", n)
	}
	if n := len(h.list(pbsync.ModelDevice, nil)); n != 3 {
		t.Errorf("devices: %d, want 3", n)
	}
	vms := h.vms()
	if len(vms) != 10 {
		t.Fatalf("vms: %d, want 10", len(vms))
	}
	v101 := vms["qemu/101"]
	if jsonStr(v101["vcpus"]) != "2" || jsonStr(v101["memory"]) != "2048" || jsonStr(v101["status"].(map[string]any)["value"]) != "active" {
		t.Errorf("vm 101: vcpus %v memory %v status %v", v101["vcpus"], v101["memory"], v101["status"])
	}
	if st := vms["qemu/105"]["status"].(map[string]any)["value"]; st != "offline" {
		t.Errorf("vm 105 status %v, want offline", st)
	}
	lxc := vms["lxc/102"]
	disks := h.list(pbsync.ModelDisk, url.Values{"virtual_machine_id": {jsonStr(lxc["id"])}})
	var sizes []string
	for _, d := range disks {
		sizes = append(sizes, jsonStr(d["size"]))
	}
	if strings.Join(sizes, ",") != "10240,10240" || jsonStr(lxc["disk"]) != "20480" {
		t.Errorf("lxc 102 disks %v, disk %v", sizes, lxc["disk"])
	}
	t.Logf("first run: netbox %d requests, %d writes; proxmox %d requests", s.NetBox.Requests, s.NetBox.Writes, s.Proxmox.Requests)

	before := h.nb.Stats()
	s2 := h.sync(pbsync.Options{})
	mustOK(t, s2)
	after := h.nb.Stats()
	if s2.NetBox.Writes != 0 || after.ObjectsWritten != before.ObjectsWritten {
		var plan strings.Builder
		_ = s2.Plan.Print(&plan)
		t.Errorf("steady run wrote: %d write requests, %d objects\n%s", s2.NetBox.Writes, after.ObjectsWritten-before.ObjectsWritten, plan.String())
	}
	t.Logf("steady run: netbox %d requests, %d writes", s2.NetBox.Requests, s2.NetBox.Writes)
}
