package server

import (
	"fmt"
	"net/http"
	"strings"
	gosync "sync"

	"github.com/labstack/echo/v4"

	pbsync "github.com/proxbox/proxbox/sync"
)

// individualKind maps a /sync/individual/<kind> route to the engine stage
// that syncs that kind, the NetBox model it lands in, and how to recognise
// the asked-for object among the stage's changes.
type individualKind struct {
	stage string
	model string
	// match reports whether a change is the object the query names.
	match func(q func(string) string, ch *pbsync.Change) bool
}

func keyHasSuffix(suffix string) func(*pbsync.Change) bool {
	return func(ch *pbsync.Change) bool { return suffix != "" && strings.HasSuffix(ch.Key, suffix) }
}

func mentions(values ...string) func(*pbsync.Change) bool {
	return func(ch *pbsync.Change) bool {
		for _, v := range values {
			if v != "" && (strings.Contains(ch.Key, v) || strings.Contains(ch.Label, v)) {
				return true
			}
		}
		return false
	}
}

// guestType reads "type", or the plugin's batch alias "vm_type".
func guestType(q func(string) string) string {
	if t := q("type"); t != "" {
		return t
	}
	if t := q("vm_type"); t != "" {
		return t
	}
	return "qemu"
}

// dependencyTypes names, in the plugin's object_type words, the models a
// run may create on the way to the object asked for.
var dependencyTypes = map[string]string{
	"virtualization/clusters":         "cluster",
	"dcim/devices":                    "node",
	"virtualization/virtual-machines": "vm",
	"virtualization/interfaces":       "interface",
	"ipam/ip-addresses":               "ip",
	"virtualization/virtual-disks":    "disk",
	"plugins/proxbox/storage":         "storage",
}

var individualKinds = map[string]individualKind{
	"vm": {"virtual-machines", "virtualization/virtual-machines", func(q func(string) string, ch *pbsync.Change) bool {
		return keyHasSuffix("/" + guestType(q) + "/" + q("vmid"))(ch)
	}},
	"cluster": {"devices", "virtualization/clusters", func(q func(string) string, ch *pbsync.Change) bool {
		return mentions(q("cluster_name"))(ch)
	}},
	"node": {"devices", "dcim/devices", func(q func(string) string, ch *pbsync.Change) bool {
		n := q("node_name")
		if n == "" {
			n = q("node")
		}
		return keyHasSuffix("/" + n)(ch)
	}},
	"disk": {"vm-disks", "virtualization/virtual-disks", func(q func(string) string, ch *pbsync.Change) bool {
		return mentions(q("disk_name"))(ch) && mentions(q("vmid"))(ch)
	}},
	"interface": {"vm-interfaces", "virtualization/interfaces", func(q func(string) string, ch *pbsync.Change) bool {
		return mentions(q("interface_name"))(ch)
	}},
	"ip": {"ip-addresses", "ipam/ip-addresses", func(q func(string) string, ch *pbsync.Change) bool {
		return mentions(q("ip_address"))(ch)
	}},
	"storage": {"storage", "plugins/proxbox/storage", func(q func(string) string, ch *pbsync.Change) bool {
		s := q("storage_name")
		if s == "" {
			s = q("storage")
		}
		return mentions(s)(ch)
	}},
	"backup": {"vm-backups", "plugins/proxbox/backups", func(q func(string) string, ch *pbsync.Change) bool {
		return mentions(q("volid"))(ch)
	}},
	"snapshot": {"vm-snapshots", "plugins/proxbox/snapshots", func(q func(string) string, ch *pbsync.Change) bool {
		return mentions(q("snapshot_name"))(ch) && mentions(q("vmid"))(ch)
	}},
	"task-history": {"task-history", "plugins/proxbox/task-history", func(q func(string) string, ch *pbsync.Change) bool {
		if upid := q("upid"); upid != "" {
			return mentions(upid)(ch)
		}
		return mentions(q("vmid"))(ch)
	}},
	"replication": {"replications", "plugins/proxbox/replications", func(q func(string) string, ch *pbsync.Change) bool {
		return mentions(q("replication_id"))(ch)
	}},
}

func (s *Server) individualRoutes() {
	if s.opt.Sync == nil {
		return
	}
	s.e.GET("/sync/individual/:kind", s.individualSync)
	s.e.POST("/sync/individual/:kind", s.individualSync)
}

