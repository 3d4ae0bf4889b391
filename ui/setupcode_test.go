package ui

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/proxbox/proxbox/server"
)

// TestFirstRunSetupAsksForTheConsoleCode: with a setup code, the form asks
// for it; a wrong code creates nothing; the code printed on the console
// creates the key once and is then used up.
func TestFirstRunSetupAsksForTheConsoleCode(t *testing.T) {
	var console bytes.Buffer
	code := server.NewSetupCode(&console)
	code.Announce()
	printed := code.Peek()
	if printed == "" || !strings.Contains(console.String(), printed) {
		t.Fatalf("the code is not on the console: %q", console.String())
	}
	e := newEnv(t, func(d *Deps) { d.SetupCode = code.Check })
	resp, doc := e.get("/ui/setup")
	if resp.StatusCode != http.StatusOK || doc.Find(`[data-testid="setup-code"]`).Length() != 1 {
		t.Fatalf("setup page: %d, code field %d", resp.StatusCode, doc.Find(`[data-testid="setup-code"]`).Length())
	}
	tok := e.csrfOf("/ui/setup")
	if resp, _, _ := e.post("/ui/setup", url.Values{"_csrf": {tok}, "label": {"admin"}, "setup_code": {"WRONG-CODE-0000"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("wrong code: %d, want 422", resp.StatusCode)
	}
	if n, _ := e.st.ActiveKeyCount(context.Background()); n != 0 {
		t.Fatalf("a wrong code created %d keys", n)
	}
	tok = e.csrfOf("/ui/setup")
	if resp, _, _ := e.post("/ui/setup", url.Values{"_csrf": {tok}, "label": {"admin"}, "setup_code": {strings.ToLower(printed)}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("right code: %d", resp.StatusCode)
	}
	if n, _ := e.st.ActiveKeyCount(context.Background()); n != 1 {
		t.Fatalf("%d keys after the setup", n)
	}
	if code.Check(printed) {
		t.Fatal("the setup code works twice")
	}
}
