package sync

import gosync "sync"

// State is NetBox's current state as the engine knows it, kept between runs
// by a caller that syncs the same endpoints again and again (the watcher,
// package watch): the first run with a State lists NetBox as usual; the next
// ones list nothing and diff against what the earlier runs read and wrote,
// so a run whose snapshot changed in one guest costs that guest's writes
// only. The caller must Reset it whenever something else may have written
// NetBox's objects of these endpoints (another run, a full reconciliation
// is the remedy for a user's edit); the engine resets it itself after a run
// with errors. Dry runs ignore it. A State is used by one Run at a time.
type State struct {
	mu  gosync.Mutex
	sh  *shared
	eps map[string]*endpointState
}

type endpointState struct {
	cur map[string]map[int64]map[string]any
}

// NewState returns an empty (cold) State.
func NewState() *State { return &State{} }

// Reset forgets everything: the next run lists NetBox again.
func (s *State) Reset() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.sh, s.eps = nil, nil
	s.mu.Unlock()
}

// Warm reports whether the State holds a previous run's view of label's
// objects (the next run of that endpoint lists nothing).
func (s *State) Warm(label string) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eps[label] != nil
}

// shared returns the State's shared models, creating them on first use.
func (s *State) shared() *shared {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sh == nil {
		s.sh = &shared{cur: map[string]map[int64]map[string]any{}, loaded: map[string]bool{}}
	}
	return s.sh
}

// endpoint returns label's kept models, nil when cold.
func (s *State) endpoint(label string) *endpointState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eps[label]
}

// keep stores the per-endpoint models of a finished endpoint run.
func (s *State) keep(label string, cur map[string]map[int64]map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.eps == nil {
		s.eps = map[string]*endpointState{}
	}
	s.eps[label] = &endpointState{cur: cur}
}
