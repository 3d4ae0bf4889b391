package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/proxbox/proxbox/applog"
	"github.com/proxbox/proxbox/config"
	"github.com/proxbox/proxbox/egress"
	"github.com/proxbox/proxbox/inventory"
	"github.com/proxbox/proxbox/netbox"
	"github.com/proxbox/proxbox/proxmox"
	"github.com/proxbox/proxbox/store"
	pbsync "github.com/proxbox/proxbox/sync"
	"github.com/proxbox/proxbox/sync/nbadapter"
	"github.com/proxbox/proxbox/syncrun"
	"github.com/proxbox/proxbox/watch"
)

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// errSyncFailed makes `proxbox sync` exit 1 after it has printed its report.
var errSyncFailed = errors.New("sync failed")

func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sync", `sync --once [--dry-run] [--json] [--stage S] [endpoint flags]
sync --watch [--json] [endpoint flags]

--once runs one sync and exits: 0 when it succeeded, 1 when it failed, 2 on bad usage.
--watch syncs every endpoint fully once, then polls each one every PROXBOX_WATCH_INTERVAL
(/cluster/resources and /cluster/tasks) and syncs only what changed, printing one line
(with --json one JSON summary with "trigger":"watch" and "changes") per change set
applied, until interrupted (Ctrl-C); a full sync runs again every PROXBOX_SYNC_INTERVAL.
Endpoints come from the store in --data-dir, or are given inline with --netbox-url
--netbox-token and repeatable --pve-url with --pve-token 'USER@REALM!NAME=SECRET'
(or --pve-user and --pve-password), paired in order. An inline endpoint's identity in
NetBox is its --pve-name (repeatable, paired in order; give one per --pve-url or none),
else host:port of its URL: keep it the same from run to run. Writes NetBox refused (HTTP 400,
such as a duplicate IP address) are remembered and not sent again while unchanged: for
stored endpoints in the store, for inline ones in the --state file (default
<data dir>/`+inlineStateFile+` when --data-dir or PROXBOX_DATA_DIR names an existing
directory; otherwise nothing is remembered and every run sends them again).`, stderr)
	once := fs.Bool("once", false, "run one sync and exit (this or --watch is required: scheduled syncs run inside 'serve')")
	watchMode := fs.Bool("watch", false, "sync fully once, then keep watching the endpoints and sync each change until interrupted")
	dry := fs.Bool("dry-run", false, "compute and print the plan; write nothing")
	asJSON := fs.Bool("json", false, "print one JSON summary object")
	var stages, pveURLs, pveTokens, pveUsers, pvePasswords, pveNames repeated
	fs.Var(&stages, "stage", "stage to run (repeatable or comma separated); default all: "+stageNames())
	nbURL := fs.String("netbox-url", "", "NetBox URL, e.g. https://netbox.example.com (inline mode)")
	nbToken := fs.String("netbox-token", "", "NetBox token: 40-hex v1, or nbt_KEY.SECRET v2 (inline mode)")
	nbInsecure := fs.Bool("netbox-insecure", false, "do not verify NetBox's certificate")
	fs.Var(&pveURLs, "pve-url", "Proxmox URL, e.g. https://pve1:8006 (repeatable, inline mode)")
	fs.Var(&pveNames, "pve-name", "endpoint name, paired with --pve-url in order: its identity in NetBox (default host:port)")
	fs.Var(&pveTokens, "pve-token", "Proxmox API token USER@REALM!NAME=SECRET, paired with --pve-url in order")
	fs.Var(&pveUsers, "pve-user", "Proxmox user USER@REALM, paired with --pve-url (instead of a token)")
	fs.Var(&pvePasswords, "pve-password", "Proxmox password, paired with --pve-user")
	pveInsecure := fs.Bool("pve-insecure", false, "do not verify Proxmox certificates")
	dataDir := fs.String("data-dir", "", "data directory whose stored endpoints to use [$PROXBOX_DATA_DIR]")
	logLevel := fs.String("log-level", "warn", "log level on stderr: debug, info, warn, error")
	statePath := fs.String("state", "", "inline mode: file that remembers the writes NetBox refused between runs, saved after every run and every watch change set (default <data dir>/"+inlineStateFile+" when a data directory is named and exists; none: keep nothing)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *once == *watchMode {
		fmt.Fprintln(stderr, "proxbox sync needs --once or --watch (scheduled syncs run inside 'proxbox serve' with PROXBOX_SYNC_INTERVAL)")
		return errUsage
	}
	if *watchMode && (*dry || len(stages) > 0) {
		fmt.Fprintln(stderr, "proxbox sync --watch syncs every stage and writes: --dry-run and --stage go with --once")
		return errUsage
	}
	var stageList []pbsync.Stage
	for _, s := range stages {
		for _, name := range strings.Split(s, ",") {
			st, err := pbsync.ParseStage(name)
			if err != nil {
				fmt.Fprintln(stderr, err)
				return errUsage
			}
			stageList = append(stageList, st)
		}
	}
	// Every setting is checked before anything is opened or created; a bad one is bad usage (2).
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, "proxbox sync:", err)
		return errUsage
	}
	log := applog.New(stderr, "text", applog.ParseLevel(*logLevel)).Logger()
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	opt := syncDefaults(cfg)
	opt.Stages, opt.DryRun = stageList, *dry

	var sum *pbsync.Summary
	if *nbURL != "" || len(pveURLs) > 0 {
		targets, weps, err := inlineTargets(pveURLs, pveNames, pveTokens, pveUsers, pvePasswords, *pveInsecure, syncrun.ReadOptionsFor(opt), egressPolicy(cfg))
		if err != nil {
			fmt.Fprintln(stderr, err)
			return errUsage
		}
		if *nbURL == "" || *nbToken == "" {
			fmt.Fprintln(stderr, "inline mode needs --netbox-url and --netbox-token")
			return errUsage
		}
		nb, err := inlineNetBox(*nbURL, *nbToken, *nbInsecure, netboxTuning(cfg), egressPolicy(cfg), log)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return errUsage
		}
		var state *inlineState
		if p := inlineStatePath(*statePath, *dataDir, os.Getenv); p != "" && !*dry {
			if state, err = loadInlineState(p); err != nil {
				return err
			}
			opt.Refusals = state.refusals(*nbURL)
		}
		var saveState func()
		if state != nil {
			saveState = func() {
				if err := state.save(); err != nil {
					log.Warn("the writes NetBox refused are not remembered", "err", err)
				}
			}
		}
		if *watchMode {
			return watchSync(ctx, cfg, weps, inlineApply(nbadapter.Engine(nb), opt, weps, saveState), log, stdout, *asJSON)
		}
		sum = nbadapter.Engine(nb).Run(ctx, targets, opt)
		if saveState != nil {
			saveState()
		}
	} else {
		dir := *dataDir
		if dir == "" {
			dir = cfg.DataDir
		}
		// A one-shot sync uses an appliance's store; it never makes one (no data directory, no
		// database, no secret key) where there is none, e.g. when run from the wrong directory.
		if _, err := os.Stat(filepath.Join(dir, store.DBFile)); err != nil {
			return fmt.Errorf("no proxbox store in %s (%s: %v): pass the appliance's --data-dir (or PROXBOX_DATA_DIR), or give the endpoints inline with --netbox-url and --pve-url",
				dir, store.DBFile, errors.Unwrap(err))
		}
		st, err := store.Open(ctx, dir, store.Options{EncryptionKey: cfg.EncryptionKey, Logger: log})
		if err != nil {
			return err
		}
		defer st.Close()
		pol := egressPolicy(cfg)
		r := syncrun.New(syncrun.Config{Store: st, Logger: log, Defaults: opt, Version: version, NetBox: netboxTuning(cfg), Egress: pol,
			PVEConf: func(ep store.ProxmoxEndpoint) proxmox.Config {
				c := proxmoxConfig(ep, nil, pol)
				c.Concurrency = cfg.ProxmoxFetch
				return c
			}})
		if *watchMode {
			weps, err := r.WatchEndpoints(ctx)
			if err != nil {
				return err
			}
			if len(weps) == 0 {
				return syncrun.ErrNoProxmox
			}
			return watchSync(ctx, cfg, weps, r.WatchApply, log, stdout, *asJSON)
		}
		run, err := r.Do(ctx, syncrun.Request{Stages: stageList, DryRun: *dry, Trigger: syncrun.TriggerCLI})
		if err != nil {
			return err
		}
		sum, _ = run.Result()
		if sum == nil {
			return errors.New("sync cancelled")
		}
	}
	if *asJSON {
		// Written as encoded, one change at a time: a first run's plan is large.
		bw := bufio.NewWriter(stdout)
		if err := sum.WriteJSON(bw); err != nil {
			return err
		}
		if _, err := bw.WriteString("\n"); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
	} else {
		printSummary(stdout, sum, *dry)
	}
	if !sum.OK {
		return errSyncFailed
	}
	return nil
}

func stageNames() string {
	names := make([]string, len(pbsync.AllStages))
	for i, s := range pbsync.AllStages {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// inlineTargets pairs --pve-url with --pve-name, --pve-token (or
// --pve-user/--pve-password) in order.
func inlineTargets(urls, names, tokens, users, passwords []string, insecure bool, read proxmox.ReadOptions, pol *egress.Policy) ([]pbsync.Target, []watch.Endpoint, error) {
	if len(urls) == 0 {
		return nil, nil, errors.New("inline mode needs at least one --pve-url")
	}
	if len(tokens) != len(urls) && (len(users) != len(urls) || len(passwords) != len(urls)) {
		return nil, nil, fmt.Errorf("give one --pve-token (or one --pve-user and --pve-password) per --pve-url: %d urls, %d tokens, %d users, %d passwords", len(urls), len(tokens), len(users), len(passwords))
	}
	if len(names) > 0 && len(names) != len(urls) {
		return nil, nil, fmt.Errorf("give one --pve-name per --pve-url, or none: %d urls, %d names", len(urls), len(names))
	}
	var out []pbsync.Target
	var weps []watch.Endpoint
	for i, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil, nil, fmt.Errorf("--pve-url %q: want https://host:8006", raw)
		}
		cfg := proxmox.Config{BaseURL: raw, VerifySSL: !insecure, Egress: pol}
		if len(tokens) == len(urls) {
			id, secret, ok := strings.Cut(tokens[i], "=")
			if !ok || !strings.Contains(id, "!") {
				return nil, nil, fmt.Errorf("--pve-token #%d: want USER@REALM!NAME=SECRET", i+1)
			}
			cfg.TokenID, cfg.TokenSecret = id, secret
		} else {
			cfg.Username, cfg.Password = users[i], passwords[i]
		}
		c, err := proxmox.New(cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("--pve-url %q: %w", raw, err)
		}
		name := ""
		if len(names) > 0 {
			if name = strings.TrimSpace(names[i]); name == "" {
				return nil, nil, fmt.Errorf("--pve-name #%d is empty", i+1)
			}
		}
		ep, err := pbsync.InlineEndpoint(int64(i+1), raw, name)
		if err != nil {
			return nil, nil, fmt.Errorf("--pve-url: %w", err)
		}
		out = append(out, pbsync.Target{Endpoint: ep, Read: func(ctx context.Context) (*inventory.Snapshot, error) {
			if pbsync.PluginAbsent(ctx) {
				return c.Read(ctx, ep, syncrun.WithoutPluginReads(read))
			}
			return c.Read(ctx, ep, read)
		}})
		weps = append(weps, watch.Endpoint{Endpoint: ep, Source: c})
	}
	return out, weps, nil
}

// inlineNetBox builds the client of --netbox-url with the configured tuning
// (PROXBOX_NETBOX_TIMEOUT, _MAX_RETRIES, _BATCH_SIZE, _WRITE_CONCURRENCY) and
// the outbound target policy, logging to log (--log-level), as the stored-endpoint
// path does.
func inlineNetBox(raw, token string, insecure bool, t syncrun.NetBoxTuning, pol *egress.Policy, log *slog.Logger) (*netbox.Client, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--netbox-url %q: want http(s)://host[:port]", raw)
	}
	cfg := netbox.Config{URL: raw, Token: token, TokenVersion: "v1", VerifySSL: !insecure, Version: version, Egress: pol,
		Timeout: t.Timeout, MaxRetries: t.MaxRetries, RetryBase: t.RetryBase, BatchSize: t.BatchSize, Concurrency: t.Concurrency,
		Logger: log.With("module", "netbox")}
	if strings.HasPrefix(token, "nbt_") {
		key, secret, ok := strings.Cut(strings.TrimPrefix(token, "nbt_"), ".")
		if !ok {
			return nil, errors.New("--netbox-token: a v2 token looks like nbt_KEY.SECRET")
		}
		cfg.TokenVersion, cfg.TokenKey, cfg.Token = "v2", key, secret
	}
	if insecure {
		cfg.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, IdleConnTimeout: 90 * time.Second} //nolint:gosec // --netbox-insecure
	}
	return netbox.New(cfg)
}

func printSummary(w io.Writer, s *pbsync.Summary, dry bool) {
	if dry && s.Plan != nil {
		fmt.Fprintln(w, "Plan (dry run, nothing written):")
		_ = s.Plan.Print(w)
		fmt.Fprintln(w)
	}
	state := "ok"
	switch {
	case !s.OK:
		state = "FAILED"
	case s.Partial:
		state = "partial"
	}
	fmt.Fprintf(w, "sync %s in %d ms: NetBox %d requests, %d writes; Proxmox %d requests\n", state, s.DurationMS, s.NetBox.Requests, s.NetBox.Writes, s.Proxmox.Requests)
	if len(s.NetBox.BatchSizes) > 0 {
		paths := make([]string, 0, len(s.NetBox.BatchSizes))
		for p := range s.NetBox.BatchSizes {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		parts := make([]string, len(paths))
		for i, p := range paths {
			parts[i] = fmt.Sprintf("%s %d", strings.TrimSuffix(strings.TrimPrefix(p, "/api/"), "/"), s.NetBox.BatchSizes[p])
		}
		fmt.Fprintf(w, "  NetBox bulk write sizes: %s\n", strings.Join(parts, ", "))
	}
	types := make([]string, 0, len(s.Objects))
	for typ := range s.Objects {
		types = append(types, typ)
	}
	sort.Strings(types)
	for _, typ := range types {
		c := s.Objects[typ]
		fmt.Fprintf(w, "  %-22s created %d, updated %d, unchanged %d, orphaned %d, deleted %d, failed %d, skipped %d\n", typ, c.Created, c.Updated, c.Unchanged, c.Orphaned, c.Deleted, c.Failed, c.Skipped)
	}
	for _, e := range s.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
	for _, e := range s.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", e)
	}
}
