package sync

import (
	"slices"
	gosync "sync"
	"time"
)

// EventType names an event of the stream.
type EventType string

// Event types, in the order a run emits them.
const (
	EventRunStarted    EventType = "run_started"    // Endpoint set
	EventStageStarted  EventType = "stage_started"  // Stage set
	EventItem          EventType = "item"           // Change set: one create/update/orphan/delete/skip/failure
	EventWarning       EventType = "warning"        // Message (and Object) set
	EventError         EventType = "error"          // Message (and Object) set; the run goes on unless it says so
	EventStageFinished EventType = "stage_finished" // Stage and Counts (of that stage) set
	EventRunFinished   EventType = "run_finished"   // Summary set
)

// Event is one element of the stream the HTTP API (SSE) and the dashboard render.
type Event struct {
	Type     EventType          `json:"type"`
	Time     time.Time          `json:"time"`
	Endpoint string             `json:"endpoint,omitempty"`
	Stage    Stage              `json:"stage,omitempty"`
	Change   *Change            `json:"change,omitempty"`
	Object   string             `json:"object,omitempty"`
	Message  string             `json:"message,omitempty"`
	Counts   map[string]*Counts `json:"counts,omitempty"`
	Summary  *Summary           `json:"summary,omitempty"`
}

// Counts per object type.
type Counts struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Orphaned  int `json:"orphaned"`
	Deleted   int `json:"deleted"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
}

// Summary is the result of a run, in the JSON shape of `proxbox sync --once --json`.
type Summary struct {
	OK         bool  `json:"ok"`
	Partial    bool  `json:"partial,omitempty"` // some objects failed, the rest landed
	DryRun     bool  `json:"dry_run,omitempty"`
	DurationMS int64 `json:"duration_ms"`
	NetBox     struct {
		Requests int64 `json:"requests"`
		Writes   int64 `json:"writes"`
		// BatchSizes is the bulk write size the client settled on per model
		// API path, from NetBox's observed speed (Engine.BatchSizes).
		BatchSizes map[string]int `json:"batch_sizes,omitempty"`
	} `json:"netbox"`
	Proxmox struct {
		Requests int64 `json:"requests"`
	} `json:"proxmox"`
	Objects  map[string]*Counts `json:"objects"`
	Errors   []string           `json:"errors"`
	Warnings []string           `json:"warnings,omitempty"`
	// ErrorsOmitted and WarningsOmitted count the messages a bounded summary
	// (Bounded) leaves out of Errors and Warnings.
	ErrorsOmitted   int `json:"errors_omitted,omitempty"`
	WarningsOmitted int `json:"warnings_omitted,omitempty"`
	// Plan lists every change (not the unchanged objects); filled on dry runs
	// and always available to callers that want the detail. In a bounded
	// summary it lists some changes per model (Plan.Total, Plan.Omitted).
	Plan *Plan `json:"plan,omitempty"`
}

// TypeName is the summary's name for a NetBox model.
func TypeName(model string) string {
	if n, ok := typeNames[model]; ok {
		return n
	}
	return model
}

var typeNames = map[string]string{
	ModelTag: "tags", ModelCustomField: "custom_fields", ModelClusterType: "cluster_types", ModelCluster: "clusters",
	ModelSite: "sites", ModelMfr: "manufacturers", ModelDeviceType: "device_types", ModelRole: "device_roles",
	ModelPlatform: "platforms", ModelDevice: "devices", ModelInterface: "interfaces", ModelVLAN: "vlans",
	ModelVM: "virtual_machines", ModelVMInterface: "vm_interfaces", ModelDisk: "virtual_disks",
	ModelMAC: "mac_addresses", ModelIP: "ip_addresses",
}

// report collects counts, errors and the plan, and emits events. Safe for
// concurrent use.
type report struct {
	mu       gosync.Mutex
	emit     func(Event)
	now      func() time.Time
	endpoint string
	stage    Stage
	objects  map[string]*Counts
	stageCnt map[string]*Counts
	errors   []string
	warnings []string
	plan     Plan
	head     map[headKey]int // changes of each head kept in plan.Changes, once plan.log is set
}

func newReport(emit func(Event), now func() time.Time) *report {
	return &report{emit: emit, now: now, objects: map[string]*Counts{}, plan: Plan{Unchanged: map[string]int{}}}
}

func (r *report) send(e Event) {
	if r.emit == nil {
		return
	}
	e.Time = r.now()
	if e.Endpoint == "" {
		e.Endpoint = r.endpoint
	}
	r.emit(e)
}

func (r *report) startStage(s Stage) {
	r.mu.Lock()
	r.stage, r.stageCnt = s, map[string]*Counts{}
	r.mu.Unlock()
	r.send(Event{Type: EventStageStarted, Stage: s})
}

func (r *report) endStage() {
	r.mu.Lock()
	s, c := r.stage, r.stageCnt
	r.mu.Unlock()
	r.send(Event{Type: EventStageFinished, Stage: s, Counts: c})
}

func (r *report) count(model string, f func(*Counts)) {
	n := TypeName(model)
	for _, m := range []map[string]*Counts{r.objects, r.stageCnt} {
		if m == nil {
			continue
		}
		c := m[n]
		if c == nil {
			c = &Counts{}
			m[n] = c
		}
		f(c)
	}
}

func (r *report) record(c Change) {
	r.mu.Lock()
	c.Stage, c.Endpoint = r.stage, r.endpoint
	r.count(c.Model, func(k *Counts) {
		switch {
		case c.Error != "":
			k.Failed++
		case c.Op == OpCreate:
			k.Created++
		case c.Op == OpUpdate:
			k.Updated++
		case c.Op == OpUnchanged:
			k.Unchanged++
		case c.Op == OpOrphan:
			k.Orphaned++
		case c.Op == OpDelete:
			k.Deleted++
		case c.Op == OpSkip:
			k.Skipped++
		}
	})
	if c.Op == OpUnchanged {
		r.plan.Unchanged[c.Model]++
		r.mu.Unlock()
		return
	}
	if r.plan.log == nil && len(r.plan.Changes) < spillAt {
		r.plan.Changes = append(r.plan.Changes, c)
	} else {
		r.spill(c)
	}
	if c.Error != "" {
		r.errors = append(r.errors, c.Label+": "+c.Error)
	}
	r.mu.Unlock()
	if r.emit != nil {
		cc := c
		r.send(Event{Type: EventItem, Stage: c.Stage, Change: &cc, Object: c.Label})
	}
	if c.Error != "" {
		r.send(Event{Type: EventError, Stage: c.Stage, Object: c.Label, Message: c.Error})
	}
}

// spill records c in the plan's log, which holds every change once the plan has spillAt
// (its first call moves the changes recorded so far there), and keeps c in Changes too
// while its model has fewer than headPerModel changes of its kind (failed or not) there.
// A change that does not encode to JSON (which --json and the stored list could not write
// either) is an error of the run. r.mu is held.
func (r *report) spill(c Change) {
	if r.plan.log == nil {
		r.plan.log, r.head = newChangeLog(), map[headKey]int{}
		// A new array: a summary may share the old one.
		head := make([]Change, 0, min(len(r.plan.Changes), 2*headPerModel*len(typeNames)))
		for i := range r.plan.Changes {
			if old := &r.plan.Changes[i]; r.logged(old) && r.keepHead(old) {
				head = append(head, *old)
			}
		}
		r.plan.Changes = head
	}
	if r.logged(&c) && r.keepHead(&c) {
		r.plan.Changes = append(r.plan.Changes, c)
	}
}

// logged adds c to the plan's log and says whether it could.
func (r *report) logged(c *Change) bool {
	if err := r.plan.log.add(c); err != nil {
		r.errors = append(r.errors, joinObj(c.Label, "change list: "+err.Error()))
		return false
	}
	return true
}

// headKey is a model and whether its changes failed: a spilled plan keeps the first
// headPerModel changes of each.
type headKey struct {
	model  string
	failed bool
}

func (r *report) keepHead(c *Change) bool {
	k := headKey{c.Model, c.Error != ""}
	if r.head[k] >= headPerModel {
		return false
	}
	r.head[k]++
	return true
}

func (r *report) warn(object, msg string) {
	r.mu.Lock()
	r.warnings = append(r.warnings, joinObj(object, msg))
	st := r.stage
	r.mu.Unlock()
	r.send(Event{Type: EventWarning, Stage: st, Object: object, Message: msg})
}

func (r *report) fail(object, msg string) {
	r.mu.Lock()
	r.errors = append(r.errors, joinObj(object, msg))
	st := r.stage
	r.mu.Unlock()
	r.send(Event{Type: EventError, Stage: st, Object: object, Message: msg})
}

func joinObj(object, msg string) string {
	if object == "" {
		return msg
	}
	return object + ": " + msg
}

func (r *report) summary(start time.Time, dry bool) *Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &Summary{DryRun: dry, Objects: map[string]*Counts{}, Errors: append([]string{}, r.errors...),
		Warnings: append([]string(nil), r.warnings...)}
	failed := 0
	landed := 0
	for k, v := range r.objects {
		c := *v
		s.Objects[k] = &c
		failed += c.Failed
		landed += c.Created + c.Updated + c.Unchanged + c.Deleted + c.Orphaned
	}
	s.OK = len(s.Errors) == 0
	s.Partial = !s.OK && failed > 0 && landed > 0
	s.DurationMS = r.now().Sub(start).Milliseconds()
	// The summary shares the recorded changes, not a copy (a first run's list is most of
	// the memory at the end of a run); clipped, so a change recorded later is appended to a
	// new array and the summary's list stays as it is.
	r.plan.Changes = slices.Clip(r.plan.Changes)
	p := r.plan
	if p.log != nil {
		log, err := p.log.snapshot()
		if err != nil {
			s.Errors = append(s.Errors, "change list: "+err.Error())
			s.OK, s.Partial = false, false
		}
		p.log = log
	}
	s.Plan = &p
	return s
}
