package pve

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// clusterTasksPerNode is how many of each node's newest tasks the derived
// /cluster/tasks lists. PVE answers it from the cluster-wide task list each
// node broadcasts (its running and most recent tasks), not the full
// per-node task index that /nodes/{node}/tasks pages through.
const clusterTasksPerNode = 50

// deriveClusterTasks merges the newest tasks of every node, newest first.
func (s *Server) deriveClusterTasks() []any {
	var out []map[string]any
	for _, n := range s.nodeNames() {
		list := asList(s.data("/nodes/" + n + "/tasks"))
		if len(list) > clusterTasksPerNode {
			list = list[:clusterTasksPerNode]
		}
		for _, t := range list {
			e := map[string]any{}
			for k, v := range t {
				e[k] = v
			}
			if _, ok := e["node"]; !ok {
				e["node"] = n
			}
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, _ := asInt(out[i]["starttime"])
		b, _ := asInt(out[j]["starttime"])
		if a == b { // same second: the later process (pstart) first
			return mustInt(out[i]["pstart"]) > mustInt(out[j]["pstart"])
		}
		return a > b
	})
	res := make([]any, len(out))
	for i, e := range out {
		res[i] = e
	}
	return res
}

// Mutation is the body of POST /_lab/mutate: one change of the simulated
// cluster, as an operator would make it. VMID names the guest; exactly one
// of the other fields says what happens to it.
type Mutation struct {
	VMID     int       `json:"vmid,omitempty"`
	Memory   int       `json:"memory,omitempty"`   // MiB (qm set --memory): task qmset / vzset
	Name     string    `json:"name,omitempty"`     // rename: task qmset / vzset
	Node     string    `json:"node,omitempty"`     // migrate: task qmigrate / vzmigrate
	Destroy  bool      `json:"destroy,omitempty"`  // task qmdestroy / vzdestroy
	Backup   bool      `json:"backup,omitempty"`   // vzdump to Storage (default: the first backup storage): task vzdump
	Storage  string    `json:"storage,omitempty"`  // backup target
	Snapshot string    `json:"snapshot,omitempty"` // snapshot name: task qmsnapshot / vzsnapshot
	Start    bool      `json:"start,omitempty"`    // task qmstart / vzstart
	Stop     bool      `json:"stop,omitempty"`     // task qmstop / vzstop
	Create   *NewGuest `json:"create,omitempty"`
}

// NewGuest is a guest created by a mutation (stopped, like a fresh `qm create`).
type NewGuest struct {
	VMID   int    `json:"vmid"`
	Type   string `json:"type"` // qemu (default) or lxc
	Node   string `json:"node"`
	Name   string `json:"name,omitempty"`
	Memory int    `json:"memory,omitempty"` // MiB, default 2048
	Cores  int    `json:"cores,omitempty"`  // default 1
}

// Mutate applies one mutation (the Go form of POST /_lab/mutate).
func (s *Server) Mutate(m Mutation) error {
	now := time.Now()
	set := 0
	for _, b := range []bool{m.Memory != 0, m.Name != "", m.Node != "", m.Destroy, m.Backup, m.Snapshot != "", m.Start, m.Stop, m.Create != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("a mutation changes exactly one thing: memory, name, node, destroy, backup, snapshot, start, stop or create (got %d)", set)
	}
	if m.Create == nil && m.VMID <= 0 {
		return fmt.Errorf("vmid: required")
	}
	switch {
	case m.Memory != 0:
		return s.SetGuestMemory(m.VMID, m.Memory)
	case m.Name != "":
		return s.RenameGuest(m.VMID, m.Name)
	case m.Node != "":
		return s.MigrateGuest(m.VMID, m.Node)
	case m.Destroy:
		return s.RemoveGuest(m.VMID)
	case m.Snapshot != "":
		return s.AddSnapshot(m.VMID, m.Snapshot, "", now)
	case m.Start:
		return s.StartGuest(m.VMID)
	case m.Stop:
		return s.StopGuest(m.VMID)
	case m.Backup:
		st := m.Storage
		if st == "" {
			st = s.backupStorageName()
		}
		if st == "" {
			return fmt.Errorf("backup: no storage with backup content")
		}
		_, err := s.AddBackup(m.VMID, st, now)
		return err
	}
	return s.CreateGuest(*m.Create)
}

