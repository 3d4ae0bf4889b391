package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxbox/proxbox/store"
)

// proxbox migrate imports a proxbox-api database (plain-text credentials: the Python service
// without PROXBOX_ENCRYPTION_KEY) into a fresh data directory; a second run skips everything.
func TestMigrateCommand(t *testing.T) {
	src := filepath.Join(t.TempDir(), "database.db")
	db, err := sql.Open("sqlite", "file:"+src)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`CREATE TABLE netboxendpoint (id INTEGER PRIMARY KEY, name VARCHAR, ip_address VARCHAR, domain VARCHAR, port INTEGER, token VARCHAR, verify_ssl BOOLEAN)`,
		`CREATE TABLE proxmoxendpoint (id INTEGER PRIMARY KEY, name VARCHAR UNIQUE, ip_address VARCHAR, domain VARCHAR, port INTEGER, username VARCHAR, password VARCHAR, verify_ssl BOOLEAN, token_name VARCHAR, token_value VARCHAR)`,
		`CREATE TABLE apikey (id INTEGER PRIMARY KEY, label VARCHAR, key_hash VARCHAR, is_active BOOLEAN, created_at FLOAT)`,
		`INSERT INTO netboxendpoint VALUES (1, 'nb', '10.0.0.5', '', 443, '0123456789abcdef0123456789abcdef01234567', 0)`,
		`INSERT INTO proxmoxendpoint VALUES (1, 'pve', '10.0.0.10', NULL, 8006, 'root@pam', 'pw', 0, NULL, NULL)`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	t.Setenv("PROXBOX_ENCRYPTION_KEY", "")
	data := filepath.Join(t.TempDir(), "data")
	var out bytes.Buffer
	if code := run(context.Background(), []string{"migrate", "--from", filepath.Dir(src), "--data-dir", data}, &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	if !strings.Contains(out.String(), "imported: netbox endpoint nb") || !strings.Contains(out.String(), "2 imported, 0 skipped") {
		t.Fatalf("output: %s", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"migrate", "--from", src, "--data-dir", data}, &out, &out); code != 0 || !strings.Contains(out.String(), "0 imported, 2 skipped") {
		t.Fatalf("second run: exit %d: %s", code, out.String())
	}
	st, err := store.Open(context.Background(), data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if eps, _ := st.ProxmoxEndpoints(context.Background()); len(eps) != 1 || eps[0].Password.Reveal() != "pw" {
		t.Fatalf("stored %+v", eps)
	}
	if code := run(context.Background(), []string{"migrate"}, &out, &out); code != 2 {
		t.Fatalf("no --from: exit %d", code)
	}
}
