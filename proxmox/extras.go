package proxmox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/proxbox/proxbox/inventory"
)

// Reads for the plugin's models (sync engine II): backups, snapshots, replication jobs,
// backup jobs and node tasks. Each is behind a ReadOptions flag, so a read of the core
// inventory keeps its request budget when they are off. A part is marked read
// (inventory.Snapshot.Read) only when every request of it succeeded on every node it needs.

// Task history bounds (ReadOptions.TaskDays, TaskPerGuest, TaskMaxPerNode) when zero.
const (
	DefaultTaskDays       = 30
	DefaultTaskPerGuest   = 50
	DefaultTaskMaxPerNode = 5000
	taskPage              = 500
)

// FullReadOptions is what a full sync (every stage, sync I and II) reads.
func FullReadOptions() ReadOptions {
	o := DefaultReadOptions()
	o.Backups, o.Snapshots, o.Replications, o.BackupJobs, o.Tasks = true, true, true, true, true
	return o
}

func (o *ReadOptions) taskBounds() (days, perGuest, maxPerNode int) {
	days, perGuest, maxPerNode = o.TaskDays, o.TaskPerGuest, o.TaskMaxPerNode
	if days <= 0 {
		days = DefaultTaskDays
	}
	if perGuest <= 0 {
		perGuest = DefaultTaskPerGuest
	}
	if maxPerNode <= 0 {
		maxPerNode = DefaultTaskMaxPerNode
	}
	return
}

// extras collects what the workers of the optional reads find.
type extras struct {
	mu      sync.Mutex
	backups []inventory.Backup
	byVol   map[string]int             // volume id -> index in backups
	content map[string]*storageContent // storage -> the first reply decoded
	snaps   []inventory.GuestSnapshot
	tasks   []inventory.Task
	failed  map[string]bool // part name -> some read failed or was impossible
}

func (x *extras) fail(part string) {
	x.mu.Lock()
	if x.failed == nil {
		x.failed = map[string]bool{}
	}
	x.failed[part] = true
	x.mu.Unlock()
}

func (x *extras) ok(part string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return !x.failed[part]
}

// contentEntry is one item of /nodes/{node}/storage/{storage}/content.
type contentEntry struct {
	VolID        flexString      `json:"volid"`
	Content      flexString      `json:"content"`
	VMID         flexInt         `json:"vmid"`
	Format       flexString      `json:"format"`
	Subtype      flexString      `json:"subtype"`
	Size         flexInt         `json:"size"`
	CTime        flexInt         `json:"ctime"`
	Notes        flexString      `json:"notes"`
	Encrypted    flexString      `json:"encrypted"`
	Protected    flexBool        `json:"protected"`
	Verification json.RawMessage `json:"verification"`
}

type nodeStorageEntry struct {
	Storage flexString `json:"storage"`
	Content flexString `json:"content"`
	Active  *flexBool  `json:"active"`
	Enabled *flexBool  `json:"enabled"`
}

