package netbox

import (
	"context"
	"fmt"
	"testing"
)

// seedGuests fills a simulator with n VMs in one cluster, each with one interface, one IPv4
// address on it (primary) and two virtual disks: the shape a Proxmox sync leaves behind.
func seedGuests(tb testing.TB, n int) *Server {
	tb.Helper()
	srv := New(Options{Tokens: []Token{{Value: testV1}}})
	ctx := context.Background()
	create := func(model string, body any) []any {
		v, err := srv.Create(ctx, model, body)
		if err != nil {
			tb.Fatal(err)
		}
		if l, ok := v.([]any); ok {
			return l
		}
		return []any{v}
	}
	id := func(v any) int64 { return int64(v.(map[string]any)["id"].(float64)) }
	ct := id(create("virtualization.clustertype", map[string]any{"name": "Proxmox", "slug": "proxmox"})[0])
	cl := id(create("virtualization.cluster", map[string]any{"name": "pve", "type": ct})[0])
	const batch = 500
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		var vms, ifs, ips, disks []any
		for i := lo; i < hi; i++ {
			vms = append(vms, map[string]any{"name": fmt.Sprintf("vm%06d", i), "cluster": cl, "status": "active"})
		}
		vmIDs := create("virtualization.virtualmachine", vms)
		for i, v := range vmIDs {
			ifs = append(ifs, map[string]any{"virtual_machine": id(v), "name": "net0"})
			for d := range 2 {
				disks = append(disks, map[string]any{"virtual_machine": id(v), "name": fmt.Sprintf("scsi%d", d), "size": 1024 * (d + 1)})
			}
			_ = i
		}
		ifIDs := create("virtualization.vminterface", ifs)
		for i, v := range ifIDs {
			ips = append(ips, map[string]any{"address": ipFor(lo + i), "assigned_object_type": "virtualization.vminterface", "assigned_object_id": id(v)})
		}
		ipIDs := create("ipam.ipaddress", ips)
		create("virtualization.virtualdisk", disks)
		for i, v := range vmIDs {
			if _, err := srv.Update(ctx, "virtualization.virtualmachine", id(v), map[string]any{"primary_ip4": id(ipIDs[i])}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return srv
}

// ipFor is the i-th host address of 10.0.0.0/8, skipping .0 and .255.
func ipFor(i int) string {
	return fmt.Sprintf("10.%d.%d.%d/24", i/(254*256)%256, i/254%256, 1+i%254)
}

// BenchmarkIndexedWrites measures the write paths a sync hits per object, each in a table of
// 1,000 and of 10,000 guests: ns/op must be the same at both sizes (hash indexes, not table
// scans). Every op runs in a transaction that is rolled back, so the tables keep their size
// and the rollback's index upkeep is measured too.
//
//	vm-create:   checkUnique (name per cluster) and clean of a new VM
//	ip-create:   cleanIP's global uniqueness of a new address
//	disk-create: checkUnique (name per VM) and syncVMDisk (the VM's disk sum)
//	vm-update:   clean's disk sum check and primary IP ownership of an existing VM
//	ip-move:     cleanIP's primary-IP reassignment check of an IP moved to another VM
//	vm-delete:   the cascade to the VM's interface, IP and disks (protected/cascade lookups)
func BenchmarkIndexedWrites(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		srv := seedGuests(b, n)
		st := srv.st
		vmM, ipM, diskM := st.byKey["virtualization.virtualmachine"], st.byKey["ipam.ipaddress"], st.byKey["virtualization.virtualdisk"]
		mid := int64(n / 2) // a VM (and interface, IP) in the middle of the tables
		ops := []struct {
			name string
			run  func(t *tx, i int) errMap
		}{
			{"vm-create", func(t *tx, i int) errMap {
				_, errs := t.create(vmM, map[string]any{"name": fmt.Sprintf("new%d", i), "cluster": int64(1)})
				return errs
			}},
			{"ip-create", func(t *tx, i int) errMap {
				_, errs := t.create(ipM, map[string]any{"address": ipFor(n + 1 + i%1000)})
				return errs
			}},
			{"disk-create", func(t *tx, i int) errMap {
				_, errs := t.create(diskM, map[string]any{"virtual_machine": mid, "name": fmt.Sprintf("new%d", i), "size": int64(512)})
				return errs
			}},
			{"vm-update", func(t *tx, i int) errMap {
				_, errs := t.update(vmM, mid, map[string]any{"memory": int64(1024 + i%7)}, true)
				return errs
			}},
			{"ip-move", func(t *tx, i int) errMap {
				_, errs := t.update(ipM, mid, map[string]any{"assigned_object_id": mid + 1}, true)
				if errs == nil {
					return errMap{"ip-move": "accepted a primary IP moved to another VM"}
				}
				return nil
			}},
			{"vm-delete", func(t *tx, i int) errMap {
				if err := t.delete(vmM, mid); err != nil {
					return errMap{"delete": err.Error()}
				}
				return nil
			}},
		}
		for _, op := range ops {
			b.Run(fmt.Sprintf("%s/rows=%d", op.name, n), func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					st.mu.Lock()
					t := &tx{s: st}
					errs := op.run(t, i)
					t.rollback()
					st.mu.Unlock()
					if errs != nil {
						b.Fatal(errs)
					}
					i++
				}
			})
		}
	}
}
