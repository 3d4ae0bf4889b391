package netbox

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// validate turns one request item into the row values it would store, or DRF errors.
// old is nil on create; partial is PATCH. Order follows DRF: field errors (ours and the
// OpenAPI gate's) first, then uniqueness and model clean() only when fields are valid.
func (s *store) validate(m *model, item map[string]any, old *object, partial bool) (map[string]any, errMap) {
	errs := errMap{}
	var vals map[string]any
	if old != nil {
		vals = cloneVals(old.v)
	} else {
		vals = map[string]any{}
	}
	for i := range m.fields {
		f := &m.fields[i]
		raw, present := item[f.name]
		if !present {
			if f.required && (old == nil || !partial) {
				errs.add(f.name, "This field is required.")
			} else if old == nil {
				vals[f.name] = f.def
			}
			continue
		}
		v, msg := s.convert(f, raw)
		if msg != "" {
			errs.add(f.name, msg)
			continue
		}
		vals[f.name] = v
	}
	if m.tags {
		if raw, ok := item["tags"]; ok {
			ids, msg := s.convertTags(raw)
			if msg != "" {
				errs.add("tags", msg)
			} else {
				vals["tags"] = ids
			}
		} else if old == nil {
			vals["tags"] = []int64{}
		}
	}
	if m.cfs {
		s.applyCustomFields(m, item, vals, old == nil, errs)
	}
	if !m.plugin {
		s.schemaErrors(m, item, partial && old != nil, errs)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	s.checkGFK(m, vals, errs)
	if len(errs) > 0 {
		return nil, errs
	}
	var oldID int64
	if old != nil {
		oldID = old.id
	}
	s.checkUnique(m, vals, oldID, errs)
	if len(errs) > 0 {
		return nil, errs
	}
	s.clean(m, vals, old, errs)
	if len(errs) > 0 {
		return nil, errs
	}
	return vals, nil
}

var slugRe = regexp.MustCompile(`^[-a-zA-Z0-9_]+$`)

// convert checks and normalises one field value, returning DRF's message on failure.
func (s *store) convert(f *field, raw any) (any, string) {
	if raw == nil {
		if f.nullable || f.kind == kJSON {
			return nil, ""
		}
		return nil, "This field may not be null."
	}
	switch f.kind {
	case kStr:
		var v string
		switch x := raw.(type) {
		case string:
			v = x
		case json.Number:
			v = x.String()
		default:
			return nil, "Not a valid string."
		}
		v = strings.TrimSpace(v) // DRF CharField trim_whitespace
		if v == "" && f.required {
			return nil, "This field may not be blank."
		}
		if f.maxLen > 0 && len([]rune(v)) > f.maxLen {
			return nil, fmt.Sprintf("Ensure this field has no more than %d characters.", f.maxLen)
		}
		if f.name == "slug" && !slugRe.MatchString(v) {
			return nil, `Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.`
		}
		if f.name == "color" && v != "" && !regexp.MustCompile(`^[0-9a-f]{6}$`).MatchString(v) {
			return nil, "Enter a valid hexadecimal RGB color code."
		}
		if f.nullable && v == "" {
			return nil, ""
		}
		if len(f.choices) > 0 && !slices.ContainsFunc(f.choices, func(c choice) bool { return c.value == v }) {
			// A plain model field with choices: DRF's ChoiceField, rendered as the bare value.
			return nil, fmt.Sprintf("%q is not a valid choice.", v)
		}
		return v, ""
	case kInt, kGFKID:
		n, ok := toInt(raw)
		if !ok {
			return nil, "A valid integer is required."
		}
		return n, ""
	case kFloat:
		switch x := raw.(type) {
		case json.Number:
			v, err := x.Float64()
			if err != nil {
				return nil, "A valid number is required."
			}
			return v, ""
		case string:
			v, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, "A valid number is required."
			}
			return v, ""
		}
		return nil, "A valid number is required."
	case kBool:
		switch x := raw.(type) {
		case bool:
			return x, ""
		case json.Number:
			switch x.String() {
			case "1":
				return true, ""
			case "0":
				return false, ""
			}
		case string:
			switch strings.ToLower(x) {
			case "true", "1", "yes", "on", "y", "t":
				return true, ""
			case "false", "0", "no", "off", "n", "f":
				return false, ""
			}
		}
		return nil, "Must be a valid boolean."
	case kChoice:
		v, ok := raw.(string)
		if !ok {
			if n, isNum := raw.(json.Number); isNum {
				v = n.String()
			} else {
				return nil, fmt.Sprintf("%v is not a valid choice.", pyRepr(raw))
			}
		}
		if v == "" && f.nullable {
			return nil, ""
		}
		for _, c := range f.choices {
			if c.value == v {
				return v, ""
			}
		}
		return nil, fmt.Sprintf("%s is not a valid choice.", v)
	case kFK:
		if f.ref == "" {
			// Models the simulator does not serve (tenants, VRFs, ...): none exist.
			if n, ok := toInt(raw); ok {
				return nil, fmt.Sprintf("Related object not found using the provided numeric ID: %d", n)
			}
			return nil, fmt.Sprintf("Related object not found using the provided attributes: %s", pyRepr(raw))
		}
		return s.resolveFK(f.ref, raw)
	case kJSON:
		return plain(raw), ""
	case kTime:
		str, ok := raw.(string)
		if !ok {
			return nil, "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
		}
		t, ok := parseTime(str)
		if !ok {
			return nil, "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
		}
		return formatTime(t), ""
	case kGFKType:
		v, ok := raw.(string)
		if !ok || !knownContentType(s, v) {
			return nil, fmt.Sprintf("Invalid content type: %v", raw)
		}
		return v, ""
	case kFKList:
		return s.convertIDs(f.ref, raw)
	case kStrList:
		list, ok := raw.([]any)
		if !ok {
			return nil, fmt.Sprintf(`Expected a list of items but got type "%s".`, pyType(raw))
		}
		out := make([]string, 0, len(list))
		for _, x := range list {
			v, ok := x.(string)
			if !ok || (strings.HasSuffix(f.name, "object_types") && !knownContentType(s, v)) {
				return nil, fmt.Sprintf("Invalid content type: %v", x)
			}
			out = append(out, v)
		}
		sort.Strings(out)
		return out, ""
	}
	return nil, "Invalid value."
}

