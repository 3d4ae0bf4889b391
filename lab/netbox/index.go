package netbox

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// index is a hash index over one table: key -> ids of the rows with that key. Every row
// change goes through table.set and table.unset (creates, updates, deletes, side effects and
// rollbacks alike), which keep all of a table's indexes in step with its rows, so a lookup
// costs the same whatever the table's size.
type index struct {
	// key returns a row's key, or false when the row is not indexed (a null field, a
	// uniqueness rule that does not apply to it).
	key func(v map[string]any) (any, bool)
	ids map[any]map[int64]struct{}
}

func (ix *index) add(o *object) {
	k, ok := ix.key(o.v)
	if !ok {
		return
	}
	set := ix.ids[k]
	if set == nil {
		set = map[int64]struct{}{}
		ix.ids[k] = set
	}
	set[o.id] = struct{}{}
}

func (ix *index) drop(o *object) {
	k, ok := ix.key(o.v)
	if !ok {
		return
	}
	if set := ix.ids[k]; set != nil {
		delete(set, o.id)
		if len(set) == 0 {
			delete(ix.ids, k)
		}
	}
}

// lookup returns the ids with key k in ascending order (the order a table scan visits them).
func (ix *index) lookup(k any) []int64 {
	set := ix.ids[k]
	if len(set) == 0 {
		return nil
	}
	out := make([]int64, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// count returns how many rows have key k.
func (ix *index) count(k any) int { return len(ix.ids[k]) }

// gfkKey is the key of a generic foreign key: the model and the id it points at.
type gfkKey struct {
	typ string
	id  int64
}

// Uniqueness rules are indexed as "unique:<n>" (n: position in model.uniques).
// ixHost indexes ipam.ipaddress by (VRF, host address), ixPrefix ipam.prefix by (VRF,
// prefix) of every row: the lookups of the unique IP space (cleanIP, cleanPrefix).
const (
	ixHost   = "host"
	ixPrefix = "prefix"
)

// hostKey is an IP address's table (its VRF's id, 0 for the global table) and host address,
// or a prefix's table and prefix.
type hostKey struct {
	vrf  int64
	host string
}

// fkIndex names the index of FK field f; gfkIndex that of the generic FK whose id field is f.
func fkIndex(f string) string  { return "fk:" + f }
func gfkIndex(f string) string { return "gfk:" + f }
func uniqueIndex(i int) string { return fmt.Sprint("unique:", i) }

// buildIndexes declares the indexes of model m's table.
func buildIndexes(m *model) map[string]*index {
	ixs := map[string]*index{}
	add := func(name string, key func(v map[string]any) (any, bool)) {
		ixs[name] = &index{key: key, ids: map[any]map[int64]struct{}{}}
	}
	for i := range m.fields {
		f := m.fields[i]
		switch {
		case f.kind == kFK:
			add(fkIndex(f.name), func(v map[string]any) (any, bool) {
				id, ok := v[f.name].(int64)
				return id, ok
			})
		case f.kind == kGFKID || (f.kind == kInt && f.name == "assigned_object_id"):
			typField := f.gfkTypes
			if typField == "" {
				typField = "assigned_object_type"
			}
			add(gfkIndex(f.name), func(v map[string]any) (any, bool) {
				typ, ok1 := v[typField].(string)
				id, ok2 := v[f.name].(int64)
				return gfkKey{typ, id}, ok1 && ok2
			})
		}
	}
	for i, u := range m.uniques {
		add(uniqueIndex(i), func(v map[string]any) (any, bool) {
			if u.when != nil && !u.when(v) {
				return nil, false
			}
			return uniqueKey(u, v)
		})
	}
	if m.key == "ipam.prefix" {
		add(ixPrefix, func(v map[string]any) (any, bool) {
			p, ok := v["prefix"].(string)
			vrf, _ := v["vrf"].(int64)
			return hostKey{vrf, p}, ok
		})
	}
	if m.key == "ipam.ipaddress" {
		add(ixHost, func(v map[string]any) (any, bool) {
			addr, ok := v["address"].(string)
			if !ok {
				return nil, false
			}
			vrf, _ := v["vrf"].(int64) // 0: the global table
			return hostKey{vrf, hostOf(addr)}, true
		})
	}
	return ixs
}

// uniqueKey is the key of values v under rule u: false when a field is null (SQL NULLs
// never collide). Values keep their Go type in the key (int64 1 and "1" differ, as a != b
// does), and the rule's case-insensitive field is case-folded.
func uniqueKey(u unique, v map[string]any) (any, bool) {
	var b strings.Builder
	for i, f := range u.fields {
		x := v[f]
		if x == nil {
			return nil, false
		}
		if i > 0 {
			b.WriteByte(0)
		}
		if f == u.ci {
			s, _ := x.(string)
			b.WriteString("ci:")
			b.WriteString(foldCase(s))
			continue
		}
		fmt.Fprintf(&b, "%T:%v", x, x)
	}
	return b.String(), true
}

// foldCase maps s to a canonical form such that foldCase(a) == foldCase(b) exactly when
// strings.EqualFold(a, b): every rune becomes the smallest rune of its simple-folding orbit.
func foldCase(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

// set stores o as row o.id, keeping order and indexes current.
func (tb *table) set(o *object) {
	prev := tb.rows[o.id]
	if prev == nil {
		i, found := slices.BinarySearch(tb.order, o.id)
		if !found {
			tb.order = slices.Insert(tb.order, i, o.id)
		}
	} else {
		for _, ix := range tb.ix {
			ix.drop(prev)
		}
	}
	tb.rows[o.id] = o
	for _, ix := range tb.ix {
		ix.add(o)
	}
}

// unset removes row id, keeping order and indexes current.
func (tb *table) unset(id int64) {
	prev := tb.rows[id]
	if prev == nil {
		return
	}
	for _, ix := range tb.ix {
		ix.drop(prev)
	}
	delete(tb.rows, id)
	if i, ok := slices.BinarySearch(tb.order, id); ok {
		tb.order = slices.Delete(tb.order, i, i+1)
	}
}
