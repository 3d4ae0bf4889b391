package getcache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var prefill = []string{
	"/api/dcim/devices/",
	"/api/dcim/devices/?name=a",
	"/api/dcim/devices/1/",
	"/api/dcim/devices/10/",
	"/api/virtualization/virtual-machines/?cf_proxmox_vm_id=100",
	"/api/ipam/ip-addresses/?address=10.0.0.1%2F24",
	"/api/plugins/proxbox/storage/",
	"/api/plugins/proxbox/storage/3/",
}

func TestInvalidationOnWrites(t *testing.T) {
	devices := []string{"/api/dcim/devices/", "/api/dcim/devices/1/", "/api/dcim/devices/10/", "/api/dcim/devices/?name=a"}
	tests := []struct {
		name    string
		method  string
		uri     string
		other   bool     // the write goes to another endpoint
		removed []string // entries that must be gone; all others must stay
	}{
		{"POST create", http.MethodPost, "/api/dcim/devices/", false, devices},
		{"PATCH detail drops list and every detail", http.MethodPatch, "/api/dcim/devices/1/", false, devices},
		{"PUT detail", http.MethodPut, "/api/dcim/devices/10/", false, devices},
		{"bulk PATCH on the list path", http.MethodPatch, "/api/dcim/devices/", false, devices},
		{"bulk PUT on the list path", http.MethodPut, "/api/dcim/devices/", false, devices},
		{"plugin model PATCH", http.MethodPatch, "/api/plugins/proxbox/storage/3/", false,
			[]string{"/api/plugins/proxbox/storage/", "/api/plugins/proxbox/storage/3/"}},
		{"other model leaves devices", http.MethodPost, "/api/virtualization/virtual-machines/", false,
			[]string{"/api/virtualization/virtual-machines/?cf_proxmox_vm_id=100"}},
		{"available-ips also drops ip-addresses", http.MethodPost, "/api/ipam/prefixes/7/available-ips/", false,
			[]string{"/api/ipam/ip-addresses/?address=10.0.0.1%2F24"}},
		{"DELETE detail drops the whole endpoint (cascades)", http.MethodDelete, "/api/dcim/devices/1/", false, prefill},
		{"bulk DELETE on the list path", http.MethodDelete, "/api/dcim/devices/", false, prefill},
		{"tag write drops the whole endpoint", http.MethodPost, "/api/extras/tags/", false, prefill},
		{"write to a non-model api path drops the endpoint", http.MethodPost, "/api/status/", false, prefill},
		{"graphql POST is a read", http.MethodPost, "/graphql/", false, nil},
		{"another endpoint's write", http.MethodDelete, "/api/dcim/devices/1/", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(Limits{TTL: time.Minute, MaxEntries: 100, MaxBytes: 1 << 20})
			for _, p := range prefill {
				get(t, r.tr, p)
				get(t, r.tr, p, "Authorization", "Token other") // a second header variant
			}
			before := r.c.Metrics().CurrentEntries
			req, _ := http.NewRequestWithContext(context.Background(), tt.method, testHost+tt.uri, strings.NewReader(`[{"id":1}]`))
			if tt.other {
				req.URL.Host = "other.test"
			}
			resp, err := r.tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			for _, p := range prefill {
				wantGone := slices.Contains(tt.removed, p)
				state := get(t, r.tr, p).state
				if wantGone && state != "MISS" {
					t.Errorf("%s: %s, want MISS (invalidated)", p, state)
				}
				if !wantGone && state != "HIT" {
					t.Errorf("%s: %s, want HIT (kept)", p, state)
				}
			}
			if got, want := r.c.Metrics().Invalidations, uint64(2*len(tt.removed)); got != want {
				t.Errorf("invalidations = %d, want %d (of %d entries)", got, want, before)
			}
			checkInvariants(t, r.c)
		})
	}
}

// gate holds selected upstream requests until released.
type gate struct {
	arrived chan string
	release chan struct{}
}

func newGate() *gate { return &gate{arrived: make(chan string), release: make(chan struct{})} }

func (g *gate) hold(req *http.Request) {
	g.arrived <- req.Method + " " + req.URL.Path
	<-g.release
}

// holdFirst returns a hook that holds only the first request (sync.Once would block the others
// while the first is held).
func (g *gate) holdFirst() func(*http.Request) {
	var first atomic.Bool
	return func(req *http.Request) {
		if first.CompareAndSwap(false, true) {
			g.hold(req)
		}
	}
}

