package applog

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/proxbox/proxbox/store"
)

type memSink struct {
	mu sync.Mutex
	e  []store.LogEntry
}

func (m *memSink) AppendLogs(_ context.Context, e []store.LogEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.e = append(m.e, e...)
	return nil
}

func TestRedactionPersistenceAndSubscribers(t *testing.T) {
	var out bytes.Buffer
	p := New(&out, "json", slog.LevelDebug)
	sink := &memSink{}
	ctx, cancel := context.WithCancel(context.Background())
	p.Persist(ctx, sink)
	live, stop := p.Subscribe()
	defer stop()
	log := p.Logger().With("module", "sync")
	log.Debug("not persisted")
	log.Info("endpoint saved", "password", "hunter2-secret", "token_value", "tv-secret", "token_name", "sync", "password_set", true, "operation_id", "run-7")
	cancel()
	p.Wait()
	if strings.Contains(out.String(), "hunter2-secret") || strings.Contains(out.String(), "tv-secret") {
		t.Fatalf("secret on stderr: %s", out.String())
	}
	if !strings.Contains(out.String(), `"token_name":"sync"`) || !strings.Contains(out.String(), `"password_set":true`) {
		t.Fatalf("harmless attrs redacted: %s", out.String())
	}
	if len(sink.e) != 1 || sink.e[0].Module != "sync" || sink.e[0].OperationID != "run-7" || sink.e[0].Level != "INFO" {
		t.Fatalf("persisted: %+v", sink.e)
	}
	if strings.Contains(string(sink.e[0].Attrs), "hunter2") {
		t.Fatal("secret persisted")
	}
	select {
	case e := <-live:
		if e.Message != "endpoint saved" {
			t.Fatalf("live: %+v", e)
		}
	default:
		t.Fatal("subscriber got nothing")
	}
}
