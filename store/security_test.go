package store

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestWrongKeyCostIndependentOfKeyCount: with 20 keys a wrong key costs no
// bcrypt comparison and a right one costs one (the HMAC index picks the
// row); keys stored before the index are indexed at their first use.
func TestWrongKeyCostIndependentOfKeyCount(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{KeyCost: bcrypt.MinCost})
	var raws []string
	for i := 0; i < 20; i++ {
		raw := strings.Repeat("k", 40) + strconv.Itoa(i)
		if _, err := s.CreateKey(ctx, "k"+strconv.Itoa(i), raw); err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	before := s.bcryptCompares.Load()
	if _, ok, err := s.VerifyKey(ctx, strings.Repeat("x", 64)); err != nil || ok {
		t.Fatalf("wrong key: %v %v", ok, err)
	}
	if n := s.bcryptCompares.Load() - before; n != 0 {
		t.Fatalf("a wrong key cost %d bcrypt comparisons with 20 keys, want 0", n)
	}
	before = s.bcryptCompares.Load()
	if _, ok, _ := s.VerifyKey(ctx, raws[17]); !ok {
		t.Fatal("right key refused")
	}
	if n := s.bcryptCompares.Load() - before; n != 1 {
		t.Fatalf("a right key cost %d comparisons, want 1", n)
	}

	// Keys from before the index (key_index NULL) keep working and are
	// indexed at their first use.
	if _, err := s.w.ExecContext(ctx, `UPDATE api_key SET key_index = NULL WHERE id IN (3, 4)`); err != nil {
		t.Fatal(err)
	}
	s.forgetVerifiedKeys()
	if n, _ := s.UnindexedKeyCount(ctx); n != 2 {
		t.Fatalf("unindexed: %d", n)
	}
	if _, ok, _ := s.VerifyKey(ctx, raws[2]); !ok { // id 3
		t.Fatal("a key stored before the index no longer works")
	}
	if n, _ := s.UnindexedKeyCount(ctx); n != 1 {
		t.Fatalf("unindexed after first use: %d, want 1", n)
	}
	s.forgetVerifiedKeys()
	before = s.bcryptCompares.Load()
	if _, ok, _ := s.VerifyKey(ctx, raws[2]); !ok || s.bcryptCompares.Load()-before != 1 {
		t.Fatal("an indexed legacy key is not found by its index")
	}
}

// TestKeyLengthLimits: a key over 72 bytes (bcrypt's input limit) is
// refused, not truncated.
func TestKeyLengthLimits(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), Options{KeyCost: bcrypt.MinCost})
	if _, err := s.RegisterFirstKey(ctx, "", strings.Repeat("a", 73)); err == nil {
		t.Fatal("73-byte key accepted")
	}
	if _, err := s.RegisterFirstKey(ctx, "", strings.Repeat("a", 72)); err != nil {
		t.Fatal(err)
	}
	// Once a key exists, a registration is refused before any hashing.
	if _, err := s.RegisterFirstKey(ctx, "", strings.Repeat("b", 72)); err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Fatalf("second registration: %v", err)
	}
}

// TestPassphraseMigratesFromSHA256: data sealed by a version-6 binary (key =
// SHA-256 of the passphrase) opens after the upgrade, is re-sealed under
// argon2id with a stored salt, and the old derivation no longer opens it.
func TestPassphraseMigratesFromSHA256(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const pass = "operator passphrase, long enough"
	old, err := Open(ctx, dir, Options{EncryptionKey: pass, upTo: metaVersion - 1})
	if err != nil {
		t.Fatal(err)
	}
	pe, err := old.CreateProxmoxEndpoint(ctx, ProxmoxEndpoint{Name: "pve", IPAddress: "10.0.0.1", Port: 8006, Username: "root@pam", Password: "pve-pass", TokenName: "t", TokenValue: "tok-val"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.CreateNetBoxEndpoint(ctx, NetBoxEndpoint{Name: "nb", IPAddress: "10.0.0.2", Port: 443, TokenVersion: "v1", Token: "nb-token"}); err != nil {
		t.Fatal(err)
	}
	var sealedBefore string
	old.r.QueryRowContext(ctx, `SELECT password_enc FROM proxmox_endpoint WHERE id = ?`, pe.ID).Scan(&sealedBefore)
	old.Close()

	s := open(t, dir, Options{EncryptionKey: pass})
	got, err := s.ProxmoxEndpoint(ctx, pe.ID)
	if err != nil || got.Password.Reveal() != "pve-pass" || got.TokenValue.Reveal() != "tok-val" {
		t.Fatalf("after upgrade: %+v %v", got, err)
	}
	nbs, err := s.NetBoxEndpoints(ctx)
	if err != nil || len(nbs) != 1 || nbs[0].Token.Reveal() != "nb-token" {
		t.Fatalf("netbox after upgrade: %v", err)
	}
	raw, found, _ := metaGet(ctx, s.r, metaKDF)
	if !found || !strings.Contains(raw, `"alg":"argon2id"`) || !strings.Contains(raw, `"salt"`) {
		t.Fatalf("kdf record: %q", raw)
	}
	var sealedAfter string
	s.r.QueryRowContext(ctx, `SELECT password_enc FROM proxmox_endpoint WHERE id = ?`, pe.ID).Scan(&sealedAfter)
	if sealedAfter == sealedBefore {
		t.Fatal("value not re-sealed")
	}
	legacy, _ := newSecretBox(sha256Key(pass))
	if _, err := legacy.open("proxmox_endpoint.password", sealedAfter); err == nil {
		t.Fatal("the SHA-256 key still opens the migrated value")
	}
	s.Close()
	// A second start does not migrate again and still opens everything.
	s2 := open(t, dir, Options{EncryptionKey: pass})
	if got, err := s2.ProxmoxEndpoint(ctx, pe.ID); err != nil || got.Password.Reveal() != "pve-pass" {
		t.Fatalf("second start: %v", err)
	}
}

func TestShortPassphraseRefused(t *testing.T) {
	if _, err := Open(context.Background(), t.TempDir(), Options{EncryptionKey: "a"}); err == nil {
		t.Fatal("a one-character encryption key was accepted")
	}
}

// TestDatabaseFilesPrivateInAnOpenDirectory: in an existing 0755 directory
// the database and its -wal and -shm files are 0600 (issue 14 point 10).
func TestDatabaseFilesPrivateInAnOpenDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, Options{KeyCost: bcrypt.MinCost})
	if err := s.SetSetting(context.Background(), "k", 1); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{DBFile, DBFile + "-wal", DBFile + "-shm"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v, want 0600", name, fi.Mode().Perm())
		}
	}
}

// BenchmarkVerifyWrongKey19Keys: the cost of a wrong key with 19 keys stored
// at the production bcrypt cost (issue 14 measured 5.4 s before the index).
func BenchmarkVerifyWrongKey19Keys(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 19; i++ {
		if _, err := s.CreateKey(ctx, "k", strings.Repeat("k", 40)+strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
	}
	wrong := strings.Repeat("w", 64)
	b.ResetTimer()
	for b.Loop() {
		if _, ok, _ := s.VerifyKey(ctx, wrong); ok {
			b.Fatal("wrong key accepted")
		}
	}
}
