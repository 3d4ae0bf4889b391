package netbox

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Trimmed list decoding (ListTrimmed): NetBox's list objects carry, at every level (the
// object and each brief object nested in it), a url, a display_url and a display text that a
// client holding the whole state (the sync engine) never reads; they are a large part of the
// decoded size. Nor does it read an object's created and last_updated, and a member that is
// null reads the same as one that is missing (a map lookup gives nil): the list objects leave
// those out too (not the members of nested objects, such as custom_fields, where a missing
// key and a null differ). trimResults decodes the results array as encoding/json would (maps,
// []any, float64, strings, bools, nil) without those members, and shares the text of
// repeated short strings (keys, status values, slugs) within one page, and of repeated
// short nested values (tags, status choices, a parent's brief object, custom_fields): one
// decoded copy of each text per page or write reply (sharedMax). The objects are read, never
// changed, by their holder (the sync engine copies a map before changing it), so sharing the
// nested maps and lists is safe; it was a third of the decoded size.

// Lean list objects (ListLean): a caller that reads a nested object only by its id (a
// parent's brief object: {"id":3,"name":"pve1","description":""}) gets that id, a float64 as
// encoding/json decodes it, and the nested object is never built; the brief objects were most
// of the decoded size after the shells of the objects themselves. A member whose value is ""
// or {} reads the same as a missing one to such a caller and is left out, which also keeps more
// objects within Go's smaller map sizes (8 and 14 members). Only the list objects' own members
// (the top level) are so reduced, and only those Lean does not name.

// Lean says which members of the list objects ListLean keeps as ListTrimmed decodes them.
type Lean struct {
	// Whole names the members whose nested object is decoded whole: a member not named here
	// whose value is an object with a numeric "id" holds that id (its last "id", as
	// encoding/json reads a repeated key).
	Whole map[string]bool
	// KeepEmpty names the members kept when their value is "" or {} (others are left out).
	KeepEmpty map[string]bool
}

// trimmedKeys are the members ListTrimmed leaves out, at every level.
var trimmedKeys = map[string]bool{"url": true, "display_url": true, "display": true}

// trimmedTopKeys are left out of the list objects themselves, as are null members.
var trimmedTopKeys = map[string]bool{"created": true, "last_updated": true}

// trimmedPage is a list envelope whose results are decoded trimmed.
type trimmedPage struct {
	Count   *int64      `json:"count"`
	Next    *string     `json:"next"`
	Results trimResults `json:"results"`
}

type trimResults struct {
	objs []Object
	set  bool  // the member was there (and not null)
	lean *Lean // set by the caller before decoding: ListLean
}

// UnmarshalJSON implements json.Unmarshaler; encoding/json has checked that b is valid JSON.
func (r *trimResults) UnmarshalJSON(b []byte) error {
	i := skipWS(b, 0)
	if i < len(b) && b[i] == 'n' {
		return nil // null: no results
	}
	if i >= len(b) || b[i] != '[' {
		return errShape
	}
	d := trimDecoder{b: b, strs: map[string]string{}, vals: map[string]any{}, lean: r.lean}
	r.objs, r.set = []Object{}, true
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return nil
	}
	for i < len(b) {
		if b[i] != '{' {
			return errShape
		}
		o, next, err := d.object(i, true)
		if err != nil {
			return err
		}
		r.objs = append(r.objs, o)
		after, done, err := afterMember(b, next, ']')
		if err != nil || done {
			return err
		}
		i = after
	}
	return errShape
}

// trimDecoder decodes valid JSON.
type trimDecoder struct {
	b    []byte
	strs map[string]string // short strings seen: one copy each
	vals map[string]any    // short nested objects and arrays seen, by their text: one copy each
	lean *Lean             // list objects' members reduced (ListLean), nil: trimmed only
	kv   []member          // a lean write reply object's members, before its map is made
}

type member struct {
	k string
	v any
}

// sharedMax is the longest text of a nested object or array decoded once per page.
const sharedMax = 512

// value decodes the value at b[i] and returns the index after it.
func (d *trimDecoder) value(i int) (any, int, error) {
	b := d.b
	if i >= len(b) {
		return nil, 0, errShape
	}
	switch b[i] {
	case '{', '[':
		end := skipValue(b, i)
		if end < 0 {
			return nil, 0, errShape
		}
		if end-i > sharedMax || d.vals == nil {
			return d.container(i)
		}
		if v, ok := d.vals[string(b[i:end])]; ok {
			return v, end, nil
		}
		v, next, err := d.container(i)
		if err == nil {
			d.vals[string(b[i:next])] = v
		}
		return v, next, err
	case '"':
		s, end, err := d.str(i)
		return s, end, err
	}
	return d.literal(i)
}

// container decodes the object or array at b[i].
func (d *trimDecoder) container(i int) (any, int, error) {
	b := d.b
	switch b[i] {
	case '{':
		return d.object(i, false)
	case '[':
		l := []any{}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return l, i + 1, nil
		}
		for i < len(b) {
			v, next, err := d.value(i)
			if err != nil {
				return nil, 0, err
			}
			l = append(l, v)
			after, done, err := afterMember(b, next, ']')
			if err != nil {
				return nil, 0, err
			}
			if done {
				return l, after, nil
			}
			i = after
		}
		return nil, 0, errShape
	}
	return nil, 0, errShape
}

