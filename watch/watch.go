package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	gosync "sync"
	"time"

	"github.com/proxbox/proxbox/inventory"
	"github.com/proxbox/proxbox/proxmox"
	pbsync "github.com/proxbox/proxbox/sync"
)

// Defaults and bounds of the poll interval (PROXBOX_WATCH_INTERVAL).
const (
	DefaultInterval = 5 * time.Second
	MinInterval     = time.Second
	DefaultResync   = time.Hour
	maxBackoff      = 5 * time.Minute
)

// Source is one endpoint's Proxmox API; *proxmox.Client is one.
type Source interface {
	Poll(ctx context.Context) (*proxmox.Poll, error)
	Refresh(ctx context.Context, base *inventory.Snapshot, p *proxmox.Poll, want proxmox.Want, opts proxmox.ReadOptions) (*inventory.Snapshot, error)
	Read(ctx context.Context, ep inventory.Endpoint, opts proxmox.ReadOptions) (*inventory.Snapshot, error)
}

// Endpoint is one watched Proxmox endpoint.
type Endpoint struct {
	ID       int64 // store id; 0 for an inline endpoint
	Endpoint inventory.Endpoint
	Source   Source
}

// Label is the endpoint's identity (sync.EndpointLabel).
func (e Endpoint) Label() string { return pbsync.EndpointLabel(e.Endpoint) }

// Batch is one change set handed to Apply: a snapshot of the endpoint
// that differs from the previous one in Changes only (or a full read).
type Batch struct {
	Endpoint Endpoint
	Snapshot *inventory.Snapshot
	Full     bool // a full read (first cycle, or Resync): a full sync
	Changes  *Changes
	Seen     time.Time // when the change was first seen
}

// Apply syncs a batch into NetBox (one engine run) and returns its summary.
// It returns ErrStale, without syncing, when something else wrote NetBox
// since the last batch: the loop then reads the endpoint fully and applies
// that instead.
type Apply func(ctx context.Context, b Batch) (*pbsync.Summary, error)

// ErrStale: see Apply.
var ErrStale = errors.New("watch: NetBox changed by another run since the last change set")

// Config configures a Watcher.
type Config struct {
	Interval time.Duration       // default DefaultInterval, at least MinInterval
	Resync   time.Duration       // full re-read; default DefaultResync; negative: never
	Read     proxmox.ReadOptions // what a full read and a refresh read; zero: proxmox.FullReadOptions
	Apply    Apply
	// Applied is called after every successful Apply with the change's
	// delay to NetBox (optional: metrics, the CLI's JSON lines).
	Applied func(b Batch, s *pbsync.Summary, delay time.Duration)
	Logger  *slog.Logger
	Now     func() time.Time // tests; default time.Now
}

