package server

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/proxbox/proxbox/store"
)

// APIKeyHeader carries the API key on every protected request.
const APIKeyHeader = "X-Proxbox-API-Key"

const (
	maxAuthFailures = 5
	lockoutWindow   = 5 * time.Minute
)

// SessionChecker lets the dashboard accept its own session cookie beside
// the API key header. It returns true when the request is signed in.
type SessionChecker func(c echo.Context) bool

// AcceptSessions registers a checker for dashboard sessions. Call before
// serving.
func (s *Server) AcceptSessions(check SessionChecker) { s.sessions = append(s.sessions, check) }

// auth enforces X-Proxbox-API-Key on every path that is not exempt. Texts
// of 401 replies contain "API key": the plugin re-registers on exactly that.
func (s *Server) auth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if s.IsExempt(r.URL.Path) || r.Method == http.MethodOptions {
			return next(c)
		}
		if r.URL.Path == "/metrics" && s.cfg.MetricsPublic {
			return next(c)
		}
		if r.URL.Path == "/admin/logs" || r.URL.Path == "/admin/logs/stream" {
			if tok := c.QueryParam("token"); tok != "" {
				if id, ok := s.logTokenKey(r.Context(), tok); ok {
					c.Set(ctxKeyID, id)
					return next(c)
				}
			}
		}
		for _, check := range s.sessions {
			if check(c) {
				return next(c)
			}
		}
		ctx := r.Context()
		res, err := s.checkKey(ctx, c.RealIP(), r.Header.Get(APIKeyHeader), r.URL.Path)
		if err != nil {
			return err
		}
		switch res.outcome {
		case keyOK:
			c.Set(ctxKeyID, res.keyID)
			return next(c)
		case keyLocked:
			c.Response().Header().Set("Retry-After", strconv.Itoa(res.retryAfter))
			return fail(http.StatusTooManyRequests, "Too many failed authentication attempts. Please try again later.")
		case keyNone:
			return fail(http.StatusUnauthorized, "No API key configured. Register a key via POST /auth/register-key or use an existing key.")
		case keyMissing:
			return fail(http.StatusUnauthorized, "API key required.")
		}
		what := "Invalid API key."
		if left := maxAuthFailures - res.attempts; left > 0 {
			return fail(http.StatusUnauthorized, fmt.Sprintf("%s %d attempts remaining.", what, left))
		}
		return fail(http.StatusUnauthorized, what)
	}
}

// ctxKeyID is the echo context key of the authenticated API key's id.
const ctxKeyID = "proxbox.key_id"

type keyOutcome int

const (
	keyOK      keyOutcome = iota
	keyLocked             // too many failures from this client
	keyNone               // no active key exists
	keyMissing            // no key sent (not counted)
	keyWrong              // a wrong key (counted)
)

type keyResult struct {
	outcome    keyOutcome
	keyID      int64
	attempts   int // failures in the window, for keyWrong
	retryAfter int // seconds, for keyLocked
}

// checkKey is the one authentication rule of HTTP and /ws. A client's
// lockout check, key evaluation and failure record run under that client's
// lock, so concurrent guesses from one address are evaluated one after the
// other and at most maxAuthFailures per window get evaluated at all. A
// request without a key is not a guess (browsers fetch /favicon.ico, probes
// knock): it is refused but not counted, so it cannot lock out the plugin on
// the same address.
func (s *Server) checkKey(ctx context.Context, client, raw, path string) (keyResult, error) {
	if raw != "" && s.store.KeyMemoised(raw) {
		// A key verified since the last key change: no bcrypt, no lock; a
		// locked-out client still waits out its window.
		if l, found, err := s.store.AuthLockout(ctx, client); err != nil {
			return keyResult{}, err
		} else if found && l.Attempts >= maxAuthFailures && lockoutWindow-s.now().Sub(l.FirstAttempt) > 0 {
			return keyResult{outcome: keyLocked, retryAfter: int((lockoutWindow - s.now().Sub(l.FirstAttempt)).Seconds() + 0.999)}, nil
		}
		if id, ok, err := s.store.VerifyKey(ctx, raw); err != nil || ok {
			return keyResult{outcome: keyOK, keyID: id}, err
		}
	}
	mu := s.clientLock(client)
	mu.Lock()
	defer mu.Unlock()
	now := s.now()
	l, found, err := s.store.AuthLockout(ctx, client)
	if err != nil {
		return keyResult{}, err
	}
	if found && l.Attempts >= maxAuthFailures {
		if left := lockoutWindow - now.Sub(l.FirstAttempt); left > 0 {
			return keyResult{outcome: keyLocked, retryAfter: int(left.Seconds() + 0.999)}, nil
		}
	}
	n, err := s.store.ActiveKeyCount(ctx)
	if err != nil {
		return keyResult{}, err
	}
	if n == 0 {
		return keyResult{outcome: keyNone}, nil
	}
	if raw == "" {
		return keyResult{outcome: keyMissing}, nil
	}
	id, ok, err := s.store.VerifyKey(ctx, raw)
	if err != nil {
		return keyResult{}, err
	}
	if ok {
		if found {
			_ = s.store.ClearAuthLockout(ctx, client)
		}
		return keyResult{outcome: keyOK, keyID: id}, nil
	}
	l, err = s.store.RecordAuthFailure(ctx, client, now, lockoutWindow)
	if err != nil {
		return keyResult{}, err
	}
	s.log.Info("authentication failed", "remote_ip", client, "path", path, "attempts", l.Attempts)
	return keyResult{outcome: keyWrong, attempts: l.Attempts}, nil
}

