package certs

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// certmagic's lock and storage-cleaning messages are debug lines; its other
// messages keep their level.
func TestCertmagicLockChatterIsDebug(t *testing.T) {
	for _, c := range []struct {
		level slog.Level
		want  []string
		not   []string
	}{
		{slog.LevelInfo, []string{"certificate obtained successfully"}, []string{"acquiring lock", "lock acquired", "releasing lock"}},
		{slog.LevelDebug, []string{"acquiring lock", "lock acquired", "releasing lock", "level=DEBUG"}, nil},
	} {
		var buf bytes.Buffer
		zl := newZapLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: c.level})))
		zl.Info("acquiring lock", zap.String("identifier", "localhost"))
		zl.Info("lock acquired", zap.String("identifier", "localhost"))
		zl.Info("certificate obtained successfully", zap.String("identifier", "localhost"))
		zl.Info("releasing lock", zap.String("identifier", "localhost"))
		out := buf.String()
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("level %v: log lacks %q:\n%s", c.level, w, out)
			}
		}
		for _, n := range c.not {
			if strings.Contains(out, n) {
				t.Errorf("level %v: log has %q:\n%s", c.level, n, out)
			}
		}
	}
}
