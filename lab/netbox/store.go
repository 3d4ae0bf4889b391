package netbox

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// object is one stored row. Stored objects are never mutated: a write replaces the pointer,
// so a rollback restores the previous pointer.
type object struct {
	id      int64
	v       map[string]any // field values; FKs as int64 ids, tags []int64, custom_fields map
	created time.Time
	updated time.Time
	changes int64 // change-log rows written for this object (create, real updates)
}

type table struct {
	m      *model
	rows   map[int64]*object
	order  []int64 // ascending ids of live rows
	nextID int64
	ix     map[string]*index // hash indexes, kept current by set and unset (index.go)
}

// store is the in-memory database. All access goes through mu.
type store struct {
	mu     sync.RWMutex
	models []*model
	byKey  map[string]*model
	byPath map[string]*model
	tables map[string]*table
	now    func() time.Time
	// enforceGlobalUnique mirrors NetBox's ENFORCE_GLOBAL_UNIQUE for IP addresses.
	enforceGlobalUnique bool
	// gen counts row changes (writes and rollbacks); filterCache holds the last list filter
	// result per model, valid for one gen (filterRows).
	gen         atomic.Uint64
	cacheMu     sync.Mutex
	filterCache map[string]filterResult
}

func newStore(now func() time.Time) *store {
	s := &store{byKey: map[string]*model{}, byPath: map[string]*model{}, tables: map[string]*table{}, now: now,
		filterCache: map[string]filterResult{}}
	s.models = buildModels()
	for _, m := range s.models {
		s.byKey[m.key] = m
		s.byPath[m.path] = m
		s.tables[m.key] = &table{m: m, rows: map[int64]*object{}, nextID: 1, ix: buildIndexes(m)}
	}
	return s
}

func (s *store) get(key string, id int64) *object {
	t := s.tables[key]
	if t == nil {
		return nil
	}
	return t.rows[id]
}

// undo records how to revert one row change.
type undo struct {
	t    *table
	id   int64
	prev *object // nil: the row did not exist
}

// tx is one atomic write. It runs with s.mu held for writing; rollback restores every row.
type tx struct {
	s     *store
	undo  []undo
	stats []writeStat
}

type writeStat struct {
	model string
	op    string // create, update, delete
	id    int64
	real  bool // data changed (a change-log row)
}

func (t *tx) put(tb *table, o *object) {
	prev := tb.rows[o.id]
	t.undo = append(t.undo, undo{t: tb, id: o.id, prev: prev})
	t.s.gen.Add(1)
	if prev == nil && o.id >= tb.nextID {
		tb.nextID = o.id + 1
	}
	tb.set(o)
}

func (t *tx) remove(tb *table, id int64) {
	prev := tb.rows[id]
	if prev == nil {
		return
	}
	t.undo = append(t.undo, undo{t: tb, id: id, prev: prev})
	t.s.gen.Add(1)
	tb.unset(id)
}

func (t *tx) rollback() {
	t.s.gen.Add(1)
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := t.undo[i]
		if u.prev == nil {
			// Ids are not given back: like a PostgreSQL sequence, a rolled-back
			// insert leaves a gap, so a stale id never names a new object.
			u.t.unset(u.id)
		} else {
			u.t.set(u.prev)
		}
	}
	t.undo, t.stats = nil, nil
}

// errMap is a DRF error body: field -> []string, or field -> nested map (custom_fields).
type errMap map[string]any

func (e errMap) add(field, msg string) {
	if cur, ok := e[field].([]string); ok {
		e[field] = append(cur, msg)
		return
	}
	e[field] = []string{msg}
}

// conflictError is a 409 (protected delete).
type conflictError struct{ detail string }

func (c *conflictError) Error() string { return c.detail }

// create validates item against the rows as they are and inserts it (a single POST).
// item holds decoded JSON (json.Number for numbers).
func (t *tx) create(m *model, item map[string]any) (*object, errMap) {
	vals, errs := t.s.validate(m, item, nil, false)
	if len(errs) > 0 {
		return nil, errs
	}
	return t.insert(m, vals), nil
}

// insert stores validated values as a new row.
func (t *tx) insert(m *model, vals map[string]any) *object {
	tb := t.s.tables[m.key]
	now := t.s.now()
	o := &object{id: tb.nextID, v: vals, created: now, updated: now, changes: 1}
	t.put(tb, o)
	t.stats = append(t.stats, writeStat{model: m.key, op: "create", id: o.id, real: true})
	t.afterWrite(m, o, nil)
	return o
}

// update validates item against row id. partial is PATCH; !partial is PUT.
func (t *tx) update(m *model, id int64, item map[string]any, partial bool) (*object, errMap) {
	tb := t.s.tables[m.key]
	old := tb.rows[id]
	if old == nil {
		return nil, errMap{"detail": fmt.Sprintf("No %s matches the given query.", m.class)}
	}
	vals, errs := t.s.validate(m, item, old, partial)
	if len(errs) > 0 {
		return nil, errs
	}
	o := &object{id: id, v: vals, created: old.created, updated: t.s.now(), changes: old.changes}
	real := !equalVals(old.v, vals)
	if real {
		o.changes++
	}
	t.put(tb, o)
	t.stats = append(t.stats, writeStat{model: m.key, op: "update", id: id, real: real})
	t.afterWrite(m, o, old)
	return o, nil
}

