package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/proxbox/proxbox/store"
)

type syncVM struct {
	Wired     bool
	Endpoints []endpointRow
	Stages    []string
	Recent    []runRow
}

func (h *Dashboard) syncPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vm := syncVM{Wired: h.d.Sync != nil}
	_, px, err := h.endpointRows(ctx)
	if err != nil {
		h.fail(w, r, "list endpoints", err)
		return
	}
	vm.Endpoints = px
	if vm.Wired {
		vm.Stages = h.d.Sync.Stages()
	}
	runs, err := h.d.Store.Runs(ctx, 5)
	if err != nil {
		h.fail(w, r, "list runs", err)
		return
	}
	for _, run := range runs {
		vm.Recent = append(vm.Recent, toRunRow(run, h.now()))
	}
	h.render(w, r, http.StatusOK, syncPage(h.pageCtx(r, h.tr(r, "nav.sync"), "sync"), vm))
}

func (h *Dashboard) syncStart(w http.ResponseWriter, r *http.Request) {
	if h.d.Sync == nil {
		h.flashTo(w, r, "/ui/sync", "bad", h.tr(r, "sync.notWired"))
		return
	}
	req := SyncRequest{Trigger: "dashboard", DryRun: r.PostForm.Get("dry_run") != ""}
	if v := r.PostForm.Get("endpoint"); v != "" && v != "all" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			h.flashTo(w, r, "/ui/sync", "bad", h.tr(r, "flash.chooseEndpoint"))
			return
		}
		req.EndpointID = id
	}
	if v := r.PostForm.Get("stage"); v != "" && v != "all" {
		if !slices.Contains(h.d.Sync.Stages(), v) {
			h.flashTo(w, r, "/ui/sync", "bad", h.tr(r, "flash.chooseStage"))
			return
		}
		req.Stage = v
	}
	id, err := h.d.Sync.Start(context.WithoutCancel(r.Context()), req)
	if err != nil {
		h.log.Warn("dashboard sync start refused", "err", err)
		h.flashTo(w, r, "/ui/sync", "bad", h.trf(r, "flash.syncNotStarted", err.Error()))
		return
	}
	h.log.Info("sync started from the dashboard", "run_id", id, "endpoint_id", req.EndpointID, "stage", req.Stage, "dry_run", req.DryRun)
	http.Redirect(w, r, "/ui/sync/"+i64(id), http.StatusSeeOther)
}

func (h *Dashboard) syncCancel(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || h.d.Sync == nil {
		http.NotFound(w, r)
		return
	}
	target := "/ui/sync/" + i64(id)
	if err := h.d.Sync.Cancel(id); err != nil {
		h.flashTo(w, r, target, "bad", h.trf(r, "flash.cancelFailed", err.Error()))
		return
	}
	h.log.Info("sync cancel asked from the dashboard", "run_id", id)
	h.flashTo(w, r, target, "ok", h.tr(r, "flash.cancelRequested"))
}

// runVM is the live view of one run.
type runVM struct {
	ID       int64
	Live     bool
	CanAct   bool
	Status   string
	DryRun   bool
	Trigger  string
	Started  time.Time
	Duration time.Duration
	Stages   []stageView
	Current  string
	Warnings []string
	Errors   []string
	Plan     []PlanChange
}

type stageView struct {
	Name   string
	State  string // running | done | failed
	Counts StageCounts
}

const keepNotes = 20

func (v *runVM) stage(name string) *stageView {
	for i := range v.Stages {
		if v.Stages[i].Name == name {
			return &v.Stages[i]
		}
	}
	v.Stages = append(v.Stages, stageView{Name: name, State: "running"})
	return &v.Stages[len(v.Stages)-1]
}

func keepLast(xs []string, x string) []string {
	xs = append(xs, x)
	if len(xs) > keepNotes {
		xs = xs[len(xs)-keepNotes:]
	}
	return xs
}

// apply folds one event into the view.
func (v *runVM) apply(ev SyncEvent) {
	prefix := ""
	if ev.Endpoint != "" {
		prefix = ev.Endpoint + ": "
	}
	switch ev.Type {
	case EventStageStarted:
		st := v.stage(ev.Stage)
		st.State, st.Counts = "running", ev.Counts
	case EventItem:
		if ev.Stage != "" {
			v.stage(ev.Stage).Counts = ev.Counts
		}
		v.Current = prefix + ev.Object
		if ev.Message != "" {
			v.Errors = keepLast(v.Errors, prefix+ev.Object+": "+ev.Message)
		}
	case EventWarning:
		v.Warnings = keepLast(v.Warnings, prefix+ev.Message)
	case EventError:
		v.Errors = keepLast(v.Errors, prefix+ev.Message)
	case EventStageFinished:
		st := v.stage(ev.Stage)
		st.Counts, st.State = ev.Counts, "done"
		if ev.Counts.Failed > 0 {
			st.State = "failed"
		}
	case EventRunFinished:
		v.Live, v.Current, v.Status = false, "", ev.Status
		if len(ev.Plan) > 0 {
			v.Plan = ev.Plan
		}
	}
}

