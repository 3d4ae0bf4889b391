package sync

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestRefusals(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	body := map[string]any{"address": "10.0.0.1/24", "vrf": nil}
	refused := &RefusedError{Err: errors.New("HTTP 400: address: Duplicate IP address found in global table")}
	rf := NewRefusals()
	rf.note("ep\x00ip\x00a", func() string { return bodyHash(body) }, refused, t0)
	rf.note("ep\x00ip\x00b", func() string { return bodyHash(body) }, errors.New("HTTP 503"), t0) // transient: not remembered
	b, err := json.Marshal(rf)
	if err != nil {
		t.Fatal(err)
	}
	back := NewRefusals() // a restart reads it back
	if err := json.Unmarshal(b, back); err != nil || back.Len() != 1 {
		t.Fatalf("round trip: %v, %d refusals", err, back.Len())
	}
	for _, tc := range []struct {
		name string
		key  string
		body map[string]any
		at   time.Time
		want bool
	}{
		{"same body", "ep\x00ip\x00a", body, t0.Add(time.Hour), true},
		{"changed body", "ep\x00ip\x00a", map[string]any{"address": "10.0.0.1/24", "vrf": 7.0}, t0.Add(time.Hour), false},
		{"other object", "ep\x00ip\x00b", body, t0.Add(time.Hour), false},
		{"recheck due", "ep\x00ip\x00a", body, t0.Add(RefusalRecheck), false},
	} {
		f, ok := back.known(tc.key, func() string { return bodyHash(tc.body) }, tc.at)
		if ok != tc.want || (ok && f.Reason != refused.Error()) {
			t.Errorf("%s: known %v %q, want %v", tc.name, ok, f.Reason, tc.want)
		}
	}
	back.sweep(map[string]bool{"other": true})
	if back.Len() != 1 {
		t.Fatal("a sweep of another endpoint dropped a refusal")
	}
	back.touched = nil
	back.sweep(map[string]bool{"ep": true})
	if back.Len() != 0 {
		t.Fatal("a refusal no write met survived its endpoint's sweep")
	}
	back.note("ep\x00ip\x00a", func() string { return bodyHash(body) }, refused, t0)
	back.note("ep\x00ip\x00a", func() string { return bodyHash(body) }, nil, t0) // went through
	if back.Len() != 0 {
		t.Fatal("a write that went through is still remembered as refused")
	}
}
