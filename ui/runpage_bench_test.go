package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxbox/proxbox/netbox/getcache"
	"github.com/proxbox/proxbox/store"
	pbsync "github.com/proxbox/proxbox/sync"
)

// benchChange is change i of a first run as the sync records it, in the mix of sync's
// BenchmarkChangeListMemory: VM creates of about ten fields (one in seventy refused),
// interface creates, IP updates and skipped disks, across two endpoints and stages.
func benchChange(i, n int) pbsync.Change {
	vm := fmt.Sprintf("vm-%d", i/3)
	ep, stage := "pve-a", pbsync.StageVMs
	if i >= n/2 {
		ep, stage = "pve-b", pbsync.StageIPs
	}
	var c pbsync.Change
	switch i % 7 {
	case 0, 1, 2:
		body := map[string]any{"name": vm, "status": "active", "cluster": int64(3 + i%3), "site": int64(2),
			"vcpus": float64(i%8 + 1), "memory": int64(2048 * (i%4 + 1)), "disk": int64(32768),
			"comments": "<b>" + vm + "</b> & \"quoted\"", "tags": []int64{1, 4},
			"custom_fields": map[string]any{"proxmox_vm_id": int64(i), "proxmox_node": "pve" + strconv.Itoa(i%5),
				"proxmox_config": map[string]any{"ostype": "l26", "cores": 2, "net0": "virtio=AA:BB"}}}
		c = pbsync.Change{Op: pbsync.OpCreate, Model: pbsync.ModelVM, Key: "pve/" + vm, Label: "VM " + vm, ID: int64(i + 1), Fields: benchFields(body)}
		if i%70 == 0 {
			c.ID, c.Error = 0, "NetBox 400: name must be unique"
		}
	case 3, 4:
		c = pbsync.Change{Op: pbsync.OpCreate, Model: pbsync.ModelVMInterface, Key: "pve/" + vm + "/net0", Label: vm + " net0", ID: int64(i),
			Fields: benchFields(map[string]any{"name": "net0", "virtual_machine": int64(i / 3), "mtu": 1500, "enabled": true})}
	case 5:
		c = pbsync.Change{Op: pbsync.OpUpdate, Model: pbsync.ModelIP, Key: fmt.Sprintf("10.0.%d.%d/24", i/256%256, i%256), Label: "ip", ID: int64(i),
			Fields: []pbsync.FieldChange{{Field: "status", Old: "deprecated", New: "active"}, {Field: "dns_name", Old: nil, New: vm + ".lan"}}}
	default:
		c = pbsync.Change{Op: pbsync.OpSkip, Model: pbsync.ModelDisk, Key: vm + "/scsi0", Label: vm + " scsi0", Reason: "no size"}
	}
	c.Endpoint, c.Stage = ep, stage
	return c
}

// benchFields lists a create's fields as the sync does: sorted, custom fields one each.
func benchFields(body map[string]any) []pbsync.FieldChange {
	var out []pbsync.FieldChange
	for k, v := range body {
		if cf, ok := v.(map[string]any); ok {
			for ck, cv := range cf {
				out = append(out, pbsync.FieldChange{Field: k + "." + ck, New: cv})
			}
			continue
		}
		out = append(out, pbsync.FieldChange{Field: k, New: v})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Field < out[b].Field })
	return out
}

