// Package nbadapter adapts *netbox.Client to the sync engine's NetBox
// interface. It owns sync/nbadapter only; it holds no logic beyond the
// conversion and must not be imported by package sync itself (that would pull
// the NetBox client and its simulator into every sync test build).
package nbadapter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/proxbox/proxbox/netbox"
	pbsync "github.com/proxbox/proxbox/sync"
)

// Client is a *netbox.Client seen as a sync.NetBox.
type Client struct{ C *netbox.Client }

var _ pbsync.NetBox = Client{}

// List implements sync.NetBox. A 404 (e.g. the plugin's paths on a NetBox
// without netbox-proxbox) wraps sync.ErrNotFound. The engine never reads the
// objects' url, display_url and display: they are left out (ListTrimmed); the
// objects of its state loads are reduced as it allows (sync.LeanRowsOf,
// netbox.Client.ListLean).
func (a Client) List(ctx context.Context, model string, q url.Values) ([]map[string]any, error) {
	var rows []netbox.Object // netbox.Object is map[string]any
	var err error
	if l, ok := pbsync.LeanRowsOf(ctx); ok {
		rows, err = a.C.ListLean(ctx, model, q, lean(l))
	} else {
		rows, err = a.C.ListTrimmed(ctx, model, q)
	}
	var ae *netbox.APIError
	if err != nil && errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %w", pbsync.ErrNotFound, err)
	}
	return rows, err
}

// Create implements sync.NetBox; a create whose reply was lost is looked up
// by netbox.DefaultIdentity before any retry, so it never lands twice. The
// reply objects are reduced as the engine allows (sync.LeanRowsOf,
// netbox.CreateOptions.Lean).
func (a Client) Create(ctx context.Context, model string, objs []map[string]any) []pbsync.WriteResult {
	var opts netbox.CreateOptions
	if l, ok := pbsync.LeanRowsOf(ctx); ok {
		nl := lean(l)
		opts.Lean = &nl
	}
	return conv(a.C.CreateWith(ctx, model, objs, opts))
}

// Update implements sync.NetBox.
func (a Client) Update(ctx context.Context, model string, patches []map[string]any) []pbsync.WriteResult {
	return conv(a.C.Update(ctx, model, patches))
}

// Delete implements sync.NetBox.
func (a Client) Delete(ctx context.Context, model string, ids []int64) []pbsync.WriteResult {
	return conv(a.C.Delete(ctx, model, ids))
}

func lean(l pbsync.LeanRows) netbox.Lean { return netbox.Lean{Whole: l.Whole, KeepEmpty: l.KeepEmpty} }

func conv(rs []netbox.Result) []pbsync.WriteResult {
	out := make([]pbsync.WriteResult, len(rs))
	for i, r := range rs {
		out[i] = pbsync.WriteResult{Index: r.Index, Object: r.Object, Err: refused(r.Err)}
	}
	return out
}

// refused marks NetBox's deterministic refusals (HTTP 400: validation) as
// sync.RefusedError, which the engine remembers and does not re-send.
func refused(err error) error {
	var ae *netbox.APIError
	if err != nil && errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		return &pbsync.RefusedError{Err: err}
	}
	return err
}

// Engine returns a sync engine writing through c, with c's counters and
// FreshRead wired in.
func Engine(c *netbox.Client) *pbsync.Engine {
	return &pbsync.Engine{
		NetBox:     Client{C: c},
		Stats:      func() (int64, int64) { s := c.Stats(); return s.Requests, s.Writes },
		BatchSizes: c.BatchSizes,
		Fresh:      netbox.FreshRead,
	}
}
