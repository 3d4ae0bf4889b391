package server

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/proxbox/proxbox/store"
	pbsync "github.com/proxbox/proxbox/sync"
)

// storeRun records a finished run as syncrun does: its summary bounded to perModel changes
// per model and, when that leaves changes out, the full list apart. It returns the run id.
func storeRun(t *testing.T, f *fixture, changes []pbsync.Change, perModel int) int64 {
	t.Helper()
	ctx := context.Background()
	id, err := f.st.StartRun(ctx, store.Run{StartedAt: f.now, Trigger: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	sum := (&pbsync.Summary{OK: true, Errors: []string{}, Plan: &pbsync.Plan{Changes: changes, Unchanged: map[string]int{}}}).Bounded(perModel, 10)
	raw, _ := json.Marshal(sum)
	if err := f.st.FinishRun(ctx, id, f.now, "ok", raw, ""); err != nil {
		t.Fatal(err)
	}
	if len(sum.Plan.Omitted) > 0 {
		all, _ := json.Marshal(changes)
		if err := f.st.SaveRunChanges(ctx, id, len(changes), all); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func sampleChanges() []pbsync.Change {
	var out []pbsync.Change
	for i := range 5 {
		out = append(out, pbsync.Change{Op: pbsync.OpCreate, Model: pbsync.ModelVM, Key: fmt.Sprint("vm", i), Label: fmt.Sprint("vm", i)})
	}
	out = append(out, pbsync.Change{Op: pbsync.OpCreate, Model: pbsync.ModelIP, Key: "10.0.0.1/24", Error: "HTTP 400: duplicate"},
		pbsync.Change{Op: pbsync.OpUpdate, Model: pbsync.ModelVM, Key: "vm0", Fields: []pbsync.FieldChange{{Field: "memory", Old: 1.0, New: 2.0}}})
	return out
}

func TestRunChanges(t *testing.T) {
	f := newFixture(t)
	f.bootstrap()
	bounded := storeRun(t, f, sampleChanges(), 1) // 5 of 7 changes left out of the summary
	complete := storeRun(t, f, sampleChanges(), 100)
	tests := []struct {
		query string
		count int
		keys  []string
	}{
		{"", 7, []string{"vm0", "vm1", "vm2", "vm3", "vm4", "10.0.0.1/24", "vm0"}},
		{"?model=" + pbsync.ModelVM + "&op=create&offset=1&limit=2", 5, []string{"vm1", "vm2"}},
		{"?failed=true", 1, []string{"10.0.0.1/24"}},
		{"?op=update", 1, []string{"vm0"}},
		{"?limit=0", 7, []string{}},
		{"?offset=10", 7, []string{}},
	}
	for _, id := range []int64{bounded, complete} {
		for _, tt := range tests {
			var page runChangesJSON
			rec := f.do("GET", fmt.Sprintf("/sync/runs/%d/changes%s", id, tt.query), adminKey, nil, &page)
			keys := []string{}
			for _, c := range page.Results {
				keys = append(keys, c.Key)
			}
			if rec.Code != 200 || page.Count != tt.count || page.Total != 7 || fmt.Sprint(keys) != fmt.Sprint(tt.keys) {
				t.Errorf("run %d %q: %d count %d total %d keys %v; want count %d keys %v", id, tt.query, rec.Code, page.Count, page.Total, keys, tt.count, tt.keys)
			}
		}
	}
	for _, c := range []struct {
		path string
		code int
	}{{"/sync/runs/999/changes", 404}, {"/sync/runs/x/changes", 422}, {fmt.Sprintf("/sync/runs/%d/changes?limit=1001", bounded), 422},
		{fmt.Sprintf("/sync/runs/%d/changes?offset=-1", bounded), 422}} {
		if rec := f.do("GET", c.path, adminKey, nil, nil); rec.Code != c.code {
			t.Errorf("%s: %d, want %d", c.path, rec.Code, c.code)
		}
	}
	if rec := f.do("GET", fmt.Sprintf("/sync/runs/%d/changes", bounded), "", nil, nil); rec.Code != 401 {
		t.Errorf("without a key: %d", rec.Code)
	}
}
