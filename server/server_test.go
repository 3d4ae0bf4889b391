package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/proxbox/proxbox/config"
	"github.com/proxbox/proxbox/netbox/getcache"
	"github.com/proxbox/proxbox/store"
)

type fixture struct {
	t    *testing.T
	srv  *Server
	st   *store.Store
	dir  string
	logs *bytes.Buffer
	now  time.Time
}

func newFixture(t *testing.T, mutate ...func(*config.Config)) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), dir, store.Options{KeyCost: 4}) // bcrypt.MinCost: the cost is not what these tests measure
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS = config.TLSOff
	for _, m := range mutate {
		m(&cfg)
	}
	f := &fixture{t: t, st: st, dir: dir, logs: &bytes.Buffer{}, now: time.Unix(1_800_000_000, 0)}
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.srv = New(Options{Config: cfg, Store: st, Logger: logger, Build: Build{Version: "test", Commit: "abc"}, Now: func() time.Time { return f.now }})
	return f
}

// do sends a request and decodes a JSON reply into out (when not nil).
func (f *fixture) do(method, path, key string, body any, out any) *httptest.ResponseRecorder {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = "10.20.30.40:5555"
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set(APIKeyHeader, key)
	}
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			f.t.Fatalf("%s %s: %d %q is not JSON: %v", method, path, rec.Code, rec.Body.String(), err)
		}
	}
	return rec
}

const adminKey = "0123456789abcdef0123456789abcdef-admin-key-for-tests-0000000000"

