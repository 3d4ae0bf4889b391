// Package server owns the appliance's HTTP surface: the echo application
// with its middleware (request ids, logging, recovery, limits, auth, CORS),
// the routes the netbox-proxbox plugin calls, and the http.Server that serves
// them with graceful shutdown. Handlers stay thin: they validate input and
// call store/, sync/ and the other domain packages. It must not write SQL,
// talk to Proxmox or NetBox directly, or hold TLS policy (certs/ does).
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/proxbox/proxbox/config"
	"github.com/proxbox/proxbox/egress"
	"github.com/proxbox/proxbox/netbox/getcache"
	"github.com/proxbox/proxbox/static"
	"github.com/proxbox/proxbox/store"
	"github.com/proxbox/proxbox/watch"
)

// APILevel is the proxbox-api API level this server implements; the newer
// plugin refuses backends below 0.0.13.
const APILevel = "0.0.20"

// Build identifies the binary.
type Build struct {
	Version string
	Commit  string
}

// Options wires a Server.
type Options struct {
	Config config.Config
	Store  *store.Store
	Logger *slog.Logger
	Build  Build
	// UI, when set, is mounted at /ui/ and browsers asking / for HTML are
	// sent there. It authenticates its own pages.
	UI http.Handler
	// Cache is the NetBox GET cache behind /cache*; CacheDefaults are the
	// limits from the environment that DELETE /cache/settings returns to.
	Cache         *getcache.Cache
	CacheDefaults getcache.Limits
	// Sync runs the plugin's stage streams and /full-update.
	Sync Syncer
	// Proxmox reads Proxmox endpoints for the /proxmox/* read routes.
	Proxmox ProxmoxAPI
	// Metrics serves GET /metrics (Prometheus exposition); protected by the
	// API key unless PROXBOX_METRICS_PUBLIC is set.
	Metrics http.Handler
	// Logs feeds the live log stream (/admin/logs/stream).
	Logs LogSource
	// CARootPEM, when set, returns the local CA's root certificate, served
	// without auth at /ca.pem (nil result: 404).
	CARootPEM func() []byte
	// Keepalive is the silence allowed on a stream before a ": keepalive"
	// comment (default 15 s).
	Keepalive time.Duration
	// Watch returns the watch's per-endpoint status (GET /sync/watch); nil:
	// the watch is off.
	Watch func() []watch.Status
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// Egress checks endpoint hosts (nil: the policy of
	// Config.AllowedTargets with the system resolver).
	Egress *egress.Policy
	// SetupCode, when set, is announced on the console whenever the last
	// key is deleted or deactivated (the dashboard's setup asks for it).
	SetupCode *SetupCode
}

// Server is the appliance's HTTP application.
type Server struct {
	opt   Options
	cfg   config.Config
	store *store.Store
	log   *slog.Logger
	e     *echo.Echo
	now   func() time.Time
	// exempt lists the exact paths served without an API key.
	exempt map[string]bool
	// sessions accept dashboard sign-ins beside the API key.
	sessions []SessionChecker
	// logs signs the short-lived tokens of the log URLs.
	logs *logSigner
	// egress is the outbound target policy endpoint hosts are checked with.
	egress *egress.Policy
	// authLocks serialize authentication per client (striped by address).
	authLocks [64]sync.Mutex
	// hashSlot bounds the bcrypt hashing of the bootstrap to one at a time.
	hashSlot chan struct{}
	// bootLimit rate-limits the bootstrap routes per client.
	bootLimit middleware.RateLimiterStore
}

