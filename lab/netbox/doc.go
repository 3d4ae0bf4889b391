// Package netbox is the NetBox 4.6 simulator: an in-memory, concurrency-safe implementation of
// the REST API surface the proxbox sync engine uses, strict enough that a test passing against
// it means the same request would pass against a real NetBox. `proxbox lab` serves it,
// `proxbox demo` embeds it, and every integration test of the sync engine runs against it.
//
// It owns lab/netbox/ only. It must not import go-netbox outside its _test files, must not
// touch the Proxmox simulator (lab/pve) or the CLI (cmd/proxbox), and holds no secrets beyond
// the tokens it is given.
//
// # Exported API
//
//	srv := netbox.New(netbox.Options{
//		Tokens:        []netbox.Token{{Value: "0123...40 hex"}, {Value: "nbt_abcdefghijkl.<40 chars>"}},
//		DisablePlugin: false,          // true: /api/plugins/proxbox/ -> 404, no plugin in /api/status/
//		Faults:        netbox.Faults{Latency: 2 * time.Millisecond, WriteCost: time.Millisecond},
//		Seed:          1,              // deterministic fault sequence
//	})
//	http.Handle("/", srv)              // or srv.Serve(ctx, listener, useTLS)
//	srv.SetFaults(f); srv.Faults()     // change latency/faults at run time (also PUT /_lab/faults)
//
//	srv.Create(ctx, "virtualization.virtualmachine", map[string]any{...}) // seed via POST rules
//	srv.Update(ctx, model, id, patch); srv.Delete(ctx, model, id)
//	srv.Get(model, id); srv.List(model, url.Values{...}); srv.Count(model)
//	srv.Changes(model, id)             // change-log rows of one object (churn)
//	srv.Stats(); srv.ResetStats()      // also GET /_lab/stats, POST /_lab/stats/reset
//	netbox.WarmSchema()                // load the OpenAPI document now (else on first write)
//	netbox.SelfSignedCert(hosts...)    // the certificate Serve uses for HTTPS
//
// Models are named by NetBox label ("virtualization.virtualmachine") or API path
// ("virtualization/virtual-machines").
//
// # Behaviour
//
// A write sleeps its latency and write cost (per object of the request) before it commits, and
// finishes even when its client has gone (only the reply is lost), as NetBox does; a read stops
// when its client goes.
//
// Authentication follows netbox/netbox/api/authentication.py (4.6): "Token <v1>" or
// "Bearer nbt_<key>.<secret>", 403 with NetBox's detail texts ("Authentication credentials
// were not provided.", "Invalid v1 token", "Invalid v2 token", ...); read-only tokens get 403
// on writes.
//
// Request bodies of core models are validated with kin-openapi's openapi3filter against
// NetBox 4.3's OpenAPI document (embedded from go-netbox v4.3.0, see openapi/NOTICE.md; loaded
// once, lazily), then by hand-coded rules the schema does not carry: required fields,
// choices, related-object lookup by id or attribute dict, uniqueness (VM name per cluster
// case-insensitive, device name per site, interface/disk name per parent, names and slugs,
// the plugin's keys; NetBox 4.5.10's texts, TestUniqueRefusals),
// custom fields (must exist for the object type; PATCH merges), VM disk equal to the sum of its
// virtual disks, primary IPs on the object's own interfaces. Errors are DRF-shaped 400 bodies
// with NetBox's wording; bulk errors are a list aligned with the input. Every request is one
// transaction: a bulk request with one bad item writes nothing.
//
// A bulk create validates every item against the database as it was before the request, then
// saves them in order, as NetBox does. Items that collide only with each other therefore pass
// validation; then a database constraint (names per parent, slugs, rd, ...) breaks at save
// time: 500 IntegrityError with PostgreSQL's text, nothing written; a rule only the model's
// clean() checks (unique IP space in the global table or a VRF with enforce_unique) lets both
// be created (201); a plugin serializer that upserts (storage, task history) updates the
// sibling and NetBox's post-save check answers 403. A validation error anywhere answers 400
// with {} for the colliding items. TestBulkCreateSiblings holds the real kit's answers and
// runs against it under make test-real.
//
// Lookups a write makes per object (uniqueness rules, global IP uniqueness, a VM's disks,
// dependents on delete, reverse counts) go through hash indexes kept by every row change,
// rollbacks included (index.go), so a write costs the same in a table of 100 or 100,000 rows;
// BenchmarkIndexedWrites shows it.
//
// Deviations kept on purpose: rows are ordered by id (NetBox orders by the model's ordering,
// then id); IP addresses are globally unique outside VRFs as NetBox 4.x defaults
// (ENFORCE_GLOBAL_UNIQUE), unless Options.AllowDuplicateIPs, and unique inside a VRF whose
// enforce_unique is set (ipam/vrfs is served: name, rd unique, enforce_unique), with NetBox
// 4.5.10's texts naming the address already there; prefixes likewise; only the interface types a Proxmox sync
// produces are accepted.
package netbox
