package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Run is one sync run.
type Run struct {
	ID         int64
	StartedAt  time.Time
	FinishedAt time.Time // zero while running
	Trigger    string    // schedule | plugin | dashboard | cli
	Scope      string
	Status     string // running | ok | partial | failed | cancelled
	DryRun     bool
	Summary    json.RawMessage
	Error      string
	Stages     []StageResult
}

// StageResult is the outcome of one stage of a run.
type StageResult struct {
	Stage      string
	StartedAt  time.Time
	FinishedAt time.Time
	OK         bool
	Counts     json.RawMessage
	Errors     json.RawMessage
}

// StartRun records a run that has just started and returns its id.
func (s *Store) StartRun(ctx context.Context, r Run) (int64, error) {
	var id int64
	err := s.tx(ctx, func(t *sql.Tx) error {
		res, err := t.ExecContext(ctx, `INSERT INTO sync_run(started_at, trigger, scope, status, dry_run) VALUES (?,?,?,?,?)`,
			r.StartedAt.UnixMilli(), r.Trigger, r.Scope, "running", r.DryRun)
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("start run: %w", err)
	}
	return id, nil
}

// AddStageResult appends a stage outcome to run id.
func (s *Store) AddStageResult(ctx context.Context, runID int64, st StageResult) error {
	err := s.tx(ctx, func(t *sql.Tx) error {
		_, err := t.ExecContext(ctx, `INSERT INTO sync_stage(run_id, stage, started_at, finished_at, ok, counts, errors) VALUES (?,?,?,?,?,?,?)`,
			runID, st.Stage, st.StartedAt.UnixMilli(), st.FinishedAt.UnixMilli(), st.OK, jsonOr(st.Counts, "{}"), jsonOr(st.Errors, "[]"))
		return err
	})
	if err != nil {
		return fmt.Errorf("add stage result: %w", err)
	}
	return nil
}

// FinishRun records the end of run id.
func (s *Store) FinishRun(ctx context.Context, id int64, finished time.Time, status string, summary json.RawMessage, errText string) error {
	err := s.tx(ctx, func(t *sql.Tx) error {
		res, err := t.ExecContext(ctx, `UPDATE sync_run SET finished_at = ?, status = ?, summary = ?, error = ? WHERE id = ?`,
			finished.UnixMilli(), status, jsonOr(summary, "{}"), errText, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("finish run %d: %w", id, err)
	}
	return nil
}

// Runs returns the newest runs with their stages, newest first.
func (s *Store) Runs(ctx context.Context, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, started_at, finished_at, trigger, scope, status, dry_run, summary, error FROM sync_run ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var out []Run
	index := map[int64]int{}
	for rows.Next() {
		var r Run
		var started int64
		var finished sql.NullInt64
		var summary string
		if err := rows.Scan(&r.ID, &started, &finished, &r.Trigger, &r.Scope, &r.Status, &r.DryRun, &summary, &r.Error); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list runs: %w", err)
		}
		r.StartedAt = time.UnixMilli(started).UTC()
		if finished.Valid {
			r.FinishedAt = time.UnixMilli(finished.Int64).UTC()
		}
		r.Summary = json.RawMessage(summary)
		index[r.ID] = len(out)
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	srows, err := s.r.QueryContext(ctx, `SELECT run_id, stage, started_at, finished_at, ok, counts, errors FROM sync_stage WHERE run_id >= ? ORDER BY id`, out[len(out)-1].ID)
	if err != nil {
		return nil, fmt.Errorf("list stages: %w", err)
	}
	defer srows.Close()
	for srows.Next() {
		var runID, started, finished int64
		var st StageResult
		var counts, errs string
		if err := srows.Scan(&runID, &st.Stage, &started, &finished, &st.OK, &counts, &errs); err != nil {
			return nil, fmt.Errorf("list stages: %w", err)
		}
		i, ok := index[runID]
		if !ok {
			continue
		}
		st.StartedAt, st.FinishedAt = time.UnixMilli(started).UTC(), time.UnixMilli(finished).UTC()
		st.Counts, st.Errors = json.RawMessage(counts), json.RawMessage(errs)
		out[i].Stages = append(out[i].Stages, st)
	}
	return out, srows.Err()
}

// Run returns one run with its stages.
func (s *Store) Run(ctx context.Context, id int64) (Run, error) {
	var r Run
	var started int64
	var finished sql.NullInt64
	var summary string
	err := s.r.QueryRowContext(ctx, `SELECT id, started_at, finished_at, trigger, scope, status, dry_run, summary, error FROM sync_run WHERE id = ?`, id).
		Scan(&r.ID, &started, &finished, &r.Trigger, &r.Scope, &r.Status, &r.DryRun, &summary, &r.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, ErrNotFound
	}
	if err != nil {
		return Run{}, fmt.Errorf("read run %d: %w", id, err)
	}
	r.StartedAt = time.UnixMilli(started).UTC()
	if finished.Valid {
		r.FinishedAt = time.UnixMilli(finished.Int64).UTC()
	}
	r.Summary = json.RawMessage(summary)
	rows, err := s.r.QueryContext(ctx, `SELECT stage, started_at, finished_at, ok, counts, errors FROM sync_stage WHERE run_id = ? ORDER BY id`, id)
	if err != nil {
		return Run{}, fmt.Errorf("read stages of run %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var st StageResult
		var s0, s1 int64
		var counts, errs string
		if err := rows.Scan(&st.Stage, &s0, &s1, &st.OK, &counts, &errs); err != nil {
			return Run{}, fmt.Errorf("read stages of run %d: %w", id, err)
		}
		st.StartedAt, st.FinishedAt = time.UnixMilli(s0).UTC(), time.UnixMilli(s1).UTC()
		st.Counts, st.Errors = json.RawMessage(counts), json.RawMessage(errs)
		r.Stages = append(r.Stages, st)
	}
	return r, rows.Err()
}

// SaveRunChanges stores the full change list of run id (a JSON array, count elements),
// compressed, for a run whose summary lists only some changes. A second call replaces it.
func (s *Store) SaveRunChanges(ctx context.Context, id int64, count int, changes json.RawMessage) error {
	return s.SaveRunChangesFrom(ctx, id, count, func(w io.Writer) error {
		_, err := w.Write(changes)
		return err
	})
}

// SaveRunChangesFrom is SaveRunChanges with the JSON array written by write, compressed as
// it is written: the whole text is never held at once.
func (s *Store) SaveRunChangesFrom(ctx context.Context, id int64, count int, write func(io.Writer) error) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := write(zw); err != nil {
		return fmt.Errorf("save changes of run %d: %w", id, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("save changes of run %d: %w", id, err)
	}
	err := s.tx(ctx, func(t *sql.Tx) error {
		_, err := t.ExecContext(ctx, `INSERT INTO sync_run_changes(run_id, count, body) VALUES (?,?,?)
			ON CONFLICT(run_id) DO UPDATE SET count = excluded.count, body = excluded.body`, id, count, buf.Bytes())
		return err
	})
	if err != nil {
		return fmt.Errorf("save changes of run %d: %w", id, err)
	}
	return nil
}

// RunChanges returns the full change list stored for run id by SaveRunChanges (a JSON
// array), or ErrNotFound when none was stored (the summary's plan is then complete). It
// holds the whole text: readers of a large run's list use RunChangesReader or EachRunChange.
func (s *Store) RunChanges(ctx context.Context, id int64) (json.RawMessage, error) {
	rc, err := s.RunChangesReader(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read changes of run %d: %w", id, err)
	}
	return raw, nil
}

// RunChangesReader reads the full change list stored for run id (the JSON array
// SaveRunChanges took), decompressing as it is read: only the compressed list is held
// (about a tenth of the text; a 100,000-guest first run stores some 467 MB of JSON). It
// returns ErrNotFound when none was stored (the summary's plan is then complete).
func (s *Store) RunChangesReader(ctx context.Context, id int64) (io.ReadCloser, error) {
	var body []byte
	err := s.r.QueryRowContext(ctx, `SELECT body FROM sync_run_changes WHERE run_id = ?`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read changes of run %d: %w", id, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("read changes of run %d: %w", id, err)
	}
	return zr, nil
}

// EachRunChange calls f with each element of the change list stored for run id, decoded
// into a fresh T one at a time as the list is decompressed: the list is never held whole.
// An error of f or ctx's end stops the reading and is returned wrapped; ErrNotFound when
// none was stored.
func EachRunChange[T any](ctx context.Context, s *Store, id int64, f func(*T) error) error {
	rc, err := s.RunChangesReader(ctx, id)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := eachElement(ctx, rc, f); err != nil {
		return fmt.Errorf("read changes of run %d: %w", id, err)
	}
	return nil
}

// eachElement decodes the JSON array (or null) r holds one element at a time, checking
// ctx every 1,024 elements.
func eachElement[T any](ctx context.Context, r io.Reader, f func(*T) error) error {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return err // null: no changes
	}
	if tok != json.Delim('[') {
		return fmt.Errorf("not a JSON array: %v", tok)
	}
	for i := 0; dec.More(); i++ {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var x T
		if err := dec.Decode(&x); err != nil {
			return err
		}
		if err := f(&x); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	return err
}

// PruneRuns deletes the oldest finished runs (with their stages and change lists) until
// the history takes at most maxBytes (summary, error, stage results and compressed change
// list, as stored). The newest finished run and running runs are always kept. It returns
// how many runs it deleted; maxBytes <= 0 keeps everything.
func (s *Store) PruneRuns(ctx context.Context, maxBytes int64) (int64, error) {
	if maxBytes <= 0 {
		return 0, nil
	}
	var deleted int64
	err := s.tx(ctx, func(t *sql.Tx) error {
		rows, err := t.QueryContext(ctx, `SELECT r.id, length(r.summary) + length(r.error)
			+ coalesce((SELECT sum(length(counts) + length(errors) + length(stage)) FROM sync_stage WHERE run_id = r.id), 0)
			+ coalesce((SELECT length(body) FROM sync_run_changes WHERE run_id = r.id), 0)
			FROM sync_run r WHERE r.status <> 'running' ORDER BY r.id DESC`)
		if err != nil {
			return err
		}
		var total int64
		var cut int64 // delete finished runs with id <= cut
		first := true
		for rows.Next() {
			var id, size int64
			if err := rows.Scan(&id, &size); err != nil {
				rows.Close()
				return err
			}
			total += size
			if total > maxBytes && !first {
				cut = id
				break
			}
			first = false
		}
		rows.Close()
		if err := rows.Err(); err != nil || cut == 0 {
			return err
		}
		for _, q := range []string{
			`DELETE FROM sync_run_changes WHERE run_id IN (SELECT id FROM sync_run WHERE id <= ? AND status <> 'running')`,
			`DELETE FROM sync_stage WHERE run_id IN (SELECT id FROM sync_run WHERE id <= ? AND status <> 'running')`,
		} {
			if _, err := t.ExecContext(ctx, q, cut); err != nil {
				return err
			}
		}
		res, err := t.ExecContext(ctx, `DELETE FROM sync_run WHERE id <= ? AND status <> 'running'`, cut)
		if err != nil {
			return err
		}
		deleted, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune runs: %w", err)
	}
	return deleted, nil
}

// MarkInterruptedRuns marks runs left "running" by a previous process as
// failed; call at start-up.
func (s *Store) MarkInterruptedRuns(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE sync_run SET status = 'failed', finished_at = ?, error = 'interrupted: the appliance stopped during the run' WHERE status = 'running'`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("mark interrupted runs: %w", err)
	}
	return res.RowsAffected()
}

func jsonOr(b json.RawMessage, def string) string {
	if len(b) == 0 || !json.Valid(b) {
		return def
	}
	return string(b)
}