// New builds the echo application with every route and middleware.
func New(opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Keepalive <= 0 {
		opt.Keepalive = DefaultKeepalive
	}
	if opt.Egress == nil {
		opt.Egress = &egress.Policy{Allowed: opt.Config.AllowedTargets}
	}
	s := &Server{opt: opt, cfg: opt.Config, store: opt.Store, log: opt.Logger, now: opt.Now, logs: newLogSigner(), egress: opt.Egress,
		hashSlot: make(chan struct{}, 1), bootLimit: newBootstrapLimiter()}
	s.exempt = map[string]bool{
		"/": true, "/health": true, "/ca.pem": true, "/openapi.json": true, "/docs": true,
		"/auth/bootstrap-status": true, "/auth/register-key": true,
		"/ws": true, // authenticates its first frame
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.IPExtractor = ipExtractor(opt.Config.TrustedProxies)
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{TargetHeader: echo.HeaderXRequestID}))
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableStackAll: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("handler panic", "path", c.Path(), "err", err, "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "stack", string(stack))
			return err
		},
	}))
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURIPath: true, LogMethod: true, LogLatency: true, LogRequestID: true, LogRemoteIP: true, LogError: true, HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelDebug
			if v.Status >= 500 {
				level = slog.LevelError
			} else if v.Status >= 400 {
				level = slog.LevelInfo
			}
			// Only the path is logged: query strings may carry selectors, never secrets, but keep it tight.
			s.log.Log(c.Request().Context(), level, "request", "method", v.Method, "path", v.URIPath, "status", v.Status,
				"latency_ms", v.Latency.Milliseconds(), "remote_ip", v.RemoteIP, "request_id", v.RequestID)
			return nil
		},
	}))
	e.Use(middleware.BodyLimit("2M"))
	e.Use(s.securityHeaders)
	e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOriginFunc: s.allowOrigin,
		AllowMethods:    []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions},
		AllowHeaders:    []string{"Accept", "Accept-Language", "Content-Type", "X-Proxbox-API-Key", "X-Requested-With"},
	}))
	if opt.Config.RateLimit > 0 {
		e.Use(s.rateLimiter(opt.Config.RateLimit))
	}
	e.Use(s.bootstrapGate)
	e.Use(s.auth)
	e.Use(middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{
		Timeout: 60 * time.Second,
		Skipper: func(c echo.Context) bool { return isStream(c.Request()) },
	}))
	s.e = e
	s.routes()
	return s
}

// Echo exposes the application so other packages can add routes (the
// dashboard, the sync API) before serving.
func (s *Server) Echo() *echo.Echo { return s.e }

// Exempt adds exact paths served without an API key.
func (s *Server) Exempt(paths ...string) {
	for _, p := range paths {
		s.exempt[p] = true
	}
}

// IsExempt reports whether path is served without an API key.
func (s *Server) IsExempt(path string) bool {
	return s.exempt[path] || strings.HasPrefix(path, "/static/") || strings.HasPrefix(path, "/ui/") || path == "/ui"
}

// Handler returns the application as an http.Handler.
func (s *Server) Handler() http.Handler { return s.e }

func (s *Server) routes() {
	e := s.e
	e.GET("/", s.root)
	e.GET("/health", s.health)
	e.GET("/version", s.version)
	e.GET("/openapi.json", s.openAPI)
	e.GET("/docs", s.docs)
	e.GET("/ca.pem", s.caPEM)
	e.GET("/static/*", echo.WrapHandler(static.Handler("/static/")))

	e.GET("/auth/bootstrap-status", s.bootstrapStatus)
	e.POST("/auth/register-key", s.registerKey)
	e.GET("/auth/keys", s.listKeys)
	e.POST("/auth/keys", s.createKey)
	e.DELETE("/auth/keys/:id", s.deleteKey)
	e.POST("/auth/keys/:id/deactivate", s.setKeyActive(false))
	e.POST("/auth/keys/:id/activate", s.setKeyActive(true))

	e.GET("/netbox/endpoint", s.listNetBoxEndpoints)
	e.POST("/netbox/endpoint", s.createNetBoxEndpoint)
	e.GET("/netbox/endpoint/:id", s.getNetBoxEndpoint)
	e.PUT("/netbox/endpoint/:id", s.updateNetBoxEndpoint)
	e.PATCH("/netbox/endpoint/:id", s.updateNetBoxEndpoint)
	e.DELETE("/netbox/endpoint/:id", s.deleteNetBoxEndpoint)

	e.GET("/proxmox/endpoints", s.listProxmoxEndpoints)
	e.POST("/proxmox/endpoints", s.createProxmoxEndpoint)
	e.GET("/proxmox/endpoints/:id", s.getProxmoxEndpoint)
	e.PUT("/proxmox/endpoints/:id", s.updateProxmoxEndpoint)
	e.PATCH("/proxmox/endpoints/:id", s.updateProxmoxEndpoint)
	e.DELETE("/proxmox/endpoints/:id", s.deleteProxmoxEndpoint)

	s.cacheRoutes()
	s.proxmoxRoutes()
	s.datacenterRoutes()
	s.extrasRoutes()
	s.haRoutes()
	s.unavailableRoutes()
	s.stageRoutes()
	if s.opt.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(s.opt.Metrics))
	}

	e.GET("/sync/runs/:id/changes", s.runChanges)

	e.GET("/admin/logs", s.adminLogs)
	e.GET("/admin/logs/stream", s.adminLogsStream)
	e.POST("/admin/logs/token", s.logToken)

	if s.opt.UI != nil {
		ui := echo.WrapHandler(s.opt.UI)
		e.Any("/ui", ui)
		e.Any("/ui/*", ui)
	}
}

