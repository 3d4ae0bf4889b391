package netbox

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// checkIndexes rebuilds every table's indexes from its rows and compares them with the ones
// the writes maintained, and checks that order lists exactly the live rows.
func checkIndexes(t *testing.T, st *store, when string) {
	t.Helper()
	st.mu.RLock()
	defer st.mu.RUnlock()
	for key, tb := range st.tables {
		ids := slices.Sorted(maps.Keys(tb.rows))
		if !slices.Equal(ids, tb.order) {
			t.Fatalf("%s: %s order %v, rows %v", when, key, tb.order, ids)
		}
		fresh := buildIndexes(tb.m)
		for _, id := range tb.order {
			for _, ix := range fresh {
				ix.add(tb.rows[id])
			}
		}
		for name, ix := range fresh {
			got := tb.ix[name].ids
			if len(got) != len(ix.ids) {
				t.Fatalf("%s: %s index %s has %d keys, rows give %d", when, key, name, len(got), len(ix.ids))
			}
			for k, set := range ix.ids {
				if !maps.Equal(set, got[k]) {
					t.Fatalf("%s: %s index %s key %v: %v, rows give %v", when, key, name, k, got[k], set)
				}
			}
		}
	}
}

// TestIndexesFollowWrites checks that uniqueness, global IP uniqueness and the disk sum stay
// exact through creates, renames, deletes, cascades and rolled-back bulk writes (the indexes
// must never keep a rolled-back or deleted row, nor lose a restored one).
func TestIndexesFollowWrites(t *testing.T) {
	h := newHarness(t, Options{})
	_, c1, _ := h.base()
	vm := idOf(h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "keep", "cluster": c1}))
	other := idOf(h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "other", "cluster": c1}))
	ifc := idOf(h.mustCreate("/api/virtualization/interfaces/", map[string]any{"virtual_machine": vm, "name": "net0"}))
	h.mustCreate("/api/ipam/ip-addresses/", map[string]any{"address": "10.1.0.1/24", "assigned_object_type": "virtualization.vminterface", "assigned_object_id": ifc})
	h.mustCreate("/api/virtualization/virtual-disks/", map[string]any{"virtual_machine": vm, "name": "scsi0", "size": 10})
	steps := []struct {
		name   string
		method string
		path   string
		body   any
		code   int
		errIn  string // a substring of the error body, when code is 400
	}{
		{"bulk create rolled back by its last item", "POST", "/api/virtualization/virtual-machines/",
			[]any{map[string]any{"name": "ghost", "cluster": c1}, map[string]any{"name": "KEEP", "cluster": c1}}, 400, "unique per cluster"},
		{"the rolled-back name is free", "POST", "/api/virtualization/virtual-machines/", map[string]any{"name": "GHOST", "cluster": c1}, 201, ""},
		{"case-insensitive duplicate", "POST", "/api/virtualization/virtual-machines/", map[string]any{"name": "Ghost", "cluster": c1}, 400, "unique per cluster"},
		{"bulk patch rolled back by a bad item", "PATCH", "/api/virtualization/virtual-machines/",
			[]any{map[string]any{"id": vm, "name": "renamed"}, map[string]any{"id": other, "status": "bogus"}}, 400, "not a valid choice"},
		{"the old name is still taken after the rollback", "POST", "/api/virtualization/virtual-machines/", map[string]any{"name": "keep", "cluster": c1}, 400, "unique per cluster"},
		{"the rolled-back new name is free", "POST", "/api/virtualization/virtual-machines/", map[string]any{"name": "renamed", "cluster": c1}, 201, ""},
		{"rename frees the old name", "PATCH", fmt.Sprintf("/api/virtualization/virtual-machines/%d/", vm), map[string]any{"name": "moved"}, 200, ""},
		{"the freed name is usable", "POST", "/api/virtualization/virtual-machines/", map[string]any{"name": "keep", "cluster": c1}, 201, ""},
		{"IP taken", "POST", "/api/ipam/ip-addresses/", map[string]any{"address": "10.1.0.1/16"}, 400, "Duplicate IP address"},
		{"disk sum kept", "PATCH", fmt.Sprintf("/api/virtualization/virtual-machines/%d/", vm), map[string]any{"disk": 11}, 400, "aggregate size of assigned virtual disks (10)"},
		{"second disk", "POST", "/api/virtualization/virtual-disks/", map[string]any{"virtual_machine": vm, "name": "scsi1", "size": 5}, 201, ""},
		{"disk sum follows", "PATCH", fmt.Sprintf("/api/virtualization/virtual-machines/%d/", vm), map[string]any{"disk": 10}, 400, "aggregate size of assigned virtual disks (15)"},
		{"VM delete cascades", "DELETE", fmt.Sprintf("/api/virtualization/virtual-machines/%d/", vm), nil, 204, ""},
		{"the cascaded IP is free", "POST", "/api/ipam/ip-addresses/", map[string]any{"address": "10.1.0.1/24"}, 201, ""},
		{"the deleted VM's name is free", "POST", "/api/virtualization/virtual-machines/", map[string]any{"name": "moved", "cluster": c1}, 201, ""},
	}
	for _, s := range steps {
		code, v := h.do(s.method, s.path, s.body)
		if code != s.code || (s.errIn != "" && !strings.Contains(fmt.Sprint(v), s.errIn)) {
			t.Fatalf("%s: %d %v, want %d with %q", s.name, code, v, s.code, s.errIn)
		}
		checkIndexes(t, h.srv.st, s.name)
	}
}

