package watch_test

import (
	"testing"
	"time"
)

// BenchmarkWatch1000 measures the watch on a generated cluster of 1,000
// guests: an idle poll and one guest's memory change, in Proxmox and
// NetBox requests (counted by the simulators) and wall time.
// make bench runs it with -benchtime 1x.
func BenchmarkWatch1000(b *testing.B) {
	for range b.N {
		r := newRig(b, 1852) // the generated lab's first cluster gets 1,000 guests
		if s, _, _ := r.cycle(); s == nil || !s.OK {
			b.Fatalf("first cycle: %+v", s)
		}
		guests := len(r.mustRead().Guests)
		start := time.Now()
		_, idlePVE, idleNB := r.cycle()
		idle := time.Since(start)
		vmid, _, _, _ := r.guests()
		if err := r.pve.SetGuestMemory(vmid, 12288); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		s, chPVE, chNB := r.cycle()
		change := time.Since(start)
		if s == nil || !s.OK {
			b.Fatalf("change cycle: %+v", s)
		}
		b.ReportMetric(float64(guests), "guests")
		b.ReportMetric(float64(idlePVE), "idle-pve-req")
		b.ReportMetric(float64(idleNB), "idle-nb-req")
		b.ReportMetric(float64(idle.Microseconds())/1000, "idle-ms")
		b.ReportMetric(float64(chPVE), "change-pve-req")
		b.ReportMetric(float64(chNB), "change-nb-req")
		b.ReportMetric(float64(change.Microseconds())/1000, "change-ms")
	}
}
