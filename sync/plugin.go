package sync

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/proxbox/proxbox/inventory"
)

// netbox-proxbox plugin models (shared/spec/plugin-client-contract.md §4),
// API paths below /api/.
const (
	ModelStorage        = "plugins/proxbox/storage"
	ModelBackup         = "plugins/proxbox/backups"
	ModelSnapshot       = "plugins/proxbox/snapshots"
	ModelTaskHistory    = "plugins/proxbox/task-history"
	ModelReplication    = "plugins/proxbox/replications"
	ModelBackupRoutine  = "plugins/proxbox/backup-routines"
	ModelPluginEndpoint = "plugins/proxbox/endpoints/proxmox"
	ModelPluginNode     = "plugins/proxbox/proxmox-nodes"
	ModelPluginSettings = "plugins/proxbox/settings"
)

// ErrNotFound marks a NetBox reply 404 (sync/nbadapter wraps it); a 404 on the
// plugin's settings means the plugin is not installed.
var ErrNotFound = errors.New("netbox: not found")

// SkippedNoPlugin is the message of the warning a plugin stage ends with when
// NetBox has no netbox-proxbox plugin.
const SkippedNoPlugin = "skipped: netbox-proxbox plugin not installed"

func init() {
	for m, n := range map[string]string{ModelStorage: "storage", ModelBackup: "backups", ModelSnapshot: "snapshots",
		ModelTaskHistory: "task_history", ModelReplication: "replications", ModelBackupRoutine: "backup_routines"} {
		typeNames[m] = n
	}
	stageSteps[StageStorage] = []stepDef{{ModelStorage, 0}}
	stageSteps[StageTaskHistory] = []stepDef{{ModelTaskHistory, 0}}
	stageSteps[StageBackups] = []stepDef{{ModelBackup, 0}}
	stageSteps[StageSnapshots] = []stepDef{{ModelSnapshot, 0}}
	stageSteps[StageReplications] = []stepDef{{ModelReplication, 0}}
	stageSteps[StageBackupRoutines] = []stepDef{{ModelBackupRoutine, 0}}
}

// pluginState is what a Run learns about the plugin once, before any endpoint.
type pluginState struct {
	checked   bool
	installed bool
	err       string         // settings could not be read (not a 404)
	settings  map[string]any // results[0] of settings/
	endpoints []map[string]any
}

func isNotFound(err error) bool {
	return errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), "HTTP 404")
}

// checkPlugin reads the plugin's settings (a paginated list: results[0]) and,
// when a plugin stage runs, its Proxmox endpoints.
func (e *Engine) checkPlugin(ctx context.Context, opt *Options, ps *pluginState) {
	ps.checked = true
	rows, err := e.NetBox.List(ctx, ModelPluginSettings, url.Values{})
	switch {
	case err != nil && isNotFound(err):
		return
	case err != nil:
		ps.err = "read plugin settings: " + err.Error()
		return
	}
	ps.installed = true
	if len(rows) > 0 {
		ps.settings = rows[0]
	}
	if !opt.IgnorePluginSettings && ps.settings != nil {
		ApplyPluginSettings(&opt.Map, ps.settings)
	}
	if slices.ContainsFunc(PluginStages, opt.runs) || opt.runs(StageDevices) { // devices: the cluster and node rows
		eps, err := e.NetBox.List(ctx, ModelPluginEndpoint, url.Values{})
		if err != nil {
			ps.err = "list plugin endpoints: " + err.Error()
			return
		}
		ps.endpoints = eps
	}
}

// ApplyPluginSettings applies the knobs the plugin owns (its settings
// singleton) to the mapping options: use_guest_agent_interface_name,
// ignore_ipv6_link_local_addresses and primary_ip_preference. Missing or
// malformed values keep ours.
func ApplyPluginSettings(m *MapOptions, s map[string]any) {
	if v, ok := s["use_guest_agent_interface_name"].(bool); ok {
		m.ConfigInterfaceNames = !v
	}
	if v, ok := s["ignore_ipv6_link_local_addresses"].(bool); ok {
		m.IncludeIPv6LinkLocal = !v
	}
	if v, ok := s["primary_ip_preference"].(string); ok {
		if p := Normalize("", v); p != nil {
			switch ps := strings.ToLower(p.(string)); ps {
			case "ipv4", "ipv6", "both", "none":
				m.PrimaryIP = ps
			}
		}
	}
}

