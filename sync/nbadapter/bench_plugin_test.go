package nbadapter_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	nblab "github.com/proxbox/proxbox/lab/netbox"
	pvelab "github.com/proxbox/proxbox/lab/pve"
	"github.com/proxbox/proxbox/proxmox"
	pbsync "github.com/proxbox/proxbox/sync"
)

// backupLab returns a generated lab of 1,000 guests topped up with PBS backups
// to exactly total backups (distinct volume ids) across its endpoints.
func backupLab(b *testing.B, total int) []*pvelab.Server {
	b.Helper()
	pves, err := pvelab.NewLab(pvelab.Options{Scale: 1000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	h := newHarnessWith(b, nblab.Options{}, proxmox.FullReadOptions, pves...)
	have := 0
	var vmids [][]int
	for _, tg := range h.tg {
		snap, err := tg.Read(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		have += len(snap.Backups)
		var ids []int
		for _, g := range snap.Guests {
			ids = append(ids, g.VMID)
		}
		vmids = append(vmids, ids)
	}
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; have < total; i++ {
		p := i % len(pves)
		ids := vmids[p]
		if _, err := pves[p].AddBackup(ids[(i/len(pves))%len(ids)], "pbs", at.Add(time.Duration(i)*time.Second)); err != nil {
			b.Fatal(err)
		}
		have++
	}
	return pves
}

// BenchmarkSyncBackups10k runs a full sync (sync I and II) of a lab with 10,000
// backups: first run into an empty NetBox, then the steady run; it reports
// NetBox requests, writes and wall time of both, and the backup write requests
// of the first run. Run with -benchtime 1x.
func BenchmarkSyncBackups10k(b *testing.B) {
	for _, v := range []struct {
		size  int
		delay time.Duration
	}{{200, -1}, {5, 200 * time.Millisecond}} {
		b.Run(fmt.Sprintf("batch=%d,delay=%v", v.size, max(v.delay, 0)), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				pves := backupLab(b, 10000)
				h := newHarnessWith(b, nblab.Options{}, proxmox.FullReadOptions, pves...)
				opt := pbsync.Options{BackupBatchSize: v.size, BackupBatchDelay: v.delay}
				start := time.Now()
				first := h.eng.Run(b.Context(), h.tg, opt)
				firstWall := time.Since(start)
				if !first.OK {
					b.Logf("first run errors: %v", first.Errors[:min(5, len(first.Errors))])
				}
				backupPosts := 0
				for _, r := range h.nb.RequestLog() {
					if r.Pattern == "/api/plugins/proxbox/backups/" && r.Method == "POST" {
						backupPosts++
					}
				}
				start = time.Now()
				steady := h.eng.Run(b.Context(), h.tg, opt)
				steadyWall := time.Since(start)
				bk := first.Objects["backups"]
				if bk == nil {
					bk = &pbsync.Counts{}
				}
				b.ReportMetric(float64(bk.Created), "backups-created")
				b.ReportMetric(float64(bk.Skipped), "backups-skipped")
				b.ReportMetric(float64(firstWall.Milliseconds()), "first-ms")
				b.ReportMetric(float64(steadyWall.Milliseconds()), "steady-ms")
				b.ReportMetric(float64(first.NetBox.Requests), "first-nb-req")
				b.ReportMetric(float64(first.NetBox.Writes), "first-nb-writes")
				b.ReportMetric(float64(backupPosts), "first-backup-posts")
				b.ReportMetric(float64(steady.NetBox.Requests), "steady-nb-req")
				b.ReportMetric(float64(steady.NetBox.Writes), "steady-nb-writes")
				b.ReportMetric(float64(first.Proxmox.Requests), "pve-req")
				b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
			}
		})
	}
}