// backups lists content=backup of every backup storage a node sees.
func (r *reader) backups(ctx context.Context, x *extras, node string) {
	obj := "node/" + node
	path := "/nodes/" + url.PathEscape(node) + "/storage"
	d, err := r.get(ctx, path, url.Values{"content": {"backup"}})
	if err != nil {
		r.warn(obj, path, "backup storages: "+err.Error())
		x.fail("backups")
		return
	}
	items, bad, err := decodeList[nodeStorageEntry](d, true)
	if err != nil || len(bad) > 0 {
		r.warn(obj, path, fmt.Sprintf("backup storages: malformed reply (%v, %d bad entries)", err, len(bad)))
		x.fail("backups")
		if err != nil {
			return
		}
	}
	var names []string
	for _, e := range items {
		if e.Storage == "" || (e.Enabled != nil && !bool(*e.Enabled)) || (e.Active != nil && !bool(*e.Active)) {
			continue
		}
		if e.Content != "" && !containsWord(string(e.Content), "backup") {
			continue
		}
		names = append(names, string(e.Storage))
	}
	sort.Strings(names)
	for _, st := range names {
		cpath := path + "/" + url.PathEscape(st) + "/content"
		d, err := r.get(ctx, cpath, url.Values{"content": {"backup"}})
		if err != nil {
			r.warn("storage/"+st, cpath, "backups: "+err.Error())
			x.fail("backups")
			continue
		}
		if c := x.sameContent(st, d); c != nil {
			// A shared storage answers every node with the same bytes: decoded once.
			if c.bad > 0 {
				r.warn("storage/"+st, cpath, fmt.Sprintf("%d malformed entries skipped", c.bad))
				x.fail("backups")
			}
			x.addBackups(c.backups, node)
			continue
		}
		entries, bad, err := decodeList[contentEntry](d, true)
		if err != nil {
			r.warn("storage/"+st, cpath, "backups: "+err.Error())
			x.fail("backups")
			continue
		}
		if len(bad) > 0 {
			r.warn("storage/"+st, cpath, fmt.Sprintf("%d malformed entries skipped", len(bad)))
			x.fail("backups")
		}
		var out []inventory.Backup
		t := &r.strs
		for _, e := range entries {
			if b, ok := backupFromEntry(e, st, node); ok {
				b.Format, b.FormatChoice, b.Encrypted = t.intern(b.Format), t.intern(b.FormatChoice), t.intern(b.Encrypted)
				b.VerificationState = t.intern(b.VerificationState)
				out = append(out, b)
			}
		}
		x.rememberContent(st, d, out, len(bad))
		x.addBackups(out, node)
	}
}

// storageContent is one storage's content=backup reply as one node sent it,
// decoded (backups carry that node's name).
type storageContent struct {
	raw     []byte
	backups []inventory.Backup
	bad     int
}

// sameContent returns the decoded reply of storage st when a node already
// sent these very bytes (a shared storage lists the same volumes on every
// node), else nil.
func (x *extras) sameContent(st string, raw []byte) *storageContent {
	x.mu.Lock()
	defer x.mu.Unlock()
	if c := x.content[st]; c != nil && bytes.Equal(c.raw, raw) {
		return c
	}
	return nil
}

func (x *extras) rememberContent(st string, raw []byte, l []inventory.Backup, bad int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.content == nil {
		x.content = map[string]*storageContent{}
	}
	if _, ok := x.content[st]; !ok {
		x.content[st] = &storageContent{raw: raw, backups: l, bad: bad}
	}
}

// addBackups keeps one backup per volume id as they arrive (a shared storage
// lists every volume on every node): the one of the first node by name, the
// one dedupeBackups keeps, so a cluster's backups are held once, not once
// per node. l came through node.
func (x *extras) addBackups(l []inventory.Backup, node string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.byVol == nil {
		x.byVol = map[string]int{}
	}
	for _, b := range l {
		b.Node = node
		if i, ok := x.byVol[b.VolID]; ok {
			if b.Node < x.backups[i].Node {
				x.backups[i] = b
			}
			continue
		}
		x.byVol[b.VolID] = len(x.backups)
		x.backups = append(x.backups, b)
	}
}

func containsWord(list, w string) bool {
	for _, f := range splitList(list) {
		if f == w {
			return true
		}
	}
	return false
}

// backupFromEntry turns a content entry into a Backup; entries that are not backups are dropped.
func backupFromEntry(e contentEntry, storage, node string) (inventory.Backup, bool) {
	volid := strings.TrimSpace(string(e.VolID))
	if volid == "" || (e.Content != "" && e.Content != "backup") {
		return inventory.Backup{}, false
	}
	b := inventory.Backup{
		VolID: volid, Storage: storage, Node: node, VMID: int(e.VMID), Format: string(e.Format),
		Size: int64(e.Size), Notes: string(e.Notes), Encrypted: string(e.Encrypted), Protected: bool(e.Protected),
		GuestType: BackupSubtype(string(e.Subtype), volid),
	}
	b.FormatChoice = BackupFormat(b.Format, volid)
	if s, _, ok := strings.Cut(volid, ":"); ok && s != "" {
		b.Storage = s
	}
	v, parsed := ParseBackupVolID(volid)
	if b.VMID <= 0 && parsed {
		b.VMID = v.VMID
	}
	switch {
	case e.CTime > 0:
		b.Created = time.Unix(int64(e.CTime), 0).UTC()
	case parsed:
		b.Created = v.Time
	}
	if raw := bytes.TrimSpace(e.Verification); len(raw) > 0 && raw[0] == '{' {
		var ver struct {
			State flexString `json:"state"`
			UPID  flexString `json:"upid"`
		}
		if json.Unmarshal(raw, &ver) == nil {
			b.VerificationState, b.VerificationUPID = string(ver.State), string(ver.UPID)
		}
	}
	return b, true
}

