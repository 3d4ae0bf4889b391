// Package metrics owns proxbox's Prometheus exposition at GET /metrics: a private
// prometheus.Registry with the Go runtime and process collectors, the NetBox GET cache under
// conventional names, sync run and object counters, and request counters and latencies for the
// NetBox and Proxmox peers. It must not import go-netbox, go-proxmox, echo or the store; the
// server mounts Handler (and decides whether the API key protects it, PROXBOX_METRICS_PUBLIC), the
// engine calls ObserveSyncRun and AddSyncObjects, and the peer adapters wrap their transports with
// InstrumentTransport.
//
// The Python-compatible cache exposition (proxbox_cache_hits …, GET /cache/metrics/prometheus) is
// written by getcache.(*Cache).WritePrometheusText, not here.
//
// # Metric names (stable; dashboards and alerts depend on them)
//
// NetBox GET cache, registered by RegisterCache. Counters are lifetime values: unlike the Python
// names they are not reset by /clear-cache.
//
//	proxbox_netbox_get_cache_hits_total                 counter  lookups served from the cache
//	proxbox_netbox_get_cache_misses_total               counter  lookups that went to NetBox
//	proxbox_netbox_get_cache_coalesced_total            counter  misses that shared another caller's request
//	proxbox_netbox_get_cache_bypass_total               counter  GETs sent with Cache-Control no-cache/no-store
//	proxbox_netbox_get_cache_invalidations_total        counter  entries removed by writes
//	proxbox_netbox_get_cache_evictions_total{reason}    counter  reason="ttl" (expired) or "size" (limits)
//	proxbox_netbox_get_cache_evicted_bytes_total        counter  bytes of entries evicted for size
//	proxbox_netbox_get_cache_stale_fills_dropped_total  counter  answers not stored because a write raced them
//	proxbox_netbox_get_cache_entries                    gauge    entries cached now
//	proxbox_netbox_get_cache_bytes                      gauge    bytes cached now (sum of body lengths)
//	proxbox_netbox_get_cache_max_entries                gauge    entry limit
//	proxbox_netbox_get_cache_max_bytes                  gauge    byte limit
//	proxbox_netbox_get_cache_ttl_seconds                gauge    TTL (0 = disabled)
//	proxbox_netbox_get_cache_oldest_entry_age_seconds   gauge    age of the oldest entry, 0 when empty
//
// Sync engine:
//
//	proxbox_sync_runs_total{stage,outcome}                counter    outcome="ok" or "error"
//	proxbox_sync_run_duration_seconds{stage,outcome}      histogram  wall time of a stage or run
//	proxbox_sync_objects_total{type,outcome}              counter    objects by type ("virtual_machine", …) and
//	                                                                 outcome ("created", "updated", "unchanged",
//	                                                                 "deleted", "failed", …)
//
// Watch (package watch):
//
//	proxbox_watch_change_latency_seconds                  histogram  from a Proxmox change seen by the watch
//	                                                                 to the end of the run that wrote it to NetBox
//
// Peers (peer = "netbox" or "proxmox"):
//
//	proxbox_peer_requests_total{peer,method,status}            counter    status = "2xx" … "5xx" or "error"
//	proxbox_peer_request_duration_seconds{peer,method,status}  histogram  time until response headers
//
// method is the HTTP method (unknown methods become "OTHER"). URLs and paths are never labels.
// Label values for stage, type and outcome come from the engine's fixed vocabularies; callers
// must not pass user data (names, IDs) there.
//
// Go runtime (go_*) and process (process_*) metrics come from the standard client_golang
// collectors.
package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/proxbox/proxbox/netbox/getcache"
)

// Registry is proxbox's private Prometheus registry and its instruments.
type Registry struct {
	reg *prometheus.Registry

	syncRuns     *prometheus.CounterVec
	syncDuration *prometheus.HistogramVec
	syncObjects  *prometheus.CounterVec
	peerRequests *prometheus.CounterVec
	peerDuration *prometheus.HistogramVec
	certEvents   *prometheus.CounterVec
	watchDelay   prometheus.Histogram
}

