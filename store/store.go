// Package store owns the appliance's embedded SQLite database: endpoints,
// API keys, auth lockouts, sync runs, log entries and settings, with the
// versioned migrations that shape them and the encryption of credentials at
// rest. It is the only package that writes SQL. It must not make network
// calls or know about HTTP.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// ErrNotFound is returned when a row asked for by id does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write would break a uniqueness rule.
var ErrConflict = errors.New("conflict")

// Store is the appliance's database. All methods are safe for concurrent use.
type Store struct {
	w   *sql.DB // the single writer connection
	r   *sql.DB // readers (WAL lets them run beside the writer)
	box *secretBox
	log *slog.Logger

	keyMu   sync.Mutex
	keyMemo map[[32]byte]int64 // sha256(raw key) -> key id, for keys verified since the last key change
	pepper  []byte             // HMAC-SHA256 key of the API key index
	keyCost int
	// bcryptCompares counts key comparisons (tests of the cost per request).
	bcryptCompares atomic.Int64
	// keyChanged is closed (and replaced) at every key change.
	keyChanged chan struct{}

	logCap int
	path   string
}

// Options tunes Open. The zero value is usable.
type Options struct {
	// EncryptionKey encrypts credentials. Empty: a random key is generated
	// once into <dir>/secret.key (mode 0600) and reused.
	EncryptionKey string
	// Logger receives store warnings. Nil discards them.
	Logger *slog.Logger
	// LogCapacity bounds the log ring (default 10000 entries).
	LogCapacity int
	// KeyCost is the bcrypt cost of new API key hashes (default 11; tests
	// of other packages lower it to bcrypt.MinCost to run fast).
	KeyCost int
	// upTo stops migrations at this version (tests of upgrades). 0 = all.
	upTo int
}

// DBFile is the database file name inside the data directory.
const DBFile = "proxbox.db"

// Open opens (creating when missing) the store in dir, runs pending
// migrations and returns it ready for use.
func Open(ctx context.Context, dir string, opt Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	logger := opt.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	path := filepath.Join(dir, DBFile)
	// synchronous(FULL): a committed transaction is on disk before Commit
	// returns, so neither kill -9 nor power loss loses it.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate"
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	s := &Store{w: w, r: r, log: logger, keyMemo: map[[32]byte]int64{}, logCap: opt.LogCapacity, path: path}
	s.keyCost = opt.KeyCost
	if s.keyCost <= 0 {
		s.keyCost = keyCost
	}
	if s.logCap <= 0 {
		s.logCap = 10000
	}
	if err := s.migrate(ctx, opt.upTo); err != nil {
		s.Close()
		return nil, err
	}
	if opt.upTo > 0 && opt.upTo < metaVersion && opt.EncryptionKey != "" {
		// A store as a binary from before store_meta left it: SHA-256 of the passphrase (upgrade tests).
		s.box, err = newSecretBox(sha256Key(opt.EncryptionKey))
	} else {
		err = s.openBox(ctx, dir, opt.EncryptionKey)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	if opt.upTo == 0 || opt.upTo >= metaVersion {
		if err := s.loadPepper(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	// The WAL and SHM files hold database pages too: 0600 like the
	// database, whatever the process umask (serve sets 077).
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && (p == path || !errors.Is(err, fs.ErrNotExist)) {
			s.Close()
			return nil, fmt.Errorf("restrict %s: %w", p, err)
		}
	}
	return s, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.r.PingContext(ctx)
}

// tx runs fn in one write transaction.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	t, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(t); err != nil {
		t.Rollback()
		return err
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
