// Package sync is the proxbox sync engine: it turns one Proxmox inventory
// snapshot per endpoint into NetBox objects, following the data path of
// shared/spec/architecture.md:
//
//	Snapshot -> Map (pure) -> Load (bulk lists) -> Diff (pure, printable) -> Apply (bulk, dependency order) -> Report
//
// It owns sync/ only (sync/nbadapter holds the integration tests and benchmarks
// against both simulators). It must not do HTTP itself, read Proxmox (callers hand it
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
//     our NetBox cluster is found by the custom field proxmox_endpoint (the
//     endpoint's label, see "Endpoint identity" below), VMs by (cluster id,
//     proxmox_vm_type, proxmox_vm_id). QEMU and LXC may share a vmid
//     (qemu_lxc_id_collision fixture).
//   - Cluster names: a PVE cluster keeps its name unless a NetBox cluster of
//     another owner already has it, then it becomes "<name> (<endpoint>)"; a
//     standalone node's cluster is always "<node> (<endpoint>)".
//   - Templates are synced as virtual machines with status offline (they hold
//     vmids and storage); Options.Templates = "skip" leaves them out.
//   - VM disk: the sum of the virtual disks we write (MB); NetBox keeps it equal
//     to that sum itself, so after creation the field is not diffed for guests
//     with disks. Guests without parseable disks get maxdisk.
//   - Sites and VLANs: an endpoint's nodes (devices) and guests (VMs) share
//     one site (PROXBOX_SITE, else "Proxmox Default Site - <cluster>"); a VM's
//     site is its node's site and is kept in sync. A VLAN tag of a guest NIC
//     or a node VLAN interface becomes a VLAN (vid, "VLAN <vid>") of that
//     site. NetBox refuses an untagged or tagged VLAN of another site than
//     the interface's VM or device (VMInterface.clean, Interface.clean and the
//     interface serializers; a global VLAN, site null, is always allowed), so
//     a VM without a site could never carry a VLAN. The cluster stays
//     unscoped (a scope would move every VM of it to one site and refuse VMs
//     of other sites), and no VLAN group is created (a VLAN group scoped to
//     the cluster gives VLANs without a site, which NetBox accepts too, but
//     the site's VLANs are what node interfaces already use).
//   - Shared dependency objects (cluster types, sites, manufacturer, device
//     type, roles, platforms, VLANs, tags) are ensured, never rewritten.
//   - Orphans (PROXBOX_ORPHANS): keep | mark (default: status offline, tag
//     proxbox-orphan, custom field proxmox_orphaned_at) | delete (mark, then
//     delete once PROXBOX_ORPHAN_GRACE, default 168h, has passed). Only VMs and
//     devices of this endpoint's cluster that carry the proxbox tag; skipped
//     when the snapshot is incomplete. Children (disks, interfaces, MACs, IPs)
//     of a synced guest that no longer exist in Proxmox are deleted unless the
//     mode is keep.
//   - The change list (Summary.Plan): a run of more than 1,024 changes keeps
//     them as their JSON, deflated in chunks (about 30 bytes a change instead
//     of several hundred as structs: a first run of 100,000 guests makes
//     800,000), and as structs only the first 100 failed and 100 other changes
//     of each model. Plan.Len, Plan.All and the plan's JSON (MarshalJSON,
//     WriteChangesJSON, Summary.WriteJSON) give every change in order, the same
//     bytes as when Plan.Changes held them all; code that needs every change
//     uses them, not Plan.Changes.
//
// # Refused writes
//
// A write NetBox refuses deterministically (HTTP 400: a validation error such
// as "Duplicate IP address found in global table", which the adapter marks as
// RefusedError) is remembered in Options.Refusals, keyed by endpoint label,
// model and object key, with a hash of the body sent. The body carries the
// resolved IDs of what the object depends on, so the same body means nothing
// about it changed. The run that meets the refusal reports it as an error with
// NetBox's reason (the run is not ok). Later runs do not send that body again:
// they record the object as skipped with a warning "known conflict, unchanged
// since …" and NetBox's reason, and a known conflict is NOT an error (exit
// code 0, ok:true): it was reported once and re-reporting it as a failure
// would keep every run of a site with a reused address red for nothing the
// sync can change, while the warning keeps it visible in every summary. The
// body is sent again when it changes, when the refusal is older than
// RefusalRecheck (24 h: what blocked it, such as another holder of the
// address, may be gone), and a refusal no write of its endpoint met in a
// finished run is forgotten. Transient failures (5xx, timeouts) are never
// remembered. Package syncrun keeps Refusals in the store (setting
// sync.refused_writes) across runs and restarts; `proxbox sync --once` with
// inline endpoints keeps them, per NetBox URL, in its --state file (default
// <data dir>/sync-inline-state.json); dry runs ignore them.
//
// A refused duplicate IP address ("Duplicate IP address found in global
// table" or "... in VRF <name>") is reported as a conflict that names the
// object holding the address: "conflict: 10.0.0.5/24 is held by VM web01
// (cluster pve-a) interface eth0 (<NetBox's text>)". The holder is looked up
// right after the refusal, with one list of the refused addresses per table
// (ipam/ip-addresses/?address=…&vrf_id=null or the VRF's id) and one list of
// their VMs for the cluster name, so a run that meets no refusal makes no
// such request. The remembered refusal keeps that text as its reason, so
// the warnings of later runs name the holder too.
//
// # IP addresses and VRFs
//
// MapOptions.IPVRF (PROXBOX_IP_VRF) says where an endpoint's IP addresses,
// its guests' and its nodes', live:
//
//   - none (default): NetBox's global table, as before. NetBox refuses a
//     second copy of an address there (ENFORCE_GLOBAL_UNIQUE, true by default
//     since NetBox 4.0; IPAddress.clean in ipam/models/ip.py, 4.5.10); see
//     "Refused writes".
//   - endpoint or cluster: one VRF per endpoint, created and owned by the
//     engine, so ranges that endpoints reuse (10.0.0.0/8 on every site)
//     coexist. The VRF is marked as ours like a cluster: tag proxbox and
//     custom field proxmox_endpoint = the endpoint's label (the custom
//     field's object types gain ipam.vrf), and that label is its identity.
//     Its name is the label (endpoint) or the endpoint's NetBox cluster name
//     (cluster); an endpoint syncs exactly one cluster, so both modes give
//     one VRF per endpoint and differ in the name only. No route
//     distinguisher (rd is unique in NetBox and means routing, which
//     proxbox does not know). enforce_unique is true on creation (one
//     cluster does not repeat an address; a second copy is refused as
//     "Duplicate IP address found in VRF <name>", remembered and reported
//     with its holder like any refusal); it and the description are
//     written on creation only, so an operator who turns enforce_unique off
//     keeps that choice.
//
// The IP's vrf field is soft: proxbox sets it when the address is in the
// global table or in one of proxbox's VRFs (tagged proxbox, any endpoint),
// and leaves an address a user moved into a VRF of theirs where it is, with a
// warning. Changing the mode between runs therefore converges in one run:
// none -> endpoint/cluster creates the VRFs and moves every address into its
// endpoint's VRF (a PATCH of vrf per address); endpoint <-> cluster renames
// each VRF (one write per endpoint, no address moves); endpoint/cluster ->
// none moves the addresses back to the global table, where copies that
// collide are refused and remembered. The run after writes nothing. The
// engine never deletes a VRF: one that no endpoint of the run uses (every
// proxbox VRF when the mode is none, else those of endpoints neither in the
// run nor reserved, e.g. after an endpoint was deleted) gets a warning in
// every run naming it, since it may hold addresses that are not ours;
// deleting it is the operator's call. An endpoint that adopts its cluster
// under a new label (see "Endpoint identity") takes the old label's VRF along
// (one write of proxmox_endpoint, then its rename in endpoint mode), so no
// address moves. VRFs, like clusters, are only
// ever written under the endpoint's own label: another endpoint's VRF, or a
// VRF without the proxbox tag, is never written (an endpoint refused by the
// identity rules below writes nothing at all, VRF and addresses included).
// A primary IP is unaffected: it points at the address object, wherever it
// lives.
//
// # Endpoint identity
//
// Every endpoint of a run has a label (EndpointLabel), written on its NetBox
// cluster as proxmox_endpoint and prefixed to the key of all its objects:
//
//   - "nb:<pk>" for an endpoint the plugin pushed as "<name> (nb:<pk>)";
//   - a stored endpoint's key, given by the store at creation and kept across
//     renames (the trimmed name then, else the host, "#<n>" appended when
//     taken; stores from before keys existed got the label they had);
//   - an inline endpoint's --pve-name, else host:port of its URL
//     (InlineEndpoint), so endpoints behind one address never share one.
//
// The engine records on the cluster what Proxmox answers as, its identity:
// custom field proxmox_cluster = "cluster:<PVE cluster name>" or
// "node:<node name>" for a standalone node (ProxmoxIdentity). Clusters from
// before that field are given the identity their name and type tell
// ("<node> (<label>)" is a standalone node's, any other name a PVE
// cluster's).
//
// Run reads every endpoint first, then decides, before writing anything, who
// owns which cluster (fail closed: a refused endpoint gets one error and
// nothing of it is written; the others sync):
//
//  1. Two endpoints of the run with one label: both refused (not even read).
//  2. An endpoint that has a cluster under its label keeps it, unless the
//     identity recorded there differs from the one Proxmox now answers with
//     (another Proxmox behind the same address): refused. Setting
//     proxmox_cluster on that cluster to the new identity accepts it.
//  3. An endpoint without one adopts the cluster of ours whose identity is
//     its own and whose label belongs to no endpoint of the run (nor to
//     Options.ReservedLabels, the stored endpoints a partial run leaves
//     out): preferably the one under an old label of this endpoint (its
//     name, or its bare host, the label of inline endpoints before), else
//     the only one. The adoption re-labels the cluster (one write), so its
//     guests and children are found under the new label and nothing is
//     duplicated. Several candidates: refused rather than guessed; one
//     cluster wanted by two endpoints: both refused. No candidate: a new
//     cluster.
//  4. An endpoint that answers as the same Proxmox as an earlier one of the
//     run (same identity, same node names at the same addresses, at least
//     one address known) syncs with a warning naming the other: if both
//     reach one cluster, its guests land twice (once per endpoint's cluster)
//     and their IP addresses clash. Not refused: two sites may reuse a
//     cluster name, node names and private addresses.
//
// VMs only ever move with their own endpoint's cluster: an endpoint lists and
// writes the VMs of its cluster alone, so two endpoints that disagree never
// take guests from each other.
//
// # Sync engine II: the netbox-proxbox plugin's models
//
// Stages storage, task-history, vm-backups, vm-snapshots, replications and
// backup-routines write the plugin's models under /api/plugins/proxbox/
// (shared/spec/plugin-client-contract.md §4.1; the Python mapping is
// proxbox-sync-engine.md §4.2, 4.4, 4.6, 4.7, 4.11, 4.12). They follow the same
// rules as the core stages: one bulk list per model and Run, per-field diff,
// bulk writes, no write in the steady state.
//
//   - Plugin detection: each Run first lists plugins/proxbox/settings/ (a
//     paginated list: results[0]). A 404 (ErrNotFound) means the plugin is not
//     installed: every plugin stage ends with a warning event whose message is
//     SkippedNoPlugin, the run stays OK and the core inventory syncs. The
//     settings' use_guest_agent_interface_name,
//     ignore_ipv6_link_local_addresses and primary_ip_preference override
//     Options.Map (the plugin owns them; Options.IgnorePluginSettings keeps
//     ours). bulk_batch_size/bulk_batch_delay_ms are not used: the NetBox
//     client's batch size governs core writes, BackupBatchSize/Delay backups.
//   - Identity, never by display name: storage by (our cluster, storage id);
//     a backup by (its VM, volume id), so a shared storage that lists a volume
//     on every node gives one backup; a snapshot by (its VM, name), so a
//     migration patches node instead of creating; task history by (its VM,
//     UPID); replications and backup routines by (this endpoint, job id),
//     where a row is this endpoint's when its endpoint is the plugin's
//     ProxmoxEndpoint row of ours (PluginEndpointID: the "(nb:<pk>)" suffix the
//     plugin pushes, else the one row with our host and port) or, for
//     replications without an endpoint, when its VM is ours. Backup routines
//     need that row (the model requires it): without one the stage is skipped
//     with a warning. Current rows are listed unscoped once per Run and keyed
//     through their VM, cluster or endpoint, so other endpoints' rows never
//     match; task history is listed from the oldest task read on.
//   - Values: times are UTC RFC 3339 and compared as instants; raw_config and
//     selection are compared as JSON documents; strings compared trimmed (DRF
//     trims them). Backup formats follow the Python mapping (vma.zst -> tzst;
//     lzo and gzip VMA have no plugin choice: undefined). Task history only
//     updates end_time, status, task_state, exitstatus and tags after creation.
//   - Disappearance, only when the Proxmox part was read completely
//     (inventory.Snapshot.Read): a backup or snapshot gone from Proxmox is
//     deleted with DeleteNonexistentBackup/DeleteNonexistentSnapshot (the
//     plugin's delete_nonexistent_* flags), otherwise a snapshot gets status
//     stale and a backup, whose model has no status, the tag proxbox-orphan;
//     replications and backup routines get status stale. Storage and task
//     history are never removed. A part that was not read at all (the read
//     options did not ask for it) skips its stage with a warning: callers of a
//     full sync read with proxmox.FullReadOptions, minus the plugin-only parts
//     (syncrun.WithoutPluginReads) when PluginAbsent(ctx) says, inside
//     Target.Read, that this run found no plugin (1,000 generated guests:
//     1,636 instead of 2,684 Proxmox requests).
//   - The plugin's ProxmoxCluster and ProxmoxNode rows (proxmox-clusters/,
//     proxmox-nodes/) are written by the devices stage with their links:
//     netbox_cluster (our cluster), and per node proxmox_cluster and
//     netbox_device. The newer plugin finds a VM's endpoint through
//     netbox_cluster ("Sync selected"). Identity (plugin endpoint row, name),
//     the cluster named as /proxmox/cluster/status names it; only the links
//     are diffed, the other fields are written on create and otherwise left to
//     the plugin's preflight (plugin_cluster.go). Replications and backup
//     routines reference node rows by key, resolved when written.
//   - Backup batching: PROXBOX_BACKUP_BATCH_SIZE (Options.BackupBatchSize,
//     default 5) and PROXBOX_BACKUP_BATCH_DELAY_MS (BackupBatchDelay, default
//     200 ms) keep the Python service's purpose, protecting NetBox's
//     PostgreSQL pool: with bulk writes the batch is the number of backups per
//     bulk create/update/delete request (one transaction each), and the delay
//     is the pause between the end of one backup write request and the start
//     of the next. Backup requests are sent one at a time, so at most one
//     backup transaction is open. 10,000 new backups at the defaults are 2,000
//     requests and at least 400 s of pauses; a NetBox that can take it runs
//     faster with e.g. 200 and 0 (the steady state writes nothing either way).
package sync
