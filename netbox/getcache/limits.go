package getcache

import (
	"fmt"
	"math"
	"time"
)

// Bounds enforced by Validate.
const (
	MinMaxEntries = 1
	MinMaxBytes   = 1024
	// MaxTTL is the largest TTL a time.Duration can hold, rounded down to whole seconds.
	MaxTTL = time.Duration(math.MaxInt64/int64(time.Second)) * time.Second
)

// Limits bound the cache. TTL 0 disables it.
type Limits struct {
	TTL        time.Duration
	MaxEntries int
	MaxBytes   int64
}

// DefaultLimits are the Python service's defaults: 60 s, 4096 entries, 50 MiB.
func DefaultLimits() Limits {
	return Limits{TTL: 60 * time.Second, MaxEntries: 4096, MaxBytes: 52428800}
}

// Validate returns one message per invalid field, keyed by the JSON name the settings API uses
// (ttl_seconds, max_entries, max_bytes). It returns nil when the limits are valid.
func (l Limits) Validate() map[string]string {
	var bad map[string]string
	add := func(k, v string) {
		if bad == nil {
			bad = map[string]string{}
		}
		bad[k] = v
	}
	if l.TTL < 0 || l.TTL > MaxTTL {
		add("ttl_seconds", fmt.Sprintf("must be a number of seconds between 0 and %d (0 disables the cache)", int64(MaxTTL/time.Second)))
	}
	if l.MaxEntries < MinMaxEntries {
		add("max_entries", "must be an integer >= 1")
	}
	if l.MaxBytes < MinMaxBytes {
		add("max_bytes", "must be an integer >= 1024")
	}
	return bad
}

// clamp brings invalid limits to the nearest valid value.
func (l Limits) clamp() Limits {
	if l.TTL < 0 {
		l.TTL = 0
	}
	if l.TTL > MaxTTL {
		l.TTL = MaxTTL
	}
	if l.MaxEntries < MinMaxEntries {
		l.MaxEntries = MinMaxEntries
	}
	if l.MaxBytes < MinMaxBytes {
		l.MaxBytes = MinMaxBytes
	}
	return l
}

// Settings is the JSON shape of the limits used by PUT /cache/settings and the store.
type Settings struct {
	TTLSeconds float64 `json:"ttl_seconds"`
	MaxEntries int     `json:"max_entries"`
	MaxBytes   int64   `json:"max_bytes"`
}

// Limits converts settings to limits. A TTL that is negative, not a number or too large for a
// time.Duration becomes -1ns, which Validate reports under ttl_seconds.
func (s Settings) Limits() Limits {
	return Limits{TTL: secondsToDuration(s.TTLSeconds), MaxEntries: s.MaxEntries, MaxBytes: s.MaxBytes}
}

// Settings converts limits to their JSON shape.
func (l Limits) Settings() Settings {
	return Settings{TTLSeconds: l.TTL.Seconds(), MaxEntries: l.MaxEntries, MaxBytes: l.MaxBytes}
}

func secondsToDuration(s float64) time.Duration {
	if math.IsNaN(s) || s < 0 || s > float64(MaxTTL/time.Second) {
		return -1
	}
	return time.Duration(math.Round(s * float64(time.Second)))
}
