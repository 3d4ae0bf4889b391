package config

import (
	"flag"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8000 || c.BindHost != "" || c.DataDir != "./data" || c.TLS != TLSLocal || c.RateLimit != DefaultRateLimit || c.LogFormat != "text" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.Addr() != ":8000" {
		t.Fatalf("Addr = %q", c.Addr())
	}
}

func TestFlagWinsOverEnv(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	load := Flags(fs, nil)
	if err := fs.Parse([]string{"--port", "9001"}); err != nil {
		t.Fatal(err)
	}
	c, err := load(env(map[string]string{"PORT": "9000", "PROXBOX_LOG_LEVEL": "DEBUG"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 9001 || c.LogLevel != "debug" {
		t.Fatalf("port %d level %s", c.Port, c.LogLevel)
	}
}

func TestInvalidValuesNameVariableValueAndAllowed(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"PORT": "70000"}, []string{"PORT", `"70000"`, "1 to 65535"}},
		{map[string]string{"PROXBOX_TLS": "maybe"}, []string{"PROXBOX_TLS", `"maybe"`, "off, local, acme, files"}},
		{map[string]string{"PROXBOX_LOG_FORMAT": "xml"}, []string{"PROXBOX_LOG_FORMAT", "text, json"}},
		{map[string]string{"PROXBOX_RATE_LIMIT": "-1"}, []string{"PROXBOX_RATE_LIMIT", ">= 0"}},
		{map[string]string{"PROXBOX_TRUSTED_PROXIES": "10.0.0.0/8,nope"}, []string{"PROXBOX_TRUSTED_PROXIES", "CIDRs"}},
		{map[string]string{"PROXBOX_BIND_HOST": "example.com"}, []string{"PROXBOX_BIND_HOST", "IP address"}},
		{map[string]string{"PROXBOX_TLS": "files"}, []string{"PROXBOX_TLS_CERT"}},
		{map[string]string{"PROXBOX_METRICS_PUBLIC": "perhaps"}, []string{"PROXBOX_METRICS_PUBLIC", "true, false"}},
	}
	for _, tc := range cases {
		_, err := Load(env(tc.env))
		if err == nil {
			t.Errorf("%v: no error", tc.env)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error is not one line: %q", tc.env, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q", tc.env, err, w)
			}
		}
	}
}

