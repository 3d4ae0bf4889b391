package netbox

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Query parameters that shape or page a list rather than filter it.
var shapingParams = map[string]bool{"limit": true, "offset": true, "brief": true, "fields": true, "omit": true,
	"exclude": true, "ordering": true, "format": true, "start": true}

var lookups = []string{"__n", "__ic", "__nic", "__ie", "__nie", "__isw", "__nisw", "__iew", "__niew", "__empty",
	"__gte", "__lte", "__gt", "__lt"}

type pred func(o *object) bool

// filterRows returns the rows of m matching q (NetBox B.6 item 6). Unknown parameters are ignored.
// The caller holds s.mu (read or write) and must not modify the result. The last result per
// model is kept until the next write to the store, so reading a list page by page filters the
// table once, not once per page (a 100,000-row table read in pages of 1,000 would otherwise be
// scanned 100 times).
func (s *store) filterRows(m *model, q url.Values) ([]*object, errMap) {
	f := url.Values{}
	for k, v := range q {
		if !shapingParams[k] {
			f[k] = v
		}
	}
	key := f.Encode()
	gen := s.gen.Load()
	s.cacheMu.Lock()
	c, ok := s.filterCache[m.key]
	s.cacheMu.Unlock()
	if ok && c.gen == gen && c.query == key {
		return c.rows, nil
	}
	rows, errs := s.scanRows(m, f)
	if errs == nil {
		s.cacheMu.Lock()
		s.filterCache[m.key] = filterResult{gen: gen, query: key, rows: rows}
		s.cacheMu.Unlock()
	}
	return rows, errs
}

// filterResult is the last filterRows result of one model, valid while the store's write
// generation is gen.
type filterResult struct {
	gen   uint64
	query string
	rows  []*object
}

