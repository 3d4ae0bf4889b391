package nbadapter_test

import (
	"os"
	"strconv"
	"testing"

	nblab "github.com/proxbox/proxbox/lab/netbox"
	pvelab "github.com/proxbox/proxbox/lab/pve"
	"github.com/proxbox/proxbox/proxmox"
	pbsync "github.com/proxbox/proxbox/sync"
)

// TestWithoutPluginReadsOnlyCoreData: on a NetBox without netbox-proxbox, a
// full sync reads only the Proxmox data of the core stages (no storage,
// backups, snapshots, replications, backup jobs or tasks), and syncs the same
// core objects as a run that read everything. PROXBOX_TEST_GUESTS sets the
// generated lab's size (default 60; docs/sync.md quotes 1,000).
func TestWithoutPluginReadsOnlyCoreData(t *testing.T) {
	scale := 60
	if n, err := strconv.Atoi(os.Getenv("PROXBOX_TEST_GUESTS")); err == nil && n > 0 {
		scale = n
	}
	run := func(readAll bool) *pbsync.Summary {
		pves, err := pvelab.NewLab(pvelab.Options{Scale: scale, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		h := newHarnessWith(t, nblab.Options{DisablePlugin: true}, proxmox.FullReadOptions, pves...)
		h.readAll = readAll
		return h.sync(pbsync.Options{})
	}
	before, after := run(true), run(false)
	t.Logf("%d guests, no plugin: Proxmox requests %d reading everything, %d reading what the core stages need", scale, before.Proxmox.Requests, after.Proxmox.Requests)
	if after.Proxmox.Requests >= before.Proxmox.Requests {
		t.Errorf("Proxmox requests %d, not fewer than %d", after.Proxmox.Requests, before.Proxmox.Requests)
	}
	for _, typ := range []string{"virtual_machines", "vm_interfaces", "ip_addresses", "virtual_disks", "devices", "interfaces"} {
		b, a := before.Objects[typ], after.Objects[typ]
		if b == nil || a == nil || b.Created != a.Created || a.Failed != b.Failed {
			t.Errorf("%s: %+v reading everything, %+v reading less", typ, b, a)
		}
	}
}