func TestLists(t *testing.T) {
	c, err := Load(env(map[string]string{
		"PROXBOX_TLS_NAMES":          "a.example, b.example 10.1.2.3",
		"MKCERT_EXTRA_NAMES":         "c.example,d.example",
		"PROXBOX_TRUSTED_PROXIES":    "10.0.0.0/8, 192.168.1.7",
		"PROXBOX_CORS_EXTRA_ORIGINS": "https://nb.example/, http://x:8080",
		"PROXBOX_BIND_HOST":          "[::1]",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.TLSNames, "|"); got != "a.example|b.example|10.1.2.3|c.example|d.example" {
		t.Errorf("TLSNames = %s", got)
	}
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.168.1.7/32" {
		t.Errorf("TrustedProxies = %v", c.TrustedProxies)
	}
	if c.CORSExtraOrigins[0] != "https://nb.example" {
		t.Errorf("CORS = %v", c.CORSExtraOrigins)
	}
	if c.Addr() != "[::1]:8000" {
		t.Errorf("Addr = %s", c.Addr())
	}
}

func TestParseBool(t *testing.T) {
	for in, want := range map[string]bool{"True": true, "true": true, "FALSE": false, "1": true, "0": false, "": false, "Yes": true} {
		got, err := ParseBool(in)
		if err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseBool("maybe"); err == nil {
		t.Error("ParseBool(maybe) accepted")
	}
}

func TestSyncInterval(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "900": 15 * time.Minute, "15m": 15 * time.Minute, "1h": time.Hour} {
		c, err := Load(env(map[string]string{"PROXBOX_SYNC_INTERVAL": in}))
		if err != nil || c.SyncInterval != want {
			t.Errorf("%s: %v %v", in, c.SyncInterval, err)
		}
	}
	for _, bad := range []string{"5s", "-1m", "soon"} {
		if _, err := Load(env(map[string]string{"PROXBOX_SYNC_INTERVAL": bad})); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestEncryptionKeyTooShortOneLineNoEcho(t *testing.T) {
	_, err := Load(func(k string) string {
		if k == "PROXBOX_ENCRYPTION_KEY" {
			return "short-secret"
		}
		return ""
	})
	if err == nil {
		t.Fatal("a 12-character encryption key was accepted")
	}
	msg := err.Error()
	if strings.Contains(msg, "short-secret") || strings.Contains(msg, "\n") || !strings.Contains(msg, "PROXBOX_ENCRYPTION_KEY") || !strings.Contains(msg, "16") {
		t.Fatalf("error %q: want one line naming the variable and the minimum, without the value", msg)
	}
	if _, err := Load(func(k string) string {
		if k == "PROXBOX_ENCRYPTION_KEY" {
			return "sixteen-chars-ok"
		}
		return ""
	}); err != nil {
		t.Fatal(err)
	}
}

func TestBootstrapFrom(t *testing.T) {
	for v, want := range map[string]int{"": -1, "none": 0, "10.0.0.0/8, 192.0.2.1": 2} {
		c, err := Load(func(k string) string {
			if k == "PROXBOX_BOOTSTRAP_FROM" {
				return v
			}
			return ""
		})
		if err != nil {
			t.Fatal(err)
		}
		got := len(c.BootstrapFrom)
		if c.BootstrapFrom == nil {
			got = -1
		}
		if got != want {
			t.Errorf("PROXBOX_BOOTSTRAP_FROM=%q: %d prefixes (nil=-1), want %d", v, got, want)
		}
	}
	if _, err := Load(func(k string) string {
		if k == "PROXBOX_BOOTSTRAP_FROM" {
			return "everyone"
		}
		return ""
	}); err == nil {
		t.Fatal("a bad PROXBOX_BOOTSTRAP_FROM was accepted")
	}
}

// Every sync, cache and TLS setting is refused in config, before any side effect, with one
// line naming the variable, the value and what is allowed.
func TestEnvOnlySettingsRefusedWithOneLine(t *testing.T) {
	cases := []struct {
		env, value, allowed string
	}{
		{"PROXBOX_ORPHANS", "nuke", "keep, mark, delete"},
		{"PROXBOX_ORPHAN_GRACE", "soon", "7d"},
		{"PROXBOX_ORPHAN_GRACE", "-3d", "7d"},
		{"PROXBOX_ORPHAN_GRACE", "-1h", "7d"},
		{"PROXBOX_DEFAULT_SITE", strings.Repeat("s", 101), "at most 100 characters"},
		{"PROXBOX_DEFAULT_SITE", "a\x07b", "at most 100 characters"},
		{"PROXBOX_TEMPLATES", "maybe", "sync, skip"},
		{"PROXBOX_PRIMARY_IP_PREFERENCE", "ipv5", "ipv4, ipv6, both, none"},
		{"PROXBOX_USE_GUEST_AGENT_INTERFACE_NAME", "perhaps", "true, false"},
		{"PROXBOX_IGNORE_IPV6_LINK_LOCAL", "2", "true, false"},
		{"PROXBOX_BACKUP_BATCH_SIZE", "0", "1 to 1000"},
		{"PROXBOX_BACKUP_BATCH_SIZE", "x", "1 to 1000"},
		{"PROXBOX_BACKUP_BATCH_DELAY_MS", "-5", "0 to 60000"},
		{"PROXBOX_NETBOX_GET_CACHE_TTL", "-1", "number of seconds"},
		{"PROXBOX_NETBOX_GET_CACHE_TTL", "NaN", "number of seconds"},
		{"PROXBOX_NETBOX_GET_CACHE_TTL", "1e300", "number of seconds"},
		{"PROXBOX_NETBOX_GET_CACHE_MAX_ENTRIES", "0", ">= 1"},
		{"PROXBOX_NETBOX_GET_CACHE_MAX_BYTES", "1023", ">= 1024"},
		{"PROXBOX_NETBOX_GET_CACHE_MAX_BYTES", "1.5", ">= 1024"},
		{"PROXBOX_ACME_EMAIL", "notanemail", "e-mail address"},
		{"PROXBOX_ACME_EMAIL", "Admin <a@example.com>", "e-mail address"},
		{"PROXBOX_ACME_EMAIL", "a@localhost", "e-mail address"},
		{"PROXBOX_ACME_CA", "ftp://ca.example", "ACME directory URL"},
		{"PROXBOX_ACME_CA", "http://ca.example/dir", "ACME directory URL"},
		{"PROXBOX_TLS_NAMES", "good.example, bad/name", `bad entry "bad/name"`},
		{"PROXBOX_TLS_NAMES", "-x.example", `bad entry "-x.example"`},
		{"PROXBOX_TLS_NAMES", "a..example", `bad entry "a..example"`},
		{"MKCERT_EXTRA_NAMES", "host_ok.example é.example", `bad entry "é.example"`},
	}
	for _, tc := range cases {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			_, err := Load(env(map[string]string{tc.env: tc.value}))
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			want := "invalid " + tc.env + "=" + strconv.Quote(tc.value) + ": allowed: "
			if !strings.HasPrefix(msg, want) || !strings.Contains(msg, tc.allowed) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line starting %q and naming %q", msg, want, tc.allowed)
			}
		})
	}
}