// scanRows filters m's table with q.
func (s *store) scanRows(m *model, q url.Values) ([]*object, errMap) {
	var preds []pred
	errs := errMap{}
	known := listFilters(m.path)
	for param, vals := range q {
		if shapingParams[param] || len(vals) == 0 {
			continue
		}
		if known != nil && !known[param] && !strings.HasPrefix(param, "cf_") {
			continue // not in the model's filter set: NetBox ignores it and returns everything
		}
		p, msg := s.paramPred(m, param, vals)
		if msg != "" {
			errs.add(param, msg)
			continue
		}
		if p != nil {
			preds = append(preds, p)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	tb := s.tables[m.key]
	out := make([]*object, 0, len(tb.order))
rows:
	for _, id := range tb.order {
		o := tb.rows[id]
		for _, p := range preds {
			if !p(o) {
				continue rows
			}
		}
		out = append(out, o)
	}
	return out, nil
}

func splitLookup(param string) (string, string) {
	for _, l := range lookups {
		if strings.HasSuffix(param, l) {
			return strings.TrimSuffix(param, l), l
		}
	}
	return param, ""
}

// match compares a stored value (rendered as a string) against one filter value.
func match(have any, want, lookup string) bool {
	var hs string
	switch x := have.(type) {
	case nil:
		hs = ""
	case string:
		hs = x
	case int64:
		hs = strconv.FormatInt(x, 10)
	case float64:
		hs = strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		hs = strconv.FormatBool(x)
	default:
		hs = fmt.Sprint(x)
	}
	lh, lw := strings.ToLower(hs), strings.ToLower(want)
	switch lookup {
	case "":
		if _, isBool := have.(bool); isBool {
			return lh == lw || (lw == "1" && hs == "true") || (lw == "0" && hs == "false")
		}
		if have == nil {
			return lw == "null"
		}
		return hs == want
	case "__n":
		return hs != want
	case "__ic":
		return strings.Contains(lh, lw)
	case "__nic":
		return !strings.Contains(lh, lw)
	case "__ie":
		return lh == lw
	case "__nie":
		return lh != lw
	case "__isw":
		return strings.HasPrefix(lh, lw)
	case "__nisw":
		return !strings.HasPrefix(lh, lw)
	case "__iew":
		return strings.HasSuffix(lh, lw)
	case "__niew":
		return !strings.HasSuffix(lh, lw)
	case "__empty":
		empty := have == nil || hs == ""
		return empty == (lw == "true" || lw == "1")
	}
	if have == nil {
		return false
	}
	// Ordering lookups: numbers as numbers, times as times, else strings.
	cmp := strings.Compare(hs, want)
	if a, err := strconv.ParseFloat(hs, 64); err == nil {
		if b, err := strconv.ParseFloat(want, 64); err == nil {
			cmp = 0
			if a < b {
				cmp = -1
			} else if a > b {
				cmp = 1
			}
		}
	} else if a, ok := parseTime(hs); ok {
		if b, ok := parseTime(want); ok {
			cmp = a.Compare(b)
		}
	}
	switch lookup {
	case "__gt":
		return cmp > 0
	case "__gte":
		return cmp >= 0
	case "__lt":
		return cmp < 0
	case "__lte":
		return cmp <= 0
	}
	return false
}

// anyOf ORs repeated values; negated lookups AND them (NetBox excludes every value).
func anyOf(get func(o *object) any, vals []string, lookup string) pred {
	negated := strings.HasPrefix(lookup, "__n") && lookup != "__n" || lookup == "__n"
	return func(o *object) bool {
		h := get(o)
		for _, v := range vals {
			ok := match(h, v, lookup)
			if negated && !ok {
				return false
			}
			if !negated && ok {
				return true
			}
		}
		return negated
	}
}

func (s *store) paramPred(m *model, param string, vals []string) (pred, string) {
	base, lookup := splitLookup(param)
	switch base {
	case "id":
		return anyOf(func(o *object) any { return o.id }, vals, lookup), ""
	case "q":
		want := strings.ToLower(strings.TrimSpace(vals[0]))
		return func(o *object) bool {
			for _, f := range m.search {
				if v, ok := o.v[f].(string); ok && strings.Contains(strings.ToLower(v), want) {
					return true
				}
			}
			return false
		}, ""
	case "tag", "tag_id":
		if !m.tags {
			return nil, ""
		}
		var want []int64
		for _, v := range vals {
			var id int64 = -1
			tt := s.tables["extras.tag"]
			for _, tid := range tt.order {
				t := tt.rows[tid]
				if (base == "tag" && t.v["slug"] == v) || (base == "tag_id" && strconv.FormatInt(tid, 10) == v) {
					id = tid
				}
			}
			if id < 0 {
				return nil, fmt.Sprintf("Select a valid choice. %s is not one of the available choices.", v)
			}
			want = append(want, id)
		}
		return func(o *object) bool {
			ids, _ := o.v["tags"].([]int64)
			for _, w := range want {
				found := false
				for _, id := range ids {
					if id == w {
						found = true
						break
					}
				}
				if !found {
					return false
				}
			}
			return true
		}, ""
	case "created", "last_updated":
		return anyOf(func(o *object) any {
			if base == "created" {
				return formatTime(o.created)
			}
			return formatTime(o.updated)
		}, normTimes(vals), lookup), ""
	}
	if cf, ok := strings.CutPrefix(base, "cf_"); ok && m.cfs {
		for _, d := range s.cfsFor(m.key) {
			if d.v["name"] != cf || d.v["filter_logic"] == "disabled" {
				continue
			}
			lk := lookup
			if lk == "" && d.v["filter_logic"] == "loose" {
				switch d.v["type"] {
				case "text", "longtext", "url":
					lk = "__ic"
				}
			}
			return anyOf(func(o *object) any {
				cfs, _ := o.v["custom_fields"].(map[string]any)
				return cfs[cf]
			}, vals, lk), ""
		}
		return nil, ""
	}
	if p, msg, ok := s.specialPred(m, base, lookup, vals); ok {
		return p, msg
	}
	fkName, isID := strings.CutSuffix(base, "_id")
	if f := m.field(base); m.plugin && f != nil && f.kind == kFK {
		// A plugin's filter sets are generated from Meta.fields: a foreign key
		// filters by primary key (django-filter's ModelMultipleChoiceFilter).
		fkName, isID = base, true
	}
	if isID {
		if f := m.field(fkName); f != nil && f.kind == kFK {
			for _, v := range vals {
				if v == "null" || lookup != "" {
					continue
				}
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || f.ref == "" || s.get(f.ref, n) == nil {
					return nil, fmt.Sprintf("Select a valid choice. %s is not one of the available choices.", v)
				}
			}
			return anyOf(func(o *object) any { return o.v[fkName] }, vals, lookup), ""
		}
	}
	f := m.field(base)
	if f == nil {
		return nil, "" // unknown filters are ignored, as NetBox does
	}
	if f.kind == kFK {
		// site=<slug>, cluster=<name>: match the related object's slug, else its
		// name. A value no related object has is refused, as NetBox's
		// ModelMultipleChoiceFilter does.
		if f.ref != "" && lookup == "" {
			for _, v := range vals {
				if v == "null" {
					continue
				}
				found := false
				if rt := s.tables[f.ref]; rt != nil {
					for _, id := range rt.order {
						r := rt.rows[id]
						if sl, ok := r.v["slug"]; ok && sl == v || r.v["name"] == v {
							found = true
							break
						}
					}
				}
				if !found {
					return nil, fmt.Sprintf("Select a valid choice. %s is not one of the available choices.", v)
				}
			}
		}
		return anyOf(func(o *object) any {
			id, ok := o.v[base].(int64)
			if !ok || f.ref == "" {
				return nil
			}
			r := s.get(f.ref, id)
			if r == nil {
				return nil
			}
			if sl, ok := r.v["slug"]; ok {
				return sl
			}
			return r.v["name"]
		}, vals, lookup), ""
	}
	if f.kind == kStrList {
		return func(o *object) bool {
			list, _ := o.v[base].([]string)
			for _, x := range list {
				for _, v := range vals {
					if x == v {
						return true
					}
				}
			}
			return false
		}, ""
	}
	return anyOf(func(o *object) any { return o.v[base] }, vals, lookup), ""
}

func normTimes(vals []string) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		if t, ok := parseTime(v); ok {
			out[i] = t.Format(time.RFC3339Nano)
		} else {
			out[i] = v
		}
	}
	return out
}

