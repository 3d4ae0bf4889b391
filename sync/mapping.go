package sync

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/proxbox/proxbox/inventory"
)

// EndpointLabel is the endpoint's identity in NetBox (the value of the
// proxmox_endpoint custom field of its cluster, and the prefix of every key
// of its objects). An endpoint pushed by the netbox-proxbox plugin carries
// its plugin row's key in its name ("PVE (nb:3)"): the label is then "nb:3",
// so renaming the row in NetBox does not orphan its cluster. Otherwise it is
// the endpoint's Key (a stored endpoint's immutable key, an inline
// endpoint's --pve-name or host:port), else its name, else its host, else
// endpoint-<id>. See the package doc for how labels are kept unique.
func EndpointLabel(ep inventory.Endpoint) string {
	if m := pluginRowKey.FindStringSubmatch(ep.Name); m != nil {
		return "nb:" + m[1]
	}
	for _, s := range []string{ep.Key, ep.Name, ep.Host} {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return "endpoint-" + strconv.FormatInt(ep.ID, 10)
}

var pluginRowKey = regexp.MustCompile(`\(nb:(\d+)\)\s*$`)

// ClusterName is the NetBox cluster name a snapshot asks for: the PVE cluster
// name, or "<node> (<endpoint>)" for a standalone node so that two endpoints'
// standalone nodes never meet in one cluster.
func ClusterName(s *inventory.Snapshot) string {
	name := strings.TrimSpace(s.Cluster.Name)
	if name == "" && len(s.Nodes) > 0 {
		name = s.Nodes[0].Name
	}
	if s.Cluster.Standalone || name == "" {
		return truncate(fmt.Sprintf("%s (%s)", name, EndpointLabel(s.Endpoint)), 100)
	}
	return truncate(name, 100)
}

// FallbackClusterName is used when ClusterName is held by another owner.
func FallbackClusterName(s *inventory.Snapshot) string {
	n := ClusterName(s)
	if s.Cluster.Standalone {
		return truncate(fmt.Sprintf("%s [%d]", n, s.Endpoint.ID), 100)
	}
	return truncate(fmt.Sprintf("%s (%s)", n, EndpointLabel(s.Endpoint)), 100)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Keys of the objects the mapping creates. Current NetBox objects are keyed
// the same way (see keys.go), which is how desired meets current.
func vmKey(cluster string, t inventory.GuestType, vmid int) string {
	return cluster + "/" + string(t) + "/" + strconv.Itoa(vmid)
}
func deviceKey(cluster, node string) string { return cluster + "/" + node }
func ifaceKey(parent, name string) string   { return parent + "/if/" + name }
func diskKey(vm, name string) string        { return vm + "/disk/" + name }
func macKey(iface string) string            { return iface + "/mac" }
func ipKey(iface, addr string) string       { return iface + "|" + addr }
func vlanKey(site string, vid int) string   { return site + "/" + strconv.Itoa(vid) }
func pveTagSlug(tag string) string          { return truncate(pveTagPrefix+Slugify(tag), 100) }
func clusterTypeSlug(standalone bool) string {
	return map[bool]string{true: "standalone", false: "cluster"}[standalone]
}

const (
	roleNode = "proxmox-node"
	roleQEMU = "virtual-machine-qemu"
	roleLXC  = "container-lxc"
	mfrSlug  = "proxmox"
	dtSlug   = "proxmox-generic-device"
)

// mapShared adds what every run ensures before its stages: the proxbox tags
// and the custom fields the plugin and the engine read.
func mapShared(d *Desired, opt MapOptions) {
	tag := func(slug, name, color, descr string) {
		o := newObject(ModelTag, slug, "tag "+slug, "")
		o.Fields.Set("name", name)
		o.Fields.Set("slug", slug)
		o.Fields.Set("color", color)
		o.Fields.Set("description", descr)
		o.ensureOnly()
		d.Add(o)
	}
	tag(TagProxbox, "Proxbox", "ff5722", "Proxbox Identifier (used to identify the items the plugin created)")
	tag(TagOrphan, "Proxbox Orphan", "9e9e9e", "Gone from Proxmox; kept by proxbox's orphan policy")
	cf := func(name, typ, label string, types ...string) {
		o := newObject(ModelCustomField, name, "custom field "+name, "")
		o.Fields.Set("name", name)
		o.Fields.Set("type", typ)
		o.Fields.Set("label", label)
		o.Fields.Set("group_name", "Proxmox")
		o.Fields.Set("ui_editable", "hidden")
		o.Fields.Set("object_types", types)
		o.flag(flagSetFields, "object_types")
		o.flag(flagCreateOnly, "name", "type", "label", "group_name", "ui_editable")
		d.Add(o)
	}
	if opt.vrfOn() {
		cf(CFEndpoint, "text", "Proxmox endpoint", "virtualization.cluster", "ipam.vrf")
	} else {
		cf(CFEndpoint, "text", "Proxmox endpoint", "virtualization.cluster")
	}
	cf(CFPVECluster, "text", "Proxmox identity", "virtualization.cluster")
	cf(CFVMID, "integer", "VM ID", "virtualization.virtualmachine")
	cf(CFVMType, "text", "VM type", "virtualization.virtualmachine")
	cf(CFNode, "text", "Proxmox node", "virtualization.virtualmachine")
	cf(CFOrphanedAt, "text", "Orphaned at", "virtualization.virtualmachine", "dcim.device")
}

// Map turns one snapshot into the desired NetBox state. It is pure: same
// snapshot and options, same result.
func Map(s *inventory.Snapshot, opt MapOptions) *Desired {
	d := newDesired()
	label := EndpointLabel(s.Endpoint)
	d.Endpoint, d.Cluster, d.Complete = label, label, s.Complete()
	ow := opt.Overwrite
	mode := "cluster"
	if s.Cluster.Standalone {
		mode = "standalone"
	}

	mapShared(d, opt)

	// Devices stage: cluster and its dependencies, nodes.
	ct := newObject(ModelClusterType, clusterTypeSlug(s.Cluster.Standalone), "cluster type "+mode, StageDevices)
	ct.Fields.Set("name", strings.ToUpper(mode[:1])+mode[1:])
	ct.Fields.Set("slug", ct.Key)
	ct.Fields.Set("description", "Proxmox "+mode+" mode")
	ct.ensureOnly()
	d.Add(ct)

	cname := opt.ClusterName
	if cname == "" {
		cname = ClusterName(s)
	}
	cl := newObject(ModelCluster, label, "cluster "+cname, StageDevices)
	cl.Fields.Set("name", cname)
	cl.Fields.Set("status", "active")
	cl.Fields.Set("description", "Proxmox "+mode+" cluster.")
	cl.ref("type", ModelClusterType, ct.Key)
	cl.setTags(TagProxbox)
	cl.setCF(CFEndpoint, label)
	if id := ProxmoxIdentity(s); id != "" {
		cl.setCF(CFPVECluster, id)
	}
	createOnlyUnless(cl, ow, "overwrite_cluster_tags", "tags")
	createOnlyUnless(cl, ow, "overwrite_cluster_description", "description")
	createOnlyUnless(cl, ow, "overwrite_cluster_custom_fields", "custom_fields")
	d.Add(cl)

	if opt.vrfOn() {
		mapVRF(d, cname, opt)
	}

	siteName := opt.Site
	if siteName == "" {
		siteName = truncate("Proxmox Default Site - "+cname, 100)
	}
	site := newObject(ModelSite, Slugify(siteName), "site "+siteName, StageDevices)
	site.Fields.Set("name", siteName)
	site.Fields.Set("slug", site.Key)
	site.Fields.Set("status", "active")
	site.ensureOnly()
	d.Add(site)

	mfr := newObject(ModelMfr, mfrSlug, "manufacturer Proxmox", StageDevices)
	mfr.Fields.Set("name", "Proxmox")
	mfr.Fields.Set("slug", mfrSlug)
	mfr.ensureOnly()
	d.Add(mfr)
	dt := newObject(ModelDeviceType, dtSlug, "device type Proxmox Generic Device", StageDevices)
	dt.Fields.Set("model", "Proxmox Generic Device")
	dt.Fields.Set("slug", dtSlug)
	dt.ensureOnly()
	dt.ref("manufacturer", ModelMfr, mfrSlug)
	d.Add(dt)
	d.Add(role(roleNode, "Proxmox Node", "00bcd4", "Proxmox VE node", false, StageDevices))

	nodeIPs := map[string]string{} // node -> cluster-status IP
	for _, n := range s.Nodes {
		key := deviceKey(label, n.Name)
		o := newObject(ModelDevice, key, "node "+n.Name, StageDevices)
		o.Fields.Set("name", n.Name)
		o.Fields.Set("status", map[bool]string{true: "active", false: "offline"}[n.Online])
		o.Fields.Set("description", "Proxmox Node "+n.Name)
		o.ref("device_type", ModelDeviceType, dtSlug)
		o.ref("role", ModelRole, roleNode)
		o.ref("site", ModelSite, site.Key)
		o.ref("cluster", ModelCluster, label)
		o.setTags(TagProxbox)
		o.setCF(CFOrphanedAt, nil)
		createOnlyUnless(o, ow, "overwrite_device_role", "role")
		createOnlyUnless(o, ow, "overwrite_device_type", "device_type")
		createOnlyUnless(o, ow, "overwrite_device_tags", "tags")
		createOnlyUnless(o, ow, "overwrite_device_status", "status")
		createOnlyUnless(o, ow, "overwrite_device_description", "description")
		createOnlyUnless(o, ow, "overwrite_device_custom_fields", "custom_fields")
		d.Add(o)
		nodeIPs[n.Name] = n.IP
		mapNodeInterfaces(d, o, n, site.Key, opt)
	}

	// Guests. PVE allows two guests of one cluster to share a name; NetBox
	// does not (per cluster, case-insensitively). The guest with the lowest
	// vmid keeps the name and the others are named "<name> (<vmid>)", which
	// stays stable whatever else changes.
	names := guestNames(s.Guests, opt)
	for i := range s.Guests {
		g := &s.Guests[i]
		if g.Template && opt.SkipTemplates {
			continue
		}
		if g.Type != inventory.QEMU && g.Type != inventory.LXC {
			d.Warnings = append(d.Warnings, fmt.Sprintf("%s/%d: unknown guest type, skipped", g.Type, g.VMID))
			continue
		}
		mapGuest(d, g, names[g.VMID], label, site.Key, opt)
	}
	return d
}

func role(slug, name, color, descr string, vmRole bool, st Stage) *Object {
	o := newObject(ModelRole, slug, "role "+name, st)
	o.Fields.Set("name", name)
	o.Fields.Set("slug", slug)
	o.Fields.Set("color", color)
	o.Fields.Set("description", descr)
	o.Fields.Set("vm_role", vmRole)
	o.ensureOnly()
	return o
}

func createOnlyUnless(o *Object, ow OverwriteFlags, flag string, fields ...string) {
	if !ow.On(flag) {
		o.flag(flagCreateOnly, fields...)
	}
}

// VMStatus maps a PVE guest status to NetBox's VM status
// (proxbox-sync-engine.md 6.1): running -> active, stopped/paused -> offline.
func VMStatus(pve string, template bool) string {
	if template {
		return "offline"
	}
	switch strings.ToLower(pve) {
	case "stopped", "paused", "offline", "suspended":
		return "offline"
	case "planned":
		return "planned"
	}
	return "active"
}

var platforms = map[string]string{
	"l26": "Linux", "l24": "Linux 2.4", "win11": "Windows 11", "win10": "Windows 10", "win8": "Windows 8",
	"win7": "Windows 7", "wvista": "Windows Vista", "wxp": "Windows XP", "w2k8": "Windows Server 2008",
	"w2k3": "Windows Server 2003", "w2k": "Windows 2000", "solaris": "Solaris",
	"debian": "Debian", "ubuntu": "Ubuntu", "centos": "CentOS", "fedora": "Fedora", "opensuse": "openSUSE",
	"archlinux": "Arch Linux", "alpine": "Alpine Linux", "gentoo": "Gentoo", "nixos": "NixOS", "devuan": "Devuan",
}

// PlatformName returns the NetBox platform for a PVE ostype ("" when none).
func PlatformName(ostype string) string { return platforms[strings.ToLower(strings.TrimSpace(ostype))] }

// guestName is the NetBox name of a guest before duplicates are resolved.
func guestName(g *inventory.Guest) string {
	name := truncate(strings.TrimSpace(g.Name), 64)
	if name == "" {
		name = fmt.Sprintf("%s-%d", g.Type, g.VMID)
	}
	return name
}

// guestNames gives every synced guest a name unique in its cluster
// (case-insensitively, as NetBox compares them).
func guestNames(guests []inventory.Guest, opt MapOptions) map[int]string {
	byName := map[string][]int{}
	out := make(map[int]string, len(guests))
	for i := range guests {
		g := &guests[i]
		if g.Template && opt.SkipTemplates {
			continue
		}
		n := guestName(g)
		out[g.VMID] = n
		byName[strings.ToLower(n)] = append(byName[strings.ToLower(n)], g.VMID)
	}
	for _, ids := range byName {
		if len(ids) < 2 {
			continue
		}
		slices.Sort(ids)
		for _, id := range ids[1:] {
			suffix := fmt.Sprintf(" (%d)", id)
			out[id] = truncate(out[id], 64-len(suffix)) + suffix
		}
	}
	return out
}

func mapGuest(d *Desired, g *inventory.Guest, name, cluster, site string, opt MapOptions) {
	ow := opt.Overwrite
	key := vmKey(cluster, g.Type, g.VMID)
	if name == "" {
		name = guestName(g)
	}
	o := newObject(ModelVM, key, "", StageVMs) // labelled by derivedLabel
	o.Fields.Set("name", name)
	o.Fields.Set("status", d.text(VMStatus(g.Status, g.Template)))
	vcpus := g.VCPUs
	if vcpus <= 0 {
		vcpus = float64(max(g.Cores, 1) * max(g.Sockets, 1))
	}
	o.Fields.Set("vcpus", math.Round(vcpus*100)/100)
	if g.MemoryMB > 0 {
		o.Fields.Set("memory", g.MemoryMB)
	} else {
		o.Fields.Set("memory", nil)
	}
	o.Fields.Set("description", d.text("Synced from Proxmox node "+g.Node))
	o.ref("site", ModelSite, site) // its node's site: VLANs are per site (sync/doc.go)
	o.ref("cluster", ModelCluster, cluster)
	o.ref("device", ModelDevice, deviceKey(cluster, g.Node))
	o.flag(flagOptional, "device", "platform", "primary_ip4", "primary_ip6")
	o.flag(flagSoft, "primary_ip4", "primary_ip6")
	if g.Type == inventory.QEMU {
		d.Add(role(roleQEMU, "Virtual Machine (QEMU)", "00ffff", "Proxmox Virtual Machine", true, StageVMs))
		o.ref("role", ModelRole, roleQEMU)
	} else {
		d.Add(role(roleLXC, "Container (LXC)", "7fffd4", "Proxmox LXC Container", true, StageVMs))
		o.ref("role", ModelRole, roleLXC)
	}
	if p := PlatformName(g.OSType); p != "" {
		po := newObject(ModelPlatform, Slugify(p), "platform "+p, StageVMs)
		po.Fields.Set("name", p)
		po.Fields.Set("slug", po.Key)
		po.ensureOnly()
		d.Add(po)
		o.ref("platform", ModelPlatform, po.Key)
	} else {
		o.Refs.Set("platform", Ref{})
	}
	tags := []string{TagProxbox}
	if ow.On("overwrite_vm_proxmox_tags") {
		for _, t := range g.Tags {
			if t = strings.TrimSpace(t); t == "" {
				continue
			}
			slug := pveTagSlug(t)
			to := newObject(ModelTag, slug, "tag "+slug, "")
			to.Fields.Set("name", truncate("pve:"+t, 100))
			to.Fields.Set("slug", slug)
			to.Fields.Set("color", "607d8b")
			to.Fields.Set("description", "Proxmox VE tag "+t)
			to.ensureOnly()
			d.Add(to)
			tags = append(tags, slug)
		}
		o.Fields.Set(pveTagsMarker, true)
	}
	o.setTags(tags...)
	o.setCF(CFVMID, g.VMID)
	o.setCF(CFVMType, d.text(string(g.Type)))
	o.setCF(CFNode, d.text(g.Node))
	o.setCF(CFOrphanedAt, nil)
	applyVMOverwrite(o, ow)

	// Virtual disks; the VM's disk is their sum.
	var sum int64
	n := 0
	for _, dk := range g.Disks {
		if !syncedDisk(g, dk) {
			continue
		}
		do := newObject(ModelDisk, diskKey(key, dk.Key), "", StageDisks)
		do.Fields.Set("name", dk.Key)
		do.Fields.Set("size", dk.SizeMB)
		do.ref("virtual_machine", ModelVM, key)
		do.setTags(TagProxbox)
		d.Add(do)
		sum += dk.SizeMB
		n++
	}
	if n > 0 {
		o.Fields.Set("disk", sum)
		o.flag(flagCreateOnly, "disk") // NetBox keeps it equal to the sum of the disks
	} else if g.MaxDiskBytes > 0 {
		o.Fields.Set("disk", g.MaxDiskBytes/(1<<20))
	} else {
		o.Fields.Set("disk", nil)
	}
	d.Add(o)

	mapGuestNetwork(d, o, g, site, opt)
}

// pveTagsMarker is a pseudo field telling the diff that pve-* tags are
// managed on this object; it is never sent.
const pveTagsMarker = "\x00pve-tags"

func syncedDisk(g *inventory.Guest, dk inventory.Disk) bool {
	if strings.HasPrefix(dk.Key, "unused") || dk.SizeMB <= 0 {
		return false
	}
	// proxmox.ParseDisk already drops CD-ROMs when the config is read; the raw
	// config is only there when a read asked for it (ReadOptions.GuestConfig).
	raw := strings.ToLower(g.Config[dk.Key])
	if strings.Contains(raw, "media=cdrom") || strings.Contains(dk.Volume, ".iso") || dk.Volume == "cdrom" || dk.Volume == "none" {
		return false
	}
	return true
}

func normMAC(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

func mapGuestNetwork(d *Desired, vm *Object, g *inventory.Guest, site string, opt MapOptions) {
	ow := opt.Overwrite
	agentByMAC := map[string]*inventory.GuestInterface{}
	agentByName := map[string]*inventory.GuestInterface{}
	for i := range g.AgentInterfaces {
		ai := &g.AgentInterfaces[i]
		if m := normMAC(ai.MAC); m != "" && m != "00:00:00:00:00:00" {
			if _, dup := agentByMAC[m]; !dup {
				agentByMAC[m] = ai
			}
		}
		agentByName[ai.Name] = ai
	}
	nics := append([]inventory.NIC(nil), g.NICs...)
	sort.SliceStable(nics, func(i, j int) bool { return nics[i].Index < nics[j].Index })
	used := map[string]bool{}
	var first4, first6 string
	seenAddr := map[string]bool{}
	for _, nic := range nics {
		ai := agentByMAC[normMAC(nic.MAC)]
		if ai == nil && nic.Name != "" {
			ai = agentByName[nic.Name]
		}
		name := nic.Key
		if nic.Name != "" {
			name = nic.Name
		}
		if ai != nil && !opt.ConfigInterfaceNames && ai.Name != "" {
			name = ai.Name
		}
		name = truncate(name, 64)
		if used[name] {
			name = truncate(name+"-"+nic.Key, 64)
		}
		used[name] = true
		ik := ifaceKey(vm.Key, name)
		io := newObject(ModelVMInterface, ik, "", StageVMInterfaces)
		io.Fields.Set("name", name)
		io.Fields.Set("enabled", !nic.LinkDown)
		if nic.MTU > 0 {
			io.Fields.Set("mtu", nic.MTU)
		} else {
			io.Fields.Set("mtu", nil)
		}
		io.ref("virtual_machine", ModelVM, vm.Key)
		if nic.VLAN > 0 {
			vk := addVLAN(d, site, nic.VLAN)
			io.Fields.Set("mode", "access")
			io.ref("untagged_vlan", ModelVLAN, vk)
		} else {
			io.Fields.Set("mode", nil)
			io.Refs.Set("untagged_vlan", Ref{})
		}
		io.setTags(TagProxbox)
		createOnlyUnless(io, ow, "overwrite_vm_interface_tags", "tags")
		if mac := normMAC(nic.MAC); mac != "" {
			mo := newObject(ModelMAC, macKey(ik), "", StageVMInterfaces)
			mo.Fields.Set("mac_address", mac)
			mo.Fields.Set("assigned_object_type", "virtualization.vminterface")
			mo.ref("assigned_object_id", ModelVMInterface, ik)
			mo.setTags(TagProxbox)
			d.Add(mo)
			io.ref("primary_mac_address", ModelMAC, mo.Key)
			io.flag(flagOptional, "primary_mac_address")
		}
		d.Add(io)

		// Addresses: guest agent (QEMU) or /interfaces (LXC) first, then LXC ip=/ip6=.
		var addrs []netip.Prefix
		if ai != nil {
			addrs = append(addrs, ai.Addresses...)
		}
		for _, s := range []string{nic.IPv4, nic.IPv6} {
			if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
				addrs = append(addrs, p)
			}
		}
		for _, p := range addrs {
			a := p.Addr()
			if !keepAddr(a, opt) {
				continue
			}
			s := p.String()
			if seenAddr[a.String()] {
				continue
			}
			seenAddr[a.String()] = true
			po := newObject(ModelIP, ipKey(ik, s), fmt.Sprintf("%s %d address %s", g.Type, g.VMID, s), StageIPs)
			po.Fields.Set("address", s)
			po.Fields.Set("status", "active")
			po.Fields.Set("assigned_object_type", "virtualization.vminterface")
			po.ref("assigned_object_id", ModelVMInterface, ik)
			setVRF(d, po, opt)
			po.setTags(TagProxbox)
			createOnlyUnless(po, ow, "overwrite_ip_status", "status")
			createOnlyUnless(po, ow, "overwrite_ip_tags", "tags")
			d.Add(po)
			if a.Is4() && first4 == "" {
				first4 = po.Key
			}
			if a.Is6() && !a.Is4In6() && first6 == "" && a.IsGlobalUnicast() {
				first6 = po.Key
			}
		}
	}
	pref := opt.PrimaryIP
	if pref == "" {
		pref = "ipv4"
	}
	if first4 != "" && (pref == "ipv4" || pref == "both") {
		vm.ref("primary_ip4", ModelIP, first4)
	}
	if first6 != "" && (pref == "ipv6" || pref == "both") {
		vm.ref("primary_ip6", ModelIP, first6)
	}
}

// mapVRF adds the endpoint's VRF (PROXBOX_IP_VRF endpoint or cluster): keyed,
// like the cluster, by the endpoint's label in proxmox_endpoint; named after
// the label or the NetBox cluster; no route distinguisher; enforce_unique and
// the description are written on creation only (an operator may turn
// enforce_unique off and proxbox keeps it).
func mapVRF(d *Desired, cname string, opt MapOptions) {
	name := d.Endpoint
	if opt.IPVRF == IPVRFCluster {
		name = cname
	}
	o := newObject(ModelVRF, d.Endpoint, "VRF "+name, "")
	o.Fields.Set("name", truncate(name, 100))
	o.Fields.Set("enforce_unique", true)
	o.Fields.Set("description", truncate("IP addresses of Proxmox endpoint "+d.Endpoint+" (proxbox)", 200))
	o.flag(flagCreateOnly, "enforce_unique", "description")
	o.setTags(TagProxbox)
	o.setCF(CFEndpoint, d.Endpoint)
	d.Add(o)
}

// setVRF puts an IP address in the endpoint's VRF, or in the global table when
// PROXBOX_IP_VRF is none. The field is soft: an address a user moved into a
// VRF that is not proxbox's stays there.
func setVRF(d *Desired, po *Object, opt MapOptions) {
	if opt.vrfOn() {
		po.ref("vrf", ModelVRF, d.Endpoint)
	} else {
		po.Refs.Set("vrf", Ref{})
	}
	po.flag(flagSoft, "vrf")
}

func keepAddr(a netip.Addr, opt MapOptions) bool {
	if !a.IsValid() || a.IsLoopback() || a.IsUnspecified() || a.IsMulticast() {
		return false
	}
	if a.IsLinkLocalUnicast() && !opt.IncludeIPv6LinkLocal {
		return false
	}
	return true
}

func addVLAN(d *Desired, site string, vid int) string {
	k := vlanKey(site, vid)
	o := newObject(ModelVLAN, k, fmt.Sprintf("VLAN %d", vid), "")
	o.Fields.Set("vid", vid)
	o.Fields.Set("name", fmt.Sprintf("VLAN %d", vid))
	o.Fields.Set("status", "active")
	o.ref("site", ModelSite, site)
	o.setTags(TagProxbox)
	o.ensureOnly()
	d.Add(o)
	return k
}

// NodeInterfaceType maps a PVE network type to a NetBox interface type.
func NodeInterfaceType(t string) string {
	switch strings.ToLower(t) {
	case "bridge", "ovsbridge":
		return "bridge"
	case "bond", "ovsbond":
		return "lag"
	case "vlan", "ovsintport", "alias":
		return "virtual"
	case "loopback", "lo":
		return "loopback"
	}
	return "other"
}

func mapNodeInterfaces(d *Desired, dev *Object, n inventory.Node, site string, opt MapOptions) {
	ow := opt.Overwrite
	parentOf := map[string][2]string{} // member -> (field, parent name)
	for _, ni := range n.Interfaces {
		for _, p := range ni.BridgePorts {
			parentOf[p] = [2]string{"bridge", ni.Name}
		}
		for _, p := range ni.BondSlaves {
			parentOf[p] = [2]string{"lag", ni.Name}
		}
	}
	names := map[string]bool{}
	for _, ni := range n.Interfaces {
		names[ni.Name] = true
	}
	for _, ni := range n.Interfaces {
		if ni.Name == "" || ni.Name == "lo" {
			continue
		}
		ik := ifaceKey(dev.Key, ni.Name)
		o := newObject(ModelInterface, ik, fmt.Sprintf("node %s interface %s", n.Name, ni.Name), StageNodeInterfaces)
		o.Fields.Set("name", truncate(ni.Name, 64))
		o.Fields.Set("type", NodeInterfaceType(ni.Type))
		o.Fields.Set("enabled", ni.Active)
		if ni.MTU > 0 {
			o.Fields.Set("mtu", ni.MTU)
		} else {
			o.Fields.Set("mtu", nil)
		}
		o.ref("device", ModelDevice, dev.Key)
		if ni.VLANID > 0 && strings.EqualFold(ni.Type, "vlan") {
			o.Fields.Set("mode", "access")
			o.ref("untagged_vlan", ModelVLAN, addVLAN(d, site, ni.VLANID))
		}
		if p, ok := parentOf[ni.Name]; ok && names[p[1]] {
			o.ref(p[0], ModelInterface, ifaceKey(dev.Key, p[1]))
			o.flag(flagOptional, p[0])
		}
		o.setTags(TagProxbox)
		createOnlyUnless(o, ow, "overwrite_node_interface_tags", "tags")
		d.Add(o)
		for _, c := range []string{ni.CIDR, ni.CIDR6} {
			p, err := netip.ParsePrefix(strings.TrimSpace(c))
			if err != nil || !keepAddr(p.Addr(), opt) {
				continue
			}
			po := newObject(ModelIP, ipKey(ik, p.String()), fmt.Sprintf("node %s address %s", n.Name, p), StageNodeInterfaces)
			po.Fields.Set("address", p.String())
			po.Fields.Set("status", "active")
			po.Fields.Set("assigned_object_type", "dcim.interface")
			po.ref("assigned_object_id", ModelInterface, ik)
			setVRF(d, po, opt)
			po.setTags(TagProxbox)
			createOnlyUnless(po, ow, "overwrite_ip_status", "status")
			createOnlyUnless(po, ow, "overwrite_ip_tags", "tags")
			d.Add(po)
			if p.Addr().Is4() && p.Addr().String() == n.IP {
				dev.ref("primary_ip4", ModelIP, po.Key)
				dev.flag(flagOptional, "primary_ip4")
				dev.flag(flagSoft, "primary_ip4")
			}
		}
	}
}

// applyVMOverwrite makes the VM fields whose overwrite_vm_* flag is off
// user-owned after creation.
func applyVMOverwrite(o *Object, ow OverwriteFlags) {
	createOnlyUnless(o, ow, "overwrite_vm_role", "role")
	createOnlyUnless(o, ow, "overwrite_vm_tags", "tags")
	createOnlyUnless(o, ow, "overwrite_vm_description", "description")
	createOnlyUnless(o, ow, "overwrite_vm_custom_fields", "custom_fields")
}
