package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// DefaultKeepalive is how long a stream may stay silent before a comment
// line keeps proxies and the plugin's 3600 s read timeout from firing.
const DefaultKeepalive = 15 * time.Second

// SSE writes Server-Sent Events the way the plugin's parser needs them: an
// "event:" line, one "data:" line of pure-ASCII JSON, a blank line; never
// "id:" or "retry:"; flushed per frame. Safe for concurrent use.
type SSE struct {
	mu    sync.Mutex
	w     http.ResponseWriter
	last  time.Time
	err   error
	quiet time.Duration // silence allowed before a keepalive
}

// StartSSE writes the stream's headers and lifts the server's write
// deadline for this response.
func StartSSE(c echo.Context) *SSE { return startSSE(c, DefaultKeepalive) }

func startSSE(c echo.Context, quiet time.Duration) *SSE {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	LiftWriteDeadline(c.Response().Writer)
	c.Response().WriteHeader(http.StatusOK)
	c.Response().Flush()
	return &SSE{w: c.Response(), last: time.Now(), quiet: quiet}
}

// Send writes one event frame.
func (s *SSE) Send(event string, data any) error {
	b, err := ASCIIJSON(data)
	if err != nil {
		return fmt.Errorf("encode %s frame: %w", event, err)
	}
	return s.write("event: " + event + "\ndata: " + string(b) + "\n\n")
}

// Keepalive writes a comment when the stream has been silent for its
// keepalive interval.
func (s *SSE) Keepalive() error {
	s.mu.Lock()
	quiet := time.Since(s.last) >= s.quiet
	s.mu.Unlock()
	if !quiet {
		return nil
	}
	return s.write(": keepalive\n\n")
}

func (s *SSE) write(frame string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if _, err := s.w.Write([]byte(frame)); err != nil {
		s.err = err
		return err
	}
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
	s.last = time.Now()
	return nil
}

// ASCIIJSON marshals v and escapes every non-ASCII character as \uXXXX
// (surrogate pairs above U+FFFF). The plugin splits lines with Python's
// str.splitlines, which also breaks on U+0085, U+2028 and U+2029, so no
// raw non-ASCII byte may reach the wire.
func ASCIIJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	ascii := true
	for _, c := range b {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return b, nil
	}
	var out bytes.Buffer
	out.Grow(len(b) + 16)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r < utf8.RuneSelf:
			out.WriteByte(byte(r))
		case r > 0xFFFF:
			r -= 0x10000
			fmt.Fprintf(&out, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
	}
	return out.Bytes(), nil
}
