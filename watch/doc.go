// Package watch keeps NetBox in step with Proxmox between full syncs: it
// polls every endpoint cheaply (GET /cluster/resources and GET
// /cluster/tasks, nothing else; an idle poll makes no NetBox request),
// derives from the difference to the previous poll which guests, nodes and
// storages changed (Diff), re-reads only their details
// (proxmox.Client.Refresh) and hands the resulting snapshot to an Apply
// function that runs the sync engine with a warm sync.State, so a change
// costs requests in proportion to itself. All changes seen in one poll of
// an endpoint are applied in one run.
//
// It owns watch/ only: polling, the change derivation, back-off and the
// per-endpoint status (Status) that the API, the dashboard and the metrics
// show. It must not write NetBox itself, know HTTP routes or the store:
// callers wire Apply (syncrun for `serve` and stored endpoints, the engine
// directly for inline `proxbox sync --watch`).
//
// Decisions:
//   - The first cycle of an endpoint reads it fully and applies a full sync
//     (this warms the State); after that only changes are applied. Every
//     Resync (default 1 h) the endpoint is read fully again, to catch what
//     a poll cannot see (a config edited without a task, a NetBox edit).
//   - A task is new when its UPID was not in the previous poll's list, or
//     its status changed (a task that was running has ended).
//   - A failing endpoint is backed off (interval doubled per failure, at
//     most 5 min) and reported in Status; the other endpoints go on.
//   - The change-to-NetBox delay of a change set is measured from the
//     poll that saw it (a task's end time when that is earlier) to the end
//     of the run that applied it.
package watch
