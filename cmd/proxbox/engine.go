package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/proxbox/proxbox/egress"
	"github.com/proxbox/proxbox/netbox"
	"github.com/proxbox/proxbox/netbox/nbapi"
	"github.com/proxbox/proxbox/proxmox"
	"github.com/proxbox/proxbox/server"
	"github.com/proxbox/proxbox/store"
	pbsync "github.com/proxbox/proxbox/sync"
	"github.com/proxbox/proxbox/syncrun"
	"github.com/proxbox/proxbox/ui"
)

// stageSyncer serves the plugin's stage streams from the runner.
type stageSyncer struct {
	runner   *syncrun.Runner
	defaults pbsync.Options
}

func (s stageSyncer) Sync(ctx context.Context, req server.StageRequest, events func(pbsync.Event)) (*pbsync.Summary, error) {
	opt := s.defaults
	p := req.Params
	if p.AgentInterfaceNames != nil {
		opt.Map.ConfigInterfaceNames = !*p.AgentInterfaceNames
	}
	if p.IgnoreIPv6LinkLocal != nil {
		opt.Map.IncludeIPv6LinkLocal = !*p.IgnoreIPv6LinkLocal
	}
	if p.PrimaryIP != "" {
		opt.Map.PrimaryIP = p.PrimaryIP
	}
	if p.DeleteMissingBackups != nil {
		opt.DeleteNonexistentBackup = *p.DeleteMissingBackups
	}
	if p.DeleteMissingSnapshots != nil {
		opt.DeleteNonexistentSnapshot = *p.DeleteMissingSnapshots
	}
	run, err := s.runner.Do(ctx, syncrun.Request{EndpointIDs: req.EndpointIDs, Stages: req.Stages, Trigger: req.Trigger, DryRun: req.DryRun,
		Options: &opt, ReuseSnapshot: req.Job, Events: events, FetchConcurrency: p.FetchConcurrency})
	if err != nil {
		return nil, err
	}
	sum, err := run.Result()
	if sum == nil && err == nil {
		err = errors.New("the sync did not run")
	}
	return sum, err
}

// Bootstrap implements server.Bootstrapper.
func (s stageSyncer) Bootstrap(ctx context.Context, dryRun bool) ([]pbsync.BootstrapItem, *pbsync.Summary, error) {
	return s.runner.Bootstrap(ctx, dryRun)
}

// dashboardSyncer adapts the runner to the dashboard's Syncer.
type dashboardSyncer struct{ runner *syncrun.Runner }

func (d dashboardSyncer) Stages() []string {
	out := make([]string, len(pbsync.AllStages))
	for i, s := range pbsync.AllStages {
		out[i] = string(s)
	}
	return out
}

func (d dashboardSyncer) Start(ctx context.Context, req ui.SyncRequest) (int64, error) {
	r := syncrun.Request{DryRun: req.DryRun, Trigger: req.Trigger}
	if r.Trigger == "" {
		r.Trigger = syncrun.TriggerDashboard
	}
	if req.EndpointID > 0 {
		r.EndpointIDs = []int64{req.EndpointID}
	}
	if req.Stage != "" {
		st, err := pbsync.ParseStage(req.Stage)
		if err != nil {
			return 0, err
		}
		r.Stages = []pbsync.Stage{st}
	}
	run, err := d.runner.Start(ctx, r)
	if err != nil {
		return 0, err
	}
	return run.ID, nil
}

func (d dashboardSyncer) Cancel(id int64) error {
	run, ok := d.runner.Lookup(id)
	if !ok {
		return fmt.Errorf("run %d is not running", id)
	}
	run.Cancel()
	return nil
}

// Events converts the engine's events, keeping each stage's running totals.
func (d dashboardSyncer) Events(id int64) (<-chan ui.SyncEvent, func()) {
	run, ok := d.runner.Lookup(id)
	if !ok {
		return nil, func() {}
	}
	select {
	case <-run.Done():
		return nil, func() {}
	default:
	}
	in, stop := run.Watch()
	out := make(chan ui.SyncEvent, 256)
	done := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(out)
		counts := map[string]*ui.StageCounts{}
		for e := range in {
			key := e.Endpoint + "/" + string(e.Stage)
			c := counts[key]
			if c == nil {
				c = &ui.StageCounts{}
				counts[key] = c
			}
			ev := ui.SyncEvent{Type: string(e.Type), Endpoint: e.Endpoint, Stage: string(e.Stage), Object: e.Object, Message: e.Message}
			switch e.Type {
			case pbsync.EventItem:
				if ch := e.Change; ch != nil {
					switch {
					case ch.Error != "":
						c.Failed++
						ev.Message = ch.Error
					case ch.Op == pbsync.OpCreate:
						c.Created++
					case ch.Op == pbsync.OpUnchanged:
						c.Unchanged++
					default:
						c.Updated++
					}
				}
			case pbsync.EventStageFinished:
				*c = ui.StageCounts{}
				for _, k := range e.Counts {
					c.Created += k.Created
					c.Updated += k.Updated + k.Orphaned + k.Deleted
					c.Unchanged += k.Unchanged
					c.Failed += k.Failed
				}
				c.Total = c.Done()
			case pbsync.EventRunFinished:
				if s := e.Summary; s != nil {
					ev.Status = "ok"
					if s.Partial {
						ev.Status = "partial"
					} else if !s.OK {
						ev.Status = "failed"
					}
				}
			}
			ev.Counts = *c
			select {
			case out <- ev:
			case <-done:
				return
			}
		}
	}()
	return out, func() { once.Do(func() { close(done); stop() }) }
}

// endpointTester answers the dashboard's "test connection".
type endpointTester struct {
	pool    *proxmox.Pool
	pveConf func(store.ProxmoxEndpoint) proxmox.Config
	egress  *egress.Policy
}

func (t endpointTester) TestProxmox(ctx context.Context, e store.ProxmoxEndpoint) (string, error) {
	c, err := proxmox.New(t.pveConf(e)) // a fresh client: test what is stored now
	if err != nil {
		return "", err
	}
	return c.Version(ctx)
}

func (t endpointTester) TestNetBox(ctx context.Context, e store.NetBoxEndpoint) (string, error) {
	cfg := syncrun.NetBoxConfig(e)
	cfg.MaxRetries = -1
	cfg.Egress = t.egress
	c, err := netbox.New(cfg)
	if err != nil {
		return "", err
	}
	st, err := nbapi.ReadStatus(ctx, c)
	if err != nil {
		return "", err
	}
	return st.NetBoxVersion, nil
}