func knownContentType(s *store, v string) bool {
	if s.byKey[v] != nil {
		return true
	}
	switch v {
	case "ipam.fhrpgroup", "dcim.region", "dcim.sitegroup", "dcim.location", "tenancy.tenant", "ipam.vrf", "ipam.vlangroup":
		return true
	}
	return false
}

func toInt(raw any) (int64, bool) {
	switch x := raw.(type) {
	case json.Number:
		n, err := strconv.ParseInt(x.String(), 10, 64)
		if err != nil {
			f, ferr := x.Float64()
			if ferr != nil || f != math.Trunc(f) {
				return 0, false
			}
			return int64(f), true
		}
		return n, true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	case int64:
		return x, true
	case int:
		return int64(x), true
	case float64:
		if x == math.Trunc(x) {
			return int64(x), true
		}
	}
	return 0, false
}

// resolveFK implements NetBox's related-object lookup: an int id or a dict of attributes
// (netbox/utilities/api.py get_related_object_by_attrs).
func (s *store) resolveFK(ref string, raw any) (any, string) {
	tb := s.tables[ref]
	if d, ok := raw.(map[string]any); ok {
		var hits []int64
		for _, id := range tb.order {
			o := tb.rows[id]
			match := true
			for k, want := range d {
				var have any
				if k == "id" {
					have = o.id
				} else {
					have = o.v[k]
				}
				if fmt.Sprint(have) != fmt.Sprint(plain(want)) {
					match = false
					break
				}
			}
			if match {
				hits = append(hits, id)
				if len(hits) > 1 {
					break
				}
			}
		}
		switch len(hits) {
		case 0:
			return nil, fmt.Sprintf("Related object not found using the provided attributes: %s", pyRepr(d))
		case 1:
			return hits[0], ""
		default:
			return nil, fmt.Sprintf("Multiple objects match the provided attributes: %s", pyRepr(d))
		}
	}
	n, ok := toInt(raw)
	if !ok {
		// NetBox formats the value with str(), not repr(): a string comes without quotes.
		shown := pyRepr(raw)
		if str, ok := raw.(string); ok {
			shown = str
		}
		return nil, fmt.Sprintf("Related objects must be referenced by numeric ID or by dictionary of attributes. Received an unrecognized value: %s", shown)
	}
	if tb.rows[n] == nil {
		return nil, fmt.Sprintf("Related object not found using the provided numeric ID: %d", n)
	}
	return n, ""
}

