// Package proxmox is the Proxmox VE adapter: it reads one PVE endpoint (a cluster or a
// standalone node) into the plain types of package inventory, for the sync engine and the
// HTTP API's Proxmox read routes.
//
// It is the only package that imports go-proxmox (github.com/luthermonson/go-proxmox). It
// uses that library for authentication (API token, or a ticket session created once before
// any parallel work, see ../shared/spec/go-libraries.md §2.3 item 2), TLS options and retries
// of 429/502/503/504 and connection errors, and it decodes every reply itself into tolerant
// structs (numbers as strings, "1"/1/true booleans, nulls), because the library's typed
// decoders panic or fail on such replies (§2.3 items 1 and 3). Every library call runs under
// recover; HTTP errors are mapped from PVE's status line (APIError).
//
// Requests per run (../shared/spec/proxbox-sync-engine.md §8.3 is the Python baseline):
// /version, /cluster/status and /cluster/resources once; /storage once; /nodes/{n}/network
// once per online node; per guest only its config, plus the guest agent's
// network-get-interfaces (running QEMU with the agent on) or the LXC /interfaces (running
// containers). Never the double-GET helpers of go-proxmox.
//
// The reads for the plugin's models are opt-in (ReadOptions Backups, Snapshots, Replications,
// BackupJobs, Tasks; FullReadOptions turns them all on) so the core budget above holds when
// they are off: /cluster/replication and /cluster/backup once; per online node
// /nodes/{n}/storage?content=backup, the content=backup list of each backup storage it names
// (shared storage is listed on every node and deduplicated by volid) and /nodes/{n}/tasks in
// pages of 500 bounded by days; per guest its snapshot list (one request). Snapshot.Read says
// which of these parts are complete. Volume ids, formats, retention strings and task types
// have pure parsers (ParseBackupVolID, BackupFormat, BackupSubtype, ParsePruneBackups,
// TaskGuestType, BackupJobFromConfig, ReplicationFromConfig, ParseSnapshots).
//
// A sync holds every endpoint's snapshot for most of its run, so a snapshot is kept lean: a
// guest's raw config is parsed into its fields and dropped unless ReadOptions.GuestConfig
// keeps it, values that repeat from guest to guest are held once per read and values cut out
// of a reply's strings are copied (intern.go), and slices carry no spare room.
//
// The pure parsers (property strings, disks, sizes, tags, MACs, agent replies) are exported
// so the sync engine and tests can use them on their own.
//
// This package must not import go-netbox, the sync engine or the server, and it never writes
// to Proxmox.
package proxmox
