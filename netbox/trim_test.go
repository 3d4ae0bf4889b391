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

// leanRef is what ListLean must give for a list object decoded by encoding/json (then
// trimmed): a member not in l.Whole whose value is an object with a numeric "id" holds that
// id; "" and {} members not in l.KeepEmpty are left out; nested levels are untouched.
func leanRef(o map[string]any, l Lean) map[string]any {
	out := map[string]any{}
	for k, v := range o {
		switch x := v.(type) {
		case string:
			if x == "" && !l.KeepEmpty[k] {
				continue
			}
		case map[string]any:
			if len(x) == 0 && !l.KeepEmpty[k] {
				continue
			}
			if id, ok := x["id"].(float64); ok && !l.Whole[k] {
				v = id
			}
		}
		out[k] = v
	}
	return out
}

// ListLean's page decode: brief objects held as their id (escaped keys, repeated ids,
// non-numeric ids, ids in nested levels and in Whole members as encoding/json reads them),
// empty strings and objects left out unless kept.
func TestLeanPageDecodesAsReduced(t *testing.T) {
	raw := `{"count":3,"next":null,"results":[
	  {"id":1,"url":"u","display":"d","name":"vm1","description":"","comments":"",
	   "virtual_machine":{"id":7,"url":"http://nb/7/","display":"vm7","name":"vm7","description":""},
	   "cluster":{"id":3,"name":"c","type":{"id":2,"slug":"standalone"}},
	   "site":{"id":4,"slug":"s"},"status":{"value":"active","label":"Active"},
	   "custom_fields":{},"raw_config":{},"tags":[{"id":1,"slug":"proxbox"}],
	   "primary_ip4":{"id":9,"address":"10.0.0.1/24","family":{"value":4,"label":"IPv4"},"description":""},
	   "odd":{"i\u0064":12,"name":"escaped key"},"twice":{"id":1,"id":2},"strid":{"id":"5"},"neg":{"id":-3.5},
	   "exp":{"name":"x","id":1e2},"empty_list":[],"notes":"x","spaced":{ "id" : 44 , "x" : [ {"id":1} ] }},
	  {"id":2,"custom_fields":{"proxmox_vm_id":101,"note":""},"virtual_machine":{"name":"no id"},"schedule":""},
	  {"id":3,"raw_config":{"id":"100-0","rate":{"id":5}},"encrypted":"","device":null}
	]}`
	l := Lean{Whole: map[string]bool{"site": true, "cluster": true, "raw_config": true, "custom_fields": true},
		KeepEmpty: map[string]bool{"raw_config": true, "comments": true}}
	var want struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal([]byte(raw), &want); err != nil {
		t.Fatal(err)
	}
	got := trimmedPage{Results: trimResults{lean: &l}}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Results.objs) != len(want.Results) {
		t.Fatalf("%d objects, want %d", len(got.Results.objs), len(want.Results))
	}
	for i, w := range want.Results {
		w = strip(w).(map[string]any)
		for k, v := range w {
			if trimmedTopKeys[k] || v == nil {
				delete(w, k)
			}
		}
		w = leanRef(w, l)
		if g := map[string]any(got.Results.objs[i]); !reflect.DeepEqual(g, w) {
			t.Errorf("object %d:\n got %#v\nwant %#v", i, g, w)
		}
	}
	o := got.Results.objs[0]
	for k, v := range map[string]any{"virtual_machine": 7.0, "primary_ip4": 9.0, "odd": 12.0, "twice": 2.0, "neg": -3.5, "exp": 100.0, "spaced": 44.0} {
		if o[k] != v {
			t.Errorf("%s = %#v, want %v", k, o[k], v)
		}
	}
	for _, k := range []string{"description", "custom_fields"} {
		if _, ok := o[k]; ok {
			t.Errorf("%s kept: %#v", k, o[k])
		}
	}
	if _, ok := o["site"].(map[string]any); !ok {
		t.Errorf("site (Whole) = %#v, want its object", o["site"])
	}
	if o["comments"] != "" || o["raw_config"] == nil {
		t.Errorf("KeepEmpty members: comments %#v, raw_config %#v", o["comments"], o["raw_config"])
	}
}

// A create's reply objects with CreateOptions.Lean: the sent fields and "id", reduced as
// ListLean reduces list objects, null members left out too; the map is made for what is
// kept. Without Lean (and for updates) nulls stay: an update's reply is laid over the object
// its caller had.
func TestLeanCreateReply(t *testing.T) {
	body := []byte(`[
	  {"id":5,"url":"u","display":"vm5","name":"vm5","description":"","vcpus":2,"primary_ip4":null,"comments":"",
	   "cluster":{"id":3,"url":"u","name":"c"},"site":{"id":4,"slug":"s"},"custom_fields":{},"tags":[{"id":1,"slug":"proxbox"}],
	   "config_context":{"big":true},"created":"2026-01-01"},
	  {"id":6,"name":"vm6","cluster":{"id":3,"name":"c"},"raw_config":{},"notes":null}
	]`)
	items := []Object{
		{"name": "vm5", "description": "", "vcpus": 2, "primary_ip4": nil, "cluster": 3, "site": 4, "custom_fields": map[string]any{}, "tags": []int{1}, "comments": ""},
		{"name": "vm6", "cluster": 3, "raw_config": map[string]any{}, "notes": nil},
	}
	sent := func(j int) Object { return items[j] }
	l := &Lean{Whole: map[string]bool{"site": true, "raw_config": true}, KeepEmpty: map[string]bool{"raw_config": true, "comments": true}}
	got, single, err := decodeReplyLean(body, sent, l)
	if err != nil || single {
		t.Fatal(single, err)
	}
	want := []Object{
		{"id": 5.0, "name": "vm5", "vcpus": 2.0, "cluster": 3.0, "site": map[string]any{"id": 4.0, "slug": "s"},
			"tags": []any{map[string]any{"id": 1.0, "slug": "proxbox"}}, "comments": ""},
		{"id": 6.0, "name": "vm6", "cluster": 3.0, "raw_config": map[string]any{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lean reply:\n got %#v\nwant %#v", got, want)
	}
	whole, _, err := decodeReply(body, sent)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := whole[0]["primary_ip4"]; !ok || v != nil {
		t.Errorf("without Lean a null member stays: %#v", whole[0])
	}
	if _, ok := whole[0]["cluster"].(map[string]any); !ok || whole[0]["description"] != "" {
		t.Errorf("without Lean nested objects and \"\" stay: %#v", whole[0])
	}
}
