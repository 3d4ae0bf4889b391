package netbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// page is NetBox's list envelope (peers-and-fixtures.md B.6 item 3). Count is null with
// cursor pagination (item 5).
type page struct {
	Count   *int64   `json:"count"`
	Next    *string  `json:"next"`
	Results []Object `json:"results"`
}

// maxPages guards against a NetBox (or proxy) whose next links never end.
const maxPages = 100000

// List reads every object of model matching query, following pagination with limit=1000 (a
// limit in query is kept). query passes through: filters, fields=, brief=, ordering.
// FreshRead(ctx) bypasses the GET cache. Errors name the model and the page; on error nothing
// is returned, so a caller can never mistake a partial read for the whole state.
func (c *Client) List(ctx context.Context, model string, query url.Values) ([]Object, error) {
	return c.list(ctx, model, query, false, nil)
}

// ListTrimmed is List without each object's url, display_url and display, at every level
// (trim.go): for a caller that holds the whole state and never reads them (the sync engine).
func (c *Client) ListTrimmed(ctx context.Context, model string, query url.Values) ([]Object, error) {
	return c.list(ctx, model, query, true, nil)
}

// ListLean is ListTrimmed with each list object's members reduced as lean says (trim.go): a
// nested object read only by its id held as that id, "" and {} members left out.
func (c *Client) ListLean(ctx context.Context, model string, query url.Values, lean Lean) ([]Object, error) {
	return c.list(ctx, model, query, true, &lean)
}

func (c *Client) list(ctx context.Context, model string, query url.Values, trim bool, lean *Lean) ([]Object, error) {
	path, err := c.apiPath(model)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	for k, v := range query {
		q[k] = append([]string(nil), v...)
	}
	if q.Get("limit") == "" {
		q.Set("limit", strconv.Itoa(PageSize))
	}
	var out []Object
	seen := map[string]bool{}
	for n := 1; ; n++ {
		key := q.Encode()
		if seen[key] || n > maxPages {
			return nil, fmt.Errorf("netbox list %s page %d: pagination loops (%s)", model, n, key)
		}
		seen[key] = true
		resp, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q})
		if err != nil {
			return nil, fmt.Errorf("netbox list %s page %d: %w", model, n, err)
		}
		if resp.status != http.StatusOK {
			return nil, fmt.Errorf("netbox list %s page %d: %w", model, n, apiErr(resp))
		}
		var p page
		if trim {
			tp := trimmedPage{Results: trimResults{lean: lean}}
			if err := json.Unmarshal(resp.body, &tp); err != nil {
				return nil, fmt.Errorf("netbox list %s page %d: decode: %w", model, n, err)
			}
			p = page{Count: tp.Count, Next: tp.Next, Results: tp.Results.objs}
			if tp.Results.set && p.Results == nil {
				p.Results = []Object{}
			}
		} else if err := json.Unmarshal(resp.body, &p); err != nil {
			return nil, fmt.Errorf("netbox list %s page %d: decode: %w", model, n, err)
		}
		if p.Results == nil {
			return nil, fmt.Errorf("netbox list %s page %d: reply is not a list page (no results)", model, n)
		}
		if out == nil {
			sz := len(p.Results)
			if p.Count != nil && *p.Count > int64(sz) && *p.Count < 10_000_000 {
				sz = int(*p.Count)
			}
			out = make([]Object, 0, sz)
		}
		out = append(out, p.Results...)
		if p.Next == nil || *p.Next == "" || len(p.Results) == 0 {
			return out, nil
		}
		if p.Count != nil && int64(len(out)) >= *p.Count {
			return out, nil
		}
		next, err := nextQuery(*p.Next, q, len(p.Results))
		if err != nil {
			return nil, fmt.Errorf("netbox list %s page %d: %w", model, n, err)
		}
		q = next
	}
}

// nextQuery keeps only the query of a next link: the request goes to our own base URL, so a
// link built for another scheme or host (a TLS proxy, a misconfigured BASE_URL) is harmless.
// When the link carries neither offset nor start, the offset is computed from the page read.
func nextQuery(next string, cur url.Values, got int) (url.Values, error) {
	u, err := url.Parse(next)
	if err != nil {
		return nil, fmt.Errorf("parse next link: %w", err)
	}
	q := u.Query()
	if q.Get("offset") == "" && q.Get("start") == "" {
		q = url.Values{}
		for k, v := range cur {
			q[k] = v
		}
		off, _ := strconv.Atoi(cur.Get("offset"))
		q.Set("offset", strconv.Itoa(off+got))
	}
	return q, nil
}
