// Package syncrun runs syncs for the appliance: it turns the stored
// endpoints into engine targets and clients, makes sure one endpoint is
// never synced by two runs at once, records each run and its stage results
// in the store, counts them in the metrics, and fans the engine's events out
// to whoever watches (SSE streams, the dashboard). It must not know HTTP
// routes or render anything; the sync rules themselves live in sync/.
package syncrun

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"time"

	"github.com/proxbox/proxbox/egress"
	"github.com/proxbox/proxbox/inventory"
	"github.com/proxbox/proxbox/metrics"
	"github.com/proxbox/proxbox/netbox"
	"github.com/proxbox/proxbox/netbox/getcache"
	"github.com/proxbox/proxbox/proxmox"
	"github.com/proxbox/proxbox/store"
	pbsync "github.com/proxbox/proxbox/sync"
	"github.com/proxbox/proxbox/sync/nbadapter"
)

// Triggers name who started a run.
const (
	TriggerPlugin    = "plugin"
	TriggerDashboard = "dashboard"
	TriggerCLI       = "cli"
	TriggerSchedule  = "schedule"
	TriggerWatch     = "watch"
)

// ErrNoNetBox is returned when no NetBox endpoint is configured.
var ErrNoNetBox = errors.New("no NetBox endpoint configured: push one with POST /netbox/endpoint")

// ErrNoProxmox is returned when no Proxmox endpoint matches the request.
var ErrNoProxmox = errors.New("no Proxmox endpoint configured: push one with POST /proxmox/endpoints")

// Request describes one run.
type Request struct {
	// EndpointIDs selects Proxmox endpoints by store id; empty: all.
	EndpointIDs []int64
	// Stages to run; empty: all.
	Stages  []pbsync.Stage
	DryRun  bool
	Trigger string
	// Options are the engine options beyond stages and dry run (map
	// options from the plugin's query, orphan policy); zero values take the
	// environment's defaults given to New.
	Options *pbsync.Options
	// ReuseSnapshot lets a single-stage run reuse the Proxmox snapshot of
	// the job it belongs to (the previous run ended less than Config.JobGap
	// ago), so the plugin's 12 stage calls read Proxmox about once.
	ReuseSnapshot bool
	// FetchConcurrency overrides the Proxmox requests in flight per endpoint
	// (the plugin's fetch_max_concurrency); 0 keeps the configured value.
	FetchConcurrency int
	// Events receives the engine's events as they happen (besides the run's
	// own subscribers); it must not block.
	Events func(pbsync.Event)
	// Snapshots are ready-made snapshots by endpoint id (the watcher's):
	// those endpoints are not read.
	Snapshots map[int64]*inventory.Snapshot
	// State keeps NetBox's state between the runs of one caller (the
	// watcher; see sync.State). The Runner resets it when any other run, or
	// a change of NetBox endpoint, came in between.
	State *pbsync.State
}

// Config wires a Runner.
type Config struct {
	Store    *store.Store
	Cache    *getcache.Cache   // shared NetBox GET cache; nil: none
	Metrics  *metrics.Registry // nil: none
	Logger   *slog.Logger      // nil: discard
	Defaults pbsync.Options    // from the configuration (config.Config, cmd/proxbox syncDefaults)
	Version  string            // user agent of the NetBox client
	Proxmox  *proxmox.Pool     // nil: a private pool
	PVEConf  func(store.ProxmoxEndpoint) proxmox.Config
	// NetBox tunes the NetBox client (timeout, retries, batch size,
	// concurrency); zero fields take the client's defaults.
	NetBox NetBoxTuning
	// JobGap is the longest pause between two stage runs of the same job:
	// a stage that starts within JobGap of the previous run's end reuses
	// that job's Proxmox snapshot; default 30 s. SnapshotMaxAge bounds a
	// reused snapshot's age whatever the gaps; default 10 minutes.
	JobGap         time.Duration
	SnapshotMaxAge time.Duration
	// HistoryBytes caps the stored run history (summaries, stage results,
	// change lists): after each run the oldest runs beyond it are deleted
	// (store.PruneRuns). 0: DefaultHistoryBytes; negative: no cap.
	HistoryBytes int64
	// ChangesPerKind bounds the changes of one model a stored summary lists
	// (the rest are stored apart, see store.RunChanges); 0:
	// sync.StoredChangesPerModel.
	ChangesPerKind int
	// Egress checks every NetBox connection's address (nil: the default
	// policy, PROXBOX_ALLOWED_TARGETS unset).
	Egress *egress.Policy
}

// DefaultHistoryBytes is the default cap of the stored run history. A run
// stores a bounded summary (sync.Summary.Bounded: counts, some changes per
// kind, a few hundred KB at most) and, when that leaves changes out, the full
// change list compressed (about 1 MB for a 10,000-guest first run).
const DefaultHistoryBytes = 64 << 20

