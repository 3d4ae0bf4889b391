package ui

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/proxbox/proxbox/certs"
	"github.com/proxbox/proxbox/netbox/getcache"
	"github.com/proxbox/proxbox/server"
	"github.com/proxbox/proxbox/store"
)

func TestFirstRunSetupCreatesKeyShownOnceAndSignsIn(t *testing.T) {
	e := newEnv(t, nil)
	resp, _ := e.get("/ui/")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/setup" {
		t.Fatalf("no key: GET /ui/ = %d %q, want 303 to /ui/setup", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok := e.csrfOf("/ui/setup")
	if resp, _, _ := e.post("/ui/setup", url.Values{"label": {"admin"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("setup without CSRF token: %d, want 403", resp.StatusCode)
	}
	if n, _ := e.st.ActiveKeyCount(context.Background()); n != 0 {
		t.Fatalf("a refused setup created %d keys", n)
	}
	resp, doc, _ := e.post("/ui/setup", url.Values{"_csrf": {tok}, "label": {"admin"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setup: %d", resp.StatusCode)
	}
	raw, _ := doc.Find(`[data-testid="new-key-value"]`).Attr("value")
	if len(raw) != 64 {
		t.Fatalf("shown key has %d characters, want 64", len(raw))
	}
	if doc.Find(`[data-copy-target="new-key-value"]`).Length() != 1 {
		t.Error("no copy button for the new key")
	}
	if !strings.Contains(text(doc, "main"), "X-Proxbox-API-Key") {
		t.Error("setup result does not explain the plugin header")
	}
	if _, ok, _ := e.st.VerifyKey(context.Background(), raw); !ok {
		t.Fatal("the shown key does not verify")
	}
	// Signed in by the setup; the overview renders.
	resp, doc = e.get("/ui/")
	if resp.StatusCode != http.StatusOK || doc.Find("h1").First().Text() != "Overview" {
		t.Fatalf("after setup: %d %q", resp.StatusCode, doc.Find("h1").Text())
	}
	// The setup is closed now.
	resp, _ = e.get("/ui/setup")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/signin" {
		t.Fatalf("setup after the first key: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The key is never shown again.
	_, doc = e.get("/ui/keys")
	if strings.Contains(doc.Text(), raw) {
		t.Fatal("keys page shows the raw key")
	}
}

func TestSignInSessionCookieAndSignOut(t *testing.T) {
	e := newEnv(t, nil)
	raw := e.addKey("admin")
	resp, _ := e.get("/ui/cache")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/signin?next=%2Fui%2Fcache" {
		t.Fatalf("signed out: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok := e.csrfOf("/ui/signin")
	resp, doc, _ := e.post("/ui/signin", url.Values{"_csrf": {tok}, "key": {strings.Repeat("x", 64)}})
	if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#key-error").Length() != 1 || doc.Find(`#key[aria-invalid="true"]`).Length() != 1 {
		t.Fatalf("wrong key: %d, error shown %d", resp.StatusCode, doc.Find("#key-error").Length())
	}
	resp, _, _ = e.post("/ui/signin", url.Values{"_csrf": {tok}, "key": {raw}, "next": {"/ui/cache"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/cache" {
		t.Fatalf("sign in: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var sc *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Path != "/ui" || sc.Secure || len(sc.Value) < 43 {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/ui, not Secure over plain HTTP, 256-bit id", sc)
	}
	if resp, _ := e.get("/ui/cache"); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed in: /ui/cache = %d", resp.StatusCode)
	}
	// Sign out needs the session's CSRF token.
	if resp, _, _ := e.post("/ui/signout", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign out without token: %d", resp.StatusCode)
	}
	tok = e.csrfOf("/ui/")
	if resp, _, _ := e.post("/ui/signout", url.Values{"_csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	if resp, _ := e.get("/ui/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after sign out /ui/ = %d, want a redirect to sign in", resp.StatusCode)
	}
}

func TestSignInRedirectStaysOnDashboard(t *testing.T) {
	for in, want := range map[string]string{"/ui/cache": "/ui/cache", "https://evil.example/": "/ui/", "//evil.example": "/ui/", "/ui//evil": "/ui/", "": "/ui/"} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormsRefuseMissingWrongOrCrossSiteTokens(t *testing.T) {
	e := newEnv(t, nil)
	e.signIn("")
	tok := e.csrfOf("/ui/cache")
	good := url.Values{"ttl_seconds": {"5"}, "max_entries": {"10"}, "max_bytes": {"2048"}}
	cases := []struct {
		name   string
		token  string
		mutate func(*http.Request)
	}{
		{"no token", "", nil},
		{"wrong token", strings.Repeat("A", 43), nil},
		{"cross-site fetch", tok, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }},
		{"foreign origin", tok, func(r *http.Request) {
			r.Header.Del("Sec-Fetch-Site")
			r.Header.Set("Origin", "https://evil.example")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range good {
				form[k] = v
			}
			if c.token != "" {
				form.Set("_csrf", c.token)
			}
			req, _ := http.NewRequest(http.MethodPost, e.url("/ui/cache"), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", e.srv.URL)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			if c.mutate != nil {
				c.mutate(req)
			}
			resp, err := e.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", resp.StatusCode)
			}
			if got := e.cache.Limits(); got != getcache.DefaultLimits() {
				t.Fatalf("a refused form changed the cache limits to %+v", got)
			}
		})
	}
}

func TestSessionEndsWhenItsKeyIsDeactivated(t *testing.T) {
	e := newEnv(t, nil)
	raw := e.signIn("")
	id, _, _ := e.st.VerifyKey(context.Background(), raw)
	if _, err := e.st.SetKeyActive(context.Background(), id, false); err != nil {
		t.Fatal(err)
	}
	e.addKey("other") // keep the dashboard out of first-run
	if resp, _ := e.get("/ui/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("deactivated key's session still works: %d", resp.StatusCode)
	}
}

func TestCacheTuningValidatesAppliesPersistsAndResets(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.Now = steppingClock() })
	e.signIn("")
	tok := e.csrfOf("/ui/cache")

	resp, doc, body := e.post("/ui/cache", url.Values{"_csrf": {tok}, "ttl_seconds": {"-1"}, "max_entries": {"abc"}, "max_bytes": {"10"}})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("invalid tuning: %d", resp.StatusCode)
	}
	for _, id := range []string{"ttl_seconds", "max_entries", "max_bytes"} {
		if doc.Find("#"+id+"-error").Length() != 1 || doc.Find("#"+id+`[aria-invalid="true"]`).Length() != 1 {
			t.Errorf("no validation message for %s in %s", id, body[:min(len(body), 200)])
		}
	}
	if v, _ := doc.Find("#max_entries").Attr("value"); v != "abc" {
		t.Errorf("the form lost the typed value: %q", v)
	}
	if e.cache.Limits() != getcache.DefaultLimits() {
		t.Fatal("invalid tuning changed the cache")
	}

	resp, _, _ = e.post("/ui/cache", url.Values{"_csrf": {tok}, "ttl_seconds": {"7.5"}, "max_entries": {"100"}, "max_bytes": {"4096"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("valid tuning: %d", resp.StatusCode)
	}
	want := getcache.Limits{TTL: 7500 * time.Millisecond, MaxEntries: 100, MaxBytes: 4096}
	if got := e.cache.Limits(); got != want {
		t.Fatalf("limits %+v, want %+v", got, want)
	}
	var stored getcache.Settings
	if found, err := e.st.Setting(context.Background(), server.CacheSettingKey, &stored); err != nil || !found || stored != want.Settings() {
		t.Fatalf("stored setting %+v (found %v, err %v)", stored, found, err)
	}
	// The server samples the cache (Dashboard.Run every 10 s); two samples
	// make the first point of the chart.
	e.dash.takeCacheSample()
	e.dash.takeCacheSample()
	_, doc = e.get("/ui/cache")
	if got := text(doc, `[data-testid="flash"]`); got != "Cache limits saved and applied." {
		t.Errorf("flash %q", got)
	}
	if got := text(doc, `[data-testid="ttl"]`); got != "7.5 s" {
		t.Errorf("metrics TTL %q", got)
	}
	if got := text(doc, `[data-testid="cache-source"]`); got != "settings saved here" {
		t.Errorf("source %q", got)
	}
	if doc.Find(`svg[data-testid="cache-chart"] circle`).Length() != 4 || doc.Find(`svg[data-testid="cache-chart"] [data-testid="x-tick"]`).Length() == 0 {
		t.Error("no cache chart of the server's samples")
	}
	for _, k := range []string{"hits", "misses", "bypasses"} {
		if !strings.Contains(text(doc, `[data-testid="cache-`+k+`"]`), "GETs") {
			t.Errorf("the %s card does not say what they are", k)
		}
	}

	if resp, _, _ := e.post("/ui/cache/reset", url.Values{"_csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	if e.cache.Limits() != getcache.DefaultLimits() {
		t.Fatal("reset did not restore the defaults")
	}
	if found, _ := e.st.Setting(context.Background(), server.CacheSettingKey, &stored); found {
		t.Fatal("reset kept the stored setting")
	}
	if resp, _, _ := e.post("/ui/cache/clear", url.Values{"_csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("clear: %d", resp.StatusCode)
	}
	resp, doc = e.get("/ui/cache/metrics")
	if resp.StatusCode != http.StatusOK || doc.Find(`[data-testid="hit-rate"]`).Length() != 1 {
		t.Fatalf("metrics fragment: %d", resp.StatusCode)
	}
}

func TestEndpointsValidateLikeTheAPIAndNeverShowSecrets(t *testing.T) {
	e := newEnv(t, nil)
	e.signIn("")
	tok := e.csrfOf("/ui/endpoints/proxmox/new")
	base := func() url.Values {
		return url.Values{"_csrf": {tok}, "name": {"pve1"}, "ip_address": {"10.0.0.5/24"}, "port": {"8006"}, "username": {"root@pam"},
			"password": {"s3cret-pw"}, "timeout": {"5"}, "max_retries": {"0"}, "retry_backoff": {"0"}, "verify_ssl": {"1"}}
	}
	bad := []struct {
		name  string
		edit  func(url.Values)
		field string
	}{
		{"no username", func(v url.Values) { v.Set("username", "") }, "username"},
		{"metadata address", func(v url.Values) { v.Set("ip_address", "169.254.169.254") }, "ip_address"},
		{"no host", func(v url.Values) { v.Set("ip_address", "") }, "ip_address"},
		{"bad port", func(v url.Values) { v.Set("port", "70000") }, "port"},
		{"token name without value", func(v url.Values) { v.Set("token_name", "tok") }, "token_name"},
		{"no credentials", func(v url.Values) { v.Del("password") }, "password"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			v := base()
			c.edit(v)
			resp, doc, body := e.post("/ui/endpoints/proxmox", v)
			if resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#"+c.field+"-error").Length() != 1 {
				t.Fatalf("status %d, error on %s: %d", resp.StatusCode, c.field, doc.Find("#"+c.field+"-error").Length())
			}
			if strings.Contains(body, "s3cret-pw") {
				t.Fatal("the re-rendered form contains the password")
			}
		})
	}
	resp, _, _ := e.post("/ui/endpoints/proxmox", base())
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	eps, _ := e.st.ProxmoxEndpoints(context.Background())
	if len(eps) != 1 || eps[0].IPAddress != "10.0.0.5" || eps[0].Password != "s3cret-pw" {
		t.Fatalf("stored %+v", eps)
	}
	loc := resp.Header.Get("Location")
	resp, doc := e.get(loc)
	if resp.StatusCode != http.StatusOK || strings.Contains(doc.Text(), "s3cret-pw") {
		t.Fatal("edit page shows the password")
	}
	if v, _ := doc.Find("#password").Attr("value"); v != "" {
		t.Fatalf("password input carries %q", v)
	}
	if got := text(doc, `[data-testid="password-state"]`); !strings.HasPrefix(got, "(set") {
		t.Errorf("password state %q", got)
	}
	// An update with an empty password keeps the stored one.
	v := base()
	v.Set("password", "")
	v.Set("name", "pve-renamed")
	if resp, _, _ := e.post(loc, v); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("update: %d", resp.StatusCode)
	}
	ep, _ := e.st.ProxmoxEndpoint(context.Background(), eps[0].ID)
	if ep.Name != "pve-renamed" || ep.Password != "s3cret-pw" {
		t.Fatalf("after update %q %q", ep.Name, ep.Password)
	}
	// Test connection shows the version.
	resp, doc, _ = e.post(loc+"/test", url.Values{"_csrf": {tok}})
	if resp.StatusCode != http.StatusOK || text(doc, `[data-testid="test-result"]`) != "Reachable , version 8.3.2" && !strings.Contains(text(doc, `[data-testid="test-result"]`), "8.3.2") {
		t.Fatalf("test: %d %q", resp.StatusCode, text(doc, `[data-testid="test-result"]`))
	}
	_, doc = e.get("/ui/endpoints")
	var states []string
	doc.Find(`[data-testid="endpoint-row-proxmox"] [data-testid="secret-state"]`).Each(func(_ int, s *goquery.Selection) { states = append(states, s.Text()) })
	if got := strings.Join(states, "; "); got != "password: set; token value: not set" {
		t.Errorf("secret states %q", got)
	}
	// The NetBox label is the key the endpoint got at creation: a rename keeps it.
	if got := text(doc, `[data-testid="endpoint-row-proxmox"] [data-testid="endpoint-label"] code`); got != eps[0].Key || got == "" || got == "pve-renamed" {
		t.Errorf("endpoint label %q, want the creation key %q", got, eps[0].Key)
	}
	// The NetBox endpoint is a singleton, v2 needs both halves.
	nb := url.Values{"_csrf": {tok}, "name": {"nb"}, "domain": {"netbox.example"}, "port": {"443"}, "token_version": {"v2"}, "token": {"secret-half"}}
	if resp, doc, _ := e.post("/ui/endpoints/netbox", nb); resp.StatusCode != http.StatusUnprocessableEntity || doc.Find("#token_key-error").Length() != 1 {
		t.Fatalf("v2 without key: %d", resp.StatusCode)
	}
	nb.Set("token_key", "key-half")
	if resp, _, _ := e.post("/ui/endpoints/netbox", nb); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("netbox create: %d", resp.StatusCode)
	}
	if resp, doc, _ := e.post("/ui/endpoints/netbox", nb); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(text(doc, "#name-error"), "only one") {
		t.Fatalf("second netbox endpoint: %d", resp.StatusCode)
	}
	// Delete.
	if resp, _, _ := e.post(loc+"/delete", url.Values{"_csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if eps, _ := e.st.ProxmoxEndpoints(context.Background()); len(eps) != 0 {
		t.Fatal("endpoint not deleted")
	}
}

func TestEndpointNamesAreEscaped(t *testing.T) {
	e := newEnv(t, nil)
	e.signIn("")
	if _, err := e.st.CreateProxmoxEndpoint(context.Background(), store.ProxmoxEndpoint{Name: `<script>alert(1)</script>`, IPAddress: "10.0.0.1", Port: 8006, Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	resp, err := e.c.Get(e.url("/ui/endpoints"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	if strings.Contains(b.String(), "<script>alert") || !strings.Contains(b.String(), "&lt;script&gt;") {
		t.Fatal("endpoint name not escaped")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Fatalf("CSP %q", csp)
	}
}

func TestKeysCreateOnceDeactivateDeleteButNotOwn(t *testing.T) {
	e := newEnv(t, nil)
	raw := e.signIn("")
	own, _, _ := e.st.VerifyKey(context.Background(), raw)
	tok := e.csrfOf("/ui/keys")
	resp, doc, _ := e.post("/ui/keys", url.Values{"_csrf": {tok}, "label": {"plugin"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	newRaw, _ := doc.Find(`[data-testid="new-key-value"]`).Attr("value")
	id, ok, _ := e.st.VerifyKey(context.Background(), newRaw)
	if !ok {
		t.Fatal("created key does not verify")
	}
	_, doc = e.get("/ui/keys")
	if doc.Find(`[data-testid="key-row"]`).Length() != 2 || strings.Contains(doc.Text(), newRaw) {
		t.Fatal("keys list wrong or shows a key")
	}
	if resp, _, _ := e.post("/ui/keys/"+i64(own)+"/deactivate", url.Values{"_csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatal(resp.StatusCode)
	}
	if _, ok, _ := e.st.VerifyKey(context.Background(), raw); !ok {
		t.Fatal("the session's own key was deactivated")
	}
	e.post("/ui/keys/"+i64(id)+"/deactivate", url.Values{"_csrf": {tok}})
	if _, ok, _ := e.st.VerifyKey(context.Background(), newRaw); ok {
		t.Fatal("deactivate did not")
	}
	e.post("/ui/keys/"+i64(id)+"/delete", url.Values{"_csrf": {tok}})
	if keys, _ := e.st.Keys(context.Background()); len(keys) != 1 {
		t.Fatalf("%d keys after delete", len(keys))
	}
}

// sseReader reads server-sent events.
type sseReader struct{ sc *bufio.Scanner }

func newSSEReader(resp *http.Response) *sseReader {
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	return &sseReader{sc: sc}
}

// next returns the next event's name and data.
func (r *sseReader) next(t *testing.T) (string, string) {
	t.Helper()
	var name string
	var data []string
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		case line == "" && name != "":
			return name, strings.Join(data, "\n")
		}
	}
	t.Fatalf("stream ended: %v", r.sc.Err())
	return "", ""
}

func TestSyncStartStreamsProgressUntilEveryStageIsDone(t *testing.T) {
	e := newEnv(t, nil)
	e.signIn("")
	tok := e.csrfOf("/ui/sync")
	_, doc := e.get("/ui/sync")
	if doc.Find(`select[name="stage"] option`).Length() != 3 {
		t.Fatal("stage choices missing")
	}
	resp, _, _ := e.post("/ui/sync", url.Values{"_csrf": {tok}, "endpoint": {"all"}, "stage": {"all"}, "dry_run": {"1"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/sync/") {
		t.Fatalf("start: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := e.sync.started; len(got) != 1 || !got[0].DryRun || got[0].Trigger != "dashboard" || got[0].Stage != "" {
		t.Fatalf("requests %+v", got)
	}
	runPath := resp.Header.Get("Location")
	_, doc = e.get(runPath)
	if doc.Find(`[sse-connect]`).Length() != 1 || doc.Find(`[data-testid="sync-cancel"]`).Length() != 1 {
		t.Fatal("live run page lacks its stream or cancel button")
	}
	var id int64
	for _, r := range mustRuns(t, e.st) {
		id = r.ID
	}
	// Cancel reaches the engine.
	e.post(runPath+"/cancel", url.Values{"_csrf": {tok}})
	if len(e.sync.cancelled) != 1 || e.sync.cancelled[0] != id {
		t.Fatalf("cancelled %v", e.sync.cancelled)
	}
	// The engine reports two stages; the run then finishes in the store.
	feed := e.sync.feed(id)
	feed <- SyncEvent{Type: EventStageStarted, Stage: "devices"}
	feed <- SyncEvent{Type: EventItem, Stage: "devices", Object: "node pve1", Counts: StageCounts{Total: 2, Created: 1}}
	feed <- SyncEvent{Type: EventWarning, Message: "node pve2 has no IP"}

	stream, err := e.c.Get(e.url(runPath + "/stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	if ct := stream.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	rd := newSSEReader(stream)
	if name, data := rd.next(t); name != "progress" || !strings.Contains(data, "Waiting for the first stage") {
		t.Fatalf("first event %s: %s", name, data)
	}
	// The three queued events arrive folded into one render.
	name, live := rd.next(t)
	if name != "progress" || !strings.Contains(live, "node pve2 has no IP") || !strings.Contains(live, "Working on node pve1") || !strings.Contains(live, `<progress value="1" max="2"`) {
		t.Fatalf("live progress lacks the warning, current item or progress bar:\n%s", live)
	}
	ctx := context.Background()
	now := time.Now()
	counts, _ := json.Marshal(map[string]any{"devices": map[string]int{"created": 2, "updated": 0, "unchanged": 3, "failed": 0}})
	_ = e.st.AddStageResult(ctx, id, store.StageResult{Stage: "devices", StartedAt: now, FinishedAt: now.Add(time.Second), OK: true, Counts: counts})
	_ = e.st.AddStageResult(ctx, id, store.StageResult{Stage: "virtual-machines", StartedAt: now, FinishedAt: now.Add(time.Second), OK: true, Counts: json.RawMessage(`{"created":4,"updated":1,"unchanged":0,"failed":0}`)})
	summary := json.RawMessage(`{"netbox":{"requests":10,"writes":7},"proxmox":{"requests":3},"objects":{"devices":{"created":2,"unchanged":3},"virtual_machines":{"created":4,"updated":1}},"plan":{"changes":[{"op":"create","model":"virtualization.virtualmachine","label":"vm 100","fields":[{"field":"name","old":null,"new":"web"}]}]}}`)
	_ = e.st.FinishRun(ctx, id, now.Add(2*time.Second), "ok", summary, "")
	feed <- SyncEvent{Type: EventStageFinished, Stage: "devices", Counts: StageCounts{Created: 2, Unchanged: 3}}
	feed <- SyncEvent{Type: EventRunFinished, Status: "ok"}

	// The stage's end and the run's end arrive folded into one render, or as two when the
	// stream renders between them: the last progress before done is the final one.
	name, final := rd.next(t)
	if name != "progress" {
		t.Fatalf("event %s, want the final progress", name)
	}
	next, data := rd.next(t)
	if next == "progress" { // rendered apart: this one is the run's end
		final = data
		next, _ = rd.next(t)
	}
	if next != "done" {
		t.Fatalf("event %s after the final progress, want done", next)
	}
	for _, want := range []string{`<tr data-stage="devices">`, `<tr data-stage="virtual-machines">`, `data-created="2"`, "3 unchanged", `data-created="4" data-updated="1"`, `data-live="false"`, `data-op="create"`, "vm 100", "node pve2 has no IP", `<td>name</td><td class="op-delete">∅</td><td class="op-create">&#34;web&#34;</td>`} {
		if !strings.Contains(final, want) {
			t.Errorf("final progress lacks %q:\n%s", want, final)
		}
	}
	// History draws the finished run.
	_, doc = e.get("/ui/history")
	chart := doc.Find(`svg[data-testid="runs-chart"]`)
	if chart.Find("circle").Length() != 3 || chart.Find(`[data-testid="x-tick"]`).Length() == 0 || chart.Find(`[data-testid="y-tick"]`).Length() != 9 {
		t.Fatalf("history chart: %d marks, %d time ticks, %d value ticks", chart.Find("circle").Length(), chart.Find(`[data-testid="x-tick"]`).Length(), chart.Find(`[data-testid="y-tick"]`).Length())
	}
	if tip := chart.Find("circle title").First().Text(); !strings.Contains(tip, "10 NetBox requests · 7 writes") || !strings.Contains(tip, "2.0 s") {
		t.Errorf("hover value %q", tip)
	}
	if row := text(doc, `[data-testid="run-row"]`); !strings.Contains(row, "+6") || !strings.Contains(row, "dashboard") {
		t.Errorf("history row %q lacks its counts or trigger", row)
	}
}

// A finished run's page: matrix cells per endpoint and stage that add up to
// the summary, changes grouped by kind with links to NetBox, skips apart,
// and the filter (without script: the server hides what does not match).
func TestRunSummaryMatrixAndFilter(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.NetBoxURL = func(context.Context) string { return "https://netbox.example" } })
	e.signIn("")
	ctx, now := context.Background(), time.Now()
	id := e.startRun(t, now)
	for _, sr := range []struct{ name, counts string }{
		{"pve-a: devices", `{"devices":{"created":1,"unchanged":2}}`},
		{"pve-a: virtual-machines", `{"virtual_machines":{"updated":1,"orphaned":1,"failed":1}}`},
		{"pve-b: devices", `{"devices":{"created":1}}`},
	} {
		_ = e.st.AddStageResult(ctx, id, store.StageResult{Stage: sr.name, StartedAt: now, FinishedAt: now, OK: true, Counts: json.RawMessage(sr.counts)})
	}
	summary := `{"ok":false,"netbox":{"requests":30,"writes":5},"objects":{"devices":{"created":2,"unchanged":2},"virtual_machines":{"updated":1,"orphaned":1,"failed":1}},
		"errors":["vm web2: NetBox said no"],"warnings":["qemu/101: guest agent: not running"],
		"plan":{"changes":[
		{"op":"create","stage":"devices","endpoint":"pve-a","model":"dcim/devices","label":"node a1","id":7,"fields":[{"field":"name","old":null,"new":"a1"}]},
		{"op":"create","stage":"devices","endpoint":"pve-b","model":"dcim/devices","label":"node b1","id":8},
		{"op":"update","stage":"virtual-machines","endpoint":"pve-a","model":"virtualization/virtual-machines","label":"vm web","id":12,"fields":[{"field":"vcpus","old":1,"new":2}]},
		{"op":"orphan","stage":"virtual-machines","endpoint":"pve-a","model":"virtualization/virtual-machines","label":"vm old","id":13},
		{"op":"update","stage":"virtual-machines","endpoint":"pve-a","model":"virtualization/virtual-machines","label":"vm web2","error":"NetBox said no"},
		{"op":"skip","stage":"virtual-machines","endpoint":"pve-a","model":"virtualization/virtual-machines","label":"vm tpl","reason":"no cluster"}]}}`
	_ = e.st.FinishRun(ctx, id, now.Add(time.Second), "failed", json.RawMessage(summary), "")
	path := "/ui/sync/" + strconv.FormatInt(id, 10)

	_, doc := e.get(path)
	sum := map[string]int{}
	doc.Find(`[data-testid="matrix-cell"]`).Each(func(_ int, c *goquery.Selection) {
		for _, k := range []string{"created", "updated", "deleted", "failed"} {
			n, _ := strconv.Atoi(c.AttrOr("data-"+k, "x"))
			sum[k] += n
		}
	})
	tot := doc.Find(`[data-testid="run-totals"]`)
	for _, k := range []string{"created", "updated", "deleted", "failed"} {
		if strconv.Itoa(sum[k]) != tot.AttrOr("data-"+k, "") {
			t.Errorf("matrix %s %d, summary %s", k, sum[k], tot.AttrOr("data-"+k, ""))
		}
	}
	if sum["created"] != 2 || sum["updated"] != 2 || sum["failed"] != 1 || doc.Find(`[data-testid="matrix-cell"]`).Length() != 4 {
		t.Errorf("matrix sums %v over %d cells", sum, doc.Find(`[data-testid="matrix-cell"]`).Length())
	}
	if got := doc.Find(`[data-testid="matrix-cell"][data-endpoint="pve-a"] a`).First().AttrOr("href", ""); got != path+"?endpoint=pve-a&stage=devices#changes" {
		t.Errorf("cell link %q", got)
	}
	if !strings.Contains(text(doc, `[data-testid="run-warnings"]`), "guest agent") || !strings.Contains(text(doc, `[data-testid="run-errors"]`), "NetBox said no") {
		t.Error("warnings or errors missing on top")
	}
	if doc.Find(`[data-change]`).Length() != 5 || doc.Find(`[data-change][hidden]`).Length() != 0 || doc.Find("details.pbx-kind").Length() != 2 {
		t.Errorf("%d changes (%d hidden) in %d kinds", doc.Find(`[data-change]`).Length(), doc.Find(`[data-change][hidden]`).Length(), doc.Find("details.pbx-kind").Length())
	}
	if strings.Contains(text(doc, `[data-testid="run-changes"]`), "vm tpl") || !strings.Contains(text(doc, `[data-testid="run-skipped"]`), "no cluster") {
		t.Error("the skipped object is listed among the changes")
	}
	if href := doc.Find(`[data-change] a.pbx-nb`).First().AttrOr("href", ""); href != "https://netbox.example/dcim/devices/7/" {
		t.Errorf("NetBox link %q", href)
	}
	if doc.Find(`#run-progress progress`).Length() != 0 {
		t.Error("progress bars on a finished run")
	}

	for _, c := range []struct {
		query string
		shown []string
	}{
		{"?op=update", []string{"vm web"}},
		{"?op=failed", []string{"vm web2"}},
		{"?q=VCPUS", []string{"vm web"}},
		{"?endpoint=pve-b&stage=devices", []string{"node b1"}},
		{"?q=nothing-like-this", nil},
	} {
		_, doc := e.get(path + c.query)
		var shown []string
		doc.Find(`[data-change]:not([hidden])`).Each(func(_ int, s *goquery.Selection) {
			shown = append(shown, strings.TrimSpace(s.Find("summary").Contents().Not("span, small, a").Text()))
		})
		if strings.Join(shown, "|") != strings.Join(c.shown, "|") {
			t.Errorf("%s shows %q, want %q", c.query, shown, c.shown)
		}
		if _, hidden := doc.Find(`[data-testid="no-match"]`).Attr("hidden"); hidden == (len(c.shown) == 0) {
			t.Errorf("%s: the no-match note is wrong", c.query)
		}
	}
}

// A 10,000-guest run stores a bounded summary (some changes per kind) and its full change
// list apart: the run page shows every change from that list, and a filter finds a change
// that is neither in the summary nor among the first page of its kind.
func TestRunPageReadsTheFullChangeListOfABoundedSummary(t *testing.T) {
	e := newEnv(t, nil)
	e.signIn("")
	const n = maxPerKind + 300
	var all []string
	for i := range n {
		all = append(all, fmt.Sprintf(`{"op":"create","stage":"virtual-machines","endpoint":"pve-a","model":"virtualization/virtual-machines","label":"vm g%04d","id":%d}`, i, i+1))
	}
	path := e.boundedRun(t, all[:2], `{"virtualization/virtual-machines":`+strconv.Itoa(n-2)+`}`, all)

	_, doc := e.get(path)
	if got := doc.Find(`[data-change]`).Length(); got != maxPerKind {
		t.Errorf("%d changes rendered, want the first %d of %d", got, maxPerKind, n)
	}
	if !strings.Contains(text(doc, `[data-testid="run-changes"]`), strconv.Itoa(n)) {
		t.Errorf("the page does not count all %d changes: %q", n, text(doc, `[data-testid="run-changes"] h2`))
	}
	_, doc = e.get(path + "?q=g0750")
	shown := doc.Find(`[data-change]:not([hidden])`)
	if shown.Length() != 1 || !strings.Contains(shown.Text(), "vm g0750") {
		t.Errorf("filter for a change beyond the summary shows %d: %q", shown.Length(), shown.Text())
	}
}

// A run's stored list is read one change at a time: the page lists at most maxPerKind
// skipped objects (counting all and saying where the rest are) and shows the field diff
// of a listed change that only the stored list holds.
func TestRunPageBoundsSkippedObjectsAndReadsStoredFields(t *testing.T) {
	e := newEnv(t, nil)
	e.signIn("")
	const skips = maxPerKind + 7
	all := []string{`{"op":"create","model":"virtualization/virtual-machines","label":"vm first","id":1}`}
	for i := range skips {
		all = append(all, fmt.Sprintf(`{"op":"skip","model":"virtualization/virtual-disks","label":"disk %04d","reason":"no size"}`, i))
	}
	all = append(all, `{"op":"update","model":"virtualization/virtual-machines","label":"vm late","id":2,"fields":[{"field":"vcpus","old":2,"new":4},{"field":"comments","old":null,"new":"<b>big</b>"}]}`)
	_, doc := e.get(e.boundedRun(t, all[:1], `{"virtualization/virtual-machines":1,"virtualization/virtual-disks":`+strconv.Itoa(skips)+`}`, all))
	sk := doc.Find(`[data-testid="run-skipped"]`)
	if got := sk.Find("li").Not(`[data-testid="skipped-more"]`).Length(); got != maxPerKind {
		t.Errorf("%d skipped objects listed, want %d", got, maxPerKind)
	}
	if !strings.Contains(sk.Find("summary").Text(), "("+strconv.Itoa(skips)+")") || !strings.Contains(text(doc, `[data-testid="skipped-more"]`), "7 more") {
		t.Errorf("skipped objects: %q, %q", sk.Find("summary").Text(), text(doc, `[data-testid="skipped-more"]`))
	}
	if !strings.Contains(text(doc, `[data-testid="run-changes"] h2`), "(2)") {
		t.Errorf("changes heading %q, want 2 changes", text(doc, `[data-testid="run-changes"] h2`))
	}
	var cells []string
	doc.Find(`[data-change] table.pbx-fields td`).Each(func(_ int, s *goquery.Selection) { cells = append(cells, s.Text()) })
	if got := strings.Join(cells, "|"); got != `vcpus|2|4|comments|∅|"<b>big</b>"` {
		t.Errorf("field diff of the stored change: %q", got)
	}
}

// boundedRun stores a finished run as syncrun does when its summary is bounded: the
// summary lists listed (changes as JSON) and omitted (per model), the whole list all is
// stored apart. It returns the run page's path.
func (e *env) boundedRun(t *testing.T, listed []string, omitted string, all []string) string {
	t.Helper()
	ctx, now := context.Background(), time.Now()
	id := e.startRun(t, now)
	summary := `{"ok":true,"plan":{"changes":[` + strings.Join(listed, ",") + `],"omitted":` + omitted + `}}`
	if err := e.st.FinishRun(ctx, id, now.Add(time.Second), "ok", json.RawMessage(summary), ""); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SaveRunChanges(ctx, id, len(all), json.RawMessage("["+strings.Join(all, ",")+"]")); err != nil {
		t.Fatal(err)
	}
	return "/ui/sync/" + strconv.FormatInt(id, 10)
}

// startRun stores a scheduled run of every endpoint, started at now.
func (e *env) startRun(t *testing.T, now time.Time) int64 {
	t.Helper()
	id, err := e.st.StartRun(context.Background(), store.Run{StartedAt: now, Trigger: "schedule", Scope: "all"})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustRuns(t *testing.T, st *store.Store) []store.Run {
	runs, err := st.Runs(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func TestSyncPageSaysEngineNotWired(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.Sync = nil })
	e.signIn("")
	_, doc := e.get("/ui/sync")
	if doc.Find(`[data-testid="sync-not-wired"]`).Length() != 1 || doc.Find(`[data-testid="sync-form"]`).Length() != 0 {
		t.Fatal("unwired sync page offers a form")
	}
}

func TestOverviewAndTLSPages(t *testing.T) {
	dir := t.TempDir()
	tm, err := certs.New(context.Background(), certs.Config{Mode: certs.ModeLocal, DataDir: dir, Names: []string{"proxbox.test"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tm.Close)
	e := newEnv(t, func(d *Deps) { d.TLS = tm })
	e.signIn("")
	if _, err := e.st.CreateProxmoxEndpoint(context.Background(), store.ProxmoxEndpoint{Name: "pve1", IPAddress: "10.0.0.1", Port: 8006, Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	_ = e.st.AppendLogs(context.Background(), []store.LogEntry{{Time: time.Now(), Level: "ERROR", Module: "sync", Message: "NetBox said 400: name taken"}, {Time: time.Now(), Level: "INFO", Message: "hello"}})
	_, doc := e.get("/ui/")
	if got := text(doc, `[data-testid="tls-summary"] .pbx-stat`); got != "local" {
		t.Errorf("TLS mode %q", got)
	}
	if doc.Find(`[data-testid="endpoint-proxmox"] [hx-get="/ui/probe/proxmox/1"]`).Length() != 1 {
		t.Error("no lazy probe for the endpoint")
	}
	if !strings.Contains(text(doc, `[data-testid="recent-errors"]`), "name taken") || strings.Contains(text(doc, `[data-testid="recent-errors"]`), "hello") {
		t.Error("recent errors wrong")
	}
	_, doc = e.get("/ui/probe/proxmox/1")
	if !strings.Contains(text(doc, `[data-testid="probe-result"]`), "8.3.2") {
		t.Errorf("probe %q", text(doc, `[data-testid="probe-result"]`))
	}
	_, doc = e.get("/ui/tls")
	if got := text(doc, `[data-testid="root-fingerprint"]`); got != tm.RootFingerprint() || got == "" {
		t.Errorf("fingerprint %q", got)
	}
	if href, _ := doc.Find(`[data-testid="ca-download"]`).Attr("href"); href != "/ca.pem" {
		t.Errorf("CA link %q", href)
	}
	if !strings.Contains(doc.Text(), "update-ca-certificates") || !strings.Contains(doc.Text(), "REQUESTS_CA_BUNDLE") {
		t.Error("trust instructions missing")
	}
}

func TestLogsFilterByLevelAndText(t *testing.T) {
	e := newEnv(t, nil)
	e.signIn("")
	_ = e.st.AppendLogs(context.Background(), []store.LogEntry{
		{Time: time.Now(), Level: "DEBUG", Message: "cache hit"},
		{Time: time.Now(), Level: "WARNING", Message: "cache slow"},
		{Time: time.Now(), Level: "ERROR", Message: "netbox down"},
	})
	cases := []struct {
		query string
		want  int
	}{{"", 3}, {"?level=WARNING", 2}, {"?level=WARNING&q=cache", 1}, {"?q=CACHE", 2}, {"?level=bogus", 3}}
	for _, c := range cases {
		_, doc := e.get("/ui/logs" + c.query)
		// The sign-in itself logs nothing into the store here (no pipeline).
		if got := doc.Find(`[data-testid="log-row"]`).Length(); got != c.want {
			t.Errorf("%q: %d rows, want %d", c.query, got, c.want)
		}
	}
}

func TestStaticAssetsAreServedWithoutSession(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/ui/static/vendor/htmx.min.js", "/ui/static/vendor/htmx-ext-sse.min.js", "/ui/static/vendor/pico.min.css", "/ui/static/app.css", "/ui/static/app.js"} {
		resp, err := e.c.Get(e.url(p))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := e.get("/ui/static/vendor/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("directory listing: %d", resp.StatusCode)
	}
}

// The TLS page shows certs' warning when the interface addresses could not be
// read (the leaf then lacks the host's IPs), in the page's language.
func TestTLSPageShowsNamesWarning(t *testing.T) {
	vm := tlsVM{Enabled: true, Status: certs.Status{Mode: certs.ModeLocal, Names: []string{"localhost"},
		NamesWarning: "cannot read the interface addresses (netlink refused)"}}
	for _, lang := range []Lang{English, Portuguese} {
		var buf strings.Builder
		ctx := withLang(context.Background(), lang)
		if err := tlsPage(pageCtx{Lang: lang, SignedIn: true}, vm).Render(ctx, &buf); err != nil {
			t.Fatal(err)
		}
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(buf.String()))
		if err != nil {
			t.Fatal(err)
		}
		row := text(doc, `[data-testid="tls-names-warning"]`)
		if !strings.Contains(row, "netlink refused") || !strings.Contains(row, T(lang, "tls.namesWarning")) {
			t.Errorf("%s: warning row %q", lang, row)
		}
	}
	var buf strings.Builder
	vm.Status.NamesWarning = ""
	_ = tlsPage(pageCtx{Lang: English}, vm).Render(withLang(context.Background(), English), &buf)
	if strings.Contains(buf.String(), "tls-names-warning") {
		t.Error("warning row without a warning")
	}
}

// The overview's inventory per endpoint comes from the stored runs (each
// stage's latest result, the last read's cluster), and it names the next
// scheduled sync.
func TestOverviewInventoryAndNextSync(t *testing.T) {
	next := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	e := newEnv(t, func(d *Deps) { d.NextSync = func() time.Time { return next } })
	e.signIn("")
	ctx := context.Background()
	now := time.Now()
	record := func(stages map[string]string, summary string) {
		id, err := e.st.StartRun(ctx, store.Run{StartedAt: now, Trigger: "schedule", Scope: "all"})
		if err != nil {
			t.Fatal(err)
		}
		for name, counts := range stages {
			_ = e.st.AddStageResult(ctx, id, store.StageResult{Stage: name, StartedAt: now, FinishedAt: now, OK: true, Counts: json.RawMessage(counts)})
		}
		_ = e.st.FinishRun(ctx, id, now, "ok", json.RawMessage(summary), "")
	}
	// A full run, then a run of one stage that found one more IP.
	record(map[string]string{
		"pve-a: devices":          `{"devices":{"created":2,"unchanged":1},"sites":{"unchanged":1}}`,
		"pve-a: virtual-machines": `{"virtual_machines":{"created":5,"unchanged":4,"orphaned":1}}`,
		"pve-a: ip-addresses":     `{"ip_addresses":{"created":7}}`,
		"pve-a: vm-backups":       `{"backups":{"unchanged":3}}`,
	}, `{"ok":true,"inventory":{"pve-a":{"cluster":"prod","nodes":3,"vms":7,"containers":2,"complete":true}}}`)
	record(map[string]string{"pve-a: ip-addresses": `{"ip_addresses":{"created":1,"unchanged":7}}`},
		`{"ok":true,"inventory":{"pve-a":{"cluster":"prod","nodes":3,"vms":7,"containers":2,"complete":true}}}`)

	_, doc := e.get("/ui/")
	row := doc.Find(`[data-testid="inventory-row"][data-endpoint="pve-a"]`)
	if row.Length() != 1 {
		t.Fatalf("inventory rows: %d", doc.Find(`[data-testid="inventory-row"]`).Length())
	}
	var cells []string
	row.Find("td").Each(func(_ int, s *goquery.Selection) { cells = append(cells, strings.Join(strings.Fields(s.Text()), " ")) })
	want := []string{"pve-a", "prod", "3", "10 (7 VMs, 2 containers)", "8", "3", "1", "Run 2"}
	if strings.Join(cells, "|") != strings.Join(want, "|") {
		t.Errorf("inventory row %q, want %q", cells, want)
	}
	if got := text(doc, `[data-testid="next-sync"]`); !strings.Contains(got, "2030-01-02 03:04:05 UTC") {
		t.Errorf("next sync %q", got)
	}
}

// The overview shows, per watched endpoint, whether it is watched and the
// last change with its delay to NetBox; without the watch, that it is off.
func TestOverviewWatch(t *testing.T) {
	seen := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	e := newEnv(t, func(d *Deps) {
		d.Watch = func() []WatchStatus {
			return []WatchStatus{
				{Endpoint: "pve-a", Watching: true, LastChange: []string{"memory qemu/101"}, LastChangeSeen: seen, LastDelay: 1500 * time.Millisecond},
				{Endpoint: "pve-b", Watching: true, LastError: "sync: NetBox 503", DriftedSince: seen},
			}
		}
	})
	e.signIn("")
	_, doc := e.get("/ui/")
	rows := doc.Find(`[data-testid="watch-endpoint"]`)
	if rows.Length() != 2 {
		t.Fatalf("watch rows: %d", rows.Length())
	}
	a, b := rows.Eq(0).Text(), rows.Eq(1).Text()
	if !strings.Contains(a, "pve-a") || !strings.Contains(a, "watching") || !strings.Contains(a, "memory qemu/101") || !strings.Contains(a, "1.5 s") {
		t.Errorf("pve-a row: %q", a)
	}
	if !strings.Contains(b, "503") || !strings.Contains(b, "No change seen") {
		t.Errorf("pve-b row: %q", b)
	}
	// A change seen and not yet in NetBox is flagged with its time; an endpoint in step is not.
	if d := rows.Eq(1).Find(`[data-testid="watch-drifted"]`).Text(); !strings.Contains(d, "2030-01-02") {
		t.Errorf("pve-b drift marker %q", d)
	}
	if rows.Eq(0).Find(`[data-testid="watch-drifted"]`).Length() != 0 {
		t.Error("pve-a flagged as drifted")
	}
	off := newEnv(t, nil)
	off.signIn("")
	if _, doc := off.get("/ui/"); !strings.Contains(doc.Find(`[data-testid="watch-summary"]`).Text(), "PROXBOX_WATCH=off") {
		t.Errorf("watch off not shown: %q", doc.Find(`[data-testid="watch-summary"]`).Text())
	}
}
