// Package applog owns the appliance's logging pipeline: the slog handler
// that writes to stderr (text or JSON), keeps a copy of each record in the
// store's capped log ring for /admin/logs and the dashboard, fans records out
// to live subscribers, and redacts anything that looks like a credential. It
// must not decide what gets logged; callers do.
package applog

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/proxbox/proxbox/store"
)

// Sink persists log entries (the store implements it).
type Sink interface {
	AppendLogs(ctx context.Context, entries []store.LogEntry) error
}

// sensitive attribute keys are replaced by "[redacted]" whatever their value.
var sensitive = []string{"password", "token", "secret", "api_key", "apikey", "authorization", "cookie", "raw_key"}

func isSensitive(key string) bool {
	k := strings.ToLower(key)
	for _, s := range sensitive {
		if strings.Contains(k, s) && !strings.HasSuffix(k, "_set") && !strings.HasSuffix(k, "_changed") && k != "token_name" && k != "token_version" {
			return true
		}
	}
	return false
}

// Redact is a slog ReplaceAttr that hides credential-like attributes.
func Redact(_ []string, a slog.Attr) slog.Attr {
	if isSensitive(a.Key) && a.Value.Kind() != slog.KindGroup {
		return slog.String(a.Key, "[redacted]")
	}
	return a
}

// Pipeline is the process's log pipeline.
type Pipeline struct {
	level   *slog.LevelVar
	base    slog.Handler
	ch      chan store.LogEntry
	mu      sync.Mutex
	subs    map[chan store.LogEntry]struct{}
	sink    Sink
	done    chan struct{}
	dropped int64
}

// New returns a pipeline writing to w in format "text" or "json" at level.
func New(w io.Writer, format string, level slog.Level) *Pipeline {
	lv := &slog.LevelVar{}
	lv.Set(level)
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: Redact}
	var base slog.Handler
	if format == "json" {
		base = slog.NewJSONHandler(w, opts)
	} else {
		base = slog.NewTextHandler(w, opts)
	}
	return &Pipeline{level: lv, base: base, ch: make(chan store.LogEntry, 1024), subs: map[chan store.LogEntry]struct{}{}, done: make(chan struct{})}
}

// ParseLevel maps debug|info|warn|error to a slog level.
func ParseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// Logger returns a logger on the pipeline.
func (p *Pipeline) Logger() *slog.Logger { return slog.New(&handler{p: p, next: p.base}) }

// Persist starts copying records (INFO and above) into sink until ctx ends;
// writes are batched so logging never waits on the disk.
func (p *Pipeline) Persist(ctx context.Context, sink Sink) {
	p.sink = sink
	go func() {
		defer close(p.done)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		var batch []store.LogEntry
		flush := func() {
			if len(batch) == 0 {
				return
			}
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = sink.AppendLogs(wctx, batch)
			cancel()
			batch = batch[:0]
		}
		for {
			select {
			case e := <-p.ch:
				batch = append(batch, e)
				if len(batch) >= 256 {
					flush()
				}
			case <-tick.C:
				flush()
			case <-ctx.Done():
				for {
					select {
					case e := <-p.ch:
						batch = append(batch, e)
					default:
						flush()
						return
					}
				}
			}
		}
	}()
}

// Wait blocks until Persist has flushed after its context ended.
func (p *Pipeline) Wait() {
	if p.sink != nil {
		<-p.done
	}
}

// Subscribe returns a channel of live records and a cancel function. Slow
// subscribers miss records rather than slow the logger.
func (p *Pipeline) Subscribe() (<-chan store.LogEntry, func()) {
	ch := make(chan store.LogEntry, 256)
	p.mu.Lock()
	p.subs[ch] = struct{}{}
	p.mu.Unlock()
	return ch, func() {
		p.mu.Lock()
		delete(p.subs, ch)
		p.mu.Unlock()
	}
}

type handler struct {
	p      *Pipeline
	next   slog.Handler
	attrs  []slog.Attr
	groups []string
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{p: h.p, next: h.next.WithAttrs(as), attrs: append(append([]slog.Attr{}, h.attrs...), as...), groups: h.groups}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{p: h.p, next: h.next.WithGroup(name), attrs: h.attrs, groups: append(append([]string{}, h.groups...), name)}
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	err := h.next.Handle(ctx, r)
	if r.Level < slog.LevelInfo {
		return err
	}
	e := store.LogEntry{Time: r.Time, Level: levelName(r.Level), Message: r.Message}
	attrs := map[string]any{}
	add := func(a slog.Attr) bool {
		a = Redact(nil, a)
		switch a.Key {
		case "module", "component":
			e.Module = a.Value.String()
		case "operation_id", "run_id":
			e.OperationID = a.Value.String()
		}
		attrs[a.Key] = a.Value.Resolve().Any()
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	if len(attrs) > 0 {
		if b, jerr := json.Marshal(attrs); jerr == nil {
			e.Attrs = b
		}
	}
	if h.p.sink != nil {
		select {
		case h.p.ch <- e:
		default:
			h.p.mu.Lock()
			h.p.dropped++
			h.p.mu.Unlock()
		}
	}
	h.p.mu.Lock()
	for ch := range h.p.subs {
		select {
		case ch <- e:
		default:
		}
	}
	h.p.mu.Unlock()
	return err
}

func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}
