package getcache

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultFlightTimeout bounds a shared upstream GET whose first caller had no deadline.
const DefaultFlightTimeout = 2 * time.Minute

// Header set on every answer to a cacheable GET: "HIT", "MISS" or "BYPASS".
const HeaderCacheState = "X-Proxbox-Cache"

// Transport puts a Cache on a NetBox client's request path. Install it as the http.Client's
// Transport (the metrics-instrumented transport goes in Base, so only real upstream requests
// are counted). The zero value is not usable: set Cache.
type Transport struct {
	// Base performs the real requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Cache holds the answers; it may be shared by several transports (endpoints).
	Cache *Cache
	// Endpoint names the NetBox endpoint in keys and invalidation; empty means scheme://host of
	// each request. Two transports that talk to the same NetBox must use the same name.
	Endpoint string
	// FlightTimeout bounds a shared upstream GET when the first caller's context has no
	// deadline; 0 means DefaultFlightTimeout. The shared request ignores the first caller's
	// cancellation (others may be waiting) but keeps its deadline.
	FlightTimeout time.Duration
}

// NewTransport returns a Transport that caches through c and sends through base.
func NewTransport(c *Cache, base http.RoundTripper) *Transport {
	return &Transport{Base: base, Cache: c}
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base()
	if t.Cache == nil || req.URL == nil {
		return base.RoundTrip(req)
	}
	switch req.Method {
	case http.MethodGet, "":
		return t.get(req, base)
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		sc, ok := writeScope(endpointOf(t.Endpoint, req.URL), req.Method, req.URL.Path)
		if !ok {
			return base.RoundTrip(req)
		}
		t.Cache.beginWrite(sc)
		defer t.Cache.endWrite(sc)
		return base.RoundTrip(req)
	default:
		return base.RoundTrip(req)
	}
}

// fetched is one upstream answer, read whole so it can be shared and cached.
type fetched struct {
	status int
	header http.Header
	body   []byte
}

func (t *Transport) get(req *http.Request, base http.RoundTripper) (*http.Response, error) {
	c := t.Cache
	k, ok := readKey(endpointOf(t.Endpoint, req.URL), req)
	if !ok {
		return base.RoundTrip(req)
	}
	noStore, noCache := requestCacheControl(req.Header)
	if noStore {
		c.countBypass()
		return base.RoundTrip(req)
	}
	if noCache {
		c.countBypass()
		gen, enabled := c.currentGen(k)
		if !enabled {
			return base.RoundTrip(req)
		}
		f, err := t.fetch(req, base, k, gen, false)
		if err != nil {
			return nil, err
		}
		return f.response(req, "BYPASS"), nil
	}
	p, gen, enabled := c.lookup(k)
	if !enabled {
		return base.RoundTrip(req)
	}
	if p != nil {
		return newResponse(req, p.status, p.header, p.body, "HIT"), nil
	}
	leader := false
	ch := c.flights.DoChan(k.full+"\x00"+strconv.FormatUint(gen, 10), func() (any, error) {
		leader = true
		return t.fetch(req, base, k, gen, true)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		if !leader {
			c.countCoalesced()
		}
		return r.Val.(*fetched).response(req, "MISS"), nil
	case <-req.Context().Done():
		return nil, fmt.Errorf("netbox get %s: %w", k.path, req.Context().Err())
	}
}

// fetch sends req upstream, reads the whole body and stores a 200 answer under gen. A shared
// fetch runs detached from the first caller's cancellation but keeps its deadline.
func (t *Transport) fetch(req *http.Request, base http.RoundTripper, k *key, gen uint64, shared bool) (*fetched, error) {
	ctx := req.Context()
	if shared {
		// A flight that started just after another one for the same key and generation stored
		// its answer finds it here instead of asking NetBox again.
		if p := t.Cache.peek(k, gen); p != nil {
			return &fetched{status: p.status, header: p.header, body: p.body}, nil
		}
		var cancel context.CancelFunc
		ctx, cancel = t.detach(ctx)
		defer cancel()
		req = req.WithContext(ctx)
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read netbox response %s: %w", k.path, err)
	}
	f := &fetched{status: resp.StatusCode, header: resp.Header, body: body}
	if resp.StatusCode == http.StatusOK {
		if ns, _ := requestCacheControl(resp.Header); !ns {
			t.Cache.fill(k, gen, f.status, f.header, f.body)
		}
	}
	return f, nil
}

func (t *Transport) detach(parent context.Context) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(parent)
	if dl, ok := parent.Deadline(); ok {
		return context.WithDeadline(ctx, dl)
	}
	d := t.FlightTimeout
	if d <= 0 {
		d = DefaultFlightTimeout
	}
	return context.WithTimeout(ctx, d)
}

func (f *fetched) response(req *http.Request, state string) *http.Response {
	return newResponse(req, f.status, f.header, f.body, state)
}

// newResponse builds a fresh response; header is cloned and body is shared read-only.
func newResponse(req *http.Request, status int, header http.Header, body []byte, state string) *http.Response {
	h := header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h[HeaderCacheState] = []string{state}
	statusLine := "200 OK"
	if status != http.StatusOK {
		statusLine = strconv.Itoa(status) + " " + http.StatusText(status)
	}
	return &http.Response{
		Status:        statusLine,
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(newReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// requestCacheControl reads Cache-Control (and Pragma) for no-store and no-cache.
func requestCacheControl(h http.Header) (noStore, noCache bool) {
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(d)) {
			case "no-store":
				noStore = true
			case "no-cache", "max-age=0":
				noCache = true
			}
		}
	}
	for _, v := range h.Values("Pragma") {
		if strings.EqualFold(strings.TrimSpace(v), "no-cache") {
			noCache = true
		}
	}
	return noStore, noCache
}