// NetBoxTuning is the part of the NetBox client's configuration that comes
// from the appliance's settings rather than from the endpoint.
type NetBoxTuning struct {
	Timeout     time.Duration
	MaxRetries  int // 0: the client's default; negative: none
	RetryBase   time.Duration
	BatchSize   int
	Concurrency int
}

// Runner runs syncs. It is safe for concurrent use.
type Runner struct {
	cfg Config
	log *slog.Logger

	locksMu gosync.Mutex
	locks   map[int64]*gosync.Mutex // per Proxmox endpoint

	mu     gosync.Mutex
	active map[int64]*Run
	last   map[int64]*Run // most recent finished run per trigger-agnostic id (kept for late watchers)
	nb     *nbClient
	snaps  map[int64]snapEntry
	// gen counts the runs that may have written (and NetBox client
	// changes): a State last used at another generation may be stale.
	gen      uint64
	stateGen map[*pbsync.State]uint64
	// watchState is WatchApply's, one for every watched endpoint (its shared models,
	// the proxbox-tagged children of all endpoints, held once); watchTurn lets one
	// watch run use it at a time.
	watchState *pbsync.State
	watchTurn  chan struct{}
	// refusals remembers NetBox's deterministic refusals (loadRefusals).
	refusals *pbsync.Refusals

	// stop is closed by Close: runs in progress are cancelled and no new
	// run starts; running counts the runs Close waits for.
	stop    chan struct{}
	closed  bool
	running gosync.WaitGroup
	// holder names this process in the store's sync leases, which keep a
	// second process on the same data dir (a `sync --once` cron job beside
	// `serve`) off the endpoints this one is syncing; with its host
	// identity and pid, so a holder killed with -9 is detected at once.
	holder store.LeaseHolder
}

// leaseTTL bounds a sync lease; a running sync renews it every third of it.
const leaseTTL = 2 * time.Minute

type snapEntry struct {
	snap     *inventory.Snapshot
	at       time.Time // read
	lastUsed time.Time // end of the last run that used it
}

type nbClient struct {
	sig    string
	client *netbox.Client
}

// New returns a Runner.
func New(cfg Config) *Runner {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Proxmox == nil {
		cfg.Proxmox = proxmox.NewPool()
	}
	if cfg.JobGap <= 0 {
		cfg.JobGap = 30 * time.Second
	}
	if cfg.SnapshotMaxAge <= 0 {
		cfg.SnapshotMaxAge = 10 * time.Minute
	}
	return &Runner{cfg: cfg, log: cfg.Logger.With("module", "sync"), locks: map[int64]*gosync.Mutex{}, active: map[int64]*Run{}, last: map[int64]*Run{},
		snaps: map[int64]snapEntry{}, stateGen: map[*pbsync.State]uint64{}, stop: make(chan struct{}), holder: newHolder(),
		watchState: pbsync.NewState(), watchTurn: make(chan struct{}, 1)}
}

func newHolder() store.LeaseHolder {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return store.LeaseHolder{ID: fmt.Sprintf("pid-%d-%x", os.Getpid(), b), Host: hostIdentity(), PID: os.Getpid()}
}

// ErrClosed is returned for runs asked for after Close.
var ErrClosed = errors.New("the appliance is shutting down")

// Close cancels the runs in progress, refuses new ones, and waits (at most
// until ctx ends) for them to record their outcome. Call it before closing
// the store.
func (rn *Runner) Close(ctx context.Context) error {
	rn.mu.Lock()
	if !rn.closed {
		rn.closed = true
		close(rn.stop)
	}
	rn.mu.Unlock()
	done := make(chan struct{})
	go func() { rn.running.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sync runs still stopping: %w", ctx.Err())
	}
}

// runContext is cancelled when parent ends, the run is cancelled, or the
// runner closes.
func (rn *Runner) runContext(parent context.Context, run *Run) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	go func() {
		select {
		case <-rn.stop:
			cancel()
		case <-ctx.Done():
		case <-run.done:
		}
	}()
	return ctx, cancel
}

// Run is one sync run in progress or finished.
type Run struct {
	ID      int64
	Request Request
	Started time.Time

	cancel context.CancelFunc
	mu     gosync.Mutex
	events []pbsync.Event
	subs   map[chan pbsync.Event]struct{}
	done   chan struct{}
	sum    *pbsync.Summary
	err    error
	// inv is what each endpoint's Proxmox read found, by endpoint label
	// (recorded with the summary; the dashboard's overview shows it).
	invMu gosync.Mutex
	inv   map[string]EndpointInventory
}

