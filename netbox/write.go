package netbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Result is the outcome of one input object of a bulk write.
type Result struct {
	Index int // position in the input slice
	// Object is NetBox's reply object, nil on failure or delete, with only its "id" and
	// the fields the request set (for a create the item's, for an update any patch's of the
	// same request), as NetBox returned them (decodeReply).
	Object Object
	Err    error // nil on success; *APIError for NetBox refusals
}

// CreateOptions tell the client how to find an object whose create reply was lost (addition to
// the agreed API; Create uses the zero value). Lookup wins over Identity, which wins over
// DefaultIdentity.
type CreateOptions struct {
	// Lookup returns the existing object equal to obj, or nil when there is none. It is called
	// with a FreshRead context.
	Lookup func(ctx context.Context, obj Object) (Object, error)
	// Identity returns the list filter that matches obj alone once it exists, for example
	// {"cf_proxmox_vm_id": {"101"}, "cluster_id": {"3"}}. An empty result means "use
	// DefaultIdentity".
	Identity func(obj Object) url.Values
	// Lean, when set, reduces each reply object's kept members as ListLean reduces list
	// objects (a nested object held as its id unless Lean.Whole names it, "" and {} left out
	// unless Lean.KeepEmpty names them) and leaves its null members out: for a caller that
	// reads a missing member as a null one (the sync engine).
	Lean *Lean
}

// Create POSTs objs to model in bulk; see the package doc for batching, errors and retries.
func (c *Client) Create(ctx context.Context, model string, objs []Object) []Result {
	return c.CreateWith(ctx, model, objs, CreateOptions{})
}

// CreateWith is Create with a way to recognise objects whose reply was lost.
func (c *Client) CreateWith(ctx context.Context, model string, objs []Object, opts CreateOptions) []Result {
	o := c.newOp(http.MethodPost, model, len(objs))
	o.opts = opts
	o.items = objs
	c.run(ctx, o, allIndexes(len(objs)))
	return o.out
}

// Update PATCHes patches in bulk; each patch carries "id". An id NetBox does not know comes
// back as a 404 *APIError (NetBox skips it silently).
func (c *Client) Update(ctx context.Context, model string, patches []Object) []Result {
	o := c.newOp(http.MethodPatch, model, len(patches))
	o.items = patches
	var idx []int
	for i, p := range patches {
		if id, ok := ID(p); !ok || id <= 0 {
			o.out[i].Err = fmt.Errorf("netbox update %s: patch %d has no integer id", model, i)
			continue
		}
		idx = append(idx, i)
	}
	c.run(ctx, o, idx)
	return o.out
}

// Delete removes ids in bulk (DELETE of [{"id": n}, …]). NetBox skips ids it does not know,
// so deleting an absent object succeeds, and a retried delete is harmless.
func (c *Client) Delete(ctx context.Context, model string, ids []int64) []Result {
	o := c.newOp(http.MethodDelete, model, len(ids))
	o.items = make([]Object, len(ids))
	var idx []int
	for i, id := range ids {
		if id <= 0 {
			o.out[i].Err = fmt.Errorf("netbox delete %s: bad id %d", model, id)
			continue
		}
		o.items[i] = Object{"id": id}
		idx = append(idx, i)
	}
	c.run(ctx, o, idx)
	return o.out
}

// op is one bulk call in progress. Each index of out is written by one goroutine only.
type op struct {
	method string
	model  string
	path   string
	items  []Object
	out    []Result
	opts   CreateOptions
	err    error // a problem before any request (bad model)
}

func (c *Client) newOp(method, model string, n int) *op {
	o := &op{method: method, model: model, out: make([]Result, n)}
	for i := range o.out {
		o.out[i].Index = i
	}
	o.path, o.err = c.apiPath(model)
	return o
}

