// Package getcache owns the NetBox GET cache: a bounded, TTL-limited, LRU-ordered store of NetBox
// API GET responses, the http.RoundTripper (Transport) that puts it on the NetBox client's request
// path, its live limits, and its JSON and Prometheus-text views.
//
// It must not import go-netbox, echo, the store or any other proxbox package: the server wires
// the routes (/cache, /cache/metrics, /cache/metrics/prometheus, /clear-cache, /cache/settings),
// the store persists settings, and the netbox adapter installs Transport under its http.Client.
//
// # What is cached
//
// Only GET requests under "/api/" whose path names a model ("/api/<app>/<model>/…" or
// "/api/plugins/<plugin>/<model>/…") and that answer 200 are cached. The key is the endpoint
// (Transport.Endpoint, else scheme://host), a hash of the headers that change the answer
// (Authorization, Accept, Accept-Encoding, Accept-Language, Cookie; the hash never leaves the
// process and is never logged), the path with a trailing "/" ensured, and the canonical query
// (url.Values.Encode: keys sorted, the order of repeated values kept). The size of an entry is the
// length of its body. Entries larger than MaxBytes are not stored.
//
// The store is github.com/patrickmn/go-cache v2.1.0 created without its janitor; this package
// wraps it with an LRU list (hits move an entry to the front; the back is evicted first when
// MaxEntries or MaxBytes would be exceeded), byte accounting, per-model generation numbers and
// counters. Expiry runs from our own ticker, started by Start and stopped by cancelling its
// context or by Close. An entry older than the TTL is never served, even between ticks. The Python
// service (../shared/spec/proxbox-api-surface.md §6.3) evicts in insertion order although its docs
// say LRU; we do LRU. Python drops expired entries on read without counting them; we count every
// expiry in evictions_ttl.
//
// # Invalidation and stale reads
//
// Every POST, PUT, PATCH or DELETE under "/api/" that goes through Transport invalidates, before
// the request is sent and again after its response (or error) arrives:
//
//   - POST/PUT/PATCH: every list and detail entry of the model of the path, on that endpoint, for
//     every header variant (bulk writes address the list path, so they are covered); writes to
//     "…/<id>/available-ips/", "available-prefixes", "available-vlans" and "available-asns" also
//     invalidate the model they create (ip-addresses, prefixes, vlans, asns);
//   - DELETE, and any write to extras/custom-fields, extras/custom-field-choice-sets, extras/tags,
//     extras/scripts or extras/reports, or to an "/api/" path that names no model: every entry of
//     the endpoint, because NetBox cascades deletes and these objects appear inside others.
//
// Each invalidation bumps a generation number of the models it covers. A GET miss remembers the
// generation it started under and its answer is stored only if no invalidation happened since and
// no write to the model is still in flight, so a GET racing a write can never leave a pre-write
// answer in the cache. Identical concurrent misses share one upstream request (singleflight, keyed
// by the generation too, so a GET that starts after a write completed never joins a flight that
// started before it).
//
// Writes change other models' representations too (counts, nested objects, primary IPs), which
// model-level invalidation cannot see. Therefore the sync engine's state load MUST send
// "Cache-Control: no-cache": such a GET skips the read side (no lookup, no singleflight), always
// goes to NetBox, and its 200 answer refreshes the entry under the same generation rules.
// "Cache-Control: no-store" skips the cache entirely. The cache is meant for repeated lookups
// (dependency ensures, natural-key lookups) within a stage.
//
// A cacheable GET miss reads the whole answer into memory before returning it (it is shared with
// concurrent callers and stored); NetBox pages are bounded by its MAX_PAGE_SIZE. Every answer to a
// cacheable GET carries the header X-Proxbox-Cache: HIT, MISS or BYPASS.
//
// A write that fails with a transport error (for example a timeout) may still be applied by NetBox
// after our second invalidation; a GET in between could then cache the pre-write answer for one
// TTL. The engine's no-cache state load is not affected.
//
// # Settings and counters
//
// Limits come from PROXBOX_NETBOX_GET_CACHE_TTL (seconds, float, 0 disables),
// PROXBOX_NETBOX_GET_CACHE_MAX_ENTRIES and PROXBOX_NETBOX_GET_CACHE_MAX_BYTES (parsed and validated
// by package config, before anything starts) and can be changed live with SetLimits.
// PROXBOX_DEBUG_CACHE=1 (Config.Debug, SetDebug) logs hit, miss, expiry, eviction and invalidation events at Info level through the
// injected logger, so the switch alone makes them visible. Paths and canonical queries are logged;
// header values never are.
//
// Metrics returns the 13 fields of the Python service's JSON, WritePrometheusText its exposition
// with the same names, HELP and TYPE lines; Clear empties the cache and resets those counters, as
// GET /clear-cache did. Stats returns lifetime counters that Clear does not reset, for the
// conventional Prometheus collectors in package metrics.
package getcache
