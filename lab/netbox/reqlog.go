package netbox

import (
	"sync"
	"time"
)

// LoggedRequest is one /api/ request as the simulator handled it: when it
// arrived and when its reply was ready, its method and path pattern (as in
// Stats.Requests), the status and the number of objects it wrote.
type LoggedRequest struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Method  string    `json:"method"`
	Pattern string    `json:"pattern"`
	Status  int       `json:"status"`
	Objects int       `json:"objects"`
}

// maxLogged bounds the request log; older entries are dropped.
const maxLogged = 200000

type reqLog struct {
	mu      sync.Mutex
	entries []LoggedRequest
}

func (l *reqLog) add(e LoggedRequest) {
	l.mu.Lock()
	if len(l.entries) >= maxLogged {
		l.entries = append(l.entries[:0], l.entries[len(l.entries)-maxLogged/2:]...)
	}
	l.entries = append(l.entries, e)
	l.mu.Unlock()
}

// RequestLog returns the handled /api/ requests in the order their replies
// were ready (at most the last 200,000). Requests refused by an injected
// fault are not in it.
func (s *Server) RequestLog() []LoggedRequest {
	s.reqlog.mu.Lock()
	defer s.reqlog.mu.Unlock()
	return append([]LoggedRequest(nil), s.reqlog.entries...)
}

// ResetRequestLog empties the request log (ResetStats does too).
func (s *Server) ResetRequestLog() {
	s.reqlog.mu.Lock()
	s.reqlog.entries = nil
	s.reqlog.mu.Unlock()
}