func allIndexes(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func (o *op) fail(idx []int, err error) {
	for _, i := range idx {
		o.out[i].Object = nil
		o.out[i].Err = err
	}
}

func (o *op) verb() string {
	switch o.method {
	case http.MethodPost:
		return "create"
	case http.MethodPatch:
		return "update"
	default:
		return "delete"
	}
}

// run splits idx into batches and works them with at most Concurrency goroutines.
func (c *Client) run(ctx context.Context, o *op, idx []int) {
	if len(idx) == 0 {
		return
	}
	if o.err != nil {
		o.fail(idx, o.err)
		return
	}
	work := make(chan []int)
	var wg sync.WaitGroup
	first := min(c.sizer.size(o.path, c.cfg.BatchSize, c.cfg.Timeout), len(idx))
	for range min(c.cfg.Concurrency, (len(idx)+first-1)/first) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if err := ctx.Err(); err != nil {
					o.fail(b, fmt.Errorf("netbox %s %s: %w", o.verb(), o.model, err))
					continue
				}
				c.batch(ctx, o, b)
			}
		}()
	}
	// Batches are cut as they are handed out, so a size learnt from the first replies
	// applies to the rest of this write.
	for len(idx) > 0 {
		n := min(c.sizer.size(o.path, c.cfg.BatchSize, c.cfg.Timeout), len(idx))
		work <- idx[:n:n]
		idx = idx[n:]
	}
	close(work)
	wg.Wait()
}

// batch writes the objects at idx as one bulk request, isolating refused items, bisecting
// whole-batch refusals and handling lost create replies.
func (c *Client) batch(ctx context.Context, o *op, idx []int) {
	pending := idx
	resends := 0
	for len(pending) > 0 {
		body, err := o.body(pending)
		if err != nil {
			o.fail(pending, fmt.Errorf("netbox %s %s: encode: %w", o.verb(), o.model, err))
			return
		}
		sent := time.Now()
		resp, err := c.do(ctx, request{method: o.method, path: o.path, body: body, noBlindRetry: o.method == http.MethodPost})
		var amb *ambiguousError
		switch {
		case err == nil && resp.status >= 200 && resp.status < 300:
			c.sizer.observe(o.path, len(pending), time.Since(sent))
		case errors.As(err, &amb) && mayStillRun(amb):
			c.sizer.observe(o.path, len(pending), 2*c.cfg.Timeout)
		}
		switch {
		case errors.As(err, &amb):
			if resends >= c.cfg.MaxRetries {
				o.fail(pending, fmt.Errorf("netbox %s %s: %w: %w", o.verb(), o.model, ErrReplyLost, err))
				return
			}
			if err := c.backoff(ctx, o.method, o.path, resends, 0, nil, err); err != nil {
				o.fail(pending, fmt.Errorf("netbox %s %s: %w", o.verb(), o.model, err))
				return
			}
			resends++
			pending = c.reconcileLost(ctx, o, pending, err, mayStillRun(amb))
			continue
		case err != nil:
			o.fail(pending, fmt.Errorf("netbox %s %s: %w", o.verb(), o.model, err))
			return
		case resp.status >= 200 && resp.status < 300:
			o.success(pending, resp)
			return
		}
		ae := apiErr(resp)
		if resp.status == http.StatusBadRequest {
			if errs, ok := perItemErrors(resp.body, len(pending)); ok {
				var good []int
				for j, i := range pending {
					if errs[j] != nil {
						o.out[i].Err = errs[j]
					} else {
						good = append(good, i)
					}
				}
				if len(good) < len(pending) {
					c.log.Info("netbox refused items of a bulk write; re-sending the others", "method", o.method,
						"model", o.model, "refused", len(pending)-len(good), "resent", len(good))
					pending = good
					continue
				}
			}
		}
		wholeBatch := resp.status == http.StatusBadRequest || resp.status == http.StatusConflict ||
			resp.status == http.StatusRequestEntityTooLarge || (resp.status == http.StatusInternalServerError && integrityError(resp.body))
		switch {
		case wholeBatch:
			if len(pending) > 1 {
				h := len(pending) / 2
				c.batch(ctx, o, pending[:h:h])
				c.batch(ctx, o, pending[h:])
				return
			}
		}
		o.fail(pending, ae)
		return
	}
}

func (o *op) body(idx []int) ([]byte, error) {
	items := make([]Object, len(idx))
	for j, i := range idx {
		items[j] = o.items[i]
	}
	return json.Marshal(items)
}

