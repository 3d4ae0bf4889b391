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

// Endpoint identifies the Proxmox endpoint a snapshot was read from. Its ID
// is part of every guest's identity: two endpoints may hold the same cluster
// name and the same vmids.
type Endpoint struct {
	ID   int64
	Name string
	Host string
}

// Snapshot is everything read from one Proxmox endpoint in one run.
type Snapshot struct {
	Endpoint Endpoint
	Cluster  Cluster
	Nodes    []Node
	Guests   []Guest
	Storage  []Storage
	TakenAt  time.Time
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
	VMID     int
	Type     GuestType
	Name     string
	Node     string
	Status   string // running, stopped, paused, ...
	Template bool
	Pool     string
	HAState  string
	Tags     []string // PVE tags, split and trimmed

	// From the guest config.
	Cores        int
	Sockets      int
	VCPUs        float64 // what NetBox's vcpus should say: cores*sockets, or the config's vcpus
	MemoryMB     int64
	MaxDiskBytes int64 // from /cluster/resources maxdisk
	OSType       string
	OnBoot       bool
	Agent        bool // QEMU guest agent enabled in the config
	Unprivileged bool
	Description  string
	SearchDomain string
	NICs         []NIC
	Disks        []Disk
	// Config is the raw config, for the plugin's config tab and fields not
	// mapped yet.
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