func TestStaleReadProtection(t *testing.T) {
	const list = "/api/virtualization/virtual-machines/"
	const detail = "/api/virtualization/virtual-machines/5/"
	v := func(n int) string { return fmt.Sprintf(`"v":%d`, n) }

	t.Run("GET answered before a write, delivered after it", func(t *testing.T) {
		r := newRig(DefaultLimits())
		g := newGate()
		r.nb.hookRead = g.holdFirst()
		done := make(chan result)
		go func() { done <- get(t, r.tr, list) }()
		<-g.arrived // NetBox has read state v0
		do(t, r.tr, http.MethodPatch, detail)
		close(g.release)
		if res := <-done; !strings.Contains(res.body, v(0)) {
			t.Fatalf("racing GET body %s", res.body)
		}
		res := get(t, r.tr, list)
		if res.state != "MISS" || !strings.Contains(res.body, v(1)) {
			t.Errorf("after write: %s %s, want a MISS with v1 (the racing answer must not be cached)", res.state, res.body)
		}
		if res := get(t, r.tr, list); res.state != "HIT" || !strings.Contains(res.body, v(1)) {
			t.Errorf("then: %s %s, want HIT v1", res.state, res.body)
		}
		checkInvariants(t, r.c)
	})

	t.Run("GET during a write in flight", func(t *testing.T) {
		r := newRig(DefaultLimits())
		g := newGate()
		r.nb.hookPre = func(req *http.Request) {
			if req.Method == http.MethodPatch {
				g.hold(req)
			}
		}
		get(t, r.tr, list) // cached v0
		wrote := make(chan result)
		go func() { wrote <- do(t, r.tr, http.MethodPatch, list) }() // bulk PATCH
		<-g.arrived                                                  // the write is in flight, NetBox has not applied it
		res := get(t, r.tr, list)
		if res.state != "MISS" || !strings.Contains(res.body, v(0)) {
			t.Errorf("during write: %s %s, want MISS v0 (pre-write entry invalidated before sending)", res.state, res.body)
		}
		if n := r.c.Metrics().CurrentEntries; n != 0 {
			t.Errorf("an answer was cached while a write was in flight (%d entries)", n)
		}
		close(g.release)
		<-wrote
		if res := get(t, r.tr, list); res.state != "MISS" || !strings.Contains(res.body, v(1)) {
			t.Errorf("after write: %s %s, want MISS v1", res.state, res.body)
		}
		checkInvariants(t, r.c)
	})

	t.Run("a GET after a write never joins a flight from before it", func(t *testing.T) {
		r := newRig(DefaultLimits())
		g := newGate()
		r.nb.hookRead = g.holdFirst()
		first := make(chan result)
		go func() { first <- get(t, r.tr, list) }()
		<-g.arrived
		do(t, r.tr, http.MethodPost, list)
		// If this joined the held flight it would block here (and the test would time out).
		if res := get(t, r.tr, list); !strings.Contains(res.body, v(1)) {
			t.Errorf("GET after write: %s, want v1", res.body)
		}
		close(g.release)
		<-first
		if res := get(t, r.tr, list); res.state != "HIT" || !strings.Contains(res.body, v(1)) {
			t.Errorf("cached: %s %s, want HIT v1 (the held v0 answer must not overwrite it)", res.state, res.body)
		}
		checkInvariants(t, r.c)
	})

	t.Run("state load with no-cache always reads NetBox", func(t *testing.T) {
		r := newRig(DefaultLimits())
		get(t, r.tr, list)
		r.nb.mu.Lock()
		r.nb.version["/api/virtualization/virtual-machines/"] = 7 // changed behind our back
		r.nb.mu.Unlock()
		res := get(t, r.tr, list, "Cache-Control", "no-cache")
		if res.state != "BYPASS" || !strings.Contains(res.body, v(7)) {
			t.Errorf("no-cache: %s %s, want BYPASS v7", res.state, res.body)
		}
		if res := get(t, r.tr, list); res.state != "HIT" || !strings.Contains(res.body, v(7)) {
			t.Errorf("after refresh: %s %s, want HIT v7", res.state, res.body)
		}
		get(t, r.tr, "/api/dcim/sites/", "Cache-Control", "no-store")
		if s := get(t, r.tr, "/api/dcim/sites/").state; s != "MISS" {
			t.Errorf("no-store answer was cached (%s)", s)
		}
	})
}

func TestSingleflight(t *testing.T) {
	r := newRig(DefaultLimits())
	g := newGate()
	r.nb.hookRead = g.holdFirst()
	const n = 20
	var wg sync.WaitGroup
	bodies := make([]string, n)
	wg.Add(n)
	go func() {
		<-g.arrived
		close(g.release)
	}()
	for i := 0; i < n; i++ {
		go func() {
			defer wg.Done()
			bodies[i] = get(t, r.tr, "/api/dcim/sites/?slug=x").body
		}()
	}
	wg.Wait()
	if c := r.nb.Calls("GET /api/dcim/sites/?slug=x"); c != 1 {
		t.Errorf("upstream calls = %d, want 1", c)
	}
	for i, b := range bodies {
		if b != bodies[0] || b == "" {
			t.Errorf("caller %d got %q, caller 0 %q", i, b, bodies[0])
		}
	}
	m := r.c.Metrics()
	if m.Hits+m.Misses != n {
		t.Errorf("hits %d + misses %d != %d lookups", m.Hits, m.Misses, n)
	}
}

