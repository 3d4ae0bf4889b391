package ui

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/proxbox/proxbox/store"
)

// The finished run's page is a summary: a matrix of stages x endpoints with
// the counts the engine recorded per stage, the warnings and errors, and
// the changes grouped by kind and object, each with its field diff. This
// file builds that view from what the store holds (store.Run: its stage
// results and the summary JSON, whose plan lists every change).

// cellCounts are the counts of one stage of one endpoint. Orphan marks are
// PATCHes and count as updates (Orphaned keeps them apart for the title).
type cellCounts struct {
	Created, Updated, Orphaned, Deleted, Failed, Unchanged, Skipped int
}

func (c cellCounts) changed() int { return c.Created + c.Updated + c.Deleted + c.Failed }

func (c *cellCounts) add(o cellCounts) {
	c.Created += o.Created
	c.Updated += o.Updated
	c.Orphaned += o.Orphaned
	c.Deleted += o.Deleted
	c.Failed += o.Failed
	c.Unchanged += o.Unchanged
	c.Skipped += o.Skipped
}

// rawCounts is the engine's Counts as stored (per object type).
type rawCounts struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Orphaned  int `json:"orphaned"`
	Deleted   int `json:"deleted"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
}

func (r rawCounts) cell() cellCounts {
	return cellCounts{Created: r.Created, Updated: r.Updated + r.Orphaned, Orphaned: r.Orphaned, Deleted: r.Deleted,
		Failed: r.Failed, Unchanged: r.Unchanged, Skipped: r.Skipped}
}

// cellOf sums a stage result's per-type counts.
func cellOf(raw json.RawMessage) cellCounts {
	var m map[string]rawCounts
	var c cellCounts
	if json.Unmarshal(raw, &m) != nil {
		// counts stored flat, not per type
		var flat rawCounts
		if json.Unmarshal(raw, &flat) == nil {
			return flat.cell()
		}
		return c
	}
	for _, v := range m {
		c.add(v.cell())
	}
	return c
}

// splitStage splits a stored stage name "endpoint: stage" (stage names
// have no ": "; a run of one endpoint may store the bare stage).
func splitStage(name string) (endpoint, stage string) {
	if i := strings.LastIndex(name, ": "); i >= 0 {
		return name[:i], name[i+2:]
	}
	return "", name
}

type matrixCell struct {
	Endpoint string
	Counts   cellCounts
	Href     string
	Failed   bool // the stage did not end OK
	Ran      bool
}

type matrixRow struct {
	Stage string
	Cells []matrixCell
	Total cellCounts
}

type runMatrix struct {
	Endpoints []string
	Rows      []matrixRow
	Totals    []cellCounts // per endpoint
	Total     cellCounts
}

// buildMatrix lays out the stage results: stages in run order (order
// lists the known ones; others keep the order they ran in), endpoints in
// the order they ran.
func buildMatrix(stages []store.StageResult, order []string, runID int64) runMatrix {
	var m runMatrix
	type key struct{ ep, st string }
	cells := map[key]matrixCell{}
	var names []string
	for _, sr := range stages {
		ep, st := splitStage(sr.Stage)
		if !slices.Contains(m.Endpoints, ep) {
			m.Endpoints = append(m.Endpoints, ep)
		}
		if !slices.Contains(names, st) {
			names = append(names, st)
		}
		c := cells[key{ep, st}]
		c.Counts.add(cellOf(sr.Counts))
		c.Failed = c.Failed || !sr.OK
		c.Ran = true
		cells[key{ep, st}] = c
	}
	rank := func(s string) int {
		if s == "prelude" {
			return -1
		}
		if i := slices.Index(order, s); i >= 0 {
			return i
		}
		return len(order) + slices.Index(names, s)
	}
	slices.SortStableFunc(names, func(a, b string) int { return rank(a) - rank(b) })
	m.Totals = make([]cellCounts, len(m.Endpoints))
	for _, st := range names {
		row := matrixRow{Stage: st}
		for i, ep := range m.Endpoints {
			c := cells[key{ep, st}]
			c.Endpoint = ep
			c.Href = changesHref(runID, changeFilter{Endpoint: ep, Stage: st})
			row.Cells = append(row.Cells, c)
			row.Total.add(c.Counts)
			m.Totals[i].add(c.Counts)
		}
		m.Total.add(row.Total)
		m.Rows = append(m.Rows, row)
	}
	return m
}

// changeFilter is the run page's filter of its changes (query parameters
// op, q, endpoint, stage).
type changeFilter struct {
	Op, Q, Endpoint, Stage string
}

func (f changeFilter) active() bool {
	return f.Op != "" || f.Q != "" || f.Endpoint != "" || f.Stage != ""
}

// filterOps are the actions the filter offers ("failed" matches any failed change).
var filterOps = []string{"create", "update", "orphan", "delete", "failed"}

func filterFrom(q url.Values) changeFilter {
	f := changeFilter{Op: q.Get("op"), Q: strings.TrimSpace(q.Get("q")), Endpoint: q.Get("endpoint"), Stage: q.Get("stage")}
	if !slices.Contains(filterOps, f.Op) {
		f.Op = ""
	}
	if len(f.Q) > 200 {
		f.Q = f.Q[:200]
	}
	return f
}

func changesHref(runID int64, f changeFilter) string {
	v := url.Values{}
	for k, x := range map[string]string{"op": f.Op, "q": f.Q, "endpoint": f.Endpoint, "stage": f.Stage} {
		if x != "" {
			v.Set(k, x)
		}
	}
	u := "/ui/sync/" + strconv.FormatInt(runID, 10)
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	return u + "#changes"
}

// changeView is one change of the run as the page shows it.
type changeView struct {
	PlanChange
	Kind   string
	Link   string // the object in NetBox; empty when unknown
	Search string // lower-case text the filter matches
	Hidden bool   // filtered out (rendered hidden, so the page's script can show it again)
}

func (c changeView) opKey() string {
	if c.Error != "" {
		return "failed"
	}
	return c.Op
}

func (c changeView) matches(f changeFilter) bool {
	if f.Op != "" && c.opKey() != f.Op {
		return false
	}
	if f.Stage != "" && c.Stage != f.Stage {
		return false
	}
	if f.Endpoint != "" && c.Endpoint != "" && c.Endpoint != f.Endpoint {
		return false
	}
	return f.Q == "" || strings.Contains(c.Search, strings.ToLower(f.Q))
}

// changeKind groups the changes of one NetBox model.
type changeKind struct {
	Kind    string
	Model   string
	Counts  map[string]int // by opKey
	Changes []changeView
	Shown   int // not hidden
	More    int // shown by the filter beyond maxPerKind, not rendered
	hidden  int // hidden by the filter, rendered
}

// maxPerKind bounds the changes rendered per kind; the filter narrows the rest.
const maxPerKind = 500

// kindName names a NetBox model by its path's last segment:
// "virtualization/virtual-machines" -> "virtual machines".
func kindName(model string) string {
	switch model { // two models end alike
	case "dcim/interfaces":
		return "node interfaces"
	case "virtualization/interfaces":
		return "VM interfaces"
	}
	if i := strings.LastIndex(model, "/"); i >= 0 {
		model = model[i+1:]
	}
	return strings.ReplaceAll(model, "-", " ")
}

// objectLink is the object's page in NetBox: the UI path mirrors the API
// path (/api/dcim/devices/7/ -> /dcim/devices/7/, plugin models under
// /plugins/...).
func objectLink(base, model string, id int64) string {
	if base == "" || id <= 0 || model == "" || strings.Contains(model, "..") {
		return ""
	}
	return strings.TrimRight(base, "/") + "/" + strings.Trim(model, "/") + "/" + strconv.FormatInt(id, 10) + "/"
}

// changeGroups builds the run page's changes one change at a time (runs of 100,000
// guests record some 800,000): the kinds in first-seen order (run order) with their
// counts, per kind at most maxPerKind changes the filter shows and as many it hides
// (kept for the page's instant filter, so hidden ones never crowd out a match), and at
// most maxPerKind skipped objects. A change's field diff and search text are built only
// for the changes kept, and for those the rest of the filter shows when it searches text.
type changeGroups struct {
	f         changeFilter
	scope     changeFilter // f without its text
	netboxURL string
	idx       map[string]int    // model -> kinds index
	names     map[string]string // model -> kindName
	kinds     []changeKind
	skipped   []changeView
	nSkipped  int // skipped objects, listed or not
	changes   int // changes (not skipped)
}

func newChangeGroups(f changeFilter, netboxURL string) *changeGroups {
	scope := f
	scope.Q = ""
	return &changeGroups{f: f, scope: scope, netboxURL: netboxURL, idx: map[string]int{}, names: map[string]string{}}
}

// add takes the next change of the run; fields returns its field diff (pc.Fields is
// ignored) and is called at most once.
func (g *changeGroups) add(pc PlanChange, fields func() []FieldChange) {
	kind, ok := g.names[pc.Model]
	if !ok {
		kind = kindName(pc.Model)
		g.names[pc.Model] = kind
	}
	c := changeView{PlanChange: pc, Kind: kind}
	built := false
	build := func() {
		if !built {
			built = true
			c.Fields = fields()
			c.Link = objectLink(g.netboxURL, pc.Model, pc.ID)
			c.Search = searchText(c)
		}
	}
	if pc.Op == "skip" && pc.Error == "" {
		if g.nSkipped++; len(g.skipped) < maxPerKind {
			build()
			g.skipped = append(g.skipped, c)
		}
		return
	}
	g.changes++
	if g.f.Q != "" && c.matches(g.scope) { // the text decides: search the fields too
		build()
	}
	c.Hidden = !c.matches(g.f)
	i, ok := g.idx[pc.Model]
	if !ok {
		i = len(g.kinds)
		g.idx[pc.Model] = i
		g.kinds = append(g.kinds, changeKind{Kind: kind, Model: pc.Model, Counts: map[string]int{}})
	}
	k := &g.kinds[i]
	k.Counts[c.opKey()]++
	if c.Hidden {
		if k.hidden < maxPerKind {
			k.hidden++
			build()
			k.Changes = append(k.Changes, c)
		}
		return
	}
	if k.Shown++; k.Shown > maxPerKind {
		k.More++
		return
	}
	build()
	k.Changes = append(k.Changes, c)
}

// searchText is the lower-case text of a change the filter's text matches.
func searchText(c changeView) string {
	var sb strings.Builder
	for _, s := range []string{c.Label, c.Kind, c.Endpoint, c.Stage, c.Reason, c.Error} {
		sb.WriteString(s)
		sb.WriteByte(' ')
	}
	for _, fc := range c.Fields {
		for _, s := range []string{fc.Field, fc.Old, fc.New} {
			sb.WriteString(s)
			sb.WriteByte(' ')
		}
	}
	return strings.ToLower(sb.String())
}

// kindCounts renders a kind's counts in the filter's op order.
func kindCounts(k changeKind) []opCount {
	var out []opCount
	for _, op := range filterOps {
		if n := k.Counts[op]; n > 0 {
			out = append(out, opCount{op, n})
		}
	}
	return out
}

type opCount struct {
	Op string
	N  int
}

// summaryTotals reads the run summary's per-type counts (the engine's
// totals, independent of the stage results the matrix is built from).
func summaryTotals(raw json.RawMessage) (cellCounts, bool) {
	var s struct {
		Objects map[string]rawCounts `json:"objects"`
	}
	var c cellCounts
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil || s.Objects == nil {
		return c, false
	}
	for _, v := range s.Objects {
		c.add(v.cell())
	}
	return c, true
}

// dedupe keeps the first of equal strings, in order.
func dedupe(xs []string) []string {
	var out []string
	for _, x := range xs {
		if x != "" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// endpointName names a matrix column; runs of one endpoint may store bare
// stage names.
func endpointName(ctx context.Context, ep string) string {
	if ep == "" {
		return t(ctx, "run.theEndpoint")
	}
	return ep
}

func countsTitle(ctx context.Context, c cellCounts) string {
	return tf(ctx, "run.countsTitle", c.Created, c.Updated, c.Orphaned, c.Deleted, c.Failed, c.Unchanged)
}

// opText names a filter action in the page's language.
func opText(ctx context.Context, op string) string { return known(ctx, "op.", op) }

// whereText is " · endpoint · stage" of a change, as far as known.
func whereText(c PlanChange) string {
	var parts []string
	for _, s := range []string{c.Endpoint, c.Stage} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " · " + strings.Join(parts, " · ")
}

func noneShown(kinds []changeKind) bool {
	for _, k := range kinds {
		if k.Shown > 0 {
			return false
		}
	}
	return true
}