// TestListFilterCacheFollowsWrites: pages of one filtered list share one filtering, and any
// write (or rolled-back write) between two pages is seen by the next one.
func TestListFilterCacheFollowsWrites(t *testing.T) {
	h := newHarness(t, Options{})
	_, c1, c2 := h.base()
	for i := range 3 {
		h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": fmt.Sprint("a", i), "cluster": c1})
	}
	h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "b", "cluster": c2})
	page := func(offset int) (int, []string) {
		t.Helper()
		code, v := h.do("GET", fmt.Sprintf("/api/virtualization/virtual-machines/?cluster_id=%d&limit=2&offset=%d&brief=1", c1, offset), nil)
		if code != 200 {
			t.Fatalf("list: %d %v", code, v)
		}
		m := v.(map[string]any)
		var names []string
		for _, r := range m["results"].([]any) {
			names = append(names, r.(map[string]any)["name"].(string))
		}
		return int(m["count"].(float64)), names
	}
	steps := []struct {
		name   string
		write  func()
		offset int
		count  int
		names  string
	}{
		{"first page", nil, 0, 3, "[a0 a1]"},
		{"second page", nil, 2, 3, "[a2]"},
		{"a create in the cluster", func() {
			h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "a3", "cluster": c1})
		}, 2, 4, "[a2 a3]"},
		{"a rolled-back bulk create", func() {
			if code, _ := h.do("POST", "/api/virtualization/virtual-machines/", []any{map[string]any{"name": "a4", "cluster": c1}, map[string]any{"cluster": c1}}); code != 400 {
				t.Fatalf("bad bulk create: %d", code)
			}
		}, 2, 4, "[a2 a3]"},
		{"a move to the other cluster", func() {
			id := idOf(h.mustCreate("/api/virtualization/virtual-machines/", map[string]any{"name": "a5", "cluster": c1}))
			if code, v := h.do("PATCH", fmt.Sprintf("/api/virtualization/virtual-machines/%d/", id), map[string]any{"cluster": c2}); code != 200 {
				t.Fatalf("move: %d %v", code, v)
			}
		}, 0, 4, "[a0 a1]"},
	}
	for _, s := range steps {
		if s.write != nil {
			s.write()
		}
		if n, names := page(s.offset); n != s.count || fmt.Sprint(names) != s.names {
			t.Fatalf("%s: count %d names %v, want %d %s", s.name, n, names, s.count, s.names)
		}
	}
}
