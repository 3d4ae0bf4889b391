package nbadapter_test

import (
	"runtime"
	"testing"

	pvelab "github.com/proxbox/proxbox/lab/pve"
	"github.com/proxbox/proxbox/proxmox"
	pbsync "github.com/proxbox/proxbox/sync"
)

// BenchmarkCurrentState reports the bytes NetBox's current objects take in the sync engine,
// per guest: a lab of 1,000 guests (every Proxmox part read, so the plugin's backups,
// snapshots, storage and replications too) is synced into the NetBox simulator, the first
// run keeping what it listed and created in a pbsync.State (first-state: mostly create
// replies), then a steady run what it listed in another (state); the live heap with a
// State, less the live heap once it is reset, is what the engine holds of NetBox for the
// whole of a run.
// Run with -benchtime 1x.
func BenchmarkCurrentState(b *testing.B) {
	for i := 0; i < b.N; i++ {
		pves, err := pvelab.NewLab(pvelab.Options{Scale: 1000, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		h := inlineHarness(b, proxmox.FullReadOptions, pves...)
		st := pbsync.NewState()
		if s := h.eng.Run(b.Context(), h.tg, pbsync.Options{State: st}); !s.OK {
			b.Fatalf("first run: %v", s.Errors)
		}
		with := liveHeap()
		st.Reset()
		first := with - liveHeap()
		st = pbsync.NewState()
		s := h.eng.Run(b.Context(), h.tg, pbsync.Options{State: st})
		if !s.OK || s.NetBox.Writes != 0 {
			b.Fatalf("steady run: ok %v, %d writes, errors %v", s.OK, s.NetBox.Writes, s.Errors)
		}
		guests := 0
		if c := s.Objects["virtual_machines"]; c != nil {
			guests = c.Unchanged
		}
		with = liveHeap()
		st.Reset()
		without := liveHeap()
		b.ReportMetric(float64(first)/float64(max(guests, 1)), "first-state-B/guest")
		b.ReportMetric(float64(with-without)/float64(max(guests, 1)), "state-B/guest")
		b.ReportMetric(float64(s.NetBox.Requests), "steady-nb-req")
		b.ReportMetric(float64(guests), "guests")
		runtime.KeepAlive(h)
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
