package sync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	gosync "sync"
	"time"
)

// RefusedError marks a write NetBox refused deterministically (HTTP 400: a
// validation error such as a duplicate IP address in the global table):
// sending the same body again gives the same answer. The NetBox adapter
// wraps such errors; its text is the refusal's.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// Refusal is one remembered refusal: the hash of the body NetBox refused,
// its reason and when it was first refused.
type Refusal struct {
	Hash   string    `json:"hash"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// Refusals remembers the writes NetBox refused deterministically, keyed by
// model and object identity, so that a run does not send the same body again
// (see the package comment, "Refused writes"). The zero value is not usable:
// use NewRefusals. Safe for concurrent use; it marshals to JSON (the caller
// persists it between runs).
type Refusals struct {
	mu      gosync.Mutex
	m       map[string]Refusal
	touched map[string]bool
}

// NewRefusals returns an empty memory of refusals.
func NewRefusals() *Refusals { return &Refusals{m: map[string]Refusal{}} }

// Len returns the number of remembered refusals.
func (r *Refusals) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}

// MarshalJSON implements json.Marshaler.
func (r *Refusals) MarshalJSON() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return json.Marshal(r.m)
}

// UnmarshalJSON implements json.Unmarshaler.
func (r *Refusals) UnmarshalJSON(b []byte) error {
	m := map[string]Refusal{}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	r.mu.Lock()
	r.m = m
	r.mu.Unlock()
	return nil
}

// bodyHash hashes a write's body (encoding/json sorts map keys, so equal
// bodies hash alike). The body holds the resolved IDs of what the object
// depends on, so a change there changes the hash too.
func bodyHash(body map[string]any) string {
	b, err := json.Marshal(body)
	if err != nil {
		return ""
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:12])
}

// RefusalRecheck is how long a remembered refusal stands: a write refused
// longer ago is sent once more (what blocked it, such as the holder of a
// duplicate IP address, may have gone without anything of ours changing).
const RefusalRecheck = 24 * time.Hour

// known returns the remembered refusal of key when it refused this very body
// (hash gives its hash, computed only when key has a refusal) less than
// RefusalRecheck before now.
func (r *Refusals) known(key string, hash func() string, now time.Time) (Refusal, bool) {
	if r == nil {
		return Refusal{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.m[key]
	if !ok || now.Sub(f.Since) >= RefusalRecheck {
		return Refusal{}, false
	}
	if h := hash(); h == "" || f.Hash != h {
		return Refusal{}, false
	}
	if r.touched == nil {
		r.touched = map[string]bool{}
	}
	r.touched[key] = true
	return f, true
}

// note records the outcome of a write of key's body (hash gives its hash,
// computed only for a refusal): a deterministic refusal is remembered,
// anything else forgets key.
func (r *Refusals) note(key string, hash func() string, err error, now time.Time) {
	if r == nil {
		return
	}
	var re *RefusedError
	refused := err != nil && errors.As(err, &re)
	h := ""
	if refused {
		h = hash() // outside the lock: it marshals the body
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if refused && h != "" {
		if r.m == nil {
			r.m = map[string]Refusal{}
		}
		r.m[key] = Refusal{Hash: h, Reason: err.Error(), Since: now}
		if r.touched == nil {
			r.touched = map[string]bool{}
		}
		r.touched[key] = true
		return
	}
	delete(r.m, key)
}

// sweep forgets the refusals of the synced endpoints (keys start with the
// endpoint's label) that no write of the finished run met (their object is
// gone or is no longer written), and starts a new run's bookkeeping.
func (r *Refusals) sweep(synced map[string]bool) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.m {
		label, _, _ := strings.Cut(k, "\x00")
		if synced[label] && !r.touched[k] {
			delete(r.m, k)
		}
	}
	r.touched = nil
}
