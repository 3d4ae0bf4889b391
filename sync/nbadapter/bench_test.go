package nbadapter_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	nblab "github.com/proxbox/proxbox/lab/netbox"
	pvelab "github.com/proxbox/proxbox/lab/pve"
	"github.com/proxbox/proxbox/proxmox"
	pbsync "github.com/proxbox/proxbox/sync"
)

// BenchmarkSync syncs every endpoint of a generated lab of 1,000 and of
// 10,000 guests (inline, unnamed, all on one host) into the NetBox simulator with 2 ms latency and reports, per run kind, wall time,
// NetBox requests and writes, Proxmox requests per guest and the process's
// peak RSS, in one process (make bench measures lab and sync in separate
// processes: cmd/proxbox-bench). Run one size per process so the RSS is that
// size's, and with -benchtime 1x.
func BenchmarkSync(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run("guests="+strconv.Itoa(n), func(b *testing.B) { benchSync(b, n) })
	}
}

func benchSync(b *testing.B, scale int) {
	for i := 0; i < b.N; i++ {
		pves, err := pvelab.NewLab(pvelab.Options{Scale: scale, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		// Every endpoint of the lab, inline and unnamed, as `proxbox sync
		// --pve-url ...` syncs what `proxbox lab` prints: one host, labels host:port.
		h := inlineHarness(b, proxmox.DefaultReadOptions, pves...)
		h.nb.SetFaults(nblab.Faults{Latency: 2 * time.Millisecond})
		start := time.Now()
		first := h.eng.Run(b.Context(), h.tg, pbsync.Options{})
		firstWall := time.Since(start)
		if !first.OK {
			b.Logf("first run errors: %v", first.Errors[:min(5, len(first.Errors))])
		}
		start = time.Now()
		steady := h.eng.Run(b.Context(), h.tg, pbsync.Options{})
		steadyWall := time.Since(start)
		if err := pves[0].SetGuestMemory(firstVMID(pves[0]), 8192); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		change := h.eng.Run(b.Context(), h.tg, pbsync.Options{})
		changeWall := time.Since(start)
		guests := 0
		if c := first.Objects["virtual_machines"]; c != nil {
			guests = c.Created + c.Unchanged + c.Failed
		}
		b.ReportMetric(float64(firstWall.Milliseconds()), "first-ms")
		b.ReportMetric(float64(steadyWall.Milliseconds()), "steady-ms")
		b.ReportMetric(float64(changeWall.Milliseconds()), "change-ms")
		b.ReportMetric(float64(first.NetBox.Requests), "first-nb-req")
		b.ReportMetric(float64(first.NetBox.Writes), "first-nb-writes")
		b.ReportMetric(float64(steady.NetBox.Requests), "steady-nb-req")
		b.ReportMetric(float64(steady.NetBox.Writes), "steady-nb-writes")
		b.ReportMetric(float64(change.NetBox.Requests), "change-nb-req")
		b.ReportMetric(float64(change.NetBox.Writes), "change-nb-writes")
		b.ReportMetric(float64(first.Proxmox.Requests)/float64(max(guests, 1)), "pve-req/guest")
		b.ReportMetric(float64(guests), "guests")
		b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
	}
}

func firstVMID(p *pvelab.Server) int {
	for id := 100; id < 100000; id++ {
		if p.SetGuestMemory(id, 1024) == nil {
			return id
		}
	}
	return 0
}

func peakRSSMiB() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
