// Package inventory holds the Proxmox inventory as plain data: what the
// proxmox adapter reads from one endpoint and the sync engine maps into
// NetBox. It has types and tiny helpers only; it must not do I/O, know about
// HTTP, go-proxmox or NetBox.
package inventory

import (
	"net/netip"
	"time"
)

// GuestType is qemu or lxc.
type GuestType string

// Guest types.
const (
	QEMU GuestType = "qemu"
	LXC  GuestType = "lxc"
)

// Endpoint identifies the Proxmox endpoint a snapshot was read from. Its
// label (sync.EndpointLabel, built from these fields) is part of every
// guest's identity: two endpoints may hold the same cluster name and the
// same vmids.
type Endpoint struct {
	ID   int64
	Name string
	// Key is the endpoint's immutable identity when the caller has one: a
	// stored endpoint's key (given at creation, kept across renames), an
	// inline endpoint's --pve-name or host:port. Empty: the name is used.
	Key string
	// Host is the address proxbox reaches the endpoint at, "host" or
	// "host:port".
	Host string
}

// Snapshot is everything read from one Proxmox endpoint in one run.
type Snapshot struct {
	Endpoint Endpoint
	Cluster  Cluster
	Nodes    []Node
	Guests   []Guest
	Storage  []Storage
	// Backups, Snapshots, Replications, BackupJobs and Tasks are read when
	// the read options ask for them; Read says which parts are complete.
	Backups      []Backup
	Snapshots    []GuestSnapshot
	Replications []ReplicationJob
	BackupJobs   []BackupJob
	Tasks        []Task
	Read         Parts
	TakenAt      time.Time
	// Requests counts the Proxmox API requests made to build the snapshot.
	Requests int
	// Warnings are per-object problems that did not stop the read (a guest
	// agent that does not answer, an LXC without /interfaces).
	Warnings []Problem
	// Errors are reads that failed. When any is present, the snapshot is
	// incomplete and orphan handling must be skipped for this endpoint.
	Errors []Problem
}

// Complete reports whether every read succeeded.
func (s *Snapshot) Complete() bool { return len(s.Errors) == 0 }

// Problem is one warning or error of a read, tied to the object it concerns.
type Problem struct {
	Object string // e.g. "qemu/101", "node/pve01", "cluster"
	Path   string // the Proxmox API path that failed, when one did
	Detail string
}

// Cluster is a PVE cluster, or the pseudo-cluster of a standalone node.
type Cluster struct {
	Name       string // cluster name; for a standalone node, the node name
	Standalone bool
	Quorate    bool
	Version    int // config version from /cluster/status
}

// Node is one PVE node.
type Node struct {
	Name        string
	Online      bool
	IP          string // from /cluster/status
	NodeID      int
	PVEVersion  string
	CPUs        int
	MemoryBytes int64
	Uptime      int64
	Interfaces  []NodeInterface
}

// NodeInterface is one entry of /nodes/{node}/network.
type NodeInterface struct {
	Name        string
	Type        string // eth, bond, bridge, vlan, OVSBridge, ...
	Active      bool
	Autostart   bool
	CIDR        string // IPv4 with prefix length
	CIDR6       string
	Gateway     string
	MTU         int
	BridgePorts []string
	BondSlaves  []string
	BondMode    string
	VLANID      int
	VLANRawDev  string
	Comments    string
}

// Guest is one QEMU VM or LXC container.
type Guest struct {
	VMID    int
	Type    GuestType
	Name    string
	Node    string
	Status  string // running, stopped, paused, ...
	Pool    string
	HAState string
	Tags    []string // PVE tags, split and trimmed

	// From the guest config.
	Cores        int
	Sockets      int
	VCPUs        float64 // what NetBox's vcpus should say: cores*sockets, or the config's vcpus
	MemoryMB     int64
	MaxDiskBytes int64 // from /cluster/resources maxdisk
	OSType       string
	Template     bool // /cluster/resources or the config; among the flags: no padding of its own
	OnBoot       bool
	Agent        bool // QEMU guest agent enabled in the config
	Unprivileged bool
	Description  string
	SearchDomain string
	NICs         []NIC
	Disks        []Disk
	// Config is the raw config, kept only when the read options ask for it
	// (proxmox.ReadOptions.GuestConfig); nil otherwise. Every field the sync
	// uses is parsed above.
	Config map[string]string

	// AgentInterfaces is what the guest agent (QEMU) or /interfaces (LXC)
	// reported; nil when not read or not available.
	AgentInterfaces []GuestInterface
}

// NIC is one netN of a guest config.
type NIC struct {
	Key      string // net0
	Index    int
	Model    string // virtio, e1000, ... (QEMU); veth (LXC)
	Name     string // LXC: name=eth0
	MAC      string // upper case, colon separated
	Bridge   string
	VLAN     int // tag=
	Trunks   []int
	MTU      int
	Firewall bool
	LinkDown bool
	IPv4     string // LXC ip= (CIDR, "dhcp" or "manual")
	IPv6     string // LXC ip6=
	Gateway  string
	Gateway6 string
}

