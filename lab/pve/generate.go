package pve

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Lab is a generated set of PVE installations: clusters and standalone nodes, each served by
// its own Server (each is a separate PVE API, as in real life).
type Lab struct {
	Scale    int
	Seed     int64
	Clusters []*Cluster
}

// Cluster is the data of one PVE API: a cluster, or a standalone node. It is read-only;
// a Server serving it works on its own copy.
type Cluster struct {
	// Name is the cluster name, or the node name for a standalone node.
	Name       string
	Standalone bool
	Nodes      []string
	// Guests is the number of QEMU and LXC guests (templates included).
	Guests int
	routes map[string]any
}

// Fixture encodes the cluster in fixture-file format (path with /api2/json -> envelope),
// keys sorted, so the same Generate arguments always give the same bytes.
func (c *Cluster) Fixture() ([]byte, error) {
	out := make(map[string]any, len(c.routes))
	for k, v := range c.routes {
		out[APIPrefix+k] = map[string]any{"data": v}
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		return nil, fmt.Errorf("encode cluster %s: %w", c.Name, err)
	}
	return b, nil
}

// Paths lists the stored API paths (without /api2/json), sorted.
func (c *Cluster) Paths() []string {
	out := make([]string, 0, len(c.routes))
	for k := range c.routes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// epoch is the generated lab's "now" (2026-01-01T00:00:00Z); nothing reads the wall clock.
const epoch = 1767225600

// GenOptions vary a generated lab beyond its scale and seed.
type GenOptions struct {
	// SharedRange gives every cluster the same private addresses (10.10.0.0/16 for nodes
	// and guests, 10.50.10.0/24 for node VLAN interfaces), as sites that reuse one range
	// per cluster do: the same address then exists in several clusters. By default each
	// cluster has its own (10.<10+i>.0.0/16).
	SharedRange bool
}

// Generate builds a deterministic lab of about scale guests (0 means 20): two clusters
// (one on PVE 8, one on PVE 9) when scale >= 10, else one, plus one standalone node named
// "pve". The same (scale, seed) always gives byte-identical data. Addresses never repeat
// inside one cluster.
func Generate(scale int, seed int64) *Lab { return GenerateWith(scale, seed, GenOptions{}) }

// GenerateWith is Generate with options.
func GenerateWith(scale int, seed int64, opts GenOptions) *Lab {
	if scale <= 0 {
		scale = 20
	}
	lab := &Lab{Scale: scale, Seed: seed}
	solo := max(1, scale/10)
	rest := scale - solo
	type plan struct {
		name    string
		nodes   []string
		guests  int
		version map[string]any
		ceph    bool
	}
	var plans []plan
	nodesFor := func(prefix string, base, guests int) []string {
		n := min(base+guests/300, 16)
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%d", prefix, i+1)
		}
		return out
	}
	if rest > 0 && scale >= 10 {
		a := rest * 6 / 10
		plans = append(plans,
			plan{"lab-alpha", nodesFor("alpha-pve", 3, a), a, map[string]any{"release": "8.3", "repoid": "c1689ccb1065a83b", "version": "8.3.2"}, true},
			plan{"lab-beta", nodesFor("beta-pve", 2, rest-a), rest - a, map[string]any{"release": "9.0", "repoid": "508d4a7e1e0bf7e2", "version": "9.0.6"}, false})
	} else if rest > 0 {
		plans = append(plans, plan{"lab-alpha", nodesFor("alpha-pve", 2, rest), rest, map[string]any{"release": "8.3", "repoid": "c1689ccb1065a83b", "version": "8.3.2"}, false})
	}
	plans = append(plans, plan{"pve", []string{"pve"}, solo, map[string]any{"release": "8.2", "repoid": "faa83925c9641325", "version": "8.2.4"}, false})
	for i, p := range plans {
		g := &gen{
			rng:  rand.New(rand.NewPCG(uint64(seed), uint64(i)+1)),
			ci:   i,
			c:    &Cluster{Name: p.name, Standalone: len(p.nodes) == 1, Nodes: p.nodes, Guests: p.guests, routes: map[string]any{}},
			ceph: p.ceph,
			net:  10 + i*boolInt(!opts.SharedRange),
		}
		g.build(p.guests, p.version)
		lab.Clusters = append(lab.Clusters, g.c)
	}
	return lab
}

type gen struct {
	rng       *rand.Rand
	ci        int
	c         *Cluster
	ceph      bool
	net       int // second octet of the cluster's addresses (subnet)
	resources []any
	storages  []map[string]any
	content   map[string][]any // "node/storage" (or "*/storage" for shared) -> entries
	tasks     map[string][]any
}

