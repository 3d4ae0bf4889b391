package main

import (
	"testing"
	"time"

	"github.com/proxbox/proxbox/store"
)

func TestProxmoxConfigFromStoredEndpoint(t *testing.T) {
	cases := []struct {
		ep                 store.ProxmoxEndpoint
		url, tokenID, user string
		verify             bool
	}{
		{store.ProxmoxEndpoint{IPAddress: "10.0.0.10", Port: 8006, Username: "root@pam", TokenName: "sync", TokenValue: "s"}, "https://10.0.0.10:8006", "root@pam!sync", "", false},
		{store.ProxmoxEndpoint{IPAddress: "10.0.0.10", Domain: "pve.example", Port: 443, Username: "root@pam", TokenName: "root@pam!sync", TokenValue: "s", VerifySSL: true}, "https://pve.example:443", "root@pam!sync", "", true},
		{store.ProxmoxEndpoint{IPAddress: "::1", Port: 8006, Username: "root@pam", Password: "pw"}, "https://[::1]:8006", "", "root@pam", false},
		{store.ProxmoxEndpoint{IPAddress: "10.0.0.10", Port: 8006, Username: "root@pam", Password: "pw", TokenName: "half"}, "https://10.0.0.10:8006", "", "root@pam", false},
	}
	for _, tc := range cases {
		c := proxmoxConfig(tc.ep, nil)
		if c.BaseURL != tc.url || c.TokenID != tc.tokenID || c.Username != tc.user || c.VerifySSL != tc.verify {
			t.Errorf("%+v: got %s %q %q %v", tc.ep, c.BaseURL, c.TokenID, c.Username, c.VerifySSL)
		}
	}
}

// The next scheduled sync is the first tick (start + k*interval) after the
// last scheduled run ended; none once the scheduler stopped.
func TestSyncScheduleNext(t *testing.T) {
	start := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	s := newSyncSchedule(start, 15*time.Minute)
	if got := s.Next(); !got.Equal(start.Add(15 * time.Minute)) {
		t.Fatalf("first: %v", got)
	}
	for _, c := range []struct{ ended, next time.Duration }{
		{15*time.Minute + 20*time.Second, 30 * time.Minute},
		{47 * time.Minute, 60 * time.Minute}, // a run longer than the interval skips a tick
		{60 * time.Minute, 75 * time.Minute},
	} {
		s.ran(start.Add(c.ended))
		if got := s.Next(); !got.Equal(start.Add(c.next)) {
			t.Errorf("run ended at +%v: next %v, want +%v", c.ended, got.Sub(start), c.next)
		}
	}
	s.stop()
	if !s.Next().IsZero() {
		t.Error("a stopped schedule still names a next sync")
	}
}
