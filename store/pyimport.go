package store

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LegacyDBFile is the Python service's database file name (proxbox-api, database.py).
const LegacyDBFile = "database.db"

// LegacyImport reports what ImportLegacy did, one line per row.
type LegacyImport struct {
	Imported []string // "netbox endpoint nb1", "proxmox endpoint pve1", "API key plugin (id 3)"
	Skipped  []string // with the reason
}

// ErrLegacyKeyNeeded means a credential of the proxbox-api database is encrypted and no key, or
// the wrong key, was given to decrypt it.
var ErrLegacyKeyNeeded = errors.New("encrypted with proxbox-api's PROXBOX_ENCRYPTION_KEY")

// ImportLegacy copies the endpoints and API keys of a proxbox-api (Python service) database
// into s. from is the database file or a directory holding database.db; it is opened read-only
// and never written. legacyKey is the PROXBOX_ENCRYPTION_KEY the Python service ran with (empty
// when it stored credentials in plain text).
//
// The Python storage format (proxbox-api, database.py and credentials.py): tables
// netboxendpoint, proxmoxendpoint and apikey; credentials (NetBox token and token_key, Proxmox
// password and token_value) either plain, or "enc:" + base64url(Fernet token) with the Fernet key
// SHA-256(PROXBOX_ENCRYPTION_KEY). API keys are bcrypt hashes, which proxbox verifies as they are,
// so the plugin's key keeps working without being re-registered.
//
// Rows that already exist are skipped: a Proxmox endpoint by name, a NetBox endpoint when one is
// stored (the appliance has one), an API key by hash. Nothing is written unless every credential
// could be read: a missing or wrong legacyKey fails the whole import with ErrLegacyKeyNeeded.
func (s *Store) ImportLegacy(ctx context.Context, from, legacyKey string) (LegacyImport, error) {
	var rep LegacyImport
	path := from
	if fi, err := os.Stat(from); err != nil {
		return rep, fmt.Errorf("proxbox-api database: %w", err)
	} else if fi.IsDir() {
		path = filepath.Join(from, LegacyDBFile)
		if _, err := os.Stat(path); err != nil {
			return rep, fmt.Errorf("proxbox-api database: no %s in %s", LegacyDBFile, from)
		}
	}
	src, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=query_only(1)")
	if err != nil {
		return rep, fmt.Errorf("open proxbox-api database %s: %w", path, err)
	}
	defer src.Close()
	legacy, err := readLegacy(ctx, src, strings.TrimSpace(legacyKey))
	if err != nil {
		return rep, fmt.Errorf("read proxbox-api database %s: %w", path, err)
	}

	haveNB, err := s.NetBoxEndpoints(ctx)
	if err != nil {
		return rep, err
	}
	for i, e := range legacy.netbox {
		if len(haveNB) > 0 || i > 0 {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("netbox endpoint %s: a NetBox endpoint is already stored (the appliance keeps one)", e.Name))
			continue
		}
		if _, err := s.CreateNetBoxEndpoint(ctx, e); err != nil {
			return rep, fmt.Errorf("import netbox endpoint %s: %w", e.Name, err)
		}
		rep.Imported = append(rep.Imported, "netbox endpoint "+e.Name)
	}
	havePVE, err := s.ProxmoxEndpoints(ctx)
	if err != nil {
		return rep, err
	}
	names := map[string]bool{}
	for _, e := range havePVE {
		names[e.Name] = true
	}
	for _, e := range legacy.proxmox {
		if names[e.Name] {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("proxmox endpoint %s: one with this name is already stored", e.Name))
			continue
		}
		if _, err := s.CreateProxmoxEndpoint(ctx, e); err != nil {
			return rep, fmt.Errorf("import proxmox endpoint %s: %w", e.Name, err)
		}
		names[e.Name] = true
		rep.Imported = append(rep.Imported, "proxmox endpoint "+e.Name)
	}
	for _, k := range legacy.keys {
		added, err := s.importKeyHash(ctx, k)
		if err != nil {
			return rep, fmt.Errorf("import API key %q: %w", k.label, err)
		}
		if !added {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("API key %q: already stored", k.label))
			continue
		}
		state := "active"
		if !k.active {
			state = "inactive"
		}
		rep.Imported = append(rep.Imported, fmt.Sprintf("API key %q (%s)", k.label, state))
	}
	return rep, nil
}