func (g *gen) pick(l ...string) string { return l[g.rng.IntN(len(l))] }
func (g *gen) chance(p float64) bool   { return g.rng.Float64() < p }
func (g *gen) put(path string, v any)  { g.c.routes[path] = v }
func (g *gen) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.rng.IntN(16)]
	}
	return string(b)
}
func (g *gen) uuid() string {
	return g.hex(8) + "-" + g.hex(4) + "-4" + g.hex(3) + "-a" + g.hex(3) + "-" + g.hex(12)
}

func (g *gen) subnet() int { return g.net }

func (g *gen) build(guests int, version map[string]any) {
	c := g.c
	g.content = map[string][]any{}
	g.tasks = map[string][]any{}
	g.put("/version", version)
	g.buildStatus()
	g.buildStorage()
	for i, n := range c.Nodes {
		g.resources = append(g.resources, map[string]any{
			"id": "node/" + n, "type": "node", "node": n, "status": "online", "level": "",
			"cpu": float64(g.rng.IntN(300)) / 1000, "maxcpu": 32, "mem": int64(20+g.rng.IntN(60)) << 30, "maxmem": int64(128) << 30,
			"disk": int64(10+g.rng.IntN(20)) << 30, "maxdisk": int64(100) << 30, "uptime": 864000 + i*3600, "cgroup-mode": 2,
		})
		g.put("/nodes/"+n+"/network", g.nodeNetwork(i))
		g.resources = append(g.resources, map[string]any{"id": "sdn/" + n + "/localnetwork", "type": "sdn", "sdn": "localnetwork", "node": n, "status": "ok"})
	}
	counters := map[string]int{}
	var repl []any
	vmid := 100
	for i := 0; i < guests; i++ {
		vmid += 1 + boolInt(g.chance(0.1)) // occasional vmid gaps
		node := c.Nodes[g.rng.IntN(len(c.Nodes))]
		lxc := g.chance(0.3)
		var res map[string]any
		if lxc {
			res = g.lxc(vmid, node, counters)
		} else {
			res = g.qemu(vmid, node, counters)
		}
		g.resources = append(g.resources, res)
		g.snapshots(res)
		g.backups(res)
		if len(c.Nodes) > 1 && g.chance(0.1) && !truthy(res["template"]) {
			target := c.Nodes[(indexOf(c.Nodes, node)+1)%len(c.Nodes)]
			job := map[string]any{"id": fmt.Sprintf("%d-0", vmid), "guest": vmid, "jobnum": 0, "target": target, "type": "local", "schedule": g.pick("*/15", "*/30", "0 */2"), "source": node}
			if g.chance(0.2) {
				job["disable"] = 1
				job["comment"] = "paused during maintenance"
			}
			if g.chance(0.3) {
				job["rate"] = 50
			}
			repl = append(repl, job)
		}
	}
	// an orphaned backup of a guest destroyed long ago
	g.addBackupEntry(g.backupStorage(), "qemu", 9999, epoch-90*86400, "decommissioned-app")
	if len(c.Nodes) > 0 {
		g.put("/cluster/replication", nonNil(repl))
	}
	g.put("/cluster/backup", g.backupJobs())
	g.put("/pools", []any{map[string]any{"poolid": "prod", "comment": "production guests"}, map[string]any{"poolid": "lab"}})
	g.resources = append(g.resources, map[string]any{"id": "/pool/prod", "type": "pool", "pool": "prod"})
	g.put("/cluster/resources", g.resources)
	for _, st := range g.storages {
		name := asString(st["storage"])
		for _, n := range c.Nodes {
			if nodes := asString(st["nodes"]); nodes != "" && !strings.Contains(","+nodes+",", ","+n+",") {
				continue
			}
			list := append(append([]any{}, g.content["*/"+name]...), g.content[n+"/"+name]...)
			g.put("/nodes/"+n+"/storage/"+name+"/content", nonNil(list))
		}
	}
	for _, n := range c.Nodes {
		g.put("/nodes/"+n+"/tasks", g.nodeTasks(n))
	}
}

func indexOf(l []string, s string) int {
	for i, e := range l {
		if e == s {
			return i
		}
	}
	return -1
}

func (g *gen) nodeIP(i int) string { return fmt.Sprintf("10.%d.0.%d", g.subnet(), 11+i) }

