package proxmox

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/proxbox/proxbox/lab/pve"
)

func TestRawAndPool(t *testing.T) {
	sim, err := pve.New(pve.Options{FixturesFile: "../testdata/fixtures/pve/netbox-proxbox-e2e-cluster.json"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	defer ts.Close()
	p := NewPool()
	cfg := Config{BaseURL: ts.URL, TokenID: sim.TokenID(), TokenSecret: sim.TokenSecret()}
	c1, err := p.Client("ep-1", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c2, _ := p.Client("ep-1", cfg); c2 != c1 {
		t.Fatal("same config built a second client")
	}
	raw, err := c1.Raw(context.Background(), "/cluster/resources", nil)
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	if err := json.Unmarshal(raw, &recs); err != nil || len(recs) != 13 {
		t.Fatalf("resources: %d %v", len(recs), err)
	}
	cfg.TokenSecret = "wrong"
	c3, _ := p.Client("ep-1", cfg)
	if c3 == c1 {
		t.Fatal("changed config reused the old client")
	}
	if _, err := c3.Raw(context.Background(), "/version", nil); err == nil {
		t.Fatal("wrong token accepted")
	}
}
