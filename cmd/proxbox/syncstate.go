package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	pbsync "github.com/proxbox/proxbox/sync"
)

// inlineStateFile is the name of the state file `proxbox sync` keeps in a data
// directory for inline endpoints when --state is not given.
const inlineStateFile = "sync-inline-state.json"

// inlineState is what `proxbox sync` with inline endpoints keeps between runs
// (--state): the writes each NetBox refused (sync.Refusals, keyed by the
// NetBox URL, so that two NetBoxes never share their refusals). The store
// keeps the same for stored endpoints (setting sync.refused_writes).
type inlineState struct {
	path          string
	RefusedWrites map[string]*pbsync.Refusals `json:"refused_writes"`
}

// inlineStatePath is --state, else <data dir>/sync-inline-state.json when a
// data directory was named (--data-dir or PROXBOX_DATA_DIR) and exists, else
// "" (nothing kept). "none" keeps nothing.
func inlineStatePath(flag, dataDirFlag string, getenv func(string) string) string {
	switch flag = strings.TrimSpace(flag); flag {
	case "none":
		return ""
	case "":
	default:
		return flag
	}
	dir := dataDirFlag
	if dir == "" {
		dir = getenv("PROXBOX_DATA_DIR")
	}
	if dir == "" {
		return ""
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return ""
	}
	return filepath.Join(dir, inlineStateFile)
}

// loadInlineState reads path; a missing file is an empty state.
func loadInlineState(path string) (*inlineState, error) {
	s := &inlineState{path: path, RefusedWrites: map[string]*pbsync.Refusals{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read sync state %s: %w", path, err)
	}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("read sync state %s: %w (delete it to start afresh)", path, err)
	}
	if s.RefusedWrites == nil {
		s.RefusedWrites = map[string]*pbsync.Refusals{}
	}
	return s, nil
}

// refusals returns the memory of refusals of the NetBox at nbURL.
func (s *inlineState) refusals(nbURL string) *pbsync.Refusals {
	k := strings.TrimRight(strings.TrimSpace(nbURL), "/")
	r := s.RefusedWrites[k]
	if r == nil {
		r = pbsync.NewRefusals()
		s.RefusedWrites[k] = r
	}
	return r
}

// save writes the state atomically (a temporary file renamed over it), mode 0600.
func (s *inlineState) save() error {
	// Empty memories are left out of the file but kept in s: a watch goes on
	// recording into the one it was given.
	out := inlineState{RefusedWrites: map[string]*pbsync.Refusals{}}
	for k, r := range s.RefusedWrites {
		if r.Len() > 0 {
			out.RefusedWrites[k] = r
		}
	}
	b, err := json.MarshalIndent(&out, "", " ")
	if err != nil {
		return fmt.Errorf("encode sync state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".sync-state-*")
	if err != nil {
		return fmt.Errorf("write sync state %s: %w", s.path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write sync state %s: %w", s.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write sync state %s: %w", s.path, err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("write sync state %s: %w", s.path, err)
	}
	return nil
}
