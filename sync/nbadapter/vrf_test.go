package nbadapter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/proxbox/proxbox/inventory"
	nblab "github.com/proxbox/proxbox/lab/netbox"
	pvelab "github.com/proxbox/proxbox/lab/pve"
	"github.com/proxbox/proxbox/proxmox"
	pbsync "github.com/proxbox/proxbox/sync"
)

// overlapHarness serves a generated lab whose endpoints (two PVE clusters and a
// standalone node) reuse one private range (pvelab SharedRange: the same node
// and guest addresses in every endpoint), as named inline endpoints, and
// returns the endpoints' snapshots and the simulators' URLs.
func overlapHarness(t *testing.T) (*harness, []*inventory.Snapshot, []string) {
	t.Helper()
	pves, err := pvelab.NewLab(pvelab.Options{Scale: 30, Seed: 1, SharedRange: true})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, nblab.Options{}, proxmox.DefaultReadOptions)
	var snaps []*inventory.Snapshot
	urls := serve(t, pves...)
	for i, u := range urls {
		tg := inlineTarget(t, int64(i+1), u, fmt.Sprintf("site-%c", 'a'+i), proxmox.DefaultReadOptions())
		snap, err := tg.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		h.tg, snaps = append(h.tg, tg), append(snaps, snap)
	}
	return h, snaps, urls
}

// wantIPs is what the mapping asks for: the addresses of each endpoint, and
// how many VMs get a primary IPv4.
func wantIPs(snaps []*inventory.Snapshot, mode string) (perLabel map[string]int, total, primaries int) {
	perLabel = map[string]int{}
	for _, s := range snaps {
		d := pbsync.Map(s, pbsync.MapOptions{IPVRF: mode})
		perLabel[d.Endpoint] = d.Count(pbsync.ModelIP)
		total += d.Count(pbsync.ModelIP)
		for _, vm := range d.Objects(pbsync.ModelVM) {
			if !vm.Refs.Get("primary_ip4").IsZero() {
				primaries++
			}
		}
	}
	return perLabel, total, primaries
}

// checkVRFPlacement asserts that every address of every endpoint is in NetBox,
// in that endpoint's own VRF (named after mode), and every VM that has an
// IPv4 address has its primary IP.
func checkVRFPlacement(t *testing.T, h *harness, snaps []*inventory.Snapshot, mode string) {
	t.Helper()
	perLabel, total, primaries := wantIPs(snaps, mode)
	vrfLabel := map[int64]string{}
	cls := map[string]string{}
	for _, c := range h.list(pbsync.ModelCluster, url.Values{"tag": {"proxbox"}}) {
		cf, _ := c["custom_fields"].(map[string]any)
		cls[jsonStr(cf[pbsync.CFEndpoint])] = jsonStr(c["name"])
	}
	for _, v := range h.list(pbsync.ModelVRF, nil) {
		cf, _ := v["custom_fields"].(map[string]any)
		label := jsonStr(cf[pbsync.CFEndpoint])
		want := label
		if mode == pbsync.IPVRFCluster {
			want = cls[label]
		}
		if v["name"] != want || v["enforce_unique"] != true || v["rd"] != nil || !hasTag(v, "proxbox") {
			t.Errorf("VRF %v: want name %q, enforce_unique, no RD, tag proxbox", v, want)
		}
		vrfLabel[int64(v["id"].(float64))] = label
	}
	if len(vrfLabel) != len(snaps) {
		t.Fatalf("%d VRFs, want one per endpoint (%d)", len(vrfLabel), len(snaps))
	}
	got := map[string]int{}
	ips := h.list(pbsync.ModelIP, url.Values{"tag": {"proxbox"}})
	for _, ip := range ips {
		vrf, _ := ip["vrf"].(map[string]any)
		if vrf == nil {
			t.Errorf("%v in the global table", ip["address"])
			continue
		}
		got[vrfLabel[int64(vrf["id"].(float64))]]++
	}
	if len(ips) != total || fmt.Sprint(got) != fmt.Sprint(perLabel) {
		t.Errorf("addresses per endpoint VRF %v (%d), want %v (%d)", got, len(ips), perLabel, total)
	}
	n := 0
	for _, vm := range h.list(pbsync.ModelVM, nil) {
		if vm["primary_ip4"] != nil {
			n++
		}
	}
	if n != primaries {
		t.Errorf("%d VMs with a primary IPv4, want %d", n, primaries)
	}
}

