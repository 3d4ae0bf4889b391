package proxmox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goprox "github.com/luthermonson/go-proxmox"

	"github.com/proxbox/proxbox/egress"
)

// Defaults of Config.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultAgentTimeout = 60 * time.Second
	DefaultConcurrency  = 8
	// sessionRefresh is how old a ticket may get before Read renews it (before going
	// parallel). PVE tickets live 2 h; go-proxmox considers them stale after 1 h.
	sessionRefresh = 15 * time.Minute
	// maxBody bounds one reply (a 10,000-guest /cluster/resources is about 5 MB).
	maxBody = 256 << 20
)

// Backoff bounds of go-proxmox's retry (full jitter, doubling); variables so tests run fast.
var (
	retryInitial = 200 * time.Millisecond
	retryMax     = 5 * time.Second
)

// Config describes one Proxmox endpoint and how to talk to it.
type Config struct {
	// BaseURL is https://host:8006 (a trailing /api2/json is accepted).
	BaseURL string
	// TokenID is USER@REALM!NAME; TokenSecret its UUID. A TokenID of the form
	// "USER@REALM!NAME=SECRET" (optionally prefixed "PVEAPIToken=") is split. A token is
	// preferred over Username/Password when both are set.
	TokenID, TokenSecret string
	// Username (USER@REALM) and Password log in with a ticket.
	Username, Password string
	// VerifySSL checks the certificate chain against RootCAs (or the system pool).
	VerifySSL bool
	RootCAs   *x509.CertPool
	// Fingerprint pins the server's leaf certificate by SHA-256 (hex, with or without
	// colons, any case, as PVE shows it). When set, the chain is not verified, the pin is.
	Fingerprint string
	// Timeout bounds each request (all retries included); default 30 s. AgentTimeout
	// bounds guest-agent requests; default 60 s.
	Timeout, AgentTimeout time.Duration
	// Concurrency bounds the parallel per-node and per-guest requests of a Read
	// (fetch_max_concurrency), default 8. The three cluster-wide reads that start a Read
	// (/cluster/status, /cluster/resources, /version) always run together.
	Concurrency int
	// Transport is an optional base RoundTripper (e.g. for metrics). An *http.Transport is
	// cloned and gets the TLS settings above; any other RoundTripper is used as is and must
	// do its own TLS.
	Transport http.RoundTripper
	// Retries is the number of attempts for 429/502/503/504 and connection errors
	// (go-proxmox's retry); default 3, 1 disables retrying.
	Retries int
	// Wrap, when set, wraps the finished transport (TLS settings applied),
	// e.g. to count requests in metrics.
	Wrap   func(http.RoundTripper) http.RoundTripper
	Logger *slog.Logger
	// Egress is the outbound target policy every connection is checked
	// with (after DNS resolution); nil: the default policy. It applies to the
	// default transport and to an *http.Transport given as Transport.
	Egress *egress.Policy
}

// Client reads one Proxmox endpoint. It is safe for concurrent use.
type Client struct {
	cfg     Config
	base    string // https://host:8006/api2/json
	pve     *goprox.Client
	log     *slog.Logger
	session bool // ticket auth

	// authMu: a Read holds it shared while it makes requests; creating or renewing the
	// ticket holds it exclusively, so go-proxmox never swaps the session under a request.
	authMu    sync.RWMutex
	sessionAt time.Time
}

// New checks cfg and builds a Client. It makes no request.
func New(cfg Config) (*Client, error) {
	base, err := normaliseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.AgentTimeout <= 0 {
		cfg.AgentTimeout = DefaultAgentTimeout
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tokenID, secret := splitToken(cfg.TokenID, cfg.TokenSecret)
	useToken := tokenID != "" && secret != ""
	if !useToken && (cfg.Username == "" || cfg.Password == "") {
		return nil, fmt.Errorf("proxmox %s: no credentials: set an API token (USER@REALM!NAME and secret) or username and password", base)
	}
	if useToken && !strings.Contains(tokenID, "!") {
		return nil, fmt.Errorf("proxmox %s: token id %q: want USER@REALM!NAME", base, tokenID)
	}
	pin, err := parseFingerprint(cfg.Fingerprint)
	if err != nil {
		return nil, fmt.Errorf("proxmox %s: %w", base, err)
	}

	rt, err := buildTransport(cfg, pin)
	if err != nil {
		return nil, fmt.Errorf("proxmox %s: %w", base, err)
	}
	hc := &http.Client{
		Transport: &captureTransport{base: rt},
		// A backstop only: every request also carries its own context deadline.
		Timeout: max(cfg.Timeout, cfg.AgentTimeout) + 5*time.Second,
		// PVE does not redirect API calls; following one could leak the token.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	opts := []goprox.Option{
		goprox.WithHTTPClient(hc),
		goprox.WithUserAgent("proxbox"),
		goprox.WithLogger(slogLeveled{cfg.Logger}),
		goprox.WithRetry(goprox.WithRetryMax(cfg.Retries), goprox.WithRetryBackoff(retryInitial, retryMax), goprox.WithRetryCondition(retryable)),
	}
	c := &Client{cfg: cfg, base: base, log: cfg.Logger}
	if useToken {
		opts = append(opts, goprox.WithAPIToken(tokenID, secret))
	} else {
		opts = append(opts, goprox.WithCredentials(&goprox.Credentials{Username: cfg.Username, Password: cfg.Password}))
		c.session = true
	}
	if err := safely(func() error { c.pve = goprox.NewClient(base, opts...); return nil }); err != nil {
		return nil, fmt.Errorf("proxmox %s: %w", base, err)
	}
	return c, nil
}

// BaseURL is the API root the client talks to (…/api2/json).
func (c *Client) BaseURL() string { return c.base }

func normaliseBaseURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("proxmox: empty base URL")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("proxmox: base URL %q: %w", s, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("proxmox: base URL %q: scheme must be https or http", s)
	}
	if u.Host == "" {
		return "", fmt.Errorf("proxmox: base URL %q: no host", s)
	}
	if u.Port() == "" && u.Scheme == "https" {
		u.Host += ":8006"
	}
	p := strings.TrimSuffix(u.Path, "/")
	p = strings.TrimSuffix(p, "/api2/json")
	u.Path = p + "/api2/json"
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String(), nil
}