// runView reads a run from the store.
func (h *Dashboard) runView(ctx context.Context, id int64) (runVM, error) {
	run, err := h.d.Store.Run(ctx, id)
	if err != nil {
		return runVM{}, err
	}
	row := toRunRow(run, h.now())
	v := runVM{ID: id, Status: run.Status, DryRun: run.DryRun, Trigger: run.Trigger, Started: run.StartedAt, Duration: row.Duration,
		Live: row.Running && h.d.Sync != nil, CanAct: h.d.Sync != nil, Errors: row.Errors}
	for _, st := range row.Stages {
		state := "done"
		if !st.OK || st.Counts.Failed > 0 {
			state = "failed"
		}
		v.Stages = append(v.Stages, stageView{Name: st.Name, State: state, Counts: st.Counts})
		v.Errors = append(v.Errors, st.Errors...)
	}
	v.Plan = planFromSummary(run.Summary)
	return v, nil
}

// planFromSummary reads summary.plan.changes, which the engine records for
// dry runs.
func planFromSummary(raw json.RawMessage) []PlanChange {
	var s struct {
		Plan struct {
			Changes []struct {
				Op     string `json:"op"`
				Model  string `json:"model"`
				Label  string `json:"label"`
				Reason string `json:"reason"`
				Fields []struct {
					Field string `json:"field"`
					Old   any    `json:"old"`
					New   any    `json:"new"`
				} `json:"fields"`
			} `json:"changes"`
		} `json:"plan"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return nil
	}
	var out []PlanChange
	for _, c := range s.Plan.Changes {
		pc := PlanChange{Op: c.Op, Model: c.Model, Label: c.Label, Reason: c.Reason}
		for _, f := range c.Fields {
			pc.Fields = append(pc.Fields, FieldChange{Field: f.Field, Old: showValue(f.Old), New: showValue(f.New)})
		}
		out = append(out, pc)
	}
	return out
}

func showValue(v any) string {
	if v == nil {
		return "∅"
	}
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func (h *Dashboard) runPage(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	v, err := h.runView(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		h.render(w, r, http.StatusNotFound, errorPage(h.pageCtx(r, h.tr(r, "error.notFound"), "sync"), h.tr(r, "run.notFound"), h.trf(r, "run.notFoundText", id)))
		return
	}
	if err != nil {
		h.fail(w, r, "read run", err)
		return
	}
	h.render(w, r, http.StatusOK, runPage(h.pageCtx(r, h.trf(r, "run.name", id), "sync"), v))
}

// runStream sends the run's progress panel, re-rendered after each batch of
// events, as SSE "progress" events, and "done" when the run has finished.
func (h *Dashboard) runStream(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || h.d.Sync == nil {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	v, err := h.runView(ctx, id)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ch, stop := h.d.Sync.Events(id)
	if stop != nil {
		defer stop()
	}
	sse := startSSE(w)
	finish := func() {
		if fin, err := h.runView(ctx, id); err == nil {
			// The engine reports the end just before the store records
			// it: keep the status of run_finished then.
			if fin.Status == "running" && v.Status != "running" && v.Status != "" {
				fin.Status = v.Status
			}
			if len(fin.Plan) == 0 {
				fin.Plan = v.Plan
			}
			fin.Warnings = v.Warnings
			v = fin
		}
		v.Live = false
		_ = sse.component(ctx, "progress", runProgress(v))
		_ = sse.send("done", "finished")
	}
	if ch == nil {
		finish()
		return
	}
	if err := sse.component(ctx, "progress", runProgress(v)); err != nil {
		return
	}
	tick := time.NewTicker(keepalive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := sse.comment(); err != nil {
				return
			}
		case ev, ok := <-ch:
			if !ok {
				finish()
				return
			}
			v.apply(ev)
			ended := ev.Type == EventRunFinished
			// Fold whatever else is already queued into one render.
		drain:
			for !ended {
				select {
				case ev, ok = <-ch:
					if !ok {
						ended = true
						break drain
					}
					v.apply(ev)
					ended = ev.Type == EventRunFinished
				default:
					break drain
				}
			}
			if ended {
				finish()
				return
			}
			if err := sse.component(ctx, "progress", runProgress(v)); err != nil {
				return
			}
		}
	}
}

// ---- history ----

type historyVM struct {
	Runs  []runRow
	Chart barChart
}

func (h *Dashboard) historyPage(w http.ResponseWriter, r *http.Request) {
	runs, err := h.d.Store.Runs(r.Context(), 50)
	if err != nil {
		h.fail(w, r, "list runs", err)
		return
	}
	var vm historyVM
	for _, run := range runs {
		vm.Runs = append(vm.Runs, toRunRow(run, h.now()))
	}
	var finished []runRow
	for _, row := range vm.Runs {
		if !row.Running && len(finished) < 30 {
			finished = append(finished, row)
		}
	}
	vm.Chart = runsChart(finished)
	h.render(w, r, http.StatusOK, historyPage(h.pageCtx(r, h.tr(r, "nav.history"), "history"), vm))
}

func opClass(op string) string {
	switch strings.ToLower(op) {
	case "create", "update", "delete", "orphan":
		return "op-" + strings.ToLower(op)
	}
	return ""
}

func opSymbol(op string) string {
	switch op {
	case "create":
		return "+"
	case "update":
		return "~"
	case "delete":
		return "-"
	case "orphan":
		return "!"
	}
	return "?"
}

// planText renders one change like the CLI's dry run, for the diff block.
func planText(c PlanChange) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s (%s)", opSymbol(c.Op), c.Op, c.Label, c.Model)
	if c.Reason != "" {
		fmt.Fprintf(&b, ": %s", c.Reason)
	}
	for _, f := range c.Fields {
		fmt.Fprintf(&b, "\n    %s: %s -> %s", f.Field, f.Old, f.New)
	}
	return b.String()
}

func progressMax(c StageCounts) string {
	return itoa(max(c.Total, c.Done(), 1))
}
