package syncrun

import (
	"context"
	"strings"
	"testing"

	"github.com/proxbox/proxbox/lab"
	"github.com/proxbox/proxbox/proxmox"
	"github.com/proxbox/proxbox/store"
	"github.com/proxbox/proxbox/watch"
)

// TestWatchRunsShareOneState: the watch's runs of several stored endpoints
// share one sync.State, so a change set of one endpoint after the others
// synced is applied warm (NetBox is not listed again, nothing is written)
// instead of being refused as stale, which made the watch read the endpoint
// and list NetBox fully again for every change (777 NetBox requests for one
// memory change at 100,000 guests).
func TestWatchRunsShareOneState(t *testing.T) {
	h := newLabHarness(t, lab.Config{PVEListen: "127.0.0.1:0", NetBoxListen: "127.0.0.1:0", Scale: 30, Seed: 1})
	ctx := context.Background()
	for i, p := range h.lab.Info.PVE[1:] {
		user, name, _ := strings.Cut(p.TokenID, "!")
		if _, err := h.store.CreateProxmoxEndpoint(ctx, store.ProxmoxEndpoint{Name: "PVE " + itoa(i+2), IPAddress: p.Host, Port: p.Port,
			Username: user, TokenName: name, TokenValue: store.Secret(p.TokenSecret), VerifySSL: true}); err != nil {
			t.Fatal(err)
		}
	}
	eps, err := h.runner.WatchEndpoints(ctx)
	if err != nil || len(eps) < 2 {
		t.Fatalf("watch endpoints: %d, %v", len(eps), err)
	}
	batches := make([]watch.Batch, len(eps))
	for i, ep := range eps {
		snap, err := ep.Source.Read(ctx, ep.Endpoint, proxmox.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		batches[i] = watch.Batch{Endpoint: ep, Snapshot: snap, Full: true}
		if s, err := h.runner.WatchApply(ctx, batches[i]); err != nil || !s.OK {
			t.Fatalf("full sync of %s: %+v, %v", ep.Label(), s, err)
		}
	}
	again := batches[0]
	again.Full = false
	s, err := h.runner.WatchApply(ctx, again)
	if err != nil {
		t.Fatalf("change set of %s after the other endpoints' runs: %v", again.Endpoint.Label(), err)
	}
	if !s.OK || s.NetBox.Writes != 0 || s.NetBox.Requests != 0 {
		t.Fatalf("unchanged change set of %s: ok %v, %d NetBox requests, %d writes (want a warm run: 0 and 0)",
			again.Endpoint.Label(), s.OK, s.NetBox.Requests, s.NetBox.Writes)
	}
	// Any other run still makes the next watch run list NetBox again.
	run, err := h.runner.Do(ctx, Request{Trigger: TriggerCLI})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run.Result(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.runner.WatchApply(ctx, again); err != watch.ErrStale {
		t.Fatalf("change set after another run: %v, want watch.ErrStale", err)
	}
}
