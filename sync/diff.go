package sync

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Op is what a plan does with one object.
type Op string

// Plan operations.
const (
	OpCreate    Op = "create"
	OpUpdate    Op = "update"
	OpUnchanged Op = "unchanged"
	OpOrphan    Op = "orphan" // marked (status offline, tag proxbox-orphan)
	OpDelete    Op = "delete"
	OpSkip      Op = "skip"
)

// FieldChange is one field of an update: NetBox's value and ours.
type FieldChange struct {
	Field string `json:"field"`
	Old   any    `json:"old"`
	New   any    `json:"new"`
}

// Change is one planned (or, after Apply, done) operation.
type Change struct {
	Op    Op    `json:"op"`
	Stage Stage `json:"stage,omitempty"`
	// Endpoint is the label of the Proxmox endpoint whose sync made the
	// change (set by the report; the dashboard groups changes by it).
	Endpoint string        `json:"endpoint,omitempty"`
	Model    string        `json:"model"`
	Key      string        `json:"key"`
	Label    string        `json:"label"`
	ID       int64         `json:"id,omitempty"`
	Fields   []FieldChange `json:"fields,omitempty"`
	Reason   string        `json:"reason,omitempty"`
	Error    string        `json:"error,omitempty"`
}

// Plan is the ordered list of changes of a run; unchanged objects are counted, not listed.
// A stored plan may be bounded (Summary.Bounded): Changes then lists only some changes of
// each model, Total counts them all and Omitted, per model, those left out.
//
// A run's plan of more than 1,024 changes keeps them in a compressed log (see
// changelog.go): Changes then holds the first changes of each model only, Len counts
// them all and All yields them all; its JSON (MarshalJSON, WriteChangesJSON) has them all.
type Plan struct {
	Changes   []Change       `json:"changes"`
	Unchanged map[string]int `json:"unchanged"`
	Total     int            `json:"total,omitempty"`
	Omitted   map[string]int `json:"omitted,omitempty"`
	log       *changeLog     // every change, when the report spilled them (nil: Changes has them all)
}