// success fills results from a 2xx reply.
func (o *op) success(idx []int, resp *response) {
	if o.method == http.MethodDelete {
		for _, i := range idx {
			o.out[i] = Result{Index: i}
		}
		return
	}
	// Decode only the fields the items sent: a create's reply object j answers item
	// idx[j]; an update's replies come by id, so they keep the fields any patch set.
	var sent func(j int) Object
	if o.method == http.MethodPost {
		sent = func(j int) Object {
			if j < len(idx) {
				return o.items[idx[j]]
			}
			return nil
		}
	} else {
		keys := Object{}
		for _, i := range idx {
			for k := range o.items[i] {
				keys[k] = true
			}
		}
		sent = func(int) Object { return keys }
	}
	var lean *Lean
	if o.method == http.MethodPost {
		lean = o.opts.Lean
	}
	objs, single, err := decodeReplyLean(resp.body, sent, lean)
	if err == nil && single && len(idx) != 1 {
		err = fmt.Errorf("one object for %d sent", len(idx))
	}
	if err != nil {
		o.fail(idx, fmt.Errorf("netbox %s %s: decode reply (HTTP %d): %w", o.verb(), o.model, resp.status, err))
		return
	}
	if o.method == http.MethodPost {
		if len(objs) != len(idx) {
			o.fail(idx, fmt.Errorf("netbox create %s: reply has %d objects for %d sent", o.model, len(objs), len(idx)))
			return
		}
		for j, i := range idx {
			o.out[i] = Result{Index: i, Object: objs[j]}
		}
		return
	}
	byID := make(map[int64]Object, len(objs))
	for _, ob := range objs {
		if id, ok := ID(ob); ok {
			byID[id] = ob
		}
	}
	for _, i := range idx {
		id, _ := ID(o.items[i])
		if ob, ok := byID[id]; ok {
			o.out[i] = Result{Index: i, Object: ob}
			continue
		}
		o.out[i] = Result{Index: i, Err: &APIError{Status: http.StatusNotFound,
			Detail: fmt.Sprintf("no %s with id %d (skipped by bulk update)", o.model, id)}}
	}
}

// perItemErrors reads a bulk 400 body that is a list aligned with the request: one error dict
// per item, {} or null for items that were fine. ok is false for any other shape.
func perItemErrors(body []byte, n int) ([]*APIError, bool) {
	var list []json.RawMessage
	if err := json.Unmarshal(body, &list); err != nil || len(list) != n {
		return nil, false
	}
	out := make([]*APIError, n)
	for j, raw := range list {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, false
		}
		switch t := v.(type) {
		case nil:
			continue
		case map[string]any:
			if len(t) == 0 {
				continue
			}
		case []any:
			if len(t) == 0 {
				continue
			}
		}
		e := &APIError{Status: http.StatusBadRequest, Body: bytes.Clone(raw)}
		fillAPIError(e, v)
		out[j] = e
	}
	return out, true
}

type lookState int

const (
	lookNoIdentity lookState = iota
	lookAbsent
	lookFound
	lookFailed
)

// reconcileLost runs after a bulk create whose reply was lost. Bulk create is atomic, so one
// object's fate is the batch's: the first object that can be looked up decides. Absent: nothing
// landed and every pending object is sent again. Found: the batch landed; every object is looked
// up for its reply, and one that cannot be found is not re-sent (ErrReplyLost) because a second
// copy is worse than a gap the next sync run fills. It returns the indexes to send again.
//
// When the request may still be running in NetBox (no reply at all: a timeout or a dropped
// connection, not a 5xx answer), NetBox commits it at its end, so "absent" is not final: the
// lookup is repeated with growing pauses for up to one more Timeout (NetBox's own worker
// timeout bounds a request the same way) before the batch is sent again.
func (c *Client) reconcileLost(ctx context.Context, o *op, pending []int, cause error, mayRun bool) []int {
	fresh := FreshRead(ctx)
	var waited time.Duration
	for attempt := 0; ; attempt++ {
		absent, rest := c.reconcileOnce(fresh, o, pending, cause)
		if !absent {
			return rest
		}
		if !mayRun || waited >= c.cfg.Timeout {
			c.log.Info("netbox create reply lost; objects absent, re-sending", "model", o.model, "objects", len(pending), "waited", waited, "error", cause)
			return pending
		}
		d := min(c.cfg.RetryBase<<min(attempt, 16), c.cfg.MaxBackoff, c.cfg.Timeout-waited)
		c.log.Info("netbox create reply lost; objects not there yet, waiting before re-checking", "model", o.model, "objects", len(pending), "wait", d, "error", cause)
		if err := c.sleep(ctx, d); err != nil {
			o.fail(pending, fmt.Errorf("netbox create %s: %w (%v): %w", o.model, ErrReplyLost, cause, err))
			return nil
		}
		waited += d
	}
}

