package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func open(t *testing.T, dir string, opt Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ptr[T any](v T) *T { return &v }

func TestUpgradeFromFirstSchemaVersion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, err := Open(ctx, dir, Options{upTo: 1})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := old.Version(ctx); v != 1 {
		t.Fatalf("version %d, want 1", v)
	}
	// A row written by a version-1 binary: the columns of migration 1 only.
	if _, err := old.w.ExecContext(ctx, `INSERT INTO proxmox_endpoint(name, ip_address, port, username, created_at, updated_at) VALUES ('pve (nb:1)', '10.0.0.10', 8006, 'root@pam', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := old.w.ExecContext(ctx, `SELECT 1 FROM sync_run`); err == nil {
		t.Fatal("sync_run exists at version 1")
	}
	old.Close()

	s := open(t, dir, Options{})
	if v, _ := s.Version(ctx); v != SchemaVersion() {
		t.Fatalf("version %d, want %d", v, SchemaVersion())
	}
	eps, err := s.ProxmoxEndpoints(ctx)
	if err != nil || len(eps) != 1 || eps[0].Name != "pve (nb:1)" || eps[0].TimeoutSeconds != 0 {
		t.Fatalf("endpoints after upgrade: %+v %v", eps, err)
	}
	if _, err := s.StartRun(ctx, Run{StartedAt: time.Now(), Trigger: "cli"}); err != nil {
		t.Fatalf("new table unusable after upgrade: %v", err)
	}
	if err := s.SetSetting(ctx, "k", 1); err != nil {
		t.Fatal(err)
	}
	// Re-opening does not re-run migrations.
	s.Close()
	s2 := open(t, dir, Options{})
	if v, _ := s2.Version(ctx); v != SchemaVersion() {
		t.Fatalf("version after reopen %d", v)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir, Options{})
	if _, err := s.w.ExecContext(ctx, `UPDATE schema_version SET version = 999`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, dir, Options{}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("want newer-schema error, got %v", err)
	}
}

func TestSecretsNeverOnDiskInClear(t *testing.T) {
	ctx := context.Background()
	for _, key := range []string{"", "operator passphrase"} {
		dir := t.TempDir()
		s := open(t, dir, Options{EncryptionKey: key})
		const pw, tok, nbtok = "pve-Passw0rd-unique-1234", "tokval-5f2c9e1d-unique", "0123456789abcdef0123456789abcdef01234567"
		pe, err := s.CreateProxmoxEndpoint(ctx, ProxmoxEndpoint{Name: "pve", IPAddress: "10.0.0.1", Port: 8006, Username: "root@pam", Password: pw, TokenName: "sync", TokenValue: tok})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateNetBoxEndpoint(ctx, NetBoxEndpoint{Name: "nb", IPAddress: "10.0.0.2", Port: 443, TokenVersion: "v1", Token: nbtok}); err != nil {
			t.Fatal(err)
		}
		got, err := s.ProxmoxEndpoint(ctx, pe.ID)
		if err != nil || got.Password.Reveal() != pw || got.TokenValue.Reveal() != tok {
			t.Fatalf("round trip: %v %v", got, err)
		}
		s.Close()
		if key == "" {
			if fi, err := os.Stat(filepath.Join(dir, KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("key file: %v %v", fi, err)
			}
		}
		filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			b, _ := os.ReadFile(path)
			for _, secret := range []string{pw, tok, nbtok} {
				if bytes.Contains(b, []byte(secret)) {
					t.Errorf("%s holds a secret in clear", path)
				}
			}
			return nil
		})
		// The same key opens the values again; a different one fails loudly.
		s2 := open(t, dir, Options{EncryptionKey: key})
		if got, err := s2.ProxmoxEndpoint(ctx, pe.ID); err != nil || got.Password.Reveal() != pw {
			t.Fatalf("reopen: %v", err)
		}
		s2.Close()
		if key != "" {
			s3 := open(t, dir, Options{EncryptionKey: "another passphrase, wrong"})
			if _, err := s3.ProxmoxEndpoint(ctx, pe.ID); err == nil || !strings.Contains(err.Error(), "wrong encryption key") {
				t.Fatalf("wrong key not detected: %v", err)
			}
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2-hunter2")
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %#v", s, s, s), func() string { b, _ := json.Marshal(struct{ P Secret }{s}); return string(b) }()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret leaked: %s", out)
		}
	}
}

func TestUpdateTouchesOnlySuppliedSecrets(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{})
	e, err := s.CreateNetBoxEndpoint(ctx, NetBoxEndpoint{Name: "nb", IPAddress: "10.0.0.2", Port: 443, TokenVersion: "v1", Token: "tok-1"})
	if err != nil {
		t.Fatal(err)
	}
	var before string
	s.r.QueryRow(`SELECT token_enc FROM netbox_endpoint`).Scan(&before)
	got, err := s.UpdateNetBoxEndpoint(ctx, e.ID, NetBoxEndpointPatch{Name: ptr("renamed"), Port: ptr(8443)})
	if err != nil {
		t.Fatal(err)
	}
	var after string
	s.r.QueryRow(`SELECT token_enc FROM netbox_endpoint`).Scan(&after)
	if before != after || got.Token.Reveal() != "tok-1" || got.Name != "renamed" || got.Port != 8443 {
		t.Fatalf("update without token changed it: %q -> %q, %+v", before, after, got)
	}
	got, err = s.UpdateNetBoxEndpoint(ctx, e.ID, NetBoxEndpointPatch{Token: ptr(Secret("tok-2"))})
	if err != nil || got.Token.Reveal() != "tok-2" {
		t.Fatalf("token update: %v %v", got.Token.Reveal(), err)
	}
	if _, err := s.CreateNetBoxEndpoint(ctx, NetBoxEndpoint{Name: "second", IPAddress: "x", Port: 1}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second NetBox endpoint: %v", err)
	}
	if _, err := s.UpdateNetBoxEndpoint(ctx, 99, NetBoxEndpointPatch{Name: ptr("x")}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	if err := s.DeleteNetBoxEndpoint(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteNetBoxEndpoint(ctx, e.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestProxmoxNamesUnique(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{})
	a, err := s.CreateProxmoxEndpoint(ctx, ProxmoxEndpoint{Name: "a", IPAddress: "10.0.0.1", Port: 8006, Username: "root@pam", Password: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProxmoxEndpoint(ctx, ProxmoxEndpoint{Name: "a", IPAddress: "10.0.0.2", Port: 8006, Username: "root@pam", Password: "x"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	b, _ := s.CreateProxmoxEndpoint(ctx, ProxmoxEndpoint{Name: "b", IPAddress: "10.0.0.2", Port: 8006, Username: "root@pam", Password: "x"})
	if _, err := s.UpdateProxmoxEndpoint(ctx, b.ID, ProxmoxEndpointPatch{Name: ptr("a")}); !errors.Is(err, ErrConflict) {
		t.Fatalf("rename onto taken name: %v", err)
	}
	got, err := s.UpdateProxmoxEndpoint(ctx, a.ID, ProxmoxEndpointPatch{TimeoutSeconds: ptr(30), Password: ptr(Secret(""))})
	if err != nil || got.TimeoutSeconds != 30 || got.Password.IsSet() {
		t.Fatalf("update: %+v %v", got, err)
	}
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{})
	raw := strings.Repeat("k", 40)
	if _, err := s.RegisterFirstKey(ctx, "plugin", "short"); err == nil {
		t.Fatal("short key accepted")
	}
	k, err := s.RegisterFirstKey(ctx, "plugin", raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RegisterFirstKey(ctx, "again", strings.Repeat("j", 40)); !errors.Is(err, ErrConflict) {
		t.Fatalf("second bootstrap: %v", err)
	}
	for i := 0; i < 2; i++ { // second pass is served by the memo
		if id, ok, err := s.VerifyKey(ctx, raw); !ok || err != nil || id != k.ID {
			t.Fatalf("verify: %d %v %v", id, ok, err)
		}
	}
	if _, ok, _ := s.VerifyKey(ctx, raw+"x"); ok {
		t.Fatal("wrong key verified")
	}
	var stored string
	s.r.QueryRow(`SELECT key_hash FROM api_key`).Scan(&stored)
	if strings.Contains(stored, raw) || !strings.HasPrefix(stored, "$2") {
		t.Fatalf("key not hashed with bcrypt: %q", stored)
	}
	// Deactivation takes effect at once, memo or not.
	if _, err := s.SetKeyActive(ctx, k.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.VerifyKey(ctx, raw); ok {
		t.Fatal("deactivated key still verifies")
	}
	if n, _ := s.ActiveKeyCount(ctx); n != 0 {
		t.Fatalf("active = %d", n)
	}
	s.SetKeyActive(ctx, k.ID, true)
	s.VerifyKey(ctx, raw)
	if err := s.DeleteKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.VerifyKey(ctx, raw); ok {
		t.Fatal("deleted key still verifies")
	}
	if _, err := s.SetKeyActive(ctx, 42, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
}

func TestLockoutWindow(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{})
	t0 := time.Unix(1_800_000_000, 0)
	for i := 1; i <= 5; i++ {
		l, err := s.RecordAuthFailure(ctx, "10.0.0.9", t0.Add(time.Duration(i)*time.Second), 5*time.Minute)
		if err != nil || l.Attempts != i {
			t.Fatalf("attempt %d: %+v %v", i, l, err)
		}
	}
	l, _ := s.RecordAuthFailure(ctx, "10.0.0.9", t0.Add(6*time.Minute), 5*time.Minute)
	if l.Attempts != 1 {
		t.Fatalf("window did not restart: %+v", l)
	}
	s.ClearAuthLockout(ctx, "10.0.0.9")
	if _, found, _ := s.AuthLockout(ctx, "10.0.0.9"); found {
		t.Fatal("lockout not cleared")
	}
}

func TestRunsAndStages(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{})
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	id, err := s.StartRun(ctx, Run{StartedAt: t0, Trigger: "plugin", Scope: "all"})
	if err != nil {
		t.Fatal(err)
	}
	s.AddStageResult(ctx, id, StageResult{Stage: "devices", StartedAt: t0, FinishedAt: t0.Add(time.Second), OK: true, Counts: json.RawMessage(`{"created":3}`)})
	s.AddStageResult(ctx, id, StageResult{Stage: "virtual-machines", StartedAt: t0, FinishedAt: t0.Add(2 * time.Second), OK: false})
	if err := s.FinishRun(ctx, id, t0.Add(3*time.Second), "partial", json.RawMessage(`{"writes":3}`), ""); err != nil {
		t.Fatal(err)
	}
	r, err := s.Run(ctx, id)
	if err != nil || r.Status != "partial" || len(r.Stages) != 2 || string(r.Stages[0].Counts) != `{"created":3}` || r.FinishedAt.Sub(r.StartedAt) != 3*time.Second {
		t.Fatalf("run: %+v %v", r, err)
	}
	id2, _ := s.StartRun(ctx, Run{StartedAt: t0, Trigger: "cli"})
	if n, _ := s.MarkInterruptedRuns(ctx, t0); n != 1 {
		t.Fatalf("interrupted = %d", n)
	}
	r2, _ := s.Run(ctx, id2)
	if r2.Status != "failed" || !strings.Contains(r2.Error, "interrupted") {
		t.Fatalf("interrupted run: %+v", r2)
	}
}

func TestLogRingAndFilters(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{LogCapacity: 10})
	var batch []LogEntry
	for i := 0; i < 25; i++ {
		lvl := "INFO"
		if i%5 == 0 {
			lvl = "ERROR"
		}
		batch = append(batch, LogEntry{Time: time.Now(), Level: lvl, Message: "event " + strconv.Itoa(i)})
	}
	if err := s.AppendLogs(ctx, batch[:20]); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLogs(ctx, batch[20:]); err != nil {
		t.Fatal(err)
	}
	all, total, err := s.Logs(ctx, LogFilter{})
	if err != nil || total != 10 || all[0].Message != "event 24" || all[9].Message != "event 15" {
		t.Fatalf("ring: total %d first %q err %v", total, all[0].Message, err)
	}
	errs, total, _ := s.Logs(ctx, LogFilter{Levels: []string{"ERROR"}})
	if total != 2 || errs[0].Message != "event 20" {
		t.Fatalf("errors: %d %+v", total, errs)
	}
	newer, _, _ := s.Logs(ctx, LogFilter{NewerThanID: all[1].ID})
	if len(newer) != 1 || newer[0].ID != all[0].ID {
		t.Fatalf("newer: %+v", newer)
	}
	txt, _, _ := s.Logs(ctx, LogFilter{Text: "EVENT 17"})
	if len(txt) != 1 {
		t.Fatalf("text filter: %+v", txt)
	}
}

func TestSettings(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{})
	type lim struct{ TTL, Max int }
	var v lim
	if found, err := s.Setting(ctx, "cache", &v); found || err != nil {
		t.Fatalf("empty: %v %v", found, err)
	}
	s.SetSetting(ctx, "cache", lim{300, 1234})
	s.SetSetting(ctx, "cache", lim{301, 1234})
	if found, _ := s.Setting(ctx, "cache", &v); !found || v.TTL != 301 {
		t.Fatalf("got %+v", v)
	}
	s.DeleteSetting(ctx, "cache")
	if found, _ := s.Setting(ctx, "cache", &v); found {
		t.Fatal("not deleted")
	}
}

// TestKillNineLosesNoCommittedRow runs a child process that commits rows and
// reports each commit on stdout, kills it with SIGKILL mid-stream, and checks
// that every row it reported is in the database.
func TestKillNineLosesNoCommittedRow(t *testing.T) {
	if dir := os.Getenv("PROXBOX_STORE_CRASH_CHILD"); dir != "" {
		s, err := Open(context.Background(), dir, Options{})
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(1)
		}
		for i := 0; ; i++ {
			if err := s.SetSetting(context.Background(), "row-"+strconv.Itoa(i), i); err != nil {
				fmt.Println("write:", err)
				os.Exit(1)
			}
			fmt.Println(i)
		}
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillNineLosesNoCommittedRow$")
	cmd.Env = append(os.Environ(), "PROXBOX_STORE_CRASH_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	last := -1
	for sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		if err != nil {
			t.Fatalf("child: %s", sc.Text())
		}
		last = n
		if last == 200 {
			cmd.Process.Kill() // SIGKILL
			break
		}
	}
	cmd.Wait()
	if last < 200 {
		t.Fatalf("child stopped early at %d", last)
	}
	s := open(t, dir, Options{})
	for i := 0; i <= last; i++ {
		var v int
		if found, err := s.Setting(context.Background(), "row-"+strconv.Itoa(i), &v); !found || err != nil || v != i {
			t.Fatalf("committed row %d lost after kill -9 (found=%v err=%v)", i, found, err)
		}
	}
}

func TestSyncLeases(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{})
	t0 := time.Unix(1_800_000_000, 0)
	if ok, err := s.AcquireLeases(ctx, "serve", []int64{1, 2}, t0, time.Minute); !ok || err != nil {
		t.Fatalf("first: %v %v", ok, err)
	}
	// All or none: endpoint 3 is free but 2 is held.
	if ok, _ := s.AcquireLeases(ctx, "cli", []int64{2, 3}, t0.Add(time.Second), time.Minute); ok {
		t.Fatal("took a lease held by another holder")
	}
	if ok, _ := s.AcquireLeases(ctx, "cli", []int64{3}, t0.Add(time.Second), time.Minute); !ok {
		t.Fatal("endpoint 3 should have been free (nothing taken by the refused call)")
	}
	// The holder renews; an expired lease is taken over.
	if ok, _ := s.AcquireLeases(ctx, "serve", []int64{1}, t0.Add(30*time.Second), time.Minute); !ok {
		t.Fatal("renewal refused")
	}
	if ok, _ := s.AcquireLeases(ctx, "cli", []int64{2}, t0.Add(2*time.Minute), time.Minute); !ok {
		t.Fatal("expired lease not taken over")
	}
	s.ReleaseLeases(ctx, "serve", []int64{1})
	if ok, _ := s.AcquireLeases(ctx, "cli", []int64{1}, t0.Add(40*time.Second), time.Minute); !ok {
		t.Fatal("released lease not free")
	}
}

// Upgrading to the endpoint-key schema keeps every endpoint's label as it
// was (the trimmed name, else the host), so its NetBox objects stay its own;
// names that trim to one label get "#<id>".
func TestEndpointKeyBackfill(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, err := Open(ctx, dir, Options{upTo: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range [][2]string{{"prod", "10.0.0.1"}, {" prod ", "10.0.0.2"}, {"", "10.0.0.3"}, {"PVE (nb:4)", "10.0.0.4"}} {
		if _, err := old.w.ExecContext(ctx, `INSERT INTO proxmox_endpoint(name, ip_address, port, username, created_at, updated_at) VALUES (?, ?, 8006, 'root@pam', 1, 1)`, row[0], row[1]); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	s := open(t, dir, Options{})
	eps, err := s.ProxmoxEndpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range eps {
		keys = append(keys, e.Key)
	}
	if want := "prod, prod#2, 10.0.0.3, nb:4"; strings.Join(keys, ", ") != want {
		t.Fatalf("keys after upgrade: %q, want %q", strings.Join(keys, ", "), want)
	}
}

// A key is given at creation and survives renames; a new endpoint whose
// name is a renamed endpoint's key gets its own.
func TestEndpointKeyStableAcrossRename(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{})
	a, err := s.CreateProxmoxEndpoint(ctx, ProxmoxEndpoint{Name: " alpha ", IPAddress: "10.0.0.1", Port: 8006, Username: "root@pam", Key: "ignored"})
	if err != nil || a.Key != "alpha" {
		t.Fatalf("create: key %q, %v", a.Key, err)
	}
	renamed, err := s.UpdateProxmoxEndpoint(ctx, a.ID, ProxmoxEndpointPatch{Name: ptr("beta")})
	if err != nil || renamed.Key != "alpha" || renamed.Name != "beta" {
		t.Fatalf("after rename: %+v %v", renamed, err)
	}
	b, err := s.CreateProxmoxEndpoint(ctx, ProxmoxEndpoint{Name: "alpha", IPAddress: "10.0.0.2", Port: 8006, Username: "root@pam"})
	if err != nil || b.Key != "alpha#2" {
		t.Fatalf("second alpha: key %q, %v", b.Key, err)
	}
	c, err := s.CreateProxmoxEndpoint(ctx, ProxmoxEndpoint{IPAddress: "10.0.0.3", Port: 8006, Username: "root@pam"})
	if err != nil || c.Key != "10.0.0.3" {
		t.Fatalf("nameless: key %q, %v", c.Key, err)
	}
	d, err := s.CreateProxmoxEndpoint(ctx, ProxmoxEndpoint{Name: "Lab (nb:12) ", IPAddress: "10.0.0.4", Port: 8006, Username: "root@pam"})
	if err != nil || d.Key != "nb:12" {
		t.Fatalf("pushed by the plugin: key %q, %v", d.Key, err)
	}
	got, err := s.ProxmoxEndpoint(ctx, b.ID)
	if err != nil || got.Key != "alpha#2" {
		t.Fatalf("read back: %q %v", got.Key, err)
	}
}

func TestRunChangesAndHistoryCap(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{})
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	if _, err := s.Run(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown run: %v", err)
	}
	big := json.RawMessage(`[` + strings.Repeat(`{"op":"create","model":"virtualization.virtualmachine"},`, 5000) + `{}]`)
	var ids []int64
	for i := range 6 {
		id, err := s.StartRun(ctx, Run{StartedAt: t0, Trigger: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		s.AddStageResult(ctx, id, StageResult{Stage: "vms", StartedAt: t0, FinishedAt: t0, OK: true})
		if err := s.FinishRun(ctx, id, t0, "ok", json.RawMessage(fmt.Sprintf(`{"ok":true,"n":%d,"pad":%q}`, i, strings.Repeat("x", 1000))), ""); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveRunChanges(ctx, id, 5001, big); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	got, err := s.RunChanges(ctx, ids[0])
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("changes read back: %d bytes, %v", len(got), err)
	}
	var ops []string
	err = EachRunChange(ctx, s, ids[0], func(c *struct{ Op, Model string }) error {
		ops = append(ops, c.Op)
		return nil
	})
	if err != nil || len(ops) != 5001 || ops[0] != "create" || ops[5000] != "" {
		t.Fatalf("EachRunChange: %d changes, %v", len(ops), err)
	}
	stop := errors.New("enough")
	var n0 int
	if err := EachRunChange(ctx, s, ids[0], func(*json.RawMessage) error { n0++; return stop }); !errors.Is(err, stop) || n0 != 1 {
		t.Fatalf("an error of f: %v after %d changes", err, n0)
	}
	if err := EachRunChange(ctx, s, 999, func(*json.RawMessage) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no stored list: %v", err)
	}
	running, _ := s.StartRun(ctx, Run{StartedAt: t0, Trigger: "cli"})
	// The runs are of one size: a cap of 2.5 runs keeps the newest two.
	var size int64
	s.r.QueryRowContext(ctx, `SELECT length(summary) + (SELECT length(body) FROM sync_run_changes WHERE run_id = ?) FROM sync_run WHERE id = ?`, ids[0], ids[0]).Scan(&size)
	if size < 1000 || size > 5000 {
		t.Fatalf("one run stores %d bytes: is the change list compressed?", size)
	}
	n, err := s.PruneRuns(ctx, size*5/2)
	if err != nil || n != 4 {
		t.Fatalf("pruned %d, %v; want 4", n, err)
	}
	for i, id := range ids {
		_, err := s.Run(ctx, id)
		_, cerr := s.RunChanges(ctx, id)
		if kept := i >= 4; kept != (err == nil) || kept != (cerr == nil) {
			t.Fatalf("run %d (#%d): run %v, changes %v; kept want %v", id, i, err, cerr, kept)
		}
	}
	if r, err := s.Run(ctx, running); err != nil || r.Status != "running" {
		t.Fatalf("running run: %+v %v", r, err)
	}
	var stages int
	s.r.QueryRowContext(ctx, `SELECT count(*) FROM sync_stage`).Scan(&stages)
	if stages != 2 {
		t.Fatalf("%d stage rows left, want 2 (the kept runs')", stages)
	}
	// A cap below the newest run's size still keeps it.
	if n, err := s.PruneRuns(ctx, 1); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
	if _, err := s.Run(ctx, ids[5]); err != nil {
		t.Fatalf("newest run pruned: %v", err)
	}
}

// eachElement decodes a stored change list one element at a time: null and [] are empty,
// anything but an array is an error, and a cancelled context stops it.
func TestEachElement(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name, in string
		ctx      context.Context
		want     []int
		err      string
	}{
		{"array", `[1, 2,3]`, context.Background(), []int{1, 2, 3}, ""},
		{"empty", `[]`, context.Background(), nil, ""},
		{"null", `null`, context.Background(), nil, ""},
		{"object", `{"a":1}`, context.Background(), nil, "not a JSON array"},
		{"truncated", `[1, 2`, context.Background(), []int{1, 2}, "EOF"},
		{"wrong type", `[1, "x"]`, context.Background(), []int{1}, "cannot unmarshal string"},
		{"cancelled", `[1]`, cancelled, nil, "context canceled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []int
			err := eachElement(c.ctx, strings.NewReader(c.in), func(x *int) error { got = append(got, *x); return nil })
			if fmt.Sprint(got) != fmt.Sprint(c.want) || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
				t.Errorf("got %v, %v; want %v, %q", got, err, c.want, c.err)
			}
		})
	}
}
