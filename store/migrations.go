package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order; each runs once, in its own transaction.
// Never edit a released migration: add a new one.
var migrations = []string{
	// 1: endpoints, API keys, auth lockouts.
	`CREATE TABLE netbox_endpoint (
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		ip_address TEXT NOT NULL,
		domain TEXT NOT NULL DEFAULT '',
		port INTEGER NOT NULL DEFAULT 443,
		token_version TEXT NOT NULL DEFAULT 'v1',
		token_enc TEXT NOT NULL DEFAULT '',
		token_key_enc TEXT NOT NULL DEFAULT '',
		verify_ssl INTEGER NOT NULL DEFAULT 1,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL
	);
	CREATE TABLE proxmox_endpoint (
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL UNIQUE,
		ip_address TEXT NOT NULL,
		domain TEXT NOT NULL DEFAULT '',
		port INTEGER NOT NULL DEFAULT 8006,
		username TEXT NOT NULL,
		password_enc TEXT NOT NULL DEFAULT '',
		verify_ssl INTEGER NOT NULL DEFAULT 1,
		token_name TEXT NOT NULL DEFAULT '',
		token_value_enc TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL
	);
	CREATE TABLE api_key (
		id INTEGER PRIMARY KEY,
		label TEXT NOT NULL DEFAULT '',
		key_hash TEXT NOT NULL,
		is_active INTEGER NOT NULL DEFAULT 1,
		created_at INTEGER NOT NULL
	);
	CREATE TABLE auth_lockout (
		client TEXT PRIMARY KEY,
		attempts INTEGER NOT NULL,
		first_attempt INTEGER NOT NULL
	);`,
	// 2: sync runs and their stage results; Proxmox endpoint tuning pushed by newer plugins.
	`CREATE TABLE sync_run (
		id INTEGER PRIMARY KEY,
		started_at INTEGER NOT NULL,
		finished_at INTEGER,
		trigger TEXT NOT NULL,
		scope TEXT NOT NULL DEFAULT '',
		status TEXT NOT NULL DEFAULT 'running',
		dry_run INTEGER NOT NULL DEFAULT 0,
		summary TEXT NOT NULL DEFAULT '{}',
		error TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX sync_run_started ON sync_run(started_at DESC);
	CREATE TABLE sync_stage (
		id INTEGER PRIMARY KEY,
		run_id INTEGER NOT NULL REFERENCES sync_run(id) ON DELETE CASCADE,
		stage TEXT NOT NULL,
		started_at INTEGER NOT NULL,
		finished_at INTEGER NOT NULL,
		ok INTEGER NOT NULL,
		counts TEXT NOT NULL DEFAULT '{}',
		errors TEXT NOT NULL DEFAULT '[]'
	);
	CREATE INDEX sync_stage_run ON sync_stage(run_id);
	ALTER TABLE proxmox_endpoint ADD COLUMN timeout_seconds INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE proxmox_endpoint ADD COLUMN max_retries INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE proxmox_endpoint ADD COLUMN retry_backoff REAL NOT NULL DEFAULT 0;`,
	// 3: the log ring and settings.
	`CREATE TABLE log_entry (
		id INTEGER PRIMARY KEY,
		ts INTEGER NOT NULL,
		level TEXT NOT NULL,
		module TEXT NOT NULL DEFAULT '',
		message TEXT NOT NULL,
		operation_id TEXT NOT NULL DEFAULT '',
		attrs TEXT NOT NULL DEFAULT '{}'
	);
	CREATE INDEX log_entry_level ON log_entry(level, id);
	CREATE TABLE setting (
		key TEXT PRIMARY KEY,
		value TEXT NOT NULL,
		updated_at INTEGER NOT NULL
	);`,
	// 4: sync leases, so two processes on one data dir (serve and a
	// `sync --once` cron job) never sync the same endpoint at once.
	`CREATE TABLE sync_lease (
		endpoint_id INTEGER PRIMARY KEY,
		holder TEXT NOT NULL,
		expires_at INTEGER NOT NULL
	);`,
	// 5: every Proxmox endpoint's immutable key, its identity in NetBox
	// (sync.EndpointLabel). Existing rows get the label they had so far
	// ("nb:<pk>" for a name the plugin pushed as "<name> (nb:<pk>)", else the
	// trimmed name, else the host), so their NetBox objects stay theirs; a
	// row whose key another row took first gets "#<id>" appended.
	`ALTER TABLE proxmox_endpoint ADD COLUMN endpoint_key TEXT NOT NULL DEFAULT '';
	UPDATE proxmox_endpoint SET endpoint_key = CASE
		WHEN rtrim(name) GLOB '*(nb:[0-9]*)' THEN substr(rtrim(name), instr(rtrim(name), '(nb:') + 1, length(rtrim(name)) - instr(rtrim(name), '(nb:') - 1)
		WHEN trim(name) <> '' THEN trim(name)
		WHEN trim(domain) <> '' THEN trim(domain)
		WHEN trim(ip_address) <> '' THEN trim(ip_address)
		ELSE 'endpoint-' || id END;
	UPDATE proxmox_endpoint SET endpoint_key = endpoint_key || '#' || id WHERE EXISTS (
		SELECT 1 FROM proxmox_endpoint p WHERE p.endpoint_key = proxmox_endpoint.endpoint_key AND p.id < proxmox_endpoint.id);
	CREATE UNIQUE INDEX proxmox_endpoint_key ON proxmox_endpoint(endpoint_key);`,
	// 6: the full change list of a run whose stored summary is bounded
	// (gzip-compressed JSON array), apart from the summary so listing runs
	// never reads it.
	`CREATE TABLE sync_run_changes (
		run_id INTEGER PRIMARY KEY REFERENCES sync_run(id) ON DELETE CASCADE,
		count INTEGER NOT NULL,
		body BLOB NOT NULL
	);`,
	// 7: an HMAC-SHA256 index of each API key (so a key is checked against
	// one bcrypt hash, not all of them; keys from before are indexed at
	// their first use), store metadata (the index key, the KDF salt), and the
	// lease holder's host and pid (a dead holder is detected at once).
	`ALTER TABLE api_key ADD COLUMN key_index TEXT;
	CREATE INDEX api_key_index ON api_key(key_index);
	CREATE TABLE store_meta (
		key TEXT PRIMARY KEY,
		value TEXT NOT NULL
	);
	ALTER TABLE sync_lease ADD COLUMN host TEXT NOT NULL DEFAULT '';
	ALTER TABLE sync_lease ADD COLUMN pid INTEGER NOT NULL DEFAULT 0;`,
}

// SchemaVersion is the version a fully migrated store has.
func SchemaVersion() int { return len(migrations) }

func (s *Store) migrate(ctx context.Context, upTo int) error {
	if upTo <= 0 || upTo > len(migrations) {
		upTo = len(migrations)
	}
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	current, err := s.Version(ctx)
	if err != nil {
		return err
	}
	if current > len(migrations) {
		return fmt.Errorf("migrate: database schema version %d is newer than this binary knows (%d); use a newer proxbox", current, len(migrations))
	}
	for v := current + 1; v <= upTo; v++ {
		err := s.tx(ctx, func(t *sql.Tx) error {
			if _, err := t.ExecContext(ctx, migrations[v-1]); err != nil {
				return err
			}
			if _, err := t.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
				return err
			}
			_, err := t.ExecContext(ctx, `INSERT INTO schema_version(version) VALUES (?)`, v)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
		s.log.Info("store migrated", "version", v)
	}
	return nil
}

// Version returns the schema version of the open database.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.w.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}