// splitToken accepts "ID", "ID=SECRET" and "PVEAPIToken=ID=SECRET".
func splitToken(id, secret string) (string, string) {
	id = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(id), "PVEAPIToken="))
	if i, s, ok := strings.Cut(id, "="); ok && secret == "" {
		return i, s
	}
	return id, strings.TrimSpace(secret)
}

// parseFingerprint turns "AA:BB:…" or "aabb…" into 32 bytes; "" means no pin.
func parseFingerprint(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	h := strings.NewReplacer(":", "", " ", "", "-", "").Replace(s)
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("fingerprint %q: want a SHA-256 fingerprint (64 hex digits)", s)
	}
	return b, nil
}

func buildTransport(cfg Config, pin []byte) (http.RoundTripper, error) {
	var t *http.Transport
	switch b := cfg.Transport.(type) {
	case nil:
		t = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		t = b.Clone()
	default:
		return b, nil
	}
	pol := cfg.Egress
	if pol == nil {
		pol = &egress.Policy{}
	}
	pol.Guard(t)
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.TLSClientConfig != nil {
		tc = t.TLSClientConfig.Clone()
	}
	switch {
	case pin != nil:
		tc.InsecureSkipVerify = true // the pin replaces chain verification
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: no server certificate to check the pinned fingerprint")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if subtle.ConstantTimeCompare(sum[:], pin) != 1 {
				return fmt.Errorf("tls: server certificate fingerprint %s does not match the pinned one", fingerprintString(sum[:]))
			}
			return nil
		}
	case !cfg.VerifySSL:
		tc.InsecureSkipVerify = true
	default:
		tc.RootCAs = cfg.RootCAs
	}
	t.TLSClientConfig = tc
	t.MaxIdleConnsPerHost = max(cfg.Concurrency, DefaultConcurrency) + 2
	// pveproxy speaks HTTP/1.1 and so does this client: offer only that in the TLS
	// handshake. A cloned transport may carry NextProtos [h2 http/1.1] (http.DefaultTransport
	// gets them on its first use) while HTTP/2 is off; an h2-capable reverse proxy in front
	// of Proxmox would then choose h2 and every request would fail with EOF.
	t.Protocols = new(http.Protocols)
	t.Protocols.SetHTTP1(true)
	t.ForceAttemptHTTP2 = false
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	tc.NextProtos = []string{"http/1.1"}
	if cfg.Wrap != nil {
		return cfg.Wrap(t), nil
	}
	return t, nil
}

func fingerprintString(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, ":")
}

// ---------------------------------------------------------------------------------------
// per-request capture: status line, body and request counting

type ctxKey int

const (
	callKey ctxKey = iota
	counterKey
)

// call records the last HTTP exchange of one logical request (go-proxmox's retries and
// its lazy login go through the same context; the last answer wins).
type call struct {
	mu     sync.Mutex
	status int
	reason string
	body   []byte
	tooBig bool
}

// captureTransport sits under go-proxmox's retry wrapper: it sees every attempt, counts
// it, and keeps the reply so we can map errors from the status line and decode the body
// ourselves (go-proxmox turns some statuses into a nil error with an empty value).
type captureTransport struct{ base http.RoundTripper }

func (t *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if n, ok := req.Context().Value(counterKey).(*atomic.Int64); ok {
		n.Add(1)
	}
	res, err := t.base.RoundTrip(req)
	cl, _ := req.Context().Value(callKey).(*call)
	if err != nil || cl == nil {
		return res, err
	}
	body, rerr := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	_ = res.Body.Close()
	if rerr != nil {
		return nil, fmt.Errorf("read reply: %w", rerr)
	}
	cl.mu.Lock()
	cl.status = res.StatusCode
	cl.reason = statusReason(res)
	cl.tooBig = len(body) > maxBody
	if cl.tooBig {
		body = nil
	}
	cl.body = body
	cl.mu.Unlock()
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, nil
}

