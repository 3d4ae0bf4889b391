package pve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The simulator keeps every reply as a decoded JSON tree (map[string]any, []any, string,
// json.Number, int, int64, uint64, float64, bool, nil). Fixture files are decoded with
// UseNumber so numbers keep their exact text; the generator writes Go ints. These helpers
// read such trees without caring which of the two produced them.

// decodeJSON parses b into a tree, keeping numbers as json.Number.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// asInt reads an integer from a number or a decimal string ("4096"), as PVE sends both.
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case float64:
		return int64(x), x == math.Trunc(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, true
		}
		if f, err := x.Float64(); err == nil && f == math.Trunc(f) {
			return int64(f), true
		}
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return i, true
		}
	}
	return 0, false
}

// asFloat reads a number (or numeric string) as float64.
func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	if i, ok := asInt(v); ok {
		return float64(i), true
	}
	return 0, false
}

// asString reads a string, or the text of a number.
func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	}
	if i, ok := asInt(v); ok {
		return strconv.FormatInt(i, 10)
	}
	return fmt.Sprint(v)
}

// truthy interprets PVE booleans: 1, "1", true, "yes", "on".
func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "1", "true", "yes", "on":
			return true
		}
		return false
	}
	i, ok := asInt(v)
	return ok && i != 0
}

// sameType returns n encoded like old: a decimal string when old was a string, else a number.
func sameType(old any, n int64) any {
	if _, ok := old.(string); ok {
		return strconv.FormatInt(n, 10)
	}
	return n
}

// asList returns v as a list of objects, skipping anything that is not an object.
func asList(v any) []map[string]any {
	l, _ := v.([]any)
	out := make([]map[string]any, 0, len(l))
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// deepCopy copies a decoded JSON tree so two servers never share mutable state.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	case *reply:
		return &reply{status: x.status, body: deepCopy(x.body)}
	}
	return v
}

// agentEnabled parses a QEMU `agent` property string ("1", "enabled=1,fstrim_cloned_disks=1",
// "1,type=virtio") the way PVE does: the default key is `enabled`.
func agentEnabled(v any) bool {
	if v == nil {
		return false
	}
	s := asString(v)
	for i, part := range strings.Split(s, ",") {
		k, val, hasEq := strings.Cut(part, "=")
		if !hasEq && i == 0 {
			return truthy(k)
		}
		if k == "enabled" {
			return truthy(val)
		}
	}
	return false
}
