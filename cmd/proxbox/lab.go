package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/proxbox/proxbox/applog"
	"github.com/proxbox/proxbox/lab"
	nbsim "github.com/proxbox/proxbox/lab/netbox"
	"github.com/proxbox/proxbox/lab/pve"
)

// labFlags are shared by `proxbox lab` and `proxbox demo`.
type labFlags struct {
	pveListen, netboxListen   string
	fixtures                  string
	scale                     int
	seed                      int64
	sharedRange               bool
	pveToken, netboxToken     string
	netboxTLS                 bool
	netboxLatency, pveLatency string
	netboxJitter, pveJitter   string
	netboxWriteCost           string
	netboxSlow, pveSlow       string
	netboxErrorRate           float64
	pveErrorRate              float64
	netboxResetRate           float64
	pveResetRate              float64
	netboxSlowRate            float64
	pveSlowRate               float64
	pveSlowAgent              string
	pveSlowAgentEvery         int
}

func (f *labFlags) register(fs interface {
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
	Int64Var(*int64, string, int64, string)
	BoolVar(*bool, string, bool, string)
	Float64Var(*float64, string, float64, string)
}, pveDefault, netboxDefault string, scale int) {
	fs.StringVar(&f.pveListen, "pve-listen", pveDefault, "address of the first Proxmox VE simulator; each further cluster takes the next port (empty: off)")
	fs.StringVar(&f.netboxListen, "netbox-listen", netboxDefault, "address of the NetBox simulator (empty: off)")
	fs.StringVar(&f.fixtures, "pve-fixtures", "", "serve this Proxmox fixture file (path -> reply JSON) instead of a generated lab")
	fs.IntVar(&f.scale, "scale", scale, "number of guests in the generated lab")
	fs.Int64Var(&f.seed, "seed", 1, "seed of the generated lab and of fault injection")
	fs.BoolVar(&f.sharedRange, "shared-range", false, "give every generated cluster the same private addresses (10.10.0.0/16), so the same address exists in several clusters")
	fs.StringVar(&f.pveToken, "pve-token", pve.DefaultToken, "Proxmox API token accepted, as USER@REALM!NAME=SECRET")
	fs.StringVar(&f.netboxToken, "netbox-token", lab.DefaultNetBoxToken, "NetBox token accepted (40 hex v1, or nbt_KEY.SECRET v2)")
	fs.BoolVar(&f.netboxTLS, "netbox-tls", false, "serve the NetBox simulator over HTTPS (self-signed)")
	fs.StringVar(&f.netboxLatency, "netbox-latency", "", "latency added to every NetBox request, e.g. 2ms")
	fs.StringVar(&f.pveLatency, "pve-latency", "", "latency added to every Proxmox request, e.g. 5ms")
	fs.StringVar(&f.netboxJitter, "netbox-jitter", "", "random extra latency up to this, per NetBox request")
	fs.StringVar(&f.pveJitter, "pve-jitter", "", "random extra latency up to this, per Proxmox request")
	fs.StringVar(&f.netboxWriteCost, "netbox-write-cost", "", "latency added per object a NetBox write creates, updates or deletes, e.g. 1ms")
	fs.Float64Var(&f.netboxErrorRate, "netbox-error-rate", 0, "share of NetBox requests answered 500/502/503/429 (0..1)")
	fs.Float64Var(&f.pveErrorRate, "pve-error-rate", 0, "share of Proxmox requests answered 500/502/503/429 (0..1)")
	fs.Float64Var(&f.netboxResetRate, "netbox-reset-rate", 0, "share of NetBox connections reset without a reply (0..1)")
	fs.Float64Var(&f.pveResetRate, "pve-reset-rate", 0, "share of Proxmox connections reset without a reply (0..1)")
	fs.Float64Var(&f.netboxSlowRate, "netbox-slow-rate", 0, "share of NetBox replies trickled out over --netbox-slow (0..1)")
	fs.Float64Var(&f.pveSlowRate, "pve-slow-rate", 0, "share of Proxmox replies trickled out over --pve-slow (0..1)")
	fs.StringVar(&f.netboxSlow, "netbox-slow", "1s", "how long a slow NetBox reply takes")
	fs.StringVar(&f.pveSlow, "pve-slow", "1s", "how long a slow Proxmox reply takes")
	fs.StringVar(&f.pveSlowAgent, "pve-slow-agent", "", "extra time the guest agent of some guests takes to answer, e.g. 1500ms")
	fs.IntVar(&f.pveSlowAgentEvery, "pve-slow-agent-every", 7, "the slow guest agents are those of guests whose vmid is a multiple of this")
}

