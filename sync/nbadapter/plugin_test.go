package nbadapter_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/proxbox/proxbox/inventory"
	nblab "github.com/proxbox/proxbox/lab/netbox"
	pvelab "github.com/proxbox/proxbox/lab/pve"
	"github.com/proxbox/proxbox/netbox"
	"github.com/proxbox/proxbox/proxmox"
	pbsync "github.com/proxbox/proxbox/sync"
)

// newFullHarness reads everything sync II needs; the fixture's tasks are from
// January 2026, so the task window is wide.
func newFullHarness(t testing.TB, nbOpts nblab.Options, pves ...*pvelab.Server) *harness {
	t.Helper()
	h := newHarnessWith(t, nbOpts, func() proxmox.ReadOptions {
		o := proxmox.FullReadOptions()
		o.TaskDays = 100000
		return o
	}, pves...)
	return h
}

// pluginEndpoint creates the plugin's ProxmoxEndpoint row for harness target i,
// as a user of the plugin would, matching it by host.
func pluginEndpoint(t testing.TB, h *harness, i int) int64 {
	t.Helper()
	u, _ := url.Parse(h.tg[i].Endpoint.Host)
	// As netbox-proxbox 0.0.24 wants it: mode, and ip_address an IPAddress.
	addr := u.Hostname() + "/32"
	ips := h.list(pbsync.ModelIP, url.Values{"address": {addr}})
	var ip any
	if len(ips) > 0 {
		ip = ips[0]["id"]
	} else {
		ip = h.create(pbsync.ModelIP, map[string]any{"address": addr, "status": "active"})["id"]
	}
	return mustInt(h.create(pbsync.ModelPluginEndpoint, map[string]any{"name": "pve " + h.tg[i].Endpoint.Name,
		"ip_address": ip, "port": portOf(u), "mode": "cluster", "username": "root@pam", "verify_ssl": false})["id"])
}

func portOf(u *url.URL) int64 {
	var p int64
	for _, c := range u.Port() {
		p = p*10 + int64(c-'0')
	}
	return p
}

func mustInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	case int:
		return int64(x)
	}
	return 0
}

func count(h *harness, model string) int { return len(h.list(model, url.Values{})) }

func TestPluginFixtureFirstAndSteadyRun(t *testing.T) {
	h := newFullHarness(t, nblab.Options{}, fixtureServer(t))
	pluginEndpoint(t, h, 0)
	s := h.sync(pbsync.Options{BackupBatchDelay: -1})
	mustOK(t, s)
	for model, want := range map[string]int{pbsync.ModelStorage: 4, pbsync.ModelBackup: 17, pbsync.ModelSnapshot: 11,
		pbsync.ModelBackupRoutine: 2, pbsync.ModelReplication: 2, pbsync.ModelTaskHistory: 10} {
		if n := count(h, model); n != want {
			t.Errorf("%s: %d, want %d", model, n, want)
		}
	}
	for _, sn := range h.list(pbsync.ModelSnapshot, nil) {
		if sn["name"] == "current" {
			t.Errorf("current synced")
		}
	}
	t.Logf("first run: netbox %d requests, %d writes; proxmox %d requests; warnings %v", s.NetBox.Requests, s.NetBox.Writes, s.Proxmox.Requests, s.Warnings)

	var s2 *pbsync.Summary
	if n := writes(h, func() { s2 = h.sync(pbsync.Options{BackupBatchDelay: -1}) }); n != 0 || s2.NetBox.Writes != 0 {
		var plan strings.Builder
		_ = s2.Plan.Print(&plan)
		t.Errorf("steady run wrote %d objects in %d requests\n%s", n, s2.NetBox.Writes, plan.String())
	}
	mustOK(t, s2)
	t.Logf("steady run: netbox %d requests", s2.NetBox.Requests)

	// Fields of one backup of each kind; times in UTC.
	for _, b := range h.list(pbsync.ModelBackup, url.Values{"volume_id": {"backup:103/vzdump-qemu-103-2026_01_16-02_00_00.vma.zst"}}) {
		if jsonStr(b["creation_time"]) != "2026-01-16T00:00:00Z" || jsonStr(b["vmid"]) != "103" || choice(b["subtype"]) != "qemu" ||
			choice(b["format"]) != "tzst" || b["storage"] != "backup" || b["proxmox_storage"] == nil || b["virtual_machine"] == nil {
			t.Errorf("backup %v", b)
		}
	}
	routines := h.list(pbsync.ModelBackupRoutine, url.Values{"job_id": {"backup-job-01"}})
	if len(routines) != 1 || jsonStr(routines[0]["keep_last"]) != "7" || jsonStr(routines[0]["selection"]) != `["103","104"]` || routines[0]["storage"] == nil {
		t.Errorf("routine %v", routines)
	}
	tasks := h.list(pbsync.ModelTaskHistory, url.Values{"upid": {"UPID:pve01:00000002:00000002:00000002:vzdump:103:root@pam:"}})
	if len(tasks) != 1 || tasks[0]["start_time"] != "2026-01-15T00:00:00Z" || tasks[0]["description"] != "QEMU 103 - Backup" || tasks[0]["status"] != "OK" {
		t.Errorf("task %v", tasks)
	}
}

