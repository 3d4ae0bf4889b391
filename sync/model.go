package sync

import (
	"fmt"
	"hash/maphash"
	"iter"
	"regexp"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
)

// NetBox API paths (below /api/) of the models the engine writes.
const (
	ModelTag         = "extras/tags"
	ModelCustomField = "extras/custom-fields"
	ModelClusterType = "virtualization/cluster-types"
	ModelCluster     = "virtualization/clusters"
	ModelSite        = "dcim/sites"
	ModelMfr         = "dcim/manufacturers"
	ModelDeviceType  = "dcim/device-types"
	ModelRole        = "dcim/device-roles"
	ModelPlatform    = "dcim/platforms"
	ModelDevice      = "dcim/devices"
	ModelInterface   = "dcim/interfaces"
	ModelVLAN        = "ipam/vlans"
	ModelVM          = "virtualization/virtual-machines"
	ModelVMInterface = "virtualization/interfaces"
	ModelDisk        = "virtualization/virtual-disks"
	ModelMAC         = "dcim/mac-addresses"
	ModelIP          = "ipam/ip-addresses"
	ModelVRF         = "ipam/vrfs"
)

// Tag slugs the engine owns. PVE tags are mirrored as "pve-<slug>".
const (
	TagProxbox   = "proxbox"
	TagOrphan    = "proxbox-orphan"
	pveTagPrefix = "pve-"
)

// Custom fields the engine writes, each scoped to the object types that carry it.
const (
	CFEndpoint   = "proxmox_endpoint"
	CFPVECluster = "proxmox_cluster" // the Proxmox identity of a cluster: ProxmoxIdentity
	CFVMID       = "proxmox_vm_id"
	CFVMType     = "proxmox_vm_type"
	CFNode       = "proxmox_node"
	CFOrphanedAt = "proxmox_orphaned_at"
)

// Ref points at another desired or current object by its identity key. A
// zero Ref stands for null.
type Ref struct {
	Model string
	Key   string
}

// IsZero reports whether r is the null reference.
func (r Ref) IsZero() bool { return r.Model == "" }

// Object is one desired NetBox object: plain field values, references to other
// objects (resolved to ids at apply time), tag slugs and the custom fields we
// own. Nothing else of the NetBox object is ours. An endpoint's sync keeps
// hundreds of thousands of them alive from mapping to its end, so an Object
// is small: what many objects have alike (model, stage, tags, flag sets) is one
// shared objKind, read through the embedded pointer (o.Model, o.Tags,
// o.CreateOnly...) and changed only through setters (flag, setTags, ensureOnly).
type Object struct {
	*objKind
	Key string // identity, unique within Model

	Fields       attrs[any]
	Refs         refs        // FK fields
	CustomFields *attrs[any] // nil: none; set with setCF
}

// objKind is what objects share: interned (kindOf), read only.
type objKind struct {
	Model string
	Stage Stage
	Tags  []string // slugs; nil: tags are not managed

	// CreateOnly fields (incl. "tags", "custom_fields") are written on create
	// and never diffed afterwards: user-owned after creation.
	CreateOnly map[string]bool
	// Optional refs may stay unresolved (parent not there yet, e.g. a primary
	// IP before IPs exist): then they are omitted and not compared.
	Optional map[string]bool
	// Soft refs are only written when the current value is null or points at
	// an object we own (a user's primary IP is kept).
	Soft map[string]bool
	// SetFields hold string lists merged as sets: ours added, theirs kept.
	SetFields map[string]bool
	// EnsureOnly objects are created when missing and never updated.
	EnsureOnly bool

	key kindKey
}

// kindKey identifies an objKind: tags and each flag set by their names joined
// ("" for none; tags "\x01"-prefixed when managed, so that no tags differs from nil).
type kindKey struct {
	model  string
	stage  Stage
	tags   string
	sets   [4]string // by flagSet
	ensure bool
}

// flagSet names one of an object's flag sets.
type flagSet int

const (
	flagCreateOnly flagSet = iota
	flagOptional
	flagSoft
	flagSetFields
)

func (k *objKind) set(f flagSet) map[string]bool {
	return [...]map[string]bool{k.CreateOnly, k.Optional, k.Soft, k.SetFields}[f]
}

// kinds holds one objKind per kindKey (a few dozen, and those with guests' PVE tags).
// Users name tags freely and a long-running sync meets new combinations, so at most
// maxTaggedKinds kinds with PVE tags are kept; beyond, such an object has its own.
var (
	kinds       gosync.Map
	taggedKinds atomic.Int64
)

const maxTaggedKinds = 10000

