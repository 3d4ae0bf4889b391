package server

import (
	"bytes"
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/proxbox/proxbox/netbox/getcache"
)

// CacheSettingKey is the store key of the live cache tuning that overrides
// the environment until reset.
const CacheSettingKey = "netbox_get_cache"

func (s *Server) cacheRoutes() {
	if s.opt.Cache == nil {
		return
	}
	e := s.e
	e.GET("/cache", s.cacheOverview)
	e.GET("/cache/metrics", s.cacheMetrics)
	e.GET("/cache/metrics/prometheus", s.cachePrometheus)
	e.GET("/clear-cache", s.clearCache)
	e.POST("/cache/clear", s.clearCache)
	e.GET("/cache/settings", s.cacheSettings)
	e.PUT("/cache/settings", s.putCacheSettings)
	e.DELETE("/cache/settings", s.resetCacheSettings)
}

func (s *Server) cacheOverview(c echo.Context) error {
	return c.JSON(http.StatusOK, cacheOverviewJSON{ProxboxCache: map[string]any{}, Metrics: s.opt.Cache.Metrics(), Sample: s.opt.Cache.Sample(20)})
}

func (s *Server) cacheMetrics(c echo.Context) error {
	return c.JSON(http.StatusOK, s.opt.Cache.Metrics())
}

func (s *Server) cachePrometheus(c echo.Context) error {
	var b bytes.Buffer
	if err := s.opt.Cache.WritePrometheusText(&b); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", b.Bytes())
}

// clearCache empties the cache (GET /clear-cache is the Python route).
func (s *Server) clearCache(c echo.Context) error {
	s.opt.Cache.Clear()
	s.log.Info("NetBox GET cache cleared")
	return c.JSON(http.StatusOK, messageJSON{Message: "All caches cleared"})
}

// cacheSettings reports the limits in force and where they come from.
func (s *Server) cacheSettings(c echo.Context) error {
	var stored getcache.Settings
	found, err := s.store.Setting(c.Request().Context(), CacheSettingKey, &stored)
	if err != nil {
		return err
	}
	source := "environment"
	if found {
		source = "settings"
	}
	return c.JSON(http.StatusOK, cacheSettingsJSON{Current: s.opt.Cache.Limits().Settings(), Defaults: s.opt.CacheDefaults.Settings(), Source: source})
}

// putCacheSettings validates, applies at once and persists new limits.
func (s *Server) putCacheSettings(c echo.Context) error {
	b, err := readObject(c)
	if err != nil {
		return err
	}
	cur := s.opt.Cache.Limits().Settings()
	if v, ok := b.number("ttl_seconds", -1e18, 1e18); ok {
		cur.TTLSeconds = v
	}
	if v, ok := b.integer("max_entries", -1<<31, 1<<31-1); ok {
		cur.MaxEntries = v
	}
	if v, ok := b.number("max_bytes", -1e18, 1e18); ok {
		cur.MaxBytes = int64(v)
	}
	if err := b.err(); err != nil {
		return err
	}
	l := cur.Limits()
	if bad := l.Validate(); bad != nil {
		var parts []string
		for _, k := range []string{"ttl_seconds", "max_entries", "max_bytes"} {
			if m, ok := bad[k]; ok {
				parts = append(parts, k+": "+m)
			}
		}
		return &apiError{Status: http.StatusUnprocessableEntity, Detail: strings.Join(parts, "; "), Message: "Invalid cache settings", Fields: bad}
	}
	s.opt.Cache.SetLimits(l)
	if err := s.store.SetSetting(c.Request().Context(), CacheSettingKey, l.Settings()); err != nil {
		return err
	}
	s.log.Info("NetBox GET cache tuned", "ttl_seconds", l.TTL.Seconds(), "max_entries", l.MaxEntries, "max_bytes", l.MaxBytes)
	return s.cacheSettings(c)
}

// resetCacheSettings drops the stored override and returns to the
// environment's limits.
func (s *Server) resetCacheSettings(c echo.Context) error {
	if err := s.store.DeleteSetting(c.Request().Context(), CacheSettingKey); err != nil {
		return err
	}
	s.opt.Cache.SetLimits(s.opt.CacheDefaults)
	s.log.Info("NetBox GET cache limits reset to the environment's")
	return s.cacheSettings(c)
}

// ApplyStoredCacheSettings applies the persisted tuning, which wins over
// the environment until reset. Call once at start-up.
func (s *Server) ApplyStoredCacheSettings(ctx context.Context) error {
	if s.opt.Cache == nil {
		return nil
	}
	var st getcache.Settings
	found, err := s.store.Setting(ctx, CacheSettingKey, &st)
	if err != nil || !found {
		return err
	}
	l := st.Limits()
	if bad := l.Validate(); bad != nil {
		s.log.Warn("stored cache settings are invalid; using the environment's", "fields", bad)
		return nil
	}
	s.opt.Cache.SetLimits(l)
	return nil
}
