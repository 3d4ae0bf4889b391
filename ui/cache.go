package ui

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/proxbox/proxbox/netbox/getcache"
	"github.com/proxbox/proxbox/server"
)

// cacheKeep bounds the metrics history the chart draws; samples are taken
// when the page or its poll asks, at most one per cacheEvery.
const (
	cacheKeep  = 120
	cacheEvery = 2 * time.Second
)

type cacheForm struct {
	TTL, MaxEntries, MaxBytes string
	Errors                    map[string]string
}

type cacheVM struct {
	Wired    bool
	Metrics  getcache.MetricsJSON
	Chart    lineChart
	Form     cacheForm
	Defaults getcache.Settings
	Source   string // environment | settings
}

func formOf(s getcache.Settings) cacheForm {
	return cacheForm{TTL: secs(s.TTLSeconds), MaxEntries: itoa(s.MaxEntries), MaxBytes: i64(s.MaxBytes)}
}

// sampleCache records the current metrics and returns the history.
func (h *Dashboard) sampleCache() (getcache.MetricsJSON, []cacheSample) {
	m := h.d.Cache.Metrics()
	now := h.now()
	h.cacheMu.Lock()
	defer h.cacheMu.Unlock()
	if n := len(h.cacheSamples); n == 0 || now.Sub(h.cacheSamples[n-1].At) >= cacheEvery {
		h.cacheSamples = append(h.cacheSamples, cacheSample{At: now, HitRate: m.HitRate, Entries: m.CurrentEntries, Bytes: m.CurrentBytes})
		if len(h.cacheSamples) > cacheKeep {
			h.cacheSamples = h.cacheSamples[len(h.cacheSamples)-cacheKeep:]
		}
	}
	return m, append([]cacheSample(nil), h.cacheSamples...)
}

func (h *Dashboard) cacheVM(r *http.Request) (cacheVM, error) {
	vm := cacheVM{Wired: h.d.Cache != nil}
	if !vm.Wired {
		return vm, nil
	}
	var samples []cacheSample
	vm.Metrics, samples = h.sampleCache()
	vm.Chart = cacheChart(samples)
	vm.Form = formOf(h.d.Cache.Limits().Settings())
	vm.Defaults = h.d.CacheDefaults.Settings()
	var stored getcache.Settings
	found, err := h.d.Store.Setting(r.Context(), server.CacheSettingKey, &stored)
	if err != nil {
		return vm, err
	}
	vm.Source = "environment"
	if found {
		vm.Source = "settings"
	}
	return vm, nil
}

func (h *Dashboard) cachePage(w http.ResponseWriter, r *http.Request) {
	vm, err := h.cacheVM(r)
	if err != nil {
		h.fail(w, r, "read cache settings", err)
		return
	}
	h.render(w, r, http.StatusOK, cachePage(h.pageCtx(r, h.tr(r, "nav.cache"), "cache"), vm))
}

func (h *Dashboard) cacheMetricsFragment(w http.ResponseWriter, r *http.Request) {
	if h.d.Cache == nil {
		http.NotFound(w, r)
		return
	}
	m, samples := h.sampleCache()
	h.render(w, r, http.StatusOK, cacheMetrics(m, cacheChart(samples)))
}

// parseCacheForm reads the tuning form. Messages use the settings API's
// field names and getcache's own validation.
func parseCacheForm(ctx context.Context, f cacheForm) (getcache.Limits, map[string]string) {
	bad := map[string]string{}
	var s getcache.Settings
	ttl, err := strconv.ParseFloat(strings.TrimSpace(f.TTL), 64)
	if err != nil {
		bad["ttl_seconds"] = msg(ctx, "valid.ttl")
	}
	s.TTLSeconds = ttl
	n, err := strconv.Atoi(strings.TrimSpace(f.MaxEntries))
	if err != nil {
		bad["max_entries"] = msg(ctx, "valid.entries")
	}
	s.MaxEntries = n
	b, err := strconv.ParseInt(strings.TrimSpace(f.MaxBytes), 10, 64)
	if err != nil {
		bad["max_bytes"] = msg(ctx, "valid.bytes")
	}
	s.MaxBytes = b
	l := s.Limits()
	for k, v := range l.Validate() {
		if _, ok := bad[k]; !ok {
			bad[k] = v
		}
	}
	if len(bad) > 0 {
		return l, bad
	}
	return l, nil
}

func (h *Dashboard) cacheTune(w http.ResponseWriter, r *http.Request) {
	if h.d.Cache == nil {
		http.NotFound(w, r)
		return
	}
	f := cacheForm{TTL: r.PostForm.Get("ttl_seconds"), MaxEntries: r.PostForm.Get("max_entries"), MaxBytes: r.PostForm.Get("max_bytes")}
	l, bad := parseCacheForm(r.Context(), f)
	if bad != nil {
		vm, err := h.cacheVM(r)
		if err != nil {
			h.fail(w, r, "read cache settings", err)
			return
		}
		f.Errors = bad
		vm.Form = f
		h.render(w, r, http.StatusUnprocessableEntity, cachePage(h.pageCtx(r, h.tr(r, "nav.cache"), "cache"), vm))
		return
	}
	h.d.Cache.SetLimits(l)
	if err := h.d.Store.SetSetting(r.Context(), server.CacheSettingKey, l.Settings()); err != nil {
		h.fail(w, r, "save cache settings", err)
		return
	}
	h.log.Info("NetBox GET cache tuned from the dashboard", "ttl_seconds", l.TTL.Seconds(), "max_entries", l.MaxEntries, "max_bytes", l.MaxBytes)
	h.flashTo(w, r, "/ui/cache", "ok", h.tr(r, "flash.cacheSaved"))
}

func (h *Dashboard) cacheReset(w http.ResponseWriter, r *http.Request) {
	if h.d.Cache == nil {
		http.NotFound(w, r)
		return
	}
	if err := h.d.Store.DeleteSetting(r.Context(), server.CacheSettingKey); err != nil {
		h.fail(w, r, "reset cache settings", err)
		return
	}
	h.d.Cache.SetLimits(h.d.CacheDefaults)
	h.log.Info("NetBox GET cache limits reset to the environment's from the dashboard")
	h.flashTo(w, r, "/ui/cache", "ok", h.tr(r, "flash.cacheReset"))
}

func (h *Dashboard) cacheClear(w http.ResponseWriter, r *http.Request) {
	if h.d.Cache == nil {
		http.NotFound(w, r)
		return
	}
	h.d.Cache.Clear()
	h.log.Info("NetBox GET cache cleared from the dashboard")
	h.flashTo(w, r, "/ui/cache", "ok", h.tr(r, "flash.cacheCleared"))
}
