package config

import (
	"flag"
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