// statusReason is the text after the code in the status line; PVE puts its error there.
func statusReason(res *http.Response) string {
	s := strings.TrimSpace(res.Status)
	if code, rest, ok := strings.Cut(s, " "); ok && code == fmt.Sprint(res.StatusCode) {
		return strings.TrimSpace(rest)
	}
	return s
}

// retryable is go-proxmox's default condition (connection errors, 429, 502, 503, 504)
// minus certificate failures, which do not heal by asking again. PVE's own 500 carries
// an answer ("VM 105 is not running") and is never retried.
func retryable(res *http.Response, err error) bool {
	if err != nil {
		var cv *tls.CertificateVerificationError
		var ua x509.UnknownAuthorityError
		var hn x509.HostnameError
		var ci x509.CertificateInvalidError
		if errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) ||
			strings.Contains(err.Error(), "fingerprint") {
			return false
		}
		return true
	}
	if res == nil {
		return false
	}
	switch res.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// safely runs f and turns a panic into an error.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	return f()
}

// get performs one GET through go-proxmox and returns the reply's "data", or an error
// mapped from the status line.
func (c *Client) get(ctx context.Context, path string, query url.Values, timeout time.Duration) (data []byte, err error) {
	return c.send(ctx, http.MethodGet, path, query, timeout)
}

// send performs one request (GET with query, or POST with query as its form) and returns
// the reply's "data", or an error mapped from the status line.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, timeout time.Duration) (data []byte, err error) {
	cl := &call{}
	ctx = context.WithValue(ctx, callKey, cl)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p := path
	if len(query) > 0 && method == http.MethodGet {
		p += "?" + query.Encode()
	}
	gerr := safely(func() error {
		if method == http.MethodPost {
			form := map[string]string{}
			for k := range query {
				form[k] = query.Get(k)
			}
			return c.pve.Post(ctx, p, form, nil)
		}
		return c.pve.Get(ctx, p, nil)
	})
	cl.mu.Lock()
	status, reason, body, tooBig := cl.status, cl.reason, cl.body, cl.tooBig
	cl.mu.Unlock()
	switch {
	case errors.Is(gerr, ErrPanic):
		return nil, c.apiErr(p, 0, gerr.Error(), gerr)
	case status == 0 && gerr != nil:
		if ctx.Err() != nil && errors.Is(gerr, context.DeadlineExceeded) {
			return nil, c.apiErr(p, 0, fmt.Sprintf("timed out after %s", timeout), gerr)
		}
		return nil, c.apiErr(p, 0, "request failed", gerr)
	case status == 0:
		return nil, c.apiErr(p, 0, "no reply", nil)
	case status < 200 || status > 299:
		return nil, c.apiErr(p, status, reason, nil)
	case tooBig:
		return nil, c.apiErr(p, status, fmt.Sprintf("reply larger than %d bytes", maxBody), nil)
	}
	d, derr := envelope(body)
	if derr != nil {
		return nil, c.apiErr(p, status, "malformed reply", derr)
	}
	return d, nil
}

// ensureSession creates (or renews) the ticket before a Read goes parallel. It must be
// called without holding authMu.
func (c *Client) ensureSession(ctx context.Context) error {
	if !c.session {
		return nil
	}
	c.authMu.RLock()
	fresh := !c.sessionAt.IsZero() && time.Since(c.sessionAt) < sessionRefresh
	c.authMu.RUnlock()
	if fresh {
		return nil
	}
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if !c.sessionAt.IsZero() && time.Since(c.sessionAt) < sessionRefresh {
		return nil
	}
	cl := &call{}
	ctx = context.WithValue(ctx, callKey, cl)
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	err := safely(func() error {
		if c.sessionAt.IsZero() {
			return c.pve.CreateSession(ctx)
		}
		if err := c.pve.RefreshTicket(ctx); err == nil {
			return nil
		}
		_, err := c.pve.Ticket(ctx, &goprox.Credentials{Username: c.cfg.Username, Password: c.cfg.Password})
		return err
	})
	if errors.Is(err, goprox.ErrSessionExists) {
		err = nil
	}
	cl.mu.Lock()
	status, reason := cl.status, cl.reason
	cl.mu.Unlock()
	if status >= 400 {
		return c.apiErr("/access/ticket", status, reason, nil)
	}
	if err != nil {
		return c.apiErr("/access/ticket", 0, "login failed", err)
	}
	c.sessionAt = time.Now()
	return nil
}

// slogLeveled adapts slog to go-proxmox's logger. Its debug output (request and reply
// bodies) is dropped: bodies can be large and are not ours to log.
type slogLeveled struct{ l *slog.Logger }

func (s slogLeveled) Debugf(string, ...any) {}
func (s slogLeveled) Infof(f string, v ...any) {
	s.l.Debug("go-proxmox: " + fmt.Sprintf(f, v...))
}
func (s slogLeveled) Warnf(f string, v ...any) { s.l.Warn("go-proxmox: " + fmt.Sprintf(f, v...)) }
func (s slogLeveled) Errorf(f string, v ...any) {
	s.l.Error("go-proxmox: " + fmt.Sprintf(f, v...))
}
