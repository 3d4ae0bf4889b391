package proxmox

import (
	"context"
	"testing"
	"time"

	"github.com/proxbox/proxbox/inventory"
	"github.com/proxbox/proxbox/lab/pve"
)

// BenchmarkReadLab1000 reads every endpoint of a generated 1,000-guest lab (two clusters and
// a standalone node, plain HTTP, no injected latency) per op: the adapter's own cost.
func BenchmarkReadLab1000(b *testing.B) { benchRead(b, pve.Faults{}) }

// BenchmarkReadLab1000Latency adds 2 ms to every Proxmox reply: wall time is then bound by
// requests / Concurrency (8).
func BenchmarkReadLab1000Latency(b *testing.B) {
	benchRead(b, pve.Faults{Latency: 2 * time.Millisecond})
}

func benchRead(b *testing.B, faults pve.Faults) {
	servers, err := pve.NewLab(pve.Options{Scale: 1000, Seed: 1, Faults: faults})
	if err != nil {
		b.Fatal(err)
	}
	clients := make([]*Client, len(servers))
	for i, s := range servers {
		clients[i] = mustNew(b, tokenConfig(serveHTTP(b, s)))
	}
	ctx := context.Background()
	var guests, requests, warnings int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		guests, requests, warnings = 0, 0, 0
		for i, c := range clients {
			snap, err := c.Read(ctx, inventory.Endpoint{ID: int64(i)}, DefaultReadOptions())
			if err != nil {
				b.Fatal(err)
			}
			if !snap.Complete() {
				b.Fatalf("errors: %+v", snap.Errors[0])
			}
			guests += len(snap.Guests)
			requests += snap.Requests
			warnings += len(snap.Warnings)
		}
	}
	b.ReportMetric(float64(guests), "guests")
	b.ReportMetric(float64(requests)/float64(guests), "requests/guest")
	b.ReportMetric(float64(warnings), "warnings")
}
