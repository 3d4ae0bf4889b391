package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/proxbox/proxbox/store"
)

// pageCtx is what the layout needs on every page.
type pageCtx struct {
	Lang     Lang
	Path     string // the page's own path, for the language switch
	Title    string
	Active   string // nav entry
	CSRF     string
	SignedIn bool
	Flash    flash
	Version  string
	Commit   string
}

// navItem is an entry of the main navigation; its label is the catalogue
// text "nav."+Key.
type navItem struct{ Key, Href string }

var nav = []navItem{
	{"overview", "/ui/"},
	{"sync", "/ui/sync"},
	{"history", "/ui/history"},
	{"cache", "/ui/cache"},
	{"endpoints", "/ui/endpoints"},
	{"keys", "/ui/keys"},
	{"tls", "/ui/tls"},
	{"logs", "/ui/logs"},
}

func (h *Dashboard) pageCtx(r *http.Request, title, active string) pageCtx {
	p := pageCtx{Lang: langFrom(r.Context()), Path: r.URL.Path, Title: title, Active: active, Version: h.d.Version, Commit: h.d.Commit}
	if r.Method == http.MethodGet && r.URL.RawQuery != "" {
		p.Path = r.URL.RequestURI()
	}
	if ss := sessionFrom(r.Context()); ss.id != "" {
		p.SignedIn, p.CSRF = true, ss.csrf
		p.Flash = h.sessions.takeFlash(ss.id)
	}
	return p
}

// ---- formatting helpers used by the templates ----

func itoa(n int) string     { return strconv.Itoa(n) }
func i64(n int64) string    { return strconv.FormatInt(n, 10) }
func u64(n uint64) string   { return strconv.FormatUint(n, 10) }
func pct(f float64) string  { return strconv.FormatFloat(f, 'f', 1, 64) + " %" }
func secs(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	default:
		return d.Round(time.Second).String()
	}
}

func bytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func setUnset(ctx context.Context, set bool) string {
	if set {
		return t(ctx, "secret.set")
	}
	return t(ctx, "secret.unset")
}

// triggerText, statusText and stateText name a run's trigger, a run's
// status and a stage's state in the page's language (unknown values as
// they are).
func triggerText(ctx context.Context, trigger string) string { return known(ctx, "trigger.", trigger) }

func statusText(ctx context.Context, status string) string { return known(ctx, "status.", status) }

func stateText(ctx context.Context, state string) string { return known(ctx, "state.", state) }

func known(ctx context.Context, prefix, v string) string {
	if _, ok := msgEN[prefix+v]; ok {
		return t(ctx, prefix+v)
	}
	return v
}

func hostPort(domain, ip string, port int) string {
	host := domain
	if host == "" {
		host = ip
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

// ---- runs ----

// runRow is one run of the History page.
type runRow struct {
	ID       int64
	Started  time.Time
	Duration time.Duration
	Trigger  string
	Scope    string
	Status   string
	DryRun   bool
	Requests int64
	Writes   int64
	Errors   []string
	Stages   []stageRow
	Running  bool
}

type stageRow struct {
	Name     string
	Duration time.Duration
	OK       bool
	Counts   StageCounts
	Errors   []string
}

func toRunRow(r store.Run, now time.Time) runRow {
	row := runRow{ID: r.ID, Started: r.StartedAt, Trigger: r.Trigger, Scope: r.Scope, Status: r.Status, DryRun: r.DryRun, Running: r.FinishedAt.IsZero()}
	if row.Running {
		row.Duration = now.Sub(r.StartedAt)
	} else {
		row.Duration = r.FinishedAt.Sub(r.StartedAt)
	}
	var sum struct {
		NetBox struct {
			Requests int64 `json:"requests"`
			Writes   int64 `json:"writes"`
		} `json:"netbox"`
		Proxmox struct {
			Requests int64 `json:"requests"`
		} `json:"proxmox"`
		Errors []json.RawMessage `json:"errors"`
	}
	if len(r.Summary) > 0 && json.Unmarshal(r.Summary, &sum) == nil {
		row.Requests = sum.NetBox.Requests + sum.Proxmox.Requests
		row.Writes = sum.NetBox.Writes
		for _, e := range sum.Errors {
			row.Errors = append(row.Errors, errorText(e))
		}
	}
	if r.Error != "" {
		row.Errors = append([]string{r.Error}, row.Errors...)
	}
	for _, st := range r.Stages {
		sr := stageRow{Name: st.Stage, Duration: st.FinishedAt.Sub(st.StartedAt), OK: st.OK, Counts: sumCounts(st.Counts)}
		var errs []json.RawMessage
		if json.Unmarshal(st.Errors, &errs) == nil {
			for _, e := range errs {
				sr.Errors = append(sr.Errors, errorText(e))
			}
		}
		row.Stages = append(row.Stages, sr)
	}
	return row
}

// errorText renders an error recorded as a string or as an object with a
// message (and maybe NetBox's reason).
func errorText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o map[string]any
	if json.Unmarshal(raw, &o) == nil {
		var parts []string
		for _, k := range []string{"object", "message", "error", "reason", "detail"} {
			if v, ok := o[k].(string); ok && v != "" {
				parts = append(parts, v)
			}
		}
		if len(parts) > 0 {
			return strings.Join(parts, ": ")
		}
	}
	return string(raw)
}

// sumCounts reads stage counts stored either flat ({"created": 1, ...}) or
// per object type ({"vms": {"created": 1, ...}, ...}).
func sumCounts(raw json.RawMessage) StageCounts {
	var c StageCounts
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return c
	}
	add := func(m map[string]json.RawMessage) bool {
		found := false
		for k, v := range m {
			var n int
			if json.Unmarshal(v, &n) != nil {
				continue
			}
			switch k {
			case "created":
				c.Created += n
			case "updated":
				c.Updated += n
			case "unchanged":
				c.Unchanged += n
			case "failed":
				c.Failed += n
			case "total":
				c.Total += n
			default:
				continue
			}
			found = true
		}
		return found
	}
	if add(m) {
		return c
	}
	for _, v := range m {
		var inner map[string]json.RawMessage
		if json.Unmarshal(v, &inner) == nil {
			add(inner)
		}
	}
	return c
}

