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
	"github.com/proxbox/proxbox/lab/nbtest"
	nblab "github.com/proxbox/proxbox/lab/netbox"
	pvelab "github.com/proxbox/proxbox/lab/pve"
	"github.com/proxbox/proxbox/netbox"
	"github.com/proxbox/proxbox/proxmox"
	pbsync "github.com/proxbox/proxbox/sync"
	"github.com/proxbox/proxbox/sync/nbadapter"
	"github.com/proxbox/proxbox/syncrun"
)

const fixture = "../../testdata/fixtures/pve/netbox-proxbox-e2e-cluster.json"
const nbToken = "0123456789abcdef0123456789abcdef01234567"

type harness struct {
	t   testing.TB
	nb  *nblab.Server // nil against a real NetBox (realNetBox)
	nbc *netbox.Client
	eng *pbsync.Engine
	pve []*pvelab.Server
	tg  []pbsync.Target
	// readAll keeps reading the plugin-only Proxmox data on a NetBox without
	// the plugin (what proxbox did before; for comparison).
	readAll bool
}

func newHarness(t testing.TB, pves ...*pvelab.Server) *harness {
	t.Helper()
	return newHarnessWith(t, nblab.Options{}, proxmox.DefaultReadOptions, pves...)
}

// newHarnessWith serves NetBox with nbOpts (tokens and seed set here) and reads
// every Proxmox simulator with read().
func newHarnessWith(t testing.TB, nbOpts nblab.Options, read func() proxmox.ReadOptions, pves ...*pvelab.Server) *harness {
	t.Helper()
	h := &harness{t: t, pve: pves}
	var c *netbox.Client
	var err error
	if rn := nbtest.FromEnv(t); rn.URL != "" {
		if nbOpts.DisablePlugin {
			t.Skip("needs a NetBox without netbox-proxbox: the real kit of this run has it")
		}
		rn.Reset(t)
		c, err = netbox.New(netbox.Config{URL: rn.URL, Token: rn.Token, RetryBase: 100 * time.Millisecond, MaxBackoff: 2 * time.Second})
	} else {
		nbOpts.Tokens, nbOpts.Seed = []nblab.Token{{Value: nbToken}}, 1
		h.nb = nblab.New(nbOpts)
		nbs := httptest.NewServer(h.nb)
		t.Cleanup(nbs.Close)
		c, err = netbox.New(netbox.Config{URL: nbs.URL, Token: nbToken, RetryBase: time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	}
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
			if pbsync.PluginAbsent(ctx) && !h.readAll {
				return pc.Read(ctx, ep, syncrun.WithoutPluginReads(read())) // as syncrun and sync --once do
			}
			return pc.Read(ctx, ep, read())
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
		t.Fatalf("fixture: %v", err)
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

	var s2 *pbsync.Summary
	written := writes(h, func() { s2 = h.sync(pbsync.Options{}) })
	mustOK(t, s2)
	if s2.NetBox.Writes != 0 || written != 0 {
		var plan strings.Builder
		_ = s2.Plan.Print(&plan)
		t.Errorf("steady run wrote: %d write requests, %d objects\n%s", s2.NetBox.Writes, written, plan.String())
	}
	t.Logf("steady run: netbox %d requests, %d writes", s2.NetBox.Requests, s2.NetBox.Writes)
}

func TestSummaryObjectsOfFixture(t *testing.T) {
	h := newHarness(t, fixtureServer(t))
	s := h.sync(pbsync.Options{})
	mustOK(t, s)
	b, _ := json.MarshalIndent(s.Objects, "", "  ")
	t.Logf("objects: %s\nwarnings: %v", b, s.Warnings)
	for _, typ := range []string{"virtual_machines", "devices", "clusters", "vm_interfaces", "virtual_disks"} {
		if s.Objects[typ] == nil || s.Objects[typ].Created == 0 {
			t.Errorf("%s: nothing created", typ)
		}
	}
}

// writes counts the objects f makes NetBox write: the simulator's count, or,
// against a real NetBox, the client's write requests (each test's writes here
// are single objects or none).
func writes(h *harness, f func()) int64 {
	if h.nb == nil {
		before := h.nbc.Stats().Writes
		f()
		return h.nbc.Stats().Writes - before
	}
	before := h.nb.Stats().ObjectsWritten
	f()
	return h.nb.Stats().ObjectsWritten - before
}

func TestRenameMigrateMemoryKeepIdentity(t *testing.T) {
	p := fixtureServer(t)
	h := newHarness(t, p)
	mustOK(t, h.sync(pbsync.Options{}))
	id := h.vms()["qemu/101"]["id"]

	if err := p.RenameGuest(101, "renamed-101"); err != nil {
		t.Fatal(err)
	}
	var s *pbsync.Summary
	if n := writes(h, func() { s = h.sync(pbsync.Options{}) }); n != 1 {
		t.Errorf("rename wrote %d objects, want 1", n)
	}
	mustOK(t, s)
	v := h.vms()["qemu/101"]
	if v["id"] != id || v["name"] != "renamed-101" {
		t.Errorf("after rename: id %v (want %v) name %v", v["id"], id, v["name"])
	}

	if err := p.SetGuestMemory(101, 4096); err != nil {
		t.Fatal(err)
	}
	if n := writes(h, func() { s = h.sync(pbsync.Options{}) }); n != 1 || s.NetBox.Writes != 1 {
		t.Errorf("memory change: %d objects in %d write requests, want 1 and 1", n, s.NetBox.Writes)
	}
	if m := jsonStr(h.vms()["qemu/101"]["memory"]); m != "4096" {
		t.Errorf("memory %s, want 4096", m)
	}

	if err := p.MigrateGuest(101, "pve02"); err != nil {
		t.Fatal(err)
	}
	mustOK(t, h.sync(pbsync.Options{}))
	v = h.vms()["qemu/101"]
	if v["id"] != id || v["device"].(map[string]any)["name"] != "pve02" {
		t.Errorf("after migration: id %v device %v", v["id"], v["device"])
	}
}

func TestOrphanPolicy(t *testing.T) {
	p := fixtureServer(t)
	h := newHarness(t, p)
	mustOK(t, h.sync(pbsync.Options{}))
	id := h.vms()["qemu/104"]["id"]
	if err := p.RemoveGuest(104); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	s := h.sync(pbsync.Options{Orphans: pbsync.OrphansKeep, Now: clock})
	mustOK(t, s)
	if v := h.vms()["qemu/104"]; v["status"].(map[string]any)["value"] != "active" {
		t.Errorf("keep: status %v", v["status"])
	}

	s = h.sync(pbsync.Options{Now: clock}) // default: mark
	mustOK(t, s)
	v := h.vms()["qemu/104"]
	if v["id"] != id || v["status"].(map[string]any)["value"] != "offline" || !strings.Contains(jsonStr(v["tags"]), "proxbox-orphan") {
		t.Errorf("mark: %v %v %v", v["id"], v["status"], v["tags"])
	}
	if s.Objects["virtual_machines"].Orphaned != 1 {
		t.Errorf("orphaned count %+v", s.Objects["virtual_machines"])
	}
	if n := writes(h, func() { s = h.sync(pbsync.Options{Now: clock}) }); n != 0 {
		t.Errorf("second mark run wrote %d", n)
	}

	now = now.Add(24 * time.Hour)
	mustOK(t, h.sync(pbsync.Options{Orphans: pbsync.OrphansDelete, Now: clock}))
	if _, ok := h.vms()["qemu/104"]; !ok {
		t.Errorf("delete within grace removed the VM")
	}
	now = now.Add(7 * 24 * time.Hour)
	s = h.sync(pbsync.Options{Orphans: pbsync.OrphansDelete, Now: clock})
	mustOK(t, s)
	if _, ok := h.vms()["qemu/104"]; ok {
		t.Errorf("delete after grace kept the VM")
	}
	if len(h.vms()) != 9 {
		t.Errorf("vms left: %d, want 9", len(h.vms()))
	}
}

func TestTwoEndpointsSameClusterNameAndVMIDs(t *testing.T) {
	h := newHarness(t, fixtureServer(t), fixtureServer(t))
	s := h.sync(pbsync.Options{})
	mustOK(t, s)
	cls := h.list(pbsync.ModelCluster, nil)
	if len(cls) != 2 || cls[0]["name"] == cls[1]["name"] {
		t.Fatalf("clusters: %v", cls)
	}
	if n := len(h.list(pbsync.ModelVM, nil)); n != 20 {
		t.Errorf("vms: %d, want 20", n)
	}
	// Removing a guest on endpoint a orphans only a's VM.
	if err := h.pve[0].RemoveGuest(101); err != nil {
		t.Fatal(err)
	}
	s = h.sync(pbsync.Options{Orphans: pbsync.OrphansDelete, OrphanGrace: -1})
	mustOK(t, s)
	if n := len(h.list(pbsync.ModelVM, nil)); n != 19 {
		t.Errorf("vms after delete on one endpoint: %d, want 19", n)
	}
	if n := writes(h, func() { s = h.sync(pbsync.Options{}) }); n != 0 {
		t.Errorf("steady two-endpoint run wrote %d", n)
	}
}

func TestIncompleteReadSkipsOrphans(t *testing.T) {
	p := fixtureServer(t)
	h := newHarness(t, p)
	mustOK(t, h.sync(pbsync.Options{}))
	inner := h.tg[0].Read
	h.tg[0].Read = func(ctx context.Context) (*inventory.Snapshot, error) {
		s, err := inner(ctx)
		if s != nil {
			s.Guests = s.Guests[:3]
			s.Errors = append(s.Errors, inventory.Problem{Object: "node/pve03", Detail: "node offline"})
		}
		return s, err
	}
	s := h.sync(pbsync.Options{Orphans: pbsync.OrphansDelete, OrphanGrace: -1})
	if len(h.vms()) != 10 {
		t.Errorf("incomplete read deleted VMs: %d left (%v)", len(h.vms()), s.Errors)
	}
}

func TestNetBoxFaultsNoDuplicates(t *testing.T) {
	h := newHarness(t, fixtureServer(t))
	h.needSimulator("fault injection")
	h.nb.SetFaults(nblab.Faults{ErrorRate: 0.3, ErrorCodes: []int{500, 502, 503, 429}, RetryAfter: 1})
	s := h.sync(pbsync.Options{})
	h.nb.SetFaults(nblab.Faults{})
	t.Logf("with faults: ok=%v errors=%v", s.OK, s.Errors)
	s = h.sync(pbsync.Options{})
	mustOK(t, s)
	if n := len(h.vms()); n != 10 {
		t.Errorf("vms: %d, want 10", n)
	}
	if n := len(h.list(pbsync.ModelDisk, nil)); n != 11 {
		t.Errorf("disks: %d, want 11", n)
	}
}

func TestOneRejectedVMOthersLand(t *testing.T) {
	h := newHarness(t, fixtureServer(t))
	mustOK(t, h.sync(pbsync.Options{Stages: []pbsync.Stage{pbsync.StageDevices}}))
	// A user's VM in our cluster holds the name of guest 103: NetBox refuses ours.
	cl := h.list(pbsync.ModelCluster, nil)[0]
	var name string
	inner := h.tg[0].Read
	snap, err := inner(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range snap.Guests {
		if g.VMID == 103 {
			name = g.Name
		}
	}
	h.create(pbsync.ModelVM, map[string]any{"name": name, "cluster": cl["id"]})
	s := h.sync(pbsync.Options{})
	if s.OK || !s.Partial {
		t.Errorf("want partial failure, got ok=%v partial=%v", s.OK, s.Partial)
	}
	if c := s.Objects["virtual_machines"]; c.Created != 9 || c.Failed != 1 {
		t.Errorf("vm counts %+v", c)
	}
	if len(s.Errors) == 0 || !strings.Contains(strings.Join(s.Errors, "\n"), "unique") {
		t.Errorf("errors lack NetBox's reason: %v", s.Errors)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	h := newHarness(t, fixtureServer(t))
	var s *pbsync.Summary
	if n := writes(h, func() { s = h.sync(pbsync.Options{DryRun: true}) }); n != 0 {
		t.Fatalf("dry run wrote %d", n)
	}
	var b strings.Builder
	if err := s.Plan.Print(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "+ create qemu 101") || s.Objects["virtual_machines"].Created != 10 {
		t.Errorf("plan:\n%s", b.String())
	}
}

func TestStagesAlone(t *testing.T) {
	h := newHarness(t, fixtureServer(t))
	var events []pbsync.Event
	s := h.eng.Run(context.Background(), h.tg, pbsync.Options{Stages: []pbsync.Stage{pbsync.StageDevices}, Events: func(e pbsync.Event) { events = append(events, e) }})
	mustOK(t, s)
	if len(h.vms()) != 0 || len(h.list(pbsync.ModelDevice, nil)) != 3 {
		t.Errorf("devices stage alone: %d vms, %d devices", len(h.vms()), len(h.list(pbsync.ModelDevice, nil)))
	}
	if events[0].Type != pbsync.EventRunStarted || events[len(events)-1].Type != pbsync.EventRunFinished {
		t.Errorf("event stream ends: %v ... %v", events[0].Type, events[len(events)-1].Type)
	}
	mustOK(t, h.sync(pbsync.Options{Stages: []pbsync.Stage{pbsync.StageVMs}}))
	mustOK(t, h.sync(pbsync.Options{Stages: []pbsync.Stage{pbsync.StageDisks}}))
	if len(h.vms()) != 10 || len(h.list(pbsync.ModelDisk, nil)) != 11 {
		t.Errorf("vms %d disks %d", len(h.vms()), len(h.list(pbsync.ModelDisk, nil)))
	}
}