type legacyKey struct {
	label, hash string
	active      bool
	created     time.Time
}

type legacyRows struct {
	netbox  []NetBoxEndpoint
	proxmox []ProxmoxEndpoint
	keys    []legacyKey
}

func readLegacy(ctx context.Context, db *sql.DB, key string) (legacyRows, error) {
	var out legacyRows
	var failed []string
	reveal := func(what, v string) Secret {
		p, err := legacyDecrypt(v, key)
		if err != nil {
			failed = append(failed, what)
		}
		return Secret(p)
	}
	// token_version and token_key came with a later mini-migration; a database from before it
	// lacks them (proxbox-api adds them at start-up).
	cols, err := legacyColumns(ctx, db, "netboxendpoint")
	if err != nil {
		return out, err
	}
	version, tokenKey := "'v1'", "NULL"
	if cols["token_version"] {
		version = "COALESCE(token_version, 'v1')"
	}
	if cols["token_key"] {
		tokenKey = "token_key"
	}
	rows, err := db.QueryContext(ctx, `SELECT COALESCE(name,''), COALESCE(ip_address,''), COALESCE(domain,''), COALESCE(port,443), `+
		version+`, COALESCE(`+tokenKey+`,''), COALESCE(token,''), COALESCE(verify_ssl,1) FROM netboxendpoint ORDER BY id`)
	if err != nil {
		return out, fmt.Errorf("netboxendpoint: %w", err)
	}
	for rows.Next() {
		var e NetBoxEndpoint
		var key, tok string
		if err := rows.Scan(&e.Name, &e.IPAddress, &e.Domain, &e.Port, &e.TokenVersion, &key, &tok, &e.VerifySSL); err != nil {
			rows.Close()
			return out, fmt.Errorf("netboxendpoint: %w", err)
		}
		e.Token = reveal("netbox endpoint "+e.Name+" token", tok)
		e.TokenKey = reveal("netbox endpoint "+e.Name+" token_key", key)
		out.netbox = append(out.netbox, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("netboxendpoint: %w", err)
	}

	rows, err = db.QueryContext(ctx, `SELECT COALESCE(name,''), COALESCE(ip_address,''), COALESCE(domain,''), COALESCE(port,8006),
		COALESCE(username,''), COALESCE(password,''), COALESCE(verify_ssl,1), COALESCE(token_name,''), COALESCE(token_value,'')
		FROM proxmoxendpoint ORDER BY id`)
	if err != nil {
		return out, fmt.Errorf("proxmoxendpoint: %w", err)
	}
	for rows.Next() {
		var e ProxmoxEndpoint
		var pw, tv string
		if err := rows.Scan(&e.Name, &e.IPAddress, &e.Domain, &e.Port, &e.Username, &pw, &e.VerifySSL, &e.TokenName, &tv); err != nil {
			rows.Close()
			return out, fmt.Errorf("proxmoxendpoint: %w", err)
		}
		e.Password = reveal("proxmox endpoint "+e.Name+" password", pw)
		e.TokenValue = reveal("proxmox endpoint "+e.Name+" token_value", tv)
		out.proxmox = append(out.proxmox, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("proxmoxendpoint: %w", err)
	}

	rows, err = db.QueryContext(ctx, `SELECT COALESCE(label,''), key_hash, COALESCE(is_active,1), COALESCE(created_at,0) FROM apikey ORDER BY id`)
	if err != nil {
		return out, fmt.Errorf("apikey: %w", err)
	}
	for rows.Next() {
		var k legacyKey
		var created float64
		if err := rows.Scan(&k.label, &k.hash, &k.active, &created); err != nil {
			rows.Close()
			return out, fmt.Errorf("apikey: %w", err)
		}
		if !strings.HasPrefix(k.hash, "$2") {
			rows.Close()
			return out, fmt.Errorf("apikey %q: key_hash is not a bcrypt hash", k.label)
		}
		k.created = time.UnixMilli(int64(created * 1000)).UTC()
		out.keys = append(out.keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("apikey: %w", err)
	}
	if len(failed) > 0 {
		hint := "pass the key the Python service ran with (--from-key or PROXBOX_API_ENCRYPTION_KEY)"
		if key != "" {
			hint = "the key given does not decrypt them"
		}
		return out, fmt.Errorf("%s are %w: %s", strings.Join(failed, ", "), ErrLegacyKeyNeeded, hint)
	}
	return out, nil
}

func legacyColumns(ctx context.Context, db *sql.DB, table string) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", table, err)
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		cols[n] = true
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("no table %s: not a proxbox-api database", table)
	}
	return cols, rows.Err()
}

// importKeyHash stores a bcrypt hash as it is, unless the same hash is stored already.
func (s *Store) importKeyHash(ctx context.Context, k legacyKey) (bool, error) {
	added := false
	err := s.tx(ctx, func(t *sql.Tx) error {
		var n int
		if err := t.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_key WHERE key_hash = ?`, k.hash).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		_, err := t.ExecContext(ctx, `INSERT INTO api_key(label, key_hash, is_active, created_at) VALUES (?,?,?,?)`,
			k.label, k.hash, k.active, k.created.UnixMilli())
		added = err == nil
		return err
	})
	if added {
		s.forgetVerifiedKeys()
	}
	return added, err
}

// legacyDecrypt reads one proxbox-api credential: plain text as it is, or "enc:" +
// base64url(Fernet token) under the Fernet key SHA-256(key) (proxbox-api credentials.py).
// Fernet (spec: github.com/fernet/spec): 0x80, 8-byte timestamp, 16-byte IV, AES-128-CBC
// ciphertext with PKCS#7 padding, HMAC-SHA256 over all of that; the 32-byte key is the signing
// key followed by the encryption key.
func legacyDecrypt(v, key string) (string, error) {
	enc, ok := strings.CutPrefix(v, "enc:")
	if !ok {
		return v, nil
	}
	if key == "" {
		return "", ErrLegacyKeyNeeded
	}
	tokenText, err := base64.URLEncoding.DecodeString(enc)
	if err != nil {
		return "", fmt.Errorf("credential: %w", err)
	}
	tok, err := base64.URLEncoding.DecodeString(string(tokenText))
	if err != nil {
		return "", fmt.Errorf("fernet token: %w", err)
	}
	const head, mac = 1 + 8 + aes.BlockSize, sha256.Size
	if len(tok) < head+aes.BlockSize+mac || tok[0] != 0x80 || (len(tok)-head-mac)%aes.BlockSize != 0 {
		return "", errors.New("fernet token: malformed")
	}
	k := sha256.Sum256([]byte(key))
	h := hmac.New(sha256.New, k[:16])
	h.Write(tok[:len(tok)-mac])
	if !hmac.Equal(h.Sum(nil), tok[len(tok)-mac:]) {
		return "", ErrLegacyKeyNeeded
	}
	block, err := aes.NewCipher(k[16:])
	if err != nil {
		return "", err
	}
	ct := tok[head : len(tok)-mac]
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, tok[9:head]).CryptBlocks(pt, ct)
	pad := int(pt[len(pt)-1])
	if pad < 1 || pad > aes.BlockSize {
		return "", errors.New("fernet token: bad padding")
	}
	for _, b := range pt[len(pt)-pad:] {
		if int(b) != pad {
			return "", errors.New("fernet token: bad padding")
		}
	}
	return string(pt[:len(pt)-pad]), nil
}
