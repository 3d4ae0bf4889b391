package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/proxbox/proxbox/store"
	pbsync "github.com/proxbox/proxbox/sync"
)

// runChangesJSON is a page of a stored run's changes (GET /sync/runs/:id/changes). A run's
// stored summary lists only some changes per kind (sync.Summary.Bounded); this serves all.
type runChangesJSON struct {
	Count   int              `json:"count" doc:"changes matching the filters"`
	Results []pbsync.Change  `json:"results"`
	Total   int              `json:"total" doc:"changes of the run"`
	Filters runChangesFilter `json:"filters"`
}

type runChangesFilter struct {
	Model  string `json:"model,omitempty" doc:"NetBox model label, e.g. virtualization.virtualmachine"`
	Op     string `json:"op,omitempty" doc:"create, update, orphan, delete or skip"`
	Failed bool   `json:"failed,omitempty" doc:"only changes that failed"`
	Offset int    `json:"offset"`
	Limit  int    `json:"limit"`
}

const maxChangesPage = 1000

// runChanges answers GET /sync/runs/:id/changes?model=&op=&failed=true&offset=&limit=.
func (s *Server) runChanges(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	f := runChangesFilter{Model: c.QueryParam("model"), Op: c.QueryParam("op"), Failed: c.QueryParam("failed") == "true", Limit: 100}
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"offset", &f.Offset, 1 << 30}, {"limit", &f.Limit, maxChangesPage}} {
		if v := c.QueryParam(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > p.max {
				return fail(http.StatusUnprocessableEntity, fmt.Sprintf("%s must be an integer from 0 to %d (got %q).", p.name, p.max, v))
			}
			*p.dst = n
		}
	}
	ctx := c.Request().Context()
	run, err := s.store.Run(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fail(http.StatusNotFound, "Sync run not found.")
	}
	if err != nil {
		return err
	}
	out := runChangesJSON{Results: []pbsync.Change{}, Filters: f}
	each := func(ch pbsync.Change) {
		out.Total++
		if (f.Model != "" && ch.Model != f.Model) || (f.Op != "" && string(ch.Op) != f.Op) || (f.Failed && ch.Error == "") {
			return
		}
		if out.Count >= f.Offset && len(out.Results) < f.Limit {
			out.Results = append(out.Results, ch)
		}
		out.Count++
	}
	// The stored list is decoded one change at a time as it is decompressed: a first run
	// of 100,000 guests stores 800,000 changes, and only a page of them is kept.
	err = store.EachRunChange(ctx, s.store, id, func(ch *pbsync.Change) error {
		each(*ch)
		return nil
	})
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound): // the summary's plan is complete
		var sum pbsync.Summary
		if len(run.Summary) > 0 && json.Unmarshal(run.Summary, &sum) == nil && sum.Plan != nil {
			for _, ch := range sum.Plan.Changes {
				each(ch)
			}
		}
	default:
		return fmt.Errorf("run %d changes: %w", id, err)
	}
	return c.JSON(http.StatusOK, out)
}
