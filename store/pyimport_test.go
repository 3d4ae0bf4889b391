package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Credentials encrypted by proxbox-api itself (Python cryptography's Fernet, key SHA-256 of
// legacyTestKey, stored as "enc:" + base64url(token); proxbox-api credentials.py).
const (
	legacyTestKey = "old proxbox-api key"
	encNBToken    = "enc:Z0FBQUFBQnJFVDNhLXRpeEJBRlB1TGNtVndLdTFOdjhjRDZmNk9kZXJic29Xbkd4U0M3VnN0RGR3UFpYV25SWlNYX3V4RTl6ZkV1Wnhpa2toSFdCcHBFN3hfY1VNTWVxT2h4ZjA0eDkwMXlLLTlRZGNBMG9IQWdkR083NzhFNUdpUV9TRjJUN0VCODg="
	encNBKey      = "enc:Z0FBQUFBQnJFVDNhbndLTXc3dG5JVlQ1eEdReEZJdWplcTlYNl9Od052Z2VkYkpxbmZBWmlkLXNOT0NxajhuTDlIaTVhSmpkdnV0TFpQT09fSmdtRldkS0owMkV3REFXWkE9PQ=="
	encPVEPass    = "enc:Z0FBQUFBQnJFVDNhN3Q4MjN3UmgzYlM5X2pMSXd4eHVsbU5nX1ZxenZnQXF4V2VwNEtDWngyNHIxd184elNjNTFxaVhad1hWSm1tcHBqS183akpfaWZaSzdCRWtrb1VicXhIVjBPcFAydVI4UGVGclUwQk9YOTg9"
	encPVEToken   = "enc:Z0FBQUFBQnJFVDNhLXRrVF94TTBhZmhuX0hWdmg5TzF3bkRRa0tlc3Iwc2dDY0xxLUdIU2lleHplZTFUNUp3RDlnZkV4SnRfRzFvWDN3RE4tX0FNSDFDamtRT19kSXhTc3pMY09pdHkxZHpreWVXd05QVmhrSmxIRGJQS2I3a1RQc1loQ0VlMlBjSmo="
)

// legacyDB writes a database.db in proxbox-api's format (SQLModel tables of database.py).
func legacyDB(t *testing.T, pluginKey string) string {
	t.Helper()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, LegacyDBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hash, err := bcrypt.GenerateFromPassword([]byte(pluginKey), 4)
	if err != nil {
		t.Fatal(err)
	}
	pyHash := "$2b$" + strings.TrimPrefix(string(hash), "$2a$") // Python's bcrypt writes $2b$
	stmts := []string{
		`CREATE TABLE netboxendpoint (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR NOT NULL, ip_address VARCHAR NOT NULL,
			domain VARCHAR NOT NULL, port INTEGER NOT NULL, token VARCHAR NOT NULL, verify_ssl BOOLEAN NOT NULL,
			token_version VARCHAR DEFAULT 'v1', token_key VARCHAR)`,
		`CREATE TABLE proxmoxendpoint (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, ip_address VARCHAR NOT NULL,
			domain VARCHAR, port INTEGER NOT NULL, username VARCHAR NOT NULL, password VARCHAR, verify_ssl BOOLEAN NOT NULL,
			token_name VARCHAR, token_value VARCHAR)`,
		`CREATE TABLE apikey (id INTEGER NOT NULL PRIMARY KEY, label VARCHAR NOT NULL, key_hash VARCHAR NOT NULL,
			is_active BOOLEAN NOT NULL, created_at FLOAT NOT NULL)`,
		`CREATE TABLE authlockout (ip_address VARCHAR NOT NULL PRIMARY KEY, attempts INTEGER NOT NULL, first_attempt_time FLOAT NOT NULL)`,
		`INSERT INTO netboxendpoint VALUES (1, 'netbox', '10.0.0.5', 'netbox.example.com', 443, '` + encNBToken + `', 1, 'v2', '` + encNBKey + `')`,
		`INSERT INTO proxmoxendpoint VALUES (1, 'pve1', '10.0.0.10', NULL, 8006, 'root@pam', '` + encPVEPass + `', 0, NULL, NULL)`,
		`INSERT INTO proxmoxendpoint VALUES (2, 'pve2', '10.0.0.11', 'pve2.example.com', 8006, 'sync@pve', NULL, 1, 'proxbox', '` + encPVEToken + `')`,
		`INSERT INTO proxmoxendpoint VALUES (3, 'lab', '10.0.0.12', '', 8006, 'root@pam', 'plain-legacy-password', 0, NULL, NULL)`,
		`INSERT INTO apikey VALUES (1, 'netbox-proxbox plugin', '` + pyHash + `', 1, 1767225600.25)`,
		`INSERT INTO apikey VALUES (2, 'old', '$2b$12$abcdefghijklmnopqrstuuJ7Pq7mJq5kqQk3W4aD1y8V0zJH2y8VW', 0, 1767225000.0)`,
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return dir
}

func TestImportLegacyEndpointsAndKeys(t *testing.T) {
	ctx := context.Background()
	pluginKey := strings.Repeat("k", 64)
	from := legacyDB(t, pluginKey)
	st, err := Open(ctx, t.TempDir(), Options{EncryptionKey: "new appliance key"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// Without the old key, or with a wrong one, nothing is imported.
	for _, key := range []string{"", "wrong key"} {
		_, err := st.ImportLegacy(ctx, from, key)
		if !errors.Is(err, ErrLegacyKeyNeeded) || !strings.Contains(err.Error(), "pve1 password") {
			t.Fatalf("key %q: %v", key, err)
		}
	}
	if eps, _ := st.ProxmoxEndpoints(ctx); len(eps) != 0 {
		t.Fatalf("a failed import wrote %d endpoints", len(eps))
	}

	rep, err := st.ImportLegacy(ctx, filepath.Join(from, LegacyDBFile), legacyTestKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Imported) != 6 || len(rep.Skipped) != 0 {
		t.Fatalf("report %+v", rep)
	}
	nbs, _ := st.NetBoxEndpoints(ctx)
	if len(nbs) != 1 || nbs[0].Domain != "netbox.example.com" || nbs[0].TokenVersion != "v2" || !nbs[0].VerifySSL ||
		nbs[0].Token.Reveal() != "0123456789abcdef0123456789abcdef01234567" || nbs[0].TokenKey.Reveal() != "nbkeyabcdef1" {
		t.Fatalf("netbox endpoint %+v", nbs)
	}
	pves, _ := st.ProxmoxEndpoints(ctx)
	got := map[string]ProxmoxEndpoint{}
	for _, e := range pves {
		got[e.Name] = e
	}
	if e := got["pve1"]; e.Password.Reveal() != "pve-secret-password" || e.VerifySSL || e.Username != "root@pam" {
		t.Errorf("pve1 %+v", e)
	}
	if e := got["pve2"]; e.TokenName != "proxbox" || e.TokenValue.Reveal() != "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" || e.Domain != "pve2.example.com" {
		t.Errorf("pve2 %+v", e)
	}
	if e := got["lab"]; e.Password.Reveal() != "plain-legacy-password" {
		t.Errorf("lab %+v", e)
	}
	// The plugin's key works as it is; the inactive one stays inactive.
	if _, ok, err := st.VerifyKey(ctx, pluginKey); !ok || err != nil {
		t.Fatalf("imported plugin key does not verify: %v", err)
	}
	keys, _ := st.Keys(ctx)
	if len(keys) != 2 || n(keys, func(k APIKey) bool { return k.IsActive }) != 1 {
		t.Fatalf("keys %+v", keys)
	}

	// A second import changes nothing.
	rep, err = st.ImportLegacy(ctx, from, legacyTestKey)
	if err != nil || len(rep.Imported) != 0 || len(rep.Skipped) != 6 {
		t.Fatalf("second import: %+v %v", rep, err)
	}
}

func TestImportLegacyRefusesOtherFiles(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, t.TempDir(), Options{EncryptionKey: "a passphrase of 16+ chars"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.ImportLegacy(ctx, t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), "no database.db") {
		t.Errorf("empty dir: %v", err)
	}
	// proxbox's own database is not a proxbox-api one.
	if _, err := st.ImportLegacy(ctx, st.Path(), ""); err == nil || !strings.Contains(err.Error(), "not a proxbox-api database") {
		t.Errorf("own database: %v", err)
	}
}

func n[T any](xs []T, f func(T) bool) int {
	c := 0
	for _, x := range xs {
		if f(x) {
			c++
		}
	}
	return c
}
