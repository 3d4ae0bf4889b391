package sync

import (
	"context"
	"fmt"
	"net/url"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/proxbox/proxbox/inventory"
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

// Objects with the same flag set share it, and objects alike share their kind; changing
// one object's flags, tags or EnsureOnly leaves the other's as it was.
func TestFlagSetsShared(t *testing.T) {
	a, b := newObject(ModelVM, "a", "a", StageVMs), newObject(ModelVM, "b", "b", StageVMs)
	a.flag(flagCreateOnly, "tags", "custom_fields")
	b.flag(flagCreateOnly, "custom_fields", "tags", "tags")
	a.setTags(TagProxbox)
	b.setTags(TagProxbox)
	if reflect.ValueOf(a.CreateOnly).Pointer() != reflect.ValueOf(b.CreateOnly).Pointer() || a.objKind != b.objKind {
		t.Error("the same set or kind is not shared")
	}
	b.flag(flagCreateOnly, "name")
	b.flag(flagOptional, "device")
	b.setTags(TagProxbox, "pve-x")
	b.ensureOnly()
	if !reflect.DeepEqual(a.CreateOnly, map[string]bool{"tags": true, "custom_fields": true}) ||
		!reflect.DeepEqual(b.CreateOnly, map[string]bool{"tags": true, "custom_fields": true, "name": true}) {
		t.Errorf("a %v, b %v", a.CreateOnly, b.CreateOnly)
	}
	if a.Optional != nil || !b.Optional["device"] || a.EnsureOnly || !b.EnsureOnly ||
		!reflect.DeepEqual(a.Tags, []string{TagProxbox}) || !reflect.DeepEqual(b.Tags, []string{TagProxbox, "pve-x"}) {
		t.Errorf("a %+v, b %+v", *a.objKind, *b.objKind)
	}
	if a.Model != ModelVM || b.Stage != StageVMs || !reflect.DeepEqual(b.CreateOnly, b.set(flagCreateOnly)) {
		t.Errorf("b %+v", *b.objKind)
	}
	c, c2 := newObject(ModelVM, "c", "c", StageVMs), newObject(ModelVM, "c2", "c2", StageVMs)
	c.setTags(TagProxbox, "pve-x")
	c2.setTags(TagProxbox, "pve-x")
	if c.objKind != c2.objKind {
		t.Error("a kind with PVE tags is not shared")
	}
	full := taggedKinds.Swap(maxTaggedKinds)
	defer taggedKinds.Store(full)
	d, e := newObject(ModelVM, "d", "d", StageVMs), newObject(ModelVM, "e", "e", StageVMs)
	d.setTags(TagProxbox, "pve-new")
	e.setTags(TagProxbox, "pve-new")
	if d.objKind == e.objKind || !reflect.DeepEqual(e.Tags, []string{TagProxbox, "pve-new"}) {
		t.Error("kinds with PVE tags are kept beyond maxTaggedKinds")
	}
}

// attrs keeps its names sorted and its values in their order, whatever the order of Set.
func TestAttrs(t *testing.T) {
	var a, b attrs[any]
	a.Set("name", "x")
	a.Set("mtu", nil)
	a.Set("enabled", true)
	a.Set("name", "y")
	b.Set("enabled", false)
	b.Set("name", "z")
	b.Set("mtu", 1500)
	var names []string
	var vals []any
	for k, v := range a.All() {
		names, vals = append(names, k), append(vals, v)
	}
	if !reflect.DeepEqual(names, []string{"enabled", "mtu", "name"}) || !reflect.DeepEqual(vals, []any{true, nil, "y"}) || a.s != b.s {
		t.Errorf("names %v, values %v, shape shared %v", names, vals, a.s == b.s)
	}
	if v, ok := a.Lookup("mtu"); !ok || v != nil || a.Get("vid") != nil || a.Len() != 3 {
		t.Errorf("Lookup mtu %v %v, Len %d", v, ok, a.Len())
	}
	if m := b.Map(); !reflect.DeepEqual(m, map[string]any{"enabled": false, "name": "z", "mtu": 1500}) {
		t.Errorf("Map %v", m)
	}
	var r refs
	r.Set("virtual_machine", Ref{ModelVM, "vm"})
	r.Set("platform", Ref{})
	r.Set("primary_ip4", Ref{ModelIP, "ip"})
	r.Set("platform", Ref{ModelPlatform, "linux"})
	r.Set("primary_ip4", Ref{ModelIP, "ip2"})
	r.Set("primary_ip6", Ref{})
	if r.Get("platform") != (Ref{ModelPlatform, "linux"}) || r.Get("primary_ip4") != (Ref{ModelIP, "ip2"}) || !r.Get("primary_ip6").IsZero() ||
		!r.Get("vrf").IsZero() || r.Len() != 4 {
		t.Errorf("refs %v", r.Map())
	}
	var fields []string
	for f := range r.All() {
		fields = append(fields, f)
	}
	if !slices.Equal(fields, []string{"platform", "primary_ip4", "primary_ip6", "virtual_machine"}) {
		t.Errorf("refs in order %v", fields)
	}
	var none *attrs[any]
	if none.Map() != nil || none.Len() != 0 || none.Get("x") != nil {
		t.Error("a nil attrs does not read as empty")
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

// Desired keeps each model's objects in mapping order, the first of a key only, and finds
// every one by key across its index's growth.
func TestDesiredIndex(t *testing.T) {
	d := newDesired()
	var want []*Object
	for i := range 1000 {
		o := newObject(ModelVM, fmt.Sprintf("vm/%d", i), "", StageVMs)
		if got := d.Add(o); got != o {
			t.Fatalf("Add %s returned another object", o.Key)
		}
		want = append(want, o)
		if dup := newObject(ModelVM, o.Key, "dup", StageVMs); d.Add(dup) != o {
			t.Fatalf("Add of a second %s did not return the first", o.Key)
		}
	}
	d.Add(newObject(ModelIP, "vm/1", "", StageIPs))
	if !slices.Equal(d.Objects(ModelVM), want) || d.Count(ModelVM) != 1000 || d.Count(ModelIP) != 1 || d.Objects(ModelDisk) != nil {
		t.Fatalf("objects %d, IPs %d", d.Count(ModelVM), d.Count(ModelIP))
	}
	for _, o := range want {
		if d.Get(ModelVM, o.Key) != o {
			t.Fatalf("Get %s", o.Key)
		}
	}
	if d.Get(ModelVM, "vm/1000") != nil || d.Get(ModelDisk, "vm/1") != nil || d.Get(ModelIP, "vm/1").Model != ModelIP {
		t.Error("Get found what is not there")
	}
}

// releaseNetBox is an empty NetBox whose list of custom fields (the first of
// loadAll, after the snapshot was mapped) waits until the snapshot was collected, or gives up.
type releaseNetBox struct {
	emptyNetBox
	freed    chan struct{}
	released bool
}

func (n *releaseNetBox) List(_ context.Context, model string, _ url.Values) ([]map[string]any, error) {
	if model == ModelCustomField && !n.released {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && !n.released {
			runtime.GC()
			select {
			case <-n.freed:
				n.released = true
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil, nil
}

// TestSnapshotReleasedBeforeLoad: once an endpoint's snapshot is mapped to
// its desired objects, neither Run nor the endpoint's sync holds it while
// NetBox's current state loads (the run's memory peak at 100,000 guests).
func TestSnapshotReleasedBeforeLoad(t *testing.T) {
	nb := &releaseNetBox{freed: make(chan struct{})}
	ep := inventory.Endpoint{ID: 1, Name: "pve1", Host: "pve1.example"}
	read := func(context.Context) (*inventory.Snapshot, error) {
		s := &inventory.Snapshot{Endpoint: ep, Cluster: inventory.Cluster{Name: "lab"},
			Nodes:  []inventory.Node{{Name: "n1", Online: true}},
			Guests: []inventory.Guest{{VMID: 100, Type: inventory.QEMU, Name: "vm100", Node: "n1", Status: "running"}},
			Tasks:  []inventory.Task{{UPID: "UPID:n1:1", Node: "n1", Started: time.Unix(1e9, 0)}}}
		runtime.SetFinalizer(s, func(*inventory.Snapshot) { close(nb.freed) })
		return s, nil
	}
	e := &Engine{NetBox: nb}
	e.Run(context.Background(), []Target{{Endpoint: ep, Read: read}}, Options{IgnorePluginSettings: true})
	if !nb.released {
		t.Fatal("the snapshot was still held while the current state loaded")
	}
}
