// Package sync is the proxbox sync engine: it turns one Proxmox inventory
// snapshot per endpoint into NetBox objects, following the data path of
// shared/spec/architecture.md:
//
//	Snapshot -> Map (pure) -> Load (bulk lists) -> Diff (pure, printable) -> Apply (bulk, dependency order) -> Report
//
// It owns sync/ only. It must not do HTTP itself, read Proxmox (callers hand it
// a Reader), import go-proxmox or go-netbox, or touch the store, the CLI or
// the HTTP routes: those wire it from its exported API (Engine, Run, Options,
// Event, Summary). NetBox is reached through the small NetBox interface; the
// sync/nbadapter package adapts *netbox.Client to it.
//
// Importers that also need the standard library package should alias this
// one, e.g. import pbsync "github.com/proxbox/proxbox/sync".
//
// # Decisions
//
//   - Identity: a guest is (endpoint, cluster, type, vmid) and never its name;
//     our NetBox cluster is found by the custom field proxmox_endpoint, VMs by
//     (cluster id, proxmox_vm_type, proxmox_vm_id). QEMU and LXC may share a
//     vmid (qemu_lxc_id_collision fixture).
//   - Cluster names: a PVE cluster keeps its name unless a NetBox cluster of
//     another owner already has it, then it becomes "<name> (<endpoint>)"; a
//     standalone node's cluster is always "<node> (<endpoint>)".
//   - Templates are synced as virtual machines with status offline (they hold
//     vmids and storage); Options.Templates = "skip" leaves them out.
//   - VM disk: the sum of the virtual disks we write (MB); NetBox keeps it equal
//     to that sum itself, so after creation the field is not diffed for guests
//     with disks. Guests without parseable disks get maxdisk.
//   - Shared dependency objects (cluster types, sites, manufacturer, device
//     type, roles, platforms, VLANs, tags) are ensured, never rewritten.
//   - Orphans (PROXBOX_ORPHANS): keep | mark (default: status offline, tag
//     proxbox-orphan, custom field proxmox_orphaned_at) | delete (mark, then
//     delete once PROXBOX_ORPHAN_GRACE, default 168h, has passed). Only VMs and
//     devices of this endpoint's cluster that carry the proxbox tag; skipped
//     when the snapshot is incomplete. Children (disks, interfaces, MACs, IPs)
//     of a synced guest that no longer exist in Proxmox are deleted unless the
//     mode is keep.
package sync
