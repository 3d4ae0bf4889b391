package getcache

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"time"
)

// MetricsJSON is the Python service's metrics object (../shared/spec/proxbox-api-surface.md
// §6.4), served by GET /cache/metrics and inside GET /cache.
type MetricsJSON struct {
	Hits                  uint64  `json:"hits"`
	Misses                uint64  `json:"misses"`
	HitRate               float64 `json:"hit_rate"` // percent, 2 decimals
	Invalidations         uint64  `json:"invalidations"`
	EvictionsTTL          uint64  `json:"evictions_ttl"`
	EvictionsSize         uint64  `json:"evictions_size"`
	EvictionsBytes        uint64  `json:"evictions_bytes"`
	CurrentEntries        int     `json:"current_entries"`
	CurrentBytes          int64   `json:"current_bytes"`
	MaxEntries            int     `json:"max_entries"`
	MaxBytes              int64   `json:"max_bytes"`
	TTLSeconds            float64 `json:"ttl_seconds"`
	OldestEntryAgeSeconds float64 `json:"oldest_entry_age_seconds"` // 2 decimals
}

// MarshalJSON writes ttl_seconds, hit_rate and oldest_entry_age_seconds as floats with a
// decimal point (60.0, not 60), as Python does.
func (m MetricsJSON) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 320)
	b = append(b, `{"hits":`...)
	b = strconv.AppendUint(b, m.Hits, 10)
	b = append(b, `,"misses":`...)
	b = strconv.AppendUint(b, m.Misses, 10)
	b = append(b, `,"hit_rate":`...)
	b = append(b, pyFloat(m.HitRate)...)
	b = append(b, `,"invalidations":`...)
	b = strconv.AppendUint(b, m.Invalidations, 10)
	b = append(b, `,"evictions_ttl":`...)
	b = strconv.AppendUint(b, m.EvictionsTTL, 10)
	b = append(b, `,"evictions_size":`...)
	b = strconv.AppendUint(b, m.EvictionsSize, 10)
	b = append(b, `,"evictions_bytes":`...)
	b = strconv.AppendUint(b, m.EvictionsBytes, 10)
	b = append(b, `,"current_entries":`...)
	b = strconv.AppendInt(b, int64(m.CurrentEntries), 10)
	b = append(b, `,"current_bytes":`...)
	b = strconv.AppendInt(b, m.CurrentBytes, 10)
	b = append(b, `,"max_entries":`...)
	b = strconv.AppendInt(b, int64(m.MaxEntries), 10)
	b = append(b, `,"max_bytes":`...)
	b = strconv.AppendInt(b, m.MaxBytes, 10)
	b = append(b, `,"ttl_seconds":`...)
	b = append(b, pyFloat(m.TTLSeconds)...)
	b = append(b, `,"oldest_entry_age_seconds":`...)
	b = append(b, pyFloat(m.OldestEntryAgeSeconds)...)
	return append(b, '}'), nil
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// Metrics returns the counters since the last Clear and the current gauges.
func (c *Cache) Metrics() MetricsJSON {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := MetricsJSON{
		Hits:           c.since.hits,
		Misses:         c.since.misses,
		Invalidations:  c.since.invalidations,
		EvictionsTTL:   c.since.evictionsTTL,
		EvictionsSize:  c.since.evictionsSize,
		EvictionsBytes: c.since.evictedBytes,
		CurrentEntries: c.lru.Len(),
		CurrentBytes:   c.bytes,
		MaxEntries:     c.limits.MaxEntries,
		MaxBytes:       c.limits.MaxBytes,
		TTLSeconds:     c.limits.TTL.Seconds(),
	}
	if n := m.Hits + m.Misses; n > 0 {
		m.HitRate = round2(float64(m.Hits) / float64(n) * 100)
	}
	m.OldestEntryAgeSeconds = round2(c.oldestAgeLocked().Seconds())
	return m
}

func (c *Cache) oldestAgeLocked() time.Duration {
	e := c.age.Front()
	if e == nil {
		return 0
	}
	if d := c.now().Sub(e.Value.(*meta).stored); d > 0 {
		return d
	}
	return 0
}

// SampleEntry is one element of netbox_get_cache_sample. APIID numbers the NetBox endpoint
// (1, 2, … in order of first use), standing in for the Python client object id.
type SampleEntry struct {
	APIID int    `json:"api_id"`
	Path  string `json:"path"`
	Query string `json:"query"` // compact JSON with sorted keys, or ""
}

// Sample returns up to n keys, oldest inserted first (the Python route uses n = 20). It never
// returns nil.
func (c *Cache) Sample(n int) []SampleEntry {
	c.mu.Lock()
	out := make([]SampleEntry, 0, max(0, min(n, c.age.Len())))
	for e := c.age.Front(); e != nil && len(out) < n; e = e.Next() {
		m := e.Value.(*meta)
		out = append(out, SampleEntry{APIID: c.apiIDs[m.endpoint], Path: m.path, Query: m.query})
	}
	c.mu.Unlock()
	for i := range out {
		out[i].Query = queryJSON(out[i].Query)
	}
	return out
}

