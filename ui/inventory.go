package ui

import (
	"encoding/json"
	"time"

	"github.com/proxbox/proxbox/store"
)

// The overview's inventory says, per Proxmox endpoint, what NetBox holds
// after the last sync, without asking NetBox: the counts come from the
// stage results of the recent runs (per endpoint and stage, the latest
// one: a single-stage run updates only its own stage), the cluster and the
// VM/container split from what the last Proxmox read found (the run
// summary's "inventory", recorded by syncrun).

// invRow is one endpoint's inventory.
type invRow struct {
	Endpoint   string
	Cluster    string
	Standalone bool
	Nodes      int // devices in NetBox
	Guests     int // virtual machines in NetBox (VMs and containers)
	VMs        int // QEMU guests Proxmox listed
	Containers int // LXC guests Proxmox listed
	IPs        int
	Backups    int
	Orphans    int // VMs and devices marked orphan
	RunID      int64
	At         time.Time
	Complete   bool
	HasRead    bool // Cluster, VMs and Containers are known
}

// held counts the objects of a stage result's types that NetBox holds
// after it: created, updated, unchanged and orphan-marked ones.
func held(raw json.RawMessage) map[string]rawCounts {
	var m map[string]rawCounts
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

// inventoryRows builds the rows from runs, newest first.
func inventoryRows(runs []store.Run) []invRow {
	type seenKey struct{ ep, stage string }
	seen := map[seenKey]bool{}
	rows := map[string]*invRow{}
	var order []string
	row := func(ep string) *invRow {
		r := rows[ep]
		if r == nil {
			r = &invRow{Endpoint: ep}
			rows[ep] = r
			order = append(order, ep)
		}
		return r
	}
	for _, run := range runs {
		if run.DryRun || run.FinishedAt.IsZero() {
			continue
		}
		var sum struct {
			Inventory map[string]struct {
				Cluster    string `json:"cluster"`
				Standalone bool   `json:"standalone"`
				VMs        int    `json:"vms"`
				Containers int    `json:"containers"`
				Complete   bool   `json:"complete"`
			} `json:"inventory"`
		}
		_ = json.Unmarshal(run.Summary, &sum)
		for ep, inv := range sum.Inventory {
			r := row(ep)
			if !r.HasRead {
				r.HasRead, r.Cluster, r.Standalone, r.VMs, r.Containers, r.Complete = true, inv.Cluster, inv.Standalone, inv.VMs, inv.Containers, inv.Complete
			}
		}
		for _, sr := range run.Stages {
			ep, stage := splitStage(sr.Stage)
			if ep == "" || seen[seenKey{ep, stage}] {
				continue
			}
			seen[seenKey{ep, stage}] = true
			r := row(ep)
			if r.RunID == 0 {
				r.RunID, r.At = run.ID, run.FinishedAt
			}
			for typ, c := range held(sr.Counts) {
				if typ == "devices" || typ == "virtual_machines" {
					r.Orphans += c.Orphaned
				}
				// a type counts in its own stage only (later stages may
				// re-patch objects of an earlier one)
				n := c.Created + c.Updated + c.Unchanged + c.Orphaned
				switch {
				case typ == "devices" && stage == "devices":
					r.Nodes += n
				case typ == "virtual_machines" && stage == "virtual-machines":
					r.Guests += n
				case typ == "ip_addresses" && stage == "ip-addresses":
					r.IPs += n
				case typ == "backups" && stage == "vm-backups":
					r.Backups += n
				}
			}
		}
	}
	out := make([]invRow, 0, len(order))
	for _, ep := range order {
		out = append(out, *rows[ep])
	}
	return out
}
