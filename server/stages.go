package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	gosync "sync"
	"time"

	"github.com/labstack/echo/v4"

	pbsync "github.com/proxbox/proxbox/sync"
)

// StageParams are the plugin's per-stage query parameters that tune the
// engine; nil pointers keep the appliance's defaults.
type StageParams struct {
	AgentInterfaceNames    *bool
	IgnoreIPv6LinkLocal    *bool
	PrimaryIP              string
	DeleteMissingBackups   *bool
	DeleteMissingSnapshots *bool
	FetchConcurrency       int
	NetBoxVMIDs            []int64
}

// StageRequest asks the sync runner for one run.
type StageRequest struct {
	EndpointIDs []int64 // store ids; empty: all
	Stages      []pbsync.Stage
	Params      StageParams
	Trigger     string
	// Job marks a stage of the plugin's multi-stage job: reads may be
	// shared through the cache and a recent Proxmox snapshot.
	Job    bool
	DryRun bool
}

// Syncer runs syncs for the stage streams (the syncrun package, wired in
// cmd/proxbox). events is called for every engine event; it must not block.
type Syncer interface {
	Sync(ctx context.Context, req StageRequest, events func(pbsync.Event)) (*pbsync.Summary, error)
}

// stageRoute is one of the plugin's stage stream paths.
type stageRoute struct {
	path  string
	step  string // the "step" name the Python service used
	stage string // our engine's stage (sync.ParseStage)
}

// stageRoutes are the plugin's 12 stage streams in its order (with the
// newer plugin's SDN stage), then the 4 per-VM variants (contract 2.5).
var stageRoutes = []stageRoute{
	{"/dcim/devices/create/stream", "devices", "devices"},
	{"/virtualization/virtual-machines/storage/create/stream", "storage", "storage"},
	{"/virtualization/virtual-machines/create/stream", "virtual-machines", "virtual-machines"},
	{"/virtualization/virtual-machines/task-history/create/stream", "task-history", "task-history"},
	{"/virtualization/virtual-machines/virtual-disks/create/stream", "virtual-disks", "vm-disks"},
	{"/virtualization/virtual-machines/backups/all/create/stream", "backups", "vm-backups"},
	{"/virtualization/virtual-machines/snapshots/all/create/stream", "snapshots", "vm-snapshots"},
	{"/dcim/devices/interfaces/create/stream", "node-interfaces", "network-interfaces"},
	{"/virtualization/virtual-machines/interfaces/create/stream", "vm-interfaces", "vm-interfaces"},
	{"/virtualization/virtual-machines/interfaces/ip-address/create/stream", "vm-ip-addresses", "ip-addresses"},
	// The newer plugin's optional SDN stage (v0.0.24, off unless the operator
	// sets sync_mode_sdn; sync_types.py@fed47142): proxbox does not sync SDN,
	// so it answers the plugin's skip (ok:true, result.skipped), which the
	// plugin records like its own mode skips (sync_stages.py@fed47142).
	{"/proxmox/sdn/create/stream", "sdn", "sdn"},
	{"/proxmox/replication/stream", "replications", "replications"},
	{"/proxmox/cluster/backup/stream", "backup-routines", "backup-routines"},
	{"/virtualization/virtual-machines/:vm_id/create/stream", "virtual-machine", "virtual-machines"},
	{"/virtualization/virtual-machines/:vm_id/virtual-disks/create/stream", "virtual-disks", "vm-disks"},
	{"/virtualization/virtual-machines/:vm_id/backups/create/stream", "backups", "vm-backups"},
	{"/virtualization/virtual-machines/:vm_id/snapshots/create/stream", "snapshots", "vm-snapshots"},
}

// FullUpdateStages is the order of /full-update: every stage of the plugin.
var FullUpdateStages = []string{"devices", "storage", "virtual-machines", "vm-disks", "task-history", "vm-backups", "vm-snapshots",
	"network-interfaces", "vm-interfaces", "ip-addresses", "replications", "backup-routines"}

func (s *Server) stageRoutes() {
	if s.opt.Sync == nil {
		return
	}
	for _, r := range stageRoutes {
		s.e.GET(r.path, s.stageStream(r))
	}
	s.e.GET("/full-update", s.fullUpdate)
	s.e.GET("/full-update/stream", s.fullUpdateStream)
	s.individualRoutes()
	s.watchRoutes()
	s.e.GET("/ws", s.legacyWS)
}

var nbTag = regexp.MustCompile(`\(nb:(\d+)\)\s*$`)

