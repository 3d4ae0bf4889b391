package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxbox/proxbox/lab"
	"github.com/proxbox/proxbox/store"
)

const sharedFixture = "../../testdata/fixtures/pve/netbox-proxbox-e2e-cluster.json"

func startLab(t *testing.T) *lab.Lab {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l, err := lab.Start(ctx, lab.Config{PVEListen: "127.0.0.1:0", NetBoxListen: "127.0.0.1:0", PVEFixtures: sharedFixture})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); l.Wait() })
	return l
}

// generatedLabArgs starts a generated lab (cfg's scale, seed, range) on
// loopback and returns it with the `sync --once --json` arguments that sync
// all of its endpoints inline.
func generatedLabArgs(t *testing.T, cfg lab.Config) (*lab.Lab, []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg.PVEListen, cfg.NetBoxListen = "127.0.0.1:0", "127.0.0.1:0"
	l, err := lab.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); l.Wait() })
	args := []string{"sync", "--once", "--json", "--netbox-url", l.Info.NetBox.URL, "--netbox-token", l.Info.NetBox.Token, "--pve-insecure"}
	for _, p := range l.Info.PVE {
		args = append(args, "--pve-url", p.URL, "--pve-token", p.TokenID+"="+p.TokenSecret)
	}
	return l, args
}

func inlineArgs(l *lab.Lab, extra ...string) []string {
	p := l.Info.PVE[0]
	args := []string{"sync", "--once", "--netbox-url", l.Info.NetBox.URL, "--netbox-token", l.Info.NetBox.Token,
		"--pve-url", p.URL, "--pve-token", p.TokenID + "=" + p.TokenSecret, "--pve-insecure"}
	return append(args, extra...)
}

// syncJSON is the part of `sync --json` the tests read.
type syncJSON struct {
	OK     bool `json:"ok"`
	NetBox struct {
		Requests, Writes int
	} `json:"netbox"`
	Objects  map[string]map[string]int `json:"objects"`
	Errors   []string                  `json:"errors"`
	Warnings []string                  `json:"warnings"`
}

func TestSyncOnceInlineDryRunThenRealThenSteady(t *testing.T) {
	l := startLab(t)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), inlineArgs(l, "--dry-run"), &out, &errOut); code != 0 {
		t.Fatalf("dry run exit %d: %s %s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "+ create") || l.NetBox.Count("virtualization.virtualmachine") != 0 {
		t.Fatalf("dry run printed no plan or wrote: %s", out.String())
	}
	out.Reset()
	if code := run(context.Background(), inlineArgs(l, "--json"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var sum syncJSON
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil || !sum.OK || sum.Objects["virtual_machines"]["created"] != 10 {
		t.Fatalf("summary: %v %+v", err, sum)
	}
	t.Logf("sync --once on the fixture, first run: %d NetBox requests, %d writes", sum.NetBox.Requests, sum.NetBox.Writes)
	out.Reset()
	run(context.Background(), inlineArgs(l, "--json"), &out, &errOut)
	json.Unmarshal(out.Bytes(), &sum)
	if sum.NetBox.Writes != 0 || sum.Objects["virtual_machines"]["unchanged"] != 10 {
		t.Fatalf("steady run: %+v", sum)
	}
	t.Logf("sync --once on the fixture, steady run: %d NetBox requests, 0 writes", sum.NetBox.Requests)
}

func TestSyncExitCodes(t *testing.T) {
	l := startLab(t)
	var out bytes.Buffer
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"sync"}, 2}, // --once missing
		{[]string{"sync", "--once", "--stage", "bogus"}, 2},
		{[]string{"sync", "--once", "--pve-url", "https://x:8006"}, 2}, // no token
		{inlineArgs(l, "--stage", "devices"), 0},
	}
	for _, tc := range cases {
		if code := run(context.Background(), tc.args, &out, &out); code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, code, tc.code, out.String())
		}
	}
	// A NetBox that refuses the token: the sync fails, exit 1.
	bad := inlineArgs(l)
	for i, a := range bad {
		if a == l.Info.NetBox.Token {
			bad[i] = strings.Repeat("f", 40)
		}
	}
	out.Reset()
	if code := run(context.Background(), bad, &out, &out); code != 1 {
		t.Fatalf("bad NetBox token: exit %d\n%s", code, out.String())
	}
}