// EndpointInventory is what one endpoint's Proxmox read found: the run's
// stored summary carries it under "inventory", by endpoint label.
type EndpointInventory struct {
	Cluster    string `json:"cluster"`
	Standalone bool   `json:"standalone,omitempty"`
	Nodes      int    `json:"nodes"`
	VMs        int    `json:"vms"`        // QEMU guests, templates included
	Containers int    `json:"containers"` // LXC guests
	Templates  int    `json:"templates"`
	Backups    int    `json:"backups"`
	Complete   bool   `json:"complete"` // every read succeeded
}

func inventoryOf(s *inventory.Snapshot) EndpointInventory {
	inv := EndpointInventory{Cluster: s.Cluster.Name, Standalone: s.Cluster.Standalone, Nodes: len(s.Nodes), Backups: len(s.Backups), Complete: s.Complete()}
	for _, g := range s.Guests {
		if g.Type == inventory.LXC {
			inv.Containers++
		} else {
			inv.VMs++
		}
		if g.Template {
			inv.Templates++
		}
	}
	return inv
}

func (r *Run) noteInventory(label string, s *inventory.Snapshot) {
	r.invMu.Lock()
	defer r.invMu.Unlock()
	if r.inv == nil {
		r.inv = map[string]EndpointInventory{}
	}
	r.inv[label] = inventoryOf(s)
}

// maxBufferedEvents bounds the history a late watcher is replayed.
const maxBufferedEvents = 20000

func (r *Run) emit(e pbsync.Event) {
	r.mu.Lock()
	if len(r.events) < maxBufferedEvents {
		r.events = append(r.events, e)
	}
	for ch := range r.subs {
		select {
		case ch <- e:
		default: // a slow watcher misses events rather than stall the sync
		}
	}
	r.mu.Unlock()
}

// Watch returns the events so far followed by live ones; the channel is
// closed when the run ends. Call the returned func to stop watching.
func (r *Run) Watch() (<-chan pbsync.Event, func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan pbsync.Event, len(r.events)+1024)
	for _, e := range r.events {
		ch <- e
	}
	select {
	case <-r.done:
		close(ch)
		return ch, func() {}
	default:
	}
	r.subs[ch] = struct{}{}
	return ch, func() {
		r.mu.Lock()
		if _, ok := r.subs[ch]; ok {
			delete(r.subs, ch)
			close(ch)
		}
		r.mu.Unlock()
	}
}

// Done is closed when the run has finished.
func (r *Run) Done() <-chan struct{} { return r.done }

// Result returns the summary and error once Done is closed.
func (r *Run) Result() (*pbsync.Summary, error) {
	<-r.done
	return r.sum, r.err
}

// Cancel stops the run.
func (r *Run) Cancel() { r.cancel() }

// Active returns the runs in progress.
func (rn *Runner) Active() []*Run {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	out := make([]*Run, 0, len(rn.active))
	for _, r := range rn.active {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *Run) int { return int(a.ID - b.ID) })
	return out
}

// Lookup finds a run in progress or recently finished.
func (rn *Runner) Lookup(id int64) (*Run, bool) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if r, ok := rn.active[id]; ok {
		return r, true
	}
	r, ok := rn.last[id]
	return r, ok
}

// Start begins a run in the background and returns at once. The run stops
// when ctx ends or Cancel is called.
func (rn *Runner) Start(ctx context.Context, req Request) (*Run, error) {
	prep, err := rn.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-ctx.Done():
			cancelBase()
		case <-prep.run.done:
			cancelBase()
		}
	}()
	rctx, cancel := rn.runContext(base, prep.run)
	prep.run.cancel = cancel
	go rn.execute(rctx, prep)
	return prep.run, nil
}

// Do runs synchronously: it returns when the run is over. Cancelling ctx
// (a client that disconnects) stops the run cleanly.
func (rn *Runner) Do(ctx context.Context, req Request) (*Run, error) {
	prep, err := rn.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	rctx, cancel := rn.runContext(ctx, prep.run)
	defer cancel()
	prep.run.cancel = cancel
	rn.execute(rctx, prep)
	return prep.run, nil
}

type prepared struct {
	run     *Run
	nb      *netbox.Client
	targets []store.ProxmoxEndpoint
	opt     pbsync.Options
}