// afterWrite applies NetBox's signal-driven side effects.
func (t *tx) afterWrite(m *model, o, old *object) {
	if m.key == "virtualization.virtualdisk" {
		// netbox/virtualization/signals.py: a VM's disk is the sum of its virtual disks after
		// every disk save or delete (a queryset update: no change-log row, no last_updated bump).
		t.syncVMDisk(o.v["virtual_machine"])
		if old != nil && old.v["virtual_machine"] != o.v["virtual_machine"] {
			t.syncVMDisk(old.v["virtual_machine"])
		}
	}
}

// diskSum returns the total size and the number of virtual disks of VM vmID.
func (s *store) diskSum(vmID int64) (sum int64, n int) {
	dt := s.tables["virtualization.virtualdisk"]
	for id := range dt.ix[fkIndex("virtual_machine")].ids[vmID] {
		sz, _ := dt.rows[id].v["size"].(int64)
		sum += sz
		n++
	}
	return sum, n
}

func (t *tx) syncVMDisk(vmRef any) {
	vmID, ok := vmRef.(int64)
	if !ok {
		return
	}
	vmT := t.s.tables["virtualization.virtualmachine"]
	vm := vmT.rows[vmID]
	if vm == nil {
		return
	}
	sum, n := t.s.diskSum(vmID)
	var newDisk any
	if n > 0 {
		newDisk = sum
	}
	if vm.v["disk"] == newDisk {
		return
	}
	nv := cloneVals(vm.v)
	nv["disk"] = newDisk
	t.put(vmT, &object{id: vm.id, v: nv, created: vm.created, updated: vm.updated, changes: vm.changes})
}

// delete removes row id, cascading like NetBox's on_delete rules. Protected dependents -> 409.
func (t *tx) delete(m *model, id int64) error {
	tb := t.s.tables[m.key]
	o := tb.rows[id]
	if o == nil {
		return nil
	}
	var protected []string
	for _, cm := range t.s.models {
		ct := t.s.tables[cm.key]
		for fi := range cm.fields {
			f := &cm.fields[fi]
			if f.kind != kFK || f.ref != m.key || f.del != delProtect {
				continue
			}
			for _, cid := range ct.ix[fkIndex(f.name)].lookup(id) {
				c := ct.rows[cid]
				if !(cm.key == m.key && cid == id) {
					protected = append(protected, cm.display(t.s, c.v))
				}
			}
		}
	}
	if len(protected) > 0 {
		return &conflictError{detail: fmt.Sprintf("Unable to delete object. %d dependent objects were found: %s",
			len(protected), strings.Join(protected, ", "))}
	}
	t.remove(tb, id)
	t.stats = append(t.stats, writeStat{model: m.key, op: "delete", id: id, real: true})
	for _, cm := range t.s.models {
		ct := t.s.tables[cm.key]
		for fi := range cm.fields {
			f := &cm.fields[fi]
			var victims []int64
			switch {
			case f.kind == kFK && f.ref == m.key:
				victims = ct.ix[fkIndex(f.name)].lookup(id)
			case f.kind == kGFKID && cm.key != "virtualization.cluster" && cm.key != "ipam.prefix",
				f.kind == kInt && f.name == "assigned_object_id":
				// GenericRelation: IPs, MACs and journal entries go with their object.
				victims = ct.ix[gfkIndex(f.name)].lookup(gfkKey{m.key, id})
			case f.kind == kGFKID:
				t.setNull(ct, ct.ix[gfkIndex(f.name)].lookup(gfkKey{m.key, id}), f.gfkTypes, f.name)
				continue
			default:
				continue
			}
			for _, cid := range victims {
				c := ct.rows[cid]
				if c == nil {
					continue
				}
				if f.kind == kFK && f.del == delSetNull {
					nv := cloneVals(c.v)
					nv[f.name] = nil
					t.put(ct, &object{id: c.id, v: nv, created: c.created, updated: c.updated, changes: c.changes})
					continue
				}
				if err := t.delete(cm, cid); err != nil {
					return err
				}
			}
		}
	}
	if m.key == "virtualization.virtualdisk" {
		t.syncVMDisk(o.v["virtual_machine"])
	}
	return nil
}

// setNull clears fields fs of rows ids of table ct (a side effect: no change-log row).
func (t *tx) setNull(ct *table, ids []int64, fs ...string) {
	for _, cid := range ids {
		c := ct.rows[cid]
		nv := cloneVals(c.v)
		for _, f := range fs {
			nv[f] = nil
		}
		t.put(ct, &object{id: c.id, v: nv, created: c.created, updated: c.updated, changes: c.changes})
	}
}

func cloneVals(v map[string]any) map[string]any {
	n := make(map[string]any, len(v))
	for k, x := range v {
		n[k] = x
	}
	return n
}

func equalVals(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok || !equalAny(x, y) {
			return false
		}
	}
	return true
}

func equalAny(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		return ok && equalVals(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalAny(x[i], y[i]) {
				return false
			}
		}
		return true
	case []int64:
		y, ok := b.([]int64)
		return ok && slices.Equal(x, y)
	case []string:
		y, ok := b.([]string)
		return ok && slices.Equal(x, y)
	default:
		return a == b
	}
}

// sortedIDs returns tag ids sorted and deduplicated.
func sortedIDs(ids []int64) []int64 {
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return slices.Compact(ids)
}