func (f *fixture) bootstrap() {
	f.t.Helper()
	if rec := f.do("POST", "/auth/register-key", "", map[string]string{"api_key": adminKey, "label": "test"}, nil); rec.Code != 201 {
		f.t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
}

func TestHealthVersionRoot(t *testing.T) {
	f := newFixture(t)
	var h map[string]any
	if rec := f.do("GET", "/health", "", nil, &h); rec.Code != 200 || h["status"] != "ready" || h["init_ok"] != true {
		t.Fatalf("health: %d %v", rec.Code, h)
	}
	var root map[string]any
	if rec := f.do("GET", "/", "", nil, &root); rec.Code != 200 || root["name"] != "proxbox" {
		t.Fatalf("root: %d %v", rec.Code, root)
	}
	f.bootstrap()
	var v map[string]string
	if rec := f.do("GET", "/version", adminKey, nil, &v); rec.Code != 200 || v["version"] < "0.0.13" || v["commit"] != "abc" {
		t.Fatalf("version: %d %v", rec.Code, v)
	}
}

func TestBootstrapAndKeys(t *testing.T) {
	f := newFixture(t)
	var bs map[string]bool
	f.do("GET", "/auth/bootstrap-status", "", nil, &bs)
	if !bs["needs_bootstrap"] || bs["has_db_keys"] {
		t.Fatalf("fresh: %v", bs)
	}
	var e map[string]any
	if rec := f.do("GET", "/auth/keys", "", nil, &e); rec.Code != 401 || !strings.Contains(e["detail"].(string), "API key") {
		t.Fatalf("no keys yet: %d %v", rec.Code, e)
	}
	if rec := f.do("POST", "/auth/register-key", "", map[string]string{"api_key": "too-short"}, &e); rec.Code != 400 {
		t.Fatalf("short key: %d", rec.Code)
	}
	f.bootstrap()
	if rec := f.do("POST", "/auth/register-key", "", map[string]string{"api_key": strings.Repeat("z", 64)}, &e); rec.Code != 409 {
		t.Fatalf("second register: %d %v", rec.Code, e)
	}
	f.do("GET", "/auth/bootstrap-status", "", nil, &bs)
	if bs["needs_bootstrap"] || !bs["has_db_keys"] {
		t.Fatalf("after: %v", bs)
	}
	var created struct {
		ID     int64  `json:"id"`
		RawKey string `json:"raw_key"`
	}
	if rec := f.do("POST", "/auth/keys", adminKey, nil, &created); rec.Code != 201 || len(created.RawKey) != 64 {
		t.Fatalf("create key: %d %+v", rec.Code, created)
	}
	if rec := f.do("GET", "/auth/keys", created.RawKey, nil, nil); rec.Code != 200 {
		t.Fatalf("new key refused: %d", rec.Code)
	}
	var list struct {
		Keys []map[string]any `json:"keys"`
	}
	f.do("GET", "/auth/keys", adminKey, nil, &list)
	if len(list.Keys) != 2 {
		t.Fatalf("keys: %v", list)
	}
	for _, k := range list.Keys {
		for _, field := range []string{"id", "label", "is_active", "created_at"} {
			if _, ok := k[field]; !ok {
				t.Fatalf("key lacks %s: %v", field, k)
			}
		}
		if _, ok := k["raw_key"]; ok {
			t.Fatal("list shows a raw key")
		}
	}
	if rec := f.do("POST", "/auth/keys/"+itoa(created.ID)+"/deactivate", adminKey, nil, nil); rec.Code != 200 {
		t.Fatalf("deactivate: %d", rec.Code)
	}
	if rec := f.do("GET", "/auth/keys", created.RawKey, nil, nil); rec.Code != 401 {
		t.Fatalf("deactivated key accepted: %d", rec.Code)
	}
	if rec := f.do("DELETE", "/auth/keys/"+itoa(created.ID), adminKey, nil, nil); rec.Code != 204 {
		t.Fatalf("delete: %d", rec.Code)
	}
	if rec := f.do("DELETE", "/auth/keys/"+itoa(created.ID), adminKey, nil, &e); rec.Code != 404 {
		t.Fatalf("delete twice: %d", rec.Code)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestLockoutAfterFiveBadKeys(t *testing.T) {
	f := newFixture(t)
	f.bootstrap()
	var e map[string]string
	// Requests without any key are refused but never lock anyone out.
	for i := 0; i < 10; i++ {
		if rec := f.do("GET", "/favicon.ico", "", nil, &e); rec.Code != 401 || !strings.Contains(e["detail"], "API key") {
			t.Fatalf("no key: %d %v", rec.Code, e)
		}
	}
	for i := 1; i <= 5; i++ {
		rec := f.do("GET", "/auth/keys", "wrong-key", nil, &e)
		if rec.Code != 401 || !strings.Contains(e["detail"], "API key") {
			t.Fatalf("attempt %d: %d %v", i, rec.Code, e)
		}
	}
	rec := f.do("GET", "/auth/keys", adminKey, nil, &e)
	if rec.Code != 429 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("sixth: %d %v %v", rec.Code, e, rec.Header())
	}
	f.now = f.now.Add(5*time.Minute + time.Second)
	if rec := f.do("GET", "/auth/keys", adminKey, nil, nil); rec.Code != 200 {
		t.Fatalf("after window: %d", rec.Code)
	}
}

// TestEveryProtectedRouteRefusesMissingKey walks the route table: every
// route not in the exempt list must answer 401 naming "API key".
func TestEveryProtectedRouteRefusesMissingKey(t *testing.T) {
	f := newFixture(t)
	// Every optional part wired, so every route the appliance can serve is walked.
	f.srv = New(Options{Config: f.srv.cfg, Store: f.st, Sync: &scriptedSyncer{}, Proxmox: &labProxmox{}, Now: func() time.Time { return f.now },
		Cache: getcache.New(getcache.Config{}), Metrics: http.NotFoundHandler(), CARootPEM: func() []byte { return nil }, UI: http.NotFoundHandler()})
	f.bootstrap()
	// /ws authenticates its first frame instead (close code 4001): TestLegacyWebSocket.
	exempt := map[string]bool{"/": true, "/health": true, "/ca.pem": true, "/openapi.json": true, "/docs": true, "/auth/bootstrap-status": true, "/auth/register-key": true, "/ws": true}
	checked := 0
	for _, r := range f.srv.Echo().Routes() {
		if r.Method == echo.RouteNotFound || exempt[r.Path] || strings.HasPrefix(r.Path, "/ui") || strings.HasPrefix(r.Path, "/static/") {
			continue
		}
		path := strings.NewReplacer(":id", "1", "*", "x").Replace(r.Path)
		for strings.Contains(path, "/:") {
			i := strings.Index(path, "/:")
			j := strings.IndexByte(path[i+1:], '/')
			if j < 0 {
				path = path[:i] + "/x"
			} else {
				path = path[:i] + "/x" + path[i+1+j:]
			}
		}
		f.now = f.now.Add(10 * time.Minute) // keep the lockout out of the way
		var e map[string]any
		rec := f.do(r.Method, path, "", nil, &e)
		if rec.Code != 401 || !strings.Contains(e["detail"].(string), "API key") {
			t.Errorf("%s %s without key: %d %v", r.Method, r.Path, rec.Code, e)
		}
		checked++
	}
	if checked < 55 {
		t.Fatalf("only %d protected routes checked", checked)
	}
	// Unknown paths are refused before they can 404.
	if rec := f.do("GET", "/no/such/path", "", nil, nil); rec.Code != 401 {
		t.Fatalf("unknown path without key: %d", rec.Code)
	}
}

func TestEndpointRoundTripKeepsSecretsOut(t *testing.T) {
	f := newFixture(t)
	f.bootstrap()
	const pw = "Pr0xm0x-P@ssw0rd-unique-314159"
	const nbtok = "abcdefabcdefabcdefabcdefabcdefabcdef0042"
	var body map[string]any
	// The plugin's Proxmox push: POST, list, PUT by name match.
	pve := map[string]any{"name": "PVE (nb:3)", "ip_address": "10.0.0.10", "domain": nil, "port": 8006, "username": "root@pam", "password": pw, "verify_ssl": false, "token_name": nil, "token_value": nil}
	rec := f.do("POST", "/proxmox/endpoints", adminKey, pve, &body)
	if rec.Code != 201 || body["name"] != "PVE (nb:3)" || body["password_set"] != true {
		t.Fatalf("create proxmox: %d %v", rec.Code, body)
	}
	id := itoa(int64(body["id"].(float64)))
	var list []map[string]any
	if rec := f.do("GET", "/proxmox/endpoints", adminKey, nil, &list); rec.Code != 200 || len(list) != 1 || list[0]["id"] == nil || list[0]["name"] != "PVE (nb:3)" || list[0]["label"] != "nb:3" {
		t.Fatalf("list: %v", list)
	}
	pve["port"] = "8007" // strings are accepted for numbers
	pve["verify_ssl"] = "True"
	if rec := f.do("PUT", "/proxmox/endpoints/"+id, adminKey, pve, &body); rec.Code != 200 || body["port"].(float64) != 8007 || body["verify_ssl"] != true {
		t.Fatalf("update: %d %v", rec.Code, body)
	}
	// Switching to a token with password null is valid.
	pve["password"], pve["token_name"], pve["token_value"] = nil, "sync", "11111111-2222-3333-4444-555555555555"
	if rec := f.do("PUT", "/proxmox/endpoints/"+id, adminKey, pve, &body); rec.Code != 200 || body["password_set"] != false || body["token_value_set"] != true {
		t.Fatalf("token switch: %d %v", rec.Code, body)
	}
	pve["password"] = pw
	pve["token_name"], pve["token_value"] = nil, nil
	f.do("PUT", "/proxmox/endpoints/"+id, adminKey, pve, nil)

	// The NetBox push: GET list, POST, then PUT.
	nb := map[string]any{"name": "NetBox Endpoint", "ip_address": "10.0.0.5", "domain": "", "port": 443, "verify_ssl": true, "token_version": "v1", "token": nbtok}
	if rec := f.do("GET", "/netbox/endpoint", adminKey, nil, &list); rec.Code != 200 || len(list) != 0 {
		t.Fatalf("empty netbox list: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("POST", "/netbox/endpoint", adminKey, nb, &body); rec.Code != 201 && rec.Code != 200 {
		t.Fatalf("create netbox: %d %v", rec.Code, body)
	}
	nbID := itoa(int64(body["id"].(float64)))
	if rec := f.do("POST", "/netbox/endpoint", adminKey, nb, &body); rec.Code != 409 {
		t.Fatalf("second netbox: %d", rec.Code)
	}
	nb["token"] = "" // the plugin resends every field; an empty token keeps the stored one
	nb["port"] = 8443
	if rec := f.do("PUT", "/netbox/endpoint/"+nbID, adminKey, nb, &body); rec.Code != 200 || body["token_set"] != true || body["port"].(float64) != 8443 {
		t.Fatalf("put netbox: %d %v", rec.Code, body)
	}
	nbRow, _ := f.st.NetBoxEndpoint(context.Background(), 1)
	if nbRow.Token.Reveal() != nbtok {
		t.Fatal("stored token changed by a PUT without token")
	}
	if rec := f.do("DELETE", "/netbox/endpoint/"+nbID, adminKey, nil, nil); rec.Code != 200 {
		t.Fatalf("delete netbox: %d", rec.Code)
	}
	if rec := f.do("GET", "/netbox/endpoint/"+nbID, adminKey, nil, &body); rec.Code != 404 {
		t.Fatalf("deleted netbox: %d", rec.Code)
	}
	if rec := f.do("DELETE", "/proxmox/endpoints/"+id, adminKey, nil, nil); rec.Code != 200 {
		t.Fatalf("delete proxmox: %d", rec.Code)
	}

	// The password is in no response, no log line, and nowhere on disk.
	if strings.Contains(f.logs.String(), pw) || strings.Contains(f.logs.String(), nbtok) {
		t.Fatal("a secret reached the log")
	}
	filepath.Walk(f.dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(pw)) || bytes.Contains(b, []byte(nbtok)) {
				t.Errorf("%s holds a secret in clear", p)
			}
		}
		return nil
	})
}

