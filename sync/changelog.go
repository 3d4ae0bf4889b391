package sync

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strings"
)

// A first run records a change per object it creates (797,786 at 100,000 guests), each
// with every field of the object: kept as structs, the list was 313 MB of the sync
// process's live heap until the run ended. Past spillAt changes, a report keeps them
// instead as a changeLog: every change's JSON (the bytes `sync --once --json` and the
// stored change list write), deflated in chunks, about 30 bytes a change. As structs it
// keeps only a head per model (headPerModel failed and headPerModel other changes), which
// is what a bounded summary (Summary.Bounded) lists.

// spillAt is the number of changes a report keeps as structs before it keeps them in a
// changeLog; a plan of at most spillAt changes is complete in Plan.Changes. A variable
// for tests.
var spillAt = 1024

// headPerModel is how many failed, and how many other, changes of each model a spilled
// plan keeps in Plan.Changes: Bounded(perModel) needs nothing else when perModel is at
// most this.
const headPerModel = StoredChangesPerModel

const (
	logChunk = 256 << 10 // JSON bytes of changes deflated together
	logLevel = 2         // as fast as flate.BestSpeed on change lists, and 10% smaller
)

// changeLog is a plan's complete, ordered change list past spillAt: each chunk is a
// deflated run of JSON-encoded changes separated by commas (a JSON array's inside).
type changeLog struct {
	n      int            // changes in the log
	size   int            // JSON bytes of the chunks, inflated
	models map[string]int // changes per model
	chunks [][]byte
	w      *logWriter // nil in a summary's snapshot: it never grows
}

// logWriter is the open end of the report's log.
type logWriter struct {
	buf bytes.Buffer  // JSON of the changes not yet deflated
	enc *json.Encoder // into buf
	out bytes.Buffer
	zw  *flate.Writer
}

func newChangeLog() *changeLog {
	return &changeLog{models: map[string]int{}, w: &logWriter{}}
}

// add appends c to the log.
func (l *changeLog) add(c *Change) error {
	w := l.w
	mark := w.buf.Len()
	if mark > 0 {
		w.buf.WriteByte(',')
	}
	if w.enc == nil {
		w.enc = json.NewEncoder(&w.buf) // json.Marshal's bytes, and a newline
	}
	if err := w.enc.Encode(c); err != nil {
		w.buf.Truncate(mark)
		return err
	}
	w.buf.Truncate(w.buf.Len() - 1) // the newline
	l.n++
	l.models[c.Model]++
	if l.w.buf.Len() >= logChunk {
		return l.flush()
	}
	return nil
}

// flush deflates the open chunk into the log.
func (l *changeLog) flush() error {
	w := l.w
	if w.buf.Len() == 0 {
		return nil
	}
	w.out.Reset()
	if w.zw == nil {
		zw, err := flate.NewWriter(&w.out, logLevel)
		if err != nil {
			return err
		}
		w.zw = zw
	} else {
		w.zw.Reset(&w.out)
	}
	if _, err := w.zw.Write(w.buf.Bytes()); err != nil {
		return err
	}
	if err := w.zw.Close(); err != nil {
		return err
	}
	l.chunks = append(l.chunks, bytes.Clone(w.out.Bytes()))
	l.size += w.buf.Len()
	w.buf.Reset()
	return nil
}

// snapshot returns the log as it is now, for a summary: changes added later are not in it.
func (l *changeLog) snapshot() (*changeLog, error) {
	if err := l.flush(); err != nil {
		return nil, err
	}
	return &changeLog{n: l.n, size: l.size, models: maps.Clone(l.models), chunks: slices.Clip(l.chunks)}, nil
}

// writeArray writes the log's changes as a JSON array: the bytes of json.Marshal of them.
func (l *changeLog) writeArray(w io.Writer) error {
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	var fr io.ReadCloser
	for i, ch := range l.chunks {
		if i > 0 {
			if _, err := io.WriteString(w, ","); err != nil {
				return err
			}
		}
		fr = inflater(fr, ch)
		if _, err := io.Copy(w, fr); err != nil {
			return fmt.Errorf("change log: %w", err)
		}
	}
	_, err := io.WriteString(w, "]")
	return err
}