// clientLock returns the lock of client's stripe.
func (s *Server) clientLock(client string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(client))
	return &s.authLocks[h.Sum32()%uint32(len(s.authLocks))]
}

func (s *Server) rateLimiter(perMinute int) echo.MiddlewareFunc {
	store := middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
		Rate: rate.Limit(float64(perMinute) / 60), Burst: perMinute, ExpiresIn: 3 * time.Minute,
	})
	return middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		// The bootstrap routes are exempt from the key, not from the limit.
		Skipper: func(c echo.Context) bool {
			p := c.Request().URL.Path
			return s.IsExempt(p) && !strings.HasPrefix(p, "/auth/") && p != "/ws"
		},
		Store: store,
		IdentifierExtractor: func(c echo.Context) (string, error) {
			return c.RealIP(), nil
		},
		DenyHandler: func(c echo.Context, _ string, _ error) error {
			c.Response().Header().Set("Retry-After", "60")
			return fail(http.StatusTooManyRequests, "Rate limit exceeded. Please try again later.")
		},
		ErrorHandler: func(c echo.Context, err error) error {
			return fail(http.StatusForbidden, "Cannot identify the client for rate limiting.")
		},
	})
}

type keyJSON struct {
	ID        int64   `json:"id"`
	Label     string  `json:"label"`
	IsActive  bool    `json:"is_active"`
	CreatedAt float64 `json:"created_at"`
}

func toKeyJSON(k store.APIKey) keyJSON {
	return keyJSON{ID: k.ID, Label: k.Label, IsActive: k.IsActive, CreatedAt: float64(k.CreatedAt.UnixMilli()) / 1000}
}

func (s *Server) bootstrapStatus(c echo.Context) error {
	n, err := s.store.ActiveKeyCount(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, bootstrapJSON{NeedsBootstrap: n == 0, HasDBKeys: n > 0})
}

func (s *Server) registerKey(c echo.Context) error {
	var body struct {
		APIKey *string `json:"api_key"`
		Label  string  `json:"label"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.APIKey == nil {
		return fail(http.StatusUnprocessableEntity, "api_key is required.")
	}
	if len(*body.APIKey) < store.MinKeyLength {
		return fail(http.StatusBadRequest, fmt.Sprintf("API key must be at least %d characters.", store.MinKeyLength))
	}
	if len(*body.APIKey) > store.MaxKeyLength {
		return fail(http.StatusUnprocessableEntity, fmt.Sprintf("API key must be at most %d bytes.", store.MaxKeyLength))
	}
	if err := checkText("label", body.Label, 255); err != nil {
		return err
	}
	ctx := c.Request().Context()
	// At most one bcrypt at a time for the bootstrap, whoever asks.
	select {
	case s.hashSlot <- struct{}{}:
		defer func() { <-s.hashSlot }()
	case <-ctx.Done():
		return fail(http.StatusServiceUnavailable, "The server is busy. Please try again.")
	}
	k, err := s.store.RegisterFirstKey(ctx, body.Label, *body.APIKey)
	if errors.Is(err, store.ErrConflict) {
		return fail(http.StatusConflict, "An API key is already configured.")
	}
	if err != nil {
		return err
	}
	s.log.Info("API key registered", "key_id", k.ID, "label", k.Label)
	return c.JSON(http.StatusCreated, registeredJSON{Detail: "API key registered.", ID: k.ID})
}

func (s *Server) listKeys(c echo.Context) error {
	keys, err := s.store.Keys(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]keyJSON, 0, len(keys))
	for _, k := range keys {
		out = append(out, toKeyJSON(k))
	}
	return c.JSON(http.StatusOK, keyListJSON{Keys: out})
}

// createKey makes a new random key and shows it once.
func (s *Server) createKey(c echo.Context) error {
	var body struct {
		Label string `json:"label"`
	}
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &body); err != nil {
			return err
		}
	}
	if err := checkText("label", body.Label, 255); err != nil {
		return err
	}
	raw, err := store.NewRawKey()
	if err != nil {
		return err
	}
	k, err := s.store.CreateKey(c.Request().Context(), body.Label, raw)
	if err != nil {
		return err
	}
	s.log.Info("API key created", "key_id", k.ID, "label", k.Label)
	return c.JSON(http.StatusCreated, createdKeyJSON{toKeyJSON(k), raw})
}

func (s *Server) deleteKey(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteKey(c.Request().Context(), id); errors.Is(err, store.ErrNotFound) {
		return fail(http.StatusNotFound, "API key not found.")
	} else if err != nil {
		return err
	}
	s.log.Info("API key deleted", "key_id", id)
	s.announceIfNoKey(c.Request().Context())
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) setKeyActive(active bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c)
		if err != nil {
			return err
		}
		k, err := s.store.SetKeyActive(c.Request().Context(), id, active)
		if errors.Is(err, store.ErrNotFound) {
			return fail(http.StatusNotFound, "API key not found.")
		}
		if err != nil {
			return err
		}
		s.log.Info("API key changed", "key_id", id, "active", active)
		if !active {
			s.announceIfNoKey(c.Request().Context())
		}
		return c.JSON(http.StatusOK, toKeyJSON(k))
	}
}

func pathID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, fail(http.StatusUnprocessableEntity, fmt.Sprintf("id must be a positive integer (got %q).", c.Param("id")))
	}
	return id, nil
}
