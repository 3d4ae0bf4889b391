package getcache

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestDebugLog(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil)) // Info level: the switch alone must suffice
	clk := newFakeClock()
	nb := newFakeNetBox()
	c := New(Config{Limits: Limits{TTL: time.Minute, MaxEntries: 1, MaxBytes: 1 << 20}, Logger: logger, Now: clk.Now})
	tr := NewTransport(c, nb)
	secret := "Token s3cr3t"
	get(t, tr, "/api/dcim/sites/?slug=a", "Authorization", secret) // miss
	get(t, tr, "/api/dcim/sites/?slug=a", "Authorization", secret) // no debug yet
	if buf.Len() != 0 {
		t.Fatalf("logged with Debug off: %s", buf.String())
	}
	c.SetDebug(true)
	get(t, tr, "/api/dcim/sites/?slug=a", "Authorization", secret) // hit
	get(t, tr, "/api/dcim/racks/", "Authorization", secret)        // miss, evicts sites
	do(t, tr, http.MethodPatch, "/api/dcim/racks/1/")              // invalidates racks
	get(t, tr, "/api/dcim/racks/")                                 // miss
	clk.Advance(time.Minute)
	c.Sweep() // expires racks
	out := buf.String()
	for _, ev := range []string{"event=hit", "event=miss", "event=evicted", "event=invalidated", "event=expired", "path=/api/dcim/sites/", `query="slug=a"`} {
		if !strings.Contains(out, ev) {
			t.Errorf("debug log lacks %q:\n%s", ev, out)
		}
	}
	if strings.Contains(out, "s3cr3t") {
		t.Errorf("secret in the log:\n%s", out)
	}
	c.SetDebug(false)
	n := buf.Len()
	get(t, tr, "/api/dcim/racks/")
	if buf.Len() != n {
		t.Errorf("logged after SetDebug(false)")
	}
}