// TestSyncOnceFromTheStore uses the endpoints stored in a data directory,
// as an operator's cron job would, and records the run there.
func TestSyncOnceFromTheStore(t *testing.T) {
	l := startLab(t)
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nb, p := l.Info.NetBox, l.Info.PVE[0]
	user, name, _ := cutToken(p.TokenID)
	st.CreateNetBoxEndpoint(ctx, store.NetBoxEndpoint{Name: "nb", IPAddress: nb.Host, Port: nb.Port, TokenVersion: "v1", Token: store.Secret(nb.Token)})
	st.CreateProxmoxEndpoint(ctx, store.ProxmoxEndpoint{Name: "pve", IPAddress: p.Host, Port: p.Port, Username: user, TokenName: name, TokenValue: store.Secret(p.TokenSecret)})
	st.Close()
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"sync", "--once", "--json", "--data-dir", dir}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errOut.String())
	}
	var sum struct {
		OK      bool                      `json:"ok"`
		Objects map[string]map[string]int `json:"objects"`
	}
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil || !sum.OK || sum.Objects["virtual_machines"]["created"] != 10 {
		t.Fatalf("summary: %v %s", err, out.String())
	}
	st, _ = store.Open(ctx, dir, store.Options{})
	defer st.Close()
	runs, err := st.Runs(ctx, 5)
	if err != nil || len(runs) != 1 || runs[0].Trigger != "cli" || runs[0].Status != "ok" {
		t.Fatalf("recorded runs: %+v %v", runs, err)
	}
}

// The dashboard's "test connection" reads NetBox's status through go-netbox (netbox/nbapi), so
// the binary keeps using the mandated library for a real call.
func TestEndpointTesterReadsNetBoxStatus(t *testing.T) {
	l := startLab(t)
	nb := l.Info.NetBox
	if nb.TLS {
		t.Skip("lab NetBox speaks TLS here; the tester trusts only system roots")
	}
	v, err := endpointTester{}.TestNetBox(context.Background(), store.NetBoxEndpoint{IPAddress: nb.Host, Port: nb.Port, TokenVersion: "v1", Token: store.Secret(nb.Token)})
	if err != nil || v == "" {
		t.Fatalf("TestNetBox = %q, %v", v, err)
	}
	bad, err := endpointTester{}.TestNetBox(context.Background(), store.NetBoxEndpoint{IPAddress: nb.Host, Port: nb.Port, TokenVersion: "v1", Token: store.Secret(strings.Repeat("f", 40))})
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("bad token: %q, %v", bad, err)
	}
}

// Every endpoint `proxbox lab` prints (all on one host) synced inline in one
// run: one cluster per endpoint, every guest, and a second run that writes
// nothing (issue 12).
func TestSyncOnceEveryLabEndpoint(t *testing.T) {
	l, args := generatedLabArgs(t, lab.Config{Scale: 40, Seed: 7})
	var sums [2]syncJSON
	for i := range sums {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 0 {
			t.Fatalf("run %d: exit %d: %s %s", i+1, code, out.String(), errOut.String())
		}
		if err := json.Unmarshal(out.Bytes(), &sums[i]); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.Info.PVE) < 3 || l.NetBox.Count("virtualization.cluster") != len(l.Info.PVE) {
		t.Errorf("%d endpoints, %d clusters", len(l.Info.PVE), l.NetBox.Count("virtualization.cluster"))
	}
	if got := l.NetBox.Count("virtualization.virtualmachine"); got != 40 || sums[0].Objects["virtual_machines"]["created"] != 40 {
		t.Errorf("VMs: %d in NetBox, first run %v; want 40", got, sums[0].Objects["virtual_machines"])
	}
	if sums[1].NetBox.Writes != 0 || !sums[1].OK {
		t.Errorf("second run: %+v", sums[1])
	}
	// --pve-name pairs with --pve-url: one each, or none.
	var out bytes.Buffer
	if code := run(context.Background(), append(args, "--pve-name", "only-one"), &out, &out); code != 2 || !strings.Contains(out.String(), "one --pve-name per --pve-url") {
		t.Errorf("one name for %d urls: exit %d: %s", len(l.Info.PVE), code, out.String())
	}
}

