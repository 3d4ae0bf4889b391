package netbox

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jw is a small append-only JSON writer: list pages of thousands of objects are rendered
// without reflection or intermediate maps.
type jw struct{ b []byte }

const hexDigits = "0123456789abcdef"

func (w *jw) str(s string) {
	w.b = append(w.b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			w.b = append(w.b, s[start:i]...)
			switch c {
			case '"', '\\':
				w.b = append(w.b, '\\', c)
			case '\n':
				w.b = append(w.b, '\\', 'n')
			case '\r':
				w.b = append(w.b, '\\', 'r')
			case '\t':
				w.b = append(w.b, '\\', 't')
			default:
				w.b = append(w.b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			w.b = append(w.b, s[start:i]...)
			w.b = append(w.b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	w.b = append(w.b, s[start:]...)
	w.b = append(w.b, '"')
}

func (w *jw) key(k string) {
	if n := len(w.b); n > 0 && w.b[n-1] != '{' && w.b[n-1] != '[' {
		w.b = append(w.b, ',')
	}
	w.str(k)
	w.b = append(w.b, ':')
}

func (w *jw) raw(s string) { w.b = append(w.b, s...) }

func (w *jw) int(n int64) { w.b = strconv.AppendInt(w.b, n, 10) }

// any writes a stored value.
func (w *jw) any(v any) {
	switch x := v.(type) {
	case nil:
		w.raw("null")
	case bool:
		if x {
			w.raw("true")
		} else {
			w.raw("false")
		}
	case int64:
		w.int(x)
	case int:
		w.int(int64(x))
	case float64:
		w.b = strconv.AppendFloat(w.b, x, 'f', -1, 64)
	case string:
		w.str(x)
	case []string:
		w.raw("[")
		for i, s := range x {
			if i > 0 {
				w.raw(",")
			}
			w.str(s)
		}
		w.raw("]")
	case []int64:
		w.raw("[")
		for i, n := range x {
			if i > 0 {
				w.raw(",")
			}
			w.int(n)
		}
		w.raw("]")
	case []any:
		w.raw("[")
		for i, y := range x {
			if i > 0 {
				w.raw(",")
			}
			w.any(y)
		}
		w.raw("]")
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.raw("{")
		for _, k := range keys {
			w.key(k)
			w.any(x[k])
		}
		w.raw("}")
	default:
		w.raw("null")
	}
}

// rctx carries per-response state: the base URL and memoised reverse counts.
type rctx struct {
	s      *store
	base   string // scheme://host
	cfDefs map[string][]string
}

func newRctx(s *store, base string) *rctx {
	return &rctx{s: s, base: base, cfDefs: map[string][]string{}}
}

func (rc *rctx) count(c count, id int64) int64 {
	tb := rc.s.tables[strings.TrimPrefix(c.child, "@")]
	if typ, ok := strings.CutPrefix(c.field, "@"); ok {
		return int64(tb.ix[gfkIndex("assigned_object_id")].count(gfkKey{typ, id}))
	}
	return int64(tb.ix[fkIndex(c.field)].count(id))
}

func (rc *rctx) cfNames(key string) []string {
	names, ok := rc.cfDefs[key]
	if !ok {
		for _, d := range rc.s.cfsFor(key) {
			names = append(names, d.v["name"].(string))
		}
		rc.cfDefs[key] = names
	}
	return names
}

func (rc *rctx) objURL(m *model, id int64) string {
	return rc.base + "/api/" + m.path + "/" + strconv.FormatInt(id, 10) + "/"
}

// outNames is the ordered list of keys of a full representation.
func outNames(m *model) []string {
	names := []string{"id", "url", "display_url", "display"}
	for _, f := range m.fields {
		if f.secret {
			continue
		}
		names = append(names, f.name)
		switch {
		case f.kind == kGFKID && f.gfkTypes == "scope_type":
			names = append(names, "scope")
		case f.kind == kGFKID:
			names = append(names, "assigned_object")
		}
		if f.name == "address" || f.name == "prefix" && m.key == "ipam.prefix" {
			names = append(names, "family")
		}
	}
	if m.key == "virtualization.virtualmachine" || m.key == "dcim.device" {
		names = append(names, "config_context", "primary_ip")
	}
	if m.key == "dcim.interface" || m.key == "virtualization.vminterface" {
		names = append(names, "mac_address")
	}
	if m.key == "dcim.interface" {
		names = append(names, "link_peers", "connected_endpoints")
	}
	if m.key == "ipam.ipaddress" {
		names = append(names, "nat_outside")
	}
	if m.key == "extras.customfield" {
		names = append(names, "data_type")
	}
	for _, c := range m.counts {
		names = append(names, c.name)
	}
	for _, d := range m.derived {
		names = append(names, d.name)
	}
	names = append(names, m.zeros...)
	names = append(names, m.falses...)
	if m.tags {
		names = append(names, "tags")
	}
	if m.cfs {
		names = append(names, "custom_fields")
	}
	return append(names, "created", "last_updated")
}

func briefNames(m *model) []string {
	return append([]string{"id", "url", "display_url", "display"}, m.brief...)
}

// writeObj renders o with the given keys (nil keys: full representation).
func (rc *rctx) writeObj(w *jw, m *model, o *object, names []string) {
	w.raw("{")
	for _, n := range names {
		rc.writeField(w, m, o, n)
	}
	w.raw("}")
}

func (rc *rctx) writeBrief(w *jw, key string, id int64) {
	m := rc.s.byKey[key]
	o := rc.s.get(key, id)
	if m == nil || o == nil {
		w.raw("null")
		return
	}
	rc.writeObj(w, m, o, m.briefOut)
}

func (rc *rctx) writeField(w *jw, m *model, o *object, n string) {
	switch n {
	case "id":
		w.key(n)
		w.int(o.id)
		return
	case "url":
		w.key(n)
		w.str(rc.objURL(m, o.id))
		return
	case "display_url":
		w.key(n)
		w.str(rc.base + "/" + m.path + "/" + strconv.FormatInt(o.id, 10) + "/")
		return
	case "display":
		w.key(n)
		w.str(m.display(rc.s, o.v))
		return
	case "created":
		w.key(n)
		w.str(formatTime(o.created))
		return
	case "last_updated":
		w.key(n)
		w.str(formatTime(o.updated))
		return
	case "tags":
		w.key(n)
		w.raw("[")
		ids, _ := o.v["tags"].([]int64)
		for i, id := range ids {
			if i > 0 {
				w.raw(",")
			}
			rc.writeBrief(w, "extras.tag", id)
		}
		w.raw("]")
		return
	case "custom_fields":
		w.key(n)
		w.raw("{")
		cur, _ := o.v["custom_fields"].(map[string]any)
		for _, name := range rc.cfNames(m.key) {
			w.key(name)
			w.any(cur[name])
		}
		w.raw("}")
		return
	case "family":
		w.key(n)
		addr, _ := o.v["address"].(string)
		if addr == "" {
			addr, _ = o.v["prefix"].(string)
		}
		if ipFamily(addr) == 6 {
			w.raw(`{"value":6,"label":"IPv6"}`)
		} else {
			w.raw(`{"value":4,"label":"IPv4"}`)
		}
		return
	case "assigned_object", "scope":
		tf, idf := "assigned_object_type", "assigned_object_id"
		if n == "scope" {
			tf, idf = "scope_type", "scope_id"
		}
		w.key(n)
		typ, _ := o.v[tf].(string)
		id, ok := o.v[idf].(int64)
		if typ == "" || !ok {
			w.raw("null")
			return
		}
		rc.writeBrief(w, typ, id)
		return
	case "config_context":
		w.key(n)
		w.raw("{}")
		return
	case "primary_ip":
		w.key(n)
		if id, ok := o.v["primary_ip6"].(int64); ok {
			rc.writeBrief(w, "ipam.ipaddress", id)
		} else if id, ok := o.v["primary_ip4"].(int64); ok {
			rc.writeBrief(w, "ipam.ipaddress", id)
		} else {
			w.raw("null")
		}
		return
	case "mac_address":
		if m.key != "dcim.macaddress" {
			w.key(n)
			if id, ok := o.v["primary_mac_address"].(int64); ok {
				if mo := rc.s.get("dcim.macaddress", id); mo != nil {
					w.any(mo.v["mac_address"])
					return
				}
			}
			w.raw("null")
			return
		}
	case "link_peers", "nat_outside":
		w.key(n)
		w.raw("[]")
		return
	case "data_type":
		w.key(n)
		w.str(cfDataType(o.v["type"]))
		return
	case "connected_endpoints":
		w.key(n)
		w.raw("null")
		return
	}
	if f := m.field(n); f != nil {
		if f.secret {
			return
		}
		w.key(n)
		v := o.v[n]
		switch f.kind {
		case kFK:
			id, ok := v.(int64)
			if !ok {
				w.raw("null")
				return
			}
			rc.writeBrief(w, f.ref, id)
		case kFKList:
			ids, _ := v.([]int64)
			w.raw("[")
			n := 0
			for _, id := range ids {
				if rc.s.get(f.ref, id) == nil {
					continue // deleted: NetBox drops the m2m row with it
				}
				if n > 0 {
					w.raw(",")
				}
				rc.writeBrief(w, f.ref, id)
				n++
			}
			w.raw("]")
		case kChoice:
			s, ok := v.(string)
			if !ok {
				w.raw("null")
				return
			}
			w.raw(`{"value":`)
			w.str(s)
			w.raw(`,"label":`)
			w.str(choiceLabel(f.choices, s))
			w.raw("}")
		default:
			w.any(v)
		}
		return
	}
	for _, c := range m.counts {
		if c.name == n {
			w.key(n)
			w.int(rc.count(c, o.id))
			return
		}
	}
	for _, d := range m.derived {
		if d.name == n {
			w.key(n)
			w.any(d.value(o.v))
			return
		}
	}
	for _, z := range m.zeros {
		if z == n {
			w.key(n)
			w.raw("0")
			return
		}
	}
	for _, z := range m.falses {
		if z == n {
			w.key(n)
			w.raw("false")
			return
		}
	}
}

func choiceLabel(cs []choice, v string) string {
	for _, c := range cs {
		if c.value == v {
			return c.label
		}
	}
	return v
}

// cfDataType is CustomFieldSerializer.get_data_type: the Python type a custom field holds.
func cfDataType(t any) string {
	switch t {
	case "integer":
		return "integer"
	case "decimal":
		return "number"
	case "boolean":
		return "boolean"
	case "date", "datetime", "url", "text", "longtext", "select":
		return "string"
	case "multiselect", "multiobject":
		return "array"
	case "object":
		return "object"
	}
	return "object"
}
