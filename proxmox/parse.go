package proxmox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/proxbox/proxbox/inventory"
)

// Pure parsers of PVE config values. Facts: ../shared/spec/proxbox-sync-engine.md §6.2-§6.4
// (we fix the defects listed there: every netN, every NIC model, virtio disks, rootfs,
// efidisk/tpmstate, K sizes).

// SplitProps parses a PVE property string "a,k=v,k2=v2". def is the leading element when
// it has no "=" (the format's default key, e.g. the volume of a disk or "1" of agent);
// keys are lower-cased and trimmed; later duplicates win.
func SplitProps(s string) (def string, props map[string]string) {
	props = map[string]string{}
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			if i == 0 {
				def = part
			} else {
				props[strings.ToLower(part)] = ""
			}
			continue
		}
		props[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	return def, props
}

// NormalizeMAC returns a MAC as upper-case, colon-separated pairs, or "" when s is not a
// 48-bit MAC (colons, dashes, dots or no separators are accepted).
func NormalizeMAC(s string) string {
	var hexd [12]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':' || c == '-' || c == '.' || c == ' ':
			continue
		case c >= 'a' && c <= 'f':
			c -= 'a' - 'A'
		case (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'):
		default:
			return ""
		}
		if n == len(hexd) {
			return ""
		}
		hexd[n] = c
		n++
	}
	if n != len(hexd) {
		return ""
	}
	var out [17]byte
	for i := 0; i < 6; i++ {
		if i > 0 {
			out[i*3-1] = ':'
		}
		out[i*3], out[i*3+1] = hexd[2*i], hexd[2*i+1]
	}
	return string(out[:])
}

