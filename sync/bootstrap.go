package sync

import (
	"context"
	"net/url"
)

// BootstrapItem is what Bootstrap did, or would do, to one shared object.
type BootstrapItem struct {
	Kind   string `json:"kind"` // tag | custom_field
	Name   string `json:"name"`
	ID     int64  `json:"id,omitempty"`
	Action string `json:"action"` // created | updated | unchanged | missing | outdated | failed
	Error  string `json:"error,omitempty"`
}

// Bootstrap ensures what every run ensures before its stages (the proxbox
// tags and custom fields, mapShared) without reading Proxmox: the plugin's
// sync-state repair (POST /extras/custom-fields/reconcile) and its
// bootstrap status card (GET /extras/bootstrap-status, with opt.DryRun,
// which writes nothing and reports missing or outdated objects). It writes
// nothing when NetBox already holds them.
func (e *Engine) Bootstrap(ctx context.Context, opt Options) ([]BootstrapItem, *Summary) {
	opt.defaults()
	start := opt.Now()
	rep := newReport(opt.Events, opt.Now)
	netboxDelta := e.netboxDelta()
	if e.Fresh != nil {
		ctx = e.Fresh(ctx)
	}
	d := newDesired()
	mapShared(d, opt.Map)
	r := &run{e: e, opt: opt, rep: rep, d: d, cur: map[string]map[int64]map[string]any{},
		keys: map[string]map[int64]string{}, created: map[string]bool{}, frozen: map[string]bool{}, ps: &pluginState{}}
	r.once = func(_ string, f func() error) error { return f() }
	rep.startStage("prelude")
	loaded := true
	for _, m := range []string{ModelTag, ModelCustomField} {
		if err := r.load(ctx, m, url.Values{}); err != nil {
			rep.fail("netbox", err.Error())
			loaded = false
			break
		}
	}
	if loaded {
		r.step(ctx, ModelTag, "", 0)
		r.step(ctx, ModelCustomField, "", 0)
	}
	rep.endStage()
	s := rep.summary(start, opt.DryRun)
	netboxDelta(s)
	if !loaded {
		return nil, s
	}
	done := map[string]Change{}
	for c, err := range s.Plan.All() {
		if err != nil {
			break
		}
		done[c.Model+"\x00"+c.Key] = c
	}
	var out []BootstrapItem
	for _, m := range []string{ModelTag, ModelCustomField} {
		kind := "tag"
		if m == ModelCustomField {
			kind = "custom_field"
		}
		for _, o := range d.Objects(m) {
			it := BootstrapItem{Kind: kind, Name: o.Key, Action: "unchanged"}
			if id, ok := r.idFor(m, o.Key); ok {
				it.ID = id
			}
			if c, ok := done[m+"\x00"+o.Key]; ok {
				it.Action, it.Error = bootstrapAction(c.Op, opt.DryRun), c.Error
				if c.Error != "" {
					it.Action = "failed"
				}
				if c.ID > 0 {
					it.ID = c.ID
				}
			}
			out = append(out, it)
		}
	}
	return out, s
}

func bootstrapAction(op Op, dry bool) string {
	switch {
	case op == OpCreate && dry:
		return "missing"
	case op == OpUpdate && dry:
		return "outdated"
	case op == OpCreate:
		return "created"
	case op == OpUpdate:
		return "updated"
	}
	return string(op)
}
