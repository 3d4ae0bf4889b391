package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	pbsync "github.com/proxbox/proxbox/sync"
)

// Bootstrapper ensures NetBox's proxbox tags and custom fields without a
// Proxmox read (syncrun.Runner.Bootstrap, wired in cmd/proxbox). The
// Syncer may implement it.
type Bootstrapper interface {
	Bootstrap(ctx context.Context, dryRun bool) ([]pbsync.BootstrapItem, *pbsync.Summary, error)
}

// extrasRoutes serve the newer plugin's sync-state repair page
// (views/sync_state_repair.py@fed47142): its status card reads
// /extras/bootstrap-status, its repair button POSTs
// /extras/custom-fields/reconcile before it queues a rebuild job.
func (s *Server) extrasRoutes() {
	b, ok := s.opt.Sync.(Bootstrapper)
	if !ok {
		return
	}
	s.e.GET("/extras/bootstrap-status", func(c echo.Context) error { return s.bootstrapStatusNetBox(c, b) })
	s.e.POST("/extras/custom-fields/reconcile", func(c echo.Context) error { return s.reconcileCustomFields(c, b) })
}

// bootstrapStatusNetBox answers proxbox-api's shape {ok, skipped, reason,
// warnings, created, patched, unchanged} from a dry run against NetBox
// (read only), adding missing and outdated. ok is false while anything is
// missing or outdated, so the plugin's card shows the repair button's case.
func (s *Server) bootstrapStatusNetBox(c echo.Context, b Bootstrapper) error {
	items, sum, err := b.Bootstrap(c.Request().Context(), true)
	out := bootstrapStatusJSON{Warnings: []map[string]string{}, Created: []string{}, Patched: []string{}, Unchanged: []string{},
		Missing: []string{}, Outdated: []string{}}
	reason := func(r string) { out.Reason = &r }
	switch {
	case err != nil:
		out.Skipped = true
		reason(err.Error())
	case len(sum.Errors) > 0:
		reason(strings.Join(sum.Errors, "; "))
	default:
		for _, it := range items {
			name := it.Kind + ":" + it.Name
			switch it.Action {
			case "unchanged":
				out.Unchanged = append(out.Unchanged, name)
			case "missing":
				out.Missing = append(out.Missing, name)
			case "outdated":
				out.Outdated = append(out.Outdated, name)
			}
		}
		if bad := append(append([]string{}, out.Missing...), out.Outdated...); len(bad) > 0 {
			reason("NetBox lacks or differs on " + strings.Join(bad, ", ") + ": run the custom-field reconcile (POST /extras/custom-fields/reconcile) or a sync")
		} else {
			out.OK = true
		}
	}
	return c.JSON(http.StatusOK, out)
}

// reconcileCustomFields ensures the tags and custom fields now and lists
// each with its action (created, updated, unchanged), as proxbox-api's
// reconcile answers a list. A NetBox refusal is 502 with the reasons.
func (s *Server) reconcileCustomFields(c echo.Context, b Bootstrapper) error {
	items, sum, err := b.Bootstrap(c.Request().Context(), false)
	if err != nil {
		return fail(http.StatusBadRequest, err.Error())
	}
	if len(sum.Errors) > 0 {
		return &apiError{Status: http.StatusBadGateway, Detail: strings.Join(sum.Errors, "; "), Message: "Custom-field reconcile failed"}
	}
	if items == nil {
		items = []pbsync.BootstrapItem{}
	}
	return c.JSON(http.StatusOK, items)
}
