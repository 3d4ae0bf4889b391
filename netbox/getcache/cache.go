package getcache

import (
	"bytes"
	"container/list"
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	gocache "github.com/patrickmn/go-cache"
	"golang.org/x/sync/singleflight"
)

// DefaultSweepInterval is how often the expiry ticker runs when Config.SweepInterval is zero.
const DefaultSweepInterval = time.Second

// Config configures a Cache. The zero value is usable: default limits, no logging.
type Config struct {
	// Limits applies from the start. The zero Limits{} means DefaultLimits(); to start disabled,
	// set TTL 0 with valid MaxEntries and MaxBytes. Invalid values are clamped (see SetLimits).
	Limits Limits
	// Logger receives the debug events when Debug is on. Nil discards them.
	Logger *slog.Logger
	// Debug logs hit, miss, expiry, eviction and invalidation (PROXBOX_DEBUG_CACHE=1).
	Debug bool
	// SweepInterval is the period of the expiry ticker started by Start; 0 means
	// DefaultSweepInterval.
	SweepInterval time.Duration
	// Now is the clock; nil means time.Now. Tests inject a fake clock.
	Now func() time.Time
}

// payload is what go-cache stores: the answer, tagged with the generation of its insertion.
type payload struct {
	gen    uint64
	status int
	header http.Header
	body   []byte
}

// meta is the wrapper's bookkeeping of one entry.
type meta struct {
	key      string
	endpoint string
	model    string // endpoint + "\x00" + model prefix
	path     string
	query    string
	size     int64
	stored   time.Time
	gen      uint64
	lru      *list.Element // in Cache.lru, front = most recently used
	age      *list.Element // in Cache.age, front = oldest inserted
}

type counters struct {
	hits, misses, invalidations        uint64
	evictionsTTL, evictionsSize        uint64
	evictedBytes, coalesced, bypassed  uint64
	staleFillsDropped, tooLargeSkipped uint64
}

type removal int

const (
	removeTTL removal = iota
	removeSize
	removeInvalidate
	removeReplace
	removeFlush // Clear, disabling: not counted
)

// Cache is the bounded NetBox GET cache. All methods are safe for concurrent use.
type Cache struct {
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration
	debug    atomic.Bool

	mu         sync.Mutex
	store      *gocache.Cache
	index      map[string]*meta
	lru        *list.List
	age        *list.List
	byModel    map[string]map[*meta]struct{}
	byEndpoint map[string]map[*meta]struct{}
	// Generation numbers: a fill is stored only if the sum for its model is unchanged and no
	// write to the model is in flight.
	globalGen      uint64
	modelGen       map[string]uint64
	endpointGen    map[string]uint64
	modelWrites    map[string]int
	endpointWrites map[string]int
	apiIDs         map[string]int
	bytes          int64
	limits         Limits
	seq            uint64
	since, total   counters
	collecting     bool
	expiredByStore []expired

	flights singleflight.Group

	runMu   sync.Mutex
	started bool
	stop    chan struct{}
	done    chan struct{}

	// Test hooks.
	newTicker  func(time.Duration) (<-chan time.Time, func())
	afterSweep func()
}

type expired struct {
	key string
	gen uint64
}

