package syncrun

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/proxbox/proxbox/inventory"
	"github.com/proxbox/proxbox/proxmox"
	pbsync "github.com/proxbox/proxbox/sync"
	"github.com/proxbox/proxbox/watch"
)

// WatchApply applies a watch batch of a stored endpoint as a run with
// trigger watch: the endpoint's lock and lease like every run (a plugin
// stage and a watch run never write the same endpoint at once), a run
// record and events. Every watched endpoint's runs share one sync.State, one
// run at a time (as inline endpoints do in cmd/proxbox): a run of one
// endpoint keeps the others' kept state true (it writes through the same
// State), so a change set costs its own writes whichever endpoint ran last,
// and NetBox's shared objects (the proxbox-tagged children of every
// endpoint) are held once. Any other run (plugin, dashboard, schedule)
// still makes the next watch run list NetBox again.
func (rn *Runner) WatchApply(ctx context.Context, b watch.Batch) (*pbsync.Summary, error) {
	id := b.Endpoint.ID
	select {
	case rn.watchTurn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-rn.watchTurn }()
	st := rn.watchState
	rn.mu.Lock()
	g, used := rn.stateGen[st]
	stale := used && g != rn.gen
	rn.mu.Unlock()
	if stale && !b.Full {
		// another run wrote since: the watch's base snapshot may be older
		// than NetBox now; it reads the endpoint fully instead
		return nil, watch.ErrStale
	}
	run, err := rn.Do(ctx, Request{EndpointIDs: []int64{id}, Trigger: TriggerWatch,
		Snapshots: map[int64]*inventory.Snapshot{id: b.Snapshot}, State: st})
	if err != nil {
		return nil, err
	}
	return run.Result()
}

// WatchEndpoints are the stored Proxmox endpoints as watch endpoints, with
// pooled clients.
func (rn *Runner) WatchEndpoints(ctx context.Context) ([]watch.Endpoint, error) {
	eps, err := rn.cfg.Store.ProxmoxEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]watch.Endpoint, 0, len(eps))
	for _, ep := range eps {
		c, err := rn.cfg.Proxmox.Client(strconv.FormatInt(ep.ID, 10), rn.cfg.PVEConf(ep))
		if err != nil {
			return nil, fmt.Errorf("proxmox endpoint %q: %w", ep.Name, err)
		}
		out = append(out, watch.Endpoint{ID: ep.ID, Endpoint: endpointOf(ep), Source: c})
	}
	return out, nil
}

// Watch runs w over the stored endpoints until ctx ends, re-reading the
// endpoint list every refresh so that added, changed and removed endpoints
// are picked up (a changed endpoint's loop restarts with a full read).
func (rn *Runner) Watch(ctx context.Context, w *watch.Watcher, refresh time.Duration, log *slog.Logger) {
	type running struct {
		sig    string
		cancel context.CancelFunc
		done   chan struct{}
	}
	loops := map[int64]*running{}
	defer func() {
		for _, r := range loops {
			r.cancel()
			<-r.done
		}
	}()
	t := time.NewTicker(refresh)
	defer t.Stop()
	for {
		eps, err := rn.WatchEndpoints(ctx)
		if err != nil {
			log.Warn("watch: list endpoints", "err", err)
		}
		keep := map[int64]bool{}
		for _, ep := range eps {
			keep[ep.ID] = true
			sig := fmt.Sprintf("%+v|%p", ep.Endpoint, ep.Source)
			if r := loops[ep.ID]; r != nil && r.sig == sig {
				continue
			} else if r != nil {
				r.cancel()
				<-r.done
			}
			lctx, cancel := context.WithCancel(ctx)
			r := &running{sig: sig, cancel: cancel, done: make(chan struct{})}
			loops[ep.ID] = r
			l := w.Loop(ep)
			go func() { defer close(r.done); l.Run(lctx) }()
		}
		for id, r := range loops {
			if err == nil && !keep[id] {
				r.cancel()
				<-r.done
				delete(loops, id)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ensure *proxmox.Client is a watch.Source.
var _ watch.Source = (*proxmox.Client)(nil)