// kindOf returns the objKind of k; tags are its tags (k.tags is their key).
func kindOf(k kindKey, tags []string) *objKind {
	if v, ok := kinds.Load(k); ok {
		return v.(*objKind)
	}
	tagged := k.tags != "" && k.tags != "\x01"+TagProxbox
	n := &objKind{Model: k.model, Stage: k.stage, EnsureOnly: k.ensure, key: k}
	if tags != nil {
		n.Tags = slices.Clip(append([]string{}, tags...))
	}
	sets := [4]*map[string]bool{&n.CreateOnly, &n.Optional, &n.Soft, &n.SetFields}
	for i, names := range k.sets {
		if names != "" {
			v, _ := flagSets.Load(names)
			*sets[i] = v.(map[string]bool)
		}
	}
	if tagged && taggedKinds.Load() >= maxTaggedKinds {
		return n
	}
	v, loaded := kinds.LoadOrStore(k, n)
	if tagged && !loaded {
		taggedKinds.Add(1)
	}
	return v.(*objKind)
}

// newObject returns an object of model; label names it in reports, "" for the models
// whose label derivedLabel makes from their fields (the many objects of each guest).
func newObject(model, key, label string, st Stage) *Object {
	o := &Object{objKind: kindOf(kindKey{model: model, stage: st}, nil), Key: key}
	if label != "" {
		o.Fields.Set(labelField, label)
	}
	return o
}

// labelField holds the label of an object that newObject was given one; like every field
// named "\x00...", it is never sent nor compared.
const labelField = "\x00label"

// Label names the object in reports: "qemu 101 (web)", "qemu 101 disk scsi0", "VLAN 20".
func (o *Object) Label() string {
	if l, ok := o.Fields.Lookup(labelField); ok {
		return l.(string)
	}
	return derivedLabel(o)
}

// derivedLabel makes the label of a guest's VM, disk, interface, MAC, backup, snapshot or
// task from its fields (and key) when needed, instead of each object holding one.
func derivedLabel(o *Object) string {
	name, _ := o.Fields.Get("name").(string)
	text := func(f string) string { s, _ := o.Fields.Get(f).(string); return s }
	switch o.Model {
	case ModelVM:
		return fmt.Sprintf("%s %d (%s)", o.CustomFields.Get(CFVMType), o.CustomFields.Get(CFVMID), name)
	case ModelDisk:
		return guestOf(o.Key, diskKey("", name)) + " disk " + name
	case ModelVMInterface:
		return guestOf(o.Key, ifaceKey("", name)) + " interface " + name
	case ModelMAC:
		return "MAC " + text("mac_address")
	case ModelBackup:
		return "backup " + text("volume_id")
	case ModelSnapshot:
		return fmt.Sprintf("%s %d snapshot %s", o.Fields.Get("subtype"), o.Fields.Get("vmid"), name)
	case ModelTaskHistory:
		return "task " + text("upid")
	}
	return o.Key
}

// guestOf returns "<type> <vmid>" of the guest whose vmKey is key without suffix.
func guestOf(key, suffix string) string {
	vm := strings.TrimSuffix(key, suffix)
	i := strings.LastIndexByte(vm, '/')
	j := strings.LastIndexByte(vm[:max(i, 0)], '/')
	return vm[j+1:max(i, 0)] + " " + vm[i+1:]
}

// setTags sets the object's tag slugs (nil: tags are not managed).
func (o *Object) setTags(tags ...string) {
	k := o.key
	k.tags = ""
	if tags != nil {
		k.tags = "\x01" + strings.Join(tags, "\n")
	}
	o.objKind = kindOf(k, tags)
}

// ensureOnly makes the object one that is created when missing and never updated.
func (o *Object) ensureOnly() {
	k := o.key
	k.ensure = true
	o.objKind = kindOf(k, o.Tags)
}

// setCF sets the custom field name to v.
func (o *Object) setCF(name string, v any) {
	if o.CustomFields == nil {
		o.CustomFields = &attrs[any]{}
	}
	o.CustomFields.Set(name, v)
}

func (o *Object) ref(field, model, key string) { o.Refs.Set(field, Ref{Model: model, Key: key}) }

// attrs maps names to values, compactly: a desired object holds a few of them (fields,
// references, custom fields) and an endpoint's sync keeps hundreds of thousands of objects
// for its whole run, where a Go map costs a group of 8 slots or more each. The names, sorted,
// live in a shape shared by every attrs with the same names; vals holds the values in that
// order, without spare capacity. The zero attrs is empty and ready to use; a nil *attrs
// reads as empty. All yields the names in sorted order.
type attrs[V any] struct {
	s    *shape
	vals []V
}

// Get returns the value of name; the zero value when it is not set.
func (a *attrs[V]) Get(name string) V {
	v, _ := a.Lookup(name)
	return v
}

