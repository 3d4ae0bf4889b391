package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
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
	runs, err := s.Runs(ctx, 1<<20)
	if err != nil {
		return Run{}, err
	}
	for _, r := range runs {
		if r.ID == id {
			return r, nil
		}
	}
	return Run{}, ErrNotFound
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
