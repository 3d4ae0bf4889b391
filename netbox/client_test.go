package netbox

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	lab "github.com/proxbox/proxbox/lab/netbox"
)

func TestAuthHeader(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
		err  bool
	}{
		{"v1 default", Config{Token: "abc"}, "Token abc", false},
		{"v1 explicit", Config{TokenVersion: "v1", Token: " abc "}, "Token abc", false},
		{"v2 key without prefix", Config{TokenVersion: "v2", TokenKey: "k12", Token: "s"}, "Bearer nbt_k12.s", false},
		{"v2 key with prefix", Config{TokenVersion: "V2", TokenKey: "nbt_k12", Token: "s"}, "Bearer nbt_k12.s", false},
		{"v2 full token", Config{TokenVersion: "v2", Token: "nbt_k12.s"}, "Bearer nbt_k12.s", false},
		{"v2 without key", Config{TokenVersion: "v2", Token: "s"}, "", true},
		{"no token", Config{}, "", true},
		{"bad version", Config{TokenVersion: "v3", Token: "s"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := authHeader(tt.cfg)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("authHeader = %q, %v; want %q, err %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestParseBaseURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://nb.example:8443", "https://nb.example:8443"},
		{"https://nb.example/", "https://nb.example"},
		{"https://nb.example/api/", "https://nb.example"},
		{"http://nb.example/netbox/api", "http://nb.example/netbox"},
		{"ftp://nb.example", ""},
		{"nb.example", ""},
		{"", ""},
	}
	for _, tt := range tests {
		u, err := parseBaseURL(tt.in)
		got := ""
		if err == nil {
			got = u.String()
		}
		if got != tt.want {
			t.Errorf("parseBaseURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestAPIErrorMessages(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"field", 400, `{"name":["Virtual machine with this name already exists in cluster"]}`, "HTTP 400: name: Virtual machine with this name already exists in cluster"},
		{"detail", 403, `{"detail":"Invalid v1 token"}`, "HTTP 403: Invalid v1 token"},
		{"all", 400, `{"__all__":["Virtual machine name must be unique per cluster."]}`, "HTTP 400: Virtual machine name must be unique per cluster."},
		{"nested cf", 400, `{"custom_fields":{"x":["Custom field 'x' does not exist for this object type."]}}`, "HTTP 400: custom_fields.x: Custom field 'x' does not exist for this object type."},
		{"two fields sorted", 400, `{"status":["a"],"cluster":["b","c"]}`, "HTTP 400: cluster: b; c, status: a"},
		{"html", 502, `<html>Bad Gateway</html>`, "HTTP 502: <html>Bad Gateway</html>"},
		{"django 404 page", 404, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <title>Page Not Found | NetBox</title>\n</head><body>...</body></html>", "HTTP 404: HTML page: Page Not Found | NetBox"},
		{"netbox 500", 500, `{"error":"simulated failure","exception":"OperationalError","netbox_version":"4.6.8"}`, "HTTP 500: simulated failure"},
		{"empty", 404, ``, "HTTP 404: Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newAPIError(tt.status, []byte(tt.body)).Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	c, err := New(Config{URL: "http://x", Token: "t", RetryBase: 100 * time.Millisecond, MaxBackoff: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, jit := range []string{"low", "high"} {
		c.jitter = func(n int64) int64 {
			if jit == "low" {
				return 0
			}
			return n - 1
		}
		for attempt, wantMax := range []time.Duration{100, 200, 400, 800, 1600, 2000, 2000} {
			wantMax *= time.Millisecond
			if attempt >= 5 {
				wantMax = 2 * time.Second
			}
			d := c.retryDelay(attempt, nil)
			if d < wantMax/2 || d > wantMax {
				t.Errorf("%s jitter attempt %d: delay %v outside [%v, %v]", jit, attempt, d, wantMax/2, wantMax)
			}
		}
	}
	big, _ := New(Config{URL: "http://x", Token: "t", RetryBase: time.Hour, MaxBackoff: 90 * time.Minute})
	big.jitter = func(n int64) int64 { return n - 1 }
	if d := big.retryDelay(62, nil); d != 90*time.Minute {
		t.Errorf("attempt 62 with a 1h base: %v, want the 90m cap (no overflow)", d)
	}
	h := http.Header{"Retry-After": {"1"}}
	if d := c.retryDelay(0, h); d != time.Second {
		t.Errorf("Retry-After 1 with base 100ms: delay %v, want 1s", d)
	}
	h.Set("Retry-After", "3600")
	if d := c.retryDelay(0, h); d != 2*time.Second {
		t.Errorf("Retry-After 3600: delay %v, want the 2s cap", d)
	}
}

func TestAuthAgainstLab(t *testing.T) {
	var mu sync.Mutex
	var seen http.Header
	srv, ts := newLab(t, lab.Options{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = r.Header.Clone()
			mu.Unlock()
			h.ServeHTTP(w, r)
		})
	})
	mustCreate(t, srv, "dcim.site", map[string]any{"name": "Lab", "slug": "lab"})
	tests := []struct {
		name       string
		version    string
		key, token string
		wantAuth   string
		wantDetail string
	}{
		{"v1", "v1", "", tokV1, "Token " + tokV1, ""},
		{"v2", "v2", tokV2Key, tokV2, "Bearer " + tokV2Full, ""},
		{"v2 full", "v2", "", tokV2Full, "Bearer " + tokV2Full, ""},
		{"v1 bad", "v1", "", strings.Repeat("f", 40), "", "Invalid v1 token"},
		{"v2 bad", "v2", tokV2Key, strings.Repeat("x", 40), "", "Invalid v2 token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetStats()
			c, _ := newClient(t, ts.URL, func(cfg *Config) {
				cfg.TokenVersion, cfg.TokenKey, cfg.Token, cfg.Version = tt.version, tt.key, tt.token, "1.2.3"
			})
			sites, err := c.List(context.Background(), "dcim/sites", nil)
			if tt.wantDetail != "" {
				var ae *APIError
				if !errors.As(err, &ae) || ae.Status != 403 || ae.Detail != tt.wantDetail {
					t.Fatalf("err = %v, want 403 %q as *APIError", err, tt.wantDetail)
				}
				if n := srv.Stats().RequestsTotal; n != 1 {
					t.Fatalf("403 was sent %d times, want once (never retried)", n)
				}
				return
			}
			if err != nil || len(sites) != 1 || sites[0]["slug"] != "lab" {
				t.Fatalf("List = %v, %v", sites, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for k, want := range map[string]string{"Authorization": tt.wantAuth, "User-Agent": "proxbox/1.2.3",
				"Accept-Language": "en-US", "Accept": "application/json"} {
				if got := seen.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestTLS(t *testing.T) {
	srv := lab.New(lab.Options{Tokens: []lab.Token{{Value: tokV1}}, Logger: quiet})
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	ts.StartTLS()
	defer ts.Close()
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	tests := []struct {
		name   string
		verify bool
		roots  *x509.CertPool
		ok     bool
	}{
		{"verify with lab root", true, pool, true},
		{"no verification", false, nil, true},
		{"verify system roots only", true, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetStats()
			c, sl := newClient(t, ts.URL, func(cfg *Config) { cfg.VerifySSL, cfg.RootCAs = tt.verify, tt.roots })
			_, err := c.List(context.Background(), "dcim/sites", nil)
			if (err == nil) != tt.ok {
				t.Fatalf("List err = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok && (len(sl.all()) != 0 || c.Stats().Requests != 1) {
				t.Fatalf("certificate error was retried: sleeps %d, requests %d", len(sl.all()), c.Stats().Requests)
			}
		})
	}
}

func TestNextQuery(t *testing.T) {
	cur := url.Values{"limit": {"1000"}, "cluster_id": {"3"}}
	q, err := nextQuery("http://elsewhere.example/api/x/?cluster_id=3&limit=1000&offset=1000", cur, 1000)
	if err != nil || q.Get("offset") != "1000" || q.Get("cluster_id") != "3" {
		t.Fatalf("offset link: %v, %v", q, err)
	}
	q, _ = nextQuery("https://nb/api/x/?limit=1000&start=2001", cur, 1000)
	if q.Get("start") != "2001" || q.Get("offset") != "" {
		t.Fatalf("cursor link: %v", q)
	}
	q, _ = nextQuery("https://nb/api/x/?page=2", url.Values{"limit": {"10"}, "offset": {"20"}}, 10)
	if q.Get("offset") != "30" || q.Get("page") != "" {
		t.Fatalf("link without offset: %v", q)
	}
}