// Lookup returns the value of name and whether it is set.
func (a *attrs[V]) Lookup(name string) (V, bool) {
	if a != nil && a.s != nil {
		if i, ok := slices.BinarySearch(a.s.names, name); ok {
			return a.vals[i], true
		}
	}
	var zero V
	return zero, false
}

// Set sets name to v.
func (a *attrs[V]) Set(name string, v V) {
	var names []string
	if a.s != nil {
		names = a.s.names
	}
	i, ok := slices.BinarySearch(names, name)
	if ok {
		a.vals[i] = v
		return
	}
	a.s = a.s.with(name)
	vals := make([]V, len(a.vals)+1)
	copy(vals, a.vals[:i])
	vals[i] = v
	copy(vals[i+1:], a.vals[i:])
	a.vals = vals
}

// Len returns the number of names set.
func (a *attrs[V]) Len() int {
	if a == nil {
		return 0
	}
	return len(a.vals)
}

// All yields the names set and their values, names sorted.
func (a *attrs[V]) All() iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		if a == nil || a.s == nil {
			return
		}
		for i, n := range a.s.names {
			if !yield(n, a.vals[i]) {
				return
			}
		}
	}
}

// Map returns a new map of the names set; nil when none is.
func (a *attrs[V]) Map() map[string]V {
	if a.Len() == 0 {
		return nil
	}
	m := make(map[string]V, len(a.vals))
	for k, v := range a.All() {
		m[k] = v
	}
	return m
}

// shape is one sorted list of names, shared (read only) by every attrs that has them.
type shape struct {
	names []string
	next  gosync.Map // name -> *shape of names with name added
}

var (
	rootShape shape
	shapesMu  gosync.Mutex
	shapes    = map[string]*shape{} // names joined by "\n" -> their one shape (a few hundred)
)

// with returns the shape of s's names and name (not in s); s nil is the empty shape.
func (s *shape) with(name string) *shape {
	if s == nil {
		s = &rootShape
	}
	if n, ok := s.next.Load(name); ok {
		return n.(*shape)
	}
	i, _ := slices.BinarySearch(s.names, name)
	got, _ := s.next.LoadOrStore(name, shapeOf(slices.Insert(slices.Clone(s.names), i, name)))
	return got.(*shape)
}

// shapeOf returns the one shape of names (sorted, owned by shapeOf); nil for none.
func shapeOf(names []string) *shape {
	if len(names) == 0 {
		return nil
	}
	key := strings.Join(names, "\n")
	shapesMu.Lock()
	defer shapesMu.Unlock()
	n := shapes[key]
	if n == nil {
		n = &shape{names: slices.Clip(names)}
		shapes[key] = n
	}
	return n
}

// remove removes the i-th name and its value.
func (a *attrs[V]) remove(i int) {
	a.s = shapeOf(slices.Delete(slices.Clone(a.s.names), i, i+1))
	a.vals = slices.Clip(slices.Delete(slices.Clone(a.vals), i, i+1))
	if len(a.vals) == 0 {
		a.vals = nil
	}
}

// refs maps FK field names to references like an attrs, with each reference's model in
// the shared names ("field\x00model": a field has one model, or none for null) and only
// its key in the object.
type refs struct{ a attrs[string] }

// find returns the position of field, -1 when it is not set.
func (r *refs) find(field string) int {
	if r.a.s == nil {
		return -1
	}
	i, ok := slices.BinarySearchFunc(r.a.s.names, field, func(n, f string) int {
		return strings.Compare(n[:strings.IndexByte(n, 0)], f)
	})
	if !ok {
		return -1
	}
	return i
}

func (r *refs) at(i int) (field string, ref Ref) {
	n := r.a.s.names[i]
	z := strings.IndexByte(n, 0)
	return n[:z], Ref{Model: n[z+1:], Key: r.a.vals[i]}
}

// Get returns the reference of field; the null Ref when it is not set.
func (r *refs) Get(field string) Ref {
	if i := r.find(field); i >= 0 {
		_, ref := r.at(i)
		return ref
	}
	return Ref{}
}

// Set sets field to ref (the null Ref: null).
func (r *refs) Set(field string, ref Ref) {
	if i := r.find(field); i >= 0 {
		if _, old := r.at(i); old.Model == ref.Model {
			r.a.vals[i] = ref.Key
			return
		}
		r.a.remove(i)
	}
	r.a.Set(field+"\x00"+ref.Model, ref.Key)
}

// Len returns the number of fields set.
func (r *refs) Len() int { return r.a.Len() }

// All yields the fields set and their references, fields sorted.
func (r *refs) All() iter.Seq2[string, Ref] {
	return func(yield func(string, Ref) bool) {
		for i := range r.a.vals {
			if !yield(r.at(i)) {
				return
			}
		}
	}
}