// mayStillRun tells whether the request behind a lost reply may still be running in NetBox:
// it got no HTTP answer at all (an answered 5xx has finished).
func mayStillRun(amb *ambiguousError) bool {
	var ae *APIError
	return !errors.As(amb.cause, &ae)
}

// reconcileOnce looks the pending objects up once. absent reports that the first object
// that could be looked up is not in NetBox; otherwise the results are filled and rest is nil.
func (c *Client) reconcileOnce(fresh context.Context, o *op, pending []int, cause error) (absent bool, rest []int) {
	probe := -1
	var probeErr error
	for j, i := range pending {
		obj, st, err := c.lookup(fresh, o, i)
		switch st {
		case lookAbsent:
			return true, nil
		case lookFound:
			o.out[i] = Result{Index: i, Object: obj}
			probe = j
		case lookFailed:
			probeErr = err
		}
		if probe >= 0 {
			break
		}
	}
	if probe < 0 {
		err := fmt.Errorf("netbox create %s: %w (%v)", o.model, ErrReplyLost, cause)
		if probeErr != nil {
			err = fmt.Errorf("netbox create %s: %w (%v); re-read failed: %w", o.model, ErrReplyLost, cause, probeErr)
		}
		o.fail(pending, err)
		return false, nil
	}
	c.log.Info("netbox create reply lost but the batch landed; re-reading its objects", "model", o.model, "objects", len(pending))
	rest = pending[probe+1:]
	done := c.lookupGrouped(fresh, o, rest)
	var wg sync.WaitGroup
	sem := make(chan struct{}, c.cfg.Concurrency)
	for _, i := range rest {
		if done[i] {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			obj, st, err := c.lookup(fresh, o, i)
			switch st {
			case lookFound:
				o.out[i] = Result{Index: i, Object: obj}
			case lookFailed:
				o.out[i] = Result{Index: i, Err: fmt.Errorf("netbox create %s: batch landed, %w; re-read failed: %w", o.model, ErrReplyLost, err)}
			default:
				o.out[i] = Result{Index: i, Err: fmt.Errorf("netbox create %s: batch landed but this object was not found by its identity; not re-sent: %w", o.model, ErrReplyLost)}
			}
		}()
	}
	wg.Wait()
	for _, i := range pending[:probe] {
		// Objects before the probe had no identity or a failed lookup.
		o.out[i] = Result{Index: i, Err: fmt.Errorf("netbox create %s: batch landed, %w", o.model, ErrReplyLost)}
	}
	return false, nil
}

// lookup finds the object created from o.items[i], if any.
func (c *Client) lookup(ctx context.Context, o *op, i int) (Object, lookState, error) {
	obj := o.items[i]
	if o.opts.Lookup != nil {
		found, err := o.opts.Lookup(ctx, obj)
		switch {
		case err != nil:
			return nil, lookFailed, err
		case found == nil:
			return nil, lookAbsent, nil
		}
		return found, lookFound, nil
	}
	q := o.identityQuery(i)
	if len(q) == 0 {
		return nil, lookNoIdentity, nil
	}
	q.Set("limit", "2")
	got, err := c.listFirst(ctx, o.model, q)
	switch {
	case err != nil:
		return nil, lookFailed, err
	case len(got) == 0:
		return nil, lookAbsent, nil
	case len(got) > 1:
		return nil, lookFailed, fmt.Errorf("identity %s matches more than one object", q.Encode())
	}
	return got[0], lookFound, nil
}

