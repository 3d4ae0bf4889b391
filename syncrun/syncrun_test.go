package syncrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/proxbox/proxbox/lab"
	"github.com/proxbox/proxbox/netbox/getcache"
	"github.com/proxbox/proxbox/proxmox"
	"github.com/proxbox/proxbox/store"
	pbsync "github.com/proxbox/proxbox/sync"
)

type harness struct {
	lab    *lab.Lab
	store  *store.Store
	runner *Runner
	cancel context.CancelFunc
}

const fixture = "../testdata/fixtures/pve/netbox-proxbox-e2e-cluster.json"

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newLabHarness(t, lab.Config{PVEListen: "127.0.0.1:0", NetBoxListen: "127.0.0.1:0", PVEFixtures: fixture})
}

// newLabHarness is newHarness on a lab of the given configuration.
func newLabHarness(t *testing.T, cfg lab.Config) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l, err := lab.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); l.Wait(); st.Close() })
	nb := l.Info.NetBox
	if _, err := st.CreateNetBoxEndpoint(ctx, store.NetBoxEndpoint{Name: "lab", IPAddress: nb.Host, Port: nb.Port, TokenVersion: "v1", Token: store.Secret(nb.Token)}); err != nil {
		t.Fatal(err)
	}
	p := l.Info.PVE[0]
	user, name, _ := strings.Cut(p.TokenID, "!")
	if _, err := st.CreateProxmoxEndpoint(ctx, store.ProxmoxEndpoint{Name: "PVE (nb:1)", IPAddress: p.Host, Port: p.Port, Username: user, TokenName: name, TokenValue: store.Secret(p.TokenSecret), VerifySSL: true}); err != nil {
		t.Fatal(err)
	}
	cache := getcache.New(getcache.Config{})
	r := New(Config{Store: st, Cache: cache, PVEConf: func(ep store.ProxmoxEndpoint) proxmox.Config {
		return proxmox.Config{BaseURL: "https://" + ep.IPAddress + ":" + itoa(ep.Port), TokenID: ep.Username + "!" + ep.TokenName, TokenSecret: ep.TokenValue.Reveal(), VerifySSL: true, RootCAs: l.PVERoots}
	}})
	return &harness{lab: l, store: st, runner: r, cancel: cancel}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestFullRunIsRecordedAndSteadyStateWritesNothing(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	run, err := h.runner.Do(ctx, Request{Trigger: TriggerCLI})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := run.Result()
	if err != nil || sum == nil || !sum.OK {
		t.Fatalf("first run: %+v %v", sum, err)
	}
	if got := h.lab.NetBox.Count("virtualization.virtualmachine"); got != 10 {
		t.Fatalf("VMs in NetBox: %d", got)
	}
	rec, err := h.store.Run(ctx, run.ID)
	if err != nil || rec.Status != "ok" || len(rec.Stages) == 0 || rec.FinishedAt.IsZero() {
		t.Fatalf("stored run: %+v %v", rec, err)
	}
	// The stored summary carries what each endpoint's read found.
	var stored struct {
		Inventory map[string]EndpointInventory `json:"inventory"`
		Objects   map[string]any               `json:"objects"`
	}
	if err := json.Unmarshal(rec.Summary, &stored); err != nil || len(stored.Inventory) != 1 || stored.Objects == nil {
		t.Fatalf("stored summary: %v, inventory %+v", err, stored.Inventory)
	}
	for _, inv := range stored.Inventory {
		if inv.Cluster == "" || inv.Nodes == 0 || inv.VMs+inv.Containers != 10 || !inv.Complete {
			t.Errorf("inventory %+v, want a named cluster, nodes and the 10 guests", inv)
		}
	}
	run2, _ := h.runner.Do(ctx, Request{Trigger: TriggerCLI})
	sum2, _ := run2.Result()
	if sum2.NetBox.Writes != 0 {
		t.Fatalf("steady run wrote %d times", sum2.NetBox.Writes)
	}
}