// literal decodes the number, true, false or null at b[i].
func (d *trimDecoder) literal(i int) (any, int, error) {
	b := d.b
	end := skipValue(b, i)
	if end < 0 {
		return nil, 0, errShape
	}
	switch lit := b[i:end]; string(lit) {
	case "true":
		return true, end, nil
	case "false":
		return false, end, nil
	case "null":
		return nil, end, nil
	default:
		f, err := strconv.ParseFloat(string(lit), 64)
		if err != nil { // what encoding/json says about it
			var x any
			if err := json.Unmarshal(lit, &x); err != nil {
				return nil, 0, err
			}
			return x, end, nil
		}
		return f, end, nil
	}
}

// object decodes the object at b[i] ('{'); top: a list result (trimmedTopKeys and null
// members left out).
func (d *trimDecoder) object(i int, top bool) (map[string]any, int, error) {
	b := d.b
	o := map[string]any{}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return o, i + 1, nil
	}
	for i < len(b) && b[i] == '"' {
		k, end, err := d.str(i)
		if err != nil {
			return nil, 0, err
		}
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, 0, errShape
		}
		i = skipWS(b, i+1)
		if trimmedKeys[k] || (top && (trimmedTopKeys[k] || b[i] == 'n' || d.leftOut(k, i))) {
			if i = skipValue(b, i); i < 0 {
				return nil, 0, errShape
			}
		} else if id, end, ok := d.briefID(k, i, top); ok {
			o[k], i = id, end
		} else {
			v, next, err := d.value(i)
			if err != nil {
				return nil, 0, err
			}
			if top {
				v = d.asID(k, v)
			}
			o[k], i = v, next
		}
		next, done, err := afterMember(b, i, '}')
		if err != nil {
			return nil, 0, err
		}
		if done {
			return o, next, nil
		}
		i = next
	}
	return nil, 0, errShape
}

// leftOut says whether the list object's member k, whose value starts at b[i], is "" or {}
// and left out (ListLean).
func (d *trimDecoder) leftOut(k string, i int) bool {
	if d.lean == nil || d.lean.KeepEmpty[k] {
		return false
	}
	b := d.b
	switch {
	case b[i] == '"':
		return i+1 < len(b) && b[i+1] == '"'
	case b[i] == '{':
		j := skipWS(b, i+1)
		return j < len(b) && b[j] == '}'
	}
	return false
}

// asID returns v, a list object's member k, as its id when Lean holds it so (what briefID
// did not read: an object with escaped keys).
func (d *trimDecoder) asID(k string, v any) any {
	if m, ok := v.(map[string]any); ok && d.lean != nil && !d.lean.Whole[k] {
		if id, ok := m["id"].(float64); ok {
			return id
		}
	}
	return v
}

// briefID returns the id of the nested object at b[i] when the list object's member k is held
// as its id (ListLean: an object with a numeric "id", k not in Lean.Whole), and the index after
// the object; ok is false otherwise (the caller decodes the value).
func (d *trimDecoder) briefID(k string, i int, top bool) (id any, end int, ok bool) {
	b := d.b
	if !top || d.lean == nil || b[i] != '{' || d.lean.Whole[k] {
		return nil, 0, false
	}
	var lit []byte // the last "id" member's value
	j := skipWS(b, i+1)
	if j < len(b) && b[j] == '}' {
		return nil, 0, false
	}
	for j < len(b) && b[j] == '"' {
		kend := skipString(b, j)
		if kend < 0 {
			return nil, 0, false
		}
		key := b[j+1 : kend-1]
		j = skipWS(b, kend)
		if j >= len(b) || b[j] != ':' {
			return nil, 0, false
		}
		j = skipWS(b, j+1)
		vend := skipValue(b, j)
		if vend < 0 {
			return nil, 0, false
		}
		if string(key) == "id" {
			lit = b[j:vend]
		} else if hasByte(key, '\\') { // an escaped key might read "id": decode the object
			return nil, 0, false
		}
		next, done, err := afterMember(b, vend, '}')
		if err != nil {
			return nil, 0, false
		}
		if done {
			if len(lit) == 0 || (lit[0] != '-' && (lit[0] < '0' || lit[0] > '9')) {
				return nil, 0, false // no id, or not a number
			}
			f, err := strconv.ParseFloat(string(lit), 64)
			if err != nil {
				return nil, 0, false
			}
			return f, next, true
		}
		j = next
	}
	return nil, 0, false
}

// str decodes the string at b[i] ('"'), sharing the text of short strings.
func (d *trimDecoder) str(i int) (string, int, error) {
	end := skipString(d.b, i)
	if end < 0 {
		return "", 0, errShape
	}
	raw := d.b[i+1 : end-1]
	if hasByte(raw, '\\') || !utf8.Valid(raw) { // escapes, or bytes encoding/json replaces
		var s string
		if err := json.Unmarshal(d.b[i:end], &s); err != nil {
			return "", 0, err
		}
		return s, end, nil
	}
	return d.intern(raw), end, nil
}

// intern returns raw as a string, one copy per short text.
func (d *trimDecoder) intern(raw []byte) string {
	if len(raw) > 40 {
		return string(raw)
	}
	if s, ok := d.strs[string(raw)]; ok {
		return s
	}
	s := string(raw)
	d.strs[s] = s
	return s
}