func TestFollowerCancellation(t *testing.T) {
	r := newRig(DefaultLimits())
	g := newGate()
	r.nb.hookRead = g.hold
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, testHost+"/api/dcim/sites/", nil)
	errc := make(chan error)
	go func() {
		_, err := r.tr.RoundTrip(req)
		errc <- err
	}()
	<-g.arrived
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller got %v, want context.Canceled", err)
	}
	// The shared upstream request was detached from that caller and still fills the cache.
	close(g.release)
	// This GET either joins the still-running flight (and returns after its fill) or hits.
	get(t, r.tr, "/api/dcim/sites/")
	if s := get(t, r.tr, "/api/dcim/sites/").state; s != "HIT" {
		t.Errorf("after detached flight: %s, want HIT", s)
	}
	if n := r.nb.TotalCalls(); n != 1 {
		t.Errorf("upstream calls = %d, want 1", n)
	}
}

func TestWhatIsNotCached(t *testing.T) {
	tests := []struct {
		name string
		uri  string
		hdr  []string
	}{
		{"outside /api/", "/graphql/", nil},
		{"api root", "/api/", nil},
		{"status", "/api/status/", nil},
		{"plugin root", "/api/plugins/proxbox/", nil},
		{"range request", "/api/dcim/sites/", []string{"Range", "bytes=0-10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(DefaultLimits())
			get(t, r.tr, tt.uri, tt.hdr...)
			get(t, r.tr, tt.uri, tt.hdr...)
			if n := r.nb.TotalCalls(); n != 2 {
				t.Errorf("upstream calls = %d, want 2", n)
			}
			if m := r.c.Metrics(); m.Hits+m.Misses != 0 || m.CurrentEntries != 0 {
				t.Errorf("metrics = %+v, want untouched", m)
			}
		})
	}
	t.Run("non-200", func(t *testing.T) {
		r := newRig(DefaultLimits())
		r.nb.status = http.StatusServiceUnavailable
		get(t, r.tr, "/api/dcim/sites/")
		get(t, r.tr, "/api/dcim/sites/")
		if n := r.nb.TotalCalls(); n != 2 {
			t.Errorf("upstream calls = %d, want 2", n)
		}
	})
	t.Run("headers vary the key", func(t *testing.T) {
		r := newRig(DefaultLimits())
		get(t, r.tr, "/api/dcim/sites/", "Authorization", "Token a")
		if s := get(t, r.tr, "/api/dcim/sites/", "Authorization", "Token b").state; s != "MISS" {
			t.Errorf("another token: %s, want MISS", s)
		}
		if s := get(t, r.tr, "/api/dcim/sites/", "Authorization", "Token a").state; s != "HIT" {
			t.Errorf("same token: %s, want HIT", s)
		}
	})
}

func TestHitIsAFreshResponse(t *testing.T) {
	r := newRig(DefaultLimits())
	get(t, r.tr, "/api/dcim/sites/")
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, testHost+"/api/dcim/sites/", nil)
	a, err := r.tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	a.Header.Set("Content-Type", "mutated")
	_ = a.Body.Close()
	b, err := r.tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if b.Header.Get("Content-Type") != "application/json" || b.StatusCode != 200 || b.Request != req {
		t.Errorf("second hit: %d %v", b.StatusCode, b.Header)
	}
}

// TestConcurrentUse exercises every path at once for the race detector and checks the
// bookkeeping afterwards.
func TestConcurrentUse(t *testing.T) {
	r := newRig(Limits{TTL: time.Minute, MaxEntries: 16, MaxBytes: 4096})
	paths := []string{"/api/dcim/devices/", "/api/dcim/devices/1/", "/api/dcim/sites/", "/api/ipam/ip-addresses/", "/api/plugins/proxbox/storage/"}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				p := paths[(i+w)%len(paths)]
				switch {
				case i%17 == 0:
					do(t, r.tr, http.MethodPatch, p)
				case i%29 == 0:
					do(t, r.tr, http.MethodDelete, p)
				case i%97 == 0:
					r.c.SetLimits(Limits{TTL: time.Minute, MaxEntries: 4 + i%16, MaxBytes: 4096})
				case i%101 == 0:
					r.c.Clear()
				case i%13 == 0:
					r.clock.Advance(7 * time.Second)
					r.c.Sweep()
				default:
					get(t, r.tr, fmt.Sprintf("%s?limit=%d", p, i%5))
				}
				_ = r.c.Metrics()
				_ = r.c.Sample(5)
			}
		}()
	}
	wg.Wait()
	checkInvariants(t, r.c)
}
