package sync

// Bounds of a stored run summary (see Bounded): enough to show what a run did and every
// failure kind, small enough that a 100,000-guest first run stores kilobytes, not the
// whole plan (10 MB of JSON at 10,000 guests).
const (
	StoredChangesPerModel = 100
	StoredMessages        = 200
)

// Bounded returns a copy of s to store with a run, at most perModel changes of each model
// and maxMessages errors and warnings. s is not changed. A plan whose changes are in a
// compressed log (Plan.Len) is bounded from the changes it keeps in Changes, the first
// of each model, unless perModel is more than those (StoredChangesPerModel): its log is
// then read through, keeping the candidates only.
//
// The stored shape is Summary's JSON with these meanings:
//
//	ok, partial, dry_run, duration_ms, netbox, proxmox, objects   as in s (objects: counts per type)
//	errors, warnings             the first maxMessages of s's; errors_omitted and
//	                             warnings_omitted count the rest (absent when 0)
//	plan.changes                 per model, its failed changes first and then the others, at
//	                             most perModel, in plan order
//	plan.unchanged               as in s
//	plan.total                   the number of changes in s's plan
//	plan.omitted                 per model, changes of s's plan not in plan.changes (absent
//	                             when nothing was left out)
//
// The full list of changes is stored apart (store.SaveRunChanges) when plan.omitted is set.
func (s *Summary) Bounded(perModel, maxMessages int) *Summary {
	b := *s
	b.Errors, b.ErrorsOmitted = headOf(s.Errors, maxMessages, s.ErrorsOmitted)
	b.Warnings, b.WarningsOmitted = headOf(s.Warnings, maxMessages, s.WarningsOmitted)
	if b.Errors == nil {
		b.Errors = []string{}
	}
	if s.Plan == nil {
		return &b
	}
	p := Plan{Unchanged: s.Plan.Unchanged, Total: max(s.Plan.Total, s.Plan.Len())}
	// The candidates: per model, the first perModel failed and the first perModel other
	// changes, in plan order (a spilled plan's Changes holds the first headPerModel of each).
	changes := s.Plan.All()
	if s.Plan.log != nil && perModel <= headPerModel {
		changes = (&Plan{Changes: s.Plan.Changes}).All()
	}
	var cands []Change
	seen := map[headKey]int{}
	total := map[string]int{}
	for c, err := range changes {
		if err != nil {
			break // the log's counts below still count every change
		}
		total[c.Model]++
		if k := (headKey{c.Model, c.Error != ""}); seen[k] < perModel {
			seen[k]++
			cands = append(cands, c)
		}
	}
	if s.Plan.log != nil {
		total = s.Plan.log.models
	}
	keep := make([]bool, len(cands))
	kept := map[string]int{}
	for _, failedPass := range []bool{true, false} {
		for i, c := range cands {
			if (c.Error != "") == failedPass && kept[c.Model] < perModel {
				keep[i] = true
				kept[c.Model]++
			}
		}
	}
	p.Changes = make([]Change, 0, len(cands))
	for i, c := range cands {
		if keep[i] {
			p.Changes = append(p.Changes, c)
		}
	}
	for m, n := range total {
		if n > kept[m] {
			if p.Omitted == nil {
				p.Omitted = map[string]int{}
			}
			p.Omitted[m] += n - kept[m]
		}
	}
	for m, n := range s.Plan.Omitted { // bounding a bounded summary keeps what it left out
		if p.Omitted == nil {
			p.Omitted = map[string]int{}
		}
		p.Omitted[m] += n
	}
	b.Plan = &p
	return &b
}

// headOf returns the first n of l and how many are left out (plus those already out).
func headOf(l []string, n, already int) ([]string, int) {
	if len(l) <= n {
		return l, already
	}
	return l[:n:n], already + len(l) - n
}
