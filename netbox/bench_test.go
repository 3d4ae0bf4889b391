package netbox

import (
	"context"
	"fmt"
	"testing"

	lab "github.com/proxbox/proxbox/lab/netbox"
)

// BenchmarkList lists 5000 VMs (5 pages of 1000) from the simulator over loopback HTTP.
func BenchmarkList(b *testing.B) {
	srv, ts := newLab(b, lab.Options{}, nil)
	seedVMs(b, srv, seedClusters(b, srv, 5), 5000)
	c, _ := newClient(b, ts.URL, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		vms, err := c.List(ctx, vmModel, nil)
		if err != nil || len(vms) != 5000 {
			b.Fatalf("%d, %v", len(vms), err)
		}
	}
	b.ReportMetric(float64(c.Stats().Requests)/float64(b.N), "requests/op")
	b.ReportMetric(5000*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkCreate bulk-creates 1000 VMs (BatchSize 200, Concurrency 4) and deletes them again
// outside the timer.
func BenchmarkCreate(b *testing.B) {
	srv, ts := newLab(b, lab.Options{}, nil)
	clusters := seedClusters(b, srv, 5)
	c, _ := newClient(b, ts.URL, nil)
	ctx := context.Background()
	objs := make([]Object, 1000)
	b.ReportAllocs()
	var writes int64
	round := 0
	for b.Loop() {
		b.StopTimer()
		round++
		for i := range objs {
			objs[i] = Object{"name": fmt.Sprintf("r%d-vm%04d", round, i), "cluster": clusters[i%5], "vcpus": 2,
				"memory": 2048, "status": "active"}
		}
		w0 := c.Stats().Writes
		b.StartTimer()
		rs := c.Create(ctx, vmModel, objs)
		b.StopTimer()
		writes += c.Stats().Writes - w0
		ids := make([]int64, len(rs))
		for i, r := range rs {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
			ids[i], _ = ID(r.Object)
		}
		okResults(b, c.Delete(ctx, vmModel, ids))
		b.StartTimer()
	}
	b.ReportMetric(float64(writes)/float64(b.N), "requests/op")
	b.ReportMetric(1000*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}
