package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// LogEntry is one stored log record.
type LogEntry struct {
	ID          int64
	Time        time.Time
	Level       string // DEBUG | INFO | WARNING | ERROR
	Module      string
	Message     string
	OperationID string
	Attrs       json.RawMessage
}

// LogFilter selects log entries; zero fields do not filter.
type LogFilter struct {
	Levels      []string // exact levels
	Text        string   // substring of the message
	OperationID string
	Since       time.Time
	NewerThanID int64
	OlderThanID int64
	Limit       int
}

// AppendLogs stores entries and trims the ring to its capacity, in one
// transaction.
func (s *Store) AppendLogs(ctx context.Context, entries []LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return s.tx(ctx, func(t *sql.Tx) error {
		stmt, err := t.PrepareContext(ctx, `INSERT INTO log_entry(ts, level, module, message, operation_id, attrs) VALUES (?,?,?,?,?,?)`)
		if err != nil {
			return fmt.Errorf("append logs: %w", err)
		}
		defer stmt.Close()
		var last int64
		for _, e := range entries {
			res, err := stmt.ExecContext(ctx, e.Time.UnixMilli(), e.Level, e.Module, e.Message, e.OperationID, jsonOr(e.Attrs, "{}"))
			if err != nil {
				return fmt.Errorf("append logs: %w", err)
			}
			last, _ = res.LastInsertId()
		}
		if _, err := t.ExecContext(ctx, `DELETE FROM log_entry WHERE id <= ?`, last-int64(s.logCap)); err != nil {
			return fmt.Errorf("trim logs: %w", err)
		}
		return nil
	})
}

// Logs returns entries matching f, newest first, and the total that match.
func (s *Store) Logs(ctx context.Context, f LogFilter) ([]LogEntry, int, error) {
	var where []string
	var args []any
	if len(f.Levels) > 0 {
		where = append(where, "level IN (?"+strings.Repeat(",?", len(f.Levels)-1)+")")
		for _, l := range f.Levels {
			args = append(args, l)
		}
	}
	if f.Text != "" {
		where = append(where, "instr(lower(message), lower(?)) > 0")
		args = append(args, f.Text)
	}
	if f.OperationID != "" {
		where = append(where, "operation_id = ?")
		args = append(args, f.OperationID)
	}
	if !f.Since.IsZero() {
		where = append(where, "ts >= ?")
		args = append(args, f.Since.UnixMilli())
	}
	if f.NewerThanID > 0 {
		where = append(where, "id > ?")
		args = append(args, f.NewerThanID)
	}
	if f.OlderThanID > 0 {
		where = append(where, "id < ?")
		args = append(args, f.OlderThanID)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM log_entry`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count logs: %w", err)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, ts, level, module, message, operation_id, attrs FROM log_entry`+cond+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list logs: %w", err)
	}
	defer rows.Close()
	var out []LogEntry
	for rows.Next() {
		var e LogEntry
		var ts int64
		var attrs string
		if err := rows.Scan(&e.ID, &ts, &e.Level, &e.Module, &e.Message, &e.OperationID, &attrs); err != nil {
			return nil, 0, fmt.Errorf("list logs: %w", err)
		}
		e.Time, e.Attrs = time.UnixMilli(ts).UTC(), json.RawMessage(attrs)
		out = append(out, e)
	}
	return out, total, rows.Err()
}
