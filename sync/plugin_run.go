package sync

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"time"
)

// mapPluginObjects finds this endpoint's plugin endpoint, maps the
// snapshot's plugin objects and notes what loadPlugin and pluginReady need
// of the snapshot (each part's read state and size, the oldest task), so
// that the snapshot can be released before NetBox's current state is loaded
// (the run's memory peak).
func (r *run) mapPluginObjects() {
	s := r.snap
	r.parts = map[Stage]partInfo{
		StageStorage:        {s.Read.Storage, len(s.Storage)},
		StageBackups:        {s.Read.Backups, len(s.Backups)},
		StageSnapshots:      {s.Read.Snapshots, len(s.Snapshots)},
		StageTaskHistory:    {s.Read.Tasks, len(s.Tasks)},
		StageReplications:   {s.Read.Replications, len(s.Replications)},
		StageBackupRoutines: {s.Read.BackupJobs, len(s.BackupJobs)},
	}
	if len(s.Tasks) > 0 {
		oldest := s.Tasks[0].Started
		for _, t := range s.Tasks {
			if t.Started.Before(oldest) {
				oldest = t.Started
			}
		}
		r.oldestTask = oldest
	}
	if !r.ps.installed || r.ps.err != "" {
		return
	}
	r.pc = pluginCtx{endpoint: PluginEndpointID(s.Endpoint, r.ps.endpoints)}
	mapPlugin(r.d, s, r.pc)
	mapPluginRows(r.d, s, r.pc)
}

// partInfo is what the snapshot held of one plugin stage's part.
type partInfo struct {
	complete bool // read completely
	n        int  // items
}

// loadPlugin loads the current plugin objects of the stages that run (each
// model once per Run, unscoped: rows are keyed through their VM or cluster,
// so other endpoints' rows never match); mapPluginObjects ran before it.
func (r *run) loadPlugin(ctx context.Context) error {
	if !r.ps.installed || r.ps.err != "" {
		return nil
	}
	runs := r.opt.runs
	if r.warm {
		return nil
	}
	if err := r.loadPluginRows(ctx); err != nil {
		return err
	}
	loads := []struct {
		need  bool
		model string
		q     url.Values
	}{
		{runs(StageStorage) || runs(StageBackups) || runs(StageBackupRoutines), ModelStorage, url.Values{}},
		{runs(StageBackups), ModelBackup, url.Values{}},
		{runs(StageSnapshots), ModelSnapshot, url.Values{}},
		{runs(StageReplications), ModelReplication, url.Values{}},
		{runs(StageBackupRoutines), ModelBackupRoutine, url.Values{}},
	}
	for _, l := range loads {
		if !l.need {
			continue
		}
		if err := r.once(l.model, func() error { return r.load(ctx, l.model, l.q) }); err != nil {
			return err
		}
	}
	// Task history grows forever: only rows as recent as the oldest task read
	// are compared (per endpoint; a NetBox that ignores the filter returns more).
	if runs(StageTaskHistory) && r.parts[StageTaskHistory].n > 0 {
		since := r.oldestTask.Add(-24 * time.Hour).UTC().Format(time.RFC3339)
		if err := r.load(ctx, ModelTaskHistory, url.Values{"start_time__gte": {since}}); err != nil {
			return err
		}
	}
	return nil
}

// part says whether the snapshot's part for a plugin stage was read
// completely, and how many items it holds.
func (r *run) part(st Stage) (complete bool, n int) {
	p := r.parts[st]
	return p.complete, p.n
}

// pluginReady reports whether a plugin stage can run; when not, it says why
// (a warning: plugin absent, nothing read, no plugin endpoint; an error: the
// plugin could not be read).
func (r *run) pluginReady(st Stage) bool {
	obj := string(st)
	switch {
	case r.ps.err != "":
		r.rep.fail("netbox-proxbox", r.ps.err)
		return false
	case !r.ps.installed:
		r.rep.warn(obj, SkippedNoPlugin)
		return false
	}
	complete, n := r.part(st)
	if !complete && n == 0 {
		r.rep.warn(obj, "skipped: not read from Proxmox (not requested, or the read failed)")
		return false
	}
	if st == StageBackupRoutines && r.pc.endpoint == 0 {
		r.rep.warn(obj, fmt.Sprintf("skipped: no netbox-proxbox Proxmox endpoint matches endpoint %q (by its \"(nb:<pk>)\" name or its host)", r.d.Endpoint))
		return false
	}
	return true
}

var disappearing = map[Stage]string{StageBackups: ModelBackup, StageSnapshots: ModelSnapshot,
	StageReplications: ModelReplication, StageBackupRoutines: ModelBackupRoutine}

// disappeared handles the plugin objects of this endpoint that Proxmox no
// longer lists: backups and snapshots are deleted when the caller asks
// (DeleteNonexistentBackup/Snapshot), else a backup is tagged proxbox-orphan
// and a snapshot gets status stale; replications and backup routines get
// status stale. Nothing happens when the part was not read completely.
func (r *run) disappeared(ctx context.Context, st Stage) {
	model := disappearing[st]
	if model == "" {
		return
	}
	if complete, _ := r.part(st); !complete {
		r.rep.warn(string(st), "the Proxmox read was incomplete: nothing marked stale or deleted")
		return
	}
	del := (model == ModelBackup && r.opt.DeleteNonexistentBackup) || (model == ModelSnapshot && r.opt.DeleteNonexistentSnapshot)
	cur := r.index(model)
	keys := make([]string, 0, len(cur))
	for k := range cur {
		if r.d.Get(model, k) == nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	orphanTag, _ := idOf(r.index(ModelTag)[TagOrphan]["id"])
	var patches []map[string]any
	var pKeys, dKeys []string
	var dels []int64
	for _, k := range keys {
		o := cur[k]
		id := mustID(o["id"])
		if del {
			dels = append(dels, id)
			dKeys = append(dKeys, k)
			continue
		}
		want := Resolved{Fields: map[string]any{"status": "stale"}}
		if model == ModelBackup { // no status field
			want = Resolved{Fields: map[string]any{}, Tags: []int64{orphanTag}}
		}
		patch, _ := Diff(want, o)
		if patch == nil {
			r.rep.record(Change{Op: OpOrphan, Model: model, Key: k, Label: TypeName(model) + " " + k, ID: id, Reason: "already stale"})
			continue
		}
		patch["id"] = id
		patches = append(patches, patch)
		pKeys = append(pKeys, k)
	}
	r.writeGone(ctx, model, patches, pKeys, "gone from Proxmox: marked stale", dels, dKeys, "gone from Proxmox")
}

// batched sends backup writes in requests of BackupBatchSize objects, with at
// least BackupBatchDelay between the end of one backup write request and the
// start of the next (also across creates, updates and deletes of a run).
func (r *run) batched(ctx context.Context, n int, write func(lo, hi int) []WriteResult) []WriteResult {
	size, delay := r.opt.BackupBatchSize, r.opt.BackupBatchDelay
	if size <= 0 {
		size = n
	}
	out := make([]WriteResult, 0, n)
	for lo := 0; lo < n; lo += size {
		hi := min(n, lo+size)
		if delay > 0 && !r.lastBackupWrite.IsZero() {
			if wait := delay - time.Since(r.lastBackupWrite); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					for i := lo; i < n; i++ {
						out = append(out, WriteResult{Index: i, Err: fmt.Errorf("backup batch delay: %w", ctx.Err())})
					}
					return out
				}
			}
		}
		res := write(lo, hi)
		r.lastBackupWrite = time.Now()
		for _, w := range res {
			w.Index += lo
			out = append(out, w)
		}
	}
	return out
}
