package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/proxbox/proxbox/config"
	"github.com/proxbox/proxbox/egress"
	"github.com/proxbox/proxbox/metrics"
	"github.com/proxbox/proxbox/netbox/getcache"
	"github.com/proxbox/proxbox/proxmox"
	"github.com/proxbox/proxbox/store"
	pbsync "github.com/proxbox/proxbox/sync"
	"github.com/proxbox/proxbox/syncrun"
)

// proxmoxConfig turns a stored endpoint into the adapter's configuration:
// the domain when set, else the IP address; a token when both parts are
// set, else the password.
func proxmoxConfig(ep store.ProxmoxEndpoint, reg *metrics.Registry, pol *egress.Policy) proxmox.Config {
	host := ep.Domain
	if host == "" {
		host = ep.IPAddress
	}
	cfg := proxmox.Config{
		BaseURL:   "https://" + net.JoinHostPort(host, strconv.Itoa(ep.Port)),
		VerifySSL: ep.VerifySSL,
		Egress:    pol,
	}
	if ep.TokenName != "" && ep.TokenValue.IsSet() {
		id := ep.Username + "!" + ep.TokenName
		if strings.Contains(ep.TokenName, "!") { // already the full USER@REALM!NAME
			id = ep.TokenName
		}
		cfg.TokenID, cfg.TokenSecret = id, ep.TokenValue.Reveal()
	} else {
		cfg.Username, cfg.Password = ep.Username, ep.Password.Reveal()
	}
	if ep.TimeoutSeconds > 0 {
		cfg.Timeout = time.Duration(ep.TimeoutSeconds) * time.Second
	}
	if ep.MaxRetries > 0 {
		cfg.Retries = ep.MaxRetries + 1
	}
	if reg != nil {
		cfg.Wrap = func(t http.RoundTripper) http.RoundTripper { return reg.InstrumentTransport("proxmox", t) }
	}
	return cfg
}

// proxmoxReads serves the plugin's Proxmox read routes from pooled clients.
type proxmoxReads struct {
	pool *proxmox.Pool
	reg  *metrics.Registry
	pol  *egress.Policy
}

func (p proxmoxReads) Get(ctx context.Context, ep store.ProxmoxEndpoint, path string, q url.Values) (json.RawMessage, error) {
	cfg := proxmoxConfig(ep, p.reg, p.pol)
	c, err := p.pool.Client(strconv.FormatInt(ep.ID, 10), cfg)
	if err != nil {
		return nil, err
	}
	raw, err := c.Raw(ctx, path, q)
	if fb, ok := syncrun.FallbackToIP(cfg, ep); ok && errors.Is(err, proxmox.ErrUnreachable) {
		// The domain first, then the IP address, as proxbox-api did.
		fc, ferr := p.pool.Client(strconv.FormatInt(ep.ID, 10)+"/ip", fb)
		if ferr != nil {
			return nil, err
		}
		return fc.Raw(ctx, path, q)
	}
	return raw, err
}

// egressPolicy is the outbound target policy of every client the appliance
// builds (PROXBOX_ALLOWED_TARGETS).
func egressPolicy(cfg config.Config) *egress.Policy {
	return &egress.Policy{Allowed: cfg.AllowedTargets}
}

// syncDefaults turns the configuration's sync settings into the engine's default options.
func syncDefaults(cfg config.Config) pbsync.Options {
	o := pbsync.Options{
		Orphans:          pbsync.OrphanMode(cfg.Orphans),
		OrphanGrace:      cfg.OrphanGrace,
		BackupBatchSize:  cfg.BackupBatchSize,
		BackupBatchDelay: cfg.BackupBatchDelay,
		Map: pbsync.MapOptions{
			Site:                 cfg.DefaultSite,
			SkipTemplates:        cfg.SkipTemplates,
			ConfigInterfaceNames: !cfg.AgentInterfaceNames,
			IncludeIPv6LinkLocal: !cfg.IgnoreIPv6LinkLocal,
			PrimaryIP:            cfg.PrimaryIP,
			IPVRF:                cfg.IPVRF,
		},
	}
	// In the engine's options zero means "the default"; a configured 0 means "none".
	if o.OrphanGrace == 0 {
		o.OrphanGrace = -1 // delete at the first run that sees the orphan
	}
	if o.BackupBatchDelay == 0 {
		o.BackupBatchDelay = -1
	}
	return o
}

// cacheLimits are the NetBox GET cache limits of the configuration.
func cacheLimits(cfg config.Config) getcache.Limits {
	return getcache.Limits{TTL: cfg.CacheTTL, MaxEntries: cfg.CacheMaxEntries, MaxBytes: cfg.CacheMaxBytes}
}

// Post sends a write to the endpoint (the server refuses writes unless
// PROXBOX_PROXMOX_WRITES is on).
func (p proxmoxReads) Post(ctx context.Context, ep store.ProxmoxEndpoint, path string, params url.Values) (json.RawMessage, error) {
	c, err := p.pool.Client(strconv.FormatInt(ep.ID, 10), proxmoxConfig(ep, p.reg, p.pol))
	if err != nil {
		return nil, err
	}
	return c.Post(ctx, path, params)
}

// netboxTuning carries the NetBox client settings of the configuration.
func netboxTuning(cfg config.Config) syncrun.NetBoxTuning {
	retries := cfg.NetBoxRetries
	if retries == 0 {
		retries = -1 // 0 configured means no retry; the client reads 0 as its default
	}
	return syncrun.NetBoxTuning{
		Timeout:     time.Duration(cfg.NetBoxTimeout * float64(time.Second)),
		MaxRetries:  retries,
		RetryBase:   cfg.NetBoxRetryDelay,
		BatchSize:   cfg.NetBoxBatchSize,
		Concurrency: cfg.NetBoxWrites,
	}
}
