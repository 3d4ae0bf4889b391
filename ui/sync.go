package ui

import (
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

// runVM is one run's page: the live progress while it runs, a summary
// once it has finished.
type runVM struct {
	ID       int64
	Live     bool
	CanAct   bool
	Status   string
	DryRun   bool
	Trigger  string
	Started  time.Time
	Duration time.Duration
	Requests int64 // NetBox requests
	Writes   int64 // NetBox writes
	Stages   []stageView
	Current  string
	Warnings []string
	Errors   []string

	// Finished runs.
	Matrix    runMatrix
	Totals    cellCounts // the summary's own totals
	HasTotals bool
	Filter    changeFilter
	Kinds     []changeKind
	Skipped   []changeView // the first maxPerKind skipped objects
	SkippedN  int          // skipped objects, listed or not
	Changes   int          // changes (not skipped)
	NetBoxURL string
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
	}
}

// runView reads a run from the store; order is the engine's stage order.
func (h *Dashboard) runView(ctx context.Context, id int64, f changeFilter) (runVM, error) {
	run, err := h.d.Store.Run(ctx, id)
	if err != nil {
		return runVM{}, err
	}
	row := toRunRow(run, h.now())
	v := runVM{ID: id, Status: run.Status, DryRun: run.DryRun, Trigger: run.Trigger, Started: run.StartedAt, Duration: row.Duration,
		Live: row.Running && h.d.Sync != nil, CanAct: h.d.Sync != nil, Errors: row.Errors, Requests: row.NetBoxRequests, Writes: row.Writes, Filter: f}
	for _, st := range row.Stages {
		state := "done"
		if !st.OK || st.Counts.Failed > 0 {
			state = "failed"
		}
		v.Stages = append(v.Stages, stageView{Name: st.Name, State: state, Counts: st.Counts})
		v.Errors = append(v.Errors, st.Errors...)
	}
	v.Errors = dedupe(v.Errors)
	plan, warnings, omitted := planFromSummary(run.Summary)
	v.Warnings = dedupe(warnings)
	if v.Live {
		return v, nil
	}
	var order []string
	if h.d.Sync != nil {
		order = h.d.Sync.Stages()
	}
	v.Matrix = buildMatrix(run.Stages, order, id)
	v.Totals, v.HasTotals = summaryTotals(run.Summary)
	if h.d.NetBoxURL != nil {
		v.NetBoxURL = h.d.NetBoxURL(ctx)
	}
	var g *changeGroups
	if omitted { // the summary lists some changes per kind: the page reads them all
		g, err = h.storedChanges(ctx, id, f, v.NetBoxURL)
		if err != nil {
			return runVM{}, err
		}
	}
	if g == nil {
		g = newChangeGroups(f, v.NetBoxURL)
		for _, pc := range plan {
			g.add(pc, func() []FieldChange { return pc.Fields })
		}
	}
	v.Kinds, v.Skipped, v.SkippedN, v.Changes = g.kinds, g.skipped, g.nSkipped, g.changes
	return v, nil
}

// storedChanges groups the full change list stored apart for a run whose summary is
// bounded, reading it one change at a time; nil when there is none (or it does not
// decode: the summary's changes are shown then).
func (h *Dashboard) storedChanges(ctx context.Context, id int64, f changeFilter, netboxURL string) (*changeGroups, error) {
	g := newChangeGroups(f, netboxURL)
	err := store.EachRunChange(ctx, h.d.Store, id, func(c *storedChange) error {
		g.add(c.plan(), c.fields)
		return nil
	})
	switch {
	case err == nil:
		return g, nil
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case ctx.Err() != nil:
		return nil, err
	}
	h.log.Warn("run page: the stored change list does not decode; showing the summary's", "run_id", id, "err", err)
	return nil, nil
}

// storedChange is one change as a run summary's plan and the stored full change list
// (store.SaveRunChanges) hold it. Its field diff stays JSON until asked for (fields): the
// run page shows the diff of only some changes.
type storedChange struct {
	Op       string          `json:"op"`
	Model    string          `json:"model"`
	Label    string          `json:"label"`
	Endpoint string          `json:"endpoint"`
	Stage    string          `json:"stage"`
	ID       int64           `json:"id"`
	Reason   string          `json:"reason"`
	Error    string          `json:"error"`
	Fields   json.RawMessage `json:"fields"`
}