func inflater(fr io.ReadCloser, chunk []byte) io.ReadCloser {
	if fr == nil {
		return flate.NewReader(bytes.NewReader(chunk))
	}
	_ = fr.(flate.Resetter).Reset(bytes.NewReader(chunk), nil) // never fails
	return fr
}

// all yields the log's changes in order, decoded. Field values come back as JSON
// decodes them (numbers as json.Number, objects as map[string]any), so they encode
// to the same bytes.
func (l *changeLog) all() iter.Seq2[Change, error] {
	return func(yield func(Change, error) bool) {
		var fr io.ReadCloser
		for _, ch := range l.chunks {
			fr = inflater(fr, ch)
			dec := json.NewDecoder(io.MultiReader(strings.NewReader("["), fr, strings.NewReader("]")))
			dec.UseNumber()
			if _, err := dec.Token(); err != nil {
				yield(Change{}, fmt.Errorf("change log: %w", err))
				return
			}
			for dec.More() {
				var c Change
				if err := dec.Decode(&c); err != nil {
					yield(Change{}, fmt.Errorf("change log: %w", err))
					return
				}
				if !yield(c, nil) {
					return
				}
			}
		}
	}
}

// Len is the number of changes of the plan: len(Changes), or when the report kept them
// in a compressed log (a plan of more than 1,024 changes), all of the log's.
func (p *Plan) Len() int {
	if p.log != nil {
		return p.log.n
	}
	return len(p.Changes)
}

// All yields every change of the plan in order. Changes holds them all unless the plan
// is a large run's (Len > len(Changes)): its changes then come from the compressed log,
// decoded (field values as JSON decodes them: numbers are json.Number). A non-nil error
// ends the sequence.
func (p *Plan) All() iter.Seq2[Change, error] {
	if p.log != nil {
		return p.log.all()
	}
	return func(yield func(Change, error) bool) {
		for _, c := range p.Changes {
			if !yield(c, nil) {
				return
			}
		}
	}
}

// WriteChangesJSON writes every change of the plan as json.Marshal(p.Changes) would
// write them were they all in Changes.
func (p *Plan) WriteChangesJSON(w io.Writer) error {
	if p.log != nil {
		return p.log.writeArray(w)
	}
	return WriteChangesJSON(w, p.Changes)
}

// plainPlan is Plan without its MarshalJSON.
type plainPlan Plan

// planStart is how a plan's JSON begins when its changes are left out (nil).
const planStart = `{"changes":null`

// MarshalJSON encodes the plan with every change (those of its log too), the bytes
// json.Marshal wrote when Changes held them all. Its buffer is allocated once, at the
// size of the changes' JSON (467 MB for a 100,000-guest first run): code that can
// stream writes Summary.WriteJSON or Plan.WriteChangesJSON instead.
func (p Plan) MarshalJSON() ([]byte, error) {
	if p.log == nil {
		return json.Marshal(plainPlan(p))
	}
	var b bytes.Buffer
	b.Grow(p.log.size + len(p.log.chunks) + 4096) // the changes, commas between chunks, the rest
	if err := p.writeJSON(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeJSON writes the JSON of the plan, its changes one chunk at a time.
func (p *Plan) writeJSON(w io.Writer) error {
	rest := plainPlan(*p)
	rest.Changes, rest.log = nil, nil
	b, err := json.Marshal(rest)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(b, []byte(planStart)) {
		return errors.New("plan JSON: changes are not its first member")
	}
	cut := len(planStart) - len("null")
	if _, err := w.Write(b[:cut]); err != nil {
		return err
	}
	if err := p.WriteChangesJSON(w); err != nil {
		return err
	}
	_, err = w.Write(b[len(planStart):])
	return err
}
