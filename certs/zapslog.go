package certs

import (
	"context"
	"log/slog"
	"sort"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// slogCore is a zapcore.Core that hands every certmagic log entry to a
// slog.Handler, so certmagic's zap output lands in the appliance's log.
type slogCore struct {
	h      slog.Handler
	fields []zapcore.Field
}

func newZapLogger(l *slog.Logger) *zap.Logger {
	return zap.New(&slogCore{h: l.Handler()})
}

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func (c *slogCore) Enabled(l zapcore.Level) bool {
	return c.h.Enabled(context.Background(), slogLevel(l))
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	all := make([]zapcore.Field, 0, len(c.fields)+len(fields))
	all = append(append(all, c.fields...), fields...)
	return &slogCore{h: c.h, fields: all}
}

// chatter are certmagic's routine Info messages (storage locks around every
// certificate operation, storage cleaning): logged at debug, so the log
// shows what happened to certificates rather than how.
var chatter = map[string]bool{
	"acquiring lock": true, "lock acquired": true, "releasing lock": true, "lock released": true,
	"cleaning storage unit": true, "finished cleaning storage units": true,
	"storage cleaning happened too recently; skipping for now": true,
}

func quiet(e zapcore.Entry) zapcore.Entry {
	if e.Level == zapcore.InfoLevel && chatter[e.Message] {
		e.Level = zapcore.DebugLevel
	}
	return e
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	e = quiet(e)
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	e = quiet(e)
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	r := slog.NewRecord(e.Time, slogLevel(e.Level), e.Message, 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", "certmagic."+e.LoggerName))
	} else {
		r.AddAttrs(slog.String("logger", "certmagic"))
	}
	for _, k := range keys {
		r.AddAttrs(slog.Any(k, enc.Fields[k]))
	}
	return c.h.Handle(context.Background(), r)
}

func (c *slogCore) Sync() error { return nil }
