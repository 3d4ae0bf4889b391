package netbox

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
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

// BenchmarkListRetained lists 1000 virtual disks of 1000 VMs (one page, each disk's VM a
// brief object of its own) as the sync engine lists them (fields=), decoded whole (List),
// trimmed (ListTrimmed) and lean (ListLean, the VM held as its id), and reports the bytes
// the decoded objects keep alive per object.
func BenchmarkListRetained(b *testing.B) {
	srv, ts := newLab(b, lab.Options{}, nil)
	clusters := seedClusters(b, srv, 1)
	seedVMs(b, srv, clusters, 1000)
	vms, err := srv.List("virtualization.virtualmachine", url.Values{"limit": {"1000"}})
	if err != nil || len(vms) != 1000 {
		b.Fatalf("%d VMs, %v", len(vms), err)
	}
	disks := make([]any, len(vms))
	for i, vm := range vms {
		disks[i] = Object{"virtual_machine": vm["id"], "name": "scsi0", "size": 10}
	}
	if _, err := srv.Create(context.Background(), "virtualization.virtualdisk", disks); err != nil {
		b.Fatal(err)
	}
	c, _ := newClient(b, ts.URL, nil)
	q := url.Values{"fields": {"id,name,size,virtual_machine,tags"}}
	for _, mode := range []struct {
		name string
		list func(ctx context.Context) ([]Object, error)
	}{
		{"whole", func(ctx context.Context) ([]Object, error) { return c.List(ctx, "virtualization/virtual-disks", q) }},
		{"trimmed", func(ctx context.Context) ([]Object, error) {
			return c.ListTrimmed(ctx, "virtualization/virtual-disks", q)
		}},
		{"lean", func(ctx context.Context) ([]Object, error) {
			return c.ListLean(ctx, "virtualization/virtual-disks", q, Lean{})
		}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			var kept int64
			for b.Loop() {
				before := liveHeap()
				objs, err := mode.list(FreshRead(context.Background()))
				if err != nil || len(objs) != 1000 {
					b.Fatalf("%d, %v", len(objs), err)
				}
				kept += liveHeap() - before
				runtime.KeepAlive(objs)
			}
			b.ReportMetric(float64(kept)/float64(1000*b.N), "retained-B/object")
		})
	}
}

func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
