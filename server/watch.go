package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/proxbox/proxbox/watch"
)

// watchJSON is GET /sync/watch: whether the watch runs (PROXBOX_WATCH) and
// each watched endpoint's status.
type watchJSON struct {
	Enabled    bool           `json:"enabled"`
	IntervalMS int64          `json:"interval_ms"`
	Endpoints  []watch.Status `json:"endpoints"`
}

func (s *Server) watchRoutes() {
	s.e.GET("/sync/watch", func(c echo.Context) error {
		out := watchJSON{Enabled: s.opt.Watch != nil, Endpoints: []watch.Status{}}
		if s.cfg.Watch {
			out.IntervalMS = s.cfg.WatchInterval.Milliseconds()
		}
		if s.opt.Watch != nil {
			out.Endpoints = append(out.Endpoints, s.opt.Watch()...)
		}
		return c.JSON(http.StatusOK, out)
	})
}
