package watch

import (
	"fmt"
	"sort"
	"strings"

	"github.com/proxbox/proxbox/proxmox"
)

// Changes is what one poll found changed since the previous one.
type Changes struct {
	// Guests to re-read, by "qemu/101".
	Guests map[string]proxmox.GuestWant `json:"-"`
	// What happened, for reports: "created qemu/150", "memory qemu/101",
	// "migrated qemu/101", "destroyed lxc/120", "task vzdump qemu/101".
	Objects  []string           `json:"objects"`
	Nodes    []string           `json:"nodes,omitempty"`
	Storage  bool               `json:"storage,omitempty"`
	NewTasks []proxmox.PollTask `json:"-"`
	// TaskOverflow are nodes whose tasks in the cluster-wide list are all
	// new: more happened there than the list holds, so the node's own task
	// list is read for the rest.
	TaskOverflow []string `json:"-"`
}

// Empty reports whether nothing changed.
func (c *Changes) Empty() bool {
	return len(c.Guests) == 0 && len(c.Objects) == 0 && len(c.Nodes) == 0 && !c.Storage && len(c.NewTasks) == 0
}

// taskWants maps PVE task types to what they change.
var taskWants = map[string]proxmox.GuestWant{
	"qmset": {Config: true}, "vzset": {Config: true}, "qmconfig": {Config: true}, "vzconfig": {Config: true},
	"qmcreate": {Config: true, Snapshots: true}, "vzcreate": {Config: true, Snapshots: true},
	"qmclone": {Config: true}, "qmrestore": {Config: true, Snapshots: true}, "vzrestore": {Config: true, Snapshots: true},
	"qmresize": {Config: true}, "vzresize": {Config: true}, "qmmove": {Config: true}, "vzmove": {Config: true},
	"qmigrate": {Config: true, Snapshots: true}, "vzmigrate": {Config: true, Snapshots: true},
	"qmsnapshot": {Snapshots: true}, "vzsnapshot": {Snapshots: true}, "qmdelsnapshot": {Snapshots: true},
	"vzdelsnapshot": {Snapshots: true}, "qmrollback": {Config: true, Snapshots: true}, "vzrollback": {Config: true, Snapshots: true},
	"vzdump":  {Backups: true},
	"qmstart": {Config: true}, "vzstart": {Config: true}, // running: its agent interfaces can be read now
}

// Diff derives the changes between two polls of one endpoint. prev nil
// means there is no earlier poll: nothing is a change.
func Diff(prev, cur *proxmox.Poll) *Changes {
	c := &Changes{Guests: map[string]proxmox.GuestWant{}}
	if prev == nil || cur == nil {
		return c
	}
	want := func(key string, w proxmox.GuestWant) {
		o := c.Guests[key]
		c.Guests[key] = proxmox.GuestWant{Config: o.Config || w.Config, Snapshots: o.Snapshots || w.Snapshots, Backups: o.Backups || w.Backups}
	}
	for id, r := range cur.Rows {
		p, had := prev.Rows[id]
		switch r.Type {
		case "qemu", "lxc":
			switch {
			case !had:
				want(id, proxmox.GuestWant{Config: true, Snapshots: true})
				c.Objects = append(c.Objects, "created "+id)
			case p.Node != r.Node:
				want(id, proxmox.GuestWant{Config: true, Snapshots: true})
				c.Objects = append(c.Objects, "migrated "+id)
			case p != r:
				want(id, proxmox.GuestWant{Config: true})
				c.Objects = append(c.Objects, rowChange(p, r)+" "+id)
			}
		case "node":
			if !had || p != r {
				c.Nodes = append(c.Nodes, r.Node)
			}
		case "storage":
			if !had || p.Status != r.Status || p.Type != r.Type {
				c.Storage = true
			}
		}
	}
	for id, p := range prev.Rows {
		if _, ok := cur.Rows[id]; ok {
			continue
		}
		switch p.Type {
		case "qemu", "lxc":
			c.Objects = append(c.Objects, "destroyed "+id)
		case "node":
			c.Nodes = append(c.Nodes, p.Node)
		case "storage":
			c.Storage = true
		}
	}
	seen := map[string]string{}
	for _, t := range prev.Tasks {
		seen[t.UPID] = t.Status
	}
	for _, t := range cur.Tasks {
		if st, ok := seen[t.UPID]; ok && st == t.Status {
			continue
		}
		c.NewTasks = append(c.NewTasks, t)
		key := guestOf(cur, t)
		if key == "" {
			continue
		}
		if w, ok := taskWants[t.Type]; ok {
			want(key, w)
		}
		c.Objects = append(c.Objects, "task "+t.Type+" "+key)
	}
	c.TaskOverflow = overflowed(prev, cur)
	sort.Strings(c.Objects)
	c.Objects = dedupe(c.Objects)
	sort.Strings(c.Nodes)
	c.Nodes = dedupe(c.Nodes)
	return c
}

// guestOf finds the guest a task concerns in the poll's rows ("" when none:
// a node task, or a guest that is gone).
func guestOf(p *proxmox.Poll, t proxmox.PollTask) string {
	if t.ID == "" {
		return ""
	}
	pref := []string{"qemu/", "lxc/"}
	if strings.HasPrefix(t.Type, "vz") && t.Type != "vzdump" {
		pref = []string{"lxc/", "qemu/"}
	}
	for _, p0 := range pref {
		if _, ok := p.Rows[p0+t.ID]; ok {
			return p0 + t.ID
		}
	}
	return ""
}

func rowChange(p, r proxmox.Row) string {
	switch {
	case p.MaxMem != r.MaxMem:
		return "memory"
	case p.Name != r.Name:
		return "renamed"
	case p.Status != r.Status:
		return "status"
	case p.MaxCPU != r.MaxCPU:
		return "cpus"
	case p.Tags != r.Tags:
		return "tags"
	default:
		return "changed"
	}
}

func dedupe(l []string) []string {
	out := l[:0]
	for i, s := range l {
		if i == 0 || s != l[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// String is a one-line description, for logs.
func (c *Changes) String() string {
	return fmt.Sprintf("%d guests, %d nodes, storage %v, %d tasks", len(c.Guests), len(c.Nodes), c.Storage, len(c.NewTasks))
}

// overflowed lists the nodes that had tasks in prev's list and have only
// new ones in cur's: the list scrolled past tasks the watch never saw.
func overflowed(prev, cur *proxmox.Poll) []string {
	seen := map[string]bool{}
	had := map[string]bool{}
	for _, t := range prev.Tasks {
		seen[t.UPID] = true
		had[t.Node] = true
	}
	allNew := map[string]bool{}
	for _, t := range cur.Tasks {
		if _, ok := allNew[t.Node]; !ok {
			allNew[t.Node] = true
		}
		if seen[t.UPID] {
			allNew[t.Node] = false
		}
	}
	var out []string
	for n, all := range allNew {
		if all && had[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