// benchRun stores a finished run of n changes as syncrun does at that size (a summary
// bounded to the first StoredChangesPerModel changes of each model, the full list apart)
// and returns a dashboard over the store and the run's id.
func benchRun(tb testing.TB, n int) (*Dashboard, int64) {
	tb.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, tb.TempDir(), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	cache := getcache.New(getcache.Config{Limits: getcache.DefaultLimits()})
	tb.Cleanup(cache.Close)
	h, err := New(Deps{Store: st, Cache: cache, CacheDefaults: getcache.DefaultLimits(), Sync: &fakeSync{st: st}, Version: "test", Commit: "abc",
		NetBoxURL: func(context.Context) string { return "https://netbox.example" }})
	if err != nil {
		tb.Fatal(err)
	}
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	id, err := st.StartRun(ctx, store.Run{StartedAt: t0, Trigger: "schedule", Scope: "all"})
	if err != nil {
		tb.Fatal(err)
	}
	plan := &pbsync.Plan{Unchanged: map[string]int{}}
	per := map[string]int{}
	for i := range n {
		if c := benchChange(i, n); per[c.Model] < pbsync.StoredChangesPerModel {
			per[c.Model]++
			plan.Changes = append(plan.Changes, c)
		}
	}
	plan.Omitted = map[string]int{}
	for i := range n {
		plan.Omitted[benchChange(i, n).Model]++
	}
	for m, k := range per {
		if plan.Omitted[m] -= k; plan.Omitted[m] == 0 {
			delete(plan.Omitted, m)
		}
	}
	sum, err := json.Marshal(pbsync.Summary{OK: true, Errors: []string{}, Plan: plan})
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.FinishRun(ctx, id, t0.Add(time.Minute), "ok", sum, ""); err != nil {
		tb.Fatal(err)
	}
	err = st.SaveRunChangesFrom(ctx, id, n, func(w io.Writer) error {
		if _, err := io.WriteString(w, "["); err != nil {
			return err
		}
		for i := range n {
			b, err := json.Marshal(benchChange(i, n))
			if err != nil {
				return err
			}
			if i > 0 {
				b = append([]byte{','}, b...)
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, "]")
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return h, id
}

// renderRunPage builds run id's page view with filter f and renders it, as runPage does.
func renderRunPage(tb testing.TB, h *Dashboard, id int64, f changeFilter) []byte {
	ctx := withLang(context.Background(), English)
	v, err := h.runView(ctx, id, f)
	if err != nil {
		tb.Fatal(err)
	}
	var b bytes.Buffer
	if err := runPage(pageCtx{Lang: English, Path: "/ui/sync/" + i64(id), Title: "Run", Active: "sync", SignedIn: true, CSRF: "x", Version: "test"}, v).Render(ctx, &b); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// BenchmarkRunPage stores a first run of 800,000 changes (a 100,000-guest first run;
// PROXBOX_CHANGES sets another count) and builds and renders its run page, without a
// filter, filtered by action and text, and by text only (every change's fields are then
// searched): it reports the bytes allocated per page and the peak heap
// (HeapAlloc sampled every millisecond while the page is built).
func BenchmarkRunPage(b *testing.B) {
	n := 800_000
	if v, err := strconv.Atoi(os.Getenv("PROXBOX_CHANGES")); err == nil && v > 0 {
		n = v
	}
	h, id := benchRun(b, n)
	for _, bc := range []struct {
		name string
		f    changeFilter
	}{{"all", changeFilter{}}, {"filtered", changeFilter{Op: "update", Q: "vm-1"}}, {"text", changeFilter{Q: "vm-1"}}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				var peak atomic.Uint64
				done := make(chan struct{})
				sampled := make(chan struct{})
				go func() {
					defer close(sampled)
					var m runtime.MemStats
					for {
						runtime.ReadMemStats(&m)
						if m.HeapAlloc > peak.Load() {
							peak.Store(m.HeapAlloc)
						}
						select {
						case <-done:
							return
						case <-time.After(time.Millisecond):
						}
					}
				}()
				page := renderRunPage(b, h, id, bc.f)
				close(done)
				<-sampled
				runtime.ReadMemStats(&m1)
				b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/1e6, "MB-alloc")
				b.ReportMetric(float64(int64(peak.Load())-int64(m0.HeapAlloc))/1e6, "MB-peak-heap")
				b.ReportMetric(float64(len(page))/1e6, "MB-page")
			}
		})
	}
}
