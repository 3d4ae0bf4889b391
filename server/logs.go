package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/proxbox/proxbox/store"
)

// LogSource gives live log records (applog.Pipeline implements it).
type LogSource interface {
	Subscribe() (<-chan store.LogEntry, func())
}

// logTokenTTL bounds how long a signed log URL works. The plugin's Backend
// Logs page is loaded by the browser straight from proxbox and cannot send
// the API key; an operator (or the dashboard) mints a token with the key and
// opens the log URLs with ?token=..., which expire on their own.
const logTokenTTL = 15 * time.Minute

type logSigner struct{ key []byte }

func newLogSigner() *logSigner {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &logSigner{key: k}
}

// sign binds a token to its expiry and to the key that minted it: the token
// dies with the key (deleted or deactivated), see Server.logTokenKey.
func (s *logSigner) sign(exp time.Time, keyID int64) string {
	e := strconv.FormatInt(exp.Unix(), 10) + "." + strconv.FormatInt(keyID, 10)
	return e + "." + s.mac(e)
}

func (s *logSigner) mac(payload string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("logs:" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// valid checks the signature and expiry and returns the minting key's id.
func (s *logSigner) valid(tok string, now time.Time) (int64, bool) {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 || len(tok) > 200 {
		return 0, false
	}
	payload, sig := tok[:i], tok[i+1:]
	e, kid, ok := strings.Cut(payload, ".")
	if !ok {
		return 0, false
	}
	unix, err := strconv.ParseInt(e, 10, 64)
	if err != nil || now.Unix() > unix {
		return 0, false
	}
	id, err := strconv.ParseInt(kid, 10, 64)
	if err != nil || id < 1 {
		return 0, false
	}
	if !hmac.Equal([]byte(sig), []byte(s.mac(payload))) {
		return 0, false
	}
	return id, true
}

// logTokenKey returns the key behind a valid log token whose key is still
// active.
func (s *Server) logTokenKey(ctx context.Context, tok string) (int64, bool) {
	id, ok := s.logs.valid(tok, s.now())
	if !ok {
		return 0, false
	}
	active, err := s.store.KeyActive(ctx, id)
	return id, err == nil && active
}

// keyContext returns a context that ends with ctx or as soon as key id is
// deleted or deactivated, so a stream opened with a key does not outlive it.
func (s *Server) keyContext(ctx context.Context, id int64) (context.Context, context.CancelFunc) {
	kctx, cancel := context.WithCancel(ctx)
	if id == 0 {
		return kctx, cancel
	}
	go func() {
		for {
			changed := s.store.KeyChanges()
			if active, err := s.store.KeyActive(kctx, id); err == nil && !active {
				s.log.Info("stream ended: its API key was deleted or deactivated", "key_id", id)
				cancel()
				return
			}
			select {
			case <-kctx.Done():
				return
			case <-changed:
			}
		}
	}()
	return kctx, cancel
}

// requestKeyID is the id of the key that authenticated c (0: none).
func requestKeyID(c echo.Context) int64 {
	id, _ := c.Get(ctxKeyID).(int64)
	return id
}

type logJSON struct {
	ID          int64          `json:"id"`
	Timestamp   string         `json:"timestamp"`
	Level       string         `json:"level"`
	Module      string         `json:"module"`
	Message     string         `json:"message"`
	OperationID string         `json:"operation_id,omitempty"`
	Attrs       map[string]any `json:"attributes,omitempty"`
}

func toLogJSON(e store.LogEntry) logJSON {
	j := logJSON{ID: e.ID, Timestamp: e.Time.UTC().Format(time.RFC3339Nano), Level: e.Level, Module: e.Module, Message: e.Message, OperationID: e.OperationID}
	if len(e.Attrs) > 0 {
		_ = json.Unmarshal(e.Attrs, &j.Attrs)
	}
	return j
}

// logFilter reads the plugin's filter parameters.
func logFilter(c echo.Context) (store.LogFilter, map[string]string) {
	f := store.LogFilter{}
	active := map[string]string{}
	if lv := strings.ToUpper(strings.TrimSpace(c.QueryParam("level"))); lv != "" {
		if lv == "WARN" {
			lv = "WARNING"
		}
		f.Levels = []string{lv}
		active["level"] = lv
	}
	if b, _ := strconv.ParseBool(strings.ToLower(c.QueryParam("errors_only"))); b {
		f.Levels = []string{"ERROR"}
		active["errors_only"] = "true"
	}
	if v := c.QueryParam("operation_id"); v != "" {
		f.OperationID = v
		active["operation_id"] = v
	}
	if v := c.QueryParam("q"); v != "" {
		f.Text = v
		active["q"] = v
	}
	if v := c.QueryParam("since"); v != "" {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, v); err == nil {
				f.Since = t
				active["since"] = v
				break
			}
		}
	}
	f.NewerThanID, _ = strconv.ParseInt(c.QueryParam("newer_than_id"), 10, 64)
	f.OlderThanID, _ = strconv.ParseInt(c.QueryParam("older_than_id"), 10, 64)
	f.Limit, _ = strconv.Atoi(c.QueryParam("limit"))
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 200
	}
	return f, active
}