func (s *Server) backupStorageName() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range asList(s.data("/storage")) {
		for _, c := range strings.Split(asString(e["content"]), ",") {
			if c == "backup" {
				return asString(e["storage"])
			}
		}
	}
	return ""
}

// CreateGuest adds a stopped guest with a minimal config (one NIC on vmbr0,
// one 8 GiB disk) and logs qmcreate / vzcreate.
func (s *Server) CreateGuest(n NewGuest) error {
	if n.Type == "" {
		n.Type = "qemu"
	}
	if n.Type != "qemu" && n.Type != "lxc" {
		return fmt.Errorf("create: type %q: want qemu or lxc", n.Type)
	}
	if n.VMID < 100 || n.VMID > 999999999 {
		return fmt.Errorf("create: vmid %d: must be between 100 and 999999999", n.VMID)
	}
	if n.Memory <= 0 {
		n.Memory = 2048
	}
	if n.Cores <= 0 {
		n.Cores = 1
	}
	if n.Name == "" {
		n.Name = fmt.Sprintf("guest-%d", n.VMID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.dropIndex()
	if s.guest(int64(n.VMID)) != nil {
		return fmt.Errorf("create: VM %d already exists", n.VMID)
	}
	if !s.nodeExists(n.Node) {
		return fmt.Errorf("create: no such cluster node '%s'", n.Node)
	}
	mac := fmt.Sprintf("BC:24:11:%02X:%02X:%02X", (n.VMID>>16)&0xff, (n.VMID>>8)&0xff, n.VMID&0xff)
	conf := map[string]any{"memory": strconv.Itoa(n.Memory), "cores": n.Cores, "digest": fingerprintHex(fmt.Sprint("create", n.VMID))}
	task := "qmcreate"
	if n.Type == "lxc" {
		task = "vzcreate"
		conf["hostname"] = n.Name
		conf["ostype"] = "debian"
		conf["arch"] = "amd64"
		conf["net0"] = "name=eth0,bridge=vmbr0,hwaddr=" + mac + ",ip=dhcp,type=veth"
		conf["rootfs"] = fmt.Sprintf("local-lvm:vm-%d-disk-0,size=8G", n.VMID)
		conf["unprivileged"] = 1
	} else {
		conf["name"] = n.Name
		conf["ostype"] = "l26"
		conf["sockets"] = 1
		conf["net0"] = "virtio=" + mac + ",bridge=vmbr0"
		conf["scsi0"] = fmt.Sprintf("local-lvm:vm-%d-disk-0,size=8G", n.VMID)
		conf["scsihw"] = "virtio-scsi-single"
		conf["boot"] = "order=scsi0"
	}
	s.routes[guestPrefix(n.Type, n.Node, int64(n.VMID))+"/config"] = conf
	res := map[string]any{
		"id": fmt.Sprintf("%s/%d", n.Type, n.VMID), "type": n.Type, "vmid": n.VMID, "name": n.Name, "node": n.Node,
		"status": "stopped", "template": 0, "maxcpu": n.Cores, "maxmem": int64(n.Memory) << 20, "maxdisk": int64(8) << 30,
		"mem": 0, "cpu": 0, "disk": 0, "uptime": 0, "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0,
	}
	s.setData("/cluster/resources", append(asAnyList(s.data("/cluster/resources")), res))
	s.addTask(n.Node, task, strconv.Itoa(n.VMID))
	return nil
}

func asAnyList(v any) []any {
	l, _ := v.([]any)
	return l
}

// serveMutate answers POST /_lab/mutate (authenticated like the API): 200
// {"data":<the newest task's UPID>} or PVE's error shape.
func (s *Server) serveMutate(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		s.writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed", nil)
		return
	}
	if msg := s.authenticate(r); msg != "" {
		s.writeError(w, http.StatusUnauthorized, msg, nil)
		return
	}
	var m Mutation
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		s.writeError(w, http.StatusBadRequest, "invalid mutation: "+err.Error(), nil)
		return
	}
	if err := s.Mutate(m); err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	s.writeData(w, s.lastUPID())
}

func (s *Server) lastUPID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lastTask
}
func mustInt(v any) int64 { n, _ := asInt(v); return n }
