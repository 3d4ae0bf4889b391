package netbox

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Trimmed list decoding (ListTrimmed): NetBox's list objects carry, at every level (the
// object and each brief object nested in it), a url, a display_url and a display text that a
// client holding the whole state (the sync engine) never reads; they are a large part of the
// decoded size. trimList decodes the results array as encoding/json would (maps, []any,
// float64, strings, bools, nil) without those members, and shares the text of repeated short
// strings (keys, status values, slugs) within one page.

// trimmedKeys are the members ListTrimmed leaves out, at every level.
var trimmedKeys = map[string]bool{"url": true, "display_url": true, "display": true}

// trimmedPage is a list envelope whose results are decoded trimmed.
type trimmedPage struct {
	Count   *int64      `json:"count"`
	Next    *string     `json:"next"`
	Results trimResults `json:"results"`
}

type trimResults struct {
	objs []Object
	set  bool // the member was there (and not null)
}

// UnmarshalJSON implements json.Unmarshaler; encoding/json has checked that b is valid JSON.
func (r *trimResults) UnmarshalJSON(b []byte) error {
	i := skipWS(b, 0)
	if i < len(b) && b[i] == 'n' {
		return nil // null: no results
	}
	d := trimDecoder{b: b, strs: map[string]string{}}
	v, _, err := d.value(i)
	if err != nil {
		return err
	}
	l, ok := v.([]any)
	if !ok {
		return errShape
	}
	r.objs, r.set = make([]Object, 0, len(l)), true
	for _, e := range l {
		o, ok := e.(map[string]any)
		if !ok {
			return errShape
		}
		r.objs = append(r.objs, o)
	}
	return nil
}

// trimDecoder decodes valid JSON.
type trimDecoder struct {
	b    []byte
	strs map[string]string // short strings seen: one copy each
}

// value decodes the value at b[i] and returns the index after it.
func (d *trimDecoder) value(i int) (any, int, error) {
	b := d.b
	if i >= len(b) {
		return nil, 0, errShape
	}
	switch b[i] {
	case '{':
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
			if trimmedKeys[k] {
				if i = skipValue(b, i); i < 0 {
					return nil, 0, errShape
				}
			} else {
				v, next, err := d.value(i)
				if err != nil {
					return nil, 0, err
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
	case '"':
		s, end, err := d.str(i)
		return s, end, err
	}
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