// identityQuery is the filter that finds o.items[i] (a fresh copy), or nil.
func (o *op) identityQuery(i int) url.Values {
	obj := o.items[i]
	var q url.Values
	if o.opts.Identity != nil {
		q = o.opts.Identity(obj)
	}
	if len(q) == 0 {
		q = DefaultIdentity(o.model, obj)
	}
	if len(q) == 0 {
		return nil
	}
	out := make(url.Values, len(q))
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// groupKeys are identity fields whose value is the object's own field of the same name.
var groupKeys = append([]string{"slug", "name", "address", "mac_address", "prefix"}, pluginKeys...)

// lookupValuesPerQuery bounds the OR-ed values of one grouped lookup (URL length).
const lookupValuesPerQuery = 50

// lookupGrouped re-reads the objects of a landed batch with few requests: objects whose
// identities differ only in one groupKey (the usual case: names in one cluster) are read by one
// list filtered by all their values (NetBox ORs repeated parameters) and matched by that field.
// It returns the indexes it settled; the others are looked up one by one.
func (c *Client) lookupGrouped(ctx context.Context, o *op, idx []int) map[int]bool {
	done := map[int]bool{}
	if o.opts.Lookup != nil {
		return done
	}
	type group struct {
		field string
		rest  url.Values
		vals  map[string][]int
		order []string
	}
	groups := map[string]*group{}
	var keys []string
	for _, i := range idx {
		q := o.identityQuery(i)
		field := ""
		for _, k := range groupKeys {
			if len(q[k]) == 1 {
				if s, ok := o.items[i][k].(string); ok && s == q.Get(k) {
					field = k
				}
				break
			}
		}
		if field == "" {
			continue
		}
		v := q.Get(field)
		q.Del(field)
		gk := field + "\x00" + q.Encode()
		g := groups[gk]
		if g == nil {
			g = &group{field: field, rest: q, vals: map[string][]int{}}
			groups[gk] = g
			keys = append(keys, gk)
		}
		if _, seen := g.vals[v]; !seen {
			g.order = append(g.order, v)
		}
		g.vals[v] = append(g.vals[v], i)
	}
	for _, gk := range keys {
		g := groups[gk]
		if len(g.order) < 2 {
			continue
		}
		for start := 0; start < len(g.order); start += lookupValuesPerQuery {
			chunk := g.order[start:min(start+lookupValuesPerQuery, len(g.order))]
			q := url.Values{}
			for k, v := range g.rest {
				q[k] = v
			}
			q[g.field] = chunk
			objs, err := c.List(ctx, o.model, q)
			if err != nil {
				c.log.Warn("netbox grouped lookup failed; looking up one by one", "model", o.model, "error", err)
				continue
			}
			byVal := map[string][]Object{}
			for _, ob := range objs {
				if s, ok := ob[g.field].(string); ok {
					byVal[s] = append(byVal[s], ob)
				}
			}
			for _, v := range chunk {
				members := g.vals[v]
				if len(members) != 1 || len(byVal[v]) > 1 {
					continue // ambiguous: the one-by-one lookup reports it
				}
				i := members[0]
				if len(byVal[v]) == 1 {
					o.out[i] = Result{Index: i, Object: byVal[v][0]}
				} else {
					o.out[i] = Result{Index: i, Err: fmt.Errorf("netbox create %s: batch landed but this object was not found by its identity; not re-sent: %w", o.model, ErrReplyLost)}
				}
				done[i] = true
			}
		}
	}
	return done
}

// listFirst reads one page only.
func (c *Client) listFirst(ctx context.Context, model string, q url.Values) ([]Object, error) {
	path, err := c.apiPath(model)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q})
	if err != nil {
		return nil, fmt.Errorf("netbox lookup %s: %w", model, err)
	}
	if resp.status != http.StatusOK {
		return nil, fmt.Errorf("netbox lookup %s: %w", model, apiErr(resp))
	}
	var p page
	if err := json.Unmarshal(resp.body, &p); err != nil {
		return nil, fmt.Errorf("netbox lookup %s: decode: %w", model, err)
	}
	if p.Results == nil {
		// Never read "absent" from a reply that is not a list: the batch would be re-sent.
		return nil, fmt.Errorf("netbox lookup %s: reply is not a list page", model)
	}
	return p.Results, nil
}

