package sync

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Stage is one separately runnable part of a sync. A full run does them all,
// in the order of AllStages, with one Proxmox read per endpoint.
type Stage string

// Stages. The names are the plugin's sync-type slugs
// (shared/spec/plugin-client-contract.md §2.5); ParseStage also accepts the
// SSE names of the Python service (virtual-disks, node-interfaces,
// vm-ip-addresses, backups, snapshots).
const (
	StageDevices        Stage = "devices"            // cluster types, clusters, sites, manufacturer, device type, roles, nodes
	StageStorage        Stage = "storage"            // plugin storage (one per cluster and storage id)
	StageVMs            Stage = "virtual-machines"   // guest roles, platforms, PVE tags, virtual machines
	StageTaskHistory    Stage = "task-history"       // plugin task history (bounded, by UPID)
	StageDisks          Stage = "vm-disks"           // virtual disks
	StageBackups        Stage = "vm-backups"         // plugin backups (one per volume id)
	StageSnapshots      Stage = "vm-snapshots"       // plugin snapshots (without "current")
	StageNodeInterfaces Stage = "network-interfaces" // node interfaces, their VLANs and IPs
	StageVMInterfaces   Stage = "vm-interfaces"      // VM interfaces, VLANs, MAC addresses
	StageIPs            Stage = "ip-addresses"       // VM IP addresses and primary IPs
	StageReplications   Stage = "replications"       // plugin replications
	StageBackupRoutines Stage = "backup-routines"    // plugin backup routines (vzdump jobs)
)

// AllStages in dependency order, which is the plugin's stage order.
var AllStages = []Stage{StageDevices, StageStorage, StageVMs, StageTaskHistory, StageDisks, StageBackups,
	StageSnapshots, StageNodeInterfaces, StageVMInterfaces, StageIPs, StageReplications, StageBackupRoutines}

// PluginStages are the stages that write the netbox-proxbox plugin's models;
// without the plugin they end as skipped.
var PluginStages = []Stage{StageStorage, StageTaskHistory, StageBackups, StageSnapshots, StageReplications, StageBackupRoutines}

// ParseStage accepts a stage name or one of its aliases.
func ParseStage(s string) (Stage, error) {
	switch strings.TrimSpace(strings.ToLower(s)) {
	case "devices", "clusters", "nodes":
		return StageDevices, nil
	case "virtual-machines", "vms":
		return StageVMs, nil
	case "vm-disks", "virtual-disks", "disks":
		return StageDisks, nil
	case "network-interfaces", "node-interfaces":
		return StageNodeInterfaces, nil
	case "vm-interfaces":
		return StageVMInterfaces, nil
	case "ip-addresses", "vm-ip-addresses":
		return StageIPs, nil
	case "storage", "storages":
		return StageStorage, nil
	case "task-history", "tasks":
		return StageTaskHistory, nil
	case "vm-backups", "backups":
		return StageBackups, nil
	case "vm-snapshots", "snapshots":
		return StageSnapshots, nil
	case "replications", "replication":
		return StageReplications, nil
	case "backup-routines", "backup-jobs":
		return StageBackupRoutines, nil
	}
	return "", fmt.Errorf("unknown stage %q (want one of %v)", s, AllStages)
}

// OrphanMode says what happens to objects whose Proxmox guest or node is gone.
type OrphanMode string

// Orphan modes (PROXBOX_ORPHANS).
const (
	OrphansKeep   OrphanMode = "keep"
	OrphansMark   OrphanMode = "mark"
	OrphansDelete OrphanMode = "delete"
)

// OverwriteFlags is the plugin's overwrite_* contract
// (shared/fixtures/contracts/overwrite-flags.json): a false flag makes the
// field user-owned after creation. Missing flags are true.
type OverwriteFlags map[string]bool

// OverwriteFlagNames lists the contract's flags in its order.
var OverwriteFlagNames = []string{
	"overwrite_device_role", "overwrite_device_type", "overwrite_device_tags", "overwrite_device_status",
	"overwrite_device_description", "overwrite_device_custom_fields", "overwrite_vm_role", "overwrite_vm_type",
	"overwrite_vm_tags", "overwrite_vm_proxmox_tags", "overwrite_vm_description", "overwrite_vm_custom_fields",
	"overwrite_vm_cloudinit", "overwrite_cluster_tags", "overwrite_cluster_description",
	"overwrite_cluster_custom_fields", "overwrite_node_interface_tags", "overwrite_node_interface_custom_fields",
	"overwrite_storage_tags", "overwrite_vm_interface_tags", "overwrite_vm_interface_custom_fields",
	"overwrite_ip_status", "overwrite_ip_tags", "overwrite_ip_custom_fields", "overwrite_ip_address_dns_name",
}

// On reports whether the flag is set (true when missing).
func (f OverwriteFlags) On(name string) bool {
	v, ok := f[name]
	return !ok || v
}