func (g *gen) buildStatus() {
	c := g.c
	var st []any
	if !c.Standalone {
		st = append(st, map[string]any{"type": "cluster", "id": "cluster", "name": c.Name, "nodes": len(c.Nodes), "quorate": 1, "version": len(c.Nodes) + 2})
		var nl []any
		for i, n := range c.Nodes {
			nl = append(nl, map[string]any{"name": n, "nodeid": strconv.Itoa(i + 1), "pve_addr": g.nodeIP(i), "pve_fp": fingerprint(c.Name + n), "quorum_votes": "1", "ring0_addr": g.nodeIP(i)})
		}
		g.put("/cluster/config/join", map[string]any{
			"nodelist": nl, "preferred_node": c.Nodes[0], "config_digest": g.hex(40),
			"totem": map[string]any{"cluster_name": c.Name, "config_version": strconv.Itoa(len(c.Nodes) + 2), "interface": map[string]any{"0": map[string]any{"linknumber": "0"}}, "ip_version": "ipv4-6", "link_mode": "passive", "secauth": "on", "version": "2"},
		})
	}
	for i, n := range c.Nodes {
		nodeid := i + 1
		if c.Standalone {
			nodeid = 0
		}
		st = append(st, map[string]any{"type": "node", "id": "node/" + n, "name": n, "ip": g.nodeIP(i), "level": "", "local": boolInt(i == 0), "nodeid": nodeid, "online": 1})
	}
	g.put("/cluster/status", st)
}