var nbPK = regexp.MustCompile(`\(nb:(\d+)\)\s*$`)

// PluginEndpointID finds the plugin's ProxmoxEndpoint row of ep: the pk in a
// "<name> (nb:<pk>)" name (how the plugin pushes endpoints, contract §2.3),
// else the one row whose ip_address or domain (and port, when both say) is
// ep's host. 0 when none or several match.
func PluginEndpointID(ep inventory.Endpoint, rows []map[string]any) int64 {
	for _, n := range []string{ep.Name, EndpointLabel(ep)} {
		if m := nbPK.FindStringSubmatch(n); m != nil {
			pk, _ := strconv.ParseInt(m[1], 10, 64)
			for _, r := range rows {
				if id, ok := idOf(r["id"]); ok && id == pk {
					return pk
				}
			}
		}
	}
	host, port := splitHost(ep.Host)
	if host == "" {
		return 0
	}
	var found int64
	for _, r := range rows {
		ip, _ := r["ip_address"].(string)
		if m, ok := r["ip_address"].(map[string]any); ok { // a nested IP address object
			ip, _ = m["address"].(string)
		}
		ip, _, _ = strings.Cut(ip, "/")
		dom, _ := r["domain"].(string)
		if !strings.EqualFold(ip, host) && !strings.EqualFold(dom, host) {
			continue
		}
		if p, ok := idOf(r["port"]); ok && port != 0 && p != int64(port) {
			continue
		}
		if found != 0 {
			return 0
		}
		found, _ = idOf(r["id"])
	}
	return found
}

func splitHost(h string) (string, int) {
	h = strings.TrimSpace(h)
	if h == "" {
		return "", 0
	}
	if !strings.Contains(h, "://") {
		h = "https://" + h
	}
	u, err := url.Parse(h)
	if err != nil {
		return "", 0
	}
	p, _ := strconv.Atoi(u.Port())
	return u.Hostname(), p
}

// Keys of the plugin objects.
func storageKey(cluster, name string) string   { return cluster + "/storage/" + name }
func backupKey(vm, volid string) string        { return vm + "/backup/" + volid }
func snapshotKey(vm, name string) string       { return vm + "/snapshot/" + name }
func taskKey(vm, upid string) string           { return vm + "/task/" + upid }
func replicationKey(cluster, id string) string { return cluster + "/replication/" + id }
func routineKey(cluster, id string) string     { return cluster + "/backup-routine/" + id }

// pluginCtx is what the plugin mapping needs from NetBox: the plugin's
// endpoint row of this endpoint (0 when unknown). Its node rows are
// referenced by key (pluginNodeKey) and resolved when written.
type pluginCtx struct {
	endpoint int64
}

func utcTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func intPtr(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func boolPtr(p *bool) any {
	if p == nil {
		return nil
	}
	return *p
}

func rawConfig(m map[string]string, drop ...string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if !slices.Contains(drop, k) {
			out[k] = v
		}
	}
	return out
}

// guestTypes indexes the snapshot's guests by vmid (a vmid may be a VM and a container).
func guestTypes(s *inventory.Snapshot) map[int][]inventory.GuestType {
	m := map[int][]inventory.GuestType{}
	for _, g := range s.Guests {
		m[g.VMID] = append(m[g.VMID], g.Type)
	}
	return m
}