// convertTags accepts tag ids or nested tag dicts, as NetBox's NestedTagSerializer does.
func (s *store) convertTags(raw any) ([]int64, string) { return s.convertIDs("extras.tag", raw) }

// convertIDs reads a many-to-many list of ref: ids or attribute dicts.
func (s *store) convertIDs(ref string, raw any) ([]int64, string) {
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Sprintf(`Expected a list of items but got type "%s".`, pyType(raw))
	}
	ids := make([]int64, 0, len(list))
	for _, x := range list {
		v, msg := s.resolveFK(ref, x)
		if msg != "" {
			return nil, msg
		}
		ids = append(ids, v.(int64))
	}
	return sortedIDs(ids), ""
}

// cfsFor returns the custom fields that apply to model key, sorted by name.
func (s *store) cfsFor(key string) []*object {
	tb := s.tables["extras.customfield"]
	var out []*object
	for _, id := range tb.order {
		o := tb.rows[id]
		if types, ok := o.v["object_types"].([]string); ok {
			for _, t := range types {
				if t == key {
					out = append(out, o)
					break
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].v["name"].(string) < out[j].v["name"].(string) })
	return out
}

// applyCustomFields merges item["custom_fields"] into vals (PATCH merges, NetBox B.6 item 8).
func (s *store) applyCustomFields(m *model, item, vals map[string]any, creating bool, errs errMap) {
	defs := s.cfsFor(m.key)
	cur, _ := vals["custom_fields"].(map[string]any)
	next := make(map[string]any, len(defs))
	for _, d := range defs {
		n := d.v["name"].(string)
		if v, ok := cur[n]; ok {
			next[n] = v
		} else if creating {
			next[n] = d.v["default"]
		} else {
			next[n] = nil
		}
	}
	raw, present := item["custom_fields"]
	if present && raw != nil {
		in, ok := raw.(map[string]any)
		if !ok {
			errs.add("custom_fields", "Invalid data. Expected a dictionary, but got "+pyType(raw)+".")
			return
		}
		cfErrs := map[string]any{}
		byName := map[string]*object{}
		for _, d := range defs {
			byName[d.v["name"].(string)] = d
		}
		for k, v := range in {
			d := byName[k]
			if d == nil {
				cfErrs[k] = []string{fmt.Sprintf("Custom field '%s' does not exist for this object type.", k)}
				continue
			}
			cv, msg := cfValue(d, v)
			if msg != "" {
				cfErrs[k] = []string{msg}
				continue
			}
			next[k] = cv
		}
		if len(cfErrs) > 0 {
			errs["custom_fields"] = cfErrs
			return
		}
	}
	for _, d := range defs {
		if req, _ := d.v["required"].(bool); req && next[d.v["name"].(string)] == nil {
			errs["custom_fields"] = map[string]any{d.v["name"].(string): []string{"Required field cannot be empty."}}
		}
	}
	vals["custom_fields"] = next
}

// cfValue validates a custom field value by type (netbox/extras/models/customfields.py validate()).
func cfValue(d *object, v any) (any, string) {
	if v == nil {
		return nil, ""
	}
	switch d.v["type"] {
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return nil, "Value must be an integer."
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return nil, "Value must be an integer."
		}
		return i, ""
	case "decimal":
		n, ok := v.(json.Number)
		if !ok {
			return nil, "Value must be a decimal."
		}
		f, _ := n.Float64()
		return f, ""
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return nil, "Value must be true or false."
		}
		return b, ""
	case "text", "longtext", "url", "select":
		str, ok := v.(string)
		if !ok {
			return nil, "Value must be a string."
		}
		if str == "" {
			return nil, ""
		}
		return str, ""
	case "date":
		str, ok := v.(string)
		if _, err := time.Parse("2006-01-02", str); !ok || err != nil {
			return nil, "Date values must be in ISO 8601 format (YYYY-MM-DD)."
		}
		return str, ""
	case "datetime":
		str, ok := v.(string)
		t, good := parseTime(str)
		if !ok || !good {
			return nil, "Date and time values must be in ISO 8601 format (YYYY-MM-DD HH:MM:SS)."
		}
		return formatTime(t), ""
	default:
		return plain(v), ""
	}
}