// endpointIDs reads proxmox_endpoint_ids. With pluginPKs (plugin v0.0.12's
// stage streams) they are the plugin's NetBox pks, which it also writes into
// the endpoint names as "(nb:<pk>)", mapped to store ids; ids that match no
// name are taken as store ids. Without, they are store ids first: the
// newer plugin resolves them from GET /proxmox/endpoints before it sends
// them (sync_stages.py@fed47142); a number that is no store id but an
// "(nb:<pk>)" is still mapped.
func (s *Server) endpointIDs(ctx context.Context, raw string, pluginPKs bool) ([]int64, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	eps, err := s.store.ProxmoxEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	byPK := map[int64]int64{}
	storeIDs := map[int64]bool{}
	for _, e := range eps {
		storeIDs[e.ID] = true
		if m := nbTag.FindStringSubmatch(e.Name); m != nil {
			pk, _ := strconv.ParseInt(m[1], 10, 64)
			byPK[pk] = e.ID
		}
	}
	var out []int64
	for _, p := range strings.Split(raw, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil {
			return nil, fail(http.StatusBadRequest, "Invalid Proxmox endpoint_ids query parameter.")
		}
		if id, ok := byPK[n]; ok && (pluginPKs || !storeIDs[n]) {
			n = id
		}
		out = append(out, n)
	}
	return out, nil
}

// stageParams reads the plugin's query parameters; unknown ones are
// ignored and booleans are case-insensitive ("True").
func stageParams(c echo.Context) StageParams {
	var p StageParams
	optBool := func(name string) *bool {
		v := c.QueryParam(name)
		if v == "" {
			return nil
		}
		b, err := parseBoolLoose(v)
		if err != nil {
			return nil
		}
		return &b
	}
	p.AgentInterfaceNames = optBool("use_guest_agent_interface_name")
	p.IgnoreIPv6LinkLocal = optBool("ignore_ipv6_link_local_addresses")
	p.DeleteMissingBackups = optBool("delete_nonexistent_backup")
	p.DeleteMissingSnapshots = optBool("delete_nonexistent_snapshot")
	if v := strings.ToLower(c.QueryParam("primary_ip_preference")); v == "ipv4" || v == "ipv6" {
		p.PrimaryIP = v
	}
	if n, err := strconv.Atoi(c.QueryParam("fetch_max_concurrency")); err == nil && n >= 1 && n <= 64 {
		p.FetchConcurrency = n
	}
	for _, v := range strings.Split(c.QueryParam("netbox_vm_ids"), ",") {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			p.NetBoxVMIDs = append(p.NetBoxVMIDs, n)
		}
	}
	if id, err := strconv.ParseInt(c.Param("vm_id"), 10, 64); err == nil {
		p.NetBoxVMIDs = append(p.NetBoxVMIDs, id)
	}
	return p
}

func parseBoolLoose(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", v)
}

// stageStream runs one stage and streams it in the plugin's vocabulary.
func (s *Server) stageStream(r stageRoute) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		ids, err := s.syncTargets(c)
		if err != nil {
			return err
		}
		params := stageParams(c)
		sse := s.startSSE(c)
		st := &stageStreamer{sse: sse, step: r.step, started: time.Now()}
		stop := keepalive(sse)
		defer stop()
		st.send("step", map[string]any{"step": r.step, "status": "started", "message": fmt.Sprintf("Starting %s synchronization.", r.step)})

		stage, perr := pbsync.ParseStage(r.stage)
		if perr != nil {
			// A plugin stage this build does not sync: an honest skip, not a failure.
			msg := fmt.Sprintf("%s is not synced by this proxbox build; stage skipped.", r.step)
			st.send("phase_summary", map[string]any{"event": "phase_summary", "phase": r.step, "status": "completed", "message": msg,
				"result": map[string]int{"created": 0, "updated": 0, "deleted": 0, "failed": 0, "skipped": 0, "total": 0}})
			st.send("step", map[string]any{"step": r.step, "status": "completed", "message": msg, "result": map[string]int{"count": 0}})
			st.send("complete", map[string]any{"ok": true, "message": msg, "result": map[string]any{"count": 0, "skipped": true, "reason": msg}})
			return nil
		}
		sum, err := s.opt.Sync.Sync(ctx, StageRequest{EndpointIDs: ids, Stages: []pbsync.Stage{stage}, Params: params, Trigger: "plugin", Job: true}, st.event)
		st.finish(r.step, sum, err, ctx.Err())
		return nil
	}
}