// TestSyncOnceInlineHonoursNetBoxTuning: the inline client takes
// PROXBOX_NETBOX_BATCH_SIZE (and the other PROXBOX_NETBOX_* settings) from the
// environment, as the stored-endpoint path does: with a batch of 1 every
// created object is its own write request.
func TestSyncOnceInlineHonoursNetBoxTuning(t *testing.T) {
	writes := func(env map[string]string) (int, int) {
		l := startLab(t)
		for k, v := range env {
			t.Setenv(k, v)
		}
		var out, errOut bytes.Buffer
		if code := run(context.Background(), inlineArgs(l, "--json", "--stage", "devices,vms"), &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s %s", code, out.String(), errOut.String())
		}
		var sum struct {
			NetBox  struct{ Writes int }      `json:"netbox"`
			Objects map[string]map[string]int `json:"objects"`
		}
		if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
			t.Fatal(err)
		}
		return sum.NetBox.Writes, sum.Objects["virtual_machines"]["created"]
	}
	def, vms := writes(nil)
	one, vms1 := writes(map[string]string{"PROXBOX_NETBOX_BATCH_SIZE": "1", "PROXBOX_NETBOX_WRITE_CONCURRENCY": "1",
		"PROXBOX_NETBOX_TIMEOUT": "30", "PROXBOX_NETBOX_MAX_RETRIES": "0"})
	if vms != 10 || vms1 != 10 {
		t.Fatalf("created %d and %d VMs, want 10", vms, vms1)
	}
	if one < def+9 {
		t.Fatalf("batch size 1: %d writes, default: %d; the setting was not applied", one, def)
	}
	t.Setenv("PROXBOX_NETBOX_BATCH_SIZE", "x")
	l := startLab(t)
	var out bytes.Buffer
	if code := run(context.Background(), inlineArgs(l), &out, &out); code != 2 {
		t.Fatalf("bad PROXBOX_NETBOX_BATCH_SIZE: exit %d, want 2\n%s", code, out.String())
	}
}

// Inline endpoints that reuse one range (proxbox lab --shared-range): with a
// --state file the duplicates NetBox refuses are reported once (exit 1, each a
// conflict naming the holder) and the next run neither sends them again nor
// fails; without one every run sends them again. The same data directory
// default applies when --data-dir names an existing directory.
func TestSyncOnceInlineRemembersRefusals(t *testing.T) {
	t.Setenv("PROXBOX_DATA_DIR", "")
	_, args := generatedLabArgs(t, lab.Config{Scale: 20, Seed: 1, SharedRange: true})
	var lastErr string // the last run's stderr
	sync := func(extra ...string) (int, syncJSON) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(context.Background(), append(append([]string{}, args...), extra...), &out, &errOut)
		var s syncJSON
		if err := json.Unmarshal(out.Bytes(), &s); err != nil {
			t.Fatalf("exit %d: %v: %s %s", code, err, out.String(), errOut.String())
		}
		lastErr = errOut.String()
		return code, s
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	code, first := sync("--state", state, "--log-level", "info")
	if code != 1 || len(first.Errors) == 0 {
		t.Fatalf("first run: exit %d, errors %v; want the overlapping addresses refused", code, first.Errors)
	}
	// The NetBox client logs to --log-level's logger on stderr, nowhere else.
	if !strings.Contains(lastErr, "netbox refused items of a bulk write") {
		t.Errorf("--log-level info: the NetBox client's refusal log is not on stderr: %q", lastErr)
	}
	for _, e := range first.Errors {
		if !strings.Contains(e, " is held by ") {
			t.Errorf("not a conflict naming the holder: %s", e)
		}
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}
	code, second := sync("--state", state)
	known := 0
	for _, w := range second.Warnings {
		if strings.Contains(w, "known conflict") && strings.Contains(w, " is held by ") {
			known++
		}
	}
	if code != 0 || second.NetBox.Writes != 0 || known != len(first.Errors) {
		t.Fatalf("second run with --state: exit %d, %d writes, %d known conflicts (want %d), errors %v", code, second.NetBox.Writes, known, len(first.Errors), second.Errors)
	}
	// Without a state nothing is remembered: the refused writes go out again.
	if code, again := sync(); code != 1 || len(again.Errors) != len(first.Errors) || again.NetBox.Writes == 0 {
		t.Fatalf("run without --state: exit %d, %d writes, errors %v", code, again.NetBox.Writes, again.Errors)
	}
	if strings.Contains(lastErr, "level=INFO") {
		t.Errorf("default --log-level warn printed info lines: %q", lastErr)
	}
	// --data-dir of an existing directory keeps the state there.
	if code, _ := sync("--data-dir", dir); code != 1 {
		t.Fatalf("first run with --data-dir: exit %d", code)
	}
	if code, s := sync("--data-dir", dir); code != 0 || s.NetBox.Writes != 0 {
		t.Fatalf("second run with --data-dir: exit %d, %d writes", code, s.NetBox.Writes)
	}
	if _, err := os.Stat(filepath.Join(dir, inlineStateFile)); err != nil {
		t.Fatal(err)
	}
}