// Disk is one virtual disk of a guest config.
type Disk struct {
	Key        string // scsi0, virtio1, rootfs, mp0, efidisk0, tpmstate0
	Bus        string // scsi, virtio, sata, ide, efidisk, tpmstate, rootfs, mp
	Storage    string // local-lvm
	Volume     string // vm-101-disk-0
	SizeMB     int64
	MountPoint string // LXC mp: mp=/data
}

// GuestInterface is one interface seen from inside the guest.
type GuestInterface struct {
	Name      string
	MAC       string // upper case, colon separated
	Addresses []netip.Prefix
}

// Storage is one storage of the cluster.
type Storage struct {
	Name    string
	Type    string
	Content []string
	Nodes   []string // empty: all nodes
	Shared  bool
	Enabled bool
	Config  map[string]string
}

// Parts names the optional parts of a snapshot that were read completely. A
// part that is false was not asked for, or one of its reads failed: the sync
// engine then neither deletes nor marks stale objects of that part.
type Parts struct {
	Storage      bool // /storage
	Backups      bool // content=backup of every backup storage on every online node
	Snapshots    bool // the snapshot list of every guest
	Replications bool // /cluster/replication
	BackupJobs   bool // /cluster/backup
	Tasks        bool // node task lists (bounded)
}

// Backup is one vzdump or PBS backup, once per volume id even when a shared
// storage lists it on every node.
type Backup struct {
	VolID     string    // "nfs-backup:backup/vzdump-qemu-101-2026_01_15-02_00_00.vma.zst", "pbs:backup/vm/201/2026-11-20T01:00:00Z"
	Storage   string    // storage id (prefix of VolID)
	Node      string    // first node that listed it
	VMID      int       // 0 when neither the entry nor the volid names one
	GuestType GuestType // qemu, lxc, or "" when unknown
	Format    string    // PVE's format as listed (vma.zst, tar.zst, pbs-vm, ...)
	// FormatChoice is Format normalised to the plugin's choices (pbs-vm, pbs-ct, tzst,
	// tgz, tbz, tar, zst, iso, qcow2, raw, undefined) by the adapter.
	FormatChoice string
	Size         int64     // bytes
	Created      time.Time // ctime, UTC; zero when absent
	Notes        string
	Encrypted    string // PBS key fingerprint; "" when not encrypted
	Protected    bool
	// Verification of PBS backups: state ("ok", "failed") and the task's UPID.
	VerificationState string
	VerificationUPID  string
}

// GuestSnapshot is one snapshot of a guest; PVE's "current" pseudo-entry is
// never one.
type GuestSnapshot struct {
	VMID        int
	Type        GuestType
	Node        string
	Name        string
	Parent      string
	Description string
	Taken       time.Time // snaptime, UTC; zero when absent
	VMState     bool      // RAM included (QEMU)
}

// ReplicationJob is one entry of /cluster/replication.
type ReplicationJob struct {
	ID        string // "104-0"
	Guest     int
	Target    string
	Type      string // local
	Schedule  string
	Rate      float64 // MB/s; 0 when unlimited
	HasRate   bool
	Comment   string
	Disabled  bool
	Source    string
	JobNum    int
	HasJobNum bool
	RemoveJob string // local, full or ""
	Config    map[string]string
}

// BackupJob is one scheduled vzdump job of /cluster/backup.
type BackupJob struct {
	ID        string
	Enabled   bool
	Schedule  string
	Storage   string
	Node      string // "" means every node
	Selection []string
	Comment   string
	NextRun   time.Time // UTC; zero when PVE did not say
	// Retention, from keep-* and prune-backups (nil: not set).
	KeepLast, KeepHourly, KeepDaily, KeepWeekly, KeepMonthly, KeepYearly *int
	KeepAll                                                              *bool
	NotesTemplate                                                        string
	BWLimit, Zstd, IOWorkers                                             *int
	Fleecing                                                             *bool
	FleecingStorage                                                      string
	RepeatMissed                                                         *bool
	PBSChangeDetectionMode                                               string
	Config                                                               map[string]string
}

// Task is one finished or running task of a node that concerns a guest.
type Task struct {
	UPID      string
	Node      string
	PID       int64
	PStart    int64
	ID        string // the task's id (the vmid for guest tasks)
	VMID      int
	Type      string // qmstart, vzdump, ...
	User      string
	Started   time.Time // UTC
	Ended     time.Time // UTC; zero while running
	Status    string    // exit status as listed ("OK", "WARNINGS: 1", an error); "" while running
	Running   bool
	GuestType GuestType // from the task type (qm*: qemu, vz*: lxc) or the guest list; "" unknown
}