// scopeFields are foreign keys that scope a name (or slug) in NetBox's uniqueness rules, plus
// the parents of components. When an object carries one as an id, the identity filters by it.
var scopeFields = []string{"cluster", "site", "device", "virtual_machine", "manufacturer", "tenant",
	"group", "vrf", "device_type", "module", "parent", "type"}

// netbox-proxbox's models (model paths under plugins/) are found differently. Their filter sets
// name a foreign-key filter after the field itself (cluster=3, not cluster_id=3) and silently
// ignore any other parameter, so a NetBox-style scope would match the same name in every
// cluster (the list filters of netbox-proxbox 0.0.24 on NetBox 4.5.10, kept in
// lab/netbox/openapi/plugin-0.0.24.json). pluginScopeFields scope a plugin object; pluginKeys
// identify the ones without a name: VMBackup.volume_id, VMTaskHistory.upid, BackupRoutine.job_id,
// Replication.replication_id.
var (
	pluginScopeFields = []string{"endpoint", "cluster", "virtual_machine"}
	pluginKeys        = []string{"volume_id", "upid", "job_id", "replication_id"}
)

// setAssignedInterface narrows an identity query to the interface an IP or
// MAC address is assigned to.
func setAssignedInterface(q url.Values, obj Object) {
	id, ok := fkID(obj["assigned_object_id"])
	if !ok {
		return
	}
	switch obj["assigned_object_type"] {
	case "virtualization.vminterface":
		q.Set("vminterface_id", strconv.FormatInt(id, 10))
	case "dcim.interface":
		q.Set("interface_id", strconv.FormatInt(id, 10))
	}
}

// DefaultIdentity is the filter that finds obj after a lost create reply when the caller gave no
// Lookup or Identity: its slug, address, prefix, MAC address or name (first present, in that
// order), narrowed by the scope foreign keys it carries as ids (cluster_id, site_id,
// virtual_machine_id, device_id, …) and, for an IP address, by its assigned interface. A
// netbox-proxbox object (model under plugins/) is found by its name or its own key (pluginKeys)
// within its endpoint, cluster and virtual machine, filtered as the plugin's filter sets name
// them (endpoint=, cluster=, virtual_machine=). It is nil when obj has none of these, and then a
// lost reply cannot be checked.
func DefaultIdentity(model string, obj Object) url.Values {
	q := url.Values{}
	str := func(k string) (string, bool) {
		s, ok := obj[k].(string)
		return s, ok && s != ""
	}
	if strings.HasPrefix(strings.Trim(model, "/"), "plugins/") {
		for _, k := range append([]string{"name"}, pluginKeys...) {
			if s, ok := str(k); ok {
				q.Set(k, s)
				break
			}
		}
		if len(q) == 0 {
			return nil
		}
		for _, f := range pluginScopeFields {
			if id, ok := fkID(obj[f]); ok {
				q.Set(f, strconv.FormatInt(id, 10))
			}
		}
		return q
	}
	switch {
	case has(str, "slug"):
		s, _ := str("slug")
		q.Set("slug", s)
	case has(str, "address"):
		s, _ := str("address")
		q.Set("address", s)
		setAssignedInterface(q, obj)
	case has(str, "prefix"):
		s, _ := str("prefix")
		q.Set("prefix", s)
	case has(str, "mac_address"):
		s, _ := str("mac_address")
		q.Set("mac_address", s)
		setAssignedInterface(q, obj)
	case has(str, "name"):
		s, _ := str("name")
		q.Set("name", s)
	default:
		return nil
	}
	for _, f := range scopeFields {
		if id, ok := fkID(obj[f]); ok {
			q.Set(f+"_id", strconv.FormatInt(id, 10))
		}
	}
	return q
}

func has(str func(string) (string, bool), k string) bool { _, ok := str(k); return ok }

// fkID reads a foreign key given as an id or as a nested object with "id".
func fkID(v any) (int64, bool) {
	if m, ok := v.(map[string]any); ok {
		v = m["id"]
	}
	if _, isStr := v.(string); isStr {
		return 0, false
	}
	n, ok := toInt64(v)
	return n, ok && n > 0
}
