package proxmox

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/proxbox/proxbox/inventory"
)

// Poll is one cheap look at an endpoint for the watcher (package watch):
// GET /cluster/resources and GET /cluster/tasks, nothing else.
type Poll struct {
	// Rows are the stable fields of every guest, node and storage row, by
	// resource id ("qemu/101", "node/pve1", "storage/pve1/local"). Counters
	// that move all the time (cpu, mem, uptime, netin, ...) are left out.
	Rows map[string]Row
	// Tasks is the recent cluster-wide task list, newest first.
	Tasks    []PollTask
	Requests int
	At       time.Time

	resources []byte // the raw reply, for Refresh
}

// Row is the part of a /cluster/resources row whose change means the object
// changed.
type Row struct {
	Type, Node, Name, Status, Tags, Lock, HAState, Pool, Storage string
	VMID                                                         int
	Template                                                     bool
	MaxCPU                                                       float64
	MaxMem, MaxDisk                                              int64
}

// PollTask is one entry of /cluster/tasks.
type PollTask struct {
	UPID, Node, Type, ID, Status string
	Started, Ended               time.Time
	task                         inventory.Task
	guest                        bool
}

// Poll reads /cluster/resources and /cluster/tasks (two requests).
func (c *Client) Poll(ctx context.Context) (*Poll, error) {
	if err := c.ensureSession(ctx); err != nil {
		return nil, fmt.Errorf("poll: %w", err)
	}
	c.authMu.RLock()
	defer c.authMu.RUnlock()
	p := &Poll{Rows: map[string]Row{}, At: time.Now().UTC()}
	res, err := c.get(ctx, "/cluster/resources", nil, c.cfg.Timeout)
	p.Requests++
	if err != nil {
		return p, fmt.Errorf("poll /cluster/resources: %w", err)
	}
	rows, _, err := decodeList[resourceEntry](res, false)
	if err != nil {
		return p, fmt.Errorf("poll /cluster/resources: %w", err)
	}
	p.resources = res
	for _, e := range rows {
		id := string(e.ID)
		if id == "" {
			continue
		}
		switch string(e.Type) {
		case "qemu", "lxc", "node", "storage":
		default:
			continue
		}
		p.Rows[id] = Row{Type: string(e.Type), Node: string(e.Node), Name: string(e.Name), Status: string(e.Status),
			Tags: string(e.Tags), Lock: string(e.Lock), HAState: string(e.HAState), Pool: string(e.Pool), Storage: string(e.Storage),
			VMID: int(e.VMID), Template: bool(e.Template), MaxCPU: float64(e.MaxCPU), MaxMem: int64(e.MaxMem), MaxDisk: int64(e.MaxDisk)}
	}
	td, err := c.get(ctx, "/cluster/tasks", nil, c.cfg.Timeout)
	p.Requests++
	if err != nil {
		return p, fmt.Errorf("poll /cluster/tasks: %w", err)
	}
	tasks, _, err := decodeList[taskEntry](td, true)
	if err != nil {
		return p, fmt.Errorf("poll /cluster/tasks: %w", err)
	}
	for _, e := range tasks {
		t := PollTask{UPID: strings.TrimSpace(string(e.UPID)), Node: string(e.Node), Type: string(e.Type), ID: string(e.ID), Status: string(e.Status)}
		if t.UPID == "" {
			continue
		}
		if e.StartTime > 0 {
			t.Started = time.Unix(int64(e.StartTime), 0).UTC()
		}
		if e.EndTime > 0 {
			t.Ended = time.Unix(int64(e.EndTime), 0).UTC()
		}
		t.task, t.guest = taskFromEntry(e, string(e.Node))
		p.Tasks = append(p.Tasks, t)
	}
	return p, nil
}

// GuestWant says what to re-read of one changed guest ("qemu/101").
type GuestWant struct {
	Config    bool // config and guest-agent interfaces
	Snapshots bool
	Backups   bool // the backup storages of its node
}

// Want is what a Refresh re-reads: everything else is taken from the base
// snapshot.
type Want struct {
	Guests  map[string]GuestWant
	Storage bool // /storage
	// NewTasks are the poll's tasks that were not in the previous poll; the
	// guests' ones join the snapshot's task list when it has one.
	NewTasks []PollTask
	// TaskNodes are nodes whose own task list is read from Since on (the
	// cluster-wide list scrolled past some of their tasks).
	TaskNodes []string
	Since     time.Time
}