// MapOptions shape the mapping. The zero value is the documented default.
type MapOptions struct {
	// Site is the name of the site for nodes (PROXBOX_DEFAULT_SITE); empty:
	// one site per cluster, "Proxmox Default Site - <cluster>".
	Site string
	// ClusterName overrides the NetBox cluster name (the engine sets it when
	// the PVE name is taken by another owner).
	ClusterName string
	// SkipTemplates leaves templates out (PROXBOX_TEMPLATES=skip); default: synced, offline.
	SkipTemplates bool
	// ConfigInterfaceNames names VM interfaces netN / LXC name= even when the
	// guest agent knows the guest's name (PROXBOX_USE_GUEST_AGENT_INTERFACE_NAME=false).
	ConfigInterfaceNames bool
	// IncludeIPv6LinkLocal keeps fe80::/10 and 169.254/16 addresses
	// (PROXBOX_IGNORE_IPV6_LINK_LOCAL=false).
	IncludeIPv6LinkLocal bool
	// PrimaryIP is ipv4 (default), ipv6, both or none (PROXBOX_PRIMARY_IP_PREFERENCE).
	PrimaryIP string
	// Overwrite flags; nil: all true.
	Overwrite OverwriteFlags
	// IPVRF is where the endpoint's IP addresses live (PROXBOX_IP_VRF): IPVRFNone
	// (default, ""), the global table; IPVRFEndpoint or IPVRFCluster, a VRF of the
	// endpoint's own that the engine creates and owns (see the package doc, "IP
	// addresses and VRFs").
	IPVRF string
}

// IP VRF modes (PROXBOX_IP_VRF).
const (
	IPVRFNone     = "none"
	IPVRFEndpoint = "endpoint"
	IPVRFCluster  = "cluster"
)

// IPVRFModes lists the accepted values of MapOptions.IPVRF.
var IPVRFModes = []string{IPVRFNone, IPVRFEndpoint, IPVRFCluster}

// vrfOn reports whether the mapping puts IP addresses in a VRF of the endpoint.
func (o MapOptions) vrfOn() bool { return o.IPVRF == IPVRFEndpoint || o.IPVRF == IPVRFCluster }

// Options of one run.
type Options struct {
	// Stages to run; empty: all, in order.
	Stages []Stage
	// DryRun computes the plan and writes nothing.
	DryRun bool
	// Orphans (PROXBOX_ORPHANS), default mark.
	Orphans OrphanMode
	// OrphanGrace (PROXBOX_ORPHAN_GRACE, Go duration or days like "7d"),
	// default 7 days; negative: no grace.
	OrphanGrace time.Duration
	Map         MapOptions
	// Events receives the event stream; it must not block for long. Nil: none.
	Events func(Event)
	// Now is the clock (tests); default time.Now.
	Now func() time.Time

	// DeleteNonexistentBackup and DeleteNonexistentSnapshot are the plugin's
	// delete_nonexistent_backup / delete_nonexistent_snapshot stage flags: a
	// backup or snapshot gone from Proxmox is deleted; otherwise a backup is
	// tagged proxbox-orphan (the model has no status) and a snapshot gets
	// status stale.
	DeleteNonexistentBackup   bool
	DeleteNonexistentSnapshot bool
	// BackupBatchSize is the number of backups per bulk write request
	// (PROXBOX_BACKUP_BATCH_SIZE, default 5); BackupBatchDelay the pause
	// between two backup write requests (PROXBOX_BACKUP_BATCH_DELAY_MS,
	// default 200 ms; negative: none). See the package doc.
	BackupBatchSize  int
	BackupBatchDelay time.Duration
	// ReservedLabels are the labels of endpoints this run does not sync (the
	// other stored endpoints of a run over a subset): their NetBox clusters
	// are never adopted by the endpoints of this run.
	ReservedLabels []string
	// IgnorePluginSettings keeps Map as given instead of applying the
	// plugin's settings (use_guest_agent_interface_name,
	// ignore_ipv6_link_local_addresses, primary_ip_preference).
	IgnorePluginSettings bool
	// State keeps NetBox's state between runs (see State); nil: every run
	// lists what it needs.
	State *State
	// Refusals remembers the writes NetBox refused deterministically: a
	// write whose body it refused before is not sent again until the body
	// changes (see the package comment, "Refused writes"); nil: every run
	// sends every write. Dry runs neither consult nor change it.
	Refusals *Refusals
	// ReadConcurrency bounds the endpoints whose Proxmox snapshots a run
	// reads at once (each read bounds its own requests); default
	// DefaultReadConcurrency.
	ReadConcurrency int
}

// DefaultReadConcurrency is Options.ReadConcurrency's default.
const DefaultReadConcurrency = 4

// Includes reports whether a run with these options runs stage s (no Stages: all).
func (o Options) Includes(s Stage) bool { return len(o.Stages) == 0 || slices.Contains(o.Stages, s) }

func (o *Options) defaults() {
	if o.Orphans == "" {
		o.Orphans = OrphansMark
	}
	if o.OrphanGrace == 0 {
		o.OrphanGrace = 7 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReadConcurrency <= 0 {
		o.ReadConcurrency = DefaultReadConcurrency
	}
	if len(o.Stages) == 0 {
		o.Stages = AllStages
	}
	if o.BackupBatchSize <= 0 {
		o.BackupBatchSize = 5
	}
	if o.BackupBatchDelay == 0 {
		o.BackupBatchDelay = 200 * time.Millisecond
	}
}

func (o *Options) runs(s Stage) bool { return slices.Contains(o.Stages, s) }