func hasTag(o map[string]any, slug string) bool {
	tags, _ := o["tags"].([]any)
	for _, t := range tags {
		if m, _ := t.(map[string]any); m["slug"] == slug {
			return true
		}
	}
	return false
}

// runTwice syncs twice with one memory of refusals and checks the second run:
// no error, no write.
func runTwice(t *testing.T, h *harness, opt pbsync.Options) (first, second *pbsync.Summary) {
	t.Helper()
	first = h.sync(opt)
	if n := writes(h, func() { second = h.sync(opt) }); n != 0 || !second.OK || len(second.Errors) != 0 {
		plan, _ := json.MarshalIndent(second.Plan.Changes, "", " ")
		t.Fatalf("second run wrote %d objects, errors %v\n%s", n, second.Errors, plan)
	}
	return first, second
}

// Issue 19, point 2: endpoints that reuse one private range converge. With
// PROXBOX_IP_VRF=none the copies NetBox refuses ("Duplicate IP address found
// in global table") are reported once, as conflicts naming the holder, and
// then remembered; with endpoint or cluster every address lands in its
// endpoint's VRF at the first run.
func TestOverlappingRangesConverge(t *testing.T) {
	for _, mode := range pbsync.IPVRFModes {
		t.Run(mode, func(t *testing.T) {
			h, snaps, _ := overlapHarness(t)
			opt := pbsync.Options{Refusals: pbsync.NewRefusals(), Map: pbsync.MapOptions{IPVRF: mode}}
			first, second := runTwice(t, h, opt)
			t.Logf("%s: first run %d errors, %d write requests; second %d warnings, %d requests", mode, len(first.Errors), first.NetBox.Writes, len(second.Warnings), second.NetBox.Requests)
			if mode != pbsync.IPVRFNone {
				if len(first.Errors) != 0 {
					t.Fatalf("first run errors: %v", first.Errors)
				}
				checkVRFPlacement(t, h, snaps, mode)
				return
			}
			if len(first.Errors) == 0 {
				t.Fatal("no address was refused: the lab's endpoints do not overlap")
			}
			vmHolder := false
			for _, e := range first.Errors {
				if !strings.Contains(e, "Duplicate IP address found in global table") || !strings.Contains(e, " is held by ") {
					t.Errorf("error is not a conflict naming the holder: %s", e)
				}
				vmHolder = vmHolder || strings.Contains(e, "(cluster lab-alpha) interface ")
			}
			if !vmHolder {
				t.Errorf("no conflict names a VM with its cluster: %v", first.Errors)
			}
			known := 0
			for _, w := range second.Warnings {
				if strings.Contains(w, "known conflict") {
					known++
					if !strings.Contains(w, " is held by ") {
						t.Errorf("warning does not name the holder: %s", w)
					}
				}
			}
			if known != len(first.Errors) {
				t.Errorf("%d known conflicts in the second run, %d refusals in the first", known, len(first.Errors))
			}
			if len(h.list(pbsync.ModelVRF, nil)) != 0 {
				t.Error("a VRF was created with PROXBOX_IP_VRF=none")
			}
		})
	}
}

// Changing PROXBOX_IP_VRF between runs: endpoint -> cluster renames each VRF
// (the addresses stay), cluster -> none moves the addresses back to the
// global table (the copies NetBox refuses there are remembered) and leaves
// the VRFs in place with a warning; every change converges in one run.
func TestIPVRFModeChange(t *testing.T) {
	h, snaps, _ := overlapHarness(t)
	refusals := pbsync.NewRefusals()
	opt := func(mode string) pbsync.Options {
		return pbsync.Options{Refusals: refusals, Map: pbsync.MapOptions{IPVRF: mode}}
	}
	first, _ := runTwice(t, h, opt(pbsync.IPVRFEndpoint))
	mustOK(t, first)
	checkVRFPlacement(t, h, snaps, pbsync.IPVRFEndpoint)

	renamed, _ := runTwice(t, h, opt(pbsync.IPVRFCluster))
	mustOK(t, renamed)
	for _, c := range renamed.Plan.Changes {
		if c.Op != pbsync.OpUnchanged && c.Model != pbsync.ModelVRF {
			t.Errorf("endpoint -> cluster changed more than the VRFs' names: %+v", c)
		}
	}
	checkVRFPlacement(t, h, snaps, pbsync.IPVRFCluster)

	back, steady := runTwice(t, h, opt(pbsync.IPVRFNone))
	moved := 0
	for _, c := range back.Plan.Changes {
		if c.Model == pbsync.ModelIP && c.Op == pbsync.OpUpdate && c.Error == "" {
			moved++
		}
	}
	if moved == 0 || len(back.Errors) == 0 {
		t.Fatalf("cluster -> none: %d addresses moved, %d refused; want both", moved, len(back.Errors))
	}
	unused := 0
	for _, w := range steady.Warnings {
		if strings.Contains(w, "is used by no endpoint of this run") {
			unused++
		}
	}
	if unused != len(snaps) || len(h.list(pbsync.ModelVRF, nil)) != len(snaps) {
		t.Errorf("%d unused-VRF warnings, want %d (VRFs kept: %d)", unused, len(snaps), len(h.list(pbsync.ModelVRF, nil)))
	}
}

