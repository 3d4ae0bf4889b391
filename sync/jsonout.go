package sync

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// A first run's change list is large (797,786 changes, 467 MB of JSON, at 100,000
// guests): encoding it whole into one buffer, then copying it, doubled the sync
// process's peak memory at its very end. WriteChangesJSON and WriteJSON write the same
// bytes as json.Marshal, one change at a time (Plan.WriteChangesJSON: one chunk of the
// plan's compressed log at a time).

// WriteChangesJSON writes json.Marshal(changes) to w, encoding one change at a time.
func WriteChangesJSON(w io.Writer, changes []Change) error {
	if changes == nil {
		_, err := io.WriteString(w, "null")
		return err
	}
	sep := []byte{'['}
	for i := range changes {
		b, err := json.Marshal(&changes[i]) // addressable, as a slice's element is
		if err != nil {
			return err
		}
		if _, err := w.Write(sep); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		sep[0] = ','
	}
	if len(changes) == 0 {
		_, err := io.WriteString(w, "[]")
		return err
	}
	_, err := io.WriteString(w, "]")
	return err
}

// planMark is where a summary's JSON holds its plan's changes when they are left out
// (null): the plan's first member. Keys and strings are escaped in JSON, so the text
// first occurs at the summary's own plan.
var planMark = []byte(`"plan":{"changes":null`)

// WriteJSON writes json.Marshal(s) to w, the plan's changes encoded one at a time.
func (s *Summary) WriteJSON(w io.Writer) error {
	if s.Plan == nil || s.Plan.Len() == 0 {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	cp, plan := *s, *s.Plan
	plan.Changes, plan.log = nil, nil
	cp.Plan = &plan
	b, err := json.Marshal(&cp)
	if err != nil {
		return err
	}
	at := bytes.Index(b, planMark)
	if at < 0 {
		return errors.New("summary JSON: no plan member")
	}
	cut := at + len(planMark) - len("null")
	if _, err := w.Write(b[:cut]); err != nil {
		return err
	}
	if err := s.Plan.WriteChangesJSON(w); err != nil {
		return err
	}
	_, err = w.Write(b[cut+len("null"):])
	return err
}