// New returns a registry with the Go and process collectors and the sync and peer instruments.
func New() *Registry {
	r := &Registry{
		reg: prometheus.NewRegistry(),
		syncRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxbox_sync_runs_total",
			Help: "Sync runs and stages finished, by stage and outcome.",
		}, []string{"stage", "outcome"}),
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "proxbox_sync_run_duration_seconds",
			Help:    "Wall time of sync runs and stages, by stage and outcome.",
			Buckets: []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
		}, []string{"stage", "outcome"}),
		syncObjects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxbox_sync_objects_total",
			Help: "Objects handled by sync, by object type and outcome.",
		}, []string{"type", "outcome"}),
		peerRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxbox_peer_requests_total",
			Help: "HTTP requests sent to NetBox and Proxmox, by peer, method and status class.",
		}, []string{"peer", "method", "status"}),
		peerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "proxbox_peer_request_duration_seconds",
			Help:    "Time until response headers of requests to NetBox and Proxmox, by peer, method and status class.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"peer", "method", "status"}),
		watchDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "proxbox_watch_change_latency_seconds",
			Help:    "Delay from a Proxmox change seen by the watch to the end of the sync run that wrote it to NetBox.",
			Buckets: []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300},
		}),
		certEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxbox_tls_certificate_events_total",
			Help: "TLS certificate events (obtained, renewed, failed, reloaded), by event.",
		}, []string{"event"}),
	}
	r.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.syncRuns, r.syncDuration, r.syncObjects, r.peerRequests, r.peerDuration, r.certEvents, r.watchDelay,
	)
	return r
}

// Handler serves the exposition (text or protobuf by content negotiation). Collection errors are
// served as HTTP 500 only if nothing could be gathered; otherwise the partial result is served.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		Registry:          r.reg,
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: false,
	})
}

// Gatherer exposes the registry for tests and for callers that push or merge metrics.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Register adds another collector (for packages that own their own instruments).
func (r *Registry) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return fmt.Errorf("register collector: %w", err)
	}
	return nil
}

// ErrCacheRegistered is returned by RegisterCache when a cache is already registered.
var ErrCacheRegistered = errors.New("a NetBox GET cache is already registered")

// RegisterCache exports c under the proxbox_netbox_get_cache_* names. Only one cache can be
// registered per Registry.
func (r *Registry) RegisterCache(c *getcache.Cache) error {
	if err := r.reg.Register(newCacheCollector(c)); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return ErrCacheRegistered
		}
		return fmt.Errorf("register netbox get cache collector: %w", err)
	}
	return nil
}

func outcome(ok bool) string {
	if ok {
		return "ok"
	}
	return "error"
}

// ObserveSyncRun records one finished run or stage: it counts it and observes its duration.
func (r *Registry) ObserveSyncRun(stage string, d time.Duration, ok bool) {
	o := outcome(ok)
	r.syncRuns.WithLabelValues(stage, o).Inc()
	r.syncDuration.WithLabelValues(stage, o).Observe(d.Seconds())
}

// ObserveWatchLatency records the change-to-NetBox delay of one change set
// the watch applied.
func (r *Registry) ObserveWatchLatency(d time.Duration) { r.watchDelay.Observe(d.Seconds()) }

// AddSyncObjects adds n objects of objType with the given outcome. n <= 0 is ignored.
func (r *Registry) AddSyncObjects(objType, outcome string, n int) {
	if n <= 0 {
		return
	}
	r.syncObjects.WithLabelValues(objType, outcome).Add(float64(n))
}

// CertificateEvent counts one TLS certificate event (certs.Config.OnEvent).
func (r *Registry) CertificateEvent(event string) {
	r.certEvents.WithLabelValues(event).Inc()
}
