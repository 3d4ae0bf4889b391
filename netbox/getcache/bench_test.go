package getcache

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// staticBase answers every request with the same 2 KiB body and no work, so the benchmarks
// measure the cache, not the fake.
type staticBase struct{ body string }

func (s staticBase) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: 200, Status: "200 OK",
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   io.NopCloser(strings.NewReader(s.body)), ContentLength: int64(len(s.body)), Request: req,
	}, nil
}

func benchRequests(b *testing.B, n int) []*http.Request {
	reqs := make([]*http.Request, n)
	for i := range reqs {
		r, err := http.NewRequestWithContext(context.Background(), http.MethodGet,
			"https://netbox.example/api/virtualization/virtual-machines/?limit=50&cf_proxmox_vm_id="+strconv.Itoa(i), nil)
		if err != nil {
			b.Fatal(err)
		}
		r.Header.Set("Authorization", "Token 0123456789abcdef")
		r.Header.Set("Accept", "application/json")
		reqs[i] = r
	}
	return reqs
}

func drain(b *testing.B, resp *http.Response, err error) {
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}

func BenchmarkTransportHit(b *testing.B) {
	c := New(Config{})
	tr := NewTransport(c, staticBase{body: strings.Repeat("x", 2048)})
	req := benchRequests(b, 1)[0]
	resp, err := tr.RoundTrip(req)
	drain(b, resp, err)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := tr.RoundTrip(req)
		drain(b, resp, err)
	}
	if m := c.Metrics(); m.Misses != 1 {
		b.Fatalf("misses = %d, want 1", m.Misses)
	}
}

// BenchmarkTransportMiss cycles through more keys than the cache holds, so every request is a
// miss that fetches, stores and evicts.
func BenchmarkTransportMiss(b *testing.B) {
	c := New(Config{Limits: Limits{TTL: time.Minute, MaxEntries: 64, MaxBytes: 1 << 20}})
	tr := NewTransport(c, staticBase{body: strings.Repeat("x", 2048)})
	reqs := benchRequests(b, 128)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		resp, err := tr.RoundTrip(reqs[i%len(reqs)])
		drain(b, resp, err)
		i++
	}
	if m := c.Metrics(); m.Hits != 0 {
		b.Fatalf("hits = %d, want 0", m.Hits)
	}
}

// BenchmarkTransportBaseline is the fake upstream alone, to subtract from the miss path.
func BenchmarkTransportBaseline(b *testing.B) {
	base := staticBase{body: strings.Repeat("x", 2048)}
	req := benchRequests(b, 1)[0]
	b.ReportAllocs()
	for b.Loop() {
		resp, err := base.RoundTrip(req)
		drain(b, resp, err)
	}
}

func BenchmarkTransportHitParallel(b *testing.B) {
	c := New(Config{})
	tr := NewTransport(c, staticBase{body: strings.Repeat("x", 2048)})
	reqs := benchRequests(b, 16)
	for _, r := range reqs {
		resp, err := tr.RoundTrip(r)
		drain(b, resp, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			resp, err := tr.RoundTrip(reqs[i%len(reqs)])
			drain(b, resp, err)
			i++
		}
	})
}
