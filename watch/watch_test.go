package watch_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/proxbox/proxbox/inventory"
	nblab "github.com/proxbox/proxbox/lab/netbox"
	pvelab "github.com/proxbox/proxbox/lab/pve"
	"github.com/proxbox/proxbox/netbox"
	"github.com/proxbox/proxbox/proxmox"
	pbsync "github.com/proxbox/proxbox/sync"
	"github.com/proxbox/proxbox/sync/nbadapter"
	"github.com/proxbox/proxbox/watch"
)

const nbToken = "0123456789abcdef0123456789abcdef01234567"

// rig is one generated Proxmox cluster, the NetBox simulator, and a watch
// loop applying through the engine with a warm State, as `proxbox sync
// --watch` does inline.
type rig struct {
	t    testing.TB
	pve  *pvelab.Server
	nb   *nblab.Server
	eng  *pbsync.Engine
	ep   inventory.Endpoint
	pc   *proxmox.Client
	loop *watch.Loop
	w    *watch.Watcher
	runs int
	fail error // when set, applying a change set fails with it
}

func newRig(t testing.TB, guests int) *rig {
	t.Helper()
	r := &rig{t: t}
	var err error
	r.pve, err = pvelab.New(pvelab.Options{Scale: guests, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	ps := httptest.NewServer(r.pve)
	t.Cleanup(ps.Close)
	r.nb = nblab.New(nblab.Options{Tokens: []nblab.Token{{Value: nbToken}}, Seed: 1})
	ns := httptest.NewServer(r.nb)
	t.Cleanup(ns.Close)
	nbc, err := netbox.New(netbox.Config{URL: ns.URL, Token: nbToken, RetryBase: time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r.eng = nbadapter.Engine(nbc)
	r.pc, err = proxmox.New(proxmox.Config{BaseURL: ps.URL, TokenID: pvelab.DefaultToken})
	if err != nil {
		t.Fatal(err)
	}
	r.ep = inventory.Endpoint{ID: 1, Name: "lab", Host: ps.URL}
	state := pbsync.NewState()
	w, err := watch.New(watch.Config{Apply: func(ctx context.Context, b watch.Batch) (*pbsync.Summary, error) {
		r.runs++
		if r.fail != nil {
			return nil, r.fail
		}
		return r.eng.SyncSnapshot(ctx, b.Snapshot, pbsync.Options{State: state, BackupBatchDelay: -1}), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	r.w = w
	r.loop = w.Loop(watch.Endpoint{ID: 1, Endpoint: r.ep, Source: r.pc})
	return r
}

// cycle runs one watch cycle and returns the Proxmox and NetBox requests
// it made, counted by the simulators.
func (r *rig) cycle() (sum *pbsync.Summary, pveReq, nbReq int64) {
	r.t.Helper()
	r.pve.ResetStats()
	r.nb.ResetStats()
	sum, err := r.loop.Cycle(r.t.Context())
	if err != nil {
		r.t.Fatalf("cycle: %v", err)
	}
	return sum, r.pve.Stats().Total, r.nb.Stats().RequestsTotal
}

// converged checks with a full, cold sync that NetBox already says what
// Proxmox says: it writes nothing.
func (r *rig) converged() {
	r.t.Helper()
	s := r.eng.SyncSnapshot(r.t.Context(), r.mustRead(), pbsync.Options{BackupBatchDelay: -1})
	if !s.OK || s.NetBox.Writes != 0 {
		var plan []string
		if s.Plan != nil {
			for _, c := range s.Plan.Changes {
				plan = append(plan, fmt.Sprintf("%s %s %s %v", c.Op, c.Model, c.Key, c.Fields))
			}
		}
		r.t.Fatalf("not converged: ok=%v writes=%d errors=%v plan=%v", s.OK, s.NetBox.Writes, s.Errors, plan)
	}
}

func (r *rig) mustRead() *inventory.Snapshot {
	s, err := r.pc.Read(r.t.Context(), r.ep, proxmox.FullReadOptions())
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *rig) guests() (running, stopped int, other string, node string) {
	s := r.mustRead()
	for _, g := range s.Guests {
		if g.Template || g.Type != inventory.QEMU {
			continue
		}
		if g.Status == "running" && running == 0 {
			running, node = g.VMID, g.Node
		}
	}
	for _, n := range s.Nodes {
		if n.Name != node {
			other = n.Name
		}
	}
	return running, 0, other, node
}

func TestWatchConvergesPerChangeKind(t *testing.T) {
	r := newRig(t, 30)
	if s, _, _ := r.cycle(); s == nil || !s.OK {
		t.Fatalf("first (full) cycle: %+v", s)
	}
	// Idle: two Proxmox requests, no NetBox request.
	if s, pveReq, nbReq := r.cycle(); s != nil || pveReq != 2 || nbReq != 0 {
		t.Fatalf("idle poll: applied=%v, %d Proxmox and %d NetBox requests; want nothing applied, 2 and 0", s != nil, pveReq, nbReq)
	}
	vmid, _, other, node := r.guests()
	cases := []struct {
		name          string
		m             pvelab.Mutation
		maxPVE, maxNB int64
	}{
		{"memory", pvelab.Mutation{VMID: vmid, Memory: 3072}, 4, 4},
		{"rename", pvelab.Mutation{VMID: vmid, Name: "renamed-by-watch"}, 4, 4},
		{"migrate", pvelab.Mutation{VMID: vmid, Node: other}, 5, 6},
		{"snapshot", pvelab.Mutation{VMID: vmid, Snapshot: "before-upgrade"}, 3, 4},
		{"backup", pvelab.Mutation{VMID: vmid, Backup: true}, 6, 4},
		{"create", pvelab.Mutation{Create: &pvelab.NewGuest{VMID: 9150, Type: "qemu", Node: node}}, 4, 10},
		{"destroy", pvelab.Mutation{VMID: 9150, Destroy: true}, 2, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r.t = t
			if err := r.pve.Mutate(c.m); err != nil {
				t.Fatal(err)
			}
			runs := r.runs
			s, pveReq, nbReq := r.cycle()
			if s == nil || !s.OK {
				t.Fatalf("change not applied: %+v", s)
			}
			if r.runs != runs+1 {
				t.Errorf("%d runs for one change", r.runs-runs)
			}
			t.Logf("%s: %d Proxmox requests %v, %d NetBox requests %v, %d writes", c.name, pveReq, r.pve.Stats().Requests, nbReq, r.nb.Stats().Requests, s.NetBox.Writes)
			if pveReq > c.maxPVE || nbReq > c.maxNB {
				t.Errorf("%s cost %d Proxmox and %d NetBox requests; want at most %d and %d", c.name, pveReq, nbReq, c.maxPVE, c.maxNB)
			}
			if s.NetBox.Writes == 0 {
				t.Errorf("%s wrote nothing", c.name)
			}
			r.converged()
			if s, pveReq, nbReq := r.cycle(); s != nil || pveReq != 2 || nbReq != 0 {
				t.Errorf("poll after %s: applied=%v, %d/%d requests; want idle", c.name, s != nil, pveReq, nbReq)
			}
		})
	}
}

func TestWatchBurstIsOneRun(t *testing.T) {
	r := newRig(t, 400)
	if s, _, _ := r.cycle(); s == nil || !s.OK {
		t.Fatalf("first cycle: %+v", s)
	}
	snap := r.mustRead()
	n := 0
	for _, g := range snap.Guests {
		if n == 200 {
			break
		}
		if err := r.pve.SetGuestMemory(g.VMID, int(g.MemoryMB)+512); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n < 200 {
		t.Fatalf("lab has %d guests, want 200", n)
	}
	runs := r.runs
	s, pveReq, nbReq := r.cycle()
	if s == nil || !s.OK || r.runs != runs+1 {
		t.Fatalf("burst: ok=%v runs=%d", s != nil && s.OK, r.runs-runs)
	}
	vms := s.Objects["virtual_machines"]
	if vms == nil || vms.Updated != 200 {
		t.Fatalf("burst updated %+v VMs, want 200", vms)
	}
	t.Logf("burst of 200: %d Proxmox requests, %d NetBox requests", pveReq, nbReq)
	if nbReq > 20 {
		t.Errorf("burst of 200 cost %d NetBox requests: not bulk", nbReq)
	}
	r.converged()
}

// A change whose apply fails leaves the endpoint "drifted since" the change
// was seen, until a later cycle gets it into NetBox.
func TestWatchDriftedUntilApplied(t *testing.T) {
	r := newRig(t, 20)
	if s, _, _ := r.cycle(); s == nil || !s.OK {
		t.Fatalf("first cycle: %+v", s)
	}
	status := func() watch.Status {
		for _, s := range r.w.Statuses() {
			return s
		}
		t.Fatal("no status")
		return watch.Status{}
	}
	if st := status(); st.DriftedSince != nil {
		t.Fatalf("drifted after a clean cycle: %v", st.DriftedSince)
	}
	vmid, _, _, _ := r.guests()
	if err := r.pve.SetGuestMemory(vmid, 8192); err != nil {
		t.Fatal(err)
	}
	r.fail = fmt.Errorf("NetBox answered 503")
	if _, err := r.loop.Cycle(t.Context()); err == nil {
		t.Fatal("a failed apply was not reported")
	}
	st := status()
	if st.DriftedSince == nil || st.LastError == "" {
		t.Fatalf("after a failed apply: drifted %v, error %q", st.DriftedSince, st.LastError)
	}
	first := *st.DriftedSince
	if _, err := r.loop.Cycle(t.Context()); err == nil {
		t.Fatal("second failed apply not reported")
	}
	if st := status(); st.DriftedSince == nil || !st.DriftedSince.Equal(first) {
		t.Fatalf("drift start moved on a retry: %v, want %v", st.DriftedSince, first)
	}
	r.fail = nil
	if s, _, _ := r.cycle(); s == nil || !s.OK {
		t.Fatalf("recovery cycle: %+v", s)
	}
	if st := status(); st.DriftedSince != nil {
		t.Fatalf("still drifted after the change reached NetBox: %v", st.DriftedSince)
	}
	r.converged()
}
