package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	gosync "sync"
	"time"

	"github.com/proxbox/proxbox/applog"
	"github.com/proxbox/proxbox/certs"
	"github.com/proxbox/proxbox/config"
	"github.com/proxbox/proxbox/metrics"
	"github.com/proxbox/proxbox/netbox/getcache"
	"github.com/proxbox/proxbox/proxmox"
	"github.com/proxbox/proxbox/server"
	"github.com/proxbox/proxbox/store"
	pbsync "github.com/proxbox/proxbox/sync"
	"github.com/proxbox/proxbox/syncrun"
	"github.com/proxbox/proxbox/ui"
	"github.com/proxbox/proxbox/watch"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "serve [flags]\n\nRuns the appliance. Every flag can also be set by the environment variable in brackets; a flag wins.", stderr)
	load := config.Flags(fs, nil)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := load(os.Getenv)
	if err != nil {
		return err
	}
	return serveAppliance(ctx, cfg, stderr, nil)
}

// appliance is what serveAppliance has built, for callers (demo) that add
// to it before it serves.
type appliance struct {
	cfg    config.Config
	log    *slog.Logger
	store  *store.Store
	server *server.Server
	tls    *certs.Manager
	cache  *getcache.Cache
	reg    *metrics.Registry
	runner *syncrun.Runner
	dash   *ui.Dashboard
	// BaseURL is how a local client reaches the server.
	baseURL string
}

// serveAppliance runs the appliance until ctx ends. ready, when set, runs
// after the listener is open and before serving.
func serveAppliance(ctx context.Context, cfg config.Config, logOut io.Writer, ready func(ctx context.Context, a *appliance) error) error {
	pipe := applog.New(logOut, cfg.LogFormat, applog.ParseLevel(cfg.LogLevel))
	log := pipe.Logger()
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}

	st, err := store.Open(ctx, cfg.DataDir, store.Options{EncryptionKey: cfg.EncryptionKey, Logger: log})
	if err != nil {
		return fmt.Errorf("open store in %s: %w", cfg.DataDir, err)
	}
	defer st.Close()
	logCtx, stopLogs := context.WithCancel(context.WithoutCancel(ctx))
	pipe.Persist(logCtx, st)
	defer func() { stopLogs(); pipe.Wait() }()
	if n, err := st.MarkInterruptedRuns(ctx, time.Now()); err == nil && n > 0 {
		log.Warn("sync runs interrupted by the previous stop marked failed", "runs", n)
	}

	reg := metrics.New()
	var tm *certs.Manager
	if cfg.TLS != config.TLSOff {
		tm, err = certs.New(ctx, certs.Config{
			Mode: cfg.TLS, DataDir: cfg.DataDir, CARoot: cfg.CARoot, Names: cfg.TLSNames,
			ACMEEmail: cfg.ACMEEmail, ACMECA: cfg.ACMECA, ACMEEABKeyID: cfg.ACMEEABKeyID, ACMEEABHMAC: cfg.ACMEEABHMAC,
			CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey, HTTPSPort: cfg.Port, HTTPPort: cfg.HTTPRedirectPort,
			Logger:  log.With("module", "tls"),
			OnEvent: func(name string, _ map[string]any) { reg.CertificateEvent(name) },
		})
		if err != nil {
			return fmt.Errorf("TLS (%s mode): %w", cfg.TLS, err)
		}
		defer tm.Close()
	}

	cacheLimits := cacheLimits(cfg)
	cache := getcache.New(getcache.Config{Limits: cacheLimits, Logger: log.With("module", "cache"), Debug: cfg.DebugCache})
	cache.Start(ctx)
	defer cache.Close()

	if err := reg.RegisterCache(cache); err != nil {
		return err
	}

	syncDefaults := syncDefaults(cfg)
	pool := proxmox.NewPool()
	pol := egressPolicy(cfg)
	pveConf := func(ep store.ProxmoxEndpoint) proxmox.Config {
		c := proxmoxConfig(ep, reg, pol)
		c.Concurrency = cfg.ProxmoxFetch
		return c
	}
	runner := syncrun.New(syncrun.Config{Store: st, Cache: cache, Metrics: reg, Logger: log, Defaults: syncDefaults,
		Version: version, Proxmox: pool, PVEConf: pveConf, NetBox: netboxTuning(cfg), Egress: pol})
	defer func() {
		// Runs in progress are cancelled and record their end before the store closes.
		cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := runner.Close(cctx); err != nil {
			log.Warn("stopping sync runs", "err", err)
		}
	}()

	var watcher *watch.Watcher
	if cfg.Watch {
		var err error
		watcher, err = watch.New(watch.Config{Interval: cfg.WatchInterval, Resync: -1, Apply: runner.WatchApply,
			Applied: func(_ watch.Batch, _ *pbsync.Summary, d time.Duration) { reg.ObserveWatchLatency(d) },
			Logger:  log.With("module", "watch")})
		if err != nil {
			return err
		}
	}

	var sched *syncSchedule
	var nextSync func() time.Time
	if cfg.SyncInterval > 0 {
		sched = newSyncSchedule(time.Now(), cfg.SyncInterval)
		nextSync = sched.Next
	}
	// The dashboard's first-run setup asks for a one-time code printed on
	// the console (never logged), so reaching the port is not enough.
	setup := server.NewSetupCode(logOut)
	dash, err := ui.New(ui.Deps{Store: st, SetupCode: setup.Check, Cache: cache, CacheDefaults: cacheLimits, TLS: tm, Logs: pipe, Logger: log,
		Sync: dashboardSyncer{runner: runner}, Tester: endpointTester{pool: pool, pveConf: pveConf, egress: pol},
		AllowedTargets: cfg.AllowedTargets, Version: version, Commit: commit, NetBoxURL: netboxURL(st), NextSync: nextSync, Watch: dashboardWatch(watcher)})
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}

	opts := server.Options{SetupCode: setup, Config: cfg, Store: st, Logger: log, Build: build(), Logs: pipe, Cache: cache, CacheDefaults: cacheLimits, Metrics: reg.Handler(),
		Proxmox: proxmoxReads{pool: pool, reg: reg, pol: pol}, Egress: pol, Sync: stageSyncer{runner: runner, defaults: syncDefaults}, UI: dash}
	if tm != nil {
		opts.CARootPEM = tm.RootPEM
	}
	if watcher != nil {
		opts.Watch = watcher.Statuses
	}
	srv := server.New(opts)
	if err := srv.ApplyStoredCacheSettings(ctx); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr(), err)
	}
	a := &appliance{cfg: cfg, log: log, store: st, server: srv, tls: tm, cache: cache, reg: reg, runner: runner, dash: dash, baseURL: localURL(cfg, ln.Addr())}
	if ready != nil {
		if err := ready(ctx, a); err != nil {
			ln.Close()
			return err
		}
	}
	if n, err := st.ActiveKeyCount(ctx); err == nil && n == 0 {
		setup.Announce()
	}

	var hs *http.Server
	if tm != nil {
		hs = srv.HTTPServer(tm.TLSConfig())
	} else {
		hs = srv.HTTPServer(nil)
	}
	errc := make(chan error, 2)
	go func() { errc <- server.Serve(ctx, hs, ln, 20*time.Second) }()
	if cfg.HTTPRedirectPort > 0 && tm != nil {
		rln, err := net.Listen("tcp", net.JoinHostPort(cfg.BindHost, strconv.Itoa(cfg.HTTPRedirectPort)))
		if err != nil {
			return fmt.Errorf("listen on redirect port %d: %w", cfg.HTTPRedirectPort, err)
		}
		plain := &http.Server{Handler: tm.HTTPHandler(nil), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
		go func() { errc <- server.Serve(ctx, plain, rln, 5*time.Second) }()
	}
	go dash.Run(ctx)
	if cfg.SyncInterval > 0 {
		go scheduleSyncs(ctx, runner, sched, log)
	}
	if watcher != nil {
		// every stored endpoint; the list is re-read every 30 s
		go runner.Watch(ctx, watcher, 30*time.Second, log)
	}
	log.Info("proxbox serving", "url", a.baseURL, "tls", cfg.TLS, "data_dir", cfg.DataDir, "version", version)
	err = <-errc
	if err == nil && ctx.Err() != nil {
		log.Info("proxbox stopped")
	}
	return err
}

