package netbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/proxbox/proxbox/egress"
	"github.com/proxbox/proxbox/netbox/getcache"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout     = 120 * time.Second
	DefaultMaxRetries  = 5
	DefaultRetryBase   = 500 * time.Millisecond
	DefaultMaxBackoff  = 60 * time.Second
	DefaultBatchSize   = 200
	DefaultConcurrency = 4
	// PageSize is the limit List asks for: NetBox's default MAX_PAGE_SIZE.
	PageSize = 1000
)

// Config configures a Client. URL and Token are required.
type Config struct {
	URL          string // https://netbox.example:443 (scheme://host:port, no /api)
	TokenVersion string // "v1" (default) -> "Token <Token>"; "v2" -> "Bearer nbt_<TokenKey>.<Token>"
	Token        string
	TokenKey     string
	VerifySSL    bool
	RootCAs      *x509.CertPool // extra trust in addition to the system roots (the lab's self-signed cert)
	Timeout      time.Duration  // per request attempt; default 120s
	MaxRetries   int            // default 5; a negative value means no retries
	RetryBase    time.Duration  // default 500ms; exponential backoff with full jitter
	BatchSize    int            // objects per bulk write request, default 200
	Concurrency  int            // requests in flight, default 4
	Cache        *getcache.Cache
	Transport    http.RoundTripper // base transport; when set, VerifySSL and RootCAs are its business
	Logger       *slog.Logger

	// Additions to the agreed API.

	// MaxBackoff caps one wait between attempts, including a Retry-After; default 60s.
	MaxBackoff time.Duration
	// Version goes into the User-Agent "proxbox/<Version>"; default "dev".
	Version string
	// Egress is the outbound target policy every connection is checked
	// with (after DNS, on redirects too); nil: the default policy. It applies
	// to the default transport and to an *http.Transport given as Transport;
	// any other Transport must dial through it itself.
	Egress *egress.Policy
}

// Object is a JSON object as NetBox sends and accepts it. Numbers decode as float64.
type Object = map[string]any

// Client talks to one NetBox. It is safe for concurrent use.
type Client struct {
	cfg    Config
	base   *url.URL // scheme://host[:port][/prefix], no trailing slash
	auth   string   // Authorization header value; never logged
	ua     string
	http   *http.Client
	log    *slog.Logger
	sem    chan struct{}
	stats  counters
	sizer  batchSizer
	sleep  func(ctx context.Context, d time.Duration) error // replaced in tests
	jitter func(n int64) int64                              // rand in [0, n); replaced in tests
}

type counters struct {
	requests, writes, retries atomic.Int64
}

// Stats are counters since New. Requests and Writes count requests that reached the network
// (GET cache hits are not counted); Writes are the POST, PUT, PATCH and DELETE among them;
// Retries counts attempts after the first (including a create re-sent after its lookup).
type Stats struct {
	Requests int64 `json:"requests"`
	Writes   int64 `json:"writes"`
	Retries  int64 `json:"retries"`
}

// Stats returns the counters; safe for concurrent use.
func (c *Client) Stats() Stats {
	return Stats{Requests: c.stats.requests.Load(), Writes: c.stats.writes.Load(), Retries: c.stats.retries.Load()}
}

type freshKey struct{}

// FreshRead marks ctx so that List (and Status) bypass the GET cache and read from NetBox. The
// answer still refreshes the cache.
func FreshRead(ctx context.Context) context.Context {
	return context.WithValue(ctx, freshKey{}, true)
}

func isFresh(ctx context.Context) bool {
	v, _ := ctx.Value(freshKey{}).(bool)
	return v
}