// mapPlugin adds the plugin's objects of a snapshot to d. It is pure.
func mapPlugin(d *Desired, s *inventory.Snapshot, pc pluginCtx) {
	label := d.Cluster
	types := guestTypes(s)
	guestType := func(vmid int, t inventory.GuestType) inventory.GuestType {
		if ts := types[vmid]; t == "" && len(ts) == 1 {
			return ts[0]
		}
		return t
	}
	vmFor := func(vmid int, t inventory.GuestType) (string, bool) {
		t = guestType(vmid, t)
		if t == "" || !slices.Contains(types[vmid], t) {
			return "", false
		}
		return vmKey(label, t, vmid), true
	}

	for _, st := range s.Storage {
		o := newObject(ModelStorage, storageKey(label, st.Name), "storage "+st.Name, StageStorage)
		c := st.Config
		o.Fields.Set("name", st.Name)
		o.ref("cluster", ModelCluster, label)
		o.Fields.Set("storage_type", st.Type)
		content := c["content"]
		if content == "" {
			content = strings.Join(st.Content, ",")
		}
		o.Fields.Set("content", content)
		for _, f := range []string{"path", "nodes", "server", "username", "export", "share", "pool", "monhost", "namespace",
			"datastore", "subdir", "mountpoint", "preallocation", "format"} {
			o.Fields.Set(f, c[f])
		}
		o.Fields.Set("prune_backups", c["prune-backups"])
		o.Fields.Set("shared", st.Shared)
		o.Fields.Set("enabled", st.Enabled)
		o.Fields.Set("port", optInt(c["port"]))
		o.Fields.Set("max_protected_backups", optInt(c["max-protected-backups"]))
		// The plugin stores PVE's value as text (yes, 1, or a path).
		o.Fields.Set("is_mountpoint", nilIfEmpty(truncate(strings.TrimSpace(c["is_mountpoint"]), 255)))
		o.Fields.Set("raw_config", rawConfig(c, "digest"))
		o.setTags(TagProxbox)
		d.Add(o)
	}

	for _, b := range s.Backups {
		vm, ok := vmFor(b.VMID, b.GuestType)
		if !ok {
			// A backup of a guest that is gone (PVE keeps them): no VM to link.
			vm = vmKey(label, b.GuestType, b.VMID)
			if b.GuestType == "" {
				vm = vmKey(label, "?", b.VMID)
			}
		}
		o := newObject(ModelBackup, backupKey(vm, b.VolID), "", StageBackups) // labelled by derivedLabel
		o.ref("virtual_machine", ModelVM, vm)
		o.ref("proxmox_storage", ModelStorage, storageKey(label, b.Storage))
		o.flag(flagOptional, "proxmox_storage")
		o.Fields.Set("storage", d.text(b.Storage))
		sub := string(guestType(b.VMID, b.GuestType))
		if sub == "" {
			sub = "undefined"
		}
		o.Fields.Set("subtype", d.text(sub))
		f := b.FormatChoice
		if f == "" {
			f = "undefined"
		}
		o.Fields.Set("format", d.text(f))
		o.Fields.Set("creation_time", utcTime(b.Created))
		o.Fields.Set("size", b.Size)
		o.Fields.Set("notes", nilIfEmpty(b.Notes))
		o.Fields.Set("volume_id", b.VolID)
		o.Fields.Set("vmid", b.VMID)
		o.Fields.Set("encrypted", b.Encrypted)
		o.Fields.Set("verification_state", nilIfEmpty(b.VerificationState))
		o.Fields.Set("verification_upid", nilIfEmpty(b.VerificationUPID))
		o.setTags(TagProxbox)
		d.Add(o)
	}

	for _, sn := range s.Snapshots {
		vm, ok := vmFor(sn.VMID, sn.Type)
		if !ok {
			continue
		}
		o := newObject(ModelSnapshot, snapshotKey(vm, sn.Name), "", StageSnapshots)
		o.ref("virtual_machine", ModelVM, vm)
		o.Fields.Set("name", sn.Name)
		o.Fields.Set("description", sn.Description)
		o.Fields.Set("vmid", sn.VMID)
		o.Fields.Set("node", d.text(sn.Node))
		o.Fields.Set("snaptime", utcTime(sn.Taken))
		o.Fields.Set("parent", nilIfEmpty(sn.Parent))
		o.Fields.Set("subtype", d.text(string(sn.Type)))
		o.Fields.Set("status", "active")
		o.setTags(TagProxbox)
		d.Add(o)
	}

	for _, t := range s.Tasks {
		vm, ok := vmFor(t.VMID, t.GuestType)
		if !ok {
			continue
		}
		gt := t.GuestType
		if gt == "" {
			gt = types[t.VMID][0]
		}
		o := newObject(ModelTaskHistory, taskKey(vm, t.UPID), "", StageTaskHistory)
		o.ref("virtual_machine", ModelVM, vm)
		o.Fields.Set("vm_type", d.text(string(gt)))
		o.Fields.Set("upid", t.UPID)
		o.Fields.Set("node", d.text(t.Node))
		o.Fields.Set("pid", t.PID)
		o.Fields.Set("pstart", t.PStart)
		o.Fields.Set("task_id", t.ID)
		o.Fields.Set("task_type", d.text(t.Type))
		user := t.User
		if user == "" {
			user = "root@pam"
		}
		o.Fields.Set("username", d.text(user))
		o.Fields.Set("start_time", utcTime(t.Started))
		o.Fields.Set("end_time", utcTime(t.Ended))
		o.Fields.Set("description", TaskDescription(gt, t.ID, t.Type))
		state, status := "stopped", t.Status
		if t.Running {
			state, status = "running", "running"
		}
		if status == "" {
			status = "unknown"
		}
		o.Fields.Set("status", d.text(status))
		o.Fields.Set("task_state", d.text(state))
		o.Fields.Set("exitstatus", nilIfEmpty(t.Status))
		o.setTags(TagProxbox)
		// The plugin's serializer lets only these change after creation (§4.4).
		o.flag(flagCreateOnly, "vm_type", "upid", "node", "pid", "pstart", "task_id", "task_type", "username", "start_time", "description")
		d.Add(o)
	}

	for _, j := range s.Replications {
		// The plugin requires the VM and jobnum (not null): a job of a guest we do
		// not sync, or without a job number, has no row.
		vm, ok := vmFor(j.Guest, "")
		if !ok || !j.HasJobNum {
			continue
		}
		o := newObject(ModelReplication, replicationKey(label, j.ID), "replication "+j.ID, StageReplications)
		o.Fields.Set("endpoint", nilID(pc.endpoint))
		o.Fields.Set("replication_id", j.ID)
		o.ref("virtual_machine", ModelVM, vm)
		pluginNodeRef(o, "proxmox_node", label, j.Target)
		o.Fields.Set("guest", j.Guest)
		o.Fields.Set("target", j.Target)
		o.Fields.Set("job_type", "local")
		o.Fields.Set("schedule", strings.TrimSpace(j.Schedule)) // CharField blank, not null
		o.Fields.Set("rate", nil)
		if j.HasRate {
			o.Fields.Set("rate", j.Rate)
		}
		o.Fields.Set("comment", nilIfEmpty(j.Comment))
		o.Fields.Set("disable", j.Disabled)
		o.Fields.Set("source", nilIfEmpty(j.Source))
		o.Fields.Set("jobnum", j.JobNum)
		switch j.RemoveJob {
		case "local", "full":
			o.Fields.Set("remove_job", j.RemoveJob)
		default:
			o.Fields.Set("remove_job", nil)
		}
		o.Fields.Set("status", "active")
		o.Fields.Set("raw_config", rawConfig(j.Config, "digest"))
		o.setTags(TagProxbox)
		d.Add(o)
	}

	if pc.endpoint == 0 {
		return // backup routines need the plugin's endpoint row
	}
	for _, j := range s.BackupJobs {
		o := newObject(ModelBackupRoutine, routineKey(label, j.ID), "backup routine "+j.ID, StageBackupRoutines)
		o.Fields.Set("endpoint", pc.endpoint)
		o.Fields.Set("job_id", j.ID)
		o.Fields.Set("enabled", j.Enabled)
		// schedule, comment, notes_template, fleecing and pbs_change_detection_mode
		// are the plugin's blank-but-not-null text fields: "" when PVE has none.
		o.Fields.Set("schedule", strings.TrimSpace(j.Schedule))
		o.Fields.Set("next_run", utcTime(j.NextRun))
		pluginNodeRef(o, "node", label, j.Node)
		if j.Storage != "" {
			o.ref("storage", ModelStorage, storageKey(label, j.Storage))
			o.flag(flagOptional, "storage")
		} else {
			o.Refs.Set("storage", Ref{})
		}
		sel := make([]any, len(j.Selection))
		for i, v := range j.Selection {
			sel[i] = v
		}
		o.Fields.Set("selection", sel)
		o.Fields.Set("comment", strings.TrimSpace(j.Comment))
		o.Fields.Set("status", "active")
		o.Fields.Set("keep_last", intPtr(j.KeepLast))
		o.Fields.Set("keep_daily", intPtr(j.KeepDaily))
		o.Fields.Set("keep_weekly", intPtr(j.KeepWeekly))
		o.Fields.Set("keep_monthly", intPtr(j.KeepMonthly))
		o.Fields.Set("keep_yearly", intPtr(j.KeepYearly))
		o.Fields.Set("keep_all", boolPtr(j.KeepAll))
		o.Fields.Set("notes_template", strings.TrimSpace(j.NotesTemplate))
		o.Fields.Set("bwlimit", intPtr(j.BWLimit))
		o.Fields.Set("zstd", intPtr(j.Zstd))
		o.Fields.Set("io_workers", intPtr(j.IOWorkers))
		// fleecing is PVE's property string as the job has it ("enabled=1,storage=x");
		// fleecing_storage is that storage's ProxmoxStorage row.
		o.Fields.Set("fleecing", truncate(strings.TrimSpace(j.Config["fleecing"]), 255))
		if j.FleecingStorage != "" {
			o.ref("fleecing_storage", ModelStorage, storageKey(label, j.FleecingStorage))
			o.flag(flagOptional, "fleecing_storage")
		} else {
			o.Refs.Set("fleecing_storage", Ref{})
		}
		o.Fields.Set("repeat_missed", boolPtr(j.RepeatMissed))
		o.Fields.Set("pbs_change_detection_mode", truncate(strings.TrimSpace(j.PBSChangeDetectionMode), 50))
		o.Fields.Set("raw_config", rawConfig(j.Config, "digest"))
		o.setTags(TagProxbox)
		d.Add(o)
	}
}