// isStream reports whether r asks for a long-lived response (an SSE
// stream, the WebSocket, or a sync answered when it ends), which must not be
// cut by request timeouts.
func isStream(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, "/stream") || r.URL.Path == "/ws" || r.URL.Path == "/full-update" ||
		strings.HasPrefix(r.URL.Path, "/sync/individual/") || strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// HTTPServer returns an http.Server for the application with timeouts that
// protect against slow clients but do not cut SSE streams (streams lift
// their own write deadline, see LiftWriteDeadline).
func (s *Server) HTTPServer(tlsConfig *tls.Config) *http.Server {
	return &http.Server{
		Handler:           s.e,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

// LiftWriteDeadline removes the server's write timeout for one long-lived
// response (an SSE stream).
func LiftWriteDeadline(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully,
// giving in-flight requests up to grace to finish. With tlsConfig it serves
// HTTPS (HTTP/2 and HTTP/1.1 over ALPN).
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() {
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// ipExtractor trusts X-Forwarded-For only from the configured proxies.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		_, n, err := net.ParseCIDR(p.String())
		if err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("Permissions-Policy", "geolocation=(), microphone=(), camera=()")
		if c.Request().TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

// fixedOrigins are always allowed, as in the Python service.
var fixedOrigins = []string{
	"https://127.0.0.1:443", "http://127.0.0.1:80", "http://127.0.0.1:8000",
	"http://localhost:3000", "http://127.0.0.1:3000", "http://localhost:3001", "http://127.0.0.1:3001",
}

// allowOrigin allows the fixed origins, the configured extra ones and the
// NetBox endpoint's own origin: its scheme, host (domain or IP address) and
// port exactly, not any port of that host (computed per request, so a newly
// pushed endpoint works without a restart).
func (s *Server) allowOrigin(origin string) (bool, error) {
	for _, o := range fixedOrigins {
		if o == origin {
			return true, nil
		}
	}
	for _, o := range s.cfg.CORSExtraOrigins {
		if o == origin {
			return true, nil
		}
	}
	eps, err := s.store.NetBoxEndpoints(context.Background())
	if err != nil {
		return false, nil
	}
	for _, e := range eps {
		if slices.Contains(endpointOrigins(e), origin) {
			return true, nil
		}
	}
	return false, nil
}

// endpointOrigins are the browser origins of a NetBox endpoint: the scheme
// proxbox itself uses to reach it (https on port 443 or with verify_ssl),
// its domain and its IP address, its port (omitted when the scheme's
// default, as browsers send it).
func endpointOrigins(e store.NetBoxEndpoint) []string {
	scheme, def := "http", 80
	if e.Port == 443 || e.VerifySSL {
		scheme, def = "https", 443
	}
	var out []string
	for _, host := range []string{e.Domain, stripMask(e.IPAddress)} {
		if host == "" {
			continue
		}
		if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
			host = "[" + a.String() + "]"
		}
		o := scheme + "://" + strings.ToLower(host)
		if e.Port != def && e.Port != 0 {
			o += ":" + strconv.Itoa(e.Port)
		}
		out = append(out, o)
	}
	return out
}

// startSSE opens a stream with the server's keepalive interval.
func (s *Server) startSSE(c echo.Context) *SSE { return startSSE(c, s.opt.Keepalive) }
