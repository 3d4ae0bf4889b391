package netbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"
)

// Faults are the latency and failure settings of the simulator. They apply to /api/ only.
type Faults struct {
	// Latency is added to every request; Jitter adds a uniform extra in [0, Jitter).
	Latency time.Duration
	Jitter  time.Duration
	// WriteCost is added per object written (created, updated or deleted) by a request.
	WriteCost time.Duration
	// ErrorRate is the fraction of requests answered with one of ErrorCodes
	// (default 500, 502, 503 and 429) before they are processed. 429 carries Retry-After.
	ErrorRate  float64
	ErrorCodes []int
	RetryAfter int // seconds; default 1
	// ResetRate is the fraction of requests whose connection is reset without a reply.
	ResetRate float64
	// SlowBodyRate is the fraction of replies whose body is sent in ten chunks spread over
	// SlowBodyDelay.
	SlowBodyRate  float64
	SlowBodyDelay time.Duration
}

type faultState struct {
	mu  sync.Mutex
	f   Faults
	rng *rand.Rand
}

func newFaultState(f Faults, seed uint64) *faultState {
	return &faultState{f: f, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// plan is what the fault injector decided for one request.
type plan struct {
	delay      time.Duration
	writeEach  time.Duration
	status     int
	retryAfter int
	reset      bool
	slow       time.Duration
}

// draw decides one request's fate. It always consumes the same number of random values,
// so a seed gives the same sequence of faults for the same sequence of requests.
func (fs *faultState) draw() plan {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.f
	rj, re, rc, rr, rs := fs.rng.Float64(), fs.rng.Float64(), fs.rng.IntN(1<<30), fs.rng.Float64(), fs.rng.Float64()
	p := plan{delay: f.Latency, writeEach: f.WriteCost}
	if f.Jitter > 0 {
		p.delay += time.Duration(rj * float64(f.Jitter))
	}
	if re < f.ErrorRate {
		codes := f.ErrorCodes
		if len(codes) == 0 {
			codes = []int{500, 502, 503, 429}
		}
		p.status = codes[rc%len(codes)]
		p.retryAfter = f.RetryAfter
		if p.retryAfter <= 0 {
			p.retryAfter = 1
		}
	} else if rr < f.ResetRate {
		p.reset = true
	} else if rs < f.SlowBodyRate {
		p.slow = f.SlowBodyDelay
	}
	return p
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p plan) sleep(ctx context.Context) bool { return sleepCtx(ctx, p.delay) }

func (p plan) writeCost(ctx context.Context, n int) {
	sleepCtx(ctx, time.Duration(n)*p.writeEach)
}

// resetConn drops the TCP connection with RST (SO_LINGER 0) and no reply.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // net/http's sanctioned way to abort a reply
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// slowWrite sends body in ten chunks spread over d.
func slowWrite(ctx context.Context, w http.ResponseWriter, status int, body []byte, d time.Duration) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	fl, _ := w.(http.Flusher)
	chunk := (len(body) + 9) / 10
	for i := 0; i < len(body); i += chunk {
		_, _ = w.Write(body[i:min(i+chunk, len(body))])
		if fl != nil {
			fl.Flush()
		}
		if !sleepCtx(ctx, d/10) {
			return
		}
	}
}

// SetFaults replaces the latency and fault settings at run time.
func (s *Server) SetFaults(f Faults) {
	s.faults.mu.Lock()
	s.faults.f = f
	s.faults.mu.Unlock()
}

// Faults returns the current latency and fault settings.
func (s *Server) Faults() Faults {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.f
}

// faultsJSON is the /_lab/faults body: durations as Go duration strings ("2ms").
type faultsJSON struct {
	Latency       string  `json:"latency,omitempty"`
	Jitter        string  `json:"jitter,omitempty"`
	WriteCost     string  `json:"write_cost,omitempty"`
	ErrorRate     float64 `json:"error_rate"`
	ErrorCodes    []int   `json:"error_codes,omitempty"`
	RetryAfter    int     `json:"retry_after,omitempty"`
	ResetRate     float64 `json:"reset_rate"`
	SlowBodyRate  float64 `json:"slow_body_rate"`
	SlowBodyDelay string  `json:"slow_body_delay,omitempty"`
}

func (f Faults) toJSON() faultsJSON {
	ds := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	return faultsJSON{Latency: ds(f.Latency), Jitter: ds(f.Jitter), WriteCost: ds(f.WriteCost), ErrorRate: f.ErrorRate,
		ErrorCodes: f.ErrorCodes, RetryAfter: f.RetryAfter, ResetRate: f.ResetRate, SlowBodyRate: f.SlowBodyRate,
		SlowBodyDelay: ds(f.SlowBodyDelay)}
}

func (fj faultsJSON) toFaults() (Faults, error) {
	var f Faults
	for _, x := range []struct {
		s   string
		dst *time.Duration
	}{{fj.Latency, &f.Latency}, {fj.Jitter, &f.Jitter}, {fj.WriteCost, &f.WriteCost}, {fj.SlowBodyDelay, &f.SlowBodyDelay}} {
		if x.s == "" {
			continue
		}
		d, err := time.ParseDuration(x.s)
		if err != nil {
			return Faults{}, fmt.Errorf("parse duration %q: %w", x.s, err)
		}
		*x.dst = d
	}
	for _, c := range fj.ErrorCodes {
		if c < 400 || c > 599 {
			return Faults{}, fmt.Errorf("error code %d is not a 4xx/5xx status", c)
		}
	}
	f.ErrorRate, f.ErrorCodes, f.RetryAfter = fj.ErrorRate, fj.ErrorCodes, fj.RetryAfter
	f.ResetRate, f.SlowBodyRate = fj.ResetRate, fj.SlowBodyRate
	return f, nil
}
