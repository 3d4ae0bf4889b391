package proxmox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Raw performs one GET of path (below /api2/json) and returns the reply's
// "data" member as it came, for callers that pass Proxmox data through
// (the plugin's read routes).
func (c *Client) Raw(ctx context.Context, path string, query url.Values) (json.RawMessage, error) {
	return c.passThrough(ctx, http.MethodGet, path, query)
}

// Post sends one POST (a write: the caller decides whether writes are allowed) with
// params as its form and returns the reply's "data".
func (c *Client) Post(ctx context.Context, path string, params url.Values) (json.RawMessage, error) {
	return c.passThrough(ctx, http.MethodPost, path, params)
}

// passThrough sends one request after the session is ready and returns the
// reply's "data" as it came; an APIError names the request's method.
func (c *Client) passThrough(ctx context.Context, method, path string, params url.Values) (json.RawMessage, error) {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if err := c.ensureSession(ctx); err != nil {
		return nil, err
	}
	c.authMu.RLock()
	defer c.authMu.RUnlock()
	d, err := c.send(ctx, method, path, params, c.cfg.Timeout)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && method != http.MethodGet {
			ae.Method = method
		}
		return nil, err
	}
	return json.RawMessage(d), nil
}

// Pool keeps one Client per endpoint key and rebuilds it when the
// endpoint's configuration changes. Safe for concurrent use.
type Pool struct {
	mu      sync.Mutex
	clients map[string]pooled
}

type pooled struct {
	sig    string
	client *Client
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{clients: map[string]pooled{}} }

// Client returns the pooled client for key, building it from cfg when
// absent or when cfg changed since it was built.
func (p *Pool) Client(key string, cfg Config) (*Client, error) {
	sig := fmt.Sprintf("%s|%s|%s|%s|%s|%v|%s|%v|%v|%d|%d|%p|%p", cfg.BaseURL, cfg.TokenID, cfg.TokenSecret, cfg.Username, cfg.Password,
		cfg.VerifySSL, cfg.Fingerprint, cfg.Timeout, cfg.AgentTimeout, cfg.Concurrency, cfg.Retries, cfg.RootCAs, cfg.Transport)
	p.mu.Lock()
	defer p.mu.Unlock()
	if pc, ok := p.clients[key]; ok && pc.sig == sig {
		return pc.client, nil
	}
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	p.clients[key] = pooled{sig: sig, client: c}
	return c, nil
}
