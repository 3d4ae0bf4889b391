package getcache

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		l    Limits
		bad  []string
	}{
		{"defaults", DefaultLimits(), nil},
		{"minimums", Limits{TTL: 0, MaxEntries: 1, MaxBytes: 1024}, nil},
		{"negative ttl", Limits{TTL: -time.Second, MaxEntries: 1, MaxBytes: 1024}, []string{"ttl_seconds"}},
		{"all bad", Limits{TTL: -1, MaxEntries: 0, MaxBytes: 1023}, []string{"max_bytes", "max_entries", "ttl_seconds"}},
		{"settings overflow", Settings{TTLSeconds: 1e300, MaxEntries: 5, MaxBytes: 2048}.Limits(), []string{"ttl_seconds"}},
		{"settings negative", Settings{TTLSeconds: -0.5, MaxEntries: 5, MaxBytes: 2048}.Limits(), []string{"ttl_seconds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.l.Validate()
			var keys []string
			for k := range got {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tt.bad) {
				t.Errorf("invalid fields = %v (%v), want %v", keys, got, tt.bad)
			}
		})
	}
	s := Settings{TTLSeconds: 300, MaxEntries: 1234, MaxBytes: 7340032}
	if got := s.Limits().Settings(); got != s {
		t.Errorf("settings round trip = %+v, want %+v", got, s)
	}
}

func TestLRUOrder(t *testing.T) {
	tests := []struct {
		name  string
		steps []string // "get <uri>"
		want  []string // cached, oldest inserted first
	}{
		{
			name:  "hit refreshes, least recently used goes first",
			steps: []string{"/api/dcim/sites/", "/api/dcim/devices/", "/api/dcim/racks/", "/api/dcim/sites/", "/api/dcim/regions/"},
			want:  []string{"/api/dcim/sites/", "/api/dcim/racks/", "/api/dcim/regions/"},
		},
		{
			name:  "without hits the oldest goes first",
			steps: []string{"/api/dcim/sites/", "/api/dcim/devices/", "/api/dcim/racks/", "/api/dcim/regions/"},
			want:  []string{"/api/dcim/devices/", "/api/dcim/racks/", "/api/dcim/regions/"},
		},
		{
			name:  "queries are separate keys, canonical order",
			steps: []string{"/api/dcim/devices/?b=2&a=1", "/api/dcim/devices/?a=1&b=2", "/api/dcim/devices/?a=1"},
			want:  []string{"/api/dcim/devices/?a=1&b=2", "/api/dcim/devices/?a=1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(Limits{TTL: time.Minute, MaxEntries: 3, MaxBytes: 1 << 20})
			for _, s := range tt.steps {
				get(t, r.tr, s)
			}
			if got := r.cachedPaths(); !slices.Equal(got, tt.want) {
				t.Errorf("cached = %v, want %v", got, tt.want)
			}
			checkInvariants(t, r.c)
		})
	}
	// The hit is served from the cache and counted.
	r := newRig(Limits{TTL: time.Minute, MaxEntries: 3, MaxBytes: 1 << 20})
	if s := get(t, r.tr, "/api/dcim/sites/?q=x").state; s != "MISS" {
		t.Errorf("first GET state %q, want MISS", s)
	}
	if s := get(t, r.tr, "/api/dcim/sites?q=x").state; s != "HIT" {
		t.Errorf("second GET (no trailing slash) state %q, want HIT", s)
	}
	if n := r.nb.TotalCalls(); n != 1 {
		t.Errorf("upstream calls = %d, want 1", n)
	}
	if m := r.c.Metrics(); m.Hits != 1 || m.Misses != 1 || m.HitRate != 50 {
		t.Errorf("metrics = %+v", m)
	}
}

