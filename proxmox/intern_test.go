package proxmox

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/proxbox/proxbox/inventory"
	"github.com/proxbox/proxbox/lab/pve"
)

// A sync reads without GuestConfig: the snapshot must hold the same parsed guests as a read
// that keeps the raw configs, only without them, and no disk it keeps may be a CD-ROM of
// the raw config (sync's syncedDisk relies on that).
func TestReadGuestConfigOption(t *testing.T) {
	servers, err := pve.NewLab(pve.Options{Scale: 120, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	withCfg := FullReadOptions()
	withCfg.GuestConfig = true
	for i, srv := range servers {
		c := mustNew(t, tokenConfig(serveHTTP(t, srv)))
		ep := inventory.Endpoint{ID: int64(i + 1)}
		lean, err := c.Read(context.Background(), ep, FullReadOptions())
		if err != nil {
			t.Fatal(err)
		}
		full, err := c.Read(context.Background(), ep, withCfg)
		if err != nil {
			t.Fatal(err)
		}
		if !lean.Complete() || !full.Complete() || len(lean.Guests) == 0 || lean.Requests != full.Requests {
			t.Fatalf("endpoint %d: complete %v/%v, %d guests, requests %d/%d", i, lean.Complete(), full.Complete(), len(lean.Guests), lean.Requests, full.Requests)
		}
		cdroms := 0
		for j := range full.Guests {
			g := &full.Guests[j]
			if g.Config == nil || lean.Guests[j].Config != nil {
				t.Fatalf("%s: config kept %v with GuestConfig, %v without", guestObject(g), g.Config != nil, lean.Guests[j].Config != nil)
			}
			for k, v := range g.Config {
				if strings.Contains(v, "media=cdrom") {
					cdroms++
					for _, d := range g.Disks {
						if d.Key == k {
							t.Errorf("%s: CD-ROM %s=%q kept as a disk", guestObject(g), k, v)
						}
					}
				}
			}
			g.Config = nil
		}
		if cdroms == 0 {
			t.Errorf("endpoint %d: the lab has no CD-ROM: the test proves nothing", i)
		}
		for _, part := range []struct {
			name       string
			lean, full any
		}{
			{"guests", lean.Guests, full.Guests}, {"nodes", lean.Nodes, full.Nodes}, {"storage", lean.Storage, full.Storage},
			{"backups", lean.Backups, full.Backups}, {"snapshots", lean.Snapshots, full.Snapshots},
			{"replications", lean.Replications, full.Replications}, {"backup jobs", lean.BackupJobs, full.BackupJobs},
			{"tasks", lean.Tasks, full.Tasks}, {"read", lean.Read, full.Read},
		} {
			if !reflect.DeepEqual(part.lean, part.full) {
				t.Errorf("endpoint %d: %s differ without GuestConfig", i, part.name)
			}
		}
	}
}

// GuestFromConfig, the exported parser, still keeps the config it was given.
func TestGuestFromConfigKeepsConfig(t *testing.T) {
	cfg := map[string]string{"name": "web", "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0", "scsi0": "local-lvm:vm-1-disk-0,size=8G"}
	var g inventory.Guest
	GuestFromConfig(&g, cfg)
	if !reflect.DeepEqual(g.Config, cfg) || g.Name != "web" || len(g.NICs) != 1 || len(g.Disks) != 1 {
		t.Errorf("guest %+v", g)
	}
}

func TestStrtab(t *testing.T) {
	var tab strtab
	long := "local-lvm:vm-101-disk-0,size=32G"
	a := tab.intern(long[:9])
	b := tab.intern(strings.Clone("local-lvm"))
	if a != "local-lvm" || b != "local-lvm" || strings.Clone(a) != b {
		t.Fatalf("intern: %q %q", a, b)
	}
	if unsafe.StringData(a) == unsafe.StringData(long) {
		t.Errorf("interned value shares the long string")
	}
	if tab.intern("") != "" || len(tab.m) != 1 {
		t.Errorf("table %v", tab.m)
	}
	var none *strtab // the exported parsers: values as given
	if none.intern("x") != "x" || none.own("y") != "y" {
		t.Errorf("nil table changed a value")
	}
}

func TestExact(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []int
		want []int
	}{
		{"nil stays nil", nil, nil},
		{"empty stays empty, not nil", make([]int, 0, 4), []int{}},
		{"spare room dropped", append(make([]int, 0, 8), 1, 2, 3), []int{1, 2, 3}},
		{"full kept", []int{1}, []int{1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := exact(tt.in)
			if (got == nil) != (tt.want == nil) || !reflect.DeepEqual(got, tt.want) || cap(got) != len(got) {
				t.Errorf("exact = %#v (cap %d), want %#v", got, cap(got), tt.want)
			}
		})
	}
}
