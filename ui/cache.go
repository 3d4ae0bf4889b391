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

// The cache chart draws a ring of samples the server takes every
// CacheSampleEvery (Dashboard.Run), whether or not a page is open: an hour
// of history.
const (
	CacheSampleEvery = 10 * time.Second
	cacheKeep        = 360
)

// cacheSample is the cache's lifetime counters and gauges at one instant.
type cacheSample struct {
	At                     time.Time
	Hits, Misses, Bypassed uint64
	Entries                int
	Bytes                  int64
}

// Run samples the cache every CacheSampleEvery until ctx ends (serve
// starts it beside the HTTP server).
func (h *Dashboard) Run(ctx context.Context) {
	if h.d.Cache == nil {
		return
	}
	h.takeCacheSample()
	tick := time.NewTicker(CacheSampleEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			h.takeCacheSample()
		}
	}
}

// takeCacheSample records the cache's counters in the ring.
func (h *Dashboard) takeCacheSample() {
	st := h.d.Cache.Stats()
	s := cacheSample{At: h.now(), Hits: st.Hits, Misses: st.Misses, Bypassed: st.Bypassed, Entries: st.Entries, Bytes: st.Bytes}
	h.cacheMu.Lock()
	defer h.cacheMu.Unlock()
	h.cacheSamples = append(h.cacheSamples, s)
	if len(h.cacheSamples) > cacheKeep {
		h.cacheSamples = append([]cacheSample(nil), h.cacheSamples[len(h.cacheSamples)-cacheKeep:]...)
	}
}

// cacheHistory returns the samples taken so far, oldest first.
func (h *Dashboard) cacheHistory() []cacheSample {
	h.cacheMu.Lock()
	defer h.cacheMu.Unlock()
	return append([]cacheSample(nil), h.cacheSamples...)
}

// cacheCounts are the lifetime counters the page explains.
type cacheCounts struct {
	Hits, Misses, Bypassed uint64
}

// cacheChart plots, per sampling interval, the hits, misses and bypasses,
// and the entries held.
func (h *Dashboard) cacheChart(r *http.Request, s []cacheSample) timeChart {
	var times []time.Time
	var hits, misses, byp, entries []float64
	var tips []string
	for i := 1; i < len(s); i++ {
		a, b := s[i-1], s[i]
		if b.Hits < a.Hits || b.Misses < a.Misses || b.Bypassed < a.Bypassed {
			continue // counters restarted
		}
		dh, dm, db := b.Hits-a.Hits, b.Misses-a.Misses, b.Bypassed-a.Bypassed
		times = append(times, b.At)
		hits, misses, byp, entries = append(hits, float64(dh)), append(misses, float64(dm)), append(byp, float64(db)), append(entries, float64(b.Entries))
		tips = append(tips, h.trf(r, "cache.pointTitle", a.At.UTC().Format("15:04:05"), b.At.UTC().Format("15:04:05"), dh, dm, db, b.Entries))
	}
	return newTimeChart(h.tr(r, "cache.chartLabel"), h.tr(r, "cache.timeAxis"), times, []chartSeries{
		{Title: h.tr(r, "cache.seriesHits"), Values: hits, Format: countLabel, Count: true},
		{Title: h.tr(r, "cache.seriesMisses"), Values: misses, Format: countLabel, Count: true},
		{Title: h.tr(r, "cache.seriesBypasses"), Values: byp, Format: countLabel, Count: true},
		{Title: h.tr(r, "cache.seriesEntries"), Values: entries, Format: countLabel, Count: true},
	}, tips, nil, nil)
}

type cacheForm struct {
	TTL, MaxEntries, MaxBytes string
	Errors                    map[string]string
}

type cacheVM struct {
	Wired    bool
	Metrics  getcache.MetricsJSON
	Counts   cacheCounts
	Chart    timeChart
	Form     cacheForm
	Defaults getcache.Settings
	Source   string // environment | settings
}

func formOf(s getcache.Settings) cacheForm {
	return cacheForm{TTL: secs(s.TTLSeconds), MaxEntries: itoa(s.MaxEntries), MaxBytes: i64(s.MaxBytes)}
}

// cacheNow reads the metrics, the lifetime counters and the chart.
func (h *Dashboard) cacheNow(r *http.Request) (getcache.MetricsJSON, cacheCounts, timeChart) {
	st := h.d.Cache.Stats()
	return h.d.Cache.Metrics(), cacheCounts{Hits: st.Hits, Misses: st.Misses, Bypassed: st.Bypassed}, h.cacheChart(r, h.cacheHistory())
}

func (h *Dashboard) cacheVM(r *http.Request) (cacheVM, error) {
	vm := cacheVM{Wired: h.d.Cache != nil}
	if !vm.Wired {
		return vm, nil
	}
	vm.Metrics, vm.Counts, vm.Chart = h.cacheNow(r)
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
	m, c, ch := h.cacheNow(r)
	h.render(w, r, http.StatusOK, cacheMetrics(m, c, ch))
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
