package getcache

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Environment variables read by LimitsFromEnv and DebugFromEnv.
const (
	EnvTTL        = "PROXBOX_NETBOX_GET_CACHE_TTL"
	EnvMaxEntries = "PROXBOX_NETBOX_GET_CACHE_MAX_ENTRIES"
	EnvMaxBytes   = "PROXBOX_NETBOX_GET_CACHE_MAX_BYTES"
	EnvDebug      = "PROXBOX_DEBUG_CACHE"
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

// EnvError reports an environment variable whose value is not allowed.
type EnvError struct {
	Var     string
	Value   string
	Allowed string
	Err     error
}

func (e *EnvError) Error() string {
	msg := fmt.Sprintf("%s=%q: allowed: %s", e.Var, e.Value, e.Allowed)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *EnvError) Unwrap() error { return e.Err }

// LimitsFromEnv reads the three limit variables through getenv (os.Getenv in production). Unset
// or empty variables take the default. Invalid values also take the default and are reported in
// the returned error (one *EnvError per variable, joined), so a caller may log and continue.
func LimitsFromEnv(getenv func(string) string) (Limits, error) {
	l := DefaultLimits()
	var errs []error
	if v := strings.TrimSpace(getenv(EnvTTL)); v != "" {
		const allowed = "seconds >= 0, for example 60 or 0.5; 0 disables the cache"
		f, err := strconv.ParseFloat(v, 64)
		d := secondsToDuration(f)
		switch {
		case err != nil:
			errs = append(errs, &EnvError{Var: EnvTTL, Value: v, Allowed: allowed, Err: err})
		case d < 0:
			errs = append(errs, &EnvError{Var: EnvTTL, Value: v, Allowed: allowed})
		default:
			l.TTL = d
		}
	}
	if v := strings.TrimSpace(getenv(EnvMaxEntries)); v != "" {
		const allowed = "an integer >= 1"
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			errs = append(errs, &EnvError{Var: EnvMaxEntries, Value: v, Allowed: allowed, Err: err})
		case n < MinMaxEntries:
			errs = append(errs, &EnvError{Var: EnvMaxEntries, Value: v, Allowed: allowed})
		default:
			l.MaxEntries = n
		}
	}
	if v := strings.TrimSpace(getenv(EnvMaxBytes)); v != "" {
		const allowed = "an integer >= 1024 (bytes)"
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil:
			errs = append(errs, &EnvError{Var: EnvMaxBytes, Value: v, Allowed: allowed, Err: err})
		case n < MinMaxBytes:
			errs = append(errs, &EnvError{Var: EnvMaxBytes, Value: v, Allowed: allowed})
		default:
			l.MaxBytes = n
		}
	}
	if len(errs) > 0 {
		return l, fmt.Errorf("netbox get cache limits: %w", errors.Join(errs...))
	}
	return l, nil
}

// DebugFromEnv reports whether PROXBOX_DEBUG_CACHE is exactly "1", as in the Python service.
func DebugFromEnv(getenv func(string) string) bool {
	return getenv(EnvDebug) == "1"
}