// Print writes the plan for humans (--dry-run).
func (p *Plan) Print(w io.Writer) error {
	var b strings.Builder
	for c, err := range p.All() {
		if err != nil {
			return err
		}
		id := ""
		if c.ID > 0 {
			id = fmt.Sprintf(" #%d", c.ID)
		}
		sym := map[Op]string{OpCreate: "+", OpUpdate: "~", OpOrphan: "!", OpDelete: "-", OpSkip: "?"}[c.Op]
		fmt.Fprintf(&b, "%s %s %s%s (%s)", sym, c.Op, c.Label, id, c.Model)
		if c.Reason != "" {
			fmt.Fprintf(&b, ": %s", c.Reason)
		}
		if c.Error != "" {
			fmt.Fprintf(&b, " FAILED: %s", c.Error)
		}
		b.WriteByte('\n')
		if c.Op == OpCreate {
			continue // its fields are the whole object: the summary's plan has them
		}
		for _, f := range c.Fields {
			fmt.Fprintf(&b, "    %s: %s -> %s\n", f.Field, show(f.Old), show(f.New))
		}
	}
	models := make([]string, 0, len(p.Unchanged))
	for m := range p.Unchanged {
		models = append(models, m)
	}
	sort.Strings(models)
	for _, m := range models {
		fmt.Fprintf(&b, "= %d unchanged (%s)\n", p.Unchanged[m], m)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func show(v any) string {
	if v == nil {
		return "null"
	}
	bs, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(bs)
}

// Resolved is a desired object with its references turned into NetBox ids:
// what Diff compares against a current NetBox object.
type Resolved struct {
	Fields       map[string]any // FKs as int64 ids or nil
	Tags         []int64        // nil: tags not managed
	CustomFields map[string]any
	CreateOnly   map[string]bool
	Soft         map[string]bool
	SetFields    map[string]bool
	// ManagedTag says whether a tag (by slug) is ours to remove when not wanted.
	ManagedTag func(slug string) bool
	// Owned says whether a current FK id in a Soft field points at an object we own.
	Owned func(field string, id int64) bool
}

// Diff compares want with a current NetBox object and returns the PATCH body
// (nil when nothing changed) and the field changes. Only fields we own are
// compared; custom fields key by key; tags merged (ours added and removed,
// theirs kept); choice dicts, nested objects and number types normalised.
func Diff(want Resolved, cur map[string]any) (map[string]any, []FieldChange) {
	patch := map[string]any{}
	var ch []FieldChange
	keys := make([]string, 0, len(want.Fields))
	for k := range want.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := want.Fields[k]
		if want.CreateOnly[k] || strings.HasPrefix(k, "\x00") {
			continue
		}
		cv := cur[k]
		if want.SetFields[k] {
			merged, changed := mergeSet(toStrings(cv), toStrings(v))
			if changed {
				patch[k] = merged
				ch = append(ch, FieldChange{k, toStrings(cv), merged})
			}
			continue
		}
		if want.Soft[k] {
			if id, ok := idOf(cv); ok && want.Owned != nil && !want.Owned(k, id) {
				continue // the user's choice
			}
		}
		if !Equal(k, v, cv) {
			patch[k] = v
			ch = append(ch, FieldChange{k, Normalize(k, cv), v})
		}
	}
	if want.Tags != nil && !want.CreateOnly["tags"] {
		merged, old := mergeTags(cur["tags"], want.Tags, want.ManagedTag)
		if !slices.Equal(merged, old) {
			patch["tags"] = merged
			ch = append(ch, FieldChange{"tags", old, merged})
		}
	}
	if len(want.CustomFields) > 0 && !want.CreateOnly["custom_fields"] {
		curCF, _ := cur["custom_fields"].(map[string]any)
		var cfKeys []string
		for k := range want.CustomFields {
			cfKeys = append(cfKeys, k)
		}
		sort.Strings(cfKeys)
		changed := false
		for _, k := range cfKeys {
			v := want.CustomFields[k]
			cv, ok := curCF[k]
			if !ok || !Equal(k, v, cv) {
				changed = true
				ch = append(ch, FieldChange{cfFieldName(k), cv, v})
			}
		}
		if changed {
			cf := make(map[string]any, len(want.CustomFields))
			for k, v := range want.CustomFields {
				cf[k] = v
			}
			patch["custom_fields"] = cf
		}
	}
	if len(patch) == 0 {
		return nil, nil
	}
	return patch, ch
}

func mergeTags(cur any, want []int64, managed func(string) bool) (merged, old []int64) {
	list, _ := cur.([]any)
	keep := map[int64]bool{}
	for _, t := range list {
		id, ok := idOf(t)
		if !ok {
			continue
		}
		old = append(old, id)
		slug := ""
		if m, ok := t.(map[string]any); ok {
			slug, _ = m["slug"].(string)
		}
		if slug != "" && managed != nil && managed(slug) && !slices.Contains(want, id) {
			continue
		}
		keep[id] = true
	}
	for _, id := range want {
		keep[id] = true
	}
	for id := range keep {
		merged = append(merged, id)
	}
	slices.Sort(merged)
	slices.Sort(old)
	old = slices.Compact(old)
	if merged == nil {
		merged = []int64{}
	}
	if old == nil {
		old = []int64{}
	}
	return merged, old
}

func mergeSet(cur, want []string) ([]string, bool) {
	out := append([]string(nil), cur...)
	changed := false
	for _, w := range want {
		if !slices.Contains(out, w) {
			out = append(out, w)
			changed = true
		}
	}
	slices.Sort(out)
	return out, changed
}

func toStrings(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// idOf extracts an object id from a nested object, a number or a json.Number.
func idOf(v any) (int64, bool) {
	if m, ok := v.(map[string]any); ok {
		v = m["id"]
	}
	f, ok := number(v)
	if !ok || f != float64(int64(f)) {
		return 0, false
	}
	return int64(f), true
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// Normalize brings a NetBox or desired value to a comparable form: nested
// objects become their id, choices their value, numbers float64, strings
// trimmed, "" null.
func Normalize(field string, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		x = strings.TrimSpace(x) // DRF's CharField trims (trim_whitespace)
		if x == "" {
			return nil
		}
		if field == "mac_address" {
			return strings.ToUpper(x)
		}
		if timeFields[field] {
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return t.UTC().Format(time.RFC3339Nano)
			}
		}
		return x
	case bool:
		return x
	case map[string]any:
		if id, ok := x["id"]; ok {
			return Normalize(field, id)
		}
		if val, ok := x["value"]; ok {
			return Normalize(field, val)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = Normalize(k, e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Normalize(field, e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	}
	if f, ok := number(v); ok {
		return f
	}
	return v
}

// timeFields are datetimes: compared as instants (NetBox may render "Z" or
// "+00:00", and fractions).
var timeFields = map[string]bool{"creation_time": true, "snaptime": true, "start_time": true, "end_time": true, "next_run": true}

// jsonFields are free JSON documents (their keys may be "id" or "value"):
// compared as canonical JSON, not normalised.
var jsonFields = map[string]bool{"raw_config": true, "selection": true}

// Equal compares two values after Normalize.
func Equal(field string, a, b any) bool {
	if jsonFields[field] {
		return canonicalJSON(a) == canonicalJSON(b)
	}
	return reflect.DeepEqual(Normalize(field, a), Normalize(field, b))
}

// canonicalJSON is v as JSON with sorted keys (null for nothing).
func canonicalJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var x any
	if json.Unmarshal(b, &x) != nil {
		return string(b)
	}
	b, _ = json.Marshal(x)
	return string(b)
}

// createFields lists a create body's fields as changes from nothing (sorted;
// empty values and unset custom fields left out), so a created object shows
// what it was created with.
func createFields(body map[string]any) []FieldChange {
	n := 0 // a change list holds every create's fields: no spare capacity
	for k, v := range body {
		if cf, ok := v.(map[string]any); ok && k == "custom_fields" {
			for _, cv := range cf {
				if !emptyValue(cv) {
					n++
				}
			}
		} else if !emptyValue(v) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]FieldChange, 0, n)
	for k, v := range body {
		if k == "custom_fields" {
			if cf, ok := v.(map[string]any); ok {
				for ck, cv := range cf {
					if !emptyValue(cv) {
						out = append(out, FieldChange{Field: cfFieldName(ck), New: cv})
					}
				}
				continue
			}
		}
		if !emptyValue(v) {
			out = append(out, FieldChange{Field: k, New: v})
		}
	}
	slices.SortFunc(out, func(a, b FieldChange) int { return strings.Compare(a.Field, b.Field) })
	return out
}

// cfFieldNames holds one "custom_fields.<name>" text per custom field name (the
// few names the sync sets), shared by every change that names it.
var cfFieldNames sync.Map

func cfFieldName(name string) string {
	if s, ok := cfFieldNames.Load(name); ok {
		return s.(string)
	}
	s, _ := cfFieldNames.LoadOrStore(name, "custom_fields."+name)
	return s.(string)
}

func emptyValue(v any) bool {
	if v == nil {
		return true
	}
	switch x := v.(type) {
	case string:
		return x == ""
	case []int64:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}
