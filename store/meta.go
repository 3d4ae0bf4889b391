package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Rows of store_meta.
const (
	metaKDF    = "kdf"            // kdfParams of PROXBOX_ENCRYPTION_KEY, JSON
	metaPepper = "api_key_pepper" // the HMAC key of the API key index, sealed
)

// metaVersion is the schema version that brought store_meta (the KDF salt,
// the key index): a store below it sealed with SHA-256 of the passphrase.
var metaVersion = func() int {
	for i, m := range migrations {
		if strings.Contains(m, "CREATE TABLE store_meta") {
			return i + 1
		}
	}
	panic("store: no migration creates store_meta")
}()

// sealedColumns lists every column the secret box seals, with the
// additional data it is bound to.
var sealedColumns = []struct{ table, col, aad string }{
	{"netbox_endpoint", "token_enc", "netbox_endpoint.token"},
	{"netbox_endpoint", "token_key_enc", "netbox_endpoint.token_key"},
	{"proxmox_endpoint", "password_enc", "proxmox_endpoint.password"},
	{"proxmox_endpoint", "token_value_enc", "proxmox_endpoint.token_value"},
}

func metaGet(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, key string) (string, bool, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM store_meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read store meta %s: %w", key, err)
	}
	return v, true, nil
}

const metaPut = `INSERT INTO store_meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`

// openBox builds the secret box. Without a passphrase the key is the random
// one in <dir>/secret.key. With one, the key is argon2id(passphrase, salt)
// with the salt and parameters kept in store_meta; the first start under
// this derivation re-seals the values sealed by the old one (a single
// SHA-256 of the passphrase) in one transaction.
func (s *Store) openBox(ctx context.Context, dir, passphrase string) error {
	if passphrase == "" {
		key, err := loadOrCreateKey(filepath.Join(dir, KeyFile))
		if err != nil {
			return err
		}
		s.box, err = newSecretBox(key)
		return err
	}
	if n := utf8.RuneCountInString(passphrase); n < MinPassphraseLength {
		return fmt.Errorf("encryption key: %d characters; at least %d are required", n, MinPassphraseLength)
	}
	raw, found, err := metaGet(ctx, s.w, metaKDF)
	if err != nil {
		return err
	}
	if found {
		var p kdfParams
		if err := json.Unmarshal([]byte(raw), &p); err != nil {
			return fmt.Errorf("encryption key: corrupt key derivation record: %w", err)
		}
		key, err := p.key(passphrase)
		if err != nil {
			return err
		}
		s.box, err = newSecretBox(key)
		return err
	}
	p := kdfDefaults
	p.Salt = make([]byte, 16)
	if _, err := rand.Read(p.Salt); err != nil {
		return fmt.Errorf("encryption key: salt: %w", err)
	}
	key, err := p.key(passphrase)
	if err != nil {
		return err
	}
	box, err := newSecretBox(key)
	if err != nil {
		return err
	}
	old, err := newSecretBox(sha256Key(passphrase))
	if err != nil {
		return err
	}
	rec, _ := json.Marshal(p)
	moved, unreadable := 0, 0
	err = s.tx(ctx, func(t *sql.Tx) error {
		for _, c := range sealedColumns {
			type row struct {
				id  int64
				val string
			}
			rows, err := t.QueryContext(ctx, `SELECT id, `+c.col+` FROM `+c.table+` WHERE `+c.col+` != ''`)
			if err != nil {
				return err
			}
			var all []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.id, &r.val); err != nil {
					rows.Close()
					return err
				}
				all = append(all, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, r := range all {
				v, err := old.open(c.aad, r.val)
				if err != nil {
					unreadable++ // sealed with another key: left as is, reads keep failing loudly
					continue
				}
				sealed, err := box.seal(c.aad, v)
				if err != nil {
					return err
				}
				if _, err := t.ExecContext(ctx, `UPDATE `+c.table+` SET `+c.col+` = ? WHERE id = ?`, sealed, r.id); err != nil {
					return err
				}
				moved++
			}
		}
		_, err := t.ExecContext(ctx, metaPut, metaKDF, string(rec))
		return err
	})
	if err != nil {
		return fmt.Errorf("encryption key: upgrade to argon2id: %w", err)
	}
	if moved > 0 || unreadable > 0 {
		s.log.Info("stored credentials re-encrypted under the argon2id key derivation", "values", moved, "unreadable", unreadable)
	}
	if unreadable > 0 {
		s.log.Warn("some stored credentials do not open with PROXBOX_ENCRYPTION_KEY (was it changed?); enter them again", "values", unreadable)
	}
	s.box = box
	return nil
}

// loadPepper reads (or creates) the HMAC key of the API key index. A pepper
// that no longer opens (the encryption key changed) is replaced and every
// key's index cleared: keys are then indexed again at their first use.
func (s *Store) loadPepper(ctx context.Context) error {
	raw, found, err := metaGet(ctx, s.w, metaPepper)
	if err != nil {
		return err
	}
	if found {
		if sec, err := s.box.open("store_meta."+metaPepper, raw); err == nil {
			if b, err := base64.StdEncoding.DecodeString(sec.Reveal()); err == nil && len(b) == 32 {
				s.pepper = b
				return nil
			}
		}
		s.log.Warn("the API key index key does not open with the encryption key; keys are indexed again at their next use")
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("api key index key: %w", err)
	}
	sealed, err := s.box.seal("store_meta."+metaPepper, Secret(base64.StdEncoding.EncodeToString(b)))
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(t *sql.Tx) error {
		if found {
			if _, err := t.ExecContext(ctx, `UPDATE api_key SET key_index = NULL`); err != nil {
				return err
			}
		}
		_, err := t.ExecContext(ctx, metaPut, metaPepper, sealed)
		return err
	})
	if err != nil {
		return fmt.Errorf("store api key index key: %w", err)
	}
	s.pepper = b
	return nil
}
