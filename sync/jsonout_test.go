package sync

import (
	"bytes"
	"encoding/json"
	"testing"
)

// WriteJSON and WriteChangesJSON give json.Marshal's bytes: HTML escapes, texts that
// look like the plan member, empty and nil lists, no plan.
func TestWriteJSONMatchesMarshal(t *testing.T) {
	changes := []Change{
		{Op: OpCreate, Model: ModelVM, Key: `c/qemu/1`, Label: `VM <a&b> "plan":{"changes":null`, ID: 7,
			Fields: []FieldChange{{Field: "name", New: "x\u2028y"}, {Field: "custom_fields.proxmox_vm_id", New: int64(1)}}},
		{Op: OpUpdate, Model: ModelIP, Key: "k", Label: "IP", Fields: []FieldChange{{Field: "tags", Old: []int64{}, New: []int64{1, 2}}}, Error: "refused"},
	}
	sums := []*Summary{
		{OK: true, Errors: []string{`"plan":{"changes":null`}, Plan: &Plan{Changes: changes, Unchanged: map[string]int{ModelVM: 3}, Total: 5, Omitted: map[string]int{ModelIP: 3}}},
		{OK: true, Plan: &Plan{Changes: []Change{}, Unchanged: map[string]int{}}},
		{OK: true, Plan: &Plan{}},
		{OK: false, Errors: []string{}},
	}
	sums[0].Objects = map[string]*Counts{"VM": {Created: 1}}
	sums[0].NetBox.BatchSizes = map[string]int{"/api/x/": 200}
	for i, s := range sums {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := s.WriteJSON(&got); err != nil {
			t.Fatalf("summary %d: %v", i, err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("summary %d:\n got %s\nwant %s", i, got.Bytes(), want)
		}
	}
	for _, l := range [][]Change{nil, {}, changes} {
		want, _ := json.Marshal(l)
		var got bytes.Buffer
		if err := WriteChangesJSON(&got, l); err != nil || !bytes.Equal(got.Bytes(), want) {
			t.Errorf("changes %d: got %s (%v), want %s", len(l), got.Bytes(), err, want)
		}
	}
}