// Refresh builds a new snapshot from base (a complete earlier snapshot of
// the same endpoint), the poll's resource rows and the re-reads want asks
// for: the guest list, nodes and resource fields come from the poll; the
// guests named in want have their config (and agent, snapshots, backups)
// read again; the others keep base's details. Requests counts only the
// requests made here.
func (c *Client) Refresh(ctx context.Context, base *inventory.Snapshot, p *Poll, want Want, opts ReadOptions) (*inventory.Snapshot, error) {
	r := &reader{c: c, opts: opts, snap: &inventory.Snapshot{Endpoint: base.Endpoint, Cluster: base.Cluster, TakenAt: p.At}}
	ctx = context.WithValue(ctx, counterKey, &r.requests)
	if err := c.ensureSession(ctx); err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	c.authMu.RLock()
	defer c.authMu.RUnlock()
	// Nodes keep what only a full read knows (IP, network, version).
	r.snap.Nodes = append([]inventory.Node(nil), base.Nodes...)
	if err := r.resources(p.resources); err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	s := r.snap
	old := map[string]*inventory.Guest{}
	for i := range base.Guests {
		old[guestObject(&base.Guests[i])] = &base.Guests[i]
	}
	x := &extras{}
	var reread []*inventory.Guest
	for i := range s.Guests {
		g := &s.Guests[i]
		key := guestObject(g)
		w, changed := want.Guests[key]
		if o := old[key]; o != nil && (!changed || !w.Config) {
			fresh := *g
			*g = *o
			g.Name, g.Node, g.Status, g.Template, g.Pool, g.HAState, g.Tags = fresh.Name, fresh.Node, fresh.Status, fresh.Template, fresh.Pool, fresh.HAState, fresh.Tags
			continue
		}
		reread = append(reread, g)
	}
	for _, g := range reread {
		r.guest(ctx, g)
	}
	// Snapshots: base's, minus destroyed guests and the re-read ones.
	present := map[string]bool{}
	for i := range s.Guests {
		present[guestObject(&s.Guests[i])] = true
	}
	snapRead := map[string]bool{}
	if base.Read.Snapshots {
		for i := range s.Guests {
			g := &s.Guests[i]
			key := guestObject(g)
			if w, ok := want.Guests[key]; ok && (w.Snapshots || old[key] == nil || old[key].Node != g.Node) {
				snapRead[key] = true
				prefix := "/nodes/" + url.PathEscape(g.Node) + "/" + string(g.Type) + "/" + strconv.Itoa(g.VMID)
				r.snapshots(ctx, x, g, prefix)
			}
		}
		for _, sn := range base.Snapshots {
			key := fmt.Sprintf("%s/%d", sn.Type, sn.VMID)
			if present[key] && !snapRead[key] {
				x.snaps = append(x.snaps, sn)
			}
		}
		sortSnapshots(x.snaps)
		s.Snapshots, s.Read.Snapshots = x.snaps, base.Read.Snapshots && x.ok("snapshots")
	}
	// Backups: the storages seen from the nodes of guests with a new backup
	// are listed again and replace base's entries of those storages.
	s.Backups, s.Read.Backups = base.Backups, base.Read.Backups
	if base.Read.Backups {
		nodes := map[string]bool{}
		for i := range s.Guests {
			if want.Guests[guestObject(&s.Guests[i])].Backups {
				nodes[s.Guests[i].Node] = true
			}
		}
		if len(nodes) > 0 {
			bx := &extras{}
			for n := range nodes {
				r.backups(ctx, bx, n)
			}
			if bx.ok("backups") {
				storages := map[string]bool{}
				for _, b := range bx.backups {
					storages[b.Storage] = true
				}
				var keep []inventory.Backup
				for _, b := range base.Backups {
					if !storages[b.Storage] {
						keep = append(keep, b)
					}
				}
				s.Backups = dedupeBackups(append(keep, bx.backups...))
			}
		}
	}
	if want.Storage && opts.Storage {
		s.Read.Storage = r.storage(ctx)
	} else {
		s.Storage, s.Read.Storage = base.Storage, base.Read.Storage
	}
	s.Replications, s.BackupJobs = base.Replications, base.BackupJobs
	s.Read.Replications, s.Read.BackupJobs = base.Read.Replications, base.Read.BackupJobs
	s.Tasks, s.Read.Tasks = base.Tasks, base.Read.Tasks
	if base.Read.Tasks {
		seen := map[string]bool{}
		for _, t := range base.Tasks {
			seen[t.UPID] = true
		}
		tasks := append([]inventory.Task(nil), base.Tasks...)
		for _, t := range want.NewTasks {
			if t.guest && !seen[t.UPID] {
				seen[t.UPID] = true
				tasks = append(tasks, t.task)
			}
		}
		tx := &extras{}
		_, _, maxPerNode := opts.taskBounds()
		for _, n := range want.TaskNodes {
			r.tasks(ctx, tx, n, want.Since, maxPerNode)
		}
		for _, t := range tx.tasks {
			if !seen[t.UPID] {
				seen[t.UPID] = true
				tasks = append(tasks, t)
			}
		}
		s.Tasks = tasks
	}
	r.finish()
	return s, nil
}
