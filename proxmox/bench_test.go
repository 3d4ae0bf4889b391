package proxmox

import (
	"context"
	"errors"
	"os"
	"runtime"
	"runtime/pprof"
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

// labClients serves a generated lab of scale guests (seed 1) and returns a client per endpoint.
func labClients(b *testing.B, scale int, faults pve.Faults) []*Client {
	servers, err := pve.NewLab(pve.Options{Scale: scale, Seed: 1, Faults: faults})
	if err != nil {
		b.Fatal(err)
	}
	clients := make([]*Client, len(servers))
	for i, s := range servers {
		clients[i] = mustNew(b, tokenConfig(serveHTTP(b, s)))
	}
	return clients
}

func benchRead(b *testing.B, faults pve.Faults) {
	clients := labClients(b, 1000, faults)
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

// BenchmarkSnapshotRetained10k reads every endpoint of a generated 10,000-guest lab with
// FullReadOptions (what a sync reads) and reports the heap the snapshots keep alive
// (HeapAlloc after runtime.GC with them held, minus before) per guest: the Proxmox
// share of a sync's peak heap, where all endpoints' snapshots are alive at once.
// PVE_HEAPPROF=FILE writes the heap profile taken with the snapshots alive (add
// -memprofilerate 4096 for detail).
func BenchmarkSnapshotRetained10k(b *testing.B) {
	clients := labClients(b, 10000, pve.Faults{})
	ctx := context.Background()
	readAll := func() []*inventory.Snapshot {
		snaps := make([]*inventory.Snapshot, len(clients))
		for i, c := range clients {
			snap, err := c.Read(ctx, inventory.Endpoint{ID: int64(i)}, FullReadOptions())
			if err != nil {
				b.Fatal(err)
			}
			if !snap.Complete() {
				b.Fatalf("errors: %+v", snap.Errors[0])
			}
			snaps[i] = snap
		}
		return snaps
	}
	readAll() // warm the lab's lazily built replies and the connection pools
	var retained, guests, requests, reads int
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		snaps := readAll()
		runtime.GC()
		runtime.ReadMemStats(&after)
		retained += int(after.HeapAlloc) - int(before.HeapAlloc)
		reads++
		guests, requests = 0, 0
		for _, s := range snaps {
			guests += len(s.Guests)
			requests += s.Requests
		}
		if f := os.Getenv("PVE_HEAPPROF"); f != "" {
			w, err := os.Create(f)
			if err != nil {
				b.Fatal(err)
			}
			if err := errors.Join(pprof.WriteHeapProfile(w), w.Close()); err != nil {
				b.Fatal(err)
			}
		}
		runtime.KeepAlive(snaps)
	}
	b.ReportMetric(float64(guests), "guests")
	b.ReportMetric(float64(requests), "requests")
	b.ReportMetric(float64(retained)/float64(reads*guests), "retained-B/guest")
}