// localURL is the URL a client on this host uses to reach the listener.
func localURL(cfg config.Config, addr net.Addr) string {
	scheme := "https"
	if cfg.TLS == config.TLSOff {
		scheme = "http"
	}
	host := cfg.BindHost
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	port := cfg.Port
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = ta.Port
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// scheduleSyncs runs a full sync of every endpoint every interval until ctx
// ends. A run still going when the next is due makes the next one wait for
// it (the runner serializes runs per endpoint), so runs never pile up.
func scheduleSyncs(ctx context.Context, r *syncrun.Runner, sched *syncSchedule, log *slog.Logger) {
	t := time.NewTicker(sched.every)
	defer t.Stop()
	defer sched.stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			run, err := r.Do(ctx, syncrun.Request{Trigger: syncrun.TriggerSchedule})
			if err != nil {
				log.Warn("scheduled sync not started", "err", err)
				continue
			}
			_, _ = run.Result()
			sched.ran(time.Now())
		}
	}
}

// syncSchedule says when the next scheduled sync starts (the dashboard's
// overview shows it): the ticks fall every interval from the start, and a
// run longer than the interval skips the ticks it overlaps.
type syncSchedule struct {
	start time.Time
	every time.Duration
	mu    gosync.Mutex
	next  time.Time
}

func newSyncSchedule(start time.Time, every time.Duration) *syncSchedule {
	return &syncSchedule{start: start, every: every, next: start.Add(every)}
}

// Next is the start of the next scheduled sync; zero once the scheduler stopped.
func (s *syncSchedule) Next() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

// ran notes that a scheduled run ended at now: the next one is the first tick after it.
func (s *syncSchedule) ran(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := now.Sub(s.start)/s.every + 1
	s.next = s.start.Add(k * s.every)
}

func (s *syncSchedule) stop() {
	s.mu.Lock()
	s.next = time.Time{}
	s.mu.Unlock()
}

// netboxURL gives the dashboard the stored NetBox's base URL, for links to
// synced objects.
func netboxURL(st *store.Store) func(context.Context) string {
	return func(ctx context.Context) string {
		eps, err := st.NetBoxEndpoints(ctx)
		if err != nil || len(eps) == 0 {
			return ""
		}
		return syncrun.NetBoxConfig(eps[0]).URL
	}
}

// dashboardWatch maps the watch's status for the dashboard (nil: the watch is off).
func dashboardWatch(w *watch.Watcher) func() []ui.WatchStatus {
	if w == nil {
		return nil
	}
	return func() []ui.WatchStatus {
		var out []ui.WatchStatus
		for _, s := range w.Statuses() {
			row := ui.WatchStatus{Endpoint: s.Endpoint, Watching: s.Watching, LastError: s.LastError, LastChange: s.LastChange}
			if s.LastChangeSeen != nil {
				row.LastChangeSeen = *s.LastChangeSeen
			}
			if s.LastDelayMS != nil {
				row.LastDelay = time.Duration(*s.LastDelayMS) * time.Millisecond
			}
			if s.DriftedSince != nil {
				row.DriftedSince = *s.DriftedSince
			}
			out = append(out, row)
		}
		return out
	}
}