// New validates cfg, applies defaults and builds the client. It makes no request.
func New(cfg Config) (*Client, error) {
	base, err := parseBaseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	auth, err := authHeader(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	c := &Client{
		cfg:    cfg,
		base:   base,
		auth:   auth,
		ua:     "proxbox/" + cfg.Version,
		log:    lg.With("component", "netbox", "netbox_url", base.String()),
		sem:    make(chan struct{}, cfg.Concurrency),
		sleep:  sleepCtx,
		jitter: rand.Int64N,
	}
	var rt http.RoundTripper = &countingTransport{base: baseTransport(cfg), c: c}
	if cfg.Cache != nil {
		rt = &getcache.Transport{Base: rt, Cache: cfg.Cache, Endpoint: base.String()}
	}
	c.http = &http.Client{
		Transport: rt,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			// Follow a GET redirect on the same host (a missing slash); never redirect a write
			// or send the token elsewhere.
			if req.Method != http.MethodGet || len(via) >= 5 || req.URL.Host != base.Host {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	return c, nil
}

// URL returns the configured base URL (scheme://host[:port]).
func (c *Client) URL() string { return c.base.String() }

func parseBaseURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, errors.New("netbox: URL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("netbox: parse URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("netbox: URL %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("netbox: URL %q has no host", raw)
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/api")
	return &url.URL{Scheme: u.Scheme, Host: u.Host, Path: p}, nil
}

// authHeader builds the Authorization value (peers-and-fixtures.md B.6 item 1).
func authHeader(cfg Config) (string, error) {
	tok := strings.TrimSpace(cfg.Token)
	if tok == "" {
		return "", errors.New("netbox: token is required")
	}
	switch strings.ToLower(strings.TrimSpace(cfg.TokenVersion)) {
	case "", "v1":
		return "Token " + tok, nil
	case "v2":
		if strings.HasPrefix(tok, "nbt_") && strings.Contains(tok, ".") {
			return "Bearer " + tok, nil // the full "nbt_<key>.<secret>" was given as Token
		}
		key := strings.TrimSpace(cfg.TokenKey)
		if key == "" {
			return "", errors.New("netbox: v2 token needs TokenKey")
		}
		if !strings.HasPrefix(key, "nbt_") {
			key = "nbt_" + key
		}
		return "Bearer " + key + "." + tok, nil
	default:
		return "", fmt.Errorf("netbox: token version %q: want v1 or v2", cfg.TokenVersion)
	}
}

func baseTransport(cfg Config) http.RoundTripper {
	pol := cfg.Egress
	if pol == nil {
		pol = &egress.Policy{}
	}
	if t, ok := cfg.Transport.(*http.Transport); ok {
		return pol.Guard(t.Clone())
	}
	if cfg.Transport != nil {
		return cfg.Transport
	}
	t := pol.Transport()
	t.MaxIdleConns = 4 * cfg.Concurrency
	t.MaxIdleConnsPerHost = 2 * cfg.Concurrency
	t.TLSClientConfig = tlsConfig(cfg)
	return t
}

// tlsConfig trusts the system roots plus cfg.RootCAs, or nothing when VerifySSL is off.
func tlsConfig(cfg Config) *tls.Config {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if !cfg.VerifySSL {
		tc.InsecureSkipVerify = true // the operator chose verify_ssl=false
		return tc
	}
	if cfg.RootCAs == nil {
		return tc
	}
	extra := cfg.RootCAs
	// Verify ourselves so that the extra pool adds to the system roots instead of replacing them.
	tc.InsecureSkipVerify = true
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("netbox: server sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		opts := x509.VerifyOptions{DNSName: cs.ServerName, Intermediates: inter}
		_, sysErr := cs.PeerCertificates[0].Verify(opts)
		if sysErr == nil {
			return nil
		}
		opts.Roots = extra
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
		}
		return nil
	}
	return tc
}

// countingTransport sits under the cache: it sees only requests that go to the network.
type countingTransport struct {
	base http.RoundTripper
	c    *Client
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.c.stats.requests.Add(1)
	if req.Method != http.MethodGet && req.Method != http.MethodHead && req.Method != "" {
		t.c.stats.writes.Add(1)
	}
	return t.base.RoundTrip(req)
}

// Attempt is one try of a request made outside the client's own methods (package netbox/nbapi
// speaks through go-netbox's generated client): status is the HTTP status (0 when no answer
// came), hdr and body those of a failed answer, err the failure.
type Attempt func(ctx context.Context) (status int, hdr http.Header, body []byte, err error)

// Read runs a read through the client's concurrency bound and retry policy, as List does: 429,
// 5xx and connection errors are tried again with backoff up to Config.MaxRetries times; a
// failed answer comes back as *APIError, a failed connection as the transport error. method and
// path label the logs. try's requests must go through HTTPClient.
func (c *Client) Read(ctx context.Context, method, path string, try Attempt) error {
	for attempt := 0; ; attempt++ {
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		status, hdr, body, err := try(ctx)
		<-c.sem
		if status >= 200 && status < 300 {
			return err // an answer that came but could not be used is not retried
		}
		var failure error
		if status != 0 {
			failure = newAPIError(status, body)
		} else {
			failure = err
		}
		retry := status == 0 && retryableTransportError(err) || retryableStatus(status)
		if ctx.Err() != nil || !retry || attempt >= c.cfg.MaxRetries {
			return failure
		}
		if err := c.backoff(ctx, method, path, attempt, status, hdr, failure); err != nil {
			return err
		}
	}
}

// HTTPClient returns an HTTP client that sends requests as this client does: with its
// Authorization, User-Agent, Accept and Accept-Language headers, its TLS settings and timeout,
// through its request counters and the GET cache. Its requests are not bounded or retried unless
// they run inside Read. The base URL is URL().
func (c *Client) HTTPClient() *http.Client {
	return &http.Client{Transport: headerTransport{c: c}, Timeout: c.http.Timeout, CheckRedirect: c.http.CheckRedirect}
}

// headerTransport sets the client's headers on requests built elsewhere.
type headerTransport struct{ c *Client }

func (t headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	t.c.setHeaders(r)
	return t.c.http.Transport.RoundTrip(r)
}