// BenchmarkOverlappingRanges syncs a generated lab of 5,000 guests twice per
// PROXBOX_IP_VRF mode, its endpoints reusing one range (range=shared) or each
// with its own (range=own), inline as `proxbox sync --once` does, with one
// memory of refusals, and reports each run's errors, write requests and
// objects written (docs/sync.md). Run with -benchtime 1x.
func BenchmarkOverlappingRanges(b *testing.B) {
	for _, shared := range []bool{true, false} {
		for _, mode := range pbsync.IPVRFModes {
			name := map[bool]string{true: "range=shared", false: "range=own"}[shared] + "/vrf=" + mode
			b.Run(name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					pves, err := pvelab.NewLab(pvelab.Options{Scale: 5000, Seed: 1, SharedRange: shared})
					if err != nil {
						b.Fatal(err)
					}
					h := inlineHarness(b, proxmox.DefaultReadOptions, pves...)
					opt := pbsync.Options{Refusals: pbsync.NewRefusals(), Map: pbsync.MapOptions{IPVRF: mode}}
					var first, second *pbsync.Summary
					w1 := writes(h, func() { first = h.eng.Run(b.Context(), h.tg, opt) })
					w2 := writes(h, func() { second = h.eng.Run(b.Context(), h.tg, opt) })
					known := 0
					for _, w := range second.Warnings {
						if strings.Contains(w, "known conflict") {
							known++
						}
					}
					b.ReportMetric(float64(len(first.Errors)), "first-errors")
					b.ReportMetric(float64(first.NetBox.Writes), "first-write-req")
					b.ReportMetric(float64(w1), "first-objects")
					b.ReportMetric(float64(len(second.Errors)), "second-errors")
					b.ReportMetric(float64(second.NetBox.Writes), "second-write-req")
					b.ReportMetric(float64(w2), "second-objects")
					b.ReportMetric(float64(known), "second-known-conflicts")
				}
			})
		}
	}
}

// An endpoint whose label changes adopts its cluster, and its VRF with it:
// no address moves, no VRF is left behind, and the run after writes nothing.
func TestLabelChangeAdoptsVRF(t *testing.T) {
	h, snaps, urls := overlapHarness(t)
	opt := pbsync.Options{Refusals: pbsync.NewRefusals(), Map: pbsync.MapOptions{IPVRF: pbsync.IPVRFEndpoint}}
	mustOK(t, h.sync(opt))
	h.tg[0] = inlineTarget(t, 1, urls[0], "site-a-renamed", proxmox.DefaultReadOptions())
	s := h.sync(opt)
	mustOK(t, s)
	var vrfChanges []string
	for _, c := range s.Plan.Changes {
		if c.Model == pbsync.ModelIP && c.Op != pbsync.OpUnchanged {
			t.Errorf("an address changed: %+v", c)
		}
		if c.Model == pbsync.ModelVRF && c.Op != pbsync.OpUnchanged {
			vrfChanges = append(vrfChanges, string(c.Op)+" "+c.Reason)
		}
	}
	if len(vrfChanges) != 2 || !strings.HasPrefix(vrfChanges[0], "update adopted") {
		t.Errorf("VRF changes %q, want the adoption then the rename", vrfChanges)
	}
	for _, w := range s.Warnings {
		if strings.Contains(w, "used by no endpoint") {
			t.Errorf("a VRF was left behind: %s", w)
		}
	}
	snaps[0].Endpoint = h.tg[0].Endpoint
	checkVRFPlacement(t, h, snaps, pbsync.IPVRFEndpoint)
	if n := writes(h, func() { s = h.sync(opt) }); n != 0 || !s.OK {
		t.Fatalf("steady run after the adoption: %d writes, %v", n, s.Errors)
	}
}
