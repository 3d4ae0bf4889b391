package sync

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/proxbox/proxbox/inventory"
)

// emptyNetBox is a NetBox holding nothing that refuses every write.
type emptyNetBox struct{}

func (emptyNetBox) List(context.Context, string, url.Values) ([]map[string]any, error) {
	return nil, nil
}
func (emptyNetBox) Create(_ context.Context, _ string, objs []map[string]any) []WriteResult {
	return refuseAll(len(objs))
}
func (emptyNetBox) Update(_ context.Context, _ string, p []map[string]any) []WriteResult {
	return refuseAll(len(p))
}
func (emptyNetBox) Delete(_ context.Context, _ string, ids []int64) []WriteResult {
	return refuseAll(len(ids))
}
func refuseAll(n int) []WriteResult {
	out := make([]WriteResult, n)
	for i := range out {
		out[i] = WriteResult{Index: i, Err: errors.New("no writes in this test")}
	}
	return out
}

// TestEndpointsAreReadConcurrently: a run reads its endpoints at once, at
// most ReadConcurrency at a time, and reports each endpoint's read error
// under its own label. Each read waits until `bound` reads are in flight:
// reads made one after another would never get there (the test would end
// at its deadline, failing).
func TestEndpointsAreReadConcurrently(t *testing.T) {
	for _, tc := range []struct{ endpoints, bound int }{{4, 4}, {6, 2}, {3, 8}} {
		t.Run(fmt.Sprintf("%d endpoints, %d at once", tc.endpoints, tc.bound), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var mu gosync.Mutex
			inflight, peak, started := 0, 0, 0
			wave := make(chan struct{})
			need := min(tc.bound, tc.endpoints)
			var targets []Target
			for i := range tc.endpoints {
				ep := inventory.Endpoint{ID: int64(i + 1), Name: fmt.Sprintf("ep%d", i+1)}
				targets = append(targets, Target{Endpoint: ep, Read: func(ctx context.Context) (*inventory.Snapshot, error) {
					mu.Lock()
					inflight++
					peak = max(peak, inflight)
					started++
					w := wave
					if started%need == 0 || started == tc.endpoints {
						close(wave) // this wave is complete: release it
						wave = make(chan struct{})
					}
					mu.Unlock()
					defer func() { mu.Lock(); inflight--; mu.Unlock() }()
					select {
					case <-w:
						return nil, fmt.Errorf("unreachable %s", ep.Name)
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}})
			}
			e := &Engine{NetBox: emptyNetBox{}}
			s := e.Run(ctx, targets, Options{ReadConcurrency: tc.bound, IgnorePluginSettings: true})
			if ctx.Err() != nil {
				t.Fatal("the reads waited for each other: they were not concurrent")
			}
			if peak > tc.bound {
				t.Errorf("%d reads at once, bound %d", peak, tc.bound)
			}
			for i := range tc.endpoints {
				want := fmt.Sprintf("endpoint ep%d: read proxmox: unreachable ep%d", i+1, i+1)
				found := false
				for _, er := range s.Errors {
					found = found || strings.Contains(er, want)
				}
				if !found {
					t.Errorf("errors %v lack %q", s.Errors, want)
				}
			}
		})
	}
}