func TestByteAccounting(t *testing.T) {
	r := newRig(Limits{TTL: time.Minute, MaxEntries: 100, MaxBytes: 1024})
	r.nb.size["/api/dcim/sites/"] = 400
	r.nb.size["/api/dcim/racks/"] = 400
	r.nb.size["/api/dcim/devices/"] = 400
	get(t, r.tr, "/api/dcim/sites/")
	get(t, r.tr, "/api/dcim/racks/")
	if m := r.c.Metrics(); m.CurrentBytes != 800 || m.CurrentEntries != 2 {
		t.Fatalf("after two fills: %d bytes, %d entries; want 800, 2", m.CurrentBytes, m.CurrentEntries)
	}
	// Overwrite of a key (a no-cache refresh) replaces its size instead of adding to it.
	r.nb.size["/api/dcim/sites/"] = 100
	get(t, r.tr, "/api/dcim/sites/", "Cache-Control", "no-cache")
	if m := r.c.Metrics(); m.CurrentBytes != 500 || m.CurrentEntries != 2 || m.EvictionsSize != 0 {
		t.Fatalf("after overwrite: %+v; want 500 bytes, 2 entries, no eviction", m)
	}
	// 500 + 400 fits; the next 400 does not: the least recently used (racks, 400) goes.
	get(t, r.tr, "/api/dcim/devices/")
	r.nb.size["/api/dcim/regions/"] = 400
	get(t, r.tr, "/api/dcim/regions/")
	m := r.c.Metrics()
	if m.CurrentBytes != 900 || m.EvictionsSize != 1 || m.EvictionsBytes != 400 {
		t.Errorf("after byte eviction: %+v; want 900 bytes, 1 eviction of 400 bytes", m)
	}
	if got, want := r.cachedPaths(), []string{"/api/dcim/sites/", "/api/dcim/devices/", "/api/dcim/regions/"}; !slices.Equal(got, want) {
		t.Errorf("cached = %v, want %v", got, want)
	}
	// A body larger than MaxBytes is served but not stored and evicts nothing.
	r.nb.size["/api/dcim/cables/"] = 2000
	if res := get(t, r.tr, "/api/dcim/cables/"); len(res.body) != 2000 {
		t.Errorf("large body length %d, want 2000", len(res.body))
	}
	if m2 := r.c.Metrics(); m2.CurrentEntries != 3 || m2.EvictionsSize != 1 {
		t.Errorf("after oversized answer: %+v", m2)
	}
	checkInvariants(t, r.c)
}

func TestTTLZeroDisables(t *testing.T) {
	r := newRig(Limits{TTL: 0, MaxEntries: 10, MaxBytes: 1 << 20})
	for i := 0; i < 3; i++ {
		if s := get(t, r.tr, "/api/dcim/sites/").state; s != "" {
			t.Errorf("state %q, want no cache header when disabled", s)
		}
	}
	if n := r.nb.Calls("GET /api/dcim/sites/"); n != 3 {
		t.Errorf("upstream calls = %d, want 3", n)
	}
	m := r.c.Metrics()
	if m.Hits != 0 || m.Misses != 0 || m.CurrentEntries != 0 || m.TTLSeconds != 0 {
		t.Errorf("metrics = %+v; want nothing counted or stored", m)
	}
	// Turning it on live caches; turning it off again empties it without counting evictions.
	r.c.SetLimits(Limits{TTL: time.Minute, MaxEntries: 10, MaxBytes: 1 << 20})
	get(t, r.tr, "/api/dcim/sites/")
	if s := get(t, r.tr, "/api/dcim/sites/").state; s != "HIT" {
		t.Errorf("after enabling: state %q, want HIT", s)
	}
	r.c.SetLimits(Limits{TTL: 0, MaxEntries: 10, MaxBytes: 1 << 20})
	if m := r.c.Metrics(); m.CurrentEntries != 0 || m.EvictionsTTL != 0 || m.EvictionsSize != 0 {
		t.Errorf("after disabling: %+v", m)
	}
	checkInvariants(t, r.c)
}

func TestExpiry(t *testing.T) {
	r := newRig(Limits{TTL: time.Minute, MaxEntries: 10, MaxBytes: 1 << 20})
	get(t, r.tr, "/api/dcim/sites/")
	r.clock.Advance(30 * time.Second)
	get(t, r.tr, "/api/dcim/racks/")
	if m := r.c.Metrics(); m.OldestEntryAgeSeconds != 30 {
		t.Errorf("oldest age = %v, want 30", m.OldestEntryAgeSeconds)
	}
	r.clock.Advance(30 * time.Second) // sites is exactly 60 s old: expired
	r.c.Sweep()
	if got := r.cachedPaths(); !slices.Equal(got, []string{"/api/dcim/racks/"}) {
		t.Errorf("after sweep: %v, want racks only", got)
	}
	if m := r.c.Metrics(); m.EvictionsTTL != 1 {
		t.Errorf("evictions_ttl = %d, want 1", m.EvictionsTTL)
	}
	// Between sweeps an expired entry is never served: it is a miss and a TTL eviction.
	r.clock.Advance(31 * time.Second)
	if s := get(t, r.tr, "/api/dcim/racks/").state; s != "MISS" {
		t.Errorf("expired entry state %q, want MISS", s)
	}
	if m := r.c.Metrics(); m.EvictionsTTL != 2 || m.Misses != 3 || m.Hits != 0 {
		t.Errorf("metrics = %+v", m)
	}
	// A shorter TTL applies at once.
	r.clock.Advance(20 * time.Second)
	r.c.SetLimits(Limits{TTL: 10 * time.Second, MaxEntries: 10, MaxBytes: 1 << 20})
	if m := r.c.Metrics(); m.CurrentEntries != 0 {
		t.Errorf("after TTL 10s, 20s-old entry still cached")
	}
	checkInvariants(t, r.c)
}

