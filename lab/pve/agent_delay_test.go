package pve

import (
	"testing"
	"time"
)

// Only the guest agents of every SlowAgentEvery-th vmid are slow.
func TestSlowAgentPicksEveryNthGuest(t *testing.T) {
	var fs faultState
	fs.set(Faults{SlowAgent: time.Second, SlowAgentEvery: 7})
	for vmid, want := range map[string]time.Duration{"107": 0, "105": time.Second, "112": time.Second, "x": 0} {
		if got := fs.agentDelay(vmid); got != want {
			t.Errorf("vmid %s: %v, want %v", vmid, got, want)
		}
	}
	fs.set(Faults{})
	if got := fs.agentDelay("105"); got != 0 {
		t.Errorf("no slow agent configured, vmid 105 delayed %v", got)
	}
}