func (f *labFlags) config(log *slog.Logger) (lab.Config, error) {
	var nl, pl, nj, pj, nw, ns, ps, sa time.Duration
	for name, v := range map[string]struct {
		raw string
		out *time.Duration
	}{
		"--netbox-latency": {f.netboxLatency, &nl}, "--pve-latency": {f.pveLatency, &pl},
		"--netbox-jitter": {f.netboxJitter, &nj}, "--pve-jitter": {f.pveJitter, &pj},
		"--netbox-write-cost": {f.netboxWriteCost, &nw}, "--netbox-slow": {f.netboxSlow, &ns}, "--pve-slow": {f.pveSlow, &ps},
		"--pve-slow-agent": {f.pveSlowAgent, &sa},
	} {
		d, err := lab.ParseDuration(v.raw)
		if err != nil {
			return lab.Config{}, fmt.Errorf("%s: %w", name, err)
		}
		*v.out = d
	}
	for name, r := range map[string]float64{"--netbox-error-rate": f.netboxErrorRate, "--pve-error-rate": f.pveErrorRate,
		"--netbox-reset-rate": f.netboxResetRate, "--pve-reset-rate": f.pveResetRate, "--netbox-slow-rate": f.netboxSlowRate, "--pve-slow-rate": f.pveSlowRate} {
		if r < 0 || r > 1 {
			return lab.Config{}, fmt.Errorf("%s=%v: allowed: a share from 0 to 1", name, r)
		}
	}
	if !strings.Contains(f.pveToken, "!") || !strings.Contains(f.pveToken, "=") {
		return lab.Config{}, fmt.Errorf("--pve-token=%q: allowed: USER@REALM!NAME=SECRET", f.pveToken)
	}
	if f.scale < 1 && f.fixtures == "" {
		return lab.Config{}, fmt.Errorf("--scale=%d: allowed: 1 or more guests", f.scale)
	}
	return lab.Config{
		PVEListen: f.pveListen, NetBoxListen: f.netboxListen, NetBoxTLS: f.netboxTLS,
		PVEFixtures: f.fixtures, Scale: f.scale, Seed: f.seed, SharedRange: f.sharedRange, PVEToken: f.pveToken, NetBoxToken: f.netboxToken,
		PVEFaults: pve.Faults{Latency: pl, Jitter: pj, ErrorRate: f.pveErrorRate, ResetRate: f.pveResetRate,
			SlowBodyRate: f.pveSlowRate, SlowBody: ps, Seed: f.seed, SlowAgent: sa, SlowAgentEvery: f.pveSlowAgentEvery},
		NetBoxFaults: nbsim.Faults{Latency: nl, Jitter: nj, WriteCost: nw, ErrorRate: f.netboxErrorRate, ResetRate: f.netboxResetRate,
			SlowBodyRate: f.netboxSlowRate, SlowBodyDelay: ns},
		Logger: log,
	}, nil
}

func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lab", "lab [flags]\n\nServes the Proxmox VE and NetBox simulators, prints one JSON line with their URLs and\ncredentials, and serves until interrupted. Statistics: GET /_lab/stats on each.", stderr)
	var f labFlags
	f.register(fs, "127.0.0.1:8006", "127.0.0.1:8080", 60)
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := applog.New(stderr, "text", applog.ParseLevel(*logLevel)).Logger()
	cfg, err := f.config(log)
	if err != nil {
		return err
	}
	if cfg.PVEListen == "" && cfg.NetBoxListen == "" {
		return errors.New("both simulators are off: set --pve-listen or --netbox-listen")
	}
	l, err := lab.Start(ctx, cfg)
	if err != nil {
		return err
	}
	line, _ := json.Marshal(l.Info)
	fmt.Fprintln(stdout, string(line))
	<-ctx.Done()
	return l.Wait()
}
