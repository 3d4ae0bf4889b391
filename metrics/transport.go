package metrics

import (
	"net/http"
	"time"
)

// InstrumentTransport counts and times every request that base sends to peer ("netbox" or
// "proxmox"), labelled by method and status class ("2xx" … "5xx", or "error" when no response
// arrived). Latency is measured until the response headers arrive. Put it under the GET cache
// (getcache.NewTransport(cache, metrics.InstrumentTransport("netbox", base))) so that cache hits,
// which never reach NetBox, are not counted as requests. A nil base means http.DefaultTransport.
func (r *Registry) InstrumentTransport(peer string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &instrumented{r: r, peer: peer, base: base}
}

type instrumented struct {
	r    *Registry
	peer string
	base http.RoundTripper
}

func (t *instrumented) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	d := time.Since(start)
	status := "error"
	if err == nil && resp != nil {
		status = statusClass(resp.StatusCode)
	}
	m := method(req.Method)
	t.r.peerRequests.WithLabelValues(t.peer, m, status).Inc()
	t.r.peerDuration.WithLabelValues(t.peer, m, status).Observe(d.Seconds())
	return resp, err
}

func statusClass(code int) string {
	switch {
	case code >= 100 && code < 200:
		return "1xx"
	case code >= 200 && code < 300:
		return "2xx"
	case code >= 300 && code < 400:
		return "3xx"
	case code >= 400 && code < 500:
		return "4xx"
	case code >= 500 && code < 600:
		return "5xx"
	default:
		return "other"
	}
}

func method(m string) string {
	switch m {
	case "", http.MethodGet:
		return http.MethodGet
	case http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	default:
		return "OTHER"
	}
}
