package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// LeaseHolder is the process that holds a sync lease: an id unique to the
// process, and the host identity and pid it runs under, so another process
// on the same host can tell that the holder died (kill -9) and take the
// lease at once instead of waiting for it to expire.
type LeaseHolder struct {
	ID   string
	Host string // host identity (empty: unknown, never judged dead)
	PID  int
}

// AcquireLeases takes the sync leases of every endpoint in ids for holder
// until now+ttl, all or none, in one transaction. A lease held by another
// holder that has not expired makes it return false (and take nothing); an
// expired one is taken over. Holding the leases already renews them.
func (s *Store) AcquireLeases(ctx context.Context, holder string, ids []int64, now time.Time, ttl time.Duration) (bool, error) {
	ok, _, err := s.AcquireLeasesAs(ctx, LeaseHolder{ID: holder}, ids, now, ttl, nil)
	return ok, err
}

// AcquireLeasesAs is AcquireLeases with the holder's host and pid recorded.
// A lease held by another holder is also taken over when dead (may be nil)
// reports that holder gone. When the leases are held elsewhere, blocker is
// the holder found.
func (s *Store) AcquireLeasesAs(ctx context.Context, h LeaseHolder, ids []int64, now time.Time, ttl time.Duration, dead func(LeaseHolder) bool) (ok bool, blocker LeaseHolder, err error) {
	err = s.tx(ctx, func(t *sql.Tx) error {
		for _, id := range ids {
			var o LeaseHolder
			var exp int64
			err := t.QueryRowContext(ctx, `SELECT holder, host, pid, expires_at FROM sync_lease WHERE endpoint_id = ?`, id).Scan(&o.ID, &o.Host, &o.PID, &exp)
			if err == nil && o.ID != h.ID && exp > now.UnixMilli() {
				if dead != nil && o.Host != "" && dead(o) {
					s.log.Info("sync lease taken over from a process that is gone", "endpoint_id", id, "holder_host", o.Host, "holder_pid", o.PID)
					continue
				}
				blocker = o
				return nil // held elsewhere: roll nothing in
			}
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		for _, id := range ids {
			if _, err := t.ExecContext(ctx, `INSERT INTO sync_lease(endpoint_id, holder, host, pid, expires_at) VALUES (?,?,?,?,?)
				ON CONFLICT(endpoint_id) DO UPDATE SET holder = excluded.holder, host = excluded.host, pid = excluded.pid, expires_at = excluded.expires_at`,
				id, h.ID, h.Host, h.PID, now.Add(ttl).UnixMilli()); err != nil {
				return err
			}
		}
		ok = true
		return nil
	})
	if err != nil {
		return false, LeaseHolder{}, fmt.Errorf("acquire sync leases: %w", err)
	}
	return ok, blocker, nil
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
