package server

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestASCIIJSON(t *testing.T) {
	in := map[string]string{"name": "vm-çà-日本-😀", "desc": "line\u0085next\u2028x\u2029y"}
	b, err := ASCIIJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b {
		if c >= 0x80 {
			t.Fatalf("non-ASCII byte in %s", b)
		}
	}
	var back map[string]string
	if err := json.Unmarshal(b, &back); err != nil || back["name"] != in["name"] || back["desc"] != in["desc"] {
		t.Fatalf("round trip: %v %v", back, err)
	}
}

func TestSSEFrameFormat(t *testing.T) {
	e := echo.New()
	rec := httptest.NewRecorder()
	c := e.NewContext(httptest.NewRequest("GET", "/x/stream", nil), rec)
	s := StartSSE(c)
	if err := s.Send("step", map[string]any{"message": "ünïcode\u0085"}); err != nil {
		t.Fatal(err)
	}
	s.Send("complete", map[string]any{"ok": true})
	body := rec.Body.String()
	if rec.Header().Get("Content-Type") != "text/event-stream" || rec.Header().Get("X-Accel-Buffering") != "no" || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("headers: %v", rec.Header())
	}
	want := "event: step\ndata: {\"message\":\"\\u00fcn\\u00efcode\\u0085\"}\n\nevent: complete\ndata: {\"ok\":true}\n\n"
	if body != want {
		t.Fatalf("frames:\n%q\nwant\n%q", body, want)
	}
	if strings.Contains(body, "id:") || strings.Contains(body, "retry:") {
		t.Fatal("id/retry lines sent")
	}
}