// individualSync runs the stage that owns one object kind for the
// endpoints concerned and reports what happened to the named object
// (created, updated, deleted, unchanged), in the plugin's response shape.
func (s *Server) individualSync(c echo.Context) error {
	kind := c.Param("kind")
	k, ok := individualKinds[kind]
	if !ok {
		return fail(http.StatusNotFound, fmt.Sprintf("Unknown individual sync kind %q.", kind))
	}
	stage, err := pbsync.ParseStage(k.stage)
	if err != nil {
		return fail(http.StatusNotImplemented, fmt.Sprintf("%s objects are not synced by this proxbox build.", kind))
	}
	LiftWriteDeadline(c.Response().Writer) // answered when the sync ends
	ctx := c.Request().Context()
	if err := s.syncPreflight(ctx); err != nil {
		return err
	}
	q := c.QueryParam
	resource := map[string]string{}
	for name, vals := range c.QueryParams() {
		if len(vals) > 0 {
			resource[name] = vals[0]
		}
	}
	// Only the newer plugin scopes individual syncs, with proxbox's ids.
	ids, err := s.endpointIDs(ctx, q("proxmox_endpoint_ids"), false)
	if err != nil {
		return err
	}
	if cn := q("cluster_name"); cn != "" && len(ids) == 0 && s.opt.Proxmox != nil {
		eps, err := s.store.ProxmoxEndpoints(ctx)
		if err != nil {
			return err
		}
		for _, ss := range s.resolveSessions(ctx, eps) {
			if ss.name == cn {
				ids = append(ids, ss.ep.ID)
			}
		}
		if len(ids) == 0 {
			return fail(http.StatusNotFound, fmt.Sprintf("No Proxmox endpoint serves cluster %q.", cn))
		}
	}
	dry := false
	if v := q("dry_run"); v != "" {
		dry, _ = parseBoolLoose(v)
	}
	var found *pbsync.Change
	var deps []dependencyJSON
	var mu gosync.Mutex
	events := func(e pbsync.Event) {
		if e.Type != pbsync.EventItem || e.Change == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		ch := *e.Change
		if ch.Model == k.model && found == nil && k.match(q, &ch) {
			found = &ch
			return
		}
		// Objects the run created or updated on the way (a cluster, a node, a
		// tag...) are reported as dependencies, as the plugin expects.
		// Other objects of the asked-for kind are not dependencies: listing them
		// would make the plugin recurse into every one.
		if dep, ok := dependencyTypes[ch.Model]; ok && ch.Model != k.model && ch.Error == "" && (ch.Op == pbsync.OpCreate || ch.Op == pbsync.OpUpdate) {
			action := map[pbsync.Op]string{pbsync.OpCreate: "created", pbsync.OpUpdate: "updated"}[ch.Op]
			deps = append(deps, dependencyJSON{ObjectType: dep, Action: action, Name: ch.Label, NetBoxID: ptrIfNonZero(ch.ID)})
		}
	}
	sum, err := s.opt.Sync.Sync(ctx, StageRequest{EndpointIDs: ids, Stages: []pbsync.Stage{stage}, Params: stageParams(c), Trigger: "plugin", DryRun: dry}, events)
	mu.Lock()
	defer mu.Unlock()
	out := individualJSON{ObjectType: kind, ProxmoxResource: resource, DryRun: dry, DependenciesSynced: nonNil(deps)}
	failed := func(msg string) { out.Action, out.Error = "failed", &msg }
	switch {
	case err != nil:
		failed(err.Error())
		return c.JSON(http.StatusBadGateway, out)
	case found != nil && found.Error != "":
		failed(found.Error)
	case found != nil:
		out.Action = map[pbsync.Op]string{pbsync.OpCreate: "created", pbsync.OpUpdate: "updated", pbsync.OpDelete: "deleted", pbsync.OpOrphan: "updated", pbsync.OpSkip: "skipped"}[found.Op]
		if found.ID > 0 {
			out.NetBoxObject = &netboxObjectJSON{ID: found.ID, Display: found.Label, Model: found.Model}
		}
	default:
		out.Action = "unchanged"
		if !sum.OK && !sum.Partial {
			failed(strings.Join(sum.Errors, "; "))
		}
	}
	return c.JSON(http.StatusOK, out)
}
