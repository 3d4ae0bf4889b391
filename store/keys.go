package store

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// APIKey is a registered API key; its clear text is never stored.
type APIKey struct {
	ID        int64
	Label     string
	IsActive  bool
	CreatedAt time.Time
}

// MinKeyLength is the shortest API key accepted (the plugin sends 64).
const MinKeyLength = 32

// MaxKeyLength is the longest API key accepted, in bytes: bcrypt reads 72
// bytes at most, so a longer key would be accepted with any tail.
const MaxKeyLength = 72

// ErrKeyLength is returned for a key outside MinKeyLength..MaxKeyLength.
var ErrKeyLength = fmt.Errorf("API key must be %d to %d bytes", MinKeyLength, MaxKeyLength)

// keyCost is the bcrypt cost of stored key hashes. Verification of a key is
// memoised in memory (by SHA-256 of the key) until the set of keys changes, so
// the cost is paid once per key, not per request.
const keyCost = 11

// NewRawKey returns a fresh random key: 48 bytes, URL-safe base64 (64 chars),
// the form the plugin itself generates.
func NewRawKey() (string, error) {
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// CreateKey stores a hash of raw under label.
func (s *Store) CreateKey(ctx context.Context, label, raw string) (APIKey, error) {
	k, err := s.insertKey(ctx, label, raw, false)
	if err != nil {
		return APIKey{}, fmt.Errorf("create key: %w", err)
	}
	return k, nil
}

// RegisterFirstKey stores raw only while no active key exists (the plugin's
// bootstrap); otherwise it returns ErrConflict. The check and the insert
// happen in one transaction, so two racing registrations cannot both win.
func (s *Store) RegisterFirstKey(ctx context.Context, label, raw string) (APIKey, error) {
	k, err := s.insertKey(ctx, label, raw, true)
	if err != nil {
		return APIKey{}, fmt.Errorf("register key: %w", err)
	}
	return k, nil
}

// insertKey hashes raw and stores it; onlyFirst refuses when an active key
// exists (ErrConflict), in the same transaction as the insert.
func (s *Store) insertKey(ctx context.Context, label, raw string, onlyFirst bool) (APIKey, error) {
	if len(raw) < MinKeyLength || len(raw) > MaxKeyLength {
		return APIKey{}, ErrKeyLength
	}
	if onlyFirst {
		// Refuse before hashing: a registration attempt once a key exists
		// costs one read, not a bcrypt.
		if n, err := s.ActiveKeyCount(ctx); err != nil {
			return APIKey{}, err
		} else if n > 0 {
			return APIKey{}, ErrConflict
		}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(raw), s.keyCost)
	if err != nil {
		return APIKey{}, fmt.Errorf("hash key: %w", err)
	}
	k := APIKey{Label: label, IsActive: true, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	err = s.tx(ctx, func(t *sql.Tx) error {
		if onlyFirst {
			var n int
			if err := t.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_key WHERE is_active = 1`).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return ErrConflict
			}
		}
		res, err := t.ExecContext(ctx, `INSERT INTO api_key(label, key_hash, key_index, is_active, created_at) VALUES (?,?,?,1,?)`, label, string(hash), s.keyIndex(raw), k.CreatedAt.UnixMilli())
		if err != nil {
			return err
		}
		k.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return APIKey{}, err
	}
	s.forgetVerifiedKeys()
	return k, nil
}

// Keys lists every key, newest first.
func (s *Store) Keys(ctx context.Context) ([]APIKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, label, is_active, created_at FROM api_key ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		var k APIKey
		var created int64
		if err := rows.Scan(&k.ID, &k.Label, &k.IsActive, &created); err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		k.CreatedAt = time.UnixMilli(created).UTC()
		out = append(out, k)
	}
	return out, rows.Err()
}

// ActiveKeyCount counts active keys.
func (s *Store) ActiveKeyCount(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_key WHERE is_active = 1`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count keys: %w", err)
	}
	return n, nil
}

// SetKeyActive activates or deactivates key id.
func (s *Store) SetKeyActive(ctx context.Context, id int64, active bool) (APIKey, error) {
	var k APIKey
	err := s.tx(ctx, func(t *sql.Tx) error {
		res, err := t.ExecContext(ctx, `UPDATE api_key SET is_active = ? WHERE id = ?`, active, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		var created int64
		if err := t.QueryRowContext(ctx, `SELECT id, label, is_active, created_at FROM api_key WHERE id = ?`, id).Scan(&k.ID, &k.Label, &k.IsActive, &created); err != nil {
			return err
		}
		k.CreatedAt = time.UnixMilli(created).UTC()
		return nil
	})
	s.forgetVerifiedKeys()
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("set key %d active=%v: %w", id, active, err)
	}
	return k, err
}

// DeleteKey removes key id.
func (s *Store) DeleteKey(ctx context.Context, id int64) error {
	err := s.deleteByID(ctx, "api_key", id)
	s.forgetVerifiedKeys()
	return err
}

// keyIndex is the HMAC-SHA256 of raw under the store's pepper: it finds
// the one row a key can match, so a wrong key costs no bcrypt at all.
func (s *Store) keyIndex(raw string) string {
	m := hmac.New(sha256.New, s.pepper)
	m.Write([]byte(raw))
	return hex.EncodeToString(m.Sum(nil))
}

// VerifyKey returns the id of the active key equal to raw. The key's
// HMAC-SHA256 index selects the row, then bcrypt confirms it, so the cost of
// a request does not grow with the number of keys. Keys stored before the
// index existed (key_index NULL) are compared one by one and indexed at
// their first success. A success is memoised until any key changes, so
// deactivation and deletion take effect at once.
func (s *Store) VerifyKey(ctx context.Context, raw string) (int64, bool, error) {
	if len(raw) < MinKeyLength || len(raw) > MaxKeyLength {
		return 0, false, nil
	}
	sum := sha256.Sum256([]byte(raw))
	s.keyMu.Lock()
	id, ok := s.keyMemo[sum]
	s.keyMu.Unlock()
	if ok {
		return id, true, nil
	}
	idx := s.keyIndex(raw)
	cands, err := s.keyCandidates(ctx, `SELECT id, key_hash FROM api_key WHERE is_active = 1 AND key_index = ?`, idx)
	if err != nil {
		return 0, false, err
	}
	legacy := false
	if len(cands) == 0 {
		if cands, err = s.keyCandidates(ctx, `SELECT id, key_hash FROM api_key WHERE is_active = 1 AND key_index IS NULL`); err != nil {
			return 0, false, err
		}
		legacy = true
	}
	for _, c := range cands {
		s.bcryptCompares.Add(1)
		if bcrypt.CompareHashAndPassword([]byte(c.hash), []byte(raw)) == nil {
			if legacy {
				if _, err := s.w.ExecContext(ctx, `UPDATE api_key SET key_index = ? WHERE id = ?`, idx, c.id); err != nil {
					s.log.Warn("index API key", "key_id", c.id, "err", err)
				}
			}
			s.keyMu.Lock()
			s.keyMemo[sum] = c.id
			s.keyMu.Unlock()
			return c.id, true, nil
		}
	}
	return 0, false, nil
}

// UnindexedKeyCount counts active keys stored before the key index (each
// one costs a bcrypt comparison per wrong key until it is first used).
func (s *Store) UnindexedKeyCount(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_key WHERE is_active = 1 AND key_index IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count keys: %w", err)
	}
	return n, nil
}

type keyCand struct {
	id   int64
	hash string
}

func (s *Store) keyCandidates(ctx context.Context, q string, args ...any) ([]keyCand, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("verify key: %w", err)
	}
	defer rows.Close()
	var out []keyCand
	for rows.Next() {
		var c keyCand
		if err := rows.Scan(&c.id, &c.hash); err != nil {
			return nil, fmt.Errorf("verify key: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("verify key: %w", err)
	}
	return out, nil
}

// KeyMemoised reports whether raw was verified since the last key change
// (a map lookup: no bcrypt, no database read).
func (s *Store) KeyMemoised(raw string) bool {
	sum := sha256.Sum256([]byte(raw))
	s.keyMu.Lock()
	_, ok := s.keyMemo[sum]
	s.keyMu.Unlock()
	return ok
}

func (s *Store) forgetVerifiedKeys() {
	s.keyMu.Lock()
	clear(s.keyMemo)
	if s.keyChanged != nil {
		close(s.keyChanged)
	}
	s.keyChanged = make(chan struct{})
	s.keyMu.Unlock()
}

// KeyChanges returns a channel closed at the next change of any key
// (creation, deletion, activation): long-lived streams wait on it and then
// check that their own key is still active.
func (s *Store) KeyChanges() <-chan struct{} {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.keyChanged == nil {
		s.keyChanged = make(chan struct{})
	}
	return s.keyChanged
}

// KeyActive reports whether key id exists and is active.
func (s *Store) KeyActive(ctx context.Context, id int64) (bool, error) {
	var active bool
	err := s.r.QueryRowContext(ctx, `SELECT is_active FROM api_key WHERE id = ?`, id).Scan(&active)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read key %d: %w", id, err)
	}
	return active, nil
}

// Lockout is the failed-authentication record of one client.
type Lockout struct {
	Attempts     int
	FirstAttempt time.Time
}

// RecordAuthFailure counts a failed authentication of client at now; a
// failure after window since the first one starts a new window.
func (s *Store) RecordAuthFailure(ctx context.Context, client string, now time.Time, window time.Duration) (Lockout, error) {
	var l Lockout
	err := s.tx(ctx, func(t *sql.Tx) error {
		var attempts int
		var first int64
		err := t.QueryRowContext(ctx, `SELECT attempts, first_attempt FROM auth_lockout WHERE client = ?`, client).Scan(&attempts, &first)
		switch {
		case errors.Is(err, sql.ErrNoRows) || (err == nil && now.Sub(time.UnixMilli(first)) >= window):
			attempts, first = 1, now.UnixMilli()
		case err != nil:
			return err
		default:
			attempts++
		}
		l = Lockout{Attempts: attempts, FirstAttempt: time.UnixMilli(first)}
		_, err = t.ExecContext(ctx, `INSERT INTO auth_lockout(client, attempts, first_attempt) VALUES (?,?,?)
			ON CONFLICT(client) DO UPDATE SET attempts = excluded.attempts, first_attempt = excluded.first_attempt`, client, attempts, first)
		return err
	})
	if err != nil {
		return l, fmt.Errorf("record auth failure: %w", err)
	}
	return l, nil
}

// AuthLockout returns the client's record, if any.
func (s *Store) AuthLockout(ctx context.Context, client string) (Lockout, bool, error) {
	var attempts int
	var first int64
	err := s.r.QueryRowContext(ctx, `SELECT attempts, first_attempt FROM auth_lockout WHERE client = ?`, client).Scan(&attempts, &first)
	if errors.Is(err, sql.ErrNoRows) {
		return Lockout{}, false, nil
	}
	if err != nil {
		return Lockout{}, false, fmt.Errorf("read lockout: %w", err)
	}
	return Lockout{Attempts: attempts, FirstAttempt: time.UnixMilli(first)}, true, nil
}

// ClearAuthLockout forgets the client's failures.
func (s *Store) ClearAuthLockout(ctx context.Context, client string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM auth_lockout WHERE client = ?`, client); err != nil {
		return fmt.Errorf("clear lockout: %w", err)
	}
	return nil
}