func TestExpiryTicker(t *testing.T) {
	r := newRig(Limits{TTL: time.Minute, MaxEntries: 10, MaxBytes: 1 << 20})
	ticks := make(chan time.Time)
	stopped := make(chan struct{})
	swept := make(chan struct{})
	r.c.newTicker = func(time.Duration) (<-chan time.Time, func()) {
		return ticks, func() { close(stopped) }
	}
	r.c.afterSweep = func() { swept <- struct{}{} }
	ctx, cancel := context.WithCancel(context.Background())
	r.c.Start(ctx)
	r.c.Start(ctx) // second Start is a no-op
	get(t, r.tr, "/api/dcim/sites/")
	r.clock.Advance(time.Minute)
	ticks <- time.Time{}
	<-swept
	if m := r.c.Metrics(); m.CurrentEntries != 0 || m.EvictionsTTL != 1 {
		t.Errorf("after tick: %+v", m)
	}
	cancel()
	<-stopped // the ticker is stopped when the context ends
	r.c.Close()
	r.c.Close()
}

func TestCloseStopsTicker(t *testing.T) {
	c := New(Config{})
	stopped := make(chan struct{})
	c.newTicker = func(time.Duration) (<-chan time.Time, func()) {
		return make(chan time.Time), func() { close(stopped) }
	}
	c.Start(context.Background())
	c.Close()
	<-stopped
}

func TestSetLimitsShrinkEvicts(t *testing.T) {
	tests := []struct {
		name      string
		l         Limits
		want      []string
		evictions uint64
	}{
		{"fewer entries keeps most recently used", Limits{TTL: time.Minute, MaxEntries: 2, MaxBytes: 1 << 20},
			[]string{"/api/dcim/sites/", "/api/dcim/regions/"}, 2},
		{"fewer bytes", Limits{TTL: time.Minute, MaxEntries: 10, MaxBytes: 1024},
			[]string{"/api/dcim/sites/", "/api/dcim/regions/"}, 2},
		{"growing keeps all", Limits{TTL: time.Hour, MaxEntries: 100, MaxBytes: 1 << 30},
			[]string{"/api/dcim/sites/", "/api/dcim/racks/", "/api/dcim/devices/", "/api/dcim/regions/"}, 0},
		{"invalid values are clamped", Limits{TTL: time.Minute, MaxEntries: -5, MaxBytes: 0},
			[]string{"/api/dcim/sites/"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(Limits{TTL: time.Minute, MaxEntries: 10, MaxBytes: 1 << 20})
			for _, p := range []string{"/api/dcim/sites/", "/api/dcim/racks/", "/api/dcim/devices/", "/api/dcim/regions/"} {
				r.nb.size[p] = 500
				get(t, r.tr, p)
			}
			get(t, r.tr, "/api/dcim/sites/") // most recently used after regions
			r.c.SetLimits(tt.l)
			if got := r.cachedPaths(); !slices.Equal(got, tt.want) {
				t.Errorf("cached = %v, want %v", got, tt.want)
			}
			if m := r.c.Metrics(); m.EvictionsSize != tt.evictions {
				t.Errorf("evictions_size = %d, want %d", m.EvictionsSize, tt.evictions)
			}
			if got := r.c.Limits(); got != tt.l.clamp() {
				t.Errorf("Limits() = %+v, want %+v", got, tt.l.clamp())
			}
			checkInvariants(t, r.c)
		})
	}
}

func TestClearResetsCounters(t *testing.T) {
	r := newRig(Limits{TTL: time.Minute, MaxEntries: 10, MaxBytes: 1 << 20})
	get(t, r.tr, "/api/dcim/sites/")
	get(t, r.tr, "/api/dcim/sites/")
	r.c.Clear()
	m := r.c.Metrics()
	if m != (MetricsJSON{MaxEntries: 10, MaxBytes: 1 << 20, TTLSeconds: 60}) {
		t.Errorf("after Clear: %+v", m)
	}
	if s := r.c.Stats(); s.Hits != 1 || s.Misses != 1 {
		t.Errorf("lifetime stats reset by Clear: %+v", s)
	}
	if s := get(t, r.tr, "/api/dcim/sites/").state; s != "MISS" {
		t.Errorf("after Clear: %q, want MISS", s)
	}
}
