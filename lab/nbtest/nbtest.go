// Package nbtest lets an integration test run against either NetBox: the
// simulator (lab/netbox) or a real NetBox named by the environment (make
// test-real points it at the realnetbox kit: NetBox 4.5 with netbox-proxbox
// 0.0.24). It owns the environment contract (PROXBOX_TEST_NETBOX_URL,
// _TOKEN, _RESET), a plain REST reader/writer the tests check NetBox with
// (the same calls against both, never simulator internals, never proxbox's
// own client), and a counting proxy that shows what proxbox sent.
//
// Test support only: the proxbox binary must not import it. It must not
// import the simulators (outside its tests), the sync engine or proxbox's
// NetBox client.
package nbtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Real is the real NetBox a test run was given, or the zero value (URL "")
// when the tests run against the simulator. ResetCmd is a shell command that
// gives the NetBox a clean database (the kit's `start.sh reset --dir D`);
// without it the tests share one database and may see each other's objects.
type Real struct{ URL, Token, ResetCmd string }

// FromEnv reads PROXBOX_TEST_NETBOX_URL, _TOKEN and _RESET; a URL without a
// token fails the test (the kit is there but misconfigured).
func FromEnv(t testing.TB) Real {
	t.Helper()
	r := Real{URL: os.Getenv("PROXBOX_TEST_NETBOX_URL"), Token: os.Getenv("PROXBOX_TEST_NETBOX_TOKEN"), ResetCmd: os.Getenv("PROXBOX_TEST_NETBOX_RESET")}
	if r.URL != "" && r.Token == "" {
		t.Fatal("PROXBOX_TEST_NETBOX_URL is set without PROXBOX_TEST_NETBOX_TOKEN")
	}
	return r
}

// Reset runs the reset command; a failure fails the test (the kit is there
// but broken).
func (r Real) Reset(t testing.TB) {
	t.Helper()
	if r.ResetCmd == "" {
		return
	}
	out, err := exec.Command("sh", "-c", r.ResetCmd).CombinedOutput()
	if err != nil {
		t.Fatalf("reset the real NetBox (%s): %v\n%s", r.ResetCmd, err, out)
	}
}

// API is NetBox's REST API as a test reads and writes it: plain HTTP with a
// v1 token. Paths are model paths under /api/ ("virtualization/clusters",
// "plugins/proxbox/backups"). Every failure fails the test.
type API struct {
	URL, Token string
	HTTP       *http.Client
}

// NewAPI returns an API for the NetBox at base (generous timeout: a real
// NetBox on a loaded 2-core machine is slow).
func NewAPI(base, token string) *API {
	return &API{URL: strings.TrimRight(base, "/"), Token: token, HTTP: &http.Client{Timeout: 5 * time.Minute}}
}

func (a *API) call(t testing.TB, method, path string, q url.Values, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("%s %s: marshal: %v", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	u := a.URL + "/api/" + strings.Trim(path, "/") + "/"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	req.Header.Set("Authorization", "Token "+a.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, u, err)
	}
	return resp.StatusCode, b
}

// Count is the number of objects at path matching q (NetBox's count of a
// ?limit=1 page).
func (a *API) Count(t testing.TB, path string, q url.Values) int {
	t.Helper()
	qq := url.Values{"limit": {"1"}}
	for k, v := range q {
		qq[k] = v
	}
	code, b := a.call(t, http.MethodGet, path, qq, nil)
	var page struct{ Count *int }
	if err := json.Unmarshal(b, &page); code != http.StatusOK || err != nil || page.Count == nil {
		t.Fatalf("count %s: HTTP %d %.300s", path, code, b)
	}
	return *page.Count
}

// List returns every object at path matching q, following NetBox's pages.
func (a *API) List(t testing.TB, path string, q url.Values) []map[string]any {
	t.Helper()
	qq := url.Values{"limit": {"1000"}, "ordering": {"id"}}
	for k, v := range q {
		qq[k] = v
	}
	var out []map[string]any
	for off := 0; ; {
		qq.Set("offset", fmt.Sprint(off))
		code, b := a.call(t, http.MethodGet, path, qq, nil)
		var page struct {
			Next    *string
			Results []map[string]any
		}
		if err := json.Unmarshal(b, &page); code != http.StatusOK || err != nil {
			t.Fatalf("list %s: HTTP %d %.300s", path, code, b)
		}
		out = append(out, page.Results...)
		if page.Next == nil || len(page.Results) == 0 {
			return out
		}
		off += len(page.Results)
	}
}

// Create POSTs one object and returns NetBox's reply; a refusal fails the
// test with NetBox's reasons.
func (a *API) Create(t testing.TB, path string, obj map[string]any) map[string]any {
	t.Helper()
	return a.write(t, http.MethodPost, path, obj)
}

// Patch PATCHes object id at path.
func (a *API) Patch(t testing.TB, path string, id int64, patch map[string]any) map[string]any {
	t.Helper()
	return a.write(t, http.MethodPatch, fmt.Sprintf("%s/%d", strings.Trim(path, "/"), id), patch)
}

func (a *API) write(t testing.TB, method, path string, body map[string]any) map[string]any {
	t.Helper()
	code, b := a.call(t, method, path, nil, body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); code/100 != 2 || err != nil {
		t.Fatalf("%s %s %v: HTTP %d %.500s", method, path, body, code, b)
	}
	return out
}

// ID reads an object's integer id (also of a nested object), 0 if absent.
func ID(v any) int64 {
	m, _ := v.(map[string]any)
	f, _ := m["id"].(float64)
	return int64(f)
}

// Recorder is a reverse proxy in front of a NetBox that counts the requests
// passing through it by "METHOD /path/" (query dropped): point proxbox at
// URL to see what it sent, against the simulator and a real NetBox alike.
type Recorder struct {
	URL string

	mu   sync.Mutex
	reqs map[string]int64
}

// NewRecorder serves a counting proxy to target until the test ends.
func NewRecorder(t testing.TB, target string) *Recorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("recorder target %q: %v", target, err)
	}
	r := &Recorder{reqs: map[string]int64{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs[req.Method+" "+req.URL.Path]++
		r.mu.Unlock()
		// The body is read whole before it is forwarded: the server closes an
		// inbound body when the reply's headers go out, and the transport's
		// last read of a streamed body could then fail and cut the reply
		// (golang/go#40747), a lost reply proxbox would see and NetBox never sent.
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, `{"detail": "recorder: read request body"}`, http.StatusBadGateway)
			return
		}
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		if len(body) == 0 {
			req.Body = http.NoBody
		}
		rp.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// Reset zeroes the counts.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = map[string]int64{}
}

// Requests is how many requests went through since the last Reset.
func (r *Recorder) Requests() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for _, c := range r.reqs {
		n += c
	}
	return n
}

// Writes lists the write requests (anything but GET, HEAD and OPTIONS)
// since the last Reset, "METHOD /path/ ×n" sorted; empty when none.
func (r *Recorder) Writes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k, c := range r.reqs {
		m, _, _ := strings.Cut(k, " ")
		if m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions {
			out = append(out, fmt.Sprintf("%s ×%d", k, c))
		}
	}
	sort.Strings(out)
	return out
}