func (rn *Runner) prepare(ctx context.Context, req Request) (p *prepared, err error) {
	rn.mu.Lock()
	if rn.closed {
		rn.mu.Unlock()
		return nil, ErrClosed
	}
	rn.running.Add(1)
	rn.mu.Unlock()
	defer func() {
		if err != nil {
			rn.running.Done()
		}
	}()
	st := rn.cfg.Store
	nbs, err := st.NetBoxEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	if len(nbs) == 0 {
		return nil, ErrNoNetBox
	}
	nb, err := rn.netboxClient(nbs[0])
	if err != nil {
		return nil, fmt.Errorf("NetBox endpoint %q: %w", nbs[0].Name, err)
	}
	eps, err := st.ProxmoxEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	var reserved []string // labels of the endpoints this run leaves out
	if len(req.EndpointIDs) > 0 {
		for _, e := range eps {
			if !slices.Contains(req.EndpointIDs, e.ID) {
				reserved = append(reserved, Label(e))
			}
		}
		eps = slices.DeleteFunc(eps, func(e store.ProxmoxEndpoint) bool { return !slices.Contains(req.EndpointIDs, e.ID) })
	}
	if len(eps) == 0 {
		return nil, ErrNoProxmox
	}
	opt := rn.cfg.Defaults
	if req.Options != nil {
		opt = *req.Options
	}
	opt.ReservedLabels = append(slices.Clip(opt.ReservedLabels), reserved...)
	opt.Stages, opt.DryRun = req.Stages, req.DryRun
	if req.Trigger == "" {
		req.Trigger = TriggerCLI
	}
	ids := make([]string, len(eps))
	for i, e := range eps {
		ids[i] = strconv.FormatInt(e.ID, 10)
	}
	scope := "endpoints " + strings.Join(ids, ",")
	if len(req.Stages) > 0 {
		names := make([]string, len(req.Stages))
		for i, s := range req.Stages {
			names[i] = string(s)
		}
		scope += "; stages " + strings.Join(names, ",")
	}
	started := time.Now().UTC()
	id, err := st.StartRun(ctx, store.Run{StartedAt: started, Trigger: req.Trigger, Scope: scope, DryRun: req.DryRun})
	if err != nil {
		return nil, err
	}
	run := &Run{ID: id, Request: req, Started: started, subs: map[chan pbsync.Event]struct{}{}, done: make(chan struct{}), cancel: func() {}}
	rn.mu.Lock()
	rn.active[id] = run
	rn.mu.Unlock()
	return &prepared{run: run, nb: nb, targets: eps, opt: opt}, nil
}

// execute holds the endpoint locks (in id order, so two runs never
// deadlock), runs the engine and records the outcome.
func (rn *Runner) execute(ctx context.Context, p *prepared) {
	run := p.run
	log := rn.log.With("run_id", run.ID, "trigger", run.Request.Trigger)
	defer rn.running.Done()
	defer func() {
		close(run.done)
		run.mu.Lock()
		for ch := range run.subs {
			close(ch)
		}
		run.subs = map[chan pbsync.Event]struct{}{}
		run.mu.Unlock()
		rn.mu.Lock()
		delete(rn.active, run.ID)
		rn.last[run.ID] = run
		if len(rn.last) > 50 {
			oldest := int64(-1)
			for id := range rn.last {
				if oldest < 0 || id < oldest {
					oldest = id
				}
			}
			delete(rn.last, oldest)
		}
		rn.mu.Unlock()
	}()

	notify := func(e pbsync.Event) {
		run.emit(e)
		if run.Request.Events != nil {
			run.Request.Events(e)
		}
	}
	unlock, waited := rn.lockEndpoints(ctx, p.targets, func() {
		notify(pbsync.Event{Type: pbsync.EventWarning, Time: time.Now(), Message: "another sync of these endpoints is running; waiting for it to finish"})
	})
	if unlock == nil {
		rn.finish(run, nil, ctx.Err(), log)
		return
	}
	defer unlock()
	if waited {
		log.Info("sync waited for a concurrent run of the same endpoints")
	}
	release, err := rn.lease(ctx, p.targets, func(b store.LeaseHolder) {
		who := "another proxbox process"
		if b.PID > 0 {
			who = fmt.Sprintf("another proxbox process (pid %d)", b.PID)
		}
		notify(pbsync.Event{Type: pbsync.EventWarning, Time: time.Now(), Message: who + " is syncing these endpoints; waiting for it to finish (at most " + leaseTTL.String() + " if it died elsewhere)"})
	})
	if err != nil {
		rn.finish(run, nil, err, log)
		return
	}
	defer release()

	stageStart := map[pbsync.Stage]time.Time{}
	stageErrs := map[pbsync.Stage][]string{}
	opt := p.opt
	userEvents := opt.Events
	opt.Events = func(e pbsync.Event) {
		switch e.Type {
		case pbsync.EventStageStarted:
			stageStart[e.Stage] = e.Time
		case pbsync.EventStageFinished:
			rn.recordStage(run, e, stageStart[e.Stage], stageErrs[e.Stage])
			delete(stageErrs, e.Stage)
		case pbsync.EventError:
			stageErrs[e.Stage] = append(stageErrs[e.Stage], strings.TrimSpace(e.Object+" "+e.Message))
			log.Warn("sync error", "endpoint", e.Endpoint, "object", e.Object, "detail", e.Message)
		}
		run.emit(e)
		if userEvents != nil {
			userEvents(e)
		}
		if run.Request.Events != nil {
			run.Request.Events(e)
		}
	}

	rn.mu.Lock()
	gen := rn.gen
	if st := run.Request.State; st != nil && !opt.DryRun {
		if g, ok := rn.stateGen[st]; !ok || g != gen {
			st.Reset() // another run wrote in between: list NetBox again
		}
		opt.State = st
	}
	rn.mu.Unlock()
	defer func() {
		if opt.DryRun {
			return
		}
		rn.mu.Lock()
		defer rn.mu.Unlock()
		alone := opt.State != nil && rn.gen == gen // no other run ended meanwhile
		rn.gen++                                   // every other State may be stale now
		if alone {
			rn.stateGen[opt.State] = rn.gen
		}
	}()
	eng := nbadapter.Engine(p.nb)
	if run.Request.ReuseSnapshot {
		// A stage of a multi-stage job: NetBox reads may be served by the GET
		// cache, which every write through this client invalidates.
		eng.Fresh = nil
	}
	targets := make([]pbsync.Target, 0, len(p.targets))
	for _, ep := range p.targets {
		tg := rn.target(ep, run.Request, opt)
		read, label := tg.Read, pbsync.EndpointLabel(tg.Endpoint)
		tg.Read = func(ctx context.Context) (*inventory.Snapshot, error) {
			snap, err := read(ctx)
			if err == nil && snap != nil {
				run.noteInventory(label, snap)
			}
			return snap, err
		}
		targets = append(targets, tg)
	}
	log.Info("sync started", "scope", run.Request.Trigger, "endpoints", len(targets), "dry_run", opt.DryRun)
	if !opt.DryRun {
		opt.Refusals = rn.loadRefusals(ctx, log)
	}
	sum := eng.Run(ctx, targets, opt)
	if opt.Refusals != nil {
		if err := rn.cfg.Store.SetSetting(ctx, refusalsKey, opt.Refusals); err != nil {
			log.Warn("save refused writes", "err", err)
		}
	}
	rn.mu.Lock()
	for _, ep := range p.targets {
		if e, ok := rn.snaps[ep.ID]; ok {
			e.lastUsed = time.Now()
			rn.snaps[ep.ID] = e
		}
	}
	rn.mu.Unlock()
	rn.finish(run, sum, ctx.Err(), log)
}