func TestSameEndpointNeverRunsTwiceAtOnce(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var mu gosync.Mutex
	inRun, maxIn := 0, 0
	var waited bool
	events := func(e pbsync.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Type {
		case pbsync.EventRunStarted:
			inRun++
			maxIn = max(maxIn, inRun)
		case pbsync.EventRunFinished:
			inRun--
		case pbsync.EventWarning:
			if strings.Contains(e.Message, "waiting") {
				waited = true
			}
		}
	}
	var wg gosync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run, err := h.runner.Do(ctx, Request{Trigger: TriggerPlugin, Stages: []pbsync.Stage{pbsync.StageDevices}, Events: events})
			if err != nil {
				t.Error(err)
				return
			}
			if s, _ := run.Result(); s == nil || !s.OK {
				t.Errorf("run %d: %+v", run.ID, s)
			}
		}()
	}
	wg.Wait()
	if maxIn != 1 {
		t.Fatalf("%d runs of one endpoint overlapped", maxIn)
	}
	if !waited {
		t.Log("no run had to wait (they did not overlap in time)")
	}
}

func TestWatchAndCancel(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	run, err := h.runner.Start(ctx, Request{Trigger: TriggerDashboard})
	if err != nil {
		t.Fatal(err)
	}
	ch, stop := run.Watch()
	defer stop()
	var types []pbsync.EventType
	for e := range ch {
		types = append(types, e.Type)
	}
	if len(types) == 0 || types[len(types)-1] != pbsync.EventRunFinished {
		t.Fatalf("events: %v", types)
	}
	// A late watcher gets the whole history and a closed channel.
	late, _ := run.Watch()
	n := 0
	for range late {
		n++
	}
	if n != len(types) {
		t.Fatalf("late watcher got %d of %d events", n, len(types))
	}
	// Cancel a run right away: it ends recorded as cancelled.
	cctx, cancel := context.WithCancel(ctx)
	var once gosync.Once
	run2, err := h.runner.Do(cctx, Request{Trigger: TriggerPlugin, Events: func(e pbsync.Event) {
		if e.Type == pbsync.EventStageStarted {
			once.Do(cancel) // the client disconnects mid-run
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	<-run2.Done()
	rec, _ := h.store.Run(ctx, run2.ID)
	if rec.Status != "cancelled" {
		t.Fatalf("cancelled run recorded as %q", rec.Status)
	}
	if _, ok := h.runner.Lookup(run2.ID); !ok {
		t.Fatal("finished run not found by Lookup")
	}
}

func TestNoEndpoints(t *testing.T) {
	st, _ := store.Open(context.Background(), t.TempDir(), store.Options{})
	defer st.Close()
	r := New(Config{Store: st})
	if _, err := r.Do(context.Background(), Request{}); err != ErrNoNetBox {
		t.Fatalf("want ErrNoNetBox, got %v", err)
	}
}

func TestStagesOfOneJobShareTheProxmoxRead(t *testing.T) {
	h := newHarness(t)
	h.runner.cfg.JobGap = 200 * time.Millisecond
	ctx := context.Background()
	stage := func() int64 {
		run, err := h.runner.Do(ctx, Request{Trigger: TriggerPlugin, Stages: []pbsync.Stage{pbsync.StageDevices}, ReuseSnapshot: true})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := run.Result()
		return s.Proxmox.Requests
	}
	if n := stage(); n == 0 {
		t.Fatal("the first stage of a job read nothing from Proxmox")
	}
	if n := stage(); n != 0 {
		t.Fatalf("the next stage of the same job read Proxmox again (%d requests)", n)
	}
	time.Sleep(300 * time.Millisecond) // a new job, after a pause longer than the gap
	if n := stage(); n == 0 {
		t.Fatal("a new job reused the previous job's snapshot")
	}
}

func TestCloseCancelsRunsAndRefusesNewOnes(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	started := make(chan struct{})
	var once gosync.Once
	run, err := h.runner.Start(ctx, Request{Trigger: TriggerDashboard, Events: func(e pbsync.Event) {
		if e.Type == pbsync.EventStageStarted {
			once.Do(func() { close(started) })
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := h.runner.Close(cctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-run.Done():
	default:
		t.Fatal("Close returned before the run ended")
	}
	rec, _ := h.store.Run(ctx, run.ID)
	if rec.Status != "cancelled" && rec.Status != "ok" { // it may have finished just before the cancel landed
		t.Fatalf("run recorded as %q", rec.Status)
	}
	if rec.FinishedAt.IsZero() {
		t.Fatal("the run's end was not recorded before Close returned")
	}
	if _, err := h.runner.Do(ctx, Request{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("a run after Close: %v", err)
	}
}

// TestRenamedPluginEndpointKeepsItsCluster: the plugin pushes "<name> (nb:<pk>)";
// renaming the row in NetBox must not orphan the cluster or duplicate the VMs.
func TestRenamedPluginEndpointKeepsItsCluster(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	run, _ := h.runner.Do(ctx, Request{Trigger: TriggerPlugin})
	if s, _ := run.Result(); s == nil || !s.OK {
		t.Fatalf("first run: %+v", s)
	}
	eps, _ := h.store.ProxmoxEndpoints(ctx)
	name := "Renamed cluster (nb:1)"
	if _, err := h.store.UpdateProxmoxEndpoint(ctx, eps[0].ID, store.ProxmoxEndpointPatch{Name: &name}); err != nil {
		t.Fatal(err)
	}
	run, _ = h.runner.Do(ctx, Request{Trigger: TriggerPlugin})
	s, _ := run.Result()
	if s == nil || !s.OK || s.NetBox.Writes != 0 {
		t.Fatalf("after the rename: %+v", s)
	}
	if n := h.lab.NetBox.Count("virtualization.cluster"); n != 1 {
		t.Fatalf("%d clusters after the rename", n)
	}
}

// TestDomainFallsBackToTheIPAddress: an endpoint whose domain does not
// answer is read through its IP address, as proxbox-api did.
func TestDomainFallsBackToTheIPAddress(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	eps, _ := h.store.ProxmoxEndpoints(ctx)
	down := "::1" // the lab listens on 127.0.0.1 only: nothing answers here
	if _, err := h.store.UpdateProxmoxEndpoint(ctx, eps[0].ID, store.ProxmoxEndpointPatch{Domain: &down}); err != nil {
		t.Fatal(err)
	}
	base := h.runner.cfg.PVEConf
	h.runner.cfg.PVEConf = func(ep store.ProxmoxEndpoint) proxmox.Config {
		c := base(ep)
		c.BaseURL = "https://" + net.JoinHostPort(ep.Domain, itoa(ep.Port))
		c.Retries = 1
		return c
	}
	run, err := h.runner.Do(ctx, Request{Trigger: TriggerCLI})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := run.Result(); s == nil || !s.OK || h.lab.NetBox.Count("virtualization.virtualmachine") != 10 {
		t.Fatalf("sync through the IP fallback: %+v", s)
	}
}

// TestTwoProcessesNeverSyncTheSameEndpointAtOnce: a second runner on the same
// store (a `sync --once` beside `serve`) waits for the first one's lease.
func TestTwoProcessesNeverSyncTheSameEndpointAtOnce(t *testing.T) {
	h := newHarness(t)
	other := New(h.runner.cfg) // another process: its own locks, its own holder
	ctx := context.Background()
	gate, inRun := make(chan struct{}), make(chan struct{})
	var once gosync.Once
	firstDone := make(chan struct{})
	go func() {
		defer close(firstDone)
		h.runner.Do(ctx, Request{Trigger: TriggerSchedule, Stages: []pbsync.Stage{pbsync.StageDevices}, Events: func(e pbsync.Event) {
			if e.Type == pbsync.EventStageStarted {
				once.Do(func() { close(inRun); <-gate })
			}
		}})
	}()
	<-inRun
	waiting := make(chan struct{})
	var wonce gosync.Once
	secondDone := make(chan *pbsync.Summary, 1)
	go func() {
		run, err := other.Do(ctx, Request{Trigger: TriggerCLI, Stages: []pbsync.Stage{pbsync.StageDevices}, Events: func(e pbsync.Event) {
			if e.Type == pbsync.EventWarning && strings.Contains(e.Message, "another proxbox process") {
				wonce.Do(func() { close(waiting) })
			}
		}})
		if err != nil {
			t.Error(err)
			secondDone <- nil
			return
		}
		s, _ := run.Result()
		secondDone <- s
	}()
	select {
	case <-waiting:
	case s := <-secondDone:
		t.Fatalf("the second process synced while the first held the endpoint: %+v", s)
	case <-time.After(30 * time.Second):
		close(gate)
		t.Fatal("the second process neither waited nor ran")
	}
	close(gate)
	<-firstDone
	if s := <-secondDone; s == nil || !s.OK {
		t.Fatalf("second process after the first: %+v", s)
	}
}

// TestTwoGuestsWithOneName: Proxmox allows it, NetBox does not; both land.
func TestTwoGuestsWithOneName(t *testing.T) {
	h := newHarness(t)
	for _, id := range []int{103, 104} {
		if err := h.lab.PVE[0].RenameGuest(id, "twin"); err != nil {
			t.Fatal(err)
		}
	}
	run, err := h.runner.Do(context.Background(), Request{Trigger: TriggerCLI})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := run.Result(); s == nil || !s.OK {
		t.Fatalf("sync with duplicate names: %+v", s)
	}
	for _, name := range []string{"twin", "twin (104)"} {
		if vms, _ := h.lab.NetBox.List("virtualization.virtualmachine", url.Values{"name": {name}}); len(vms) != 1 {
			t.Errorf("VM %q: %d found", name, len(vms))
		}
	}
}

// TestStoredRunIsBounded checks the stored record of a run: a summary listing at most
// ChangesPerKind changes per model with the counts of those left out, the full change list
// stored apart, and a history capped by size.
func TestStoredRunIsBounded(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.runner.cfg.ChangesPerKind = 2
	run, sum, stored := h.firstRun(t)
	perModel := map[string]int{}
	for _, c := range stored.Plan.Changes {
		perModel[c.Model]++
	}
	omitted := 0
	for m, n := range perModel {
		if n > 2 {
			t.Errorf("%d changes of %s stored, want at most 2", n, m)
		}
		omitted += stored.Plan.Omitted[m]
	}
	if stored.Plan.Total != sum.Plan.Len() || len(stored.Plan.Changes)+omitted != stored.Plan.Total || omitted == 0 {
		t.Fatalf("stored plan: %d listed, %d omitted, total %d; the run made %d changes",
			len(stored.Plan.Changes), omitted, stored.Plan.Total, sum.Plan.Len())
	}
	if stored.Objects["virtual_machines"] == nil || stored.Objects["virtual_machines"].Created != 10 {
		t.Fatalf("stored counts: %+v", stored.Objects["virtual_machines"])
	}
	raw, err := h.store.RunChanges(ctx, run.ID)
	var all []pbsync.Change
	if err != nil || json.Unmarshal(raw, &all) != nil || len(all) != sum.Plan.Len() {
		t.Fatalf("full change list: %d changes, %v; want %d", len(all), err, sum.Plan.Len())
	}
	// A steady run changes nothing: its summary is complete, no list is stored apart. A
	// history cap of one byte keeps only the newest run.
	h.runner.cfg.HistoryBytes = 1
	run2, _ := h.runner.Do(ctx, Request{Trigger: TriggerCLI})
	if _, err := run2.Result(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.RunChanges(ctx, run2.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("steady run's change list: %v, want none stored", err)
	}
	if _, err := h.store.Run(ctx, run.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the older run outlived the history cap: %v", err)
	}
	if _, err := h.store.RunChanges(ctx, run.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the older run's change list outlived it: %v", err)
	}
}

// A stored endpoint keeps its NetBox identity (its key) across renames, and
// a run over some endpoints never hands another stored endpoint's cluster to
// one of them, even when both reach the same Proxmox (issue 12).
func TestStoredEndpointKeyAndReservedClusters(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	eps, _ := h.store.ProxmoxEndpoints(ctx)
	a := eps[0]
	run, _ := h.runner.Do(ctx, Request{Trigger: TriggerCLI})
	if s, _ := run.Result(); s == nil || !s.OK {
		t.Fatalf("first run: %+v", s)
	}
	renamed := "beta" // without the plugin's "(nb:1)" too: the key stays
	a, err := h.store.UpdateProxmoxEndpoint(ctx, a.ID, store.ProxmoxEndpointPatch{Name: &renamed})
	if err != nil || Label(a) != "nb:1" {
		t.Fatalf("label after a rename: %q %v", Label(a), err)
	}
	run, _ = h.runner.Do(ctx, Request{Trigger: TriggerCLI})
	if s, _ := run.Result(); s == nil || !s.OK || s.NetBox.Writes != 0 {
		t.Fatalf("after a rename: %+v", s)
	}
	// A second endpoint at the same Proxmox, synced alone: a's cluster is
	// not adoptable (a is stored, only left out of this run).
	b := a
	b.Name = "same-proxmox"
	b, err = h.store.CreateProxmoxEndpoint(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	run, _ = h.runner.Do(ctx, Request{Trigger: TriggerCLI, EndpointIDs: []int64{b.ID}})
	run.Result()
	labels := map[string]bool{}
	cls, err := h.lab.NetBox.List("virtualization.cluster", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cls {
		cf, _ := c["custom_fields"].(map[string]any)
		labels[fmt.Sprint(cf["proxmox_endpoint"])] = true
	}
	if !labels[Label(a)] || !labels["same-proxmox"] || len(labels) != 2 {
		t.Fatalf("cluster labels %v, want %q kept and %q new", labels, Label(a), "same-proxmox")
	}
}

// A run of more changes than the sync keeps as structs (a first run of 300 guests makes
// about 1,300) stores them all: the change list stored apart is, byte for byte, the JSON
// of every change of the run's summary (Plan.All yields them in that order), and the
// stored summary lists the first changes of each model with the counts of the others.
func TestStoredLargeRunKeepsEveryChange(t *testing.T) {
	h := newLabHarness(t, lab.Config{PVEListen: "127.0.0.1:0", NetBoxListen: "127.0.0.1:0", Scale: 300, Seed: 3})
	ctx := context.Background()
	run, sum, got := h.firstRun(t)
	n := sum.Plan.Len()
	if n <= len(sum.Plan.Changes) {
		t.Fatalf("the run's %d changes are all kept as structs: raise Scale", n)
	}
	var want strings.Builder
	if err := sum.Plan.WriteChangesJSON(&want); err != nil {
		t.Fatal(err)
	}
	raw, err := h.store.RunChanges(ctx, run.ID)
	if err != nil || string(raw) != want.String() {
		t.Fatalf("stored change list (%d bytes, %v) is not the run's (%d bytes)", len(raw), err, want.Len())
	}
	var stored []json.RawMessage
	if err := json.Unmarshal(raw, &stored); err != nil || len(stored) != n {
		t.Fatalf("stored %d changes (%v), want %d", len(stored), err, n)
	}
	i := 0
	for c, err := range sum.Plan.All() {
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := json.Marshal(c); string(b) != string(stored[i]) {
			t.Fatalf("change %d: %s, stored %s", i, b, stored[i])
		}
		i++
	}
	listed, omitted := len(got.Plan.Changes), 0
	for _, k := range got.Plan.Omitted {
		omitted += k
	}
	if got.Plan.Total != n || listed+omitted != n || omitted == 0 || listed > pbsync.StoredChangesPerModel*len(got.Objects) {
		t.Errorf("stored plan: %d listed, %d omitted, total %d; the run made %d changes", listed, omitted, got.Plan.Total, n)
	}
}

// firstRun runs a sync that must succeed and returns it with its summary and the summary
// the store keeps.
func (h *harness) firstRun(t *testing.T) (*Run, *pbsync.Summary, pbsync.Summary) {
	t.Helper()
	ctx := context.Background()
	run, err := h.runner.Do(ctx, Request{Trigger: TriggerCLI})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := run.Result()
	if err != nil || sum == nil || !sum.OK || sum.Plan == nil {
		t.Fatalf("first run: %+v %v", sum, err)
	}
	rec, err := h.store.Run(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	var stored pbsync.Summary
	if err := json.Unmarshal(rec.Summary, &stored); err != nil || stored.Plan == nil {
		t.Fatalf("stored summary: %v", err)
	}
	return run, sum, stored
}
