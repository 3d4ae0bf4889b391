package syncrun

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/proxbox/proxbox/lab"
	"github.com/proxbox/proxbox/store"

	pbsync "github.com/proxbox/proxbox/sync"
)

// TestRefusedIPIsNotResentRunAfterRun: an IP address someone else holds in
// NetBox's global table is refused once (an error naming NetBox's reason),
// then reported as a known conflict without being sent again, also by a new
// Runner on the same store (a restart), and the run is ok.
func TestRefusedIPIsNotResentRunAfterRun(t *testing.T) {
	h := newLabHarness(t, lab.Config{PVEListen: "127.0.0.1:0", NetBoxListen: "127.0.0.1:0", Scale: 20, Seed: 1})
	ctx := context.Background()
	do := func(r *Runner) *pbsync.Summary {
		t.Helper()
		run, err := r.Do(ctx, Request{Trigger: TriggerCLI})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := run.Result()
		if s == nil {
			t.Fatal("no summary")
		}
		return s
	}
	if s := do(h.runner); !s.OK {
		t.Fatalf("first run: %v", s.Errors)
	}
	ips, err := h.lab.NetBox.List("ipam.ipaddress", nil)
	if err != nil || len(ips) == 0 {
		t.Fatalf("no IP addresses synced: %v", err)
	}
	addr, _ := ips[0]["address"].(string)
	id := int64(ips[0]["id"].(float64))
	if err := h.lab.NetBox.Delete(ctx, "ipam.ipaddress", id); err != nil {
		t.Fatal(err)
	}
	if _, err := h.lab.NetBox.Create(ctx, "ipam.ipaddress", map[string]any{"address": addr, "description": "someone else's"}); err != nil {
		t.Fatal(err)
	}
	s := do(h.runner)
	if s.OK || len(s.Errors) != 1 || !strings.Contains(s.Errors[0], "Duplicate IP address") {
		t.Fatalf("run with a taken IP: ok %v errors %v, want one duplicate-IP error", s.OK, s.Errors)
	}
	for _, r := range []*Runner{h.runner, New(h.runner.cfg)} {
		h.lab.NetBox.ResetStats()
		s = do(r)
		if !s.OK || s.NetBox.Writes != 0 {
			t.Fatalf("run after the refusal: ok %v, %d writes, errors %v", s.OK, s.NetBox.Writes, s.Errors)
		}
		known := 0
		for _, w := range s.Warnings {
			if strings.Contains(w, "known conflict") && strings.Contains(w, "Duplicate IP address") {
				known++
			}
		}
		if known != 1 {
			t.Fatalf("warnings %v, want one known conflict", s.Warnings)
		}
		for _, lr := range h.lab.NetBox.RequestLog() {
			if lr.Method == "POST" && strings.Contains(lr.Pattern, "ip-addresses") {
				t.Fatalf("the refused IP was sent again: %+v", lr)
			}
		}
	}
}

// TestSeveralEndpointsConverge: a generated lab's three endpoints (two
// clusters and a standalone node), read concurrently, sync in one run; the
// second run writes nothing and reports no error.
func TestSeveralEndpointsConverge(t *testing.T) {
	h := newLabHarness(t, lab.Config{PVEListen: "127.0.0.1:0", NetBoxListen: "127.0.0.1:0", Scale: 30, Seed: 2})
	ctx := context.Background()
	for i, p := range h.lab.Info.PVE[1:] {
		user, name, _ := strings.Cut(p.TokenID, "!")
		if _, err := h.store.CreateProxmoxEndpoint(ctx, store.ProxmoxEndpoint{Name: "pve-" + strconv.Itoa(i+2), IPAddress: p.Host, Port: p.Port, Username: user, TokenName: name, TokenValue: store.Secret(p.TokenSecret), VerifySSL: true}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(h.lab.Info.PVE); n < 3 {
		t.Fatalf("the generated lab has %d endpoints, want 3", n)
	}
	for i, wantWrites := range []bool{true, false} {
		run, err := h.runner.Do(ctx, Request{Trigger: TriggerCLI})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := run.Result()
		if s == nil || !s.OK || (s.NetBox.Writes > 0) != wantWrites {
			t.Fatalf("run %d: %+v", i+1, s)
		}
	}
	if got := h.lab.NetBox.Count("virtualization.cluster"); got != 3 {
		t.Errorf("%d clusters in NetBox, want 3", got)
	}
}
