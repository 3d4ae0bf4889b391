package proxmox

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/proxbox/proxbox/inventory"
	"github.com/proxbox/proxbox/lab/pve"
)

// TestReadThroughHTTP2Proxy reads a lab cluster through an h2-capable TLS reverse proxy (as
// nginx or Caddy in front of pveproxy): the client must offer only the protocol it speaks,
// whatever the transport it was built from offered before.
func TestReadThroughHTTP2Proxy(t *testing.T) {
	srv, err := pve.New(pve.Options{Scale: 20, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	backend, _ := url.Parse(serveHTTP(t, srv))
	var h1, h2 atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(backend)
	front := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			h2.Add(1)
		} else {
			h1.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	front.EnableHTTP2 = true
	front.StartTLS()
	t.Cleanup(front.Close)

	// The proxy really speaks h2 to a client that asks for it.
	resp, err := front.Client().Get(front.URL + "/api2/json/version")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("the test proxy answered HTTP/%d.%d, want h2", resp.ProtoMajor, resp.ProtoMinor)
	}

	// A transport as http.DefaultTransport.Clone() returns it after its first use: it offers
	// h2 in the TLS handshake.
	used := &http.Transport{TLSClientConfig: &tls.Config{NextProtos: []string{"h2", "http/1.1"}}, ForceAttemptHTTP2: true}
	for _, tc := range []struct {
		name string
		base http.RoundTripper
	}{{"default transport", nil}, {"transport offering h2", used}} {
		t.Run(tc.name, func(t *testing.T) {
			// Use http.DefaultTransport once so that its clone carries NextProtos too.
			if r, err := http.DefaultClient.Get(backend.String() + "/api2/json/version"); err == nil {
				r.Body.Close()
			}
			h1.Store(0)
			h2.Store(0)
			cfg := tokenConfig(front.URL)
			cfg.Transport = tc.base
			snap, err := mustNew(t, cfg).Read(context.Background(), inventory.Endpoint{ID: 1, Name: "behind-h2"}, DefaultReadOptions())
			if err != nil {
				t.Fatal(err)
			}
			if !snap.Complete() || len(snap.Guests) == 0 {
				t.Fatalf("read through the proxy: %d guests, errors %+v", len(snap.Guests), snap.Errors)
			}
			if h1.Load() == 0 || h2.Load() != 0 {
				t.Fatalf("proxy saw %d HTTP/1.1 and %d h2 requests, want only HTTP/1.1", h1.Load(), h2.Load())
			}
		})
	}
}