// Status is what a Watcher reports per endpoint (GET /sync/watch, the
// dashboard).
type Status struct {
	Endpoint       string     `json:"endpoint"`
	Watching       bool       `json:"watching"`
	IntervalMS     int64      `json:"interval_ms"`
	Polls          int64      `json:"polls"`
	LastPoll       *time.Time `json:"last_poll,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	Failures       int        `json:"failures"`
	BackoffUntil   *time.Time `json:"backoff_until,omitempty"`
	LastChange     []string   `json:"last_change,omitempty"`
	LastChangeSeen *time.Time `json:"last_change_seen,omitempty"`
	LastApplied    *time.Time `json:"last_applied,omitempty"`
	LastDelayMS    *int64     `json:"last_delay_ms,omitempty"`
	// DriftedSince is when the oldest change seen but not yet in NetBox
	// happened (its apply failed and is retried each poll); nil when NetBox
	// holds every change seen.
	DriftedSince *time.Time `json:"drifted_since,omitempty"`
	ChangeSets   int64      `json:"change_sets"`
}

// Watcher polls endpoints and applies their changes.
type Watcher struct {
	cfg Config
	mu  gosync.Mutex
	st  map[string]*Status
}

// New returns a Watcher; cfg.Apply is required.
func New(cfg Config) (*Watcher, error) {
	if cfg.Apply == nil {
		return nil, errors.New("watch: Apply is required")
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Interval < MinInterval {
		return nil, fmt.Errorf("watch interval %s: at least %s", cfg.Interval, MinInterval)
	}
	if cfg.Resync == 0 {
		cfg.Resync = DefaultResync
	}
	if cfg.Read == (proxmox.ReadOptions{}) {
		cfg.Read = proxmox.FullReadOptions()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Watcher{cfg: cfg, st: map[string]*Status{}}, nil
}

// Statuses returns every endpoint's status, by label.
func (w *Watcher) Statuses() []Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Status, 0, len(w.st))
	for _, s := range w.st {
		c := *s
		c.LastChange = append([]string(nil), s.LastChange...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Endpoint < out[j].Endpoint })
	return out
}

// Run watches every endpoint until ctx ends; one endpoint's failures never
// stop the others.
func (w *Watcher) Run(ctx context.Context, eps []Endpoint) {
	var wg gosync.WaitGroup
	for _, ep := range eps {
		l := w.Loop(ep)
		wg.Go(func() { l.Run(ctx) })
	}
	wg.Wait()
}

// Loop is the watch of one endpoint; Cycle runs one poll.
type Loop struct {
	w        *Watcher
	ep       Endpoint
	label    string
	base     *inventory.Snapshot
	prev     *proxmox.Poll
	lastFull time.Time
	failures int
}

// Loop returns the watch loop of ep (Run uses one per endpoint; tests call
// Cycle directly).
func (w *Watcher) Loop(ep Endpoint) *Loop {
	l := &Loop{w: w, ep: ep, label: ep.Label()}
	w.update(l.label, func(s *Status) { s.Watching = true; s.IntervalMS = w.cfg.Interval.Milliseconds() })
	return l
}

func (w *Watcher) update(label string, f func(*Status)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.st[label]
	if s == nil {
		s = &Status{Endpoint: label}
		w.st[label] = s
	}
	f(s)
}

// Run polls until ctx ends: every interval (jittered), backed off after
// failures.
func (l *Loop) Run(ctx context.Context) {
	defer l.w.update(l.label, func(s *Status) { s.Watching = false })
	for {
		wait := l.w.cfg.Interval
		if _, err := l.Cycle(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = min(maxBackoff, l.w.cfg.Interval<<min(l.failures, 16))
			until := l.w.cfg.Now().Add(wait)
			l.w.update(l.label, func(s *Status) { s.BackoffUntil = &until })
			l.w.cfg.Logger.Warn("watch: endpoint failed; backing off", "endpoint", l.label, "failures", l.failures, "retry_in", wait, "err", err)
		}
		// jitter ±20% per endpoint, so endpoints do not poll in lockstep
		wait = time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Cycle polls the endpoint once and applies what changed (the first cycle
// and every Resync: a full read and sync). It returns the applied batch's
// summary, nil when nothing changed.
func (l *Loop) Cycle(ctx context.Context) (*pbsync.Summary, error) {
	cfg := l.w.cfg
	p, err := l.ep.Source.Poll(ctx)
	now := cfg.Now()
	l.w.update(l.label, func(s *Status) { s.Polls++; s.LastPoll = &now })
	if err != nil {
		return nil, l.failed(err)
	}
	var b Batch
	if l.base == nil || l.prev == nil || (cfg.Resync > 0 && now.Sub(l.lastFull) >= cfg.Resync) {
		snap, err := l.ep.Source.Read(ctx, l.ep.Endpoint, cfg.Read)
		if err != nil {
			return nil, l.failed(err)
		}
		b = Batch{Endpoint: l.ep, Snapshot: snap, Full: true, Changes: &Changes{Objects: []string{"full sync"}}, Seen: now}
	} else {
		ch := Diff(l.prev, p)
		if ch.Empty() {
			l.prev = p
			l.ok()
			return nil, nil
		}
		snap, err := l.ep.Source.Refresh(ctx, l.base, p, proxmox.Want{Guests: ch.Guests, Storage: ch.Storage, NewTasks: ch.NewTasks,
			TaskNodes: ch.TaskOverflow, Since: l.prev.At.Add(-time.Minute)}, cfg.Read)
		if err != nil {
			return nil, l.failed(err)
		}
		snap.Requests += p.Requests
		b = Batch{Endpoint: l.ep, Snapshot: snap, Changes: ch, Seen: seenAt(l.prev, p, ch)}
	}
	if b.Full {
		b.Snapshot.Requests += p.Requests
	}
	// (a stale State turns a change set into a full read below)
	sum, err := cfg.Apply(ctx, b)
	if errors.Is(err, ErrStale) && !b.Full {
		snap, rerr := l.ep.Source.Read(ctx, l.ep.Endpoint, cfg.Read)
		if rerr != nil {
			return nil, l.failed(rerr)
		}
		snap.Requests += p.Requests
		b = Batch{Endpoint: l.ep, Snapshot: snap, Full: true, Changes: b.Changes, Seen: b.Seen}
		sum, err = cfg.Apply(ctx, b)
	}
	if err == nil && sum != nil && !sum.OK {
		err = fmt.Errorf("sync: %v", sum.Errors)
	}
	if err != nil {
		// prev and base stay: the same changes are found and applied again
		seen := b.Seen
		l.w.update(l.label, func(s *Status) {
			if s.DriftedSince == nil || seen.Before(*s.DriftedSince) {
				s.DriftedSince = &seen
			}
		})
		return sum, l.failed(err)
	}
	l.prev, l.base = p, b.Snapshot
	if b.Full {
		l.lastFull = now
	}
	done := cfg.Now()
	delay := max(0, done.Sub(b.Seen))
	l.ok()
	l.w.update(l.label, func(s *Status) {
		s.ChangeSets++
		s.LastChange = b.Changes.Objects
		s.LastChangeSeen, s.LastApplied = &b.Seen, &done
		s.DriftedSince = nil
		ms := delay.Milliseconds()
		s.LastDelayMS = &ms
	})
	if cfg.Applied != nil {
		cfg.Applied(b, sum, delay)
	}
	return sum, nil
}

// seenAt is when a change set happened, as well as we know: the earliest
// start of its new tasks if that is after the previous poll, else this
// poll's time.
func seenAt(prev, cur *proxmox.Poll, ch *Changes) time.Time {
	at := cur.At
	for _, t := range ch.NewTasks {
		if !t.Started.IsZero() && t.Started.After(prev.At.Add(-time.Second)) && t.Started.Before(at) {
			at = t.Started
		}
	}
	return at
}

func (l *Loop) ok() {
	l.failures = 0
	l.w.update(l.label, func(s *Status) { s.LastError, s.Failures, s.BackoffUntil = "", 0, nil })
}

func (l *Loop) failed(err error) error {
	l.failures++
	n := l.failures
	l.w.update(l.label, func(s *Status) { s.LastError, s.Failures = err.Error(), n })
	return err
}
