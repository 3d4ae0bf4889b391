package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/proxbox/proxbox/netbox/getcache"
)

// cacheCollector reads one consistent getcache.Stats snapshot per scrape and reports it as
// const metrics: a single lock per scrape instead of one per CounterFunc/GaugeFunc, and counters
// and gauges that always agree with each other.
type cacheCollector struct {
	c *getcache.Cache

	hits, misses, coalesced, bypass, invalidations *prometheus.Desc
	evictions, evictedBytes, staleDropped          *prometheus.Desc
	entries, bytes, maxEntries, maxBytes, ttl, age *prometheus.Desc
}

func newCacheCollector(c *getcache.Cache) *cacheCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("proxbox_netbox_get_cache_"+name, help, labels, nil)
	}
	return &cacheCollector{
		c:             c,
		hits:          d("hits_total", "NetBox GET cache lookups served from the cache."),
		misses:        d("misses_total", "NetBox GET cache lookups that went to NetBox."),
		coalesced:     d("coalesced_total", "NetBox GET cache misses that shared another caller's request to NetBox."),
		bypass:        d("bypass_total", "NetBox GETs sent with Cache-Control no-cache or no-store."),
		invalidations: d("invalidations_total", "NetBox GET cache entries removed because of writes."),
		evictions:     d("evictions_total", "NetBox GET cache entries evicted, by reason (ttl or size).", "reason"),
		evictedBytes:  d("evicted_bytes_total", "Bytes of NetBox GET cache entries evicted to respect the limits."),
		staleDropped:  d("stale_fills_dropped_total", "NetBox GET answers not cached because a write to the same model raced them."),
		entries:       d("entries", "NetBox GET cache entries."),
		bytes:         d("bytes", "NetBox GET cache size in bytes (sum of cached body lengths)."),
		maxEntries:    d("max_entries", "NetBox GET cache entry limit."),
		maxBytes:      d("max_bytes", "NetBox GET cache byte limit."),
		ttl:           d("ttl_seconds", "NetBox GET cache TTL in seconds (0 disables the cache)."),
		age:           d("oldest_entry_age_seconds", "Age of the oldest NetBox GET cache entry in seconds (0 when empty)."),
	}
}

func (cc *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		cc.hits, cc.misses, cc.coalesced, cc.bypass, cc.invalidations, cc.evictions, cc.evictedBytes,
		cc.staleDropped, cc.entries, cc.bytes, cc.maxEntries, cc.maxBytes, cc.ttl, cc.age,
	} {
		ch <- d
	}
}

func (cc *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	s := cc.c.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(cc.hits, s.Hits)
	counter(cc.misses, s.Misses)
	counter(cc.coalesced, s.Coalesced)
	counter(cc.bypass, s.Bypassed)
	counter(cc.invalidations, s.Invalidations)
	counter(cc.evictions, s.EvictionsTTL, "ttl")
	counter(cc.evictions, s.EvictionsSize, "size")
	counter(cc.evictedBytes, s.EvictedBytes)
	counter(cc.staleDropped, s.StaleFillsDropped)
	gauge(cc.entries, float64(s.Entries))
	gauge(cc.bytes, float64(s.Bytes))
	gauge(cc.maxEntries, float64(s.Limits.MaxEntries))
	gauge(cc.maxBytes, float64(s.Limits.MaxBytes))
	gauge(cc.ttl, s.Limits.TTL.Seconds())
	gauge(cc.age, s.OldestEntryAge.Seconds())
}