// plan is the change without its field diff.
func (c *storedChange) plan() PlanChange {
	return PlanChange{Op: c.Op, Model: c.Model, Label: c.Label, Endpoint: c.Endpoint, Stage: c.Stage, ID: c.ID, Reason: c.Reason, Error: c.Error}
}

// fields is the change's field diff as the page shows it (values as JSON, strings quoted,
// null as ∅); nil when it has none or it does not decode.
func (c *storedChange) fields() []FieldChange {
	var fs []struct {
		Field string `json:"field"`
		Old   any    `json:"old"`
		New   any    `json:"new"`
	}
	if len(c.Fields) == 0 || json.Unmarshal(c.Fields, &fs) != nil {
		return nil
	}
	if len(fs) == 0 {
		return nil
	}
	out := make([]FieldChange, 0, len(fs))
	for _, f := range fs {
		out = append(out, FieldChange{Field: f.Field, Old: showValue(f.Old), New: showValue(f.New)})
	}
	return out
}

// planFromSummary reads summary.plan.changes (every change the run made
// or, dry, would make, or the first ones of each kind when the summary was
// bounded: omitted tells) and summary.warnings.
func planFromSummary(raw json.RawMessage) (plan []PlanChange, warnings []string, omitted bool) {
	var s struct {
		Warnings []string `json:"warnings"`
		Plan     struct {
			Changes []storedChange `json:"changes"`
			Omitted map[string]int `json:"omitted"`
		} `json:"plan"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return nil, nil, false
	}
	for i := range s.Plan.Changes {
		pc := s.Plan.Changes[i].plan()
		pc.Fields = s.Plan.Changes[i].fields()
		plan = append(plan, pc)
	}
	return plan, s.Warnings, len(s.Plan.Omitted) > 0
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
	v, err := h.runView(r.Context(), id, filterFrom(r.URL.Query()))
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
	v, err := h.runView(ctx, id, changeFilter{})
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
		// The engine reports the end just before the runner records it in
		// the store: give the store a moment to catch up.
		for i := 0; i < 50; i++ {
			if run, err := h.d.Store.Run(ctx, id); err != nil || !run.FinishedAt.IsZero() {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		if fin, err := h.runView(ctx, id, changeFilter{}); err == nil {
			// The engine reports the end just before the store records
			// it: keep the status of run_finished then.
			if fin.Status == "running" && v.Status != "running" && v.Status != "" {
				fin.Status = v.Status
			}
			if len(fin.Warnings) == 0 {
				fin.Warnings = v.Warnings
			}
			v = fin
		}
		v.Live = false
		if v.Matrix.Rows == nil && len(v.Stages) > 0 {
			// still not recorded: the live view, ended
			_ = sse.component(ctx, "progress", runProgress(v))
			_ = sse.send("done", "finished")
			return
		}
		_ = sse.component(ctx, "progress", runBody(v))
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
	Chart timeChart
}

// historyChart plots the finished runs (oldest first) on a time axis:
// duration, NetBox requests and NetBox writes, one panel each.
func (h *Dashboard) historyChart(r *http.Request, rows []runRow) timeChart {
	var times []time.Time
	var durs, reqs, writes []float64
	var tips, links []string
	var faint []bool
	for i := len(rows) - 1; i >= 0; i-- {
		row := rows[i]
		times = append(times, row.Started)
		durs = append(durs, row.Duration.Seconds())
		reqs = append(reqs, float64(row.NetBoxRequests))
		writes = append(writes, float64(row.Writes))
		tip := h.trf(r, "history.pointTitle", row.ID, when(row.Started), byText(r.Context(), row.Trigger), statusText(r.Context(), row.Status),
			dur(row.Duration), row.NetBoxRequests, row.Writes)
		if row.DryRun {
			tip += " (" + h.tr(r, "run.dryRun") + ")"
		}
		tips = append(tips, tip)
		links = append(links, "/ui/sync/"+i64(row.ID))
		faint = append(faint, row.DryRun)
	}
	return newTimeChart(h.tr(r, "history.chartLabel"), h.tr(r, "history.timeAxis"), times, []chartSeries{
		{Title: h.tr(r, "chart.duration"), Values: durs, Format: durationLabel},
		{Title: h.tr(r, "chart.requests"), Values: reqs, Format: countLabel, Count: true},
		{Title: h.tr(r, "chart.writes"), Values: writes, Format: countLabel, Count: true},
	}, tips, links, faint)
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
	vm.Chart = h.historyChart(r, finished)
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

func progressMax(c StageCounts) string {
	return itoa(max(c.Total, c.Done(), 1))
}