// newerPlugin reports whether a stage request comes from the newer plugin
// (v0.0.24), which sends proxbox's own endpoint ids: its base query always
// carries vm_interface_sync_strategy and parse_description_metadata, which
// v0.0.12 never sends.
func newerPlugin(c echo.Context) bool {
	q := c.QueryParams()
	return q.Has("vm_interface_sync_strategy") || q.Has("parse_description_metadata")
}

// syncTargets reads the endpoint selection and refuses, before anything is
// streamed, when nothing can sync.
func (s *Server) syncTargets(c echo.Context) ([]int64, error) {
	ids, err := s.endpointIDs(c.Request().Context(), c.QueryParam("proxmox_endpoint_ids"), !newerPlugin(c))
	if err != nil {
		return nil, err
	}
	return ids, s.syncPreflight(c.Request().Context())
}

// syncPreflight refuses before streaming when nothing can sync: the plugin
// treats a 4xx as a job error, which is what a missing endpoint is.
func (s *Server) syncPreflight(ctx context.Context) error {
	nbs, err := s.store.NetBoxEndpoints(ctx)
	if err != nil {
		return err
	}
	if len(nbs) == 0 {
		return &apiError{Status: http.StatusBadRequest, Message: "No NetBox endpoint found", Detail: "Please add a NetBox endpoint in the database"}
	}
	pxs, err := s.store.ProxmoxEndpoints(ctx)
	if err != nil {
		return err
	}
	if len(pxs) == 0 {
		return &apiError{Status: http.StatusBadRequest, Message: "No Proxmox endpoint found", Detail: "Please add a Proxmox endpoint with POST /proxmox/endpoints"}
	}
	return nil
}

