package proxmox

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/proxbox/proxbox/inventory"
)

func TestParseQEMUNIC(t *testing.T) {
	tests := []struct {
		key, value string
		want       inventory.NIC
		ok         bool
	}{
		{"net0", "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,tag=10,mtu=9000,firewall=1,link_down=1,trunks=10;20",
			inventory.NIC{Key: "net0", Index: 0, Model: "virtio", MAC: "BC:24:11:AA:BB:CC", Bridge: "vmbr0", VLAN: 10, MTU: 9000, Firewall: true, LinkDown: true, Trunks: []int{10, 20}}, true},
		{"net15", "e1000=bc:24:11:00:00:01,bridge=vmbr1", inventory.NIC{Key: "net15", Index: 15, Model: "e1000", MAC: "BC:24:11:00:00:01", Bridge: "vmbr1"}, true},
		{"net1", "vmxnet3=BC-24-11-00-00-02,bridge=vmbr0,firewall=0", inventory.NIC{Key: "net1", Index: 1, Model: "vmxnet3", MAC: "BC:24:11:00:00:02", Bridge: "vmbr0"}, true},
		{"net2", "model=virtio,macaddr=bc:24:11:00:00:03,bridge=vmbr0", inventory.NIC{Key: "net2", Index: 2, Model: "virtio", MAC: "BC:24:11:00:00:03", Bridge: "vmbr0"}, true},
		{"net3", "virtio=not-a-mac,bridge=vmbr0,tag=x", inventory.NIC{Key: "net3", Index: 3, Model: "virtio", Bridge: "vmbr0"}, true},
		{"net4", "virtio=BC:24:11:00:00:04,bridge=vmbr0,trunks=100-102", inventory.NIC{Key: "net4", Index: 4, Model: "virtio", MAC: "BC:24:11:00:00:04", Bridge: "vmbr0", Trunks: []int{100, 101, 102}}, true},
		{"net5", "", inventory.NIC{Key: "net5", Index: 5}, true},
		{"netx", "virtio=BC:24:11:00:00:04", inventory.NIC{}, false},
		{"ipconfig0", "ip=dhcp", inventory.NIC{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseQEMUNIC(tt.key, tt.value)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseQEMUNIC(%q, %q) = %+v, %v; want %+v, %v", tt.key, tt.value, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseLXCNIC(t *testing.T) {
	tests := []struct {
		key, value string
		want       inventory.NIC
	}{
		{"net0", "name=eth0,bridge=vmbr0,hwaddr=bc:24:11:aa:bb:cc,ip=10.0.0.5/24,gw=10.0.0.1,ip6=fd00::5/64,gw6=fd00::1,tag=20,type=veth",
			inventory.NIC{Key: "net0", Model: "veth", Name: "eth0", MAC: "BC:24:11:AA:BB:CC", Bridge: "vmbr0", VLAN: 20, IPv4: "10.0.0.5/24", IPv6: "fd00::5/64", Gateway: "10.0.0.1", Gateway6: "fd00::1"}},
		{"net3", "name=eth1,bridge=vmbr1,hwaddr=AA:BB:CC:02:08:01,ip=dhcp,ip6=auto,mtu=9000,firewall=1",
			inventory.NIC{Key: "net3", Index: 3, Model: "veth", Name: "eth1", MAC: "AA:BB:CC:02:08:01", Bridge: "vmbr1", MTU: 9000, Firewall: true, IPv4: "dhcp", IPv6: "auto"}},
	}
	for _, tt := range tests {
		got, ok := ParseLXCNIC(tt.key, tt.value)
		if !ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseLXCNIC(%q, %q) = %+v, %v; want %+v", tt.key, tt.value, got, ok, tt.want)
		}
	}
}

func TestParseSizeMB(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"32G", 32768, true}, {"10G", 10240, true}, {"1T", 1048576, true}, {"4M", 4, true},
		{"528K", 1, true}, {"1024K", 1, true}, {"2048K", 2, true}, {"1073741824", 1024, true},
		{"1.5G", 1536, true}, {"631M", 631, true}, {"0", 0, true},
		{"", 0, false}, {"G", 0, false}, {"abc", 0, false}, {"-1G", 0, false}, {"1e400G", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseSizeMB(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseSizeMB(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseDisk(t *testing.T) {
	tests := []struct {
		key, value string
		want       inventory.Disk
		ok         bool
	}{
		{"scsi0", "local-lvm:vm-101-disk-0,iothread=1,size=32G", inventory.Disk{Key: "scsi0", Bus: "scsi", Storage: "local-lvm", Volume: "vm-101-disk-0", SizeMB: 32768}, true},
		{"virtio1", "ceph-pool:vm-101-disk-1,backup=0,size=500G", inventory.Disk{Key: "virtio1", Bus: "virtio", Storage: "ceph-pool", Volume: "vm-101-disk-1", SizeMB: 512000}, true},
		{"sata0", "local-lvm:vm-101-disk-0,size=16G", inventory.Disk{Key: "sata0", Bus: "sata", Storage: "local-lvm", Volume: "vm-101-disk-0", SizeMB: 16384}, true},
		{"efidisk0", "local-lvm:vm-101-disk-8,efitype=4m,pre-enrolled-keys=1,size=4M", inventory.Disk{Key: "efidisk0", Bus: "efidisk", Storage: "local-lvm", Volume: "vm-101-disk-8", SizeMB: 4}, true},
		{"tpmstate0", "local-lvm:vm-101-disk-9,size=4M,version=v2.0", inventory.Disk{Key: "tpmstate0", Bus: "tpmstate", Storage: "local-lvm", Volume: "vm-101-disk-9", SizeMB: 4}, true},
		{"ide2", "local:iso/debian-12.7.0-amd64-netinst.iso,media=cdrom,size=631M", inventory.Disk{}, false},
		{"ide2", "none,media=cdrom", inventory.Disk{}, false},
		{"ide0", "local-lvm:vm-101-cloudinit,media=cdrom", inventory.Disk{}, false},
		{"ide1", "none", inventory.Disk{}, false},
		{"ide3", "local-lvm:vm-101-disk-7,MEDIA=CDROM,size=1G", inventory.Disk{}, false},
		{"ide3", "local-lvm:vm-101-disk-7,serial=media=cdrom,size=1G", inventory.Disk{}, false}, // what sync's raw-config check skipped too
		{"unused0", "local-lvm:vm-101-disk-5", inventory.Disk{}, false},
		{"scsihw", "virtio-scsi-single", inventory.Disk{}, false},
		{"rootfs", "local-lvm:subvol-102-disk-0,size=10G", inventory.Disk{Key: "rootfs", Bus: "rootfs", Storage: "local-lvm", Volume: "subvol-102-disk-0", SizeMB: 10240, MountPoint: "/"}, true},
		{"mp0", "local-lvm:subvol-102-mp-0,mp=/data,size=10G", inventory.Disk{Key: "mp0", Bus: "mp", Storage: "local-lvm", Volume: "subvol-102-mp-0", SizeMB: 10240, MountPoint: "/data"}, true},
		{"mp1", "/mnt/pve/nfs-share/media,mp=/media,ro=1", inventory.Disk{}, false},
		{"mp2", "volume=local-lvm:vm-102-disk-3,mp=/srv,size=8G", inventory.Disk{Key: "mp2", Bus: "mp", Storage: "local-lvm", Volume: "vm-102-disk-3", SizeMB: 8192, MountPoint: "/srv"}, true},
		{"scsi1", "/dev/disk/by-id/ata-X,size=1T", inventory.Disk{Key: "scsi1", Bus: "scsi", Volume: "/dev/disk/by-id/ata-X", SizeMB: 1048576}, true},
		{"scsi2", "local-lvm:vm-101-disk-2", inventory.Disk{Key: "scsi2", Bus: "scsi", Storage: "local-lvm", Volume: "vm-101-disk-2"}, true},
	}
	for _, tt := range tests {
		got, ok := ParseDisk(tt.key, tt.value)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseDisk(%q, %q) = %+v, %v; want %+v, %v", tt.key, tt.value, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseTagsAndMAC(t *testing.T) {
	tagTests := []struct {
		in   string
		want []string
	}{
		{"prod;web", []string{"prod", "web"}},
		{"prod, web db", []string{"prod", "web", "db"}},
		{" ;prod;;prod; ", []string{"prod"}},
		{"", nil},
	}
	for _, tt := range tagTests {
		if got := ParseTags(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseTags(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	macTests := map[string]string{
		"bc:24:11:aa:bb:cc": "BC:24:11:AA:BB:CC", "BC-24-11-AA-BB-CC": "BC:24:11:AA:BB:CC",
		"bc2411aabbcc": "BC:24:11:AA:BB:CC", "bc24.11aa.bbcc": "BC:24:11:AA:BB:CC",
		"bc:24:11:aa:bb": "", "zz:24:11:aa:bb:cc": "", "": "",
	}
	for in, want := range macTests {
		if got := NormalizeMAC(in); got != want {
			t.Errorf("NormalizeMAC(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAgentEnabled(t *testing.T) {
	for in, want := range map[string]bool{
		"1": true, "0": false, "": false, "enabled=1,fstrim_cloned_disks=1": true,
		"enabled=0": false, "1,type=virtio": true, "fstrim_cloned_disks=1": false, "true": true,
	} {
		if got := AgentEnabled(in); got != want {
			t.Errorf("AgentEnabled(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestGuestFromConfig(t *testing.T) {
	tests := []struct {
		name string
		g    inventory.Guest
		cfg  map[string]string
		want func(t *testing.T, g inventory.Guest)
	}{
		{"qemu cores x sockets", inventory.Guest{Type: inventory.QEMU, VCPUs: 99, MemoryMB: 1},
			map[string]string{"cores": "4", "sockets": "2", "memory": "16384", "agent": "enabled=1,fstrim_cloned_disks=1", "onboot": "1", "tags": "prod;db", "name": "db"},
			func(t *testing.T, g inventory.Guest) {
				if g.VCPUs != 8 || g.Cores != 4 || g.Sockets != 2 || g.MemoryMB != 16384 || !g.Agent || !g.OnBoot || !reflect.DeepEqual(g.Tags, []string{"prod", "db"}) || g.Name != "db" {
					t.Errorf("got %+v", g)
				}
			}},
		{"qemu vcpus wins, defaults", inventory.Guest{Type: inventory.QEMU, Name: "keep"},
			map[string]string{"cores": "4", "vcpus": "3", "memory": "current=2048", "name": "other"},
			func(t *testing.T, g inventory.Guest) {
				if g.VCPUs != 3 || g.Sockets != 1 || g.MemoryMB != 2048 || g.Agent || g.OnBoot || g.Name != "keep" {
					t.Errorf("got %+v", g)
				}
			}},
		{"qemu no cores", inventory.Guest{Type: inventory.QEMU},
			map[string]string{},
			func(t *testing.T, g inventory.Guest) {
				if g.VCPUs != 1 || g.Cores != 1 || g.Sockets != 1 {
					t.Errorf("got %+v", g)
				}
			}},
		{"lxc", inventory.Guest{Type: inventory.LXC, VCPUs: 32, MemoryMB: 512},
			map[string]string{"hostname": "ct", "unprivileged": "1", "rootfs": "local-lvm:subvol-1-disk-0,size=8G", "mp0": "local-lvm:subvol-1-disk-1,mp=/d,size=2G", "unused0": "local-lvm:x",
				"net1": "name=eth1,hwaddr=AA:AA:AA:AA:AA:01", "net0": "name=eth0,hwaddr=AA:AA:AA:AA:AA:00,ip=10.0.0.2/24", "scsi0": "local-lvm:nope,size=1G"},
			func(t *testing.T, g inventory.Guest) {
				if g.VCPUs != 32 || g.Cores != 32 || g.MemoryMB != 512 || !g.Unprivileged || g.Name != "ct" {
					t.Errorf("got %+v", g)
				}
				if len(g.Disks) != 2 || g.Disks[0].Key != "rootfs" || g.Disks[1].Key != "mp0" {
					t.Errorf("disks %+v", g.Disks)
				}
				if len(g.NICs) != 2 || g.NICs[0].Key != "net0" || g.NICs[1].Key != "net1" || g.NICs[0].IPv4 != "10.0.0.2/24" {
					t.Errorf("nics %+v", g.NICs)
				}
			}},
		{"qemu nics with gap and disk order", inventory.Guest{Type: inventory.QEMU},
			map[string]string{"net0": "virtio=BC:24:11:00:00:00,bridge=vmbr0", "net15": "virtio=BC:24:11:00:00:0F,bridge=vmbr0", "net2": "e1000=BC:24:11:00:00:02,bridge=vmbr0",
				"virtio0": "l:a,size=1G", "scsi10": "l:b,size=1G", "scsi2": "l:c,size=1G", "efidisk0": "l:d,size=528K", "ide2": "none,media=cdrom", "mp0": "l:x,mp=/x,size=1G"},
			func(t *testing.T, g inventory.Guest) {
				var keys []string
				for _, n := range g.NICs {
					keys = append(keys, n.Key)
				}
				if !reflect.DeepEqual(keys, []string{"net0", "net2", "net15"}) {
					t.Errorf("nics %v", keys)
				}
				keys = nil
				for _, d := range g.Disks {
					keys = append(keys, d.Key)
				}
				if !reflect.DeepEqual(keys, []string{"scsi2", "scsi10", "virtio0", "efidisk0"}) {
					t.Errorf("disks %v", keys)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.g
			GuestFromConfig(&g, tt.cfg)
			tt.want(t, g)
		})
	}
}

func TestParseAgentInterfaces(t *testing.T) {
	data := []byte(`{"result":[
		{"name":"lo","hardware-address":"00:00:00:00:00:00","ip-addresses":[{"ip-address-type":"ipv4","ip-address":"127.0.0.1","prefix":8},{"ip-address":"::1","prefix":128}]},
		{"name":"ens18","hardware-address":"bc:24:11:aa:bb:cc","ip-addresses":[{"ip-address":"10.0.0.5","prefix":"24"},{"ip-address":"fe80::be24:11ff:feaa:bbcc%ens18","prefix":64},{"ip-address":"bogus","prefix":24},{"ip-address":"10.0.0.6"}]},
		{"name":"docker0","hardware-address":null,"ip-addresses":null},
		"junk"
	]}`)
	got, err := ParseAgentInterfaces(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.GuestInterface{
		{Name: "lo", MAC: "00:00:00:00:00:00", Addresses: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")}},
		{Name: "ens18", MAC: "BC:24:11:AA:BB:CC", Addresses: []netip.Prefix{netip.MustParsePrefix("10.0.0.5/24"), netip.MustParsePrefix("fe80::be24:11ff:feaa:bbcc/64"), netip.MustParsePrefix("10.0.0.6/32")}},
		{Name: "docker0"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestParseLXCInterfaces(t *testing.T) {
	data := []byte(`[
		{"name":"lo","hwaddr":"00:00:00:00:00:00","inet":"127.0.0.1/8","inet6":"::1/128"},
		{"name":"eth0","hwaddr":"bc:24:11:89:67:07","inet":"192.168.3.95/22 192.168.3.96/22","inet6":"fe80::be24:11ff:fe89:6707/64"},
		{"name":"eth1","hwaddr":"bc:24:11:89:67:08","ip-addresses":[{"ip-address":"10.1.1.1","ip-address-type":"ipv4","prefix":24}]}
	]`)
	got, err := ParseLXCInterfaces(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].MAC != "BC:24:11:89:67:07" || len(got[1].Addresses) != 3 || got[1].Addresses[1] != netip.MustParsePrefix("192.168.3.96/22") ||
		len(got[2].Addresses) != 1 || got[2].Addresses[0] != netip.MustParsePrefix("10.1.1.1/24") {
		t.Errorf("got %+v", got)
	}
}

func TestNodeInterface(t *testing.T) {
	d := []byte(`[{"iface":"vlan50","type":"vlan","active":1,"autostart":"1","address":"10.50.0.11","netmask":"255.255.255.0","vlan-id":"50","vlan-raw-device":"bond0","mtu":"9000","comments":"storage\n"},
		{"iface":"vmbr0.20","type":"vlan","cidr":"10.20.0.1/24"},
		{"iface":"bond0","type":"bond","slaves":"eno1 eno2","bond_mode":"802.3ad"},
		{"iface":"vmbr0","type":"bridge","bridge_ports":"bond0","cidr6":"fd00::1/64","gateway":"10.0.0.1"}]`)
	items, _, err := decodeList[networkEntry](d, true)
	if err != nil {
		t.Fatal(err)
	}
	var got []inventory.NodeInterface
	for _, e := range items {
		got = append(got, nodeInterface(e))
	}
	want := []inventory.NodeInterface{
		{Name: "vlan50", Type: "vlan", Active: true, Autostart: true, CIDR: "10.50.0.11/24", MTU: 9000, VLANID: 50, VLANRawDev: "bond0", Comments: "storage"},
		{Name: "vmbr0.20", Type: "vlan", CIDR: "10.20.0.1/24", VLANID: 20, VLANRawDev: "vmbr0"},
		{Name: "bond0", Type: "bond", BondSlaves: []string{"eno1", "eno2"}, BondMode: "802.3ad"},
		{Name: "vmbr0", Type: "bridge", BridgePorts: []string{"bond0"}, CIDR6: "fd00::1/64", Gateway: "10.0.0.1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}