// specialPred holds filters that are not plain model fields.
func (s *store) specialPred(m *model, base, lookup string, vals []string) (pred, string, bool) {
	switch m.key {
	case "ipam.ipaddress":
		switch base {
		case "address":
			return func(o *object) bool {
				h := hostOf(o.v["address"].(string))
				for _, v := range vals {
					if v == o.v["address"] || hostOf(v) == h {
						return true
					}
				}
				return false
			}, "", true
		case "vminterface_id", "interface_id":
			typ := "virtualization.vminterface"
			if base == "interface_id" {
				typ = "dcim.interface"
			}
			ids := anyOf(func(o *object) any { return o.v["assigned_object_id"] }, vals, "")
			return func(o *object) bool { return o.v["assigned_object_type"] == typ && ids(o) }, "", true
		case "virtual_machine_id", "device_id", "virtual_machine", "device":
			typ, parent := "virtualization.vminterface", "virtual_machine"
			if strings.HasPrefix(base, "device") {
				typ, parent = "dcim.interface", "device"
			}
			return func(o *object) bool {
				if o.v["assigned_object_type"] != typ {
					return false
				}
				id, _ := o.v["assigned_object_id"].(int64)
				iface := s.get(typ, id)
				if iface == nil {
					return false
				}
				pid, _ := iface.v[parent].(int64)
				for _, v := range vals {
					if strings.HasSuffix(base, "_id") && strconv.FormatInt(pid, 10) == v {
						return true
					}
					if !strings.HasSuffix(base, "_id") && s.display(s.byKey[typ].field(parent).ref, pid) == v {
						return true
					}
				}
				return false
			}, "", true
		case "assigned_to_interface":
			want := strings.ToLower(vals[0]) == "true"
			return func(o *object) bool { return (o.v["assigned_object_id"] != nil) == want }, "", true
		case "family":
			return anyOf(func(o *object) any { return strconv.Itoa(ipFamily(o.v["address"].(string))) }, vals, lookup), "", true
		}
	case "dcim.macaddress":
		switch base {
		case "mac_address":
			up := make([]string, len(vals))
			for i, v := range vals {
				up[i] = strings.ToUpper(v)
			}
			return anyOf(func(o *object) any { return o.v["mac_address"] }, up, lookup), "", true
		case "vminterface_id", "interface_id":
			typ := "virtualization.vminterface"
			if base == "interface_id" {
				typ = "dcim.interface"
			}
			ids := anyOf(func(o *object) any { return o.v["assigned_object_id"] }, vals, "")
			return func(o *object) bool { return o.v["assigned_object_type"] == typ && ids(o) }, "", true
		}
	case "extras.customfield":
		if base == "object_type" {
			return func(o *object) bool {
				list, _ := o.v["object_types"].([]string)
				for _, x := range list {
					for _, v := range vals {
						if x == v {
							return true
						}
					}
				}
				return false
			}, "", true
		}
	}
	return nil, "", false
}
