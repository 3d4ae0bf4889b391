package syncrun

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/proxbox/proxbox/store"
	pbsync "github.com/proxbox/proxbox/sync"
)

// TestDeadLeaseHolderTakenOver: a lease left by a process of this host that
// no longer runs (kill -9 of `sync --once`) does not make the next sync
// wait; one held by a live process of this host does, and says so.
func TestDeadLeaseHolderTakenOver(t *testing.T) {
	if hostIdentity() == "" {
		t.Skip("no /proc/self/ns/pid: holders cannot be judged here")
	}
	h := newHarness(t)
	ctx := context.Background()
	eps, err := h.store.ProxmoxEndpoints(ctx)
	if err != nil || len(eps) == 0 {
		t.Fatalf("endpoints: %v", err)
	}
	ids := make([]int64, len(eps))
	for i, e := range eps {
		ids[i] = e.ID
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skip("no true(1) to make a finished pid")
	}
	dead := store.LeaseHolder{ID: "killed", Host: hostIdentity(), PID: gone.Process.Pid}
	if ok, _, err := h.store.AcquireLeasesAs(ctx, dead, ids, time.Now(), leaseTTL, nil); !ok || err != nil {
		t.Fatalf("plant the dead lease: %v %v", ok, err)
	}
	waited := false
	run, err := h.runner.Do(ctx, Request{Trigger: TriggerCLI, Stages: []pbsync.Stage{pbsync.StageDevices}, Events: func(e pbsync.Event) {
		if e.Type == pbsync.EventWarning && strings.Contains(e.Message, "another proxbox process") {
			waited = true
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := run.Result(); s == nil || !s.OK {
		t.Fatalf("sync after the dead holder: %+v", s)
	}
	if waited {
		t.Fatal("the sync waited for a holder that is gone")
	}

	// A live holder (pid 1 runs on every host) is waited for, and named.
	live := store.LeaseHolder{ID: "alive", Host: hostIdentity(), PID: 1}
	if ok, _, _ := h.store.AcquireLeasesAs(ctx, live, ids, time.Now(), leaseTTL, nil); !ok {
		t.Fatal("plant the live lease")
	}
	if ok, blocker, _ := h.store.AcquireLeasesAs(ctx, h.runner.holder, ids, time.Now(), leaseTTL, holderGone(h.runner.holder)); ok || blocker.PID != 1 {
		t.Fatalf("a live holder's lease was taken (ok=%v, blocker %+v)", ok, blocker)
	}
}