// checkGFK checks that a generic foreign key points at an existing object.
func (s *store) checkGFK(m *model, vals map[string]any, errs errMap) {
	for i := range m.fields {
		f := &m.fields[i]
		if f.kind != kGFKID {
			continue
		}
		typ, _ := vals[f.gfkTypes].(string)
		id, hasID := vals[f.name].(int64)
		if typ == "" || !hasID {
			continue
		}
		if s.tables[typ] == nil || s.get(typ, id) == nil {
			errs.add(f.name, fmt.Sprintf("Related object not found using the provided numeric ID: %d", id))
		}
	}
}

// checkUnique applies the model's uniqueness rules against every other row, through the
// table's unique indexes (one hash lookup per rule).
func (s *store) checkUnique(m *model, vals map[string]any, selfID int64, errs errMap) {
	tb := s.tables[m.key]
	for i, u := range m.uniques {
		if u.saveOnly || (u.when != nil && !u.when(vals)) {
			continue
		}
		k, ok := uniqueKey(u, vals)
		if !ok {
			continue
		}
		for id := range tb.ix[uniqueIndex(i)].ids[k] {
			if id == selfID {
				continue
			}
			if u.key == "" {
				errs.add(u.fields[0], fmt.Sprintf("%s with this %s already exists.", m.verbose, u.fields[0]))
			} else {
				errs.add(u.key, u.msg)
			}
			break
		}
	}
}

// collision returns the first uniqueness rule of m that values vals of row self (0: a row not
// stored yet) break against the other rows stored now: every rule (all), or only those
// validation does not see (unique.saveOnly).
func (s *store) collision(m *model, vals map[string]any, self int64, all bool) (unique, bool) {
	tb := s.tables[m.key]
	for i, u := range m.uniques {
		if (!all && !u.saveOnly) || (u.when != nil && !u.when(vals)) {
			continue
		}
		k, ok := uniqueKey(u, vals)
		if !ok {
			continue
		}
		for id := range tb.ix[uniqueIndex(i)].ids[k] {
			if id != self {
				return u, true
			}
		}
	}
	return unique{}, false
}

// integrityError is PostgreSQL's text for an insert that breaks rule u, as NetBox's 500 body
// carries it: the constraint's name, then the key's columns (FKs as <field>_id, the
// case-insensitive field as lower(<field>::text)) and values.
func integrityError(m *model, u unique, vals map[string]any) string {
	table := strings.ReplaceAll(m.key, ".", "_")
	name := u.constraint
	switch {
	case name != "":
	case len(u.fields) == 1 && u.ci == "":
		name = table + "_" + u.fields[0] + "_key" // unique=True
	default:
		name = table + "_unique_" + strings.Join(u.fields, "_") // NetBox's '%(app_label)s_%(class)s_unique_…'
	}
	cols := make([]string, len(u.fields))
	values := make([]string, len(u.fields))
	for i, f := range u.fields {
		cols[i], values[i] = f, fmt.Sprint(vals[f])
		if fd := m.byName[f]; fd != nil && fd.kind == kFK {
			cols[i] = f + "_id"
		}
		if u.columns != nil {
			cols[i] = u.columns[i]
		}
		if f == u.ci {
			cols[i], values[i] = "lower("+f+"::text)", strings.ToLower(values[i])
		}
	}
	return fmt.Sprintf("duplicate key value violates unique constraint \"%s\"\nDETAIL:  Key (%s)=(%s) already exists.",
		name, strings.Join(cols, ", "), strings.Join(values, ", "))
}