// dedupeBackups keeps one backup per volume id (a shared storage lists it on every node),
// the one of the first node by name, sorted by volume id.
func dedupeBackups(in []inventory.Backup) []inventory.Backup {
	sort.SliceStable(in, func(i, j int) bool {
		if in[i].VolID != in[j].VolID {
			return in[i].VolID < in[j].VolID
		}
		return in[i].Node < in[j].Node
	})
	out := in[:0]
	for i, b := range in {
		if i > 0 && b.VolID == in[i-1].VolID {
			continue
		}
		out = append(out, b)
	}
	return out
}

type snapshotEntry struct {
	Name        flexString `json:"name"`
	Parent      flexString `json:"parent"`
	Description flexString `json:"description"`
	SnapTime    flexInt    `json:"snaptime"`
	VMState     flexBool   `json:"vmstate"`
}

// ParseSnapshots decodes a guest's snapshot list, without PVE's "current" pseudo-entry.
func ParseSnapshots(data []byte, g *inventory.Guest) ([]inventory.GuestSnapshot, error) {
	items, bad, err := decodeList[snapshotEntry](data, true)
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: %d snapshot entries are not objects", ErrMalformed, len(bad))
	}
	var out []inventory.GuestSnapshot
	for _, e := range items {
		name := strings.TrimSpace(string(e.Name))
		if name == "" || name == "current" {
			continue
		}
		s := inventory.GuestSnapshot{VMID: g.VMID, Type: g.Type, Node: g.Node, Name: name,
			Parent: strings.TrimSpace(string(e.Parent)), Description: string(e.Description), VMState: bool(e.VMState)}
		if s.Parent == "current" {
			s.Parent = ""
		}
		if e.SnapTime > 0 {
			s.Taken = time.Unix(int64(e.SnapTime), 0).UTC()
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (r *reader) snapshots(ctx context.Context, x *extras, g *inventory.Guest, prefix string) {
	path := prefix + "/snapshot"
	d, err := r.get(ctx, path, nil)
	var list []inventory.GuestSnapshot
	if err == nil {
		list, err = ParseSnapshots(d, g)
	}
	if err != nil {
		r.warn(guestObject(g), path, "snapshots: "+err.Error())
		x.fail("snapshots")
		return
	}
	for i := range list {
		list[i].Name, list[i].Parent = r.strs.intern(list[i].Name), r.strs.intern(list[i].Parent)
	}
	x.mu.Lock()
	x.snaps = append(x.snaps, list...)
	x.mu.Unlock()
}

type taskEntry struct {
	UPID      flexString `json:"upid"`
	Node      flexString `json:"node"`
	PID       flexInt    `json:"pid"`
	PStart    flexInt    `json:"pstart"`
	ID        flexString `json:"id"`
	Type      flexString `json:"type"`
	User      flexString `json:"user"`
	StartTime flexInt    `json:"starttime"`
	EndTime   flexInt    `json:"endtime"`
	Status    flexString `json:"status"`
}

// tasks pages through a node's task list (newest first) until TaskDays are covered or
// TaskMaxPerNode tasks were read, keeping the tasks of guests.
func (r *reader) tasks(ctx context.Context, x *extras, node string, since time.Time, maxPerNode int) {
	path := "/nodes/" + url.PathEscape(node) + "/tasks"
	var out []inventory.Task
	for start := 0; start < maxPerNode; start += taskPage {
		q := url.Values{"since": {strconv.FormatInt(since.Unix(), 10)}, "limit": {strconv.Itoa(taskPage)}, "start": {strconv.Itoa(start)}}
		d, err := r.get(ctx, path, q)
		if err != nil {
			r.warn("node/"+node, path, "tasks: "+err.Error())
			x.fail("tasks")
			return
		}
		items, bad, err := decodeList[taskEntry](d, true)
		if err != nil {
			r.warn("node/"+node, path, "tasks: "+err.Error())
			x.fail("tasks")
			return
		}
		if len(bad) > 0 {
			r.warn("node/"+node, path, fmt.Sprintf("%d malformed task entries skipped", len(bad)))
		}
		older := false
		for _, e := range items {
			t, ok := taskFromEntry(e, node)
			if !ok {
				continue
			}
			t.Node, t.Type, t.User, t.Status = r.strs.intern(t.Node), r.strs.intern(t.Type), r.strs.intern(t.User), r.strs.intern(t.Status)
			if t.Started.Before(since) {
				older = true
				continue
			}
			out = append(out, t)
		}
		if len(items)+len(bad) < taskPage || older {
			break
		}
	}
	x.mu.Lock()
	x.tasks = append(x.tasks, out...)
	x.mu.Unlock()
}

func taskFromEntry(e taskEntry, node string) (inventory.Task, bool) {
	upid := strings.TrimSpace(string(e.UPID))
	vmid, err := strconv.Atoi(strings.TrimSpace(string(e.ID)))
	if upid == "" || err != nil || vmid <= 0 || e.StartTime <= 0 {
		return inventory.Task{}, false
	}
	t := inventory.Task{UPID: upid, Node: string(e.Node), PID: int64(e.PID), PStart: int64(e.PStart), ID: string(e.ID),
		VMID: vmid, Type: string(e.Type), User: string(e.User), Started: time.Unix(int64(e.StartTime), 0).UTC(),
		Status: string(e.Status), GuestType: TaskGuestType(string(e.Type))}
	if t.Node == "" {
		t.Node = node
	}
	if e.EndTime > 0 {
		t.Ended = time.Unix(int64(e.EndTime), 0).UTC()
	}
	t.Running = t.Status == "" && t.Ended.IsZero()
	return t, true
}

// boundTasks keeps the newest perGuest tasks of each guest and resolves guest types from
// the guest list; tasks of unknown guests are dropped. The result is sorted by UPID.
func boundTasks(in []inventory.Task, guests []inventory.Guest, perGuest int) []inventory.Task {
	types := map[int][]inventory.GuestType{}
	for _, g := range guests {
		types[g.VMID] = append(types[g.VMID], g.Type)
	}
	sort.SliceStable(in, func(i, j int) bool {
		if !in[i].Started.Equal(in[j].Started) {
			return in[i].Started.After(in[j].Started)
		}
		return in[i].UPID < in[j].UPID
	})
	seen := map[string]bool{}
	count := map[string]int{}
	var out []inventory.Task
	for _, t := range in {
		ts := types[t.VMID]
		if len(ts) == 0 || seen[t.UPID] {
			continue
		}
		if t.GuestType == "" || !containsType(ts, t.GuestType) {
			if len(ts) != 1 {
				continue // vmid shared by a VM and a container and the task type does not say
			}
			t.GuestType = ts[0]
		}
		k := string(t.GuestType) + "/" + strconv.Itoa(t.VMID)
		if count[k] >= perGuest {
			continue
		}
		count[k]++
		seen[t.UPID] = true
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UPID < out[j].UPID })
	return out
}

func containsType(l []inventory.GuestType, t inventory.GuestType) bool {
	for _, x := range l {
		if x == t {
			return true
		}
	}
	return false
}

// replications reads /cluster/replication.
func (r *reader) replications(ctx context.Context) bool {
	d, err := r.get(ctx, "/cluster/replication", nil)
	if err != nil {
		r.warn("cluster", "/cluster/replication", "replication jobs: "+err.Error())
		return false
	}
	items, bad, err := decodeList[map[string]flexString](d, true)
	if err != nil {
		r.warn("cluster", "/cluster/replication", "replication jobs: "+err.Error())
		return false
	}
	if len(bad) > 0 {
		r.warn("cluster", "/cluster/replication", fmt.Sprintf("%d malformed entries skipped", len(bad)))
	}
	out := make([]inventory.ReplicationJob, 0, len(items))
	for _, m := range items {
		if j, ok := ReplicationFromConfig(flat(m)); ok {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	r.snap.Replications = out
	return len(bad) == 0
}

func flat(m map[string]flexString) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

// ReplicationFromConfig maps one /cluster/replication entry; ok is false without an id.
func ReplicationFromConfig(m map[string]string) (inventory.ReplicationJob, bool) {
	j := inventory.ReplicationJob{ID: strings.TrimSpace(m["id"]), Target: m["target"], Type: m["type"], Schedule: m["schedule"],
		Comment: m["comment"], Disabled: truthy(m["disable"]), Source: m["source"], RemoveJob: m["remove_job"], Config: m}
	if j.ID == "" {
		return j, false
	}
	j.Guest = int(parseIntLoose(m["guest"]))
	if j.Guest <= 0 { // "104-0"
		g, _, _ := strings.Cut(j.ID, "-")
		j.Guest = int(parseIntLoose(g))
	}
	if v, ok := m["rate"]; ok && v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			j.Rate, j.HasRate = f, true
		}
	}
	if v, ok := m["jobnum"]; ok && v != "" {
		j.JobNum, j.HasJobNum = int(parseIntLoose(v)), true
	} else if _, n, ok := strings.Cut(j.ID, "-"); ok {
		if k, err := strconv.Atoi(n); err == nil {
			j.JobNum, j.HasJobNum = k, true
		}
	}
	if j.Type == "" {
		j.Type = "local"
	}
	return j, true
}

// backupJobs reads /cluster/backup.
func (r *reader) backupJobs(ctx context.Context) bool {
	d, err := r.get(ctx, "/cluster/backup", nil)
	if err != nil {
		r.warn("cluster", "/cluster/backup", "backup jobs: "+err.Error())
		return false
	}
	items, bad, err := decodeList[map[string]flexString](d, true)
	if err != nil {
		r.warn("cluster", "/cluster/backup", "backup jobs: "+err.Error())
		return false
	}
	if len(bad) > 0 {
		r.warn("cluster", "/cluster/backup", fmt.Sprintf("%d malformed entries skipped", len(bad)))
	}
	out := make([]inventory.BackupJob, 0, len(items))
	for _, m := range items {
		if j, ok := BackupJobFromConfig(flat(m)); ok {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	r.snap.BackupJobs = out
	return len(bad) == 0
}

// BackupJobFromConfig maps one /cluster/backup entry (hyphenated keys, retention in keep-*
// keys or in prune-backups); ok is false without an id.
func BackupJobFromConfig(m map[string]string) (inventory.BackupJob, bool) {
	j := inventory.BackupJob{ID: strings.TrimSpace(m["id"]), Schedule: m["schedule"], Storage: m["storage"], Node: m["node"],
		Comment: m["comment"], NotesTemplate: m["notes-template"], PBSChangeDetectionMode: m["pbs-change-detection-mode"], Config: m}
	if j.ID == "" {
		return j, false
	}
	j.Enabled = true
	if v, ok := m["enabled"]; ok && v != "" {
		j.Enabled = truthy(v)
	}
	if j.Schedule == "" {
		j.Schedule = m["starttime"]
	}
	switch {
	case truthy(m["all"]) || strings.TrimSpace(m["vmid"]) == "all":
		j.Selection = []string{"all"}
	case m["pool"] != "":
		j.Selection = []string{"pool:" + m["pool"]}
	default:
		j.Selection = splitList(m["vmid"])
	}
	if ex := splitList(m["exclude"]); len(ex) > 0 {
		for _, e := range ex {
			j.Selection = append(j.Selection, "-"+e)
		}
	}
	if j.Selection == nil {
		j.Selection = []string{}
	}
	if n := parseIntLoose(m["next-run"]); n > 0 {
		j.NextRun = time.Unix(n, 0).UTC()
	}
	keep := ParsePruneBackups(m["prune-backups"])
	for _, k := range []string{"last", "hourly", "daily", "weekly", "monthly", "yearly", "all"} {
		if v, ok := m["keep-"+k]; ok && v != "" {
			keep[k] = int(parseIntLoose(v))
		}
	}
	ip := func(k string) *int {
		if v, ok := keep[k]; ok {
			return &v
		}
		return nil
	}
	j.KeepLast, j.KeepHourly, j.KeepDaily, j.KeepWeekly, j.KeepMonthly, j.KeepYearly = ip("last"), ip("hourly"), ip("daily"), ip("weekly"), ip("monthly"), ip("yearly")
	if v, ok := keep["all"]; ok {
		b := v != 0
		j.KeepAll = &b
	}
	intp := func(s string) *int {
		if strings.TrimSpace(s) == "" {
			return nil
		}
		v := int(parseIntLoose(s))
		return &v
	}
	j.BWLimit, j.Zstd = intp(m["bwlimit"]), intp(m["zstd"])
	if _, perf := SplitProps(m["performance"]); perf["max-workers"] != "" {
		j.IOWorkers = intp(perf["max-workers"])
	}
	if f := strings.TrimSpace(m["fleecing"]); f != "" {
		def, props := SplitProps(f)
		en := def
		if v, ok := props["enabled"]; ok {
			en = v
		}
		b := truthy(en)
		j.Fleecing = &b
		j.FleecingStorage = props["storage"]
	}
	if v := strings.TrimSpace(m["repeat-missed"]); v != "" {
		b := truthy(v)
		j.RepeatMissed = &b
	}
	return j, true
}

// spawnExtras starts the optional cluster-wide and per-node reads. Guests' snapshot
// lists are spawned with the guests (read.go). A node that is offline makes the
// per-node parts incomplete.
func (r *reader) spawnExtras(ctx context.Context, x *extras, spawn func(func()), online map[string]bool) {
	o := r.opts
	if o.Replications {
		spawn(func() {
			if !r.replications(ctx) {
				x.fail("replications")
			}
		})
	}
	if o.BackupJobs {
		spawn(func() {
			if !r.backupJobs(ctx) {
				x.fail("backupjobs")
			}
		})
	}
	days, _, maxPerNode := o.taskBounds()
	since := r.snap.TakenAt.Add(-time.Duration(days) * 24 * time.Hour)
	for _, n := range r.snap.Nodes {
		name := n.Name
		if !online[name] {
			if o.Backups {
				x.fail("backups")
			}
			if o.Tasks {
				x.fail("tasks")
			}
			continue
		}
		if o.Backups {
			spawn(func() { r.backups(ctx, x, name) })
		}
		if o.Tasks {
			spawn(func() { r.tasks(ctx, x, name, since, maxPerNode) })
		}
	}
	if o.Snapshots {
		for _, g := range r.snap.Guests {
			if !online[g.Node] {
				x.fail("snapshots")
			}
		}
	}
}

// finishExtras stores what the optional reads found and which parts are complete.
func (r *reader) finishExtras(x *extras) {
	o, s := r.opts, r.snap
	if o.Backups {
		s.Backups = exact(dedupeBackups(x.backups))
		s.Read.Backups = x.ok("backups")
	}
	if o.Snapshots {
		sortSnapshots(x.snaps)
		s.Snapshots = exact(x.snaps)
		s.Read.Snapshots = x.ok("snapshots")
	}
	if o.Tasks {
		_, perGuest, _ := o.taskBounds()
		s.Tasks = exact(boundTasks(x.tasks, s.Guests, perGuest))
		s.Read.Tasks = x.ok("tasks")
	}
	s.Read.Replications = o.Replications && x.ok("replications")
	s.Read.BackupJobs = o.BackupJobs && x.ok("backupjobs")
}

// sortSnapshots orders snapshots by guest (vmid, type) and name.
func sortSnapshots(l []inventory.GuestSnapshot) {
	sort.Slice(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.VMID != b.VMID {
			return a.VMID < b.VMID
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.Name < b.Name
	})
}
