package sync

import (
	"net/netip"
	"testing"

	"github.com/proxbox/proxbox/inventory"
)

func testSnapshot() *inventory.Snapshot {
	return &inventory.Snapshot{
		Endpoint: inventory.Endpoint{ID: 7, Name: "lab"},
		Cluster:  inventory.Cluster{Name: "pve", Standalone: true},
		Nodes:    []inventory.Node{{Name: "pve", Online: true}},
		Guests: []inventory.Guest{
			{VMID: 101, Type: inventory.QEMU, Name: "web", Node: "pve", Status: "running", Cores: 2, Sockets: 2, MemoryMB: 2048, OSType: "l26",
				Config: map[string]string{"ide2": "local:iso/x.iso,media=cdrom,size=1G"},
				Disks:  []inventory.Disk{{Key: "scsi0", SizeMB: 10240}, {Key: "ide2", Volume: "iso/x.iso", SizeMB: 1024}, {Key: "unused0", SizeMB: 5}},
				NICs:   []inventory.NIC{{Key: "net0", Index: 0, MAC: "aa:bb:cc:00:00:01", VLAN: 20}},
				AgentInterfaces: []inventory.GuestInterface{
					{Name: "lo", MAC: "00:00:00:00:00:00", Addresses: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
					{Name: "ens18", MAC: "AA:BB:CC:00:00:01", Addresses: []netip.Prefix{netip.MustParsePrefix("fe80::1/64"), netip.MustParsePrefix("10.0.0.5/24")}},
					{Name: "docker0", MAC: "02:42:00:00:00:01", Addresses: []netip.Prefix{netip.MustParsePrefix("172.17.0.1/16")}},
				}},
			{VMID: 900, Type: inventory.QEMU, Name: "tmpl", Node: "pve", Status: "stopped", Template: true, VCPUs: 1},
		},
	}
}

func TestMapGuests(t *testing.T) {
	d := Map(testSnapshot(), MapOptions{})
	if n := d.Get(ModelCluster, "lab").Fields.Get("name"); n != "pve (lab)" {
		t.Errorf("standalone cluster name %v", n)
	}
	vm := d.Get(ModelVM, "lab/qemu/101")
	if vm == nil {
		t.Fatal("vm 101 missing")
	}
	for k, want := range map[string]any{"vcpus": 4.0, "memory": int64(2048), "status": "active", "disk": int64(10240)} {
		if vm.Fields.Get(k) != want {
			t.Errorf("%s = %v, want %v", k, vm.Fields.Get(k), want)
		}
	}
	if d.Count(ModelDisk) != 1 {
		t.Errorf("disks %d, want 1 (cdrom and unused skipped)", d.Count(ModelDisk))
	}
	if d.Get(ModelVMInterface, "lab/qemu/101/if/ens18") == nil || d.Count(ModelVMInterface) != 1 {
		t.Errorf("interfaces: want only ens18 (agent name; lo/docker0 not interfaces)")
	}
	if d.Count(ModelIP) != 1 || d.Get(ModelIP, "lab/qemu/101/if/ens18|10.0.0.5/24") == nil {
		t.Errorf("ips: want only 10.0.0.5/24, got %d", d.Count(ModelIP))
	}
	if vm.Refs.Get("primary_ip4").Key != "lab/qemu/101/if/ens18|10.0.0.5/24" {
		t.Errorf("primary ip4 %v", vm.Refs.Get("primary_ip4"))
	}
	if d.Get(ModelVLAN, "proxmox-default-site-pve-lab/20") == nil {
		t.Errorf("vlan 20 missing")
	}
	if d.Get(ModelPlatform, "linux") == nil {
		t.Errorf("platform from ostype missing")
	}
	if tm := d.Get(ModelVM, "lab/qemu/900"); tm == nil || tm.Fields.Get("status") != "offline" {
		t.Errorf("template: %v", tm)
	}
	if Map(testSnapshot(), MapOptions{SkipTemplates: true}).Get(ModelVM, "lab/qemu/900") != nil {
		t.Errorf("SkipTemplates kept the template")
	}
	d2 := Map(testSnapshot(), MapOptions{ConfigInterfaceNames: true, IncludeIPv6LinkLocal: true})
	if d2.Get(ModelVMInterface, "lab/qemu/101/if/net0") == nil || d2.Count(ModelIP) != 2 {
		t.Errorf("config names / link-local: %d ips", d2.Count(ModelIP))
	}
}

func TestDuplicateGuestNamesGetTheirVMID(t *testing.T) {
	guests := []inventory.Guest{
		{VMID: 205, Type: inventory.QEMU, Name: "web"},
		{VMID: 101, Type: inventory.QEMU, Name: "web"},
		{VMID: 300, Type: inventory.LXC, Name: "WEB"},
		{VMID: 102, Type: inventory.QEMU, Name: "db"},
		{VMID: 103, Type: inventory.QEMU, Name: ""},
	}
	got := guestNames(guests, MapOptions{})
	want := map[int]string{101: "web", 205: "web (205)", 300: "WEB (300)", 102: "db", 103: "qemu-103"}
	for id, n := range want {
		if got[id] != n {
			t.Errorf("vmid %d: %q, want %q", id, got[id], n)
		}
	}
}

// Every object is labelled for reports as the mapping names it: a guest's objects by its
// type and vmid (derivedLabel), the others as given.
func TestObjectLabels(t *testing.T) {
	s := testSnapshot()
	s.Backups = []inventory.Backup{{VolID: "pbs:backup/vm/101/2026-01-01T00:00:00Z", Storage: "pbs", VMID: 101}}
	s.Snapshots = []inventory.GuestSnapshot{{VMID: 101, Type: inventory.QEMU, Name: "before-upgrade", Node: "pve"}}
	s.Tasks = []inventory.Task{{UPID: "UPID:pve:00001:qmstart:101:root@pam:", Node: "pve", ID: "101", VMID: 101, Type: "qmstart", GuestType: inventory.QEMU}}
	d := Map(s, MapOptions{})
	mapPlugin(d, s, pluginCtx{})
	vm := vmKey("lab", inventory.QEMU, 101)
	for _, c := range []struct{ model, key, want string }{
		{ModelVM, vm, "qemu 101 (web)"},
		{ModelDisk, diskKey(vm, "scsi0"), "qemu 101 disk scsi0"},
		{ModelVMInterface, ifaceKey(vm, "ens18"), "qemu 101 interface ens18"},
		{ModelMAC, macKey(ifaceKey(vm, "ens18")), "MAC AA:BB:CC:00:00:01"},
		{ModelIP, ipKey(ifaceKey(vm, "ens18"), "10.0.0.5/24"), "qemu 101 address 10.0.0.5/24"},
		{ModelBackup, backupKey(vm, s.Backups[0].VolID), "backup " + s.Backups[0].VolID},
		{ModelSnapshot, snapshotKey(vm, "before-upgrade"), "qemu 101 snapshot before-upgrade"},
		{ModelTaskHistory, taskKey(vm, s.Tasks[0].UPID), "task " + s.Tasks[0].UPID},
		{ModelVLAN, "proxmox-default-site-pve-lab/20", "VLAN 20"},
		{ModelCluster, "lab", "cluster pve (lab)"},
	} {
		o := d.Get(c.model, c.key)
		if o == nil {
			t.Errorf("%s %s missing", c.model, c.key)
			continue
		}
		if got := o.Label(); got != c.want {
			t.Errorf("%s label %q, want %q", c.model, got, c.want)
		}
		if _, sent := o.Fields.Lookup(labelField); sent && (c.model == ModelVM || c.model == ModelDisk) {
			t.Errorf("%s holds its label", c.model)
		}
	}
	res, _ := (&run{d: d}).resolve(d.Get(ModelVLAN, "proxmox-default-site-pve-lab/20"), map[string]map[string]map[string]any{ModelSite: {"proxmox-default-site-pve-lab": {"id": 1.0}}})
	if _, ok := res.Fields[labelField]; ok {
		t.Error("the label field is resolved into the body")
	}
}
