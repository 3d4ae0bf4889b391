package proxmox

import (
	"strings"
	"sync"

	"github.com/proxbox/proxbox/inventory"
)

// strtab keeps what a snapshot holds per guest small (at 100,000 guests every sync holds
// all endpoints' snapshots at once): values that repeat from guest to guest (node, storage
// and bridge names, statuses, NIC models, config keys, tags) are held once per read, and
// values cut out of a longer reply string (a disk's volume out of "local-lvm:vm-101-disk-0,
// size=32G,...") are copied so the long string is not kept alive with them. A nil *strtab
// keeps every value as given (the exported pure parsers).
type strtab struct {
	mu sync.Mutex
	m  map[string]string
}

// intern returns the table's copy of s, adding one the first time.
func (t *strtab) intern(s string) string {
	if t == nil || s == "" {
		return s
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok := t.m[s]; ok {
		return v
	}
	if t.m == nil {
		t.m = map[string]string{}
	}
	v := strings.Clone(s)
	t.m[v] = v
	return v
}

// own returns a copy of s holding only its bytes (s is unique to one object, e.g. a volume
// or an address, and may be part of a longer string).
func (t *strtab) own(s string) string {
	if t == nil {
		return s
	}
	return strings.Clone(s)
}

// internAll interns every element of l in place.
func (t *strtab) internAll(l []string) []string {
	for i := range l {
		l[i] = t.intern(l[i])
	}
	return l
}

func (t *strtab) nic(n *inventory.NIC) {
	n.Key, n.Model, n.Name, n.Bridge = t.intern(n.Key), t.intern(n.Model), t.intern(n.Name), t.intern(n.Bridge)
	n.IPv4, n.IPv6 = t.own(n.IPv4), t.own(n.IPv6)
	n.Gateway, n.Gateway6 = t.intern(n.Gateway), t.intern(n.Gateway6)
	if t != nil {
		n.Trunks = exact(n.Trunks)
	}
}

func (t *strtab) disk(d *inventory.Disk) {
	d.Key, d.Bus, d.Storage, d.MountPoint = t.intern(d.Key), t.intern(d.Bus), t.intern(d.Storage), t.intern(d.MountPoint)
	d.Volume = t.own(d.Volume)
}

// ifaces interns the names of guest-side interfaces and trims their address lists.
func (t *strtab) ifaces(l []inventory.GuestInterface) []inventory.GuestInterface {
	for i := range l {
		l[i].Name = t.intern(l[i].Name)
		l[i].Addresses = exact(l[i].Addresses)
	}
	return exact(l)
}

// exact returns l in an array of its length: append leaves up to twice the room needed,
// and a snapshot keeps its slices for the whole run.
func exact[T any](l []T) []T {
	if len(l) == cap(l) {
		return l
	}
	if len(l) == 0 {
		if l == nil {
			return nil
		}
		return []T{} // empty, not nil: "read, nothing found" stays told apart from "not read"
	}
	return append(make([]T, 0, len(l)), l...)
}
