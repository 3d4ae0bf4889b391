package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AcquireLeases takes the sync leases of every endpoint in ids for holder
// until now+ttl, all or none, in one transaction. A lease held by another
// holder that has not expired makes it return false (and take nothing); an
// expired one is taken over. Holding the leases already renews them.
func (s *Store) AcquireLeases(ctx context.Context, holder string, ids []int64, now time.Time, ttl time.Duration) (bool, error) {
	got := false
	err := s.tx(ctx, func(t *sql.Tx) error {
		for _, id := range ids {
			var h string
			var exp int64
			err := t.QueryRowContext(ctx, `SELECT holder, expires_at FROM sync_lease WHERE endpoint_id = ?`, id).Scan(&h, &exp)
			if err == nil && h != holder && exp > now.UnixMilli() {
				return nil // held elsewhere: roll nothing in
			}
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		for _, id := range ids {
			if _, err := t.ExecContext(ctx, `INSERT INTO sync_lease(endpoint_id, holder, expires_at) VALUES (?,?,?)
				ON CONFLICT(endpoint_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at`,
				id, holder, now.Add(ttl).UnixMilli()); err != nil {
				return err
			}
		}
		got = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("acquire sync leases: %w", err)
	}
	return got, nil
}

// ReleaseLeases gives back holder's leases of ids.
func (s *Store) ReleaseLeases(ctx context.Context, holder string, ids []int64) error {
	return s.tx(ctx, func(t *sql.Tx) error {
		for _, id := range ids {
			if _, err := t.ExecContext(ctx, `DELETE FROM sync_lease WHERE endpoint_id = ? AND holder = ?`, id, holder); err != nil {
				return fmt.Errorf("release sync lease: %w", err)
			}
		}
		return nil
	})
}
