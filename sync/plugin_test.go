package sync

import (
	"testing"

	"github.com/proxbox/proxbox/inventory"
)

func TestPluginEndpointID(t *testing.T) {
	rows := []map[string]any{
		{"id": float64(3), "name": "PVE", "ip_address": "10.0.0.10/24", "port": float64(8006)},
		{"id": float64(4), "name": "lab", "ip_address": nil, "domain": "pve.example.com", "port": float64(8006)},
		{"id": float64(5), "name": "twin-a", "ip_address": "10.0.0.20/32", "port": float64(8006)},
		{"id": float64(6), "name": "twin-b", "ip_address": "10.0.0.20/32", "port": float64(8006)},
	}
	tests := []struct {
		ep   inventory.Endpoint
		want int64
	}{
		{inventory.Endpoint{Name: "PVE (nb:3)"}, 3},
		{inventory.Endpoint{Name: "PVE (nb:99)", Host: "pve.example.com"}, 4}, // unknown pk: by host
		{inventory.Endpoint{Name: "x", Host: "https://10.0.0.10:8006"}, 3},
		{inventory.Endpoint{Name: "x", Host: "10.0.0.10:8007"}, 0}, // port differs
		{inventory.Endpoint{Name: "x", Host: "10.0.0.10"}, 3},
		{inventory.Endpoint{Name: "x", Host: "PVE.example.com:8006"}, 4},
		{inventory.Endpoint{Name: "x", Host: "10.0.0.20"}, 0}, // ambiguous
		{inventory.Endpoint{Name: "PVE"}, 0},                  // never by name
	}
	for _, tc := range tests {
		if got := PluginEndpointID(tc.ep, rows); got != tc.want {
			t.Errorf("%+v: %d, want %d", tc.ep, got, tc.want)
		}
	}
}

func TestParseStagePluginSlugs(t *testing.T) {
	for in, want := range map[string]Stage{"storage": StageStorage, "vm-backups": StageBackups, "backups": StageBackups,
		"vm-snapshots": StageSnapshots, "snapshots": StageSnapshots, "task-history": StageTaskHistory,
		"replications": StageReplications, "backup-routines": StageBackupRoutines, "Devices": StageDevices} {
		if got, err := ParseStage(in); err != nil || got != want {
			t.Errorf("ParseStage(%q) = %q, %v", in, got, err)
		}
	}
	if len(AllStages) != 12 || AllStages[1] != StageStorage || AllStages[11] != StageBackupRoutines {
		t.Errorf("AllStages %v", AllStages)
	}
}

func TestTaskDescription(t *testing.T) {
	for _, tc := range []struct {
		t        inventory.GuestType
		id, typ  string
		expected string
	}{
		{inventory.QEMU, "103", "vzdump", "QEMU 103 - Backup"},
		{inventory.LXC, "108", "vzsnapshot", "CT 108 - Snapshot"},
		{inventory.QEMU, "101", "qmstart", "QEMU 101 - Start"},
		{inventory.QEMU, "101", "qmshutdown", "QEMU 101 - Shutdown"},
		{inventory.LXC, "7", "imgcopy", "CT 7 - Imgcopy"},
	} {
		if got := TaskDescription(tc.t, tc.id, tc.typ); got != tc.expected {
			t.Errorf("%v %s %s: %q, want %q", tc.t, tc.id, tc.typ, got, tc.expected)
		}
	}
}

func TestEqualTimesAndJSON(t *testing.T) {
	if !Equal("creation_time", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00") {
		t.Error("same instant differs")
	}
	if Equal("creation_time", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z") {
		t.Error("different instants equal")
	}
	if !Equal("raw_config", map[string]any{"id": "job", "vmid": "1"}, map[string]any{"vmid": "1", "id": "job"}) {
		t.Error("same document differs")
	}
	if Equal("raw_config", map[string]any{"id": "job", "vmid": "1"}, map[string]any{"id": "job", "vmid": "2"}) {
		t.Error("documents with the same id compared equal")
	}
	if !Equal("description", "snap\n", "snap") {
		t.Error("trailing whitespace differs")
	}
}

func TestMapPluginSkipsCurrentAndKeysByVM(t *testing.T) {
	s := &inventory.Snapshot{Endpoint: inventory.Endpoint{Name: "ep"},
		Guests:     []inventory.Guest{{VMID: 100, Type: inventory.QEMU}, {VMID: 100, Type: inventory.LXC}, {VMID: 101, Type: inventory.LXC}},
		Backups:    []inventory.Backup{{VolID: "s:backup/vzdump-lxc-101-2026_01_01-00_00_00.tar.zst", Storage: "s", VMID: 101}},
		Snapshots:  []inventory.GuestSnapshot{{VMID: 100, Type: inventory.LXC, Name: "a", Node: "n"}},
		BackupJobs: []inventory.BackupJob{{ID: "j"}},
	}
	d := newDesired()
	d.Cluster = "ep"
	mapPlugin(d, s, pluginCtx{})
	if o := d.Get(ModelBackup, backupKey(vmKey("ep", inventory.LXC, 101), s.Backups[0].VolID)); o == nil || o.Fields.Get("subtype") != "lxc" {
		t.Errorf("backup of the only guest 101 not linked: %v", d.Objects(ModelBackup))
	}
	if d.Get(ModelSnapshot, snapshotKey(vmKey("ep", inventory.LXC, 100), "a")) == nil {
		t.Error("snapshot of lxc 100 missing")
	}
	if d.Count(ModelBackupRoutine) != 0 {
		t.Error("backup routine without a plugin endpoint")
	}
}
