package sync

import (
	"testing"
	"time"
)

// Each recorded change carries its stage and the endpoint being synced, in
// the event stream and in the summary's plan (the dashboard groups by them).
func TestRecordedChangesNameTheirEndpointAndStage(t *testing.T) {
	var got []Event
	rep := newReport(func(e Event) { got = append(got, e) }, time.Now)
	rep.endpoint = "pve-a"
	rep.startStage(StageVMs)
	rep.record(Change{Op: OpCreate, Model: ModelVM, Key: "k", Label: "vm web", Fields: []FieldChange{{Field: "name", New: "web"}}})
	rep.endStage()
	sum := rep.summary(time.Now(), false)
	if len(sum.Plan.Changes) != 1 {
		t.Fatalf("plan %+v", sum.Plan.Changes)
	}
	if c := sum.Plan.Changes[0]; c.Endpoint != "pve-a" || c.Stage != StageVMs || len(c.Fields) != 1 {
		t.Errorf("plan change %+v", c)
	}
	for _, e := range got {
		if e.Type == EventItem && (e.Change == nil || e.Change.Endpoint != "pve-a") {
			t.Errorf("item event %+v", e)
		}
	}
}
