package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
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

// byText says who started a run inside a sentence ("from the dashboard").
func byText(ctx context.Context, trigger string) string {
	if _, ok := msgEN["by."+trigger]; ok {
		return t(ctx, "by."+trigger)
	}
	return trigger
}

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
	Requests int64 // NetBox and Proxmox requests
	Writes   int64 // NetBox writes
	Errors   []string
	Stages   []stageRow
	Running  bool

	NetBoxRequests  int64
	ProxmoxRequests int64
	Endpoints       []string   // Proxmox endpoints the run synced (from its stage results)
	Counts          cellCounts // the summary's totals
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
		row.NetBoxRequests, row.ProxmoxRequests = sum.NetBox.Requests, sum.Proxmox.Requests
		row.Writes = sum.NetBox.Writes
		row.Counts, _ = summaryTotals(r.Summary)
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
		if ep, _ := splitStage(st.Stage); ep != "" && !slices.Contains(row.Endpoints, ep) {
			row.Endpoints = append(row.Endpoints, ep)
		}
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

func f1(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

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
