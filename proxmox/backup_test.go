package proxmox

import (
	"testing"
	"time"

	"github.com/proxbox/proxbox/inventory"
)

func TestParseBackupVolID(t *testing.T) {
	utc := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339, s); return tm.UTC() }
	tests := []struct {
		volid string
		want  VolID
		ok    bool
	}{
		{"nfs-backup:backup/vzdump-qemu-101-2026_01_15-02_00_00.vma.zst",
			VolID{Storage: "nfs-backup", Kind: "vzdump", Type: inventory.QEMU, VMID: 101, Time: utc("2026-01-15T02:00:00Z"), Ext: "vma.zst"}, true},
		{"backup:102/vzdump-lxc-102-2026_01_01-00_00_00.tar.zst", // the shared fixture's layout
			VolID{Storage: "backup", Kind: "vzdump", Type: inventory.LXC, VMID: 102, Time: utc("2026-01-01T00:00:00Z"), Ext: "tar.zst"}, true},
		{"local:backup/vzdump-openvz-7-2015_03_01-10_00_00.tar.gz",
			VolID{Storage: "local", Kind: "vzdump", Type: inventory.LXC, VMID: 7, Time: utc("2015-03-01T10:00:00Z"), Ext: "tar.gz"}, true},
		{"pbs:backup/vm/201/2026-11-20T01:00:00Z",
			VolID{Storage: "pbs", Kind: "pbs", Type: inventory.QEMU, VMID: 201, Time: utc("2026-11-20T01:00:00Z")}, true},
		{"pbs:backup/ct/300/2026-11-20T01:00:00+01:00",
			VolID{Storage: "pbs", Kind: "pbs", Type: inventory.LXC, VMID: 300, Time: utc("2026-11-20T00:00:00Z")}, true},
		{"pbs:backup/host/myhost/2026-11-20T01:00:00Z",
			VolID{Storage: "pbs", Kind: "pbs", Time: utc("2026-11-20T01:00:00Z")}, true},
		{"pbs:backup/vm/abc/2026-11-20T01:00:00Z", VolID{}, false},
		{"pbs:backup/vm/201/yesterday", VolID{}, false},
		{"local:iso/debian.iso", VolID{}, false},
		{"local:backup/vzdump-qemu-101-2026_13_45-02_00_00.vma", VolID{}, false}, // month 13
		{"vzdump-qemu-101-2026_01_15-02_00_00.vma.zst", VolID{}, false},          // no storage
		{"", VolID{}, false},
		{":backup/vzdump-qemu-101-2026_01_15-02_00_00.vma", VolID{}, false},
	}
	for _, tc := range tests {
		got, ok := ParseBackupVolID(tc.volid)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseBackupVolID(%q) = %+v, %v; want %+v, %v", tc.volid, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBackupFormatAndSubtype(t *testing.T) {
	tests := []struct{ format, volid, want string }{
		{"vma.zst", "", "tzst"},
		{"tzst", "", "tzst"},
		{"tar.gz", "", "tgz"},
		{"pbs-ct", "", "pbs-ct"},
		{"", "pbs:backup/vm/201/2026-11-20T01:00:00Z", "pbs-vm"},
		{"weird", "pbs:backup/ct/201/2026-11-20T01:00:00Z", "pbs-ct"},
		{"", "local:backup/vzdump-lxc-1-2026_01_01-00_00_00.tar.bz2", "tbz"},
		{"lzo", "nfs:backup/vzdump-qemu-1-2026_01_01-00_00_00.vma.lzo", "undefined"},
		{"", "", "undefined"},
	}
	for _, tc := range tests {
		if got := BackupFormat(tc.format, tc.volid); got != tc.want {
			t.Errorf("BackupFormat(%q, %q) = %q, want %q", tc.format, tc.volid, got, tc.want)
		}
	}
	subs := []struct {
		sub, volid string
		want       inventory.GuestType
	}{
		{"qemu", "", inventory.QEMU}, {"ct", "", inventory.LXC}, {"vm", "", inventory.QEMU},
		{"", "pbs:backup/ct/1/2026-11-20T01:00:00Z", inventory.LXC}, {"", "x:y", ""},
	}
	for _, tc := range subs {
		if got := BackupSubtype(tc.sub, tc.volid); got != tc.want {
			t.Errorf("BackupSubtype(%q, %q) = %q, want %q", tc.sub, tc.volid, got, tc.want)
		}
	}
}

