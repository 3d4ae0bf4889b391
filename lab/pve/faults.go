package pve

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Faults makes a Server slow or unreliable, deterministically: the n-th API request of a
// Server gets the same treatment for the same Seed (requests are numbered in arrival order,
// so only a sequential client sees a reproducible sequence). Rates are fractions in [0,1].
type Faults struct {
	// Latency is added to every API request; Jitter adds a uniform random [0,Jitter).
	Latency time.Duration
	Jitter  time.Duration
	// ErrorRate is the share of requests answered with one of ErrorCodes (default 500, 502,
	// 503, 429), chosen uniformly, with PVE's error body.
	ErrorRate  float64
	ErrorCodes []int
	// ResetRate is the share of requests whose connection is dropped without a reply.
	ResetRate float64
	// SlowBodyRate is the share of replies whose body is trickled out over SlowBody.
	SlowBodyRate float64
	SlowBody     time.Duration
	// Seed seeds the fault sequence.
	Seed int64
	// SlowAgent is added to the guest-agent calls of every guest whose vmid
	// is a multiple of SlowAgentEvery (a busy agent; 0 or 1: every guest).
	SlowAgent      time.Duration
	SlowAgentEvery int
}

var defaultErrorCodes = []int{
	http.StatusInternalServerError, http.StatusBadGateway,
	http.StatusServiceUnavailable, http.StatusTooManyRequests,
}

type faultState struct {
	mu  sync.Mutex
	f   Faults
	rng *rand.Rand
}

type faultPlan struct {
	delay  time.Duration
	status int
	reset  bool
	slow   time.Duration
}

func (fs *faultState) set(f Faults) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(f.ErrorCodes) == 0 {
		f.ErrorCodes = defaultErrorCodes
	}
	f.ErrorCodes = append([]int(nil), f.ErrorCodes...)
	fs.f = f
	fs.rng = rand.New(rand.NewPCG(uint64(f.Seed), 0x9e3779b97f4a7c15))
}

// agentDelay is the extra time a guest-agent call of vmid takes.
func (fs *faultState) agentDelay(vmid string) time.Duration {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.f.SlowAgent <= 0 {
		return 0
	}
	n, err := strconv.Atoi(vmid)
	if err != nil {
		return 0
	}
	if every := fs.f.SlowAgentEvery; every > 1 && n%every != 0 {
		return 0
	}
	return fs.f.SlowAgent
}

// plan draws this request's treatment. It always draws the same number of values so the
// sequence stays aligned whatever the rates are.
func (fs *faultState) plan() faultPlan {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.f
	jit, errDraw, codeDraw, resetDraw, slowDraw := fs.rng.Float64(), fs.rng.Float64(), fs.rng.IntN(1<<30), fs.rng.Float64(), fs.rng.Float64()
	p := faultPlan{delay: f.Latency}
	if f.Jitter > 0 {
		p.delay += time.Duration(jit * float64(f.Jitter))
	}
	switch {
	case resetDraw < f.ResetRate:
		p.reset = true
	case errDraw < f.ErrorRate:
		p.status = f.ErrorCodes[codeDraw%len(f.ErrorCodes)]
	case slowDraw < f.SlowBodyRate && f.SlowBody > 0:
		p.slow = f.SlowBody
	}
	return p
}

// SetFaults replaces the latency and fault settings; the fault sequence restarts from Seed.
func (s *Server) SetFaults(f Faults) { s.faults.set(f) }

// Faults returns the current settings.
func (s *Server) Faults() Faults {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	f := s.faults.f
	f.ErrorCodes = append([]int(nil), f.ErrorCodes...)
	return f
}

// faultMessage is the reason phrase of an injected error, as pveproxy or a proxy in front
// of it would send it.
func faultMessage(code int) string {
	switch code {
	case http.StatusInternalServerError:
		return "injected fault: internal error"
	case http.StatusBadGateway:
		return "Bad Gateway"
	case http.StatusServiceUnavailable:
		return "Service Unavailable"
	case http.StatusTooManyRequests:
		return "Too Many Requests"
	}
	return http.StatusText(code)
}