// clean applies the model clean() rules a Proxmox sync meets (peers-and-fixtures.md B.5 item 5).
func (s *store) clean(m *model, vals map[string]any, old *object, errs errMap) {
	switch m.key {
	case "netbox_proxbox.proxmoxnode": // GenericIPAddressField
		if ip, _ := vals["ip_address"].(string); ip != "" {
			if _, err := netip.ParseAddr(ip); err != nil {
				errs.add("ip_address", "Enter a valid IPv4 or IPv6 address.")
			}
		}
	case "virtualization.virtualmachine":
		if vals["site"] == nil && vals["cluster"] == nil && vals["device"] == nil {
			errs.add("cluster", "A virtual machine must be assigned to a site and/or cluster.") // NetBox 4.5 puts it under cluster
			return
		}
		if cid, ok := vals["cluster"].(int64); ok {
			c := s.get("virtualization.cluster", cid)
			if sid, ok := vals["site"].(int64); ok && c != nil && c.v["scope_type"] == "dcim.site" && c.v["scope_id"] != sid {
				errs.add("cluster", fmt.Sprintf("The selected cluster (%s) is not assigned to this site (%s).",
					c.v["name"], s.display("dcim.site", sid)))
			}
			if did, ok := vals["device"].(int64); ok {
				if d := s.get("dcim.device", did); d != nil && d.v["cluster"] != cid {
					errs.add("device", fmt.Sprintf("The selected device (%s) is not assigned to this cluster (%s).",
						s.display("dcim.device", did), c.v["name"]))
				}
			}
		}
		if old != nil {
			total, n := s.diskSum(old.id)
			if n > 0 && total > 0 {
				if vals["disk"] == nil {
					vals["disk"] = total
				} else if vals["disk"] != total {
					errs.add("disk", fmt.Sprintf("The specified disk size (%v) must match the aggregate size of assigned virtual disks (%d).", vals["disk"], total))
				}
			}
		}
		s.checkPrimaryIPs(vals, old, "virtualization.vminterface", "virtual_machine", "VM", errs)
	case "dcim.device":
		s.checkPrimaryIPs(vals, old, "dcim.interface", "device", "device", errs)
	case "virtualization.vminterface":
		s.checkVLANSites(vals, "virtualization.virtualmachine", "virtual_machine", "virtual machine", errs)
	case "dcim.interface":
		s.checkVLANSites(vals, "dcim.device", "device", "device", errs)
	case "ipam.ipaddress":
		s.cleanIP(vals, old, errs)
	case "ipam.prefix":
		p, err := netip.ParsePrefix(vals["prefix"].(string))
		if err != nil {
			errs.add("prefix", "Enter a valid IPv4 or IPv6 prefix and mask in CIDR notation.")
			return
		}
		vals["prefix"] = p.Masked().String()
		// Unique IP space (Prefix.clean, ipam/models/ip.py:314-324 in v4.5.10): checked
		// against the stored rows only, no database constraint.
		if vrf, table, enforce := s.ipSpace(vals); enforce {
			tb := s.tables["ipam.prefix"]
			for _, id := range tb.ix[ixPrefix].lookup(hostKey{vrf, vals["prefix"].(string)}) {
				if old == nil || id != old.id {
					errs.add("prefix", fmt.Sprintf("Duplicate prefix found in %s: %v", table, tb.rows[id].v["prefix"]))
					return
				}
			}
		}
	case "dcim.macaddress":
		mac := strings.ToUpper(strings.ReplaceAll(vals["mac_address"].(string), "-", ":"))
		if !regexp.MustCompile(`^([0-9A-F]{2}:){5}[0-9A-F]{2}$`).MatchString(mac) {
			errs.add("mac_address", fmt.Sprintf("Invalid MAC address format: %s", vals["mac_address"]))
			return
		}
		vals["mac_address"] = mac
	}
}

