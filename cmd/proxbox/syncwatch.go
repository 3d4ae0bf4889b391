package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	gosync "sync"
	"time"

	"github.com/proxbox/proxbox/config"
	pbsync "github.com/proxbox/proxbox/sync"
	"github.com/proxbox/proxbox/watch"
)

// watchLine is one line of `proxbox sync --watch --json`: the run's
// summary (the shape of --once) plus what triggered it.
type watchLine struct {
	*pbsync.Summary
	Trigger  string   `json:"trigger"`
	Endpoint string   `json:"endpoint"`
	Full     bool     `json:"full"`
	Changes  []string `json:"changes"`
	DelayMS  int64    `json:"delay_ms"`
}

// watchSync runs the watch over eps until ctx ends (Ctrl-C), printing one
// line per applied change set.
func watchSync(ctx context.Context, cfg config.Config, eps []watch.Endpoint, apply watch.Apply, log *slog.Logger, stdout io.Writer, asJSON bool) error {
	resync := cfg.SyncInterval
	if resync <= 0 {
		resync = -1
	}
	var mu gosync.Mutex
	w, err := watch.New(watch.Config{Interval: cfg.WatchInterval, Resync: resync, Apply: apply, Logger: log,
		Applied: func(b watch.Batch, s *pbsync.Summary, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			line := watchLine{Summary: s, Trigger: "watch", Endpoint: b.Endpoint.Label(), Full: b.Full, Changes: b.Changes.Objects, DelayMS: d.Milliseconds()}
			if line.Changes == nil {
				line.Changes = []string{}
			}
			if asJSON {
				out, _ := json.Marshal(line)
				fmt.Fprintln(stdout, string(out))
				return
			}
			fmt.Fprintf(stdout, "%s %s: %v; NetBox %d requests, %d writes; Proxmox %d requests; %d ms after the change\n",
				time.Now().Format(time.TimeOnly), line.Endpoint, line.Changes, s.NetBox.Requests, s.NetBox.Writes, s.Proxmox.Requests, line.DelayMS)
		}})
	if err != nil {
		return err
	}
	w.Run(ctx, eps)
	return nil
}

// inlineApply applies the batches of inline endpoints one at a time with
// one engine State (inline mode has no other writer). after, when not nil,
// runs after every batch (the --state file is saved there).
func inlineApply(eng *pbsync.Engine, opt pbsync.Options, eps []watch.Endpoint, after func()) watch.Apply {
	var mu gosync.Mutex
	opt.State = pbsync.NewState()
	return func(ctx context.Context, b watch.Batch) (*pbsync.Summary, error) {
		mu.Lock()
		defer mu.Unlock()
		o := opt
		o.ReservedLabels = nil
		for _, e := range eps {
			if l := e.Label(); l != b.Endpoint.Label() {
				o.ReservedLabels = append(o.ReservedLabels, l)
			}
		}
		sum := eng.SyncSnapshot(ctx, b.Snapshot, o)
		if after != nil {
			after()
		}
		return sum, nil
	}
}
