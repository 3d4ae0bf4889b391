package ui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/proxbox/proxbox/store"
)

var logLevels = []string{"DEBUG", "INFO", "WARNING", "ERROR"}

type logsVM struct {
	Level   string
	Text    string
	Entries []store.LogEntry
	Total   int
	Live    bool
}

// logFilter reads ?level= (minimum level) and ?q= (text).
func logFilter(r *http.Request) (string, string, store.LogFilter) {
	level := strings.ToUpper(r.URL.Query().Get("level"))
	text := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(text) > 200 {
		text = text[:200]
	}
	f := store.LogFilter{Text: text, Limit: 200}
	if i := slices.Index(logLevels, level); i >= 0 {
		f.Levels = logLevels[i:]
	} else {
		level = ""
	}
	return level, text, f
}

func (h *Dashboard) logsPage(w http.ResponseWriter, r *http.Request) {
	level, text, f := logFilter(r)
	entries, total, err := h.d.Store.Logs(r.Context(), f)
	if err != nil {
		h.fail(w, r, "read logs", err)
		return
	}
	h.render(w, r, http.StatusOK, logsPage(h.pageCtx(r, h.tr(r, "nav.logs"), "logs"), logsVM{Level: level, Text: text, Entries: entries, Total: total, Live: h.d.Logs != nil}))
}

// match applies the page's filter to a live entry.
func match(f store.LogFilter, e store.LogEntry) bool {
	if len(f.Levels) > 0 && !slices.Contains(f.Levels, e.Level) {
		return false
	}
	return f.Text == "" || strings.Contains(strings.ToLower(e.Message), strings.ToLower(f.Text))
}

// logsStream sends each new matching entry as an SSE "log" event holding a
// table row, which the page prepends to the table.
func (h *Dashboard) logsStream(w http.ResponseWriter, r *http.Request) {
	if h.d.Logs == nil {
		http.NotFound(w, r)
		return
	}
	_, _, f := logFilter(r)
	ch, stop := h.d.Logs.Subscribe()
	defer stop()
	ctx := r.Context()
	sse := startSSE(w)
	tick := newTicker()
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := sse.comment(); err != nil {
				return
			}
		case e, ok := <-ch:
			if !ok {
				return
			}
			if !match(f, e) {
				continue
			}
			if err := sse.component(ctx, "log", logRow(e)); err != nil {
				return
			}
		}
	}
}

func logStreamURL(vm logsVM) string {
	return "/ui/logs/stream?" + url.Values{"level": {vm.Level}, "q": {vm.Text}}.Encode()
}

type logAttr struct{ Key, Value string }

// logAttrs lists an entry's attributes (run id, endpoint, duration, ...)
// but the module, which has its column; already redacted by applog.
func logAttrs(e store.LogEntry) []logAttr {
	var m map[string]any
	if len(e.Attrs) == 0 || json.Unmarshal(e.Attrs, &m) != nil {
		return nil
	}
	out := make([]logAttr, 0, len(m))
	for k, v := range m {
		if k == "module" || k == "component" {
			continue
		}
		s, ok := v.(string)
		if !ok {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		if len(s) > 300 {
			s = s[:300] + "…"
		}
		out = append(out, logAttr{k, s})
	}
	slices.SortFunc(out, func(a, b logAttr) int { return strings.Compare(a.Key, b.Key) })
	return out
}
