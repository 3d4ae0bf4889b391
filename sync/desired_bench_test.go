package sync

import (
	"context"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/proxbox/proxbox/inventory"
	pvelab "github.com/proxbox/proxbox/lab/pve"
	"github.com/proxbox/proxbox/proxmox"
)

// labSnapshots reads every endpoint of a generated lab of the given scale with
// every stage's reads on (a full sync's snapshots).
func labSnapshots(tb testing.TB, scale int) []*inventory.Snapshot {
	tb.Helper()
	pves, err := pvelab.NewLab(pvelab.Options{Scale: scale, Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	var snaps []*inventory.Snapshot
	for i, p := range pves {
		ps := httptest.NewServer(p)
		pc, err := proxmox.New(proxmox.Config{BaseURL: ps.URL, TokenID: pvelab.DefaultToken})
		if err != nil {
			tb.Fatal(err)
		}
		ep := inventory.Endpoint{ID: int64(i + 1), Name: "pve-" + string(rune('a'+i)), Host: ps.URL}
		s, err := pc.Read(context.Background(), ep, proxmox.FullReadOptions())
		ps.Close()
		if err != nil {
			tb.Fatal(err)
		}
		snaps = append(snaps, s)
	}
	return snaps
}

// mapAll maps each snapshot as a sync does: the core objects, then the plugin's.
func mapAll(snaps []*inventory.Snapshot) []*Desired {
	out := make([]*Desired, len(snaps))
	for i, s := range snaps {
		d := Map(s, MapOptions{})
		pc := pluginCtx{endpoint: int64(i + 1)}
		mapPlugin(d, s, pc)
		mapPluginRows(d, s, pc)
		out[i] = d
	}
	return out
}

// BenchmarkDesiredRetained maps a generated lab of 10,000 guests (every stage,
// plugin objects too) and reports the heap the desired objects keep alive, per
// guest and per object: what an endpoint's sync holds from mapping to its end.
func BenchmarkDesiredRetained(b *testing.B) {
	snaps := labSnapshots(b, 10000)
	guests := 0
	for _, s := range snaps {
		guests += len(s.Guests)
	}
	var ms runtime.MemStats
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		ds := mapAll(snaps)
		runtime.GC()
		runtime.ReadMemStats(&ms)
		kept := float64(ms.HeapAlloc - before)
		objects := 0
		for _, d := range ds {
			for _, m := range d.objects {
				objects += len(m.objs)
			}
		}
		runtime.KeepAlive(ds)
		b.ReportMetric(kept/float64(guests), "B/guest")
		b.ReportMetric(kept/float64(objects), "B/object")
		b.ReportMetric(float64(objects), "objects")
	}
}