// refusalsKey is the store setting holding the writes NetBox refused
// deterministically (sync.Refusals), kept across runs and restarts.
const refusalsKey = "sync.refused_writes"

// loadRefusals returns the Runner's memory of refused writes, read from the
// store on first use (shared by the Runner's runs; sync.Refusals is safe for
// concurrent use).
func (rn *Runner) loadRefusals(ctx context.Context, log *slog.Logger) *pbsync.Refusals {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.refusals != nil {
		return rn.refusals
	}
	rf := pbsync.NewRefusals()
	if _, err := rn.cfg.Store.Setting(ctx, refusalsKey, rf); err != nil {
		log.Warn("read refused writes (starting afresh)", "err", err)
		rf = pbsync.NewRefusals()
	}
	rn.refusals = rf
	return rf
}

// target builds the engine target of one endpoint, reusing a recent
// snapshot when asked.
func (rn *Runner) target(ep store.ProxmoxEndpoint, req Request, opt pbsync.Options) pbsync.Target {
	reuse := req.ReuseSnapshot
	iep := endpointOf(ep)
	return pbsync.Target{Endpoint: iep, Read: func(ctx context.Context) (*inventory.Snapshot, error) {
		if snap, ok := req.Snapshots[ep.ID]; ok && snap != nil {
			return snap, nil
		}
		if reuse {
			rn.mu.Lock()
			e, ok := rn.snaps[ep.ID]
			rn.mu.Unlock()
			if ok && time.Since(e.at) < rn.cfg.SnapshotMaxAge && !e.lastUsed.IsZero() && time.Since(e.lastUsed) < rn.cfg.JobGap && e.snap.Complete() {
				reused := *e.snap
				reused.Requests = 0 // no Proxmox request was made for this run
				return &reused, nil
			}
		}
		pcfg := rn.cfg.PVEConf(ep)
		if req.FetchConcurrency > 0 {
			pcfg.Concurrency = req.FetchConcurrency
		}
		c, err := rn.cfg.Proxmox.Client(strconv.FormatInt(ep.ID, 10), pcfg)
		if err != nil {
			return nil, err
		}
		// A stage of a job reads everything once for the job's other stages.
		opts := ReadOptionsFor(opt)
		if reuse {
			opts = proxmox.FullReadOptions()
		}
		if pbsync.PluginAbsent(ctx) {
			opts = WithoutPluginReads(opts)
		}
		snap, err := c.Read(ctx, iep, opts)
		if fb, ok := FallbackToIP(pcfg, ep); ok && errors.Is(err, proxmox.ErrUnreachable) {
			// As proxbox-api did: the domain first, then the IP address.
			rn.log.Warn("Proxmox endpoint unreachable by name; trying its IP address", "endpoint", ep.Name, "err", err)
			fc, ferr := rn.cfg.Proxmox.Client(strconv.FormatInt(ep.ID, 10)+"/ip", fb)
			if ferr == nil {
				snap, err = fc.Read(ctx, iep, opts)
			}
		}
		if err == nil && snap != nil && reuse {
			rn.mu.Lock()
			rn.snaps[ep.ID] = snapEntry{snap: snap, at: time.Now()}
			rn.mu.Unlock()
		}
		return snap, err
	}}
}