// checkVLANSites: an interface's untagged and tagged VLANs must belong to the site of its VM
// or device, or be global (site null): VMInterface.clean / Interface.clean for the untagged
// VLAN, the interface serializers' validate() for tagged ones, with NetBox 4.5's wording.
func (s *store) checkVLANSites(vals map[string]any, parentKey, parentField, what string, errs errMap) {
	pid, _ := vals[parentField].(int64)
	parent := s.get(parentKey, pid)
	if parent == nil {
		return
	}
	var site any = parent.v["site"]
	if _, ok := site.(int64); !ok {
		site = nil
	}
	foreign := func(vid int64) (*object, bool) {
		v := s.get("ipam.vlan", vid)
		if v == nil {
			return nil, false
		}
		vs, ok := v.v["site"].(int64)
		return v, ok && vs != site
	}
	for _, vid := range tagged(vals["tagged_vlans"]) {
		if v, bad := foreign(vid); bad {
			errs.add("tagged_vlans", fmt.Sprintf("VLAN %s must belong to the same site as the interface's parent %s, or it must be global.",
				s.display("ipam.vlan", v.id), what))
			return
		}
	}
	if vid, ok := vals["untagged_vlan"].(int64); ok {
		if v, bad := foreign(vid); bad {
			errs.add("untagged_vlan", fmt.Sprintf("The untagged VLAN (%s) must belong to the same site as the interface's parent %s, or it must be global.",
				s.display("ipam.vlan", v.id), what))
		}
	}
}

func tagged(v any) []int64 { ids, _ := v.([]int64); return ids }

func (s *store) display(key string, id int64) string {
	o := s.get(key, id)
	if o == nil {
		return ""
	}
	return s.byKey[key].display(s, o.v)
}

// checkPrimaryIPs: a primary IP must be of its family and assigned to one of the object's
// own interfaces (or be the NAT inside of one that is).
func (s *store) checkPrimaryIPs(vals map[string]any, old *object, ifKey, ifParent, what string, errs errMap) {
	for _, fam := range []int{4, 6} {
		fname := fmt.Sprintf("primary_ip%d", fam)
		ipID, ok := vals[fname].(int64)
		if !ok {
			continue
		}
		ip := s.get("ipam.ipaddress", ipID)
		if ip == nil {
			continue
		}
		addr := ip.v["address"].(string)
		if ipFamily(addr) != fam {
			errs.add(fname, fmt.Sprintf("%s is not an IPv%d address.", addr, fam))
			continue
		}
		owner := func(o *object) bool {
			if o.v["assigned_object_type"] != ifKey {
				return false
			}
			ifID, _ := o.v["assigned_object_id"].(int64)
			iface := s.get(ifKey, ifID)
			return iface != nil && old != nil && iface.v[ifParent] == old.id
		}
		good := owner(ip)
		if !good {
			if nat, ok := ip.v["nat_inside"].(int64); ok {
				if n := s.get("ipam.ipaddress", nat); n != nil {
					good = owner(n)
				}
			}
		}
		if !good {
			errs.add(fname, fmt.Sprintf("The specified IP address (%s) is not assigned to this %s.", addr, what))
		}
	}
}

func ipFamily(addr string) int {
	p, err := netip.ParsePrefix(addr)
	if err != nil {
		return 0
	}
	if p.Addr().Is4() {
		return 4
	}
	return 6
}

