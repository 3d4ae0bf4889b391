package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"
)

// The first-run bootstrap (POST /auth/register-key, /ui/setup) works while
// no active key exists. It is closed to addresses outside
// PROXBOX_BOOTSTRAP_FROM (default: loopback, private ranges and the stored
// NetBox endpoint's address), rate-limited per client, and the dashboard's
// setup also asks for a one-time code printed on the console.

// bootstrapPaths are the routes the gate covers.
func isBootstrapPath(p string) bool {
	return p == "/auth/register-key" || p == "/ui/setup"
}

// bootstrapRate: 10 attempts a minute per client, bursts of 5.
func newBootstrapLimiter() middleware.RateLimiterStore {
	return middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
		Rate: rate.Limit(10.0 / 60), Burst: 5, ExpiresIn: 5 * time.Minute,
	})
}

func (s *Server) bootstrapGate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if !isBootstrapPath(r.URL.Path) || r.Method == http.MethodOptions {
			return next(c)
		}
		client := c.RealIP()
		if ok, _ := s.bootLimit.Allow(client); !ok {
			c.Response().Header().Set("Retry-After", "60")
			return fail(http.StatusTooManyRequests, "Too many bootstrap attempts. Please try again later.")
		}
		if !s.bootstrapAllowed(r.Context(), client) {
			s.log.Info("bootstrap refused: client outside PROXBOX_BOOTSTRAP_FROM", "remote_ip", client, "path", r.URL.Path)
			return fail(http.StatusForbidden, "The first-run bootstrap is not open to this address (PROXBOX_BOOTSTRAP_FROM).")
		}
		return next(c)
	}
}

// bootstrapAllowed reports whether client may bootstrap: listed in
// PROXBOX_BOOTSTRAP_FROM when set; by default a loopback or private address,
// or the stored NetBox endpoint's own address (its IP, or what its domain
// resolves to).
func (s *Server) bootstrapAllowed(ctx context.Context, client string) bool {
	a, err := netip.ParseAddr(client)
	if err != nil {
		return false
	}
	a = a.WithZone("").Unmap()
	if s.cfg.BootstrapFrom != nil {
		for _, p := range s.cfg.BootstrapFrom {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if a.IsLoopback() || a.IsPrivate() {
		return true
	}
	eps, err := s.store.NetBoxEndpoints(ctx)
	if err != nil {
		return false
	}
	for _, e := range eps {
		if ip, err := netip.ParseAddr(stripMask(e.IPAddress)); err == nil && ip.WithZone("").Unmap() == a {
			return true
		}
		if e.Domain == "" {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		addrs, err := s.egress.LookupHost(rctx, e.Domain)
		cancel()
		if err != nil {
			continue
		}
		for _, x := range addrs {
			if x.WithZone("").Unmap() == a {
				return true
			}
		}
	}
	return false
}

// SetupCode is the one-time code the dashboard's first-run setup asks for.
// It is printed on the console (never logged) when the appliance starts
// without a key and again whenever the last key goes away, and replaced
// once used.
type SetupCode struct {
	mu      sync.Mutex
	code    string
	console io.Writer
}

// NewSetupCode makes a setup code that Announce prints to console.
func NewSetupCode(console io.Writer) *SetupCode {
	return &SetupCode{console: console}
}

// Announce prints the current code (a new one when none is pending).
func (c *SetupCode) Announce() {
	if c == nil {
		return
	}
	c.mu.Lock()
	if c.code == "" {
		c.code = newSetupCode()
	}
	code := c.code
	c.mu.Unlock()
	if c.console != nil {
		fmt.Fprintf(c.console, "\nproxbox has no API key yet. Setup code for the dashboard's first run (/ui/setup): %s\n\n", code)
	}
}

// Check reports whether code is the pending one (case and dashes
// ignored); a match consumes it.
func (c *SetupCode) Check(code string) bool {
	if c == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.code == "" {
		return false
	}
	norm := func(s string) string { return strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(s)) }
	if subtle.ConstantTimeCompare([]byte(norm(code)), []byte(norm(c.code))) != 1 {
		return false
	}
	c.code = ""
	return true
}

// Peek returns the pending code (tests and the demo's own setup).
func (c *SetupCode) Peek() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.code
}

// newSetupCode: 12 characters of an unambiguous alphabet (about 60 bits),
// shown as XXXX-XXXX-XXXX.
func newSetupCode() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	var sb strings.Builder
	for i, x := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(alphabet[int(x)%len(alphabet)])
	}
	return sb.String()
}

// announceIfNoKey prints the setup code when no active key is left.
func (s *Server) announceIfNoKey(ctx context.Context) {
	if s.opt.SetupCode == nil {
		return
	}
	if n, err := s.store.ActiveKeyCount(ctx); err == nil && n == 0 {
		s.opt.SetupCode.Announce()
	}
}
