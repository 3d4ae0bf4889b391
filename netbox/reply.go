package netbox

import (
	"encoding/json"
	"errors"
)

// decodeReply decodes a 2xx write reply: a JSON array of objects, or one object (single).
// When sent is not nil, reply object j keeps only "id" and the top-level fields that sent(j)
// carries (a create: its request item; an update: every field the request patched), with the
// values NetBox returned for them (nested objects without their url, display_url and display,
// as ListTrimmed decodes them); NetBox's other fields (url, display,
// created, counts, config_context, the brief objects of fields not set) are stepped over
// without being decoded. Write replies are most of a first sync's NetBox traffic, and
// decoding whole objects was a quarter of its CPU (BenchmarkDecodeCreateReply). The body is
// checked to be valid JSON either way; a shape the lean path does not expect is decoded whole.
func decodeReply(body []byte, sent func(j int) Object) (objs []Object, single bool, err error) {
	return decodeReplyLean(body, sent, nil)
}

// decodeReplyLean is decodeReply with the kept members of each reply object reduced as lean
// says (CreateOptions.Lean; trim.go), null members left out too, when lean is not nil.
func decodeReplyLean(body []byte, sent func(j int) Object, lean *Lean) (objs []Object, single bool, err error) {
	if sent != nil && json.Valid(body) {
		if objs, single, err := decodeLean(body, sent, lean); err == nil {
			return objs, single, nil
		}
	}
	if err := json.Unmarshal(body, &objs); err != nil {
		var one Object
		if err1 := json.Unmarshal(body, &one); err1 != nil {
			return nil, false, err
		}
		return []Object{one}, true, nil
	}
	return objs, false, nil
}

var errShape = errors.New("reply is not an object or an array of objects")

// decodeLean walks valid JSON (json.Valid checked by the caller): an array of objects or
// one object, decoding only the members decodeReply keeps.
func decodeLean(b []byte, sent func(j int) Object, lean *Lean) ([]Object, bool, error) {
	d := &trimDecoder{b: b, strs: map[string]string{}, vals: map[string]any{}, lean: lean}
	i := skipWS(b, 0)
	if i >= len(b) {
		return nil, false, errShape
	}
	if b[i] == '{' {
		o, _, err := leanObject(d, i, sent(0))
		if err != nil {
			return nil, false, err
		}
		return []Object{o}, true, nil
	}
	if b[i] != '[' {
		return nil, false, errShape
	}
	var objs []Object
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return []Object{}, false, nil
	}
	for i < len(b) {
		if b[i] != '{' {
			return nil, false, errShape
		}
		o, next, err := leanObject(d, i, sent(len(objs)))
		if err != nil {
			return nil, false, err
		}
		objs = append(objs, o)
		i = skipWS(b, next)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if i < len(b) && b[i] == ']' {
			return objs, false, nil
		}
		return nil, false, errShape
	}
	return nil, false, errShape
}

// leanObject decodes the object at b[i] ('{'), keeping "id" and item's fields (decoded
// trimmed; with d.lean, reduced as list objects are, and null members left out); it returns
// the index after the object.
func leanObject(d *trimDecoder, i int, item Object) (Object, int, error) {
	b := d.b
	var o Object
	if d.lean == nil {
		o = make(Object, len(item)+1)
	}
	d.kv = d.kv[:0]
	done := func() Object {
		if d.lean == nil {
			return o
		}
		o := make(Object, len(d.kv)) // sized for what is kept: a map's size class is set when made
		for _, m := range d.kv {
			o[m.k] = m.v
		}
		return o
	}
	var x any // one escaping variable per object, not per member
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return done(), i + 1, nil
	}
	for i < len(b) {
		if b[i] != '"' {
			return nil, 0, errShape
		}
		end := skipString(b, i)
		if end < 0 {
			return nil, 0, errShape
		}
		raw := b[i+1 : end-1]
		_, want := item[string(raw)] // no allocation: the compiler looks the bytes up
		want = want || string(raw) == "id"
		var key string
		switch {
		case !want && !hasByte(raw, '\\'):
		case !hasByte(raw, '\\'):
			key = d.intern(raw)
		default: // an escaped key: compare it unescaped
			if err := json.Unmarshal(b[i:end], &x); err != nil {
				return nil, 0, err
			}
			key, _ = x.(string)
			_, want = item[key]
			want = want || key == "id"
		}
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, 0, errShape
		}
		start := skipWS(b, i+1)
		stop := skipValue(b, start)
		if stop < 0 {
			return nil, 0, errShape
		}
		switch {
		case !want:
		case d.lean != nil && (b[start] == 'n' || d.leftOut(key, start)):
		case d.lean != nil:
			v, _, ok := d.briefID(key, start, true)
			if !ok {
				var err error
				if v, _, err = d.value(start); err != nil {
					return nil, 0, err
				}
				v = d.asID(key, v)
			}
			d.kv = append(d.kv, member{key, v})
		default:
			v, _, err := d.value(start)
			if err != nil {
				return nil, 0, err
			}
			o[key] = v
		}
		next, last, err := afterMember(b, stop, '}')
		if err != nil {
			return nil, 0, err
		}
		if last {
			return done(), next, nil
		}
		i = next
	}
	return nil, 0, errShape
}

// afterMember steps over what follows a member or an element at b[i]: a comma (more
// follow: next is the index of the following one) or the closing byte (done: next is the
// index after it).
func afterMember(b []byte, i int, closing byte) (next int, done bool, err error) {
	i = skipWS(b, i)
	if i < len(b) && b[i] == ',' {
		return skipWS(b, i+1), false, nil
	}
	if i < len(b) && b[i] == closing {
		return i + 1, true, nil
	}
	return 0, false, errShape
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"'), or -1.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

func hasByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}