func (g *gen) buildStorage() {
	add := func(m map[string]any) {
		m["digest"] = g.hex(40)
		g.storages = append(g.storages, m)
	}
	add(map[string]any{"storage": "local", "type": "dir", "path": "/var/lib/vz", "content": "iso,vztmpl,backup", "prune-backups": "keep-all=1"})
	add(map[string]any{"storage": "local-lvm", "type": "lvmthin", "thinpool": "data", "vgname": "pve", "content": "rootdir,images"})
	if g.ceph {
		add(map[string]any{"storage": "ceph-pool", "type": "rbd", "pool": "ceph-pool", "content": "images,rootdir", "krbd": 0})
	}
	if !g.c.Standalone {
		add(map[string]any{"storage": "nfs-backup", "type": "nfs", "server": fmt.Sprintf("10.%d.0.50", g.subnet()), "export": "/export/pve-backup", "path": "/mnt/pve/nfs-backup", "content": "backup,iso", "options": "vers=4.2", "prune-backups": "keep-daily=7,keep-weekly=4"})
	}
	add(map[string]any{"storage": "pbs", "type": "pbs", "server": fmt.Sprintf("10.%d.0.60", g.subnet()), "datastore": "store1", "username": "backup@pbs", "fingerprint": fingerprint(g.c.Name + "pbs"), "content": "backup", "prune-backups": "keep-all=1"})
	list := make([]any, len(g.storages))
	for i, st := range g.storages {
		list[i] = st
		g.put("/storage/"+asString(st["storage"]), st)
		for _, n := range g.c.Nodes {
			total := int64(2) << 40
			g.resources = append(g.resources, map[string]any{
				"id": "storage/" + n + "/" + asString(st["storage"]), "type": "storage", "storage": st["storage"], "node": n,
				"status": "available", "plugintype": st["type"], "content": st["content"], "shared": boolInt(isShared(st)),
				"disk": total / int64(3+g.rng.IntN(5)), "maxdisk": total,
			})
		}
	}
	g.put("/storage", list)
	// ISO images and templates on local
	for _, n := range g.c.Nodes {
		g.content[n+"/local"] = append(g.content[n+"/local"],
			map[string]any{"volid": "local:iso/debian-12.7.0-amd64-netinst.iso", "content": "iso", "format": "iso", "size": 661651456, "ctime": epoch - 200*86400},
			map[string]any{"volid": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", "content": "vztmpl", "format": "tzst", "size": 126859129, "ctime": epoch - 180*86400},
		)
	}
}

// isShared tells whether every node sees the same storage content.
func isShared(st map[string]any) bool {
	switch asString(st["type"]) {
	case "nfs", "cifs", "rbd", "cephfs", "pbs", "iscsi", "glusterfs":
		return true
	}
	return truthy(st["shared"])
}

func (g *gen) nodeNetwork(i int) []any {
	ip := g.nodeIP(i)
	base := func(iface, typ string, prio int) map[string]any {
		return map[string]any{"iface": iface, "type": typ, "active": 1, "priority": prio, "families": []any{"inet"}, "method": "manual", "method6": "manual"}
	}
	if g.c.Standalone {
		eno := base("eno1", "eth", 3)
		eno["exists"] = 1
		br := base("vmbr0", "bridge", 4)
		br["autostart"], br["bridge_ports"], br["bridge_stp"], br["bridge_fd"] = 1, "eno1", "off", "0"
		br["method"], br["cidr"], br["address"], br["netmask"], br["gateway"] = "static", ip+"/24", ip, "24", fmt.Sprintf("10.%d.0.1", g.subnet())
		return []any{eno, br}
	}
	eno1, eno2, eno3 := base("eno1", "eth", 3), base("eno2", "eth", 4), base("eno3", "eth", 5)
	eno1["exists"], eno2["exists"], eno3["exists"], eno3["mtu"] = 1, 1, 1, "9000"
	bond := base("bond0", "bond", 6)
	bond["slaves"], bond["bond_mode"], bond["bond_xmit_hash_policy"], bond["autostart"] = "eno1 eno2", "802.3ad", "layer3+4", 1
	br0 := base("vmbr0", "bridge", 7)
	br0["autostart"], br0["bridge_ports"], br0["bridge_stp"], br0["bridge_fd"], br0["bridge_vlan_aware"] = 1, "bond0", "off", "0", 1
	br0["method"], br0["cidr"], br0["address"], br0["netmask"], br0["gateway"] = "static", ip+"/24", ip, "24", fmt.Sprintf("10.%d.0.1", g.subnet())
	vlan := base("vlan50", "vlan", 8)
	vip := fmt.Sprintf("10.50.%d.%d", g.subnet(), 11+i)
	vlan["vlan-id"], vlan["vlan-raw-device"], vlan["autostart"] = "50", "bond0", 1
	vlan["method"], vlan["cidr"], vlan["address"], vlan["netmask"] = "static", vip+"/24", vip, "24"
	br1 := base("vmbr1", "bridge", 9)
	br1["autostart"], br1["bridge_ports"], br1["bridge_stp"], br1["bridge_fd"], br1["mtu"] = 1, "eno3", "off", "0", "9000"
	br1["comments"] = "storage and jumbo-frame guests\n"
	return []any{eno1, eno2, eno3, bond, br0, vlan, br1}
}

var guestRoles = []string{"web", "db", "cache", "proxy", "mail", "ci-runner", "monitor", "dns", "vpn", "k8s-node", "git", "wiki", "ldap", "minio", "kafka", "grafana"}

var tagSets = []string{"prod;web", "prod;db", "dev", "staging;k8s", "", "", "backup", ""}

func (g *gen) name(counters map[string]int) string {
	role := guestRoles[g.rng.IntN(len(guestRoles))]
	counters[role]++
	return fmt.Sprintf("%s-%02d", role, counters[role])
}

func (g *gen) mac(vmid, nic int) string {
	return fmt.Sprintf("BC:24:11:%02X:%02X:%02X", g.ci*32+nic, (vmid>>8)&0xff, vmid&0xff)
}

// guestIP is the address of a guest's NIC, unique in its cluster for vmids below 64,250
// (a 100,000-guest lab stays below): vmids below 2,000 in 10.<subnet>.1-16.x, higher
// ones in 10.<subnet+100+50*nic>.<vmid/250>.x, clear of the nodes' 10.<subnet>.0.x and
// 10.50.<subnet>.x.
func (g *gen) guestIP(vmid, nic int) string {
	if vmid < 2000 {
		return fmt.Sprintf("10.%d.%d.%d", g.subnet(), 1+nic*8+vmid/250, 2+vmid%250)
	}
	return fmt.Sprintf("10.%d.%d.%d", g.subnet()+100+50*nic, vmid/250, 2+vmid%250)
}

func sizeStr(gib int) string { return strconv.Itoa(gib) + "G" }

func (g *gen) qemu(vmid int, node string, counters map[string]int) map[string]any {
	template := g.chance(0.05)
	name := g.name(counters)
	if template {
		name = g.pick("tpl-debian-12", "tpl-ubuntu-2404", "tpl-rocky-9") + fmt.Sprintf("-%d", vmid)
	}
	running := !template && g.chance(0.8)
	windows := g.chance(0.1)
	memMiB := []int{1024, 2048, 4096, 8192, 16384}[g.rng.IntN(5)]
	cores := []int{1, 2, 4, 8}[g.rng.IntN(4)]
	disk := "local-lvm"
	if g.ceph && g.chance(0.5) {
		disk = "ceph-pool"
	}
	conf := map[string]any{
		"name": name, "digest": g.hex(40), "sockets": 1, "cpu": "x86-64-v2-AES", "numa": 0,
		"ostype": "l26", "scsihw": "virtio-scsi-single", "smbios1": "uuid=" + g.uuid(), "vmgenid": g.uuid(),
		"meta": fmt.Sprintf("creation-qemu=9.0.2,ctime=%d", epoch-g.rng.IntN(400)*86400),
	}
	if g.chance(0.5) {
		conf["memory"] = strconv.Itoa(memMiB)
	} else {
		conf["memory"] = memMiB
	}
	if g.chance(0.15) {
		conf["cores"] = strconv.Itoa(cores)
	} else {
		conf["cores"] = cores
	}
	if windows {
		conf["ostype"], conf["bios"], conf["machine"] = "win11", "ovmf", "pc-q35-9.0"
		conf["efidisk0"] = fmt.Sprintf("%s:vm-%d-disk-8,efitype=4m,pre-enrolled-keys=1,size=4M", disk, vmid)
		conf["tpmstate0"] = fmt.Sprintf("%s:vm-%d-disk-9,size=4M,version=v2.0", disk, vmid)
	}
	bootGiB := []int{8, 16, 32, 50, 100}[g.rng.IntN(5)]
	bus := "scsi0"
	switch r := g.rng.IntN(10); {
	case r < 2:
		bus = "virtio0"
	case r < 3:
		bus = "sata0"
	}
	conf[bus] = fmt.Sprintf("%s:vm-%d-disk-0,iothread=1,size=%s", disk, vmid, sizeStr(bootGiB))
	if bus == "sata0" {
		conf[bus] = fmt.Sprintf("%s:vm-%d-disk-0,size=%s", disk, vmid, sizeStr(bootGiB))
	}
	if g.chance(0.3) {
		extra := []int{20, 100, 500}[g.rng.IntN(3)]
		key := g.pick("scsi1", "virtio1", "sata1")
		conf[key] = fmt.Sprintf("%s:vm-%d-disk-1,backup=0,size=%s", disk, vmid, sizeStr(extra))
	}
	if g.chance(0.6) {
		if g.chance(0.5) {
			conf["ide2"] = "local:iso/debian-12.7.0-amd64-netinst.iso,media=cdrom,size=631M"
		} else {
			conf["ide2"] = "none,media=cdrom"
		}
	}
	cloudinit := g.chance(0.2)
	if cloudinit {
		conf["ide0"] = fmt.Sprintf("%s:vm-%d-cloudinit,media=cdrom", disk, vmid)
		conf["ipconfig0"] = fmt.Sprintf("ip=%s/24,gw=10.%d.1.1", g.guestIP(vmid, 0), g.subnet())
		conf["ciuser"] = "debian"
	}
	if g.chance(0.1) {
		conf["unused0"] = fmt.Sprintf("%s:vm-%d-disk-5", disk, vmid)
	}
	boot := "order=" + bus
	if _, ok := conf["ide2"]; ok {
		boot += ";ide2"
	}
	conf["boot"] = boot + ";net0"
	model := "virtio"
	switch r := g.rng.IntN(20); {
	case r < 2:
		model = "e1000"
	case r < 3:
		model = "vmxnet3"
	}
	net0 := fmt.Sprintf("%s=%s,bridge=vmbr0,firewall=1", model, g.mac(vmid, 0))
	if g.chance(0.3) {
		net0 += fmt.Sprintf(",tag=%d", []int{10, 20, 30}[g.rng.IntN(3)])
	}
	conf["net0"] = net0
	nics := []string{"net0"}
	if g.chance(0.4) {
		conf["net1"] = fmt.Sprintf("virtio=%s,bridge=vmbr1,mtu=9000,tag=40", g.mac(vmid, 1))
		nics = append(nics, "net1")
		if g.chance(0.25) {
			conf["net15"] = fmt.Sprintf("virtio=%s,bridge=vmbr0,link_down=1", g.mac(vmid, 15))
			nics = append(nics, "net15")
		}
	}
	agent := ""
	switch r := g.rng.IntN(10); {
	case r < 5:
		agent = "1"
	case r < 7:
		agent = "enabled=1,fstrim_cloned_disks=1"
	case r < 8:
		agent = "0"
	}
	if agent != "" {
		conf["agent"] = agent
	}
	if g.chance(0.7) {
		conf["onboot"] = 1
	}
	tags := tagSets[g.rng.IntN(len(tagSets))]
	if tags != "" {
		conf["tags"] = tags
	}
	if g.chance(0.2) {
		conf["description"] = fmt.Sprintf("Managed by team %s\nticket: OPS-%d\n", g.pick("infra", "platform", "data"), 1000+vmid)
	}
	if template {
		conf["template"] = 1
	}
	g.put(guestPrefix("qemu", node, int64(vmid))+"/config", conf)
	if running && agentEnabled(agent) && g.chance(0.9) {
		g.agentReplies(vmid, node, name, nics, windows)
	}
	return g.guestResource("qemu", vmid, node, name, running, template, memMiB, cores, int64(bootGiB)<<30, tags)
}

func (g *gen) guestResource(typ string, vmid int, node, name string, running, template bool, memMiB, cores int, maxdisk int64, tags string) map[string]any {
	r := map[string]any{
		"id": fmt.Sprintf("%s/%d", typ, vmid), "type": typ, "vmid": vmid, "name": name, "node": node,
		"status": "stopped", "template": boolInt(template), "maxcpu": cores, "maxmem": int64(memMiB) << 20, "maxdisk": maxdisk,
		"mem": 0, "cpu": 0, "disk": 0, "uptime": 0, "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0,
	}
	if running {
		r["status"] = "running"
		r["mem"] = (int64(memMiB) << 20) / int64(2+g.rng.IntN(4))
		r["cpu"] = float64(g.rng.IntN(500)) / 1000
		r["uptime"] = 3600 + g.rng.IntN(30*86400)
		r["netin"], r["netout"] = g.rng.Int64N(1<<34), g.rng.Int64N(1<<33)
		r["diskread"], r["diskwrite"] = g.rng.Int64N(1<<35), g.rng.Int64N(1<<34)
		if typ == "lxc" {
			r["disk"] = maxdisk / int64(2+g.rng.IntN(6))
		}
	}
	if tags != "" {
		r["tags"] = tags
		if strings.HasPrefix(tags, "prod") {
			r["pool"] = "prod"
		}
	}
	if !g.c.Standalone && running && g.chance(0.15) {
		r["hastate"] = "started"
	}
	return r
}

func (g *gen) agentReplies(vmid int, node, name string, nics []string, windows bool) {
	prefix := guestPrefix("qemu", node, int64(vmid)) + "/agent/"
	stats := func() map[string]any {
		return map[string]any{"rx-bytes": g.rng.Int64N(1 << 32), "rx-dropped": 0, "rx-errs": 0, "rx-packets": g.rng.Int64N(1 << 24), "tx-bytes": g.rng.Int64N(1 << 32), "tx-dropped": 0, "tx-errs": 0, "tx-packets": g.rng.Int64N(1 << 24)}
	}
	ifaces := []any{map[string]any{
		"name": "lo", "hardware-address": "00:00:00:00:00:00", "statistics": stats(),
		"ip-addresses": []any{
			map[string]any{"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8},
			map[string]any{"ip-address-type": "ipv6", "ip-address": "::1", "prefix": 128},
		},
	}}
	for i, nic := range nics {
		idx, _ := strconv.Atoi(strings.TrimPrefix(nic, "net"))
		mac := strings.ToLower(g.mac(vmid, idx))
		ifname := fmt.Sprintf("ens%d", 18+i)
		if windows {
			ifname = fmt.Sprintf("Ethernet %d", i+1)
		}
		ips := []any{}
		if nic != "net15" {
			ips = append(ips, map[string]any{"ip-address-type": "ipv4", "ip-address": g.guestIP(vmid, idx), "prefix": 24})
		}
		ips = append(ips, map[string]any{"ip-address-type": "ipv6", "ip-address": linkLocal(mac), "prefix": 64})
		ifaces = append(ifaces, map[string]any{"name": ifname, "hardware-address": mac, "ip-addresses": ips, "statistics": stats()})
	}
	if !windows && (strings.HasPrefix(name, "k8s") || strings.HasPrefix(name, "ci-runner") || g.chance(0.2)) {
		ifaces = append(ifaces, map[string]any{
			"name": "docker0", "hardware-address": fmt.Sprintf("02:42:%02x:%02x:%02x:01", g.ci, (vmid>>8)&0xff, vmid&0xff), "statistics": stats(),
			"ip-addresses": []any{map[string]any{"ip-address-type": "ipv4", "ip-address": "172.17.0.1", "prefix": 16}},
		})
		for j := 0; j < 3; j++ { // Calico-style veths: every one carries the same MAC
			ifaces = append(ifaces, map[string]any{
				"name": fmt.Sprintf("cali%s", g.hex(11)), "hardware-address": "ee:ee:ee:ee:ee:ee", "statistics": stats(),
				"ip-addresses": []any{map[string]any{"ip-address-type": "ipv6", "ip-address": "fe80::ecee:eeff:feee:eeee", "prefix": 64}},
			})
		}
	}
	g.put(prefix+"network-get-interfaces", map[string]any{"result": ifaces})
	g.put(prefix+"get-host-name", map[string]any{"result": map[string]any{"host-name": name}})
	os := map[string]any{"id": "debian", "kernel-release": "6.1.0-25-amd64", "kernel-version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.106-3 (2024-08-26)", "machine": "x86_64", "name": "Debian GNU/Linux", "pretty-name": "Debian GNU/Linux 12 (bookworm)", "version": "12 (bookworm)", "version-id": "12"}
	if windows {
		os = map[string]any{"id": "mswindows", "kernel-release": "22631", "kernel-version": "10.0", "machine": "x86_64", "name": "Microsoft Windows", "pretty-name": "Windows 11 Pro", "version": "Microsoft Windows 11", "version-id": "11", "variant": "client", "variant-id": "client"}
	}
	g.put(prefix+"get-osinfo", map[string]any{"result": os})
}

func (g *gen) lxc(vmid int, node string, counters map[string]int) map[string]any {
	template := g.chance(0.03)
	name := g.name(counters)
	running := !template && g.chance(0.8)
	memMiB := []int{512, 1024, 2048, 4096}[g.rng.IntN(4)]
	cores := []int{1, 2, 4}[g.rng.IntN(3)]
	rootGiB := []int{4, 8, 16, 32}[g.rng.IntN(4)]
	conf := map[string]any{
		"hostname": name, "digest": g.hex(40), "arch": "amd64", "memory": memMiB, "swap": 512,
		"ostype": g.pick("debian", "ubuntu", "alpine"), "rootfs": fmt.Sprintf("local-lvm:vm-%d-disk-0,size=%s", vmid, sizeStr(rootGiB)),
		"features": "nesting=1,keyctl=1",
	}
	if g.chance(0.15) {
		conf["cores"] = strconv.Itoa(cores)
	} else {
		conf["cores"] = cores
	}
	if g.chance(0.8) {
		conf["unprivileged"] = 1
	}
	if g.chance(0.3) {
		conf["mp0"] = fmt.Sprintf("local-lvm:vm-%d-disk-1,mp=/srv/data,backup=1,size=32G", vmid)
	}
	if g.chance(0.1) {
		conf["mp1"] = "/mnt/pve/nfs-share/media,mp=/media,ro=1"
	}
	if g.chance(0.05) {
		conf["unused0"] = fmt.Sprintf("local-lvm:vm-%d-disk-2", vmid)
	}
	net0 := fmt.Sprintf("name=eth0,bridge=vmbr0,firewall=1,hwaddr=%s,type=veth", g.mac(vmid, 0))
	if g.chance(0.2) {
		net0 += ",ip=dhcp,ip6=auto"
	} else {
		net0 += fmt.Sprintf(",gw=10.%d.1.1,ip=%s/24", g.subnet(), g.guestIP(vmid, 0))
	}
	if g.chance(0.3) {
		net0 += fmt.Sprintf(",tag=%d", []int{10, 20, 30}[g.rng.IntN(3)])
	}
	conf["net0"] = net0
	if g.chance(0.2) {
		conf["net1"] = fmt.Sprintf("name=eth1,bridge=vmbr1,hwaddr=%s,ip=%s/24,mtu=9000,type=veth", g.mac(vmid, 1), g.guestIP(vmid, 1))
	}
	if g.chance(0.7) {
		conf["onboot"] = 1
	}
	tags := tagSets[g.rng.IntN(len(tagSets))]
	if tags != "" {
		conf["tags"] = tags
	}
	if template {
		conf["template"] = 1
	}
	g.put(guestPrefix("lxc", node, int64(vmid))+"/config", conf)
	if running {
		g.put(guestPrefix("lxc", node, int64(vmid))+"/interfaces", lxcInterfaces(conf))
	}
	return g.guestResource("lxc", vmid, node, name, running, template, memMiB, cores, int64(rootGiB)<<30, tags)
}

func (g *gen) snapshots(res map[string]any) {
	typ, node := asString(res["type"]), asString(res["node"])
	vmid, _ := asInt(res["vmid"])
	prefix := guestPrefix(typ, node, vmid)
	conf, _ := g.c.routes[prefix+"/config"].(map[string]any)
	var list []any
	parent := ""
	n := 0
	if g.chance(0.3) {
		n = 1 + g.rng.IntN(3)
	}
	for i := 0; i < n; i++ {
		s := map[string]any{"name": []string{"pre-upgrade", "post-install", "before-migration"}[i], "description": g.pick("", "automatic snapshot", "before apt full-upgrade\n"), "snaptime": epoch - (n-i)*7*86400}
		if typ == "qemu" {
			s["vmstate"] = boolInt(g.chance(0.3))
		}
		if parent != "" {
			s["parent"] = parent
		}
		parent = asString(s["name"])
		list = append(list, s)
	}
	cur := map[string]any{"name": "current", "description": "You are here!", "digest": asString(conf["digest"])}
	if typ == "qemu" {
		cur["running"] = boolInt(asString(res["status"]) == "running")
	}
	if parent != "" {
		cur["parent"] = parent
	}
	g.put(prefix+"/snapshot", append(list, cur))
}

func (g *gen) backupStorage() string {
	if g.c.Standalone || g.chance(0.5) {
		return "pbs"
	}
	return "nfs-backup"
}

func (g *gen) backups(res map[string]any) {
	if truthy(res["template"]) || !g.chance(0.6) {
		return
	}
	vmid, _ := asInt(res["vmid"])
	typ := asString(res["type"])
	n := 1 + g.rng.IntN(3)
	st := g.backupStorage()
	for i := 0; i < n; i++ {
		g.addBackupEntry(st, typ, vmid, int64(epoch-(i+1)*86400+7200+g.rng.IntN(600)), asString(res["name"]))
	}
	if g.chance(0.2) { // a local backup only its own node lists
		node := asString(res["node"])
		e := backupEntry("dir", "local", typ, vmid, time.Unix(epoch-3*86400, 0).UTC(), g.rng.Int64N(1<<32), asString(res["name"]))
		g.content[node+"/local"] = append(g.content[node+"/local"], e)
	}
}

func (g *gen) addBackupEntry(storage, typ string, vmid, ctime int64, name string) {
	stType := "nfs"
	if storage == "pbs" {
		stType = "pbs"
	}
	e := backupEntry(stType, storage, typ, vmid, time.Unix(ctime, 0).UTC(), 1<<28+g.rng.Int64N(1<<34), name)
	if stType == "pbs" && g.chance(0.1) {
		e["encrypted"] = fingerprint(fmt.Sprint("enc", vmid))
	}
	if g.chance(0.05) {
		e["protected"] = 1
	}
	g.content["*/"+storage] = append(g.content["*/"+storage], e)
}

// backupEntry builds a storage content row for a vzdump backup, shaped per storage type.
func backupEntry(stType, storage, guestType string, vmid int64, at time.Time, size int64, name string) map[string]any {
	e := map[string]any{"content": "backup", "vmid": vmid, "ctime": at.Unix(), "size": size, "subtype": guestType, "notes": name}
	if stType == "pbs" {
		kind, format := "vm", "pbs-vm"
		if guestType == "lxc" {
			kind, format = "ct", "pbs-ct"
		}
		e["volid"] = fmt.Sprintf("%s:backup/%s/%d/%s", storage, kind, vmid, at.Format("2006-01-02T15:04:05Z"))
		e["format"] = format
		e["verification"] = map[string]any{"state": "ok", "upid": fmt.Sprintf("UPID:pbs:%08X:%08X:%08X:verificationjob:store1\\x3av-%d:root@pam:", vmid, vmid*3, at.Unix()+3600, vmid)}
		return e
	}
	kind, ext, format := "qemu", "vma.zst", "vma.zst"
	if guestType == "lxc" {
		kind, ext, format = "lxc", "tar.zst", "tar.zst"
	}
	e["volid"] = fmt.Sprintf("%s:backup/vzdump-%s-%d-%s.%s", storage, kind, vmid, at.Format("2006_01_02-15_04_05"), ext)
	e["format"] = format
	return e
}

func (g *gen) backupJobs() []any {
	jobs := []any{map[string]any{
		"id": "backup-" + g.hex(8) + "-" + g.hex(4), "type": "vzdump", "enabled": 1, "schedule": "sun 01:00",
		"storage": "pbs", "mode": "snapshot", "compress": "zstd", "all": 1, "notes-template": "{{guestname}}",
		"prune-backups": "keep-daily=7,keep-weekly=4", "fleecing": "enabled=0", "repeat-missed": 0,
		"next-run": epoch + 86400,
	}}
	if !g.c.Standalone {
		jobs = append(jobs, map[string]any{
			"id": "backup-" + g.hex(8) + "-" + g.hex(4), "type": "vzdump", "enabled": 0, "schedule": "*-*-* 03:00",
			"storage": "nfs-backup", "mode": "stop", "compress": "zstd", "vmid": "101,102,105",
			"node": g.c.Nodes[0], "mailnotification": "failure", "comment": "legacy nightly job",
			"prune-backups": "keep-last=3",
		})
	}
	return jobs
}

var taskTypes = []string{"qmstart", "qmstop", "qmshutdown", "vzdump", "qmsnapshot", "vzstart", "vzshutdown", "qmigrate", "aptupdate", "vncproxy", "qmreboot", "imgcopy"}

func (g *gen) nodeTasks(node string) []any {
	var guests []string
	for _, r := range g.resources {
		m := r.(map[string]any)
		if asString(m["node"]) == node && (asString(m["type"]) == "qemu" || asString(m["type"]) == "lxc") {
			guests = append(guests, asString(m["vmid"]))
		}
	}
	n := min(600, 5+4*len(guests))
	out := make([]any, 0, n)
	t := int64(epoch - 60)
	for i := 0; i < n; i++ {
		typ := taskTypes[g.rng.IntN(len(taskTypes))]
		id := ""
		if typ != "aptupdate" && len(guests) > 0 {
			id = guests[g.rng.IntN(len(guests))]
		}
		user := g.pick("root@pam", "root@pam", "admin@pve", "root@pam!proxbox")
		pid := int64(0x1000 + g.rng.IntN(0xfffff))
		pstart := int64(g.rng.IntN(1 << 28))
		upid := fmt.Sprintf("UPID:%s:%08X:%08X:%08X:%s:%s:%s:", node, pid, pstart, t, typ, id, user)
		status := "OK"
		switch r := g.rng.IntN(40); {
		case r == 0:
			status = "WARNINGS: 1"
		case r == 1:
			status = fmt.Sprintf("command '%s' failed: exit code 1", typ)
		case r == 2 && typ == "vzdump":
			status = "job errors"
		}
		out = append(out, map[string]any{
			"upid": upid, "node": node, "pid": pid, "pstart": pstart, "starttime": t, "endtime": t + int64(1+g.rng.IntN(300)),
			"type": typ, "id": id, "user": user, "status": status,
		})
		t -= int64(600 + g.rng.IntN(7200))
	}
	return out
}
