package sync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testChange is the i-th change of a realistic first run: mostly creates of VMs,
// interfaces and addresses with their fields, some updates, skips and failures.
func testChange(i int) Change {
	vm := fmt.Sprintf("vm-%d", i/3)
	switch i % 7 {
	case 0, 1, 2:
		body := map[string]any{"name": vm, "status": "active", "cluster": int64(3 + i%3), "site": int64(2),
			"vcpus": float64(i%8 + 1), "memory": int64(2048 * (i%4 + 1)), "disk": int64(32768),
			"comments": "<b>" + vm + "</b> & \"quoted\"", "tags": []int64{1, 4},
			"custom_fields": map[string]any{"proxmox_vm_id": int64(i), "proxmox_node": "pve" + fmt.Sprint(i%5),
				"proxmox_config": map[string]any{"ostype": "l26", "cores": 2, "net0": "virtio=AA:BB"}}}
		c := Change{Op: OpCreate, Model: ModelVM, Key: "pve/" + vm, Label: "VM " + vm, ID: int64(i + 1), Fields: createFields(body)}
		if i%70 == 0 {
			c.ID, c.Error = 0, "NetBox 400: name must be unique"
		}
		return c
	case 3, 4:
		return Change{Op: OpCreate, Model: ModelVMInterface, Key: "pve/" + vm + "/net0", Label: vm + " net0", ID: int64(i),
			Fields: createFields(map[string]any{"name": "net0", "virtual_machine": int64(i / 3), "mtu": 1500, "enabled": true})}
	case 5:
		return Change{Op: OpUpdate, Model: ModelIP, Key: fmt.Sprintf("10.0.%d.%d/24", i/256%256, i%256), Label: "ip", ID: int64(i),
			Fields: []FieldChange{{Field: "status", Old: "deprecated", New: "active"}, {Field: "dns_name", Old: nil, New: vm + ".lan"}}}
	}
	return Change{Op: OpSkip, Model: ModelDisk, Key: vm + "/scsi0", Label: vm + " scsi0", Reason: "no size"}
}

