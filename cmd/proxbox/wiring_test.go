package main

import (
	"testing"
	"time"

	"github.com/proxbox/proxbox/config"
	"github.com/proxbox/proxbox/netbox/getcache"
	"github.com/proxbox/proxbox/store"
	pbsync "github.com/proxbox/proxbox/sync"
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
		c := proxmoxConfig(tc.ep, nil, nil)
		if c.BaseURL != tc.url || c.TokenID != tc.tokenID || c.Username != tc.user || c.VerifySSL != tc.verify {
			t.Errorf("%+v: got %s %q %q %v", tc.ep, c.BaseURL, c.TokenID, c.Username, c.VerifySSL)
		}
	}
}

// The configuration's sync and cache settings reach the engine and the cache with their
// meaning: a configured 0 grace or delay means none, not the engine's default.
func TestSyncDefaultsAndCacheLimitsFromConfig(t *testing.T) {
	def, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	o := syncDefaults(def)
	if o.Orphans != pbsync.OrphansMark || o.OrphanGrace != 7*24*time.Hour || o.BackupBatchSize != 5 || o.BackupBatchDelay != 200*time.Millisecond ||
		o.Map.ConfigInterfaceNames || o.Map.IncludeIPv6LinkLocal || o.Map.SkipTemplates || o.Map.PrimaryIP != "ipv4" || o.Map.Site != "" {
		t.Errorf("defaults: %+v", o)
	}
	if l := cacheLimits(def); l != getcache.DefaultLimits() || l.Validate() != nil {
		t.Errorf("cache defaults %+v", l)
	}
	env := map[string]string{"PROXBOX_ORPHANS": "delete", "PROXBOX_ORPHAN_GRACE": "0", "PROXBOX_BACKUP_BATCH_DELAY_MS": "0",
		"PROXBOX_USE_GUEST_AGENT_INTERFACE_NAME": "false", "PROXBOX_IGNORE_IPV6_LINK_LOCAL": "false", "PROXBOX_DEFAULT_SITE": "DC1",
		"PROXBOX_TEMPLATES": "skip", "PROXBOX_PRIMARY_IP_PREFERENCE": "none", "PROXBOX_NETBOX_GET_CACHE_TTL": "0"}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	o = syncDefaults(cfg)
	if o.Orphans != pbsync.OrphansDelete || o.OrphanGrace >= 0 || o.BackupBatchDelay >= 0 || !o.Map.ConfigInterfaceNames ||
		!o.Map.IncludeIPv6LinkLocal || o.Map.Site != "DC1" || !o.Map.SkipTemplates || o.Map.PrimaryIP != "none" {
		t.Errorf("set: %+v", o)
	}
	if l := cacheLimits(cfg); l.TTL != 0 || l.Validate() != nil {
		t.Errorf("cache off %+v", l)
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