// Map returns a new map of the fields set; nil when none is.
func (r *refs) Map() map[string]Ref {
	if r.Len() == 0 {
		return nil
	}
	m := make(map[string]Ref, r.Len())
	for f, ref := range r.All() {
		m[f] = ref
	}
	return m
}

// flag adds fields to one of the object's flag sets. The sets are shared, read only,
// between the objects that have the same one (every VM has the same few).
func (o *Object) flag(f flagSet, fields ...string) {
	m := o.set(f)
	names := make([]string, 0, len(m)+len(fields))
	for n := range m {
		names = append(names, n)
	}
	names = append(names, fields...)
	slices.Sort(names)
	names = slices.Compact(names)
	key := strings.Join(names, "\x00")
	if _, ok := flagSets.Load(key); !ok {
		set := make(map[string]bool, len(names))
		for _, n := range names {
			set[n] = true
		}
		flagSets.LoadOrStore(key, set)
	}
	k := o.key
	k.sets[f] = key
	o.objKind = kindOf(k, o.Tags)
}

// flagSets holds one map per set of field names flag made (a few dozen sets).
var flagSets gosync.Map

// Desired is everything one snapshot maps to, grouped by model in a stable order.
type Desired struct {
	Endpoint string // endpoint label (proxmox_endpoint value)
	Cluster  string // key of our cluster
	Complete bool
	objects  map[string]*objectIndex // by model
	Warnings []string
	texts    map[string]any // text returns these
}

func newDesired() *Desired {
	return &Desired{objects: map[string]*objectIndex{}}
}

// Add adds o unless an object with the same key exists; it returns the kept one.
func (d *Desired) Add(o *Object) *Object {
	m := d.objects[o.Model]
	if m == nil {
		m = &objectIndex{}
		d.objects[o.Model] = m
	}
	return m.add(o)
}

// Objects returns the desired objects of a model in mapping order.
func (d *Desired) Objects(model string) []*Object {
	if m := d.objects[model]; m != nil {
		return m.objs
	}
	return nil
}

// Get returns one desired object.
func (d *Desired) Get(model, key string) *Object {
	if m := d.objects[model]; m != nil {
		_, o := m.find(key)
		return o
	}
	return nil
}

// text returns s as a field value shared by every object of d that has it: for the
// values that repeat (a status, a node, a storage), each of which would otherwise hold
// its own copy in an interface value.
func (d *Desired) text(s string) any {
	v, ok := d.texts[s]
	if !ok {
		if d.texts == nil {
			d.texts = map[string]any{}
		}
		v = s
		d.texts[s] = v
	}
	return v
}

// Count returns the number of desired objects of a model.
func (d *Desired) Count(model string) int { return len(d.Objects(model)) }

// objectIndex holds one model's desired objects in mapping order and finds them by key:
// an open-addressing hash table of positions in objs (a map from keys to objects would
// hold each key a second time, in slots about twice as large).
type objectIndex struct {
	objs  []*Object
	slots []int32 // position in objs + 1, 0: free; a power of two long, at most half full
}

var keySeed = maphash.MakeSeed()

// find returns the slot of key (where it is, else the free slot where it would go) and
// its object, nil when none.
func (m *objectIndex) find(key string) (int, *Object) {
	if len(m.slots) == 0 {
		return -1, nil
	}
	mask := len(m.slots) - 1
	for i := int(maphash.String(keySeed, key)) & mask; ; i = (i + 1) & mask {
		p := m.slots[i]
		if p == 0 {
			return i, nil
		}
		if o := m.objs[p-1]; o.Key == key {
			return i, o
		}
	}
}

// add adds o unless an object with its key is there; it returns the kept one.
func (m *objectIndex) add(o *Object) *Object {
	i, old := m.find(o.Key)
	if old != nil {
		return old
	}
	m.objs = append(m.objs, o)
	if 2*len(m.objs) > len(m.slots) {
		n := max(8, 2*len(m.slots))
		for 2*len(m.objs) > n {
			n *= 2
		}
		m.slots = make([]int32, n)
		for p, x := range m.objs {
			j, _ := m.find(x.Key)
			m.slots[j] = int32(p + 1)
		}
		return o
	}
	m.slots[i] = int32(len(m.objs))
	return o
}

var nonAlnum = regexp.MustCompile(`[^a-z0-9]+`)

// Slugify lowercases s and turns runs of other characters into single dashes.
func Slugify(s string) string {
	s = nonAlnum.ReplaceAllString(strings.ToLower(s), "-")
	s = strings.Trim(s, "-")
	if len(s) > 100 {
		s = strings.TrimRight(s[:100], "-")
	}
	return s
}