// New returns a cache with cfg applied. Call Start to run expiry and Close to stop it.
func New(cfg Config) *Cache {
	c := &Cache{
		log:            cfg.Logger,
		now:            cfg.Now,
		interval:       cfg.SweepInterval,
		index:          map[string]*meta{},
		lru:            list.New(),
		age:            list.New(),
		byModel:        map[string]map[*meta]struct{}{},
		byEndpoint:     map[string]map[*meta]struct{}{},
		modelGen:       map[string]uint64{},
		endpointGen:    map[string]uint64{},
		modelWrites:    map[string]int{},
		endpointWrites: map[string]int{},
		apiIDs:         map[string]int{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.interval <= 0 {
		c.interval = DefaultSweepInterval
	}
	c.limits = cfg.Limits
	if c.limits == (Limits{}) {
		c.limits = DefaultLimits()
	}
	c.limits = c.limits.clamp()
	c.debug.Store(cfg.Debug)
	// No janitor (cleanup interval 0): expiry runs from our ticker. Every Set passes an explicit
	// duration, so the default expiration is never used.
	c.store = gocache.New(gocache.NoExpiration, 0)
	c.store.OnEvicted(c.onStoreEvicted)
	c.newTicker = func(d time.Duration) (<-chan time.Time, func()) {
		t := time.NewTicker(d)
		return t.C, t.Stop
	}
	return c
}

// onStoreEvicted runs synchronously inside go-cache Delete and DeleteExpired, which we only call
// with c.mu held. It records what go-cache expired on its own clock during DeleteExpired.
func (c *Cache) onStoreEvicted(k string, v any) {
	if !c.collecting {
		return
	}
	if p, ok := v.(*payload); ok {
		c.expiredByStore = append(c.expiredByStore, expired{key: k, gen: p.gen})
	}
}

// SetDebug switches the debug events on or off at once.
func (c *Cache) SetDebug(on bool) { c.debug.Store(on) }

// Start runs the expiry ticker until ctx is cancelled or Close is called. A second call while it
// runs does nothing.
func (c *Cache) Start(ctx context.Context) {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	if c.started {
		return
	}
	c.started = true
	c.stop = make(chan struct{})
	c.done = make(chan struct{})
	ticks, stopTicker := c.newTicker(c.interval)
	go func(stop, done chan struct{}) {
		defer close(done)
		defer stopTicker()
		for {
			select {
			case <-ctx.Done():
				return
			case <-stop:
				return
			case <-ticks:
				c.Sweep()
			}
		}
	}(c.stop, c.done)
}

// Close stops the expiry ticker and waits for it. The cache stays usable; expired entries are
// still never served. Close is idempotent; Start may be called again afterwards.
func (c *Cache) Close() {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	if !c.started {
		return
	}
	close(c.stop)
	<-c.done
	c.started = false
}

// Sweep removes every expired entry now. The ticker calls it; it is exported for callers that
// drive expiry themselves.
func (c *Cache) Sweep() {
	c.mu.Lock()
	c.sweepLocked(c.now())
	c.mu.Unlock()
	if c.afterSweep != nil {
		c.afterSweep()
	}
}

func (c *Cache) sweepLocked(now time.Time) {
	ttl := c.limits.TTL
	for e := c.age.Front(); e != nil; {
		m := e.Value.(*meta)
		if ttl > 0 && now.Sub(m.stored) < ttl {
			break // age list is in insertion order, and the TTL is the same for every entry
		}
		e = e.Next()
		c.removeLocked(m, removeTTL)
	}
	// Anything go-cache expired on its own clock (wall-clock jumps, fake clocks in tests).
	c.collecting = true
	c.store.DeleteExpired()
	c.collecting = false
	for _, x := range c.expiredByStore {
		if m := c.index[x.key]; m != nil && m.gen == x.gen {
			c.removeLocked(m, removeTTL)
		}
	}
	c.expiredByStore = c.expiredByStore[:0]
}

func (c *Cache) expiredLocked(m *meta, now time.Time) bool {
	return c.limits.TTL <= 0 || now.Sub(m.stored) >= c.limits.TTL
}

func (c *Cache) removeLocked(m *meta, why removal) {
	delete(c.index, m.key)
	c.store.Delete(m.key)
	c.lru.Remove(m.lru)
	c.age.Remove(m.age)
	if s := c.byModel[m.model]; s != nil {
		delete(s, m)
		if len(s) == 0 {
			delete(c.byModel, m.model)
		}
	}
	if s := c.byEndpoint[m.endpoint]; s != nil {
		delete(s, m)
		if len(s) == 0 {
			delete(c.byEndpoint, m.endpoint)
		}
	}
	c.bytes -= m.size
	var event string
	switch why {
	case removeTTL:
		c.since.evictionsTTL++
		c.total.evictionsTTL++
		event = "expired"
	case removeSize:
		c.since.evictionsSize++
		c.total.evictionsSize++
		c.since.evictedBytes += uint64(m.size)
		c.total.evictedBytes += uint64(m.size)
		event = "evicted"
	case removeInvalidate:
		c.since.invalidations++
		c.total.invalidations++
		event = "invalidated"
	default:
		return
	}
	c.debugf(event, m.path, m.query, slog.Int64("bytes", m.size))
}

func (c *Cache) debugf(event, path, query string, attrs ...slog.Attr) {
	if !c.debug.Load() {
		return
	}
	attrs = append(attrs, slog.String("event", event), slog.String("path", path), slog.String("query", query))
	c.log.LogAttrs(context.Background(), slog.LevelInfo, "netbox get cache", attrs...)
}

// genLocked is the generation a fill for model on endpoint is checked against.
func (c *Cache) genLocked(endpoint, model string) uint64 {
	return c.globalGen + c.modelGen[model] + c.endpointGen[endpoint]
}

func (c *Cache) writingLocked(endpoint, model string) bool {
	return c.modelWrites[model] > 0 || c.endpointWrites[endpoint] > 0
}

// lookup is the read side. It returns the payload on a hit, and the generation a fill must be
// stored under on a miss. ok is false when the cache is disabled (nothing counted).
func (c *Cache) lookup(k *key) (p *payload, gen uint64, enabled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.limits.TTL <= 0 {
		return nil, 0, false
	}
	gen = c.genLocked(k.endpoint, k.model)
	m := c.index[k.full]
	if m != nil {
		now := c.now()
		if c.expiredLocked(m, now) {
			c.removeLocked(m, removeTTL)
			m = nil
		}
	}
	if m != nil {
		v, found := c.store.Get(k.full)
		if pl, isPayload := v.(*payload); found && isPayload && pl.gen == m.gen {
			c.lru.MoveToFront(m.lru)
			c.since.hits++
			c.total.hits++
			c.debugf("hit", k.path, k.query)
			return pl, gen, true
		}
		// go-cache expired it on its own clock first.
		c.removeLocked(m, removeTTL)
	}
	c.since.misses++
	c.total.misses++
	c.debugf("miss", k.path, k.query)
	return nil, gen, true
}

// fill stores a 200 answer fetched under generation gen. It reports whether it was stored.
func (c *Cache) fill(k *key, gen uint64, status int, header http.Header, body []byte) bool {
	size := int64(len(body))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.limits.TTL <= 0 {
		return false
	}
	if c.genLocked(k.endpoint, k.model) != gen || c.writingLocked(k.endpoint, k.model) {
		c.since.staleFillsDropped++
		c.total.staleFillsDropped++
		c.debugf("stale fill dropped", k.path, k.query)
		return false
	}
	if size > c.limits.MaxBytes {
		c.since.tooLargeSkipped++
		c.total.tooLargeSkipped++
		c.debugf("too large to cache", k.path, k.query, slog.Int64("bytes", size))
		return false
	}
	now := c.now()
	c.sweepLocked(now)
	if old := c.index[k.full]; old != nil {
		c.removeLocked(old, removeReplace)
	}
	for c.lru.Len() > 0 && (c.lru.Len()+1 > c.limits.MaxEntries || c.bytes+size > c.limits.MaxBytes) {
		c.removeLocked(c.lru.Back().Value.(*meta), removeSize)
	}
	c.seq++
	p := &payload{gen: c.seq, status: status, header: header, body: body}
	m := &meta{
		key: k.full, endpoint: k.endpoint, model: k.model, path: k.path, query: k.query,
		size: size, stored: now, gen: c.seq,
	}
	c.store.Set(k.full, p, c.limits.TTL)
	m.lru = c.lru.PushFront(m)
	m.age = c.age.PushBack(m)
	c.index[k.full] = m
	addTo(c.byModel, k.model, m)
	addTo(c.byEndpoint, k.endpoint, m)
	c.bytes += size
	if _, ok := c.apiIDs[k.endpoint]; !ok {
		c.apiIDs[k.endpoint] = len(c.apiIDs) + 1
	}
	return true
}

func addTo(sets map[string]map[*meta]struct{}, k string, m *meta) {
	s := sets[k]
	if s == nil {
		s = map[*meta]struct{}{}
		sets[k] = s
	}
	s[m] = struct{}{}
}

// scope is what one write invalidates on one endpoint: some models, or the whole endpoint.
type scope struct {
	endpoint string
	models   []string // model keys
	all      bool
}

// beginWrite invalidates sc and marks a write in flight; endWrite invalidates again and clears
// the mark. Every beginWrite must be followed by exactly one endWrite.
func (c *Cache) beginWrite(sc scope) { c.invalidate(sc, +1) }
func (c *Cache) endWrite(sc scope)   { c.invalidate(sc, -1) }

func (c *Cache) invalidate(sc scope, writes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sc.all {
		c.endpointGen[sc.endpoint]++
		c.endpointWrites[sc.endpoint] += writes
		if c.endpointWrites[sc.endpoint] == 0 {
			delete(c.endpointWrites, sc.endpoint)
		}
		for m := range c.byEndpoint[sc.endpoint] {
			c.removeLocked(m, removeInvalidate)
		}
		return
	}
	for _, model := range sc.models {
		c.modelGen[model]++
		c.modelWrites[model] += writes
		if c.modelWrites[model] == 0 {
			delete(c.modelWrites, model)
		}
		for m := range c.byModel[model] {
			c.removeLocked(m, removeInvalidate)
		}
	}
}

// Limits returns the limits in force.
func (c *Cache) Limits() Limits {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limits
}

// SetLimits applies l at once: shrinking evicts least recently used entries, a shorter TTL expires
// entries that are now too old, TTL 0 empties and disables the cache (without counting
// evictions). Invalid values are clamped to the nearest valid one (TTL 0, 1 entry, 1024 bytes);
// callers that must reject them call Limits.Validate first.
func (c *Cache) SetLimits(l Limits) {
	l = l.clamp()
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.limits
	c.limits = l
	if l.TTL <= 0 {
		c.flushLocked()
	} else {
		now := c.now()
		c.sweepLocked(now)
		if l.TTL != old.TTL {
			// Re-arm go-cache's own expiry to the new TTL.
			for e := c.age.Front(); e != nil; e = e.Next() {
				m := e.Value.(*meta)
				if v, ok := c.store.Get(m.key); ok {
					c.store.Set(m.key, v, l.TTL-now.Sub(m.stored))
				}
			}
		}
		for c.lru.Len() > 0 && (c.lru.Len() > l.MaxEntries || c.bytes > l.MaxBytes) {
			c.removeLocked(c.lru.Back().Value.(*meta), removeSize)
		}
	}
	if c.debug.Load() {
		c.log.LogAttrs(context.Background(), slog.LevelInfo, "netbox get cache",
			slog.String("event", "limits"), slog.Duration("ttl", l.TTL),
			slog.Int("max_entries", l.MaxEntries), slog.Int64("max_bytes", l.MaxBytes))
	}
}

func (c *Cache) flushLocked() {
	for c.age.Len() > 0 {
		c.removeLocked(c.age.Front().Value.(*meta), removeFlush)
	}
}

// Clear empties the cache and resets the counters of Metrics and WritePrometheusText to zero,
// as the Python service's GET /clear-cache did. Stats keeps its lifetime counters. Fills that
// were in flight when Clear ran are not stored.
func (c *Cache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushLocked()
	c.globalGen++
	c.since = counters{}
	if c.debug.Load() {
		c.log.LogAttrs(context.Background(), slog.LevelInfo, "netbox get cache", slog.String("event", "cleared"))
	}
}

func newReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func (c *Cache) countBypass() {
	c.mu.Lock()
	c.since.bypassed++
	c.total.bypassed++
	c.mu.Unlock()
}

func (c *Cache) countCoalesced() {
	c.mu.Lock()
	c.since.coalesced++
	c.total.coalesced++
	c.mu.Unlock()
}

// currentGen returns the generation a no-cache fetch must be stored under; enabled is false when
// the TTL is 0.
func (c *Cache) currentGen(k *key) (gen uint64, enabled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.genLocked(k.endpoint, k.model), c.limits.TTL > 0
}

// peek returns a fresh entry stored under generation gen without counting or reordering.
func (c *Cache) peek(k *key, gen uint64) *payload {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.index[k.full]
	if m == nil || c.genLocked(k.endpoint, k.model) != gen || c.expiredLocked(m, c.now()) {
		return nil
	}
	if v, ok := c.store.Get(k.full); ok {
		if p, isPayload := v.(*payload); isPayload && p.gen == m.gen {
			return p
		}
	}
	return nil
}