func choice(v any) string {
	if m, ok := v.(map[string]any); ok {
		s, _ := m["value"].(string)
		return s
	}
	s, _ := v.(string)
	return s
}

func TestPluginSharedStorageDedupe(t *testing.T) {
	p := fixtureServer(t)
	h := newFullHarness(t, nblab.Options{}, p)
	mustOK(t, h.sync(pbsync.Options{Stages: []pbsync.Stage{pbsync.StageDevices, pbsync.StageStorage, pbsync.StageVMs}}))
	// A new backup on shared NFS storage is listed by all three nodes.
	volid, err := p.AddBackup(104, "nfs-backup", time.Date(2026, 2, 1, 3, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	s := h.sync(pbsync.Options{Stages: []pbsync.Stage{pbsync.StageBackups}, BackupBatchDelay: -1})
	mustOK(t, s)
	if n := len(h.list(pbsync.ModelBackup, url.Values{"volume_id": {volid}})); n != 1 {
		t.Errorf("%s: %d rows, want 1", volid, n)
	}
	if n := count(h, pbsync.ModelBackup); n != 18 {
		t.Errorf("backups %d, want 18", n)
	}
}

// dropBackup makes target 0 read without one backup (PVE has pruned it).
func dropBackup(h *harness, volid string) {
	inner := h.tg[0].Read
	h.tg[0].Read = func(ctx context.Context) (*inventory.Snapshot, error) {
		s, err := inner(ctx)
		if s != nil {
			var keep []inventory.Backup
			for _, b := range s.Backups {
				if b.VolID != volid {
					keep = append(keep, b)
				}
			}
			s.Backups = keep
		}
		return s, err
	}
}

func TestPluginDeletedBackup(t *testing.T) {
	const gone = "nfs-backup:105/vzdump-qemu-105-2026_01_12-03_00_00.vma.lzo"
	h := newFullHarness(t, nblab.Options{}, fixtureServer(t))
	mustOK(t, h.sync(pbsync.Options{BackupBatchDelay: -1}))
	dropBackup(h, gone)

	// Without the flag: kept, tagged proxbox-orphan.
	s := h.sync(pbsync.Options{BackupBatchDelay: -1})
	mustOK(t, s)
	rows := h.list(pbsync.ModelBackup, url.Values{"volume_id": {gone}})
	if len(rows) != 1 || !strings.Contains(jsonStr(rows[0]["tags"]), pbsync.TagOrphan) {
		t.Fatalf("without delete flag: %v", rows)
	}
	if c := s.Objects["backups"]; c == nil || c.Orphaned != 1 {
		t.Errorf("counts %+v", s.Objects["backups"])
	}
	if n := writes(h, func() { s = h.sync(pbsync.Options{BackupBatchDelay: -1}) }); n != 0 {
		t.Errorf("second marking run wrote %d", n)
	}
	// With the flag: deleted, the others stay.
	s = h.sync(pbsync.Options{DeleteNonexistentBackup: true, BackupBatchDelay: -1})
	mustOK(t, s)
	if n := len(h.list(pbsync.ModelBackup, url.Values{"volume_id": {gone}})); n != 0 {
		t.Errorf("with delete flag: %d rows left", n)
	}
	if n := count(h, pbsync.ModelBackup); n != 16 {
		t.Errorf("backups %d, want 16", n)
	}
}

func TestPluginStaleSnapshotsRoutinesReplications(t *testing.T) {
	p := fixtureServer(t)
	h := newFullHarness(t, nblab.Options{}, p)
	pluginEndpoint(t, h, 0)
	mustOK(t, h.sync(pbsync.Options{BackupBatchDelay: -1}))
	inner := h.tg[0].Read
	h.tg[0].Read = func(ctx context.Context) (*inventory.Snapshot, error) {
		s, err := inner(ctx)
		if s != nil {
			s.Snapshots = s.Snapshots[1:]
			s.BackupJobs = s.BackupJobs[1:]
			s.Replications = s.Replications[1:]
		}
		return s, err
	}
	mustOK(t, h.sync(pbsync.Options{BackupBatchDelay: -1}))
	stale := func(model string) int {
		n := 0
		for _, o := range h.list(model, nil) {
			if choice(o["status"]) == "stale" {
				n++
			}
		}
		return n
	}
	for _, m := range []string{pbsync.ModelSnapshot, pbsync.ModelBackupRoutine, pbsync.ModelReplication} {
		if n := stale(m); n != 1 {
			t.Errorf("%s: %d stale, want 1", m, n)
		}
	}
	mustOK(t, h.sync(pbsync.Options{DeleteNonexistentSnapshot: true, BackupBatchDelay: -1}))
	if n := count(h, pbsync.ModelSnapshot); n != 10 {
		t.Errorf("snapshots after delete: %d, want 10", n)
	}
}

func TestPluginPBSAndVzdumpVolids(t *testing.T) {
	lab := pvelab.Generate(40, 7)
	var cl *pvelab.Cluster
	for _, c := range lab.Clusters {
		if !c.Standalone {
			cl = c
			break
		}
	}
	p, err := pvelab.New(pvelab.Options{Cluster: cl})
	if err != nil {
		t.Fatal(err)
	}
	h := newFullHarness(t, nblab.Options{}, p)
	s := h.sync(pbsync.Options{BackupBatchDelay: -1, BackupBatchSize: 200})
	mustOK(t, s)
	kinds := map[string]int{}
	for _, b := range h.list(pbsync.ModelBackup, nil) {
		volid, _ := b["volume_id"].(string)
		f := choice(b["format"])
		switch {
		case strings.Contains(volid, ":backup/vm/") && f == "pbs-vm", strings.Contains(volid, ":backup/ct/") && f == "pbs-ct":
			kinds["pbs"]++
		case strings.Contains(volid, "vzdump-") && f == "tzst":
			kinds["vzdump"]++
		default:
			t.Errorf("backup %s format %s", volid, f)
		}
		ct, _ := b["creation_time"].(string)
		if tm, err := time.Parse(time.RFC3339, ct); err != nil || !strings.HasSuffix(ct, "Z") || tm.IsZero() {
			t.Errorf("creation_time %q not UTC", ct)
		}
	}
	if kinds["pbs"] == 0 || kinds["vzdump"] == 0 {
		t.Errorf("kinds %v", kinds)
	}
	if c := s.Objects["backups"]; c == nil || c.Skipped == 0 {
		t.Errorf("the backup of destroyed guest 9999 should be skipped: %+v", c)
	}
	if n := writes(h, func() { s = h.sync(pbsync.Options{BackupBatchDelay: -1, BackupBatchSize: 200}) }); n != 0 {
		var plan strings.Builder
		_ = s.Plan.Print(&plan)
		t.Errorf("steady run wrote %d\n%s", n, plan.String())
	}
}

func TestPluginAbsentInventoryStillSynced(t *testing.T) {
	h := newFullHarness(t, nblab.Options{DisablePlugin: true}, fixtureServer(t))
	var events []pbsync.Event
	s := h.sync(pbsync.Options{Events: func(e pbsync.Event) { events = append(events, e) }})
	mustOK(t, s)
	if len(h.vms()) != 10 {
		t.Errorf("vms %d, want 10", len(h.vms()))
	}
	skipped := map[pbsync.Stage]bool{}
	for _, e := range events {
		if e.Type == pbsync.EventWarning && e.Message == pbsync.SkippedNoPlugin {
			skipped[e.Stage] = true
		}
		if e.Type == pbsync.EventError {
			t.Errorf("error event %+v", e)
		}
	}
	for _, st := range pbsync.PluginStages {
		if !skipped[st] {
			t.Errorf("stage %s: no %q event", st, pbsync.SkippedNoPlugin)
		}
	}
}

func TestPluginBackupBatchSizeAndDelay(t *testing.T) {
	h := newFullHarness(t, nblab.Options{}, fixtureServer(t))
	h.needSimulator("the request log")
	mustOK(t, h.sync(pbsync.Options{Stages: []pbsync.Stage{pbsync.StageDevices, pbsync.StageStorage, pbsync.StageVMs}}))
	h.nb.ResetStats()
	const delay = 30 * time.Millisecond
	mustOK(t, h.sync(pbsync.Options{Stages: []pbsync.Stage{pbsync.StageBackups}, BackupBatchSize: 4, BackupBatchDelay: delay}))
	var posts []nblab.LoggedRequest
	for _, r := range h.nb.RequestLog() {
		if r.Pattern == "/api/plugins/proxbox/backups/" && r.Method == "POST" {
			posts = append(posts, r)
		}
	}
	// 17 backups in requests of 4: 4+4+4+4+1.
	if len(posts) != 5 {
		t.Fatalf("%d backup POSTs, want 5: %+v", len(posts), posts)
	}
	for i, p := range posts {
		want := 4
		if i == 4 {
			want = 1
		}
		if p.Objects != want {
			t.Errorf("request %d wrote %d objects, want %d", i, p.Objects, want)
		}
		if i > 0 {
			if gap := p.Start.Sub(posts[i-1].End); gap < delay {
				t.Errorf("request %d started %v after the previous one ended, want >= %v", i, gap, delay)
			}
		}
	}
}

func TestPluginSettingsApplied(t *testing.T) {
	h := newFullHarness(t, nblab.Options{}, fixtureServer(t))
	set := h.list(pbsync.ModelPluginSettings, nil)
	if len(set) != 1 {
		t.Fatalf("settings rows %d", len(set))
	}
	if r := h.nbc.Update(context.Background(), pbsync.ModelPluginSettings, []netbox.Object{{"id": set[0]["id"], "primary_ip_preference": "ipv6"}}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	mustOK(t, h.sync(pbsync.Options{}))
	for k, v := range h.vms() {
		if v["primary_ip4"] != nil {
			t.Errorf("%s: primary_ip4 set although the plugin says ipv6", k)
		}
	}
}
