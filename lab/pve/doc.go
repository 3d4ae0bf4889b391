// Package pve is a Proxmox VE 8/9 API simulator: product code that `proxbox lab` serves,
// `proxbox demo` embeds and every integration test of the sync engine runs against. It owns
// lab/pve only; it must not import the sync engine, the proxmox adapter or go-netbox, and it
// never talks to a real Proxmox host.
//
// A Server is one PVE API (a cluster, or a standalone node) and an http.Handler:
//
//   - /api2/json/... answers in PVE's envelope {"data": ...}. Errors are shaped as pveproxy
//     sends them: the message is the HTTP reason phrase ("500 VM 105 is not running") and the
//     body is {"data":null}; parameter errors are 400 with {"data":null,"errors":{"param":"msg"}};
//     unknown paths are 501 "Method 'GET /foo' not implemented".
//   - Auth: `Authorization: PVEAPIToken=USER@REALM!NAME=SECRET`, or a ticket from
//     POST /access/ticket (form or JSON username/password) sent as cookie PVEAuthCookie, with
//     header CSRFPreventionToken on writes. Anything else is 401.
//   - Fixture mode (Options.FixturesFile): a JSON object mapping paths (with /api2/json,
//     optionally with a query) to an envelope (served 200) or {"_status":N,"_body":...}. Lookup
//     is exact path+query, then bare path with PVE's filters (/cluster/resources type=,
//     storage content content= and vmid=, node tasks with its default limit of 50 and "total").
//     Missing lists are derived from /cluster/resources (/nodes, /nodes/{n}/qemu|lxc,
//     .../status/current, node status, snapshot lists with `current`, task status from the task
//     list). Guest-agent calls follow PVE: "No QEMU guest agent configured", "VM N is not
//     running", "QEMU guest agent is not running" (all 500). The file is re-read when its
//     mtime or size changes.
//   - Generated mode: Generate(scale, seed) returns a Lab of several Clusters (PVE 8 and 9
//     clusters plus a standalone node named "pve"); serve each with its own Server
//     (NewLab does this). Same arguments, same bytes (Cluster.Fixture). Addresses never
//     repeat inside a cluster; each cluster has its own range (10.<10+i>.0.0/16) unless
//     GenerateWith's GenOptions.SharedRange (Options.SharedRange, `proxbox lab
//     --shared-range`) gives every cluster the same one.
//   - Runtime changes for tests: RenameGuest, MigrateGuest, StartGuest, StopGuest,
//     RemoveGuest, SetGuestMemory, AddBackup, AddSnapshot, CreateGuest; safe while serving.
//     Each logs the task PVE would (qmset/vzset, qmigrate, qmdestroy, vzdump, qmsnapshot,
//     qmcreate, ...; UPID, type, id, status OK, starttime/endtime) at the head of the
//     node's task list and of /cluster/tasks (derived: the newest 50 tasks of each node,
//     newest first, like PVE's cluster-wide task list).
//   - POST /_lab/mutate (outside /api2, authenticated like the API) applies one Mutation
//     given as JSON: {"vmid":101,"memory":4096}, {"vmid":101,"name":"new"},
//     {"vmid":101,"node":"pve02"} (migrate), {"vmid":101,"destroy":true},
//     {"create":{"vmid":150,"type":"qemu","node":"pve01"}}, {"vmid":101,"backup":true}
//     (optionally "storage"), {"vmid":101,"snapshot":"before-upgrade"}, {"vmid":101,"start":true}
//     or "stop"; it answers {"data":"<UPID>"} or 400 with the reason.
//   - Faults (Options.Faults, SetFaults): latency, jitter, 500/502/503/429 replies, connection
//     resets and slow bodies, deterministic for a seed.
//   - GET /_lab/stats (outside /api2) returns Stats (requests by "METHOD pattern");
//     POST /_lab/stats/reset or DELETE /_lab/stats resets; Server.Stats/ResetStats do the same.
//   - Per-guest requests find their guest by vmid and check nodes through an index derived
//     from the stored routes (dropped by every mutation), not a scan of /cluster/resources:
//     BenchmarkGuestRequest shows the cost does not grow with the number of guests.
//   - ServeTLS serves HTTPS with a self-signed certificate like a fresh node.
//
// Options fields: FixturesFile, Cluster, Scale, Seed, Token (default DefaultToken), Username
// and Password (defaults DefaultUser/DefaultPassword), Faults, Logger.
package pve