func nilID(id int64) any {
	if id <= 0 {
		return nil
	}
	return id
}

func optInt(s string) any {
	if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
		return n
	}
	return nil
}

var taskActions = []struct{ sub, action string }{
	{"vzdump", "Backup"}, {"snapshot", "Snapshot"}, {"delsnapshot", "Delete snapshot"}, {"rollback", "Rollback"},
	{"migrate", "Migrate"}, {"clone", "Clone"}, {"template", "Convert to template"}, {"create", "Create"},
	{"destroy", "Destroy"}, {"shutdown", "Shutdown"}, {"reboot", "Reboot"}, {"start", "Start"}, {"stop", "Stop"},
	{"suspend", "Suspend"}, {"resume", "Resume"}, {"restore", "Restore"}, {"resize", "Resize"}, {"vncproxy", "Console"},
}

// TaskDescription is the task history's description, "{QEMU|CT} {id} - {Action}"
// as the Python service writes it (proxbox-sync-engine.md §4.4).
func TaskDescription(t inventory.GuestType, id, typ string) string {
	kind := "QEMU"
	if t == inventory.LXC {
		kind = "CT"
	}
	action := ""
	lt := strings.ToLower(typ)
	for _, a := range taskActions {
		if strings.Contains(lt, a.sub) {
			action = a.action
			break
		}
	}
	if action == "" && typ != "" {
		action = strings.ToUpper(typ[:1]) + typ[1:]
	}
	return fmt.Sprintf("%s %s - %s", kind, id, action)
}
