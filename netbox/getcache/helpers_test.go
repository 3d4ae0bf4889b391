package getcache

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// fakeNetBox answers every GET with 200 and a body naming the path, the query and the version
// of the model's state; every write bumps the version of its path's model. hook, when set, runs
// before the answer is built (after reading the state for GETs, before applying writes), and may
// block to build interleavings.
type fakeNetBox struct {
	mu       sync.Mutex
	calls    map[string]int
	version  map[string]int
	size     map[string]int // path -> body length to pad to
	status   int
	hookRead func(req *http.Request)
	hookPre  func(req *http.Request)
}

func newFakeNetBox() *fakeNetBox {
	return &fakeNetBox{calls: map[string]int{}, version: map[string]int{}, size: map[string]int{}}
}

func (f *fakeNetBox) model(p string) string {
	prefix, _, _, ok := modelPath(normalizePath(p))
	if !ok {
		return p
	}
	return prefix
}

func (f *fakeNetBox) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.hookPre != nil {
		f.hookPre(req)
	}
	f.mu.Lock()
	f.calls[req.Method+" "+req.URL.RequestURI()]++
	m := f.model(req.URL.Path)
	status := http.StatusOK
	var body string
	if req.Method == http.MethodGet {
		if f.status != 0 {
			status = f.status
		}
		body = fmt.Sprintf(`{"path":%q,"query":%q,"v":%d}`, req.URL.Path, req.URL.RawQuery, f.version[m])
		if n := f.size[req.URL.Path]; n > len(body) {
			body += strings.Repeat(" ", n-len(body))
		}
	} else {
		f.version[m]++
		body = `{}`
	}
	f.mu.Unlock()
	if req.Method == http.MethodGet && f.hookRead != nil {
		f.hookRead(req)
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status),
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}, nil
}

func (f *fakeNetBox) Calls(methodURI string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[methodURI]
}

func (f *fakeNetBox) TotalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.calls {
		n += v
	}
	return n
}

const testHost = "http://netbox.test"

type result struct {
	state string // X-Proxbox-Cache
	body  string
}

func do(t testing.TB, rt http.RoundTripper, method, uri string, hdr ...string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, testHost+uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, uri, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return result{state: resp.Header.Get(HeaderCacheState), body: string(b)}
}

func get(t testing.TB, rt http.RoundTripper, uri string, hdr ...string) result {
	t.Helper()
	return do(t, rt, http.MethodGet, uri, hdr...)
}

type rig struct {
	clock *fakeClock
	nb    *fakeNetBox
	c     *Cache
	tr    *Transport
}

func newRig(l Limits) *rig {
	clk := newFakeClock()
	nb := newFakeNetBox()
	c := New(Config{Limits: l, Now: clk.Now})
	return &rig{clock: clk, nb: nb, c: c, tr: NewTransport(c, nb)}
}

// cachedPaths lists "path?query" of the entries, oldest inserted first.
func (r *rig) cachedPaths() []string {
	var out []string
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	for e := r.c.age.Front(); e != nil; e = e.Next() {
		m := e.Value.(*meta)
		s := m.path
		if m.query != "" {
			s += "?" + m.query
		}
		out = append(out, s)
	}
	return out
}

// checkInvariants verifies the wrapper's bookkeeping against go-cache.
func checkInvariants(t testing.TB, c *Cache) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var sum int64
	n := 0
	for e := c.lru.Front(); e != nil; e = e.Next() {
		m := e.Value.(*meta)
		sum += m.size
		n++
		if c.index[m.key] != m {
			t.Errorf("lru entry %s not indexed", m.path)
		}
		if _, ok := c.byModel[m.model][m]; !ok {
			t.Errorf("entry %s missing from model index", m.path)
		}
		if _, ok := c.byEndpoint[m.endpoint][m]; !ok {
			t.Errorf("entry %s missing from endpoint index", m.path)
		}
	}
	if n != len(c.index) || n != c.age.Len() || n != c.store.ItemCount() {
		t.Errorf("entries: lru %d, index %d, age %d, go-cache %d", n, len(c.index), c.age.Len(), c.store.ItemCount())
	}
	if sum != c.bytes {
		t.Errorf("bytes: tracked %d, sum of entries %d", c.bytes, sum)
	}
	if n > c.limits.MaxEntries || c.bytes > c.limits.MaxBytes {
		t.Errorf("over limits: %d entries / %d bytes, limits %+v", n, c.bytes, c.limits)
	}
	for k, w := range c.modelWrites {
		if w != 0 {
			t.Errorf("write still in flight on %q: %d", k, w)
		}
	}
	for k, w := range c.endpointWrites {
		if w != 0 {
			t.Errorf("write still in flight on endpoint %q: %d", k, w)
		}
	}
}