// keepalive sends a comment whenever the stream is silent for the
// keepalive interval; the returned func stops it.
func keepalive(sse *SSE) func() {
	done := make(chan struct{})
	var once gosync.Once
	go func() {
		t := time.NewTicker(sse.quiet / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if sse.Keepalive() != nil {
					return
				}
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// stageStreamer translates engine events into the plugin's frames.
type stageStreamer struct {
	sse     *SSE
	step    string
	started time.Time
	mu      gosync.Mutex
	items   int
	stageAt map[pbsync.Stage]time.Time
}

func (st *stageStreamer) send(event string, data any) { _ = st.sse.Send(event, data) }

func (st *stageStreamer) event(e pbsync.Event) {
	phase := st.step
	if e.Stage != "" && e.Stage != "prelude" {
		phase = string(e.Stage)
	}
	switch e.Type {
	case pbsync.EventRunStarted:
		st.send("substep", map[string]any{"event": "substep", "phase": phase, "substep": "read_proxmox", "status": "started",
			"message": "Reading Proxmox endpoint " + e.Endpoint, "item": map[string]any{"name": e.Endpoint}})
	case pbsync.EventStageStarted:
		st.mu.Lock()
		if st.stageAt == nil {
			st.stageAt = map[pbsync.Stage]time.Time{}
		}
		st.stageAt[e.Stage] = e.Time
		st.mu.Unlock()
		st.send("substep", map[string]any{"event": "substep", "phase": phase, "substep": string(e.Stage), "status": "started",
			"message": fmt.Sprintf("%s: %s", e.Endpoint, e.Stage)})
	case pbsync.EventItem:
		if e.Change == nil {
			return
		}
		st.mu.Lock()
		st.items++
		n := st.items
		st.mu.Unlock()
		ch := e.Change
		op, status := string(ch.Op), "completed"
		switch ch.Op {
		case pbsync.OpCreate:
			op = "created"
		case pbsync.OpUpdate:
			op = "updated"
		case pbsync.OpDelete:
			op = "deleted"
		case pbsync.OpSkip:
			op = "skipped"
		case pbsync.OpOrphan:
			op = "updated"
		}
		frame := map[string]any{"event": "item_progress", "phase": phase, "status": status, "operation": op,
			"message":  fmt.Sprintf("%s %s", strings.TrimSuffix(op, "d")+"d", ch.Label),
			"item":     map[string]any{"name": ch.Label, "item_type": pbsync.TypeName(ch.Model), "netbox_id": nilIfZero(ch.ID)},
			"progress": map[string]any{"current": n, "total": 0, "percent": 0.0}}
		if ch.Error != "" {
			frame["status"], frame["operation"], frame["error"] = "failed", "failed", ch.Error
			frame["message"] = fmt.Sprintf("%s failed: %s", ch.Label, ch.Error)
		}
		st.send("item_progress", frame)
	case pbsync.EventWarning:
		st.send("item_progress", map[string]any{"event": "item_progress", "phase": phase, "status": "completed", "operation": "skipped",
			"message": e.Message, "item": map[string]any{"name": orUnknown(e.Object)}, "warning": e.Message})
	case pbsync.EventError:
		st.send("error_detail", map[string]any{"event": "error_detail", "phase": phase, "item": map[string]any{"name": orUnknown(e.Object)},
			"category": errorCategory(e.Message), "message": "Failed " + orUnknown(e.Object), "detail": e.Message,
			"suggestion": suggestion(e.Message)})
	case pbsync.EventStageFinished:
		var res = map[string]int{"created": 0, "updated": 0, "deleted": 0, "failed": 0, "skipped": 0, "total": 0}
		for _, c := range e.Counts {
			res["created"] += c.Created
			res["updated"] += c.Updated + c.Orphaned
			res["deleted"] += c.Deleted
			res["failed"] += c.Failed
			res["skipped"] += c.Skipped
			res["total"] += c.Created + c.Updated + c.Orphaned + c.Deleted + c.Failed + c.Skipped + c.Unchanged
		}
		status := "completed"
		if res["failed"] > 0 {
			status = "completed_with_errors"
		}
		st.mu.Lock()
		startedAt := st.stageAt[e.Stage]
		st.mu.Unlock()
		st.send("phase_summary", map[string]any{"event": "phase_summary", "phase": phase, "status": status,
			"message": fmt.Sprintf("%s: %d created, %d updated, %d deleted, %d failed, %d unchanged", e.Stage, res["created"], res["updated"], res["deleted"], res["failed"],
				res["total"]-res["created"]-res["updated"]-res["deleted"]-res["failed"]-res["skipped"]),
			"result": res, "timing": map[string]int64{"elapsed_ms": e.Time.Sub(startedAt).Milliseconds()}})
	}
}

// finish writes the stage's closing frames; complete is always last.
func (st *stageStreamer) finish(step string, sum *pbsync.Summary, err, ctxErr error) {
	if ctxErr != nil {
		return // the client is gone; nothing can be written
	}
	if err != nil {
		st.send("error", map[string]any{"step": step, "status": "failed", "error": err.Error(), "detail": err.Error()})
		st.send("complete", map[string]any{"ok": false, "message": step + " sync failed.", "errors": []map[string]string{{"detail": err.Error()}}})
		return
	}
	count := 0
	for _, c := range sum.Objects {
		count += c.Created + c.Updated + c.Unchanged + c.Orphaned
	}
	result := map[string]any{"count": count, "objects": sum.Objects, "netbox": sum.NetBox, "proxmox": sum.Proxmox, "duration_ms": sum.DurationMS,
		"partial": sum.Partial, "warnings": len(sum.Warnings)}
	if !sum.OK && !sum.Partial {
		detail := strings.Join(sum.Errors, "; ")
		if detail == "" {
			detail = step + " sync failed"
		}
		st.send("error", map[string]any{"step": step, "status": "failed", "error": detail, "detail": detail})
		errs := make([]map[string]string, 0, len(sum.Errors))
		for _, e := range sum.Errors {
			errs = append(errs, map[string]string{"detail": e})
		}
		st.send("complete", map[string]any{"ok": false, "message": step + " sync failed.", "result": result, "errors": errs})
		return
	}
	st.send("step", map[string]any{"step": step, "status": "completed", "message": step + " synchronization finished.", "result": map[string]int{"count": count}})
	msg := step + " sync completed."
	if sum.Partial {
		msg = fmt.Sprintf("%s sync completed with %d error(s); the other objects were synced.", step, len(sum.Errors))
	}
	errs := make([]map[string]string, 0, len(sum.Errors))
	for _, e := range sum.Errors {
		errs = append(errs, map[string]string{"detail": e})
	}
	st.send("complete", map[string]any{"ok": true, "message": msg, "result": result, "errors": errs})
}

func nilIfZero(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// errorCategory sorts an error text into the plugin's categories.
func errorCategory(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "401") || strings.Contains(m, "unauthor") || strings.Contains(m, "token"):
		return "authentication"
	case strings.Contains(m, "403") || strings.Contains(m, "permission"):
		return "permission"
	case strings.Contains(m, "404") || strings.Contains(m, "not found"):
		return "not_found"
	case strings.Contains(m, "429") || strings.Contains(m, "rate"):
		return "rate_limit"
	case strings.Contains(m, "timeout") || strings.Contains(m, "deadline"):
		return "timeout"
	case strings.Contains(m, "connection") || strings.Contains(m, "refused") || strings.Contains(m, "unreachable"):
		return "connection"
	case strings.Contains(m, "400") || strings.Contains(m, "invalid") || strings.Contains(m, "must") || strings.Contains(m, "unique"):
		return "validation"
	}
	return "unknown"
}

func suggestion(msg string) string {
	switch errorCategory(msg) {
	case "authentication":
		return "Check the endpoint's token or password."
	case "connection", "timeout":
		return "Check that the endpoint is reachable from the proxbox host."
	case "validation":
		return "NetBox refused the object; fix the conflicting object in NetBox or in Proxmox."
	}
	return ""
}

// fullUpdate runs every stage once (one Proxmox read per endpoint) and
// answers JSON.
func (s *Server) fullUpdate(c echo.Context) error {
	LiftWriteDeadline(c.Response().Writer) // answered when the sync ends
	ctx := c.Request().Context()
	ids, err := s.syncTargets(c)
	if err != nil {
		return err
	}
	sum, err := s.opt.Sync.Sync(ctx, StageRequest{EndpointIDs: ids, Stages: knownStages(FullUpdateStages), Params: stageParams(c), Trigger: "plugin"}, nil)
	if err != nil {
		return &apiError{Status: http.StatusBadRequest, Message: "Full update failed", Detail: err.Error()}
	}
	status := "completed"
	if !sum.OK {
		status = "completed_with_errors"
		if !sum.Partial {
			status = "failed"
		}
	}
	return writeFullUpdate(c, fullUpdateJSON{Status: status, OK: sum.OK || sum.Partial, Summary: sum})
}

// writeFullUpdate answers the bytes c.JSON would (json.Marshal of r and a newline) with the
// summary's plan written one change at a time (Summary.WriteJSON): a 100,000-guest first run's
// plan is about 467 MB of JSON, which encoding/json would hold twice (Plan.MarshalJSON's
// bytes and its compacted copy) on top of the run.
func writeFullUpdate(c echo.Context, r fullUpdateJSON) error {
	head, err := json.Marshal(fullUpdateJSON{Status: r.Status, OK: r.OK})
	if err != nil {
		return err
	}
	const tail = `,"summary":null}`
	if !bytes.HasSuffix(head, []byte(tail)) {
		return fmt.Errorf("full update JSON: unexpected shape %s", head)
	}
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	c.Response().WriteHeader(http.StatusOK)
	w := bufio.NewWriterSize(c.Response(), 64<<10)
	w.Write(head[:len(head)-len(tail)])
	w.WriteString(`,"summary":`)
	if r.Summary == nil {
		w.WriteString("null")
	} else if err := r.Summary.WriteJSON(w); err != nil {
		return err // the status line is out: the client sees a cut body
	}
	w.WriteString("}\n")
	return w.Flush()
}

// fullUpdateStream is /full-update as a stream.
func (s *Server) fullUpdateStream(c echo.Context) error {
	ctx := c.Request().Context()
	ids, err := s.syncTargets(c)
	if err != nil {
		return err
	}
	sse := s.startSSE(c)
	stop := keepalive(sse)
	defer stop()
	opID := fmt.Sprintf("full-%d", time.Now().UnixNano())
	_ = sse.Send("step", map[string]any{"step": "stream", "status": "started", "message": "Full update stream connected (operation_id=" + opID + ")"})
	items := make([]map[string]string, 0, len(FullUpdateStages))
	for _, n := range FullUpdateStages {
		items = append(items, map[string]string{"name": n, "type": "stage"})
	}
	_ = sse.Send("discovery", map[string]any{"event": "discovery", "phase": "full-update", "status": "discovered",
		"message": fmt.Sprintf("Discovered %d sync stage(s) for full update", len(items)), "count": len(items), "items": items,
		"progress": map[string]any{"current": 0, "total": len(items), "percent": 0}, "metadata": map[string]string{"operation_id": opID}})
	st := &stageStreamer{sse: sse, step: "full-update", started: time.Now()}
	sum, err := s.opt.Sync.Sync(ctx, StageRequest{EndpointIDs: ids, Stages: knownStages(FullUpdateStages), Params: stageParams(c), Trigger: "plugin"}, st.event)
	st.finish("full-update", sum, err, ctx.Err())
	return nil
}

// knownStages keeps the stages this build syncs.
func knownStages(names []string) []pbsync.Stage {
	var out []pbsync.Stage
	seen := map[pbsync.Stage]bool{}
	for _, n := range names {
		if st, err := pbsync.ParseStage(n); err == nil && !seen[st] {
			seen[st] = true
			out = append(out, st)
		}
	}
	return out
}
