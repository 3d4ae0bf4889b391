package sync

import (
	"context"
	"net/url"
	"reflect"
	"testing"
)

// A VM interface's primary MAC brief object is replaced by the current MAC object only when
// that has the same id and address; the engine reads the same id and address either way.
func TestSharePrimaryMAC(t *testing.T) {
	mac := map[string]any{"id": 7.0, "mac_address": "BC:24:11:00:00:01", "assigned_object_id": 3.0, "tags": []any{}}
	macs := map[int64]map[string]any{7: mac}
	for _, c := range []struct {
		name   string
		brief  any
		shared bool
	}{
		{"same id and address", map[string]any{"id": 7.0, "mac_address": "BC:24:11:00:00:01", "description": ""}, true},
		{"another address", map[string]any{"id": 7.0, "mac_address": "BC:24:11:00:00:02"}, false},
		{"not a current MAC", map[string]any{"id": 8.0, "mac_address": "BC:24:11:00:00:01"}, false},
		{"no address", map[string]any{"id": 7.0}, false},
		{"an id", 7.0, false},
	} {
		o := map[string]any{"id": 3.0, "primary_mac_address": c.brief}
		sharePrimaryMAC(o, macs)
		got := o["primary_mac_address"]
		if shared := reflect.ValueOf(got).Kind() == reflect.Map && reflect.ValueOf(got).Pointer() == reflect.ValueOf(mac).Pointer(); shared != c.shared {
			t.Errorf("%s: shared %v, want %v", c.name, shared, c.shared)
		}
		if !Equal("primary_mac_address", got, c.brief) {
			t.Errorf("%s: %v reads unlike %v", c.name, got, c.brief)
		}
	}
}

// listNetBox answers List from fixed rows and records the calls' lean marks.
type listNetBox struct {
	emptyNetBox
	rows map[string][]map[string]any
	lean map[string]bool
}

func (n *listNetBox) List(ctx context.Context, model string, q url.Values) ([]map[string]any, error) {
	_, ok := LeanRowsOf(ctx)
	n.lean[model] = ok
	return n.rows[model], nil
}

// The state loads let the client reduce the objects (LeanRowsOf), and an interface listed
// after the MACs shares its primary MAC's object.
func TestLoadMarksLeanAndSharesMACs(t *testing.T) {
	mac := map[string]any{"id": 5.0, "mac_address": "BC:24:11:00:00:05"}
	nb := &listNetBox{lean: map[string]bool{}, rows: map[string][]map[string]any{
		ModelMAC:         {mac},
		ModelVMInterface: {{"id": 9.0, "primary_mac_address": map[string]any{"id": 5.0, "mac_address": "BC:24:11:00:00:05"}}},
	}}
	r := (&Engine{NetBox: nb}).newRun(Options{}, nil, &shared{cur: map[string]map[int64]map[string]any{}, loaded: map[string]bool{}})
	for _, m := range []string{ModelMAC, ModelVMInterface} {
		if err := r.load(context.Background(), m, url.Values{}); err != nil {
			t.Fatal(err)
		}
		if !nb.lean[m] {
			t.Errorf("load %s: the List call is not marked lean", m)
		}
	}
	l, _ := LeanRowsOf(context.WithValue(context.Background(), leanRowsKey{}, leanRows))
	for _, f := range []string{"site", "type", "vrf", "cluster", "primary_mac_address", "ip_address", "custom_fields", "raw_config", "selection"} {
		if !l.Whole[f] {
			t.Errorf("%s not kept whole", f)
		}
	}
	if got := r.cur[ModelVMInterface][9]["primary_mac_address"]; reflect.ValueOf(got).Pointer() != reflect.ValueOf(mac).Pointer() {
		t.Errorf("primary MAC %v not the MAC's object", got)
	}
}

// An update reply's nested objects are held as the state loads hold them; its "" and null
// members stay (they replace the old values when laid over the object).
func TestLeanReply(t *testing.T) {
	mac := map[string]any{"id": 5.0, "mac_address": "BC:24:11:00:00:05"}
	r := (&Engine{NetBox: emptyNetBox{}}).newRun(Options{}, nil, &shared{cur: map[string]map[int64]map[string]any{}, loaded: map[string]bool{}})
	r.cur[ModelMAC] = map[int64]map[string]any{5: mac}
	reply := map[string]any{"id": 1.0, "platform": map[string]any{"id": 3.0, "name": "p"}, "site": map[string]any{"id": 4.0, "slug": "s"},
		"description": "", "primary_ip4": nil, "status": map[string]any{"value": "active", "label": "Active"},
		"primary_mac_address": map[string]any{"id": 5.0, "mac_address": "BC:24:11:00:00:05", "description": ""}}
	r.leanReply(ModelVMInterface, reply)
	want := map[string]any{"id": 1.0, "platform": 3.0, "site": map[string]any{"id": 4.0, "slug": "s"},
		"description": "", "primary_ip4": nil, "status": map[string]any{"value": "active", "label": "Active"}, "primary_mac_address": mac}
	if !reflect.DeepEqual(reply, want) {
		t.Errorf("lean reply\n got %v\nwant %v", reply, want)
	}
	if o := overlay(map[string]any{"id": 1.0, "name": "a", "mtu": 1500.0}, map[string]any{"id": 1.0, "mtu": nil, "mode": "access"}); !reflect.DeepEqual(o,
		map[string]any{"id": 1.0, "name": "a", "mtu": nil, "mode": "access"}) {
		t.Errorf("overlay %v", o)
	}
}
