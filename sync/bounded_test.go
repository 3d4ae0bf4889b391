package sync

import (
	"fmt"
	"reflect"
	"testing"
)

func TestBounded(t *testing.T) {
	ch := func(model, key, err string) Change { return Change{Op: OpCreate, Model: model, Key: key, Error: err} }
	full := &Summary{OK: false, Errors: []string{"e1", "e2", "e3"}, Warnings: []string{"w1"},
		Objects: map[string]*Counts{"virtual_machines": {Created: 4, Failed: 1}},
		Plan: &Plan{Unchanged: map[string]int{ModelVM: 7}, Changes: []Change{
			ch(ModelVM, "a", ""), ch(ModelIP, "x", ""), ch(ModelVM, "b", ""), ch(ModelVM, "c", ""),
			ch(ModelVM, "d", "refused"), ch(ModelVM, "e", ""),
		}}}
	tests := []struct {
		perModel, msgs int
		keys           []string // stored changes, in order
		omitted        map[string]int
		errors         []string
		errorsOmitted  int
	}{
		{10, 10, []string{"a", "x", "b", "c", "d", "e"}, nil, []string{"e1", "e2", "e3"}, 0},
		// The failed VM change is kept first, then the earliest others, in plan order.
		{2, 2, []string{"a", "x", "d"}, map[string]int{ModelVM: 3}, []string{"e1", "e2"}, 1},
		{0, 0, []string{}, map[string]int{ModelVM: 5, ModelIP: 1}, []string{}, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.perModel), func(t *testing.T) {
			b := full.Bounded(tt.perModel, tt.msgs)
			keys := []string{}
			for _, c := range b.Plan.Changes {
				keys = append(keys, c.Key)
			}
			if !reflect.DeepEqual(keys, tt.keys) || !reflect.DeepEqual(b.Plan.Omitted, tt.omitted) || b.Plan.Total != 6 {
				t.Fatalf("changes %v omitted %v total %d; want %v %v 6", keys, b.Plan.Omitted, b.Plan.Total, tt.keys, tt.omitted)
			}
			if !reflect.DeepEqual(b.Errors, tt.errors) || b.ErrorsOmitted != tt.errorsOmitted || b.Plan.Unchanged[ModelVM] != 7 || b.Objects["virtual_machines"].Failed != 1 {
				t.Fatalf("errors %v (+%d), unchanged %v, objects %v", b.Errors, b.ErrorsOmitted, b.Plan.Unchanged, b.Objects)
			}
			again := b.Bounded(tt.perModel, tt.msgs)
			if !reflect.DeepEqual(again.Plan.Omitted, b.Plan.Omitted) || again.Plan.Total != 6 || again.ErrorsOmitted != b.ErrorsOmitted {
				t.Fatalf("bounding twice: omitted %v total %d errors omitted %d", again.Plan.Omitted, again.Plan.Total, again.ErrorsOmitted)
			}
		})
	}
	if len(full.Plan.Changes) != 6 || len(full.Errors) != 3 {
		t.Fatal("Bounded changed its receiver")
	}
}