// endpointOf is the engine's view of a stored endpoint.
func endpointOf(ep store.ProxmoxEndpoint) inventory.Endpoint {
	return inventory.Endpoint{ID: ep.ID, Name: ep.Name, Key: ep.Key, Host: hostOf(ep)}
}

// Label is a stored endpoint's identity in NetBox (sync.EndpointLabel): the
// value of the proxmox_endpoint custom field of its cluster.
func Label(ep store.ProxmoxEndpoint) string { return pbsync.EndpointLabel(endpointOf(ep)) }

func hostOf(ep store.ProxmoxEndpoint) string {
	if ep.Domain != "" {
		return ep.Domain
	}
	return ep.IPAddress
}

// lockEndpoints takes every endpoint's lock in id order. onWait is called
// once if any lock is held by another run. It returns nil when ctx ends
// first.
func (rn *Runner) lockEndpoints(ctx context.Context, eps []store.ProxmoxEndpoint, onWait func()) (unlock func(), waited bool) {
	ids := make([]int64, len(eps))
	for i, e := range eps {
		ids[i] = e.ID
	}
	slices.Sort(ids)
	var held []*gosync.Mutex
	release := func() {
		for i := len(held) - 1; i >= 0; i-- {
			held[i].Unlock()
		}
	}
	for _, id := range ids {
		rn.locksMu.Lock()
		m, ok := rn.locks[id]
		if !ok {
			m = &gosync.Mutex{}
			rn.locks[id] = m
		}
		rn.locksMu.Unlock()
		if m.TryLock() {
			held = append(held, m)
			continue
		}
		if !waited {
			waited = true
			onWait()
		}
		got := make(chan struct{})
		go func() { m.Lock(); close(got) }()
		select {
		case <-got:
			held = append(held, m)
		case <-ctx.Done():
			go func() { <-got; m.Unlock() }()
			release()
			return nil, waited
		}
	}
	return release, waited
}

