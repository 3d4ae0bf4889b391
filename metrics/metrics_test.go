package metrics

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxbox/proxbox/netbox/getcache"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fakePeer answers by path: /500 → 500, /404 → 404, /err → transport error, else 200 with a body.
type fakePeer struct{}

func (fakePeer) RoundTrip(req *http.Request) (*http.Response, error) {
	code := http.StatusOK
	switch {
	case strings.HasSuffix(req.URL.Path, "/err/"):
		return nil, errors.New("connection refused")
	case strings.HasSuffix(req.URL.Path, "/500/"):
		code = 500
	case strings.HasSuffix(req.URL.Path, "/404/"):
		code = 404
	}
	return &http.Response{StatusCode: code, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"results":[]}`)), Request: req}, nil
}

func scrape(t *testing.T, r *Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("content type %q", ct)
	}
	return rec.Body.String()
}

func send(t *testing.T, rt http.RoundTripper, method, uri string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, "http://netbox.test"+uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}

// exercise populates every proxbox_* series.
func exercise(t *testing.T) (*Registry, *getcache.Cache) {
	t.Helper()
	r := New()
	c := getcache.New(getcache.Config{Limits: getcache.Limits{TTL: 300 * time.Second, MaxEntries: 1234, MaxBytes: 7340032}})
	if err := r.RegisterCache(c); err != nil {
		t.Fatal(err)
	}
	nb := getcache.NewTransport(c, r.InstrumentTransport("netbox", fakePeer{}))
	send(t, nb, http.MethodGet, "/api/dcim/sites/") // miss → upstream
	send(t, nb, http.MethodGet, "/api/dcim/sites/") // hit, not an upstream request
	send(t, nb, http.MethodPatch, "/api/dcim/sites/1/")
	send(t, nb, http.MethodGet, "/api/dcim/sites/500/")
	send(t, nb, http.MethodGet, "/api/dcim/sites/err/")
	pve := r.InstrumentTransport("proxmox", fakePeer{})
	send(t, pve, http.MethodGet, "/api2/json/nodes/404/")
	send(t, pve, "PROPFIND", "/api2/json/nodes/")
	r.ObserveSyncRun("virtual_machines", 1500*time.Millisecond, true)
	r.ObserveSyncRun("virtual_machines", 2*time.Second, false)
	r.ObserveSyncRun("full_update", 75*time.Second, true)
	r.AddSyncObjects("virtual_machine", "created", 3)
	r.AddSyncObjects("virtual_machine", "updated", 2)
	r.AddSyncObjects("virtual_machine", "updated", 0)
	r.ObserveWatchLatency(1200 * time.Millisecond)
	return r, c
}

// TestNamesAndTypesGolden pins every proxbox_* HELP and TYPE line.
func TestNamesAndTypesGolden(t *testing.T) {
	r, _ := exercise(t)
	var lines []string
	for _, l := range strings.Split(scrape(t, r), "\n") {
		if strings.HasPrefix(l, "# HELP proxbox_") || strings.HasPrefix(l, "# TYPE proxbox_") {
			lines = append(lines, l)
		}
	}
	got := strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", "names.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("HELP/TYPE lines:\n%s\nwant:\n%s", got, want)
	}
}

func TestSeries(t *testing.T) {
	r, c := exercise(t)
	c.Clear() // the Python-compatible counters reset; the conventional ones must not
	text := scrape(t, r)
	want := []string{
		`proxbox_netbox_get_cache_hits_total 1`,
		`proxbox_netbox_get_cache_misses_total 3`,
		`proxbox_netbox_get_cache_invalidations_total 1`,
		`proxbox_netbox_get_cache_evictions_total{reason="size"} 0`,
		`proxbox_netbox_get_cache_evictions_total{reason="ttl"} 0`,
		`proxbox_netbox_get_cache_entries 0`,
		`proxbox_netbox_get_cache_max_entries 1234`,
		`proxbox_netbox_get_cache_max_bytes 7.340032e+06`,
		`proxbox_netbox_get_cache_ttl_seconds 300`,
		`proxbox_peer_requests_total{method="GET",peer="netbox",status="2xx"} 1`,
		`proxbox_peer_requests_total{method="GET",peer="netbox",status="5xx"} 1`,
		`proxbox_peer_requests_total{method="GET",peer="netbox",status="error"} 1`,
		`proxbox_peer_requests_total{method="PATCH",peer="netbox",status="2xx"} 1`,
		`proxbox_peer_requests_total{method="GET",peer="proxmox",status="4xx"} 1`,
		`proxbox_peer_requests_total{method="OTHER",peer="proxmox",status="2xx"} 1`,
		`proxbox_peer_request_duration_seconds_count{method="GET",peer="netbox",status="2xx"} 1`,
		`proxbox_sync_runs_total{outcome="ok",stage="virtual_machines"} 1`,
		`proxbox_sync_runs_total{outcome="error",stage="virtual_machines"} 1`,
		`proxbox_sync_runs_total{outcome="ok",stage="full_update"} 1`,
		`proxbox_sync_run_duration_seconds_sum{outcome="ok",stage="full_update"} 75`,
		`proxbox_sync_run_duration_seconds_bucket{outcome="ok",stage="virtual_machines",le="2.5"} 1`,
		`proxbox_sync_objects_total{outcome="created",type="virtual_machine"} 3`,
		`proxbox_sync_objects_total{outcome="updated",type="virtual_machine"} 2`,
	}
	for _, w := range want {
		if !strings.Contains(text, "\n"+w+"\n") {
			t.Errorf("missing series line %q", w)
		}
	}
	for _, bad := range []string{"/api/", "netbox.test", "sites"} {
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "proxbox_") && strings.Contains(l, bad) {
				t.Errorf("URL data in a label: %q", l)
			}
		}
	}
	for _, w := range []string{"\ngo_goroutines ", "\ngo_memstats_alloc_bytes ", "\nprocess_start_time_seconds "} {
		if !strings.Contains(text, w) {
			t.Errorf("runtime/process metric %q missing", strings.TrimSpace(w))
		}
	}
}

func TestRegisterCacheTwice(t *testing.T) {
	r := New()
	c := getcache.New(getcache.Config{})
	if err := r.RegisterCache(c); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterCache(getcache.New(getcache.Config{})); !errors.Is(err, ErrCacheRegistered) {
		t.Errorf("second RegisterCache: %v, want ErrCacheRegistered", err)
	}
}

func TestStatusClass(t *testing.T) {
	for code, want := range map[int]string{100: "1xx", 200: "2xx", 204: "2xx", 301: "3xx", 404: "4xx", 503: "5xx", 0: "other", 700: "other"} {
		if got := statusClass(code); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", code, got, want)
		}
	}
}
