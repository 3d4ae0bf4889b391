package nbadapter_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/proxbox/proxbox/inventory"
	nblab "github.com/proxbox/proxbox/lab/netbox"
	pvelab "github.com/proxbox/proxbox/lab/pve"
	"github.com/proxbox/proxbox/proxmox"
	pbsync "github.com/proxbox/proxbox/sync"
)

// inlineTarget is what `proxbox sync --pve-url URL [--pve-name name]` syncs:
// the endpoint of the URL, read with read().
func inlineTarget(t testing.TB, id int64, rawURL, name string, read proxmox.ReadOptions) pbsync.Target {
	t.Helper()
	ep, err := pbsync.InlineEndpoint(id, rawURL, name)
	if err != nil {
		t.Fatal(err)
	}
	return targetAt(t, ep, rawURL, read)
}

func targetAt(t testing.TB, ep inventory.Endpoint, rawURL string, read proxmox.ReadOptions) pbsync.Target {
	t.Helper()
	pc, err := proxmox.New(proxmox.Config{BaseURL: rawURL, TokenID: pvelab.DefaultToken})
	if err != nil {
		t.Fatal(err)
	}
	return pbsync.Target{Endpoint: ep, Read: func(ctx context.Context) (*inventory.Snapshot, error) { return pc.Read(ctx, ep, read) }}
}

// serve starts each simulator on its own port of 127.0.0.1 (one host, as
// `proxbox lab` does) and returns their URLs.
func serve(t testing.TB, pves ...*pvelab.Server) []string {
	t.Helper()
	var urls []string
	for _, p := range pves {
		s := httptest.NewServer(p)
		t.Cleanup(s.Close)
		urls = append(urls, s.URL)
	}
	return urls
}

// inlineHarness is a harness whose targets are the simulators as inline
// endpoints without names: all on 127.0.0.1, told apart by port only.
func inlineHarness(t testing.TB, read func() proxmox.ReadOptions, pves ...*pvelab.Server) *harness {
	t.Helper()
	h := newHarnessWith(t, nblab.Options{}, read)
	h.pve = pves
	for i, u := range serve(t, pves...) {
		h.tg = append(h.tg, inlineTarget(t, int64(i+1), u, "", read()))
	}
	return h
}

// clusterByLabel maps proxmox_endpoint to NetBox cluster id.
func clusterByLabel(h *harness) map[string]int64 {
	out := map[string]int64{}
	for _, c := range h.list(pbsync.ModelCluster, nil) {
		cf, _ := c["custom_fields"].(map[string]any)
		l, _ := cf[pbsync.CFEndpoint].(string)
		if _, dup := out[l]; dup {
			h.t.Errorf("two clusters labelled %q", l)
		}
		out[l] = int64(c["id"].(float64))
	}
	return out
}

