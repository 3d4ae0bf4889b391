package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
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
		if (r.URL.Path == "/admin/logs" || r.URL.Path == "/admin/logs/stream") && s.logs.valid(c.QueryParam("token"), s.now()) {
			return next(c)
		}
		for _, check := range s.sessions {
			if check(c) {
				return next(c)
			}
		}
		ctx := r.Context()
		client := c.RealIP()
		now := s.now()
		if l, found, err := s.store.AuthLockout(ctx, client); err != nil {
			return err
		} else if found && l.Attempts >= maxAuthFailures {
			if left := lockoutWindow - now.Sub(l.FirstAttempt); left > 0 {
				c.Response().Header().Set("Retry-After", strconv.Itoa(int(left.Seconds()+0.999)))
				return fail(http.StatusTooManyRequests, "Too many failed authentication attempts. Please try again later.")
			}
		}
		n, err := s.store.ActiveKeyCount(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return fail(http.StatusUnauthorized, "No API key configured. Register a key via POST /auth/register-key or use an existing key.")
		}
		raw := r.Header.Get(APIKeyHeader)
		if raw != "" {
			if _, ok, err := s.store.VerifyKey(ctx, raw); err != nil {
				return err
			} else if ok {
				if _, found, _ := s.store.AuthLockout(ctx, client); found {
					_ = s.store.ClearAuthLockout(ctx, client)
				}
				return next(c)
			}
		}
		if raw == "" {
			// A request without any key is not a guess (browsers fetch
			// /favicon.ico, probes knock): it is refused but not counted, so
			// it cannot lock out the plugin on the same address.
			return fail(http.StatusUnauthorized, "API key required.")
		}
		l, err := s.store.RecordAuthFailure(ctx, client, now, lockoutWindow)
		if err != nil {
			return err
		}
		what := "Invalid API key."
		s.log.Info("authentication failed", "remote_ip", client, "path", r.URL.Path, "attempts", l.Attempts)
		if left := maxAuthFailures - l.Attempts; left > 0 {
			return fail(http.StatusUnauthorized, fmt.Sprintf("%s %d attempts remaining.", what, left))
		}
		return fail(http.StatusUnauthorized, what)
	}
}

func (s *Server) rateLimiter(perMinute int) echo.MiddlewareFunc {
	store := middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
		Rate: rate.Limit(float64(perMinute) / 60), Burst: perMinute, ExpiresIn: 3 * time.Minute,
	})
	return middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Skipper: func(c echo.Context) bool { return s.IsExempt(c.Request().URL.Path) },
		Store:   store,
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
	if len(body.Label) > 255 {
		return fail(http.StatusUnprocessableEntity, "label must be at most 255 characters.")
	}
	k, err := s.store.RegisterFirstKey(c.Request().Context(), body.Label, *body.APIKey)
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
	if c.Request().ContentLength > 0 {
		if err := bindJSON(c, &body); err != nil {
			return err
		}
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