func TestEndpointValidation(t *testing.T) {
	f := newFixture(t)
	f.bootstrap()
	base := func() map[string]any {
		return map[string]any{"name": "pve", "ip_address": "10.0.0.10", "port": 8006, "username": "root@pam", "password": "x"}
	}
	cases := []struct {
		name   string
		change func(m map[string]any)
		status int
		want   string
	}{
		{"ok loopback", func(m map[string]any) { m["ip_address"] = "127.0.0.1" }, 201, ""},
		{"port zero", func(m map[string]any) { m["port"] = 0 }, 422, "port"},
		{"port high", func(m map[string]any) { m["port"] = 70000 }, 422, "port"},
		{"port text", func(m map[string]any) { m["port"] = "eighty" }, 422, "port"},
		{"bad host", func(m map[string]any) { m["ip_address"] = "not a host!" }, 400, "neither an IP"},
		{"link local", func(m map[string]any) { m["ip_address"] = "169.254.169.254" }, 400, "link-local"},
		{"v6 link local", func(m map[string]any) { m["ip_address"] = "fe80::1" }, 400, "link-local"},
		{"metadata name", func(m map[string]any) { m["domain"] = "metadata.google.internal" }, 400, "metadata"},
		{"no credentials", func(m map[string]any) { delete(m, "password") }, 400, "Provide password"},
		{"half token", func(m map[string]any) { delete(m, "password"); m["token_name"] = "t" }, 400, "together"},
		{"no name", func(m map[string]any) { delete(m, "name") }, 422, "name"},
		{"not json", nil, 422, "JSON object"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var e map[string]any
			var body any = "just a string"
			if tc.change != nil {
				m := base()
				m["name"] = "pve-" + itoa(int64(i))
				tc.change(m)
				body = m
			}
			rec := f.do("POST", "/proxmox/endpoints", adminKey, body, &e)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %v", rec.Code, tc.status, e)
			}
			if tc.want != "" && !strings.Contains(e["detail"].(string), tc.want) {
				t.Fatalf("detail %q lacks %q", e["detail"], tc.want)
			}
		})
	}
	if rec := f.do("POST", "/proxmox/endpoints", adminKey, map[string]any{"name": "pve-0", "ip_address": "10.0.0.1", "username": "root@pam", "password": "x"}, nil); rec.Code != 409 {
		t.Fatalf("duplicate name: %d", rec.Code)
	}
	nbCases := []struct {
		body   map[string]any
		status int
		want   string
	}{
		{map[string]any{"name": "nb", "ip_address": "10.0.0.5", "token_version": "v3", "token": "x"}, 400, "token_version"},
		{map[string]any{"name": "nb", "ip_address": "10.0.0.5", "token_version": "v1", "token": ""}, 400, "token is required"},
		{map[string]any{"name": "nb", "ip_address": "10.0.0.5", "token_version": "V2", "token": "secret"}, 400, "token_key"},
	}
	for _, tc := range nbCases {
		var e map[string]any
		if rec := f.do("POST", "/netbox/endpoint", adminKey, tc.body, &e); rec.Code != tc.status || !strings.Contains(e["detail"].(string), tc.want) {
			t.Errorf("%v: %d %v", tc.body, rec.Code, e)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	f := newFixture(t) // none trusted: X-Forwarded-For is ignored
	f.bootstrap()
	for i := 0; i < 5; i++ {
		req := httptest.NewRequest("GET", "/auth/keys", nil)
		req.RemoteAddr = "10.20.30.40:1"
		req.Header.Set(APIKeyHeader, "guess-"+itoa(int64(i)))
		req.Header.Set("X-Forwarded-For", "198.51.100."+itoa(int64(i)))
		f.srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
	}
	req := httptest.NewRequest("GET", "/auth/keys", nil)
	req.RemoteAddr = "10.20.30.40:1"
	req.Header.Set(APIKeyHeader, adminKey)
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 429 {
		t.Fatalf("spoofed X-Forwarded-For escaped the lockout: %d", rec.Code)
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, func(c *config.Config) { c.RateLimit = 3 })
	f.bootstrap()
	codes := []int{}
	for i := 0; i < 5; i++ {
		codes = append(codes, f.do("GET", "/auth/keys", adminKey, nil, nil).Code)
	}
	if codes[0] != 200 || codes[4] != 429 {
		t.Fatalf("codes %v", codes)
	}
	// Exempt paths are not counted.
	if rec := f.do("GET", "/health", "", nil, nil); rec.Code != 200 {
		t.Fatalf("health limited: %d", rec.Code)
	}
}

func TestRootSendsBrowsersToDashboardOnly(t *testing.T) {
	f := newFixture(t)
	f.srv = New(Options{Config: f.srv.cfg, Store: f.st, UI: http.NotFoundHandler()})
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/ui/" {
		t.Fatalf("browser: %d %v", rec.Code, rec.Header())
	}
	req = httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Accept", "*/*")
	rec = httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("plugin: %d %v", rec.Code, rec.Header())
	}
}

func TestOpenAPIListsRoutes(t *testing.T) {
	f := newFixture(t)
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	f.do("GET", "/openapi.json", "", nil, &doc)
	if _, ok := doc.Paths["/proxmox/endpoints/{id}"]["put"]; !ok {
		t.Fatalf("paths: %v", doc.Paths)
	}
}

func TestAdminLogsAndSignedURL(t *testing.T) {
	f := newFixture(t)
	f.bootstrap()
	ctx := context.Background()
	f.st.AppendLogs(ctx, []store.LogEntry{
		{Time: time.Now(), Level: "INFO", Message: "sync started", OperationID: "run-1"},
		{Time: time.Now(), Level: "ERROR", Message: "NetBox refused VM 101", OperationID: "run-1"},
		{Time: time.Now(), Level: "INFO", Message: "other"},
	})
	var out struct {
		Logs    []map[string]any  `json:"logs"`
		Total   int               `json:"total"`
		HasMore bool              `json:"has_more"`
		Active  map[string]string `json:"active_filters"`
	}
	if rec := f.do("GET", "/admin/logs?errors_only=true", adminKey, nil, &out); rec.Code != 200 || out.Total != 1 || out.Logs[0]["message"] != "NetBox refused VM 101" {
		t.Fatalf("errors_only: %d %+v", rec.Code, out)
	}
	f.do("GET", "/admin/logs?operation_id=run-1&limit=1", adminKey, nil, &out)
	if out.Total != 2 || len(out.Logs) != 1 || !out.HasMore || out.Active["operation_id"] != "run-1" {
		t.Fatalf("operation filter: %+v", out)
	}
	// Without a key the browser is refused, with a minted token it is let in until expiry.
	if rec := f.do("GET", "/admin/logs", "", nil, nil); rec.Code != 401 {
		t.Fatalf("no key: %d", rec.Code)
	}
	var tok map[string]string
	f.do("POST", "/admin/logs/token", adminKey, nil, &tok)
	if rec := f.do("GET", tok["logs_url"], "", nil, &out); rec.Code != 200 || out.Total != 3 {
		t.Fatalf("signed url: %d %+v", rec.Code, out)
	}
	if rec := f.do("GET", "/admin/logs?token="+tok["token"]+"x", "", nil, nil); rec.Code != 401 {
		t.Fatalf("tampered token: %d", rec.Code)
	}
	f.now = f.now.Add(16 * time.Minute)
	if rec := f.do("GET", tok["logs_url"], "", nil, nil); rec.Code != 401 {
		t.Fatalf("expired token: %d", rec.Code)
	}
}

func TestCacheRoutesAndLiveTuning(t *testing.T) {
	limits := getcache.Limits{TTL: 300 * time.Second, MaxEntries: 1234, MaxBytes: 7340032}
	f := newFixture(t)
	cache := getcache.New(getcache.Config{Limits: limits})
	newSrv := func() {
		f.srv = New(Options{Config: f.srv.cfg, Store: f.st, Cache: cache, CacheDefaults: limits, Now: func() time.Time { return f.now }})
		if err := f.srv.ApplyStoredCacheSettings(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	newSrv()
	f.bootstrap()
	var overview struct {
		Metrics map[string]any `json:"netbox_get_cache_metrics"`
		Sample  []any          `json:"netbox_get_cache_sample"`
	}
	if rec := f.do("GET", "/cache", adminKey, nil, &overview); rec.Code != 200 || overview.Metrics["max_entries"].(float64) != 1234 || overview.Metrics["ttl_seconds"].(float64) != 300 || overview.Metrics["max_bytes"].(float64) != 7340032 {
		t.Fatalf("/cache: %d %v", rec.Code, overview)
	}
	rec := f.do("GET", "/cache/metrics/prometheus", adminKey, nil, nil)
	if !strings.Contains(rec.Body.String(), " 1234") || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("prometheus: %s", rec.Body)
	}
	var e map[string]any
	for _, bad := range []map[string]any{{"ttl_seconds": -1}, {"max_entries": 0}, {"max_bytes": 100}} {
		if rec := f.do("PUT", "/cache/settings", adminKey, bad, &e); rec.Code != 422 {
			t.Fatalf("%v: %d %v", bad, rec.Code, e)
		}
	}
	var st map[string]any
	if rec := f.do("PUT", "/cache/settings", adminKey, map[string]any{"ttl_seconds": 30, "max_entries": 10, "max_bytes": 4096}, &st); rec.Code != 200 || st["source"] != "settings" {
		t.Fatalf("put: %d %v", rec.Code, st)
	}
	if cache.Limits().MaxEntries != 10 {
		t.Fatal("not applied at once")
	}
	// A restart keeps the tuning over the environment.
	cache.SetLimits(limits)
	newSrv()
	if cache.Limits().MaxEntries != 10 || cache.Limits().TTL != 30*time.Second {
		t.Fatalf("after restart: %+v", cache.Limits())
	}
	if rec := f.do("DELETE", "/cache/settings", adminKey, nil, &st); rec.Code != 200 || st["source"] != "environment" || cache.Limits().MaxEntries != 1234 {
		t.Fatalf("reset: %d %v %+v", rec.Code, st, cache.Limits())
	}
	var cleared map[string]string
	if rec := f.do("GET", "/clear-cache", adminKey, nil, &cleared); rec.Code != 200 || cleared["message"] != "All caches cleared" {
		t.Fatalf("clear: %d %v", rec.Code, cleared)
	}
}

func TestMetricsProtectedUnlessPublic(t *testing.T) {
	for _, public := range []bool{false, true} {
		f := newFixture(t, func(c *config.Config) { c.MetricsPublic = public })
		f.srv = New(Options{Config: f.srv.cfg, Store: f.st, Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "proxbox_up 1\n") })})
		f.bootstrap()
		rec := f.do("GET", "/metrics", "", nil, nil)
		if public && (rec.Code != 200 || !strings.Contains(rec.Body.String(), "proxbox_up")) {
			t.Fatalf("public metrics: %d", rec.Code)
		}
		if !public && rec.Code != 401 {
			t.Fatalf("protected metrics without key: %d", rec.Code)
		}
		if rec := f.do("GET", "/metrics", adminKey, nil, nil); rec.Code != 200 {
			t.Fatalf("metrics with key: %d", rec.Code)
		}
	}
}

// TestEveryRouteIsDocumented walks the router with every optional part
// wired and fails on a route that the OpenAPI document does not describe.
func TestEveryRouteIsDocumented(t *testing.T) {
	f := newFixture(t)
	f.srv = New(Options{Config: f.srv.cfg, Store: f.st, Sync: &scriptedSyncer{}, Proxmox: &labProxmox{},
		Cache: getcache.New(getcache.Config{}), Metrics: http.NotFoundHandler(), CARootPEM: func() []byte { return nil }})
	var doc struct {
		Paths map[string]map[string]struct {
			Summary string `json:"summary"`
		} `json:"paths"`
	}
	f.do("GET", "/openapi.json", "", nil, &doc)
	n := 0
	for _, r := range f.srv.Echo().Routes() {
		if r.Method == echo.RouteNotFound || strings.HasPrefix(r.Path, "/ui") {
			continue
		}
		n++
		op, ok := doc.Paths[openAPIPath(r.Path)][strings.ToLower(r.Method)]
		if strings.HasPrefix(r.Path, "/static") {
			continue
		}
		if !ok || op.Summary == "" {
			t.Errorf("%s %s is not documented in /openapi.json", r.Method, r.Path)
		}
	}
	if n < 60 {
		t.Fatalf("only %d routes walked", n)
	}
	rec := f.do("GET", "/docs", "", nil, nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `<redoc spec-url="/openapi.json"`) || !strings.Contains(rec.Body.String(), "/static/vendor/redoc.standalone.js") {
		t.Fatalf("/docs: %d", rec.Code)
	}
	rec = f.do("GET", "/static/vendor/redoc.standalone.js", "", nil, nil)
	if rec.Code != 200 || rec.Body.Len() < 100000 {
		t.Fatalf("redoc bundle not served: %d %d bytes", rec.Code, rec.Body.Len())
	}
}