func (rn *Runner) recordStage(run *Run, e pbsync.Event, started time.Time, errs []string) {
	counts, _ := json.Marshal(e.Counts)
	ok := len(errs) == 0
	for _, c := range e.Counts {
		if c.Failed > 0 {
			ok = false
		}
	}
	if errs == nil {
		errs = []string{}
	}
	errJSON, _ := json.Marshal(errs)
	if started.IsZero() {
		started = e.Time
	}
	stage := string(e.Stage)
	if e.Endpoint != "" {
		stage = e.Endpoint + ": " + stage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rn.cfg.Store.AddStageResult(ctx, run.ID, store.StageResult{Stage: stage, StartedAt: started, FinishedAt: e.Time, OK: ok, Counts: counts, Errors: errJSON}); err != nil {
		rn.log.Warn("record stage result", "run_id", run.ID, "err", err)
	}
	if rn.cfg.Metrics != nil {
		rn.cfg.Metrics.ObserveSyncRun(string(e.Stage), e.Time.Sub(started), ok)
	}
}

func (rn *Runner) finish(run *Run, sum *pbsync.Summary, ctxErr error, log *slog.Logger) {
	status, errText := "ok", ""
	switch {
	case sum == nil && ctxErr != nil && !errors.Is(ctxErr, context.Canceled) && !errors.Is(ctxErr, context.DeadlineExceeded):
		status, errText = "failed", ctxErr.Error()
	case sum == nil:
		status, errText = "cancelled", "cancelled before it started"
	case ctxErr != nil:
		status, errText = "cancelled", "cancelled: "+ctxErr.Error()
	case !sum.OK:
		status = "failed"
	case sum.Partial:
		status = "partial"
	}
	if sum != nil && len(sum.Errors) > 0 && errText == "" {
		errText = strings.Join(sum.Errors, "; ")
		if len(errText) > 4000 {
			errText = errText[:4000] + "…"
		}
	}
	var raw json.RawMessage
	var changes *pbsync.Plan
	nChanges := 0
	if sum != nil {
		// The stored summary is bounded; the full change list goes apart when
		// the bound left changes out (sync.Summary.Bounded documents the shape).
		perKind := rn.cfg.ChangesPerKind
		if perKind <= 0 {
			perKind = pbsync.StoredChangesPerModel
		}
		stored := sum.Bounded(perKind, pbsync.StoredMessages)
		run.invMu.Lock()
		raw, _ = json.Marshal(struct {
			*pbsync.Summary
			Inventory map[string]EndpointInventory `json:"inventory,omitempty"`
		}{stored, run.inv})
		run.invMu.Unlock()
		if stored.Plan != nil && len(stored.Plan.Omitted) > 0 {
			nChanges = sum.Plan.Len()
			changes = sum.Plan // every change, encoded as compressed one at a time (or one chunk of its log)
		}
		if rn.cfg.Metrics != nil {
			for typ, c := range sum.Objects {
				for outcome, n := range map[string]int{"created": c.Created, "updated": c.Updated, "unchanged": c.Unchanged, "orphaned": c.Orphaned, "deleted": c.Deleted, "failed": c.Failed, "skipped": c.Skipped} {
					if n > 0 {
						rn.cfg.Metrics.AddSyncObjects(typ, outcome, n)
					}
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rn.cfg.Store.FinishRun(ctx, run.ID, time.Now().UTC(), status, raw, errText); err != nil {
		log.Warn("record run", "err", err)
	}
	if changes != nil {
		if err := rn.cfg.Store.SaveRunChangesFrom(ctx, run.ID, nChanges, changes.WriteChangesJSON); err != nil {
			log.Warn("record run changes", "err", err)
		}
	}
	if limit := rn.cfg.HistoryBytes; limit >= 0 {
		if limit == 0 {
			limit = DefaultHistoryBytes
		}
		if n, err := rn.cfg.Store.PruneRuns(ctx, limit); err != nil {
			log.Warn("prune run history", "err", err)
		} else if n > 0 {
			log.Info("run history pruned", "runs_deleted", n, "cap_bytes", limit)
		}
	}
	run.sum = sum
	if ctxErr != nil {
		run.err = ctxErr
	}
	attrs := []any{"status", status}
	if sum != nil {
		attrs = append(attrs, "duration_ms", sum.DurationMS, "netbox_requests", sum.NetBox.Requests, "netbox_writes", sum.NetBox.Writes, "proxmox_requests", sum.Proxmox.Requests)
	}
	log.Info("sync finished", attrs...)
}

// netboxClient returns the client for the stored NetBox endpoint, rebuilt
// when the endpoint changes.
func (rn *Runner) netboxClient(ep store.NetBoxEndpoint) (*netbox.Client, error) {
	cfg := NetBoxConfig(ep)
	t := rn.cfg.NetBox
	cfg.Timeout, cfg.MaxRetries, cfg.RetryBase, cfg.BatchSize, cfg.Concurrency = t.Timeout, t.MaxRetries, t.RetryBase, t.BatchSize, t.Concurrency
	cfg.Cache = rn.cfg.Cache
	cfg.Version = rn.cfg.Version
	cfg.Logger = rn.log
	pol := rn.cfg.Egress
	if pol == nil {
		pol = &egress.Policy{}
	}
	cfg.Egress = pol
	base := &http.Transport{
		// No proxy: the dialled address is the endpoint's own, checked by the egress policy.
		DialContext:         pol.DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !ep.VerifySSL}, //nolint:gosec // the operator's verify_ssl=false
	}
	if rn.cfg.Metrics != nil {
		cfg.Transport = rn.cfg.Metrics.InstrumentTransport("netbox", base)
	} else {
		cfg.Transport = base
	}
	sig := fmt.Sprintf("%d|%s|%s|%s|%s|%v|%+v", ep.ID, cfg.URL, cfg.TokenVersion, cfg.Token, cfg.TokenKey, ep.VerifySSL, t)
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.nb != nil && rn.nb.sig == sig {
		return rn.nb.client, nil
	}
	c, err := netbox.New(cfg)
	if err != nil {
		return nil, err
	}
	rn.nb = &nbClient{sig: sig, client: c}
	rn.gen++ // another NetBox: every State is stale
	return c, nil
}

// NetBoxConfig maps a stored endpoint to the client's configuration. The
// URL follows the Python service: https when the port is 443 or verify_ssl
// is on, else http; the domain when set, else the IP address.
func NetBoxConfig(ep store.NetBoxEndpoint) netbox.Config {
	scheme := "http"
	if ep.Port == 443 || ep.VerifySSL {
		scheme = "https"
	}
	host := ep.Domain
	if host == "" {
		host = ep.IPAddress
	}
	return netbox.Config{
		URL:          scheme + "://" + net.JoinHostPort(host, strconv.Itoa(ep.Port)),
		TokenVersion: ep.TokenVersion,
		Token:        ep.Token.Reveal(),
		TokenKey:     ep.TokenKey.Reveal(),
		VerifySSL:    ep.VerifySSL,
	}
}

// ReadOptionsFor asks Proxmox for what the run's stages need: a full run
// reads everything; a single stage skips the per-guest reads it does not use
// (guest agents, snapshots, tasks, storage content).
func ReadOptionsFor(opt pbsync.Options) proxmox.ReadOptions {
	if len(opt.Stages) == 0 {
		return proxmox.FullReadOptions()
	}
	in := opt.Includes
	return proxmox.ReadOptions{
		GuestAgent:   in(pbsync.StageVMInterfaces) || in(pbsync.StageIPs),
		NodeNetworks: in(pbsync.StageNodeInterfaces),
		Storage:      in(pbsync.StageStorage) || in(pbsync.StageBackups),
		Backups:      in(pbsync.StageBackups),
		Snapshots:    in(pbsync.StageSnapshots),
		Replications: in(pbsync.StageReplications),
		BackupJobs:   in(pbsync.StageBackupRoutines),
		Tasks:        in(pbsync.StageTaskHistory),
	}
}

// WithoutPluginReads drops the reads only the plugin stages use, for a run
// against a NetBox without netbox-proxbox (pbsync.PluginAbsent).
func WithoutPluginReads(o proxmox.ReadOptions) proxmox.ReadOptions {
	o.Storage, o.Backups, o.Snapshots, o.Replications, o.BackupJobs, o.Tasks = false, false, false, false, false, false
	return o
}

// FallbackToIP returns cfg aimed at the endpoint's IP address instead of its
// domain, when the endpoint has both.
func FallbackToIP(cfg proxmox.Config, ep store.ProxmoxEndpoint) (proxmox.Config, bool) {
	if ep.Domain == "" || ep.IPAddress == "" || strings.EqualFold(ep.Domain, ep.IPAddress) {
		return cfg, false
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Host == "" {
		return cfg, false
	}
	port := u.Port()
	if port == "" {
		port = strconv.Itoa(ep.Port)
	}
	u.Host = net.JoinHostPort(ep.IPAddress, port)
	cfg.BaseURL = u.String()
	return cfg, true
}

// lease takes the store's sync leases of the endpoints, waiting (polling
// each second) while another process holds one, and keeps them renewed until
// the returned release is called.
func (rn *Runner) lease(ctx context.Context, eps []store.ProxmoxEndpoint, onWait func(store.LeaseHolder)) (release func(), err error) {
	ids := make([]int64, len(eps))
	for i, e := range eps {
		ids[i] = e.ID
	}
	waited := false
	gone := holderGone(rn.holder)
	for {
		ok, blocker, err := rn.cfg.Store.AcquireLeasesAs(ctx, rn.holder, ids, time.Now(), leaseTTL, gone)
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
		if !waited {
			waited = true
			rn.log.Info("waiting for another proxbox process that holds the sync lease of these endpoints", "endpoints", ids,
				"holder_host", blocker.Host, "holder_pid", blocker.PID, "lease_ttl", leaseTTL)
			onWait(blocker)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(leaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if _, _, err := rn.cfg.Store.AcquireLeasesAs(context.Background(), rn.holder, ids, time.Now(), leaseTTL, nil); err != nil {
					rn.log.Warn("renew sync lease", "err", err)
				}
			}
		}
	}()
	return func() {
		close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := rn.cfg.Store.ReleaseLeases(ctx, rn.holder.ID, ids); err != nil {
			rn.log.Warn("release sync lease", "err", err)
		}
	}, nil
}

// Bootstrap ensures the proxbox tags and custom fields in the stored NetBox
// endpoint without reading Proxmox (sync.Engine.Bootstrap); dryRun only
// reports what is missing or outdated. ErrNoNetBox when no NetBox endpoint
// is configured.
func (rn *Runner) Bootstrap(ctx context.Context, dryRun bool) ([]pbsync.BootstrapItem, *pbsync.Summary, error) {
	nbs, err := rn.cfg.Store.NetBoxEndpoints(ctx)
	if err != nil {
		return nil, nil, err
	}
	if len(nbs) == 0 {
		return nil, nil, ErrNoNetBox
	}
	nb, err := rn.netboxClient(nbs[0])
	if err != nil {
		return nil, nil, fmt.Errorf("NetBox endpoint %q: %w", nbs[0].Name, err)
	}
	opt := rn.cfg.Defaults
	opt.DryRun = dryRun
	items, sum := nbadapter.Engine(nb).Bootstrap(ctx, opt)
	return items, sum, nil
}