// The bug of issue 12: the endpoints of one `proxbox lab` on one host, synced
// inline without names, shared one label, one cluster and one set of VMs.
func TestInlineEndpointsOnOneHostConverge(t *testing.T) {
	pves, err := pvelab.NewLab(pvelab.Options{Scale: 60, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	h := inlineHarness(t, proxmox.FullReadOptions, pves...)
	opt := pbsync.Options{BackupBatchDelay: -1, BackupBatchSize: 200}
	first := h.sync(opt)
	mustOK(t, first)
	cls := clusterByLabel(h)
	if len(cls) != len(pves) {
		t.Fatalf("clusters by label: %v, want one per endpoint (%d)", cls, len(pves))
	}
	for _, tg := range h.tg {
		if !strings.HasPrefix(pbsync.EndpointLabel(tg.Endpoint), "127.0.0.1:") {
			t.Errorf("inline label %q, want host:port", pbsync.EndpointLabel(tg.Endpoint))
		}
	}
	var second *pbsync.Summary
	if n := writes(h, func() { second = h.sync(opt) }); n != 0 || !second.OK {
		t.Fatalf("second run: %d writes, errors %v", n, second.Errors)
	}
}

// Two targets with one label are refused, each with one error, and nothing
// of theirs is written; the third syncs.
func TestSameLabelRefused(t *testing.T) {
	pves, err := pvelab.NewLab(pvelab.Options{Scale: 20, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, nblab.Options{}, proxmox.DefaultReadOptions)
	urls := serve(t, pves...)
	h.tg = []pbsync.Target{
		inlineTarget(t, 1, urls[0], "prod", proxmox.DefaultReadOptions()),
		inlineTarget(t, 2, urls[1], "prod", proxmox.DefaultReadOptions()),
		inlineTarget(t, 3, urls[2], "", proxmox.DefaultReadOptions()),
	}
	s := h.sync(pbsync.Options{})
	if s.OK || len(s.Errors) != 2 {
		t.Fatalf("want exactly 2 errors, got %d: %v", len(s.Errors), s.Errors)
	}
	for _, e := range s.Errors {
		if !strings.Contains(e, `same label "prod"`) {
			t.Errorf("error %q does not name the shared label", e)
		}
	}
	cls := clusterByLabel(h)
	if _, ok := cls["prod"]; ok || len(cls) != 1 {
		t.Fatalf("clusters: %v, want only the third endpoint's", cls)
	}
	for _, vm := range h.list(pbsync.ModelVM, nil) {
		if int64(vm["cluster"].(map[string]any)["id"].(float64)) != cls[pbsync.EndpointLabel(h.tg[2].Endpoint)] {
			t.Fatalf("VM %v outside the third endpoint's cluster", vm["name"])
		}
	}
}

// Another Proxmox answering behind an endpoint's address (its label) is
// refused: its guests never replace the ones recorded there.
func TestOtherProxmoxBehindLabelRefused(t *testing.T) {
	pves, err := pvelab.NewLab(pvelab.Options{Scale: 20, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, nblab.Options{}, proxmox.DefaultReadOptions)
	urls := serve(t, pves...)
	h.tg = []pbsync.Target{inlineTarget(t, 1, urls[0], "site-a", proxmox.DefaultReadOptions()),
		inlineTarget(t, 2, urls[1], "site-b", proxmox.DefaultReadOptions())}
	mustOK(t, h.sync(pbsync.Options{}))
	before := len(h.list(pbsync.ModelVM, nil))
	// site-a now reaches the standalone node, site-b is unchanged.
	h.tg[0] = inlineTarget(t, 1, urls[2], "site-a", proxmox.DefaultReadOptions())
	var s *pbsync.Summary
	if n := writes(h, func() { s = h.sync(pbsync.Options{}) }); n != 0 {
		t.Errorf("%d writes, want none", n)
	}
	if len(s.Errors) != 1 || !strings.Contains(s.Errors[0], "answers as Proxmox node:pve") || !strings.Contains(s.Errors[0], "recorded for cluster:lab-alpha") {
		t.Fatalf("errors: %v", s.Errors)
	}
	if after := len(h.list(pbsync.ModelVM, nil)); after != before {
		t.Errorf("VMs %d -> %d", before, after)
	}
}

// A label change never duplicates: objects written under the old bare-host
// label of inline endpoints, and a renamed endpoint's, are adopted.
func TestLabelChangeAdoptsCluster(t *testing.T) {
	pves, err := pvelab.NewLab(pvelab.Options{Scale: 20, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	pves = []*pvelab.Server{pves[0], pves[2]} // lab-alpha and the standalone pve
	newGuests := pvelab.Generate(20, 5).Clusters[2].Guests
	h := newHarnessWith(t, nblab.Options{}, proxmox.DefaultReadOptions)
	urls := serve(t, pves...)
	read := proxmox.DefaultReadOptions()
	// As proxbox labelled inline endpoints before: the bare host (one
	// endpoint per run, as that was the only way to keep them apart).
	host := inventory.Endpoint{ID: 1, Name: "127.0.0.1", Host: "127.0.0.1"}
	h.tg = []pbsync.Target{targetAt(t, host, urls[0], read)}
	mustOK(t, h.sync(pbsync.Options{}))
	vms := len(h.list(pbsync.ModelVM, nil))
	h.tg = []pbsync.Target{inlineTarget(t, 1, urls[0], "", read), inlineTarget(t, 2, urls[1], "", read)}
	// A dry run plans the adoption and writes nothing.
	var s *pbsync.Summary
	if n := writes(h, func() { s = h.sync(pbsync.Options{DryRun: true}) }); n != 0 || !s.OK || !planAdopts(s) {
		t.Fatalf("dry run: %d writes, errors %v, adoption planned %v", n, s.Errors, planAdopts(s))
	}
	s = h.sync(pbsync.Options{})
	mustOK(t, s)
	cls := clusterByLabel(h)
	if len(cls) != 2 || cls["127.0.0.1"] != 0 {
		t.Fatalf("clusters after adoption: %v", cls)
	}
	if c := s.Objects["virtual_machines"]; c == nil || c.Created != newGuests || c.Orphaned != 0 {
		t.Errorf("VM counts after adoption: %+v (only the new endpoint's %d guests may be created)", c, newGuests)
	}
	if n := writes(h, func() { s = h.sync(pbsync.Options{}) }); n != 0 || !s.OK {
		t.Fatalf("steady run after adoption: %d writes, %v", n, s.Errors)
	}
	// Renaming (a new label, as a stored endpoint without key would have had)
	// re-labels again; the other endpoint's cluster is never taken.
	h.tg[0] = inlineTarget(t, 1, urls[0], "alpha-renamed", read)
	s = h.sync(pbsync.Options{})
	mustOK(t, s)
	if c := s.Objects["clusters"]; c == nil || c.Updated != 1 || c.Created != 0 {
		t.Errorf("cluster counts: %+v, want one update (the adoption)", c)
	}
	if got := len(h.list(pbsync.ModelVM, nil)); got != vms+newGuests {
		t.Errorf("VMs: %d, want %d", got, vms+newGuests)
	}
	if n := writes(h, func() { s = h.sync(pbsync.Options{}) }); n != 0 || !s.OK {
		t.Fatalf("steady run after rename: %d writes, %v", n, s.Errors)
	}
}

func planAdopts(s *pbsync.Summary) bool {
	for _, c := range s.Plan.Changes {
		if c.Model == pbsync.ModelCluster && strings.HasPrefix(c.Reason, "adopted") {
			return true
		}
	}
	return false
}

// Convergence as a property: labs of several endpoints (PVE clusters and a
// standalone node on one host, vmids and guest names that repeat across
// endpoints, templates, guests without agent), some named and some not,
// synced twice: the second run writes nothing and reports nothing, and every
// guest is in NetBox exactly once, in its own endpoint's cluster.
func TestMultiEndpointConvergence(t *testing.T) {
	for seed := int64(1); seed <= 10; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { convergeLab(t, seed, 5+int(seed*17)%70) })
	}
}

func FuzzMultiEndpointConvergence(f *testing.F) {
	f.Add(int64(11), uint8(25))
	f.Add(int64(12), uint8(9))
	f.Fuzz(func(t *testing.T, seed int64, scale uint8) { convergeLab(t, seed, 1+int(scale)%60) })
}

func convergeLab(t *testing.T, seed int64, scale int) {
	pves, err := pvelab.NewLab(pvelab.Options{Scale: scale, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 12))
	h := newHarnessWith(t, nblab.Options{}, proxmox.FullReadOptions)
	urls := serve(t, pves...)
	// Guest names repeat across endpoints: the first guest of every other
	// endpoint is renamed after the first endpoint's (vmids repeat anyway:
	// every generated endpoint numbers its guests from 101).
	snap0, err := inlineTarget(t, 1, urls[0], "", proxmox.DefaultReadOptions()).Read(context.Background())
	if err != nil || len(snap0.Guests) == 0 {
		t.Fatalf("read the first endpoint: %v", err)
	}
	for _, p := range pves[1:] {
		for vmid := 100; vmid < 200; vmid++ {
			if p.RenameGuest(vmid, snap0.Guests[0].Name) == nil {
				break
			}
		}
	}
	var snaps []*inventory.Snapshot
	for i, u := range urls {
		name := ""
		if rng.IntN(2) == 0 {
			name = fmt.Sprintf("ep-%d", i)
		}
		tg := inlineTarget(t, int64(i+1), u, name, proxmox.FullReadOptions())
		h.tg = append(h.tg, tg)
		snap, err := tg.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, snap)
	}
	// The lab has what makes endpoints collide: vmids and guest names that
	// repeat across endpoints (and templates, guests without agent, a
	// standalone node: the generator's).
	vmids, names := map[int]int{}, map[string]int{}
	for _, snap := range snaps {
		for _, g := range snap.Guests {
			vmids[g.VMID]++
			names[g.Name]++
		}
	}
	if len(snaps) > 1 && (len(vmids) == countGuests(snaps) || len(names) == countGuests(snaps)) {
		t.Fatalf("no vmid or no name repeats across the %d endpoints", len(snaps))
	}
	opt := pbsync.Options{BackupBatchDelay: -1, BackupBatchSize: 200}
	first := h.sync(opt)
	mustOK(t, first)
	var second *pbsync.Summary
	if n := writes(h, func() { second = h.sync(opt) }); n != 0 || !second.OK || len(second.Warnings) != len(first.Warnings) {
		t.Fatalf("scale %d seed %d: second run wrote %d, errors %v", scale, seed, n, second.Errors)
	}
	cls := clusterByLabel(h)
	if len(cls) != len(h.tg) {
		t.Fatalf("clusters %v, want one per endpoint", cls)
	}
	type vmKey struct {
		cluster int64
		typ     string
		vmid    string
	}
	seen := map[vmKey]int{}
	vms := h.list(pbsync.ModelVM, url.Values{})
	for _, vm := range vms {
		cf, _ := vm["custom_fields"].(map[string]any)
		seen[vmKey{int64(vm["cluster"].(map[string]any)["id"].(float64)), jsonStr(cf[pbsync.CFVMType]), jsonStr(cf[pbsync.CFVMID])}]++
	}
	guests := 0
	for i, snap := range snaps {
		cl := cls[pbsync.EndpointLabel(h.tg[i].Endpoint)]
		for _, g := range snap.Guests {
			guests++
			if n := seen[vmKey{cl, string(g.Type), fmt.Sprint(g.VMID)}]; n != 1 {
				t.Errorf("endpoint %s guest %s/%d: %d times in its cluster", pbsync.EndpointLabel(h.tg[i].Endpoint), g.Type, g.VMID, n)
			}
		}
	}
	if len(vms) != guests {
		t.Errorf("%d VMs in NetBox, %d guests in Proxmox", len(vms), guests)
	}
}

func countGuests(snaps []*inventory.Snapshot) int {
	n := 0
	for _, s := range snaps {
		n += len(s.Guests)
	}
	return n
}
