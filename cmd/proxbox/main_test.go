package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestEveryCommandHasHelp(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &out, &out); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for name := range commands {
		if !strings.Contains(out.String(), name) {
			t.Errorf("usage does not list %s", name)
		}
		var help bytes.Buffer
		if code := run(context.Background(), []string{name, "--help"}, &help, &help); code != 0 {
			t.Errorf("%s --help: exit %d: %s", name, code, help.String())
		}
		if !strings.Contains(help.String(), "Usage: proxbox "+name) {
			t.Errorf("%s --help does not show its usage: %q", name, help.String())
		}
	}
}

func TestUnknownCommandAndBadFlag(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &out, &out); code != 2 {
		t.Fatalf("unknown command exit %d", code)
	}
	if code := run(context.Background(), []string{"version", "--nope"}, &out, &out); code != 2 {
		t.Fatalf("bad flag exit %d", code)
	}
}

func TestVersionPrintsVersionAndCommit(t *testing.T) {
	version, commit = "v1.2.3", "abcdef123456"
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &out); code != 0 {
		t.Fatal(code)
	}
	if !strings.Contains(out.String(), "v1.2.3") || !strings.Contains(out.String(), "abcdef123456") {
		t.Fatalf("version output: %s", out.String())
	}
}

func TestInvalidEnvironmentStopsServeWithOneLine(t *testing.T) {
	t.Setenv("PROXBOX_TLS", "bogus")
	var out bytes.Buffer
	code := run(context.Background(), []string{"serve"}, &out, &out)
	if code != 1 || strings.Count(strings.TrimSpace(out.String()), "\n") != 0 || !strings.Contains(out.String(), "PROXBOX_TLS") {
		t.Fatalf("exit %d, output %q", code, out.String())
	}
}

// A busy port stops demo as it stops serve: exit 1 with the bind error as the last line,
// instead of waiting forever on the lab it had started.
func TestDemoExitsWhenPortIsBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	// The deadline only keeps a regression from hanging the suite; the assertion is that
	// demo returned on its own before it.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	code := run(ctx, []string{"demo", "--data-dir", t.TempDir(), "--bind", "127.0.0.1", "--port", port, "--scale", "2"}, &out, &out)
	if ctx.Err() != nil {
		t.Fatalf("demo did not exit on its own with its port busy; output:\n%s", out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if code != 1 || !strings.HasPrefix(last, "proxbox demo: listen on 127.0.0.1:"+port) || !strings.Contains(last, "address already in use") {
		t.Fatalf("exit %d, last line %q; output:\n%s", code, last, out.String())
	}
}

// A bad setting stops serve and sync before anything is created: no data directory, no CA, no
// database, no secret key; one line names the variable, the value and what is allowed.
func TestBadSettingStopsBeforeAnySideEffect(t *testing.T) {
	cases := []struct{ env, value string }{
		{"PROXBOX_ORPHANS", "nuke"},
		{"PROXBOX_ORPHAN_GRACE", "soon"},
		{"PROXBOX_TEMPLATES", "maybe"},
		{"PROXBOX_PRIMARY_IP_PREFERENCE", "ipv5"},
		{"PROXBOX_USE_GUEST_AGENT_INTERFACE_NAME", "perhaps"},
		{"PROXBOX_IGNORE_IPV6_LINK_LOCAL", "2"},
		{"PROXBOX_BACKUP_BATCH_SIZE", "0"},
		{"PROXBOX_BACKUP_BATCH_DELAY_MS", "-1"},
		{"PROXBOX_NETBOX_GET_CACHE_TTL", "-1"},
		{"PROXBOX_NETBOX_GET_CACHE_MAX_ENTRIES", "0"},
		{"PROXBOX_NETBOX_GET_CACHE_MAX_BYTES", "10"},
		{"PROXBOX_DEFAULT_SITE", strings.Repeat("x", 101)},
		{"PROXBOX_ACME_EMAIL", "notanemail"},
		{"PROXBOX_TLS_NAMES", "ok.example,bad/name"},
	}
	// serve exits 1 (it failed to start), sync --once 2 (bad usage, as its --help says).
	for cmd, args := range map[string][]string{"serve": {"serve"}, "sync": {"sync", "--once"}} {
		want := map[string]int{"serve": 1, "sync": 2}[cmd]
		for _, tc := range cases {
			t.Run(cmd+"/"+tc.env, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "data")
				t.Setenv("PROXBOX_DATA_DIR", dir)
				t.Setenv(tc.env, tc.value)
				var out bytes.Buffer
				code := run(context.Background(), args, &out, &out)
				msg := strings.TrimSpace(out.String())
				if code != want || strings.Contains(msg, "\n") || !strings.Contains(msg, "invalid "+tc.env+"="+strconv.Quote(tc.value)+": allowed: ") {
					t.Fatalf("exit %d, output %q", code, msg)
				}
				if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s was created (%v)", dir, err)
				}
			})
		}
	}
}

// `proxbox sync --once` run where there is no appliance store fails without making one: no
// ./data, no database, no secret key.
func TestSyncOnceInTheWrongDirectoryCreatesNothing(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("PROXBOX_DATA_DIR", "")
	var out bytes.Buffer
	code := run(context.Background(), []string{"sync", "--once"}, &out, &out)
	msg := strings.TrimSpace(out.String())
	if code != 1 || strings.Contains(msg, "\n") || !strings.Contains(msg, "no proxbox store in ./data") {
		t.Fatalf("exit %d, output %q", code, msg)
	}
	if _, err := os.Stat("data"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("./data was created (%v)", err)
	}
	empty := t.TempDir()
	out.Reset()
	if code := run(context.Background(), []string{"sync", "--once", "--data-dir", empty}, &out, &out); code != 1 {
		t.Fatalf("empty data dir: exit %d %s", code, out.String())
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Fatalf("sync --once wrote into an empty data dir: %v", entries)
	}
}

// proxbox-api variables that proxbox ignores are named in a warning at start-up.
func TestServeWarnsAboutIgnoredProxboxAPIVariables(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("PROXBOX_STRICT_STARTUP", "1")
	t.Setenv("PROXBOX_FETCH_MAX_CONCURRENCY", "3")
	var out bytes.Buffer
	code := run(context.Background(), []string{"serve", "--tls", "off", "--bind", "127.0.0.1", "--data-dir", t.TempDir(),
		"--port", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}, &out, &out)
	if code != 1 || !strings.Contains(out.String(), "PROXBOX_STRICT_STARTUP is set but ignored") ||
		!strings.Contains(out.String(), "is read as PROXBOX_PROXMOX_FETCH_CONCURRENCY") {
		t.Fatalf("exit %d, output:\n%s", code, out.String())
	}
}
