package netbox

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// strip removes url, display_url and display at every level of a value
// decoded by encoding/json: what ListTrimmed must give.
func strip(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if !trimmedKeys[k] {
				out[k] = strip(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = strip(e)
		}
		return out
	}
	return v
}

// The trimmed decode is encoding/json's, less the three members at every
// level and, in the list objects themselves, created, last_updated and null
// members (a null inside custom_fields stays): escapes, invalid UTF-8,
// numbers, nesting, empty containers, nulls.
func TestTrimmedPageDecodesLikeEncodingJSON(t *testing.T) {
	pages := []string{
		`{"count":2,"next":null,"results":[
		  {"id":1,"url":"http://nb/api/virtualization/virtual-machines/1/","display":"vm \"one\"","display_url":"http://nb/x",
		   "name":"caf\u00e9 \ud83d\ude00","status":{"value":"active","label":"Active"},
		   "site":{"id":3,"url":"http://nb/api/dcim/sites/3/","display":"Site","name":"Site","slug":"site"},
		   "tags":[{"id":1,"url":"u","display":"t","slug":"proxbox","color":"ff0000"}],
		   "vcpus":2.5,"memory":4096,"disk":1e3,"neg":-0.25,"big":12345678901234567890,
		   "custom_fields":{"proxmox_vm_id":101,"empty":null,"flag":true,"off":false,"list":[1,"a",null,[],{}]},
		   "comments":"line\nnext\ttab \\ slash \/","primary_ip4":null,"description":"",
		   "created":"2026-12-03T10:00:00.000000Z","last_updated":"2026-12-03T10:00:01.000000Z","parent":null},
		  {"id":2,"name":"` + "\xff\xfe" + `bad utf8","url":"x","nested":{"deeper":{"display":"gone","keep":[{"url":"y","k":1}]}}}
		]}`,
		`{"count":0,"next":null,"previous":null,"results":[]}`,
	}
	for i, raw := range pages {
		var want struct {
			Results []any `json:"results"`
		}
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		var got trimmedPage
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatalf("page %d: trimmed: %v", i, err)
		}
		if !got.Results.set || got.Results.objs == nil {
			t.Fatalf("page %d: results not set", i)
		}
		gotAny := make([]any, len(got.Results.objs))
		for j, o := range got.Results.objs {
			gotAny[j] = map[string]any(o)
		}
		w := strip(want.Results).([]any)
		for _, e := range w { // the list objects themselves: no created, last_updated or null member
			o := e.(map[string]any)
			for k, v := range o {
				if trimmedTopKeys[k] || v == nil {
					delete(o, k)
				}
			}
		}
		if !reflect.DeepEqual(gotAny, w) {
			t.Errorf("page %d:\n got %#v\nwant %#v", i, gotAny, w)
		}
	}
	// No results member, or null: not a list page (List says so).
	for _, raw := range []string{`{"count":0}`, `{"results":null}`} {
		var p trimmedPage
		if err := json.Unmarshal([]byte(raw), &p); err != nil || p.Results.set {
			t.Errorf("%s: set %v, err %v", raw, p.Results.set, err)
		}
	}
	var p trimmedPage
	if err := json.Unmarshal([]byte(`{"results":[1]}`), &p); err == nil {
		t.Error(`results [1]: no error`)
	}
}

// Repeated short nested values of a page (a tag list, a status, a parent's
// brief object) are decoded once and shared; they still read as encoding/json
// decodes them, and a long one is decoded per object.
func TestTrimmedPageSharesRepeatedNestedValues(t *testing.T) {
	long := `"` + string(make([]byte, sharedMax)) + `"`
	long = strings.ReplaceAll(long, "\x00", "x")
	raw := `{"count":3,"next":null,"results":[
	  {"id":1,"status":{"value":"active","label":"Active"},"tags":[{"id":1,"url":"u1","slug":"proxbox"}],"vm":{"id":7,"name":"a"},"big":{"text":` + long + `}},
	  {"id":2,"status":{"value":"active","label":"Active"},"tags":[{"id":1,"url":"u1","slug":"proxbox"}],"vm":{"id":8,"name":"b"},"big":{"text":` + long + `}},
	  {"id":3,"status":{"label":"Active","value":"active"},"tags":[{"id":1,"url":"u1","slug":"proxbox"}],"vm":{"id":7,"name":"a"},"big":{"text":` + long + `}}
	]}`
	var got trimmedPage
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	o := got.Results.objs
	same := func(a, b any) bool { return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() }
	for _, c := range []struct {
		field string
		i, j  int
		want  bool
	}{
		{"status", 0, 1, true}, {"tags", 0, 1, true}, {"tags", 0, 2, true}, {"vm", 0, 2, true},
		{"vm", 0, 1, false},     // another VM
		{"status", 0, 2, false}, // another text (members in another order)
		{"big", 0, 1, false},    // longer than sharedMax
	} {
		if s := same(o[c.i][c.field], o[c.j][c.field]); s != c.want {
			t.Errorf("%s of objects %d and %d shared: %v, want %v", c.field, c.i, c.j, s, c.want)
		}
	}
	if !reflect.DeepEqual(o[0]["status"], o[2]["status"]) || !reflect.DeepEqual(o[0]["tags"], []any{map[string]any{"id": 1.0, "slug": "proxbox"}}) {
		t.Errorf("shared values decode differently: %#v %#v", o[0]["status"], o[0]["tags"])
	}
}
