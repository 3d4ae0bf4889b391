package netbox

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/proxbox/proxbox/egress"
)

// TestEveryConnectionPassesTheEgressPolicy: a NetBox whose name resolves
// to the metadata address is never connected to (the token goes nowhere);
// a loopback NetBox is.
func TestEveryConnectionPassesTheEgressPolicy(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"count":0,"next":null,"results":[]}`))
	}))
	defer srv.Close()
	dns := egress.StaticResolver{"netbox.example.test": {"169.254.169.254"}}
	c, err := New(Config{URL: "http://netbox.example.test", Token: "secret-token", MaxRetries: -1, Egress: &egress.Policy{Resolver: dns}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(context.Background(), "dcim.site", nil)
	if !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("list through a name resolving to 169.254.169.254: %v, want egress.ErrRefused", err)
	}
	// The same policy lets a loopback NetBox (the lab) through.
	ok, err := New(Config{URL: srv.URL, Token: "secret-token", MaxRetries: -1, Egress: &egress.Policy{Resolver: dns}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ok.List(context.Background(), "dcim.site", nil); err != nil || hits == 0 {
		t.Fatalf("loopback NetBox: %v (hits %d)", err, hits)
	}
}
