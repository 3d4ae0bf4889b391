package sync

import (
	"reflect"
	"testing"
	"time"
)

// A create reply's brief object of a parent sent by id is held as that id; a field whose
// nested members are read (site), another id, or a field not sent stay as NetBox returned.
func TestLeanCreated(t *testing.T) {
	o := newObject(ModelVLAN, "k", "VLAN k", "")
	o.ref("virtual_machine", ModelVM, "vm")
	o.ref("site", ModelSite, "s")
	o.ref("device", ModelDevice, "d")
	o.ref("role", ModelRole, "r")
	body := map[string]any{"virtual_machine": int64(7), "site": int64(3), "device": int64(9), "name": "x"}
	reply := map[string]any{"id": 1.0, "name": "x",
		"virtual_machine": map[string]any{"id": 7.0, "name": "vm"},
		"site":            map[string]any{"id": 3.0, "slug": "s"},
		"device":          map[string]any{"id": 8.0, "name": "other"},
		"role":            map[string]any{"id": 4.0, "name": "r"}}
	got := leanCreated(reply, body, o)
	want := map[string]any{"id": 1.0, "name": "x", "virtual_machine": int64(7),
		"site":   map[string]any{"id": 3.0, "slug": "s"},
		"device": map[string]any{"id": 8.0, "name": "other"},
		"role":   map[string]any{"id": 4.0, "name": "r"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
}

// Objects with the same flag set share it; adding a flag to one leaves the other's as it was.
func TestFlagSetsShared(t *testing.T) {
	a, b := newObject(ModelVM, "a", "a", ""), newObject(ModelVM, "b", "b", "")
	a.flag(&a.CreateOnly, "tags", "custom_fields")
	b.flag(&b.CreateOnly, "custom_fields", "tags", "tags")
	if reflect.ValueOf(a.CreateOnly).Pointer() != reflect.ValueOf(b.CreateOnly).Pointer() {
		t.Error("the same set is not shared")
	}
	b.flag(&b.CreateOnly, "name")
	if !reflect.DeepEqual(a.CreateOnly, map[string]bool{"tags": true, "custom_fields": true}) ||
		!reflect.DeepEqual(b.CreateOnly, map[string]bool{"tags": true, "custom_fields": true, "name": true}) {
		t.Errorf("a %v, b %v", a.CreateOnly, b.CreateOnly)
	}
}

// A summary's change list stays as it was when a change is recorded after it.
func TestSummaryKeepsItsChanges(t *testing.T) {
	rep := newReport(func(Event) {}, time.Now)
	rep.record(Change{Op: OpCreate, Model: ModelVM, Key: "a"})
	s := rep.summary(time.Now(), false)
	rep.record(Change{Op: OpCreate, Model: ModelVM, Key: "b"})
	if len(s.Plan.Changes) != 1 || s.Plan.Changes[0].Key != "a" {
		t.Errorf("summary changes %+v", s.Plan.Changes)
	}
	if s2 := rep.summary(time.Now(), false); len(s2.Plan.Changes) != 2 {
		t.Errorf("second summary has %d changes, want 2", len(s2.Plan.Changes))
	}
}