func (s *store) cleanIP(vals map[string]any, old *object, errs errMap) {
	raw := vals["address"].(string)
	p, err := netip.ParsePrefix(raw)
	if err != nil {
		a, aerr := netip.ParseAddr(raw)
		if aerr != nil {
			errs.add("address", "Enter a valid IPv4 or IPv6 address with optional mask.")
			return
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Zone() != "" {
		errs.add("address", "Enter a valid IPv4 or IPv6 address with optional mask.")
		return
	}
	vals["address"] = p.String()
	if vals["assigned_object_type"] != nil {
		bits, full := p.Bits(), p.Addr().BitLen()
		if p.Addr() == p.Masked().Addr() && bits < full-1 {
			errs.add("address", fmt.Sprintf("%s is a network ID, which may not be assigned to an interface.", p.Addr()))
		} else if p.Addr().Is4() && bits < 31 && isBroadcast(p) {
			errs.add("address", fmt.Sprintf("%s is a broadcast address, which may not be assigned to an interface.", p.Addr()))
		}
	}
	if old != nil {
		// A primary IP may move to another interface of the same device or VM,
		// not to another parent (IPAddress.clean in NetBox 4.x).
		if old.v["assigned_object_id"] != nil && (old.v["assigned_object_id"] != vals["assigned_object_id"] || old.v["assigned_object_type"] != vals["assigned_object_type"]) {
			oldParent := s.ipParent(old.v["assigned_object_type"], old.v["assigned_object_id"])
			newParent := s.ipParent(vals["assigned_object_type"], vals["assigned_object_id"])
			if oldParent != newParent {
				for _, k := range []string{"virtualization.virtualmachine", "dcim.device"} {
					tb := s.tables[k]
					if tb.ix[fkIndex("primary_ip4")].count(old.id) > 0 || tb.ix[fkIndex("primary_ip6")].count(old.id) > 0 {
						errs.add("__all__", "Cannot reassign primary IP address for the parent device/VM")
						return
					}
				}
			}
		}
	}
	// Unique IP space (IPAddress.clean, ipam/models/ip.py:922-936 in v4.5.10). The error
	// names the address already there (duplicate_ips.first()). Only stored rows count, no
	// database constraint: two copies inside one bulk create are both created (bulkSave).
	if vrf, table, enforce := s.ipSpace(vals); enforce {
		// Addresses that may repeat by design (anycast, VIP, FHRP roles) are
		// exempt when every copy has such a role (IPADDRESS_ROLES_NONUNIQUE).
		shared := func(role any) bool {
			switch role {
			case "anycast", "vip", "vrrp", "hsrp", "glbp", "carp":
				return true
			}
			return false
		}
		tb := s.tables["ipam.ipaddress"]
		for _, id := range tb.ix[ixHost].lookup(hostKey{vrf, p.Addr().String()}) {
			o := tb.rows[id]
			if (old == nil || id != old.id) && !(shared(vals["role"]) && shared(o.v["role"])) {
				errs.add("address", fmt.Sprintf("Duplicate IP address found in %s: %v", table, o.v["address"]))
				return
			}
		}
	}
}

// ipSpace is the unique IP space of an address or prefix: its VRF's id (0: the global table),
// its name in NetBox's texts ("global table", "VRF <str(vrf)>") and whether duplicates are
// refused there (ENFORCE_GLOBAL_UNIQUE, or the VRF's enforce_unique).
func (s *store) ipSpace(vals map[string]any) (vrf int64, table string, enforce bool) {
	vrf, _ = vals["vrf"].(int64)
	if vrf == 0 {
		return 0, "global table", s.enforceGlobalUnique
	}
	v := s.get("ipam.vrf", vrf)
	if v == nil {
		return vrf, "", false
	}
	return vrf, "VRF " + vrfDisplay(s, v.v), v.v["enforce_unique"] == true
}

func isBroadcast(p netip.Prefix) bool {
	b := p.Addr().As4()
	hostBits := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	mask := uint32(1)<<hostBits - 1
	return v&mask == mask
}

func hostOf(addr string) string {
	if i := strings.IndexByte(addr, '/'); i >= 0 {
		return addr[:i]
	}
	return addr
}

// plain converts decoded JSON (json.Number) into int64/float64 values for storage.
func plain(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, y := range x {
			out[k] = plain(y)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, y := range x {
			out[i] = plain(y)
		}
		return out
	}
	return v
}

// pyRepr renders a value roughly as Python's repr, which NetBox interpolates into messages.
func pyRepr(v any) string {
	switch x := v.(type) {
	case string:
		return "'" + x + "'"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = "'" + k + "': " + pyRepr(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case nil:
		return "None"
	}
	return fmt.Sprint(v)
}

func pyType(v any) string {
	switch v.(type) {
	case string:
		return "str"
	case json.Number, int64, float64:
		return "int"
	case bool:
		return "bool"
	case map[string]any:
		return "dict"
	case []any:
		return "list"
	}
	return "NoneType"
}

func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// formatTime renders like DRF: ISO 8601, UTC as Z.
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.999999Z07:00") }

// ipParent names the device or VM that owns an IP's assigned interface
// ("" when unassigned or unknown).
func (s *store) ipParent(typ, id any) string {
	n, ok := toInt(id)
	if !ok {
		return ""
	}
	switch typ {
	case "virtualization.vminterface":
		if r := s.tables["virtualization.vminterface"].rows[n]; r != nil {
			return fmt.Sprint("vm:", r.v["virtual_machine"])
		}
	case "dcim.interface":
		if r := s.tables["dcim.interface"].rows[n]; r != nil {
			return fmt.Sprint("device:", r.v["device"])
		}
	}
	return ""
}