// ParseTags splits PVE tags ("prod;web", also comma or space separated), trims them,
// drops empties and duplicates, keeping order.
func ParseTags(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == ' ' || r == '\t' || r == '\n' })
	out := make([]string, 0, len(f))
	seen := make(map[string]bool, len(f))
	for _, t := range f {
		t = strings.TrimSpace(t)
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ParseSizeMB converts a PVE size ("32G", "528K", "4M", "1T", a bare number of bytes,
// decimals allowed) to MiB (NetBox's "MB"), rounding up a partial MiB. ok is false for an
// empty or unreadable size.
func ParseSizeMB(s string) (mb int64, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	mult := 1.0
	switch s[len(s)-1] {
	case 'K', 'k':
		mult = 1 << 10
	case 'M', 'm':
		mult = 1 << 20
	case 'G', 'g':
		mult = 1 << 30
	case 'T', 't':
		mult = 1 << 40
	case 'P', 'p':
		mult = 1 << 50
	case 'B', 'b':
	}
	num := strings.TrimRight(s, "KkMmGgTtPpBb")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	bytes := v * mult
	if bytes > math.MaxInt64/2 {
		return 0, false
	}
	return int64(math.Ceil(bytes / (1 << 20))), true
}

// AgentEnabled reads QEMU's agent option: "1", "enabled=1,fstrim_cloned_disks=1", "0".
func AgentEnabled(v string) bool {
	def, props := SplitProps(v)
	if e, ok := props["enabled"]; ok {
		return truthy(e)
	}
	return truthy(def)
}

// keyIndex splits "net12" into ("net", 12); ok is false when there is no numeric suffix.
func keyIndex(key string) (prefix string, idx int, ok bool) {
	i := len(key)
	for i > 0 && key[i-1] >= '0' && key[i-1] <= '9' {
		i--
	}
	if i == len(key) || i == 0 || len(key)-i > 4 {
		return key, 0, false
	}
	n, err := strconv.Atoi(key[i:])
	if err != nil {
		return key, 0, false
	}
	return key[:i], n, true
}

// qemuNICModels are the NIC models of PVE's netN (the model key carries the MAC).
var qemuNICModels = map[string]bool{
	"virtio": true, "e1000": true, "e1000e": true, "rtl8139": true, "vmxnet3": true,
	"i82551": true, "i82557b": true, "i82559er": true, "ne2k_isa": true, "ne2k_pci": true,
	"pcnet": true, "e1000-82540em": true, "e1000-82544gc": true, "e1000-82545em": true,
}

// ParseQEMUNIC parses a QEMU netN value, e.g.
// "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,tag=10,mtu=9000,firewall=1,link_down=1,trunks=10;20".
// ok is false when key is not netN.
func ParseQEMUNIC(key, value string) (nic inventory.NIC, ok bool) {
	p, idx, ok := keyIndex(key)
	if !ok || p != "net" {
		return nic, false
	}
	nic = inventory.NIC{Key: key, Index: idx}
	def, props := SplitProps(value)
	for k, v := range props {
		if qemuNICModels[k] {
			nic.Model = k
			nic.MAC = NormalizeMAC(v)
		}
	}
	if m := props["model"]; m != "" {
		nic.Model = strings.ToLower(m)
	} else if nic.Model == "" && qemuNICModels[strings.ToLower(def)] {
		nic.Model = strings.ToLower(def)
	}
	if m := props["macaddr"]; m != "" {
		nic.MAC = NormalizeMAC(m)
	}
	commonNIC(&nic, props)
	return nic, true
}

// ParseLXCNIC parses an LXC netN value, e.g.
// "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:AA:BB:CC,ip=10.0.0.5/24,gw=10.0.0.1,ip6=auto,tag=10,type=veth".
func ParseLXCNIC(key, value string) (nic inventory.NIC, ok bool) {
	p, idx, ok := keyIndex(key)
	if !ok || p != "net" {
		return nic, false
	}
	nic = inventory.NIC{Key: key, Index: idx, Model: "veth"}
	_, props := SplitProps(value)
	if t := props["type"]; t != "" {
		nic.Model = t
	}
	nic.Name = props["name"]
	nic.MAC = NormalizeMAC(props["hwaddr"])
	nic.IPv4 = props["ip"]
	nic.IPv6 = props["ip6"]
	nic.Gateway = props["gw"]
	nic.Gateway6 = props["gw6"]
	commonNIC(&nic, props)
	return nic, true
}

func commonNIC(nic *inventory.NIC, props map[string]string) {
	nic.Bridge = props["bridge"]
	nic.VLAN = int(parseIntLoose(props["tag"]))
	nic.MTU = int(parseIntLoose(props["mtu"]))
	nic.Firewall = truthy(props["firewall"])
	nic.LinkDown = truthy(props["link_down"])
	for _, t := range strings.FieldsFunc(props["trunks"], func(r rune) bool { return r == ';' || r == ' ' }) {
		if lo, hi, isRange := strings.Cut(t, "-"); isRange {
			a, b := parseIntLoose(lo), parseIntLoose(hi)
			for v := a; v <= b && v-a < 4096 && v > 0; v++ {
				nic.Trunks = append(nic.Trunks, int(v))
			}
			continue
		}
		if v := parseIntLoose(t); v > 0 {
			nic.Trunks = append(nic.Trunks, int(v))
		}
	}
}

// diskBuses are the config keys that hold disks; the value says whether an index is
// required (rootfs has none).
var diskBuses = map[string]bool{
	"ide": true, "sata": true, "scsi": true, "virtio": true, "efidisk": true, "tpmstate": true, "mp": true,
}

var busRank = map[string]int{"rootfs": 0, "mp": 1, "ide": 2, "sata": 3, "scsi": 4, "virtio": 5, "efidisk": 6, "tpmstate": 7}

// ParseDisk parses a disk config entry: QEMU ide/sata/scsi/virtio/efidisk/tpmstate N, LXC
// rootfs and mpN ("local-lvm:vm-101-disk-0,size=32G", "local-lvm:vm-102-disk-1,mp=/data,size=8G").
// ok is false for keys that are not disks (unusedN included) and for entries that are not a
// virtual disk: CD-ROMs (media=cdrom, cloud-init drives included), empty drives ("none")
// and bind mounts without a size.
func ParseDisk(key, value string) (d inventory.Disk, ok bool) {
	bus := key
	if key != "rootfs" {
		p, _, hasIdx := keyIndex(key)
		if !hasIdx || !diskBuses[p] {
			return d, false
		}
		bus = p
	}
	def, props := SplitProps(value)
	if v := props["file"]; v != "" {
		def = v
	}
	if v := props["volume"]; v != "" {
		def = v
	}
	if strings.EqualFold(props["media"], "cdrom") || strings.Contains(strings.ToLower(value), "media=cdrom") || def == "" || def == "none" || def == "cdrom" {
		return d, false
	}
	size, hasSize := ParseSizeMB(props["size"])
	if strings.HasPrefix(def, "/") && !hasSize {
		return d, false // bind mount or device passthrough of unknown size
	}
	d = inventory.Disk{Key: key, Bus: bus, SizeMB: size, MountPoint: props["mp"]}
	if key == "rootfs" {
		d.MountPoint = "/"
	}
	if st, vol, found := strings.Cut(def, ":"); found && !strings.HasPrefix(def, "/") {
		d.Storage, d.Volume = st, vol
	} else {
		d.Volume = def
	}
	return d, true
}

// GuestFromConfig fills the config-derived fields of g from a guest config (values as
// strings) and keeps cfg as g.Config. Fields the config does not set keep what g had
// (e.g. from /cluster/resources).
func GuestFromConfig(g *inventory.Guest, cfg map[string]string) {
	guestFromConfig(g, cfg, nil)
	g.Config = cfg
}

// guestFromConfig is GuestFromConfig without keeping cfg, the values g keeps taken
// through t (see strtab).
func guestFromConfig(g *inventory.Guest, cfg map[string]string, t *strtab) {
	if g.Name == "" {
		if g.Type == inventory.LXC {
			g.Name = cfg["hostname"]
		} else {
			g.Name = cfg["name"]
		}
	}
	if v, ok := cfg["tags"]; ok {
		g.Tags = t.internAll(ParseTags(v))
	}
	if truthy(cfg["template"]) {
		g.Template = true
	}
	g.OSType = t.intern(cfg["ostype"])
	g.OnBoot = truthy(cfg["onboot"])
	g.Description = cfg["description"]
	g.SearchDomain = t.intern(cfg["searchdomain"])
	if mem, ok := parseMemoryMB(cfg["memory"]); ok {
		g.MemoryMB = mem
	}
	cores := int(parseIntLoose(cfg["cores"]))
	sockets := int(parseIntLoose(cfg["sockets"]))
	if g.Type == inventory.LXC {
		g.Unprivileged = truthy(cfg["unprivileged"])
		g.Sockets = 1
		if cores > 0 {
			g.Cores = cores
			g.VCPUs = float64(cores)
		} else if g.VCPUs > 0 && g.Cores == 0 {
			g.Cores = int(g.VCPUs) // all host CPUs, as /cluster/resources maxcpu says
		}
	} else {
		g.Agent = AgentEnabled(cfg["agent"])
		g.Cores, g.Sockets = max(cores, 1), max(sockets, 1)
		g.VCPUs = float64(g.Cores * g.Sockets)
		if v := parseIntLoose(cfg["vcpus"]); v > 0 {
			g.VCPUs = float64(v)
		}
	}
	g.NICs, g.Disks = nil, nil
	for k, v := range cfg {
		if strings.HasPrefix(k, "net") {
			var nic inventory.NIC
			var ok bool
			if g.Type == inventory.LXC {
				nic, ok = ParseLXCNIC(k, v)
			} else {
				nic, ok = ParseQEMUNIC(k, v)
			}
			if ok {
				t.nic(&nic)
				g.NICs = append(g.NICs, nic)
			}
			continue
		}
		if d, ok := ParseDisk(k, v); ok {
			if (g.Type == inventory.LXC) != (d.Bus == "rootfs" || d.Bus == "mp") {
				continue // a key of the other guest type
			}
			t.disk(&d)
			g.Disks = append(g.Disks, d)
		}
	}
	if t != nil {
		g.NICs, g.Disks = exact(g.NICs), exact(g.Disks)
	}
	sort.Slice(g.NICs, func(i, j int) bool { return g.NICs[i].Index < g.NICs[j].Index })
	sort.Slice(g.Disks, func(i, j int) bool {
		a, b := g.Disks[i], g.Disks[j]
		if busRank[a.Bus] != busRank[b.Bus] {
			return busRank[a.Bus] < busRank[b.Bus]
		}
		_, x, _ := keyIndex(a.Key)
		_, y, _ := keyIndex(b.Key)
		return x < y
	})
}

// parseMemoryMB reads QEMU/LXC memory: "2048", 2048, or PVE 8's "current=2048".
func parseMemoryMB(v string) (int64, bool) {
	if strings.TrimSpace(v) == "" {
		return 0, false
	}
	def, props := SplitProps(v)
	if c, ok := props["current"]; ok {
		def = c
	}
	n := parseIntLoose(def)
	return n, n > 0
}

// ---------------------------------------------------------------------------------------
// guest-side interfaces

// ParseAgentInterfaces parses the data of QEMU's agent/network-get-interfaces
// ({"result":[{"name","hardware-address","ip-addresses":[…]}]}; a bare list is accepted).
// Loopback and link-local addresses are kept: the sync engine decides what to skip.
func ParseAgentInterfaces(data []byte) ([]inventory.GuestInterface, error) {
	list := bytes.TrimSpace(data)
	if len(list) > 0 && list[0] == '{' {
		r, err := decodeObject[agentReply](list)
		if err != nil {
			return nil, err
		}
		list = r.Result
	}
	ifaces, _, err := decodeList[agentIface](list, false)
	if err != nil {
		return nil, err
	}
	out := make([]inventory.GuestInterface, 0, len(ifaces))
	for _, in := range ifaces {
		gi := inventory.GuestInterface{Name: string(in.Name), MAC: NormalizeMAC(string(in.MAC))}
		for _, a := range in.IPAddresses {
			bits := -1
			if a.Prefix != nil {
				bits = int(*a.Prefix)
			}
			if p, ok := makePrefix(string(a.Address), bits); ok {
				gi.Addresses = appendPrefix(gi.Addresses, p)
			}
		}
		out = append(out, gi)
	}
	return out, nil
}

// ParseLXCInterfaces parses /nodes/{node}/lxc/{vmid}/interfaces: items with name, hwaddr,
// inet and inet6 ("10.0.0.5/24", several separated by spaces or commas), or an
// "ip-addresses" list shaped like the guest agent's.
func ParseLXCInterfaces(data []byte) ([]inventory.GuestInterface, error) {
	items, _, err := decodeList[lxcIface](data, true)
	if err != nil {
		return nil, err
	}
	out := make([]inventory.GuestInterface, 0, len(items))
	for _, in := range items {
		gi := inventory.GuestInterface{Name: string(in.Name), MAC: NormalizeMAC(string(in.HWAddr))}
		for _, s := range []flexString{in.Inet, in.Inet6} {
			for _, f := range strings.FieldsFunc(string(s), func(r rune) bool { return r == ' ' || r == ',' }) {
				addr, bits := f, -1
				if a, b, ok := strings.Cut(f, "/"); ok {
					addr, bits = a, int(parseIntLoose(b))
				}
				if p, ok := makePrefix(addr, bits); ok {
					gi.Addresses = appendPrefix(gi.Addresses, p)
				}
			}
		}
		if !isNull(in.IPs) {
			var ips []struct {
				Address flexString `json:"ip-address"`
				Prefix  *flexInt   `json:"prefix"`
			}
			if json.Unmarshal(in.IPs, &ips) == nil {
				for _, a := range ips {
					bits := -1
					if a.Prefix != nil {
						bits = int(*a.Prefix)
					}
					if p, ok := makePrefix(string(a.Address), bits); ok {
						gi.Addresses = appendPrefix(gi.Addresses, p)
					}
				}
			}
		}
		out = append(out, gi)
	}
	return out, nil
}

// makePrefix builds addr/bits; bits < 0 or out of range means a host prefix. A zone
// ("fe80::1%eth0") is dropped.
func makePrefix(addr string, bits int) (netip.Prefix, bool) {
	addr = strings.TrimSpace(addr)
	if i := strings.IndexByte(addr, '%'); i >= 0 {
		addr = addr[:i]
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	if bits < 0 || bits > a.BitLen() {
		bits = a.BitLen()
	}
	return netip.PrefixFrom(a, bits), true
}

func appendPrefix(l []netip.Prefix, p netip.Prefix) []netip.Prefix {
	for _, e := range l {
		if e == p {
			return l
		}
	}
	return append(l, p)
}

// ---------------------------------------------------------------------------------------
// node network

// nodeInterface maps one /nodes/{node}/network entry.
func nodeInterface(e networkEntry) inventory.NodeInterface {
	ni := inventory.NodeInterface{
		Name:       string(e.Iface),
		Type:       string(e.Type),
		Active:     bool(e.Active),
		Autostart:  bool(e.Autostart),
		CIDR:       string(e.CIDR),
		CIDR6:      string(e.CIDR6),
		Gateway:    string(e.Gateway),
		MTU:        int(e.MTU),
		BondMode:   string(e.BondMode),
		VLANID:     int(e.VLANID),
		VLANRawDev: string(e.VLANRawDev),
		Comments:   strings.TrimSpace(string(e.Comments)),
	}
	if ni.CIDR == "" {
		ni.CIDR = joinCIDR(string(e.Address), string(e.Netmask))
	}
	if ni.CIDR6 == "" {
		ni.CIDR6 = joinCIDR(string(e.Address6), string(e.Netmask6))
	}
	if ni.VLANID == 0 {
		ni.VLANID = int(e.VLANID2)
	}
	if ni.VLANRawDev == "" {
		ni.VLANRawDev = string(e.VLANRawDev2)
	}
	if ni.Type == "vlan" && ni.VLANID == 0 {
		if dev, id, ok := strings.Cut(ni.Name, "."); ok {
			ni.VLANID = int(parseIntLoose(id))
			if ni.VLANRawDev == "" {
				ni.VLANRawDev = dev
			}
		}
	}
	ni.BridgePorts = splitList(string(e.BridgePorts))
	ni.BondSlaves = splitList(string(e.Slaves))
	return ni
}

// joinCIDR builds address/len from an address and a netmask ("24" or "255.255.255.0").
func joinCIDR(addr, mask string) string {
	addr, mask = strings.TrimSpace(addr), strings.TrimSpace(mask)
	if addr == "" {
		return ""
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return ""
	}
	if mask == "" {
		return netip.PrefixFrom(a, a.BitLen()).String()
	}
	if n, err := strconv.Atoi(mask); err == nil && n >= 0 && n <= a.BitLen() {
		return fmt.Sprintf("%s/%d", a, n)
	}
	if m, err := netip.ParseAddr(mask); err == nil && m.Is4() && a.Is4() {
		b := m.As4()
		ones := 0
		for _, x := range b {
			for i := 7; i >= 0; i-- {
				if x&(1<<i) != 0 {
					ones++
				}
			}
		}
		return fmt.Sprintf("%s/%d", a, ones)
	}
	return ""
}