// recordTest records n test changes into a new report that spills past at, across two
// stages and endpoints, and returns it with the events it sent (none when !withEvents).
func recordTest(t testing.TB, n, at int, withEvents bool) (*report, []Event) {
	t.Helper()
	old := spillAt
	spillAt = at
	t.Cleanup(func() { spillAt = old })
	var events []Event
	var emit func(Event)
	if withEvents {
		emit = func(e Event) { events = append(events, e) }
	}
	rep := newReport(emit, func() time.Time { return time.Unix(0, 0) })
	rep.endpoint = "pve-a"
	rep.startStage(StageVMs)
	for i := range n {
		if i == n/2 {
			rep.endpoint = "pve-b"
			rep.startStage(StageIPs)
		}
		rep.record(testChange(i))
		if i%10 == 0 {
			rep.record(Change{Op: OpUnchanged, Model: ModelVM, Key: "u"})
		}
	}
	return rep, events
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A plan of more changes than spillAt keeps them in its compressed log: every output of
// the summary is byte for byte what the complete list in Changes gives, in order, and
// the events are the same.
func TestSpilledPlanKeepsEveryChange(t *testing.T) {
	const n = 3000
	full, fullEvents := recordTest(t, n, math.MaxInt, true)
	spilled, spilledEvents := recordTest(t, n, 500, true)
	want, got := full.summary(time.Unix(0, 0), false), spilled.summary(time.Unix(0, 0), false)
	want.DurationMS, got.DurationMS = 0, 0
	if spilled.plan.log == nil || got.Plan.log == nil || len(got.Plan.Changes) >= n {
		t.Fatalf("plan did not spill: %d changes as structs", len(got.Plan.Changes))
	}
	if want.Plan.log != nil || len(want.Plan.Changes) != n {
		t.Fatalf("unspilled plan has %d changes, want %d", len(want.Plan.Changes), n)
	}
	if got.Plan.Len() != n {
		t.Errorf("Len %d, want %d", got.Plan.Len(), n)
	}
	wantJSON := marshal(t, want)
	if s := marshal(t, got); s != wantJSON {
		t.Errorf("json.Marshal differs:\n%.300s\nwant\n%.300s", s, wantJSON)
	}
	if !strings.Contains(wantJSON, `\u003cb\u003evm-0\u003c/b\u003e \u0026 \"quoted\"`) {
		t.Errorf("test changes do not hold escaped text: %.500s", wantJSON)
	}
	var w bytes.Buffer
	if err := got.WriteJSON(&w); err != nil || w.String() != wantJSON {
		t.Errorf("WriteJSON differs (%v)", err)
	}
	w.Reset()
	if err := got.Plan.WriteChangesJSON(&w); err != nil || w.String() != marshal(t, want.Plan.Changes) {
		t.Errorf("WriteChangesJSON differs (%v)", err)
	}
	if l := got.Plan.log; l.size+len(l.chunks)+1 != w.Len() || len(l.chunks) < 2 {
		t.Errorf("log of %d chunks sized %d bytes, its JSON has %d", len(l.chunks), l.size, w.Len())
	}
	i := 0
	for c, err := range got.Plan.All() {
		if err != nil {
			t.Fatal(err)
		}
		if i >= n {
			t.Fatalf("All yields more than %d changes", n)
		}
		if g, w := marshal(t, c), marshal(t, want.Plan.Changes[i]); g != w {
			t.Fatalf("change %d: %s, want %s", i, g, w)
		}
		i++
	}
	if i != n {
		t.Errorf("All yields %d changes, want %d", i, n)
	}
	for _, perModel := range []int{1, 7, StoredChangesPerModel, StoredChangesPerModel + 50, 2000} {
		if g, w := marshal(t, got.Bounded(perModel, 5)), marshal(t, want.Bounded(perModel, 5)); g != w {
			t.Errorf("Bounded(%d) differs:\n%.400s\nwant\n%.400s", perModel, g, w)
		}
	}
	var p1, p2 strings.Builder
	if err := got.Plan.Print(&p1); err != nil || want.Plan.Print(&p2) != nil || p1.String() != p2.String() {
		t.Errorf("Print differs (%v)", err)
	}
	if g, w := marshal(t, spilledEvents), marshal(t, fullEvents); g != w {
		t.Errorf("events differ")
	}
}

// A spilled plan's Changes holds, per model and in plan order, the first headPerModel
// failed changes and the first headPerModel others.
func TestSpilledPlanHead(t *testing.T) {
	const n = 3000
	full, _ := recordTest(t, n, math.MaxInt, true)
	spilled, _ := recordTest(t, n, 500, true)
	want := map[headKey][]string{}
	for _, c := range full.plan.Changes {
		k := headKey{c.Model, c.Error != ""}
		if len(want[k]) < headPerModel {
			want[k] = append(want[k], marshal(t, c))
		}
	}
	got := map[headKey][]string{}
	for _, c := range spilled.plan.Changes {
		k := headKey{c.Model, c.Error != ""}
		got[k] = append(got[k], marshal(t, c))
	}
	if len(got) != 5 || len(want) != 5 {
		t.Fatalf("kinds %d, want %d (5)", len(got), len(want))
	}
	for k, w := range want {
		if strings.Join(got[k], "\n") != strings.Join(w, "\n") {
			t.Errorf("%v: head of %d changes, want the first %d", k, len(got[k]), len(w))
		}
	}
	if len(spilled.plan.Changes) != headPerModel*4+n/70+1 {
		t.Errorf("head holds %d changes", len(spilled.plan.Changes))
	}
}

// A summary of a spilled plan stays as it was when changes are recorded after it.
func TestSpilledSummaryKeepsItsChanges(t *testing.T) {
	rep, _ := recordTest(t, 1000, 100, false)
	s := rep.summary(time.Now(), false)
	before := marshal(t, s.Plan)
	for i := range 600 {
		rep.record(testChange(i))
	}
	if after := marshal(t, s.Plan); after != before || s.Plan.Len() != 1000 {
		t.Errorf("summary changed: %d changes", s.Plan.Len())
	}
	if s2 := rep.summary(time.Now(), false); s2.Plan.Len() != 1600 {
		t.Errorf("second summary has %d changes, want 1600", s2.Plan.Len())
	}
}

// BenchmarkChangeListMemory records a 100,000-guest first run's 800,000 changes (creates
// of about 10 fields) and reports the heap the change list keeps per change: as structs
// (every change in Plan.Changes) and as a spilled plan's compressed log. PROXBOX_CHANGES
// sets another count.
func BenchmarkChangeListMemory(b *testing.B) {
	n := 800_000
	if v, err := strconv.Atoi(os.Getenv("PROXBOX_CHANGES")); err == nil && v > 0 {
		n = v
	}
	for _, bc := range []struct {
		name string
		at   int
	}{{"structs", math.MaxInt}, {"log", spillAt}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				rep, _ := recordTest(b, n, bc.at, false)
				s := rep.summary(time.Now(), false)
				runtime.GC()
				runtime.ReadMemStats(&m1)
				b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(n), "B/change")
				b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/1e6, "MB")
				runtime.KeepAlive(s)
				runtime.KeepAlive(rep)
			}
		})
	}
}

// A change that cannot be encoded to JSON is an error of the run; the plan keeps the others.
func TestSpilledPlanUnencodableChange(t *testing.T) {
	rep, _ := recordTest(t, 20, 5, false)
	rep.record(Change{Op: OpUpdate, Model: ModelVM, Key: "nan", Label: "VM nan", Fields: []FieldChange{{Field: "vcpus", New: math.NaN()}}})
	rep.record(testChange(20))
	s := rep.summary(time.Now(), false)
	if s.OK || len(s.Errors) == 0 || !strings.Contains(strings.Join(s.Errors, "\n"), "VM nan: change list: json: unsupported value: NaN") {
		t.Errorf("errors %q", s.Errors)
	}
	var w bytes.Buffer
	var all []Change
	if err := s.Plan.WriteChangesJSON(&w); err != nil || json.Unmarshal(w.Bytes(), &all) != nil || len(all) != 21 || s.Plan.Len() != 21 {
		t.Errorf("plan of %d changes (%d written, %v), want 21", s.Plan.Len(), len(all), err)
	}
}
