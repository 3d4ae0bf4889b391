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
	"github.com/proxbox/proxbox/proxmox"
	"github.com/proxbox/proxbox/store"
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
