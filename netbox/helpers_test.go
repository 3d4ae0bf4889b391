package netbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	lab "github.com/proxbox/proxbox/lab/netbox"
)

const (
	tokV1     = "0123456789abcdef0123456789abcdef01234567"
	tokV2Key  = "abcdefghijkl"
	tokV2     = "0123456789abcdef0123456789abcdef01234567"
	tokV2Full = "nbt_" + tokV2Key + "." + tokV2
	vmModel   = "virtualization/virtual-machines"
	vmPath    = "/api/virtualization/virtual-machines/"
)

var quiet = slog.New(slog.DiscardHandler)

// newLab starts the simulator behind an httptest server; wrap may interpose a handler.
func newLab(t testing.TB, opts lab.Options, wrap func(http.Handler) http.Handler) (*lab.Server, *httptest.Server) {
	t.Helper()
	opts.Tokens = append(opts.Tokens, lab.Token{Value: tokV1}, lab.Token{Value: tokV2Full})
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	if opts.Seed == 0 {
		opts.Seed = 7
	}
	srv := lab.New(opts)
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return srv, ts
}

// sleeps records the waits the client asked for; it never sleeps.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// newClient builds a v1 client for ts with test-sized retry timings and a recording sleep.
func newClient(t testing.TB, url string, mod func(*Config)) (*Client, *sleeps) {
	t.Helper()
	cfg := Config{URL: url, Token: tokV1, RetryBase: time.Millisecond, MaxBackoff: 5 * time.Second,
		Timeout: 10 * time.Second, Logger: quiet, Version: "test"}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sl := &sleeps{}
	c.sleep = sl.sleep
	return c, sl
}

// seedClusters creates a cluster type and n clusters; it returns the cluster ids.
func seedClusters(t testing.TB, srv *lab.Server, n int) []int64 {
	t.Helper()
	ctx := context.Background()
	ct := mustCreate(t, srv, "virtualization.clustertype", map[string]any{"name": "Proxmox", "slug": "proxmox"})
	var ids []int64
	for i := range n {
		ids = append(ids, mustCreate(t, srv, "virtualization.cluster", map[string]any{"name": fmt.Sprintf("pve%d", i), "type": ct}))
	}
	_ = ctx
	return ids
}

func mustCreate(t testing.TB, srv *lab.Server, model string, body map[string]any) int64 {
	t.Helper()
	v, err := srv.Create(context.Background(), model, body)
	if err != nil {
		t.Fatalf("seed %s: %v", model, err)
	}
	return int64(v.(map[string]any)["id"].(float64))
}

// seedVMs creates n VMs named vm00000… spread over clusters, in bulk through the Go API.
func seedVMs(t testing.TB, srv *lab.Server, clusters []int64, n int) {
	t.Helper()
	batch := make([]any, 0, 500)
	for i := range n {
		batch = append(batch, vmObj(i, clusters[i%len(clusters)]))
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := srv.Create(context.Background(), "virtualization.virtualmachine", batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

func vmObj(i int, cluster int64) Object {
	return Object{"name": fmt.Sprintf("vm%05d", i), "cluster": cluster, "vcpus": 2, "memory": 2048, "status": "active"}
}

func vmObjs(n int, cluster int64) []Object {
	out := make([]Object, n)
	for i := range out {
		out[i] = vmObj(i, cluster)
	}
	return out
}

// landThenDrop lets the first n requests that match go through the simulator, then drops the
// reply: with reset the connection is reset (RST), else status is sent instead of the reply.
type landThenDrop struct {
	mu     sync.Mutex
	n      int
	method string
	path   string
	reset  bool
	status int
	skip   bool // drop the request before NetBox sees it (nothing lands)
	next   http.Handler
}

func (l *landThenDrop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	hit := l.n > 0 && r.Method == l.method && r.URL.Path == l.path
	if hit {
		l.n--
	}
	l.mu.Unlock()
	if !hit {
		l.next.ServeHTTP(w, r)
		return
	}
	if !l.skip {
		l.next.ServeHTTP(httptest.NewRecorder(), r)
	}
	if !l.reset {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(l.status)
		_, _ = io.Copy(w, bytes.NewReader([]byte("<html>Bad Gateway</html>")))
		return
	}
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func okResults(t testing.TB, rs []Result) {
	t.Helper()
	for _, r := range rs {
		if r.Err != nil {
			t.Fatalf("result %d: %v", r.Index, r.Err)
		}
	}
}

func sumFaults(st lab.Stats) int64 {
	var n int64
	for _, v := range st.Faults {
		n += v
	}
	return n
}