// queryJSON renders a canonical query as compact JSON with sorted keys: one value as a string,
// several as a list.
func queryJSON(q string) string {
	if q == "" {
		return ""
	}
	v, err := url.ParseQuery(q)
	if err != nil {
		return ""
	}
	obj := make(map[string]any, len(v))
	for k, vals := range v {
		if len(vals) == 1 {
			obj[k] = vals[0]
		} else {
			obj[k] = vals
		}
	}
	b, err := json.Marshal(obj) // map keys are sorted
	if err != nil {
		return ""
	}
	return string(b)
}

// Stats are lifetime counters (never reset by Clear) and current gauges, for Prometheus
// collectors that need monotonic counters.
type Stats struct {
	Hits, Misses, Invalidations uint64
	EvictionsTTL, EvictionsSize uint64
	EvictedBytes                uint64
	Coalesced                   uint64 // misses that shared another caller's upstream request
	Bypassed                    uint64 // GETs with Cache-Control no-cache or no-store
	StaleFillsDropped           uint64 // answers not stored because a write raced them
	Entries                     int
	Bytes                       int64
	Limits                      Limits
	OldestEntryAge              time.Duration
}

// Stats returns a consistent snapshot.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Hits: c.total.hits, Misses: c.total.misses, Invalidations: c.total.invalidations,
		EvictionsTTL: c.total.evictionsTTL, EvictionsSize: c.total.evictionsSize,
		EvictedBytes: c.total.evictedBytes, Coalesced: c.total.coalesced, Bypassed: c.total.bypassed,
		StaleFillsDropped: c.total.staleFillsDropped,
		Entries:           c.lru.Len(), Bytes: c.bytes, Limits: c.limits, OldestEntryAge: c.oldestAgeLocked(),
	}
}

// PrometheusContentType is the content type of WritePrometheusText.
const PrometheusContentType = "text/plain; charset=utf-8"

// WritePrometheusText writes the Python service's 13 metrics (§6.5 of the surface spec): HELP,
// TYPE and one unlabelled sample each, in the Python order, numbers printed as Python prints them.
func (c *Cache) WritePrometheusText(w io.Writer) error {
	m := c.Metrics()
	rows := [...]struct {
		name, typ, help, value string
	}{
		{"proxbox_cache_hits", "counter", "Total number of cache hits", strconv.FormatUint(m.Hits, 10)},
		{"proxbox_cache_misses", "counter", "Total number of cache misses", strconv.FormatUint(m.Misses, 10)},
		{"proxbox_cache_hit_rate", "gauge", "Cache hit rate percentage", pyFloat(m.HitRate)},
		{"proxbox_cache_invalidations", "counter", "Total number of cache invalidations", strconv.FormatUint(m.Invalidations, 10)},
		{"proxbox_cache_evictions_ttl", "counter", "Total entries evicted due to TTL expiry", strconv.FormatUint(m.EvictionsTTL, 10)},
		{"proxbox_cache_evictions_size", "counter", "Total entries evicted due to entry count limit", strconv.FormatUint(m.EvictionsSize, 10)},
		{"proxbox_cache_evictions_bytes", "counter", "Total bytes evicted due to size limit", strconv.FormatUint(m.EvictionsBytes, 10)},
		{"proxbox_cache_entries", "gauge", "Current number of cached entries", strconv.Itoa(m.CurrentEntries)},
		{"proxbox_cache_bytes", "gauge", "Current cache size in bytes", strconv.FormatInt(m.CurrentBytes, 10)},
		{"proxbox_cache_max_entries", "gauge", "Maximum cache entry count", strconv.Itoa(m.MaxEntries)},
		{"proxbox_cache_max_bytes", "gauge", "Maximum cache size in bytes", strconv.FormatInt(m.MaxBytes, 10)},
		{"proxbox_cache_ttl_seconds", "gauge", "Cache TTL setting", pyFloat(m.TTLSeconds)},
		{"proxbox_cache_oldest_age_seconds", "gauge", "Age of oldest entry in cache", pyFloat(m.OldestEntryAgeSeconds)},
	}
	bw := bufio.NewWriter(w)
	for _, r := range rows {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", r.name, r.help, r.name, r.typ, r.name, r.value)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write cache prometheus text: %w", err)
	}
	return nil
}

// pyFloat formats f as Python's repr does for finite floats: "60.0", "75.5", "1e-05", "1e+16".
func pyFloat(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(f); a < 1e-4 || a >= 1e16 {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s
		}
	}
	return s + ".0"
}