func TestBackupJobFromConfig(t *testing.T) {
	j, ok := BackupJobFromConfig(map[string]string{"id": "backup-1", "enabled": "0", "schedule": "sun 01:00", "storage": "pbs",
		"all": "1", "exclude": "100", "prune-backups": "keep-daily=7,keep-weekly=4", "keep-last": "3", "fleecing": "enabled=1,storage=local-lvm",
		"repeat-missed": "0", "next-run": "1767225600", "performance": "max-workers=4", "zstd": "2"})
	if !ok || j.Enabled || j.Schedule != "sun 01:00" || len(j.Selection) != 2 || j.Selection[0] != "all" || j.Selection[1] != "-100" {
		t.Fatalf("job %+v", j)
	}
	if *j.KeepDaily != 7 || *j.KeepWeekly != 4 || *j.KeepLast != 3 || j.KeepMonthly != nil || j.KeepAll != nil {
		t.Errorf("retention %v %v %v", j.KeepDaily, j.KeepWeekly, j.KeepLast)
	}
	if !*j.Fleecing || j.FleecingStorage != "local-lvm" || *j.RepeatMissed || *j.IOWorkers != 4 || *j.Zstd != 2 {
		t.Errorf("options %+v", j)
	}
	if !j.NextRun.Equal(time.Unix(1767225600, 0)) || j.NextRun.Location() != time.UTC {
		t.Errorf("next run %v", j.NextRun)
	}
	j, _ = BackupJobFromConfig(map[string]string{"id": "b2", "vmid": "103,104", "keep-all": "1"})
	if !j.Enabled || len(j.Selection) != 2 || !*j.KeepAll {
		t.Errorf("job 2 %+v", j)
	}
	if _, ok := BackupJobFromConfig(map[string]string{"schedule": "daily"}); ok {
		t.Error("job without id accepted")
	}
}

func TestReplicationFromConfig(t *testing.T) {
	j, ok := ReplicationFromConfig(map[string]string{"id": "104-1", "target": "pve03", "rate": "50", "disable": "1"})
	if !ok || j.Guest != 104 || j.JobNum != 1 || !j.HasJobNum || j.Rate != 50 || !j.HasRate || !j.Disabled || j.Type != "local" {
		t.Errorf("%+v", j)
	}
}

func TestBoundTasks(t *testing.T) {
	guests := []inventory.Guest{{VMID: 100, Type: inventory.QEMU}, {VMID: 100, Type: inventory.LXC}, {VMID: 101, Type: inventory.LXC}}
	at := func(m int) time.Time { return time.Unix(int64(1000+m), 0).UTC() }
	in := []inventory.Task{
		{UPID: "a", VMID: 100, Type: "qmstart", GuestType: inventory.QEMU, Started: at(1)},
		{UPID: "b", VMID: 100, Type: "vzdump", Started: at(2)}, // ambiguous vmid: dropped
		{UPID: "c", VMID: 101, Type: "vzdump", Started: at(3)},
		{UPID: "d", VMID: 101, Type: "vzstart", GuestType: inventory.LXC, Started: at(4)},
		{UPID: "e", VMID: 101, Type: "vzstop", GuestType: inventory.LXC, Started: at(5)},
		{UPID: "e", VMID: 101, Type: "vzstop", GuestType: inventory.LXC, Started: at(5)}, // listed twice
		{UPID: "f", VMID: 999, Type: "qmstart", GuestType: inventory.QEMU, Started: at(6)},
	}
	out := boundTasks(in, guests, 2)
	var ids string
	for _, t := range out {
		ids += t.UPID
	}
	if ids != "ade" {
		t.Errorf("kept %q, want ade (newest 2 of 101, a of qemu 100)", ids)
	}
}

func TestParseSnapshotsDropsCurrent(t *testing.T) {
	g := &inventory.Guest{VMID: 5, Type: inventory.QEMU, Node: "n1"}
	got, err := ParseSnapshots([]byte(`[{"name":"a","snaptime":"1767225600","vmstate":1},{"name":"current","parent":"a","description":"You are here!"},{"name":"b","parent":"a","snaptime":null}]`), g)
	if err != nil || len(got) != 2 || got[0].Name != "a" || !got[0].VMState || got[1].Parent != "a" || !got[1].Taken.IsZero() {
		t.Fatalf("%+v %v", got, err)
	}
	if got[0].Taken.Location() != time.UTC {
		t.Errorf("snaptime not UTC")
	}
	if _, err := ParseSnapshots([]byte(`{"name":"x"}`), g); err == nil {
		t.Error("object accepted as list")
	}
}