// ---- charts ----

// barChart is a two-series bar chart drawn as inline SVG.
type barChart struct {
	Width, Height int
	Bars          []bar
	MaxA, MaxB    string // axis labels
	LabelA        string
	LabelB        string
}

type bar struct {
	X, W   string
	YA, HA string
	YB, HB string
	XB     string
	ID     int64
	Dur    string
	Writes int64
}

// runsChart plots duration (left bars) and writes (right bars) per run,
// oldest left.
func runsChart(rows []runRow) barChart {
	ch := barChart{Width: 600, Height: 160, LabelA: "chart.duration", LabelB: "chart.writes"}
	var maxD time.Duration
	var maxW int64
	for _, r := range rows {
		maxD = max(maxD, r.Duration)
		maxW = max(maxW, r.Writes)
	}
	ch.MaxA, ch.MaxB = dur(maxD), i64(maxW)
	n := len(rows)
	if n == 0 {
		return ch
	}
	plotH := float64(ch.Height - 20)
	slot := float64(ch.Width) / float64(n)
	w := math.Max(1, slot*0.4)
	for i := range rows {
		r := rows[n-1-i] // oldest first
		x := float64(i) * slot
		ha, hb := 0.0, 0.0
		if maxD > 0 {
			ha = plotH * float64(r.Duration) / float64(maxD)
		}
		if maxW > 0 {
			hb = plotH * float64(r.Writes) / float64(maxW)
		}
		ch.Bars = append(ch.Bars, bar{
			X: f1(x + slot*0.1), XB: f1(x + slot*0.1 + w), W: f1(w),
			YA: f1(plotH - ha + 10), HA: f1(ha),
			YB: f1(plotH - hb + 10), HB: f1(hb),
			ID: r.ID, Dur: dur(r.Duration), Writes: r.Writes,
		})
	}
	return ch
}

func f1(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// lineChart is a two-series line chart (cache metrics over time).
type lineChart struct {
	Width, Height  int
	A, B           string // SVG polyline points
	MaxA, MaxB     string
	LabelA, LabelB string
	From, To       string
	Points         int
}

type cacheSample struct {
	At      time.Time
	HitRate float64
	Entries int
	Bytes   int64
}

func cacheChart(s []cacheSample) lineChart {
	ch := lineChart{Width: 600, Height: 140, LabelA: "chart.hitRate", LabelB: "chart.entries", MaxA: "100 %"}
	if len(s) == 0 {
		return ch
	}
	maxE := 1
	for _, x := range s {
		maxE = max(maxE, x.Entries)
	}
	ch.MaxB = itoa(maxE)
	plotH := float64(ch.Height - 20)
	t0, t1 := s[0].At, s[len(s)-1].At
	span := t1.Sub(t0).Seconds()
	var a, b []string
	for i, x := range s {
		px := float64(ch.Width) / 2
		if span > 0 {
			px = float64(ch.Width) * x.At.Sub(t0).Seconds() / span
		} else if len(s) > 1 {
			px = float64(ch.Width) * float64(i) / float64(len(s)-1)
		}
		a = append(a, f1(px)+","+f1(10+plotH-plotH*x.HitRate/100))
		b = append(b, f1(px)+","+f1(10+plotH-plotH*float64(x.Entries)/float64(maxE)))
	}
	ch.A, ch.B, ch.Points = strings.Join(a, " "), strings.Join(b, " "), len(s)
	ch.From, ch.To = t0.UTC().Format("15:04:05"), t1.UTC().Format("15:04:05")
	return ch
}

func csrfFromCtx(ctx context.Context) string { return sessionFrom(ctx).csrf }

func probeText(ctx context.Context, r probeRes) string {
	if r.Version != "" {
		return tf(ctx, "probe.withVersion", r.Text, r.Version)
	}
	return r.Text
}

func sourceText(ctx context.Context, source string) string {
	if source == "settings" {
		return t(ctx, "cache.fromSettings")
	}
	return t(ctx, "cache.fromEnv")
}

// authText describes how an endpoint authenticates.
func authText(ctx context.Context, e endpointRow) string { return tf(ctx, e.AuthKey, e.AuthArg) }