func TestEnvOnlySettingsParsed(t *testing.T) {
	d, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if d.Orphans != "mark" || d.OrphanGrace != 7*24*time.Hour || d.DefaultSite != "" || d.SkipTemplates || d.PrimaryIP != "ipv4" ||
		!d.AgentInterfaceNames || !d.IgnoreIPv6LinkLocal || d.BackupBatchSize != 5 || d.BackupBatchDelay != 200*time.Millisecond ||
		d.CacheTTL != time.Minute || d.CacheMaxEntries != 4096 || d.CacheMaxBytes != 52428800 {
		t.Fatalf("defaults: %+v", d)
	}
	c, err := Load(env(map[string]string{
		"PROXBOX_ORPHANS": "DELETE", "PROXBOX_ORPHAN_GRACE": "1.5d", "PROXBOX_DEFAULT_SITE": " Lab Site ",
		"PROXBOX_TEMPLATES": "skip", "PROXBOX_PRIMARY_IP_PREFERENCE": "Both", "PROXBOX_USE_GUEST_AGENT_INTERFACE_NAME": "false",
		"PROXBOX_IGNORE_IPV6_LINK_LOCAL": "0", "PROXBOX_BACKUP_BATCH_SIZE": "50", "PROXBOX_BACKUP_BATCH_DELAY_MS": "0",
		"PROXBOX_NETBOX_GET_CACHE_TTL": "0.5", "PROXBOX_NETBOX_GET_CACHE_MAX_ENTRIES": " 10 ", "PROXBOX_NETBOX_GET_CACHE_MAX_BYTES": "7340032",
		"PROXBOX_ACME_EMAIL": "ops@example.com", "PROXBOX_ACME_CA": "ZeroSSL", "PROXBOX_TLS_NAMES": "*.lab.example,[fd00::1] Host_1.example.",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Orphans != "delete" || c.OrphanGrace != 36*time.Hour || c.DefaultSite != "Lab Site" || !c.SkipTemplates || c.PrimaryIP != "both" ||
		c.AgentInterfaceNames || c.IgnoreIPv6LinkLocal || c.BackupBatchSize != 50 || c.BackupBatchDelay != 0 ||
		c.CacheTTL != 500*time.Millisecond || c.CacheMaxEntries != 10 || c.CacheMaxBytes != 7340032 ||
		c.ACMEEmail != "ops@example.com" || c.ACMECA != "zerossl" || len(c.TLSNames) != 3 {
		t.Fatalf("parsed: %+v", c)
	}
	if g, _ := Load(env(map[string]string{"PROXBOX_ORPHAN_GRACE": "0"})); g.OrphanGrace != 0 {
		t.Errorf("grace 0 = %v", g.OrphanGrace)
	}
}

func TestTLSCrossChecks(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PROXBOX_TLS": "acme"}, "acme mode needs PROXBOX_TLS_NAMES"},
		{map[string]string{"PROXBOX_ACME_EAB_KID": "kid"}, "both set"},
	} {
		if _, err := Load(env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v, want one line with %q", tc.env, err, tc.want)
		}
	}
	if _, err := Load(env(map[string]string{"PROXBOX_TLS": "acme", "PROXBOX_TLS_NAMES": "proxbox.example.com"})); err != nil {
		t.Errorf("acme with names: %v", err)
	}
}

// proxbox-api's variables: the ones whose meaning matches are read under proxbox's name (and
// validated as such); the others warn when set.
func TestLegacyVariables(t *testing.T) {
	c, err := Load(env(map[string]string{"PROXBOX_NETBOX_MAX_CONCURRENT": "2", "PROXBOX_FETCH_MAX_CONCURRENCY": "6",
		"PROXBOX_STRICT_STARTUP": "1", "MKCERT_CERT_DIR": "/certs"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.NetBoxWrites != 2 || c.ProxmoxFetch != 6 {
		t.Errorf("mapped: writes %d, fetch %d", c.NetBoxWrites, c.ProxmoxFetch)
	}
	joined := strings.Join(c.Warnings, "\n")
	for _, want := range []string{`PROXBOX_NETBOX_MAX_CONCURRENT="2" (proxbox-api) is read as PROXBOX_NETBOX_WRITE_CONCURRENCY`,
		`PROXBOX_FETCH_MAX_CONCURRENCY="6" (proxbox-api) is read as PROXBOX_PROXMOX_FETCH_CONCURRENCY`,
		"PROXBOX_STRICT_STARTUP is set but ignored", "MKCERT_CERT_DIR is set but ignored"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q:\n%s", want, joined)
		}
	}
	if len(c.Warnings) != 4 {
		t.Errorf("%d warnings: %q", len(c.Warnings), c.Warnings)
	}
	// proxbox's own name wins, without a warning about the old one being read.
	c, _ = Load(env(map[string]string{"PROXBOX_NETBOX_MAX_CONCURRENT": "2", "PROXBOX_NETBOX_WRITE_CONCURRENCY": "9"}))
	if c.NetBoxWrites != 9 || len(c.Warnings) != 0 {
		t.Errorf("own name: %d %q", c.NetBoxWrites, c.Warnings)
	}
	// A bad value under the old name is refused naming the old name.
	if _, err := Load(env(map[string]string{"PROXBOX_FETCH_MAX_CONCURRENCY": "0"})); err == nil || !strings.HasPrefix(err.Error(), `invalid PROXBOX_FETCH_MAX_CONCURRENCY="0": allowed: `) {
		t.Errorf("bad legacy value: %v", err)
	}
	if c, _ := Load(env(nil)); len(c.Warnings) != 0 {
		t.Errorf("warnings with nothing set: %q", c.Warnings)
	}
	// Every ignored variable has a reason; no mapped one points at an unknown option.
	for _, l := range LegacyVariables {
		if l.Why == "" || (l.Use != "" && !slices.ContainsFunc(options, func(o option) bool { return o.env == l.Use })) {
			t.Errorf("%+v", l)
		}
	}
}

func TestWatchOptions(t *testing.T) {
	cases := []struct {
		env      map[string]string
		watch    bool
		interval time.Duration
		sync     time.Duration
	}{
		{map[string]string{}, true, 5 * time.Second, time.Hour},
		{map[string]string{"PROXBOX_WATCH": "off"}, false, 5 * time.Second, 0},
		{map[string]string{"PROXBOX_WATCH_INTERVAL": "1s"}, true, time.Second, time.Hour},
		{map[string]string{"PROXBOX_WATCH_INTERVAL": "30"}, true, 30 * time.Second, time.Hour},
		{map[string]string{"PROXBOX_SYNC_INTERVAL": "0"}, true, 5 * time.Second, 0},
		{map[string]string{"PROXBOX_WATCH": "off", "PROXBOX_SYNC_INTERVAL": "15m"}, false, 5 * time.Second, 15 * time.Minute},
	}
	for _, c := range cases {
		got, err := Load(env(c.env))
		if err != nil || got.Watch != c.watch || got.WatchInterval != c.interval || got.SyncInterval != c.sync {
			t.Errorf("%v: watch %v every %s, sync %s, err %v; want %v, %s, %s", c.env, got.Watch, got.WatchInterval, got.SyncInterval, err, c.watch, c.interval, c.sync)
		}
	}
	for env, bad := range map[string]string{"PROXBOX_WATCH": "sometimes", "PROXBOX_WATCH_INTERVAL": "500ms"} {
		if _, err := Load(envOne(env, bad)); err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%s=%s: %v", env, bad, err)
		}
	}
}

func envOne(k, v string) func(string) string { return env(map[string]string{k: v}) }