func (s *Server) adminLogs(c echo.Context) error {
	f, active := logFilter(c)
	entries, total, err := s.store.Logs(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := make([]logJSON, 0, len(entries))
	for _, e := range entries {
		out = append(out, toLogJSON(e))
	}
	return c.JSON(http.StatusOK, logPageJSON{Logs: out, Total: total, HasMore: total > len(out), ActiveFilters: active})
}

// matches applies a filter to a live record.
func matches(f store.LogFilter, e store.LogEntry) bool {
	if len(f.Levels) > 0 && f.Levels[0] != e.Level {
		return false
	}
	if f.OperationID != "" && f.OperationID != e.OperationID {
		return false
	}
	if f.Text != "" && !strings.Contains(strings.ToLower(e.Message), strings.ToLower(f.Text)) {
		return false
	}
	return true
}

// adminLogsStream sends the stored records newer than newer_than_id, then
// live ones, as "event: log" frames.
func (s *Server) adminLogsStream(c echo.Context) error {
	if s.opt.Logs == nil {
		return fail(http.StatusServiceUnavailable, "Live logs are not available.")
	}
	f, _ := logFilter(c)
	ctx, stop := s.keyContext(c.Request().Context(), requestKeyID(c))
	defer stop()
	live, cancel := s.opt.Logs.Subscribe()
	defer cancel()
	sse := s.startSSE(c)
	backlog, _, err := s.store.Logs(ctx, store.LogFilter{Levels: f.Levels, OperationID: f.OperationID, Text: f.Text, NewerThanID: f.NewerThanID, Limit: 200})
	if err == nil {
		for i := len(backlog) - 1; i >= 0; i-- {
			if err := sse.Send("log", toLogJSON(backlog[i])); err != nil {
				return nil
			}
		}
	}
	return streamLoop(ctx, sse, live, func(e store.LogEntry) error {
		if !matches(f, e) {
			return nil
		}
		return sse.Send("log", toLogJSON(e))
	})
}

// streamLoop forwards items from ch until ctx ends, keeping the stream alive.
func streamLoop[T any](ctx context.Context, sse *SSE, ch <-chan T, send func(T) error) error {
	tick := time.NewTicker(sse.quiet / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case v, ok := <-ch:
			if !ok {
				return nil
			}
			if err := send(v); err != nil {
				return nil
			}
		case <-tick.C:
			if err := sse.Keepalive(); err != nil {
				return nil
			}
		}
	}
}

// logToken mints a short-lived token that opens the log routes without the
// API key header (for browsers).
func (s *Server) logToken(c echo.Context) error {
	exp := s.now().Add(logTokenTTL)
	kid := requestKeyID(c)
	if kid == 0 {
		return fail(http.StatusForbidden, "A log token is minted with an API key (X-Proxbox-API-Key).")
	}
	tok := s.logs.sign(exp, kid)
	return c.JSON(http.StatusCreated, logTokenJSON{
		Token:     tok,
		ExpiresAt: exp.UTC().Format(time.RFC3339),
		LogsURL:   "/admin/logs?token=" + tok,
		StreamURL: "/admin/logs/stream?token=" + tok,
	})
}
