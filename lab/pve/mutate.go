package pve

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrNoGuest is returned by the mutation methods for an unknown vmid.
var ErrNoGuest = errors.New("no such guest")

// The mutation methods change what the Server answers from the next request on, the way
// the same action on a real cluster would. They are safe to call while serving. In fixture
// mode a change of the file on disk replaces all mutations.

func (s *Server) guestLocked(vmid int) (map[string]any, error) {
	g := s.guest(int64(vmid))
	if g == nil {
		return nil, fmt.Errorf("guest %d: %w", vmid, ErrNoGuest)
	}
	return g, nil
}

// setData replaces the data stored at key, keeping a fixture's envelope wrapper.
func (s *Server) setData(key string, v any) {
	if rp, ok := s.routes[key].(*reply); ok && rp.status == http.StatusOK {
		if m, ok := rp.body.(map[string]any); ok {
			m["data"] = v
			return
		}
	}
	s.routes[key] = v
}

// storedConfig returns the stored config map of a guest, or nil.
func (s *Server) storedConfig(g map[string]any) map[string]any {
	vmid, _ := asInt(g["vmid"])
	m, _ := s.data(guestPrefix(asString(g["type"]), asString(g["node"]), vmid) + "/config").(map[string]any)
	return m
}

// RenameGuest changes a guest's name (QEMU `name`, LXC `hostname`).
func (s *Server) RenameGuest(vmid int, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.dropIndex()
	g, err := s.guestLocked(vmid)
	if err != nil {
		return err
	}
	g["name"] = name
	if c := s.storedConfig(g); c != nil {
		if asString(g["type"]) == "lxc" {
			c["hostname"] = name
		} else {
			c["name"] = name
		}
		c["digest"] = fingerprintHex(fmt.Sprint(c["digest"], "rename", name))
	}
	s.addTask(asString(g["node"]), setTask(g), strconv.Itoa(vmid))
	return nil
}

// setTask is the task type PVE logs for a config change of g (qm set / pct set).
func setTask(g map[string]any) string {
	if asString(g["type"]) == "lxc" {
		return "vzset"
	}
	return "qmset"
}

// MigrateGuest moves a guest to another node of the cluster: its resource row, config,
// snapshots, agent replies and every other per-guest path move; a migrate task is logged.
func (s *Server) MigrateGuest(vmid int, target string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.dropIndex()
	g, err := s.guestLocked(vmid)
	if err != nil {
		return err
	}
	if !s.nodeExists(target) {
		return fmt.Errorf("migrate %d: no such cluster node '%s'", vmid, target)
	}
	typ, from := asString(g["type"]), asString(g["node"])
	if from == target {
		return fmt.Errorf("migrate %d: guest is already on node '%s'", vmid, target)
	}
	oldP, newP := guestPrefix(typ, from, int64(vmid)), guestPrefix(typ, target, int64(vmid))
	for k, v := range s.routes {
		if k == oldP || strings.HasPrefix(k, oldP+"/") || strings.HasPrefix(k, oldP+"?") {
			delete(s.routes, k)
			s.routes[newP+strings.TrimPrefix(k, oldP)] = v
		}
	}
	for _, e := range s.snapshotLists(newP) {
		if _, ok := e["node"]; ok {
			e["node"] = target
		}
	}
	if c := s.storedConfig(g); c != nil {
		if _, ok := c["node"]; ok {
			c["node"] = target
		}
	}
	g["node"] = target
	task := "qmigrate"
	if typ == "lxc" {
		task = "vzmigrate"
	}
	s.addTask(from, task, strconv.Itoa(vmid))
	return nil
}

func (s *Server) snapshotLists(prefix string) []map[string]any {
	return asList(s.data(prefix + "/snapshot"))
}

// StartGuest and StopGuest set a guest's run state.
func (s *Server) StartGuest(vmid int) error { return s.setRunning(vmid, true) }
func (s *Server) StopGuest(vmid int) error  { return s.setRunning(vmid, false) }

func (s *Server) setRunning(vmid int, running bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.dropIndex()
	g, err := s.guestLocked(vmid)
	if err != nil {
		return err
	}
	s.setRunningLocked(g, running)
	return nil
}

func (s *Server) setRunningLocked(g map[string]any, running bool) string {
	vmid, _ := asInt(g["vmid"])
	typ, node := asString(g["type"]), asString(g["node"])
	task := map[[2]bool]string{{true, false}: "qmstart", {false, false}: "qmstop", {true, true}: "vzstart", {false, true}: "vzstop"}[[2]bool{running, typ == "lxc"}]
	if running {
		g["status"] = "running"
		g["uptime"] = 1
		maxmem, _ := asInt(g["maxmem"])
		g["mem"] = maxmem / 3
		g["cpu"] = 0.01
	} else {
		g["status"] = "stopped"
		for _, k := range []string{"uptime", "mem", "cpu", "netin", "netout", "diskread", "diskwrite"} {
			if _, ok := g[k]; ok {
				g[k] = 0
			}
		}
	}
	if cur, ok := s.data(guestPrefix(typ, node, vmid) + "/status/current").(map[string]any); ok {
		cur["status"] = g["status"]
		if _, has := cur["qmpstatus"]; has {
			cur["qmpstatus"] = g["status"]
		}
	}
	for _, e := range s.snapshotLists(guestPrefix(typ, node, vmid)) {
		if asString(e["name"]) == "current" {
			if _, has := e["running"]; has {
				e["running"] = boolInt(running)
			}
		}
	}
	return s.addTask(node, task, strconv.FormatInt(vmid, 10))
}

// RemoveGuest destroys a guest: its resource row, every per-guest path and its replication
// jobs go; its backups stay on their storage, as on PVE.
func (s *Server) RemoveGuest(vmid int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.dropIndex()
	g, err := s.guestLocked(vmid)
	if err != nil {
		return err
	}
	typ, node := asString(g["type"]), asString(g["node"])
	prefix := guestPrefix(typ, node, int64(vmid))
	for k := range s.routes {
		if k == prefix || strings.HasPrefix(k, prefix+"/") || strings.HasPrefix(k, prefix+"?") {
			delete(s.routes, k)
		}
	}
	var keep []any
	for _, e := range asList(s.data("/cluster/resources")) {
		if id, _ := asInt(e["vmid"]); id == int64(vmid) && (asString(e["type"]) == "qemu" || asString(e["type"]) == "lxc") {
			continue
		}
		keep = append(keep, e)
	}
	s.setData("/cluster/resources", nonNil(keep))
	if jobs, ok := s.data("/cluster/replication").([]any); ok {
		var rest []any
		for _, e := range asList(jobs) {
			if id, _ := asInt(e["guest"]); id != int64(vmid) {
				rest = append(rest, e)
			}
		}
		s.setData("/cluster/replication", nonNil(rest))
	}
	task := "qmdestroy"
	if typ == "lxc" {
		task = "vzdestroy"
	}
	s.addTask(node, task, strconv.Itoa(vmid))
	return nil
}

func nonNil(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

// SetGuestMemory changes a guest's memory in MiB (config `memory`, keeping its string or
// number encoding, and the resource's maxmem).
func (s *Server) SetGuestMemory(vmid, mib int) error {
	if mib <= 0 {
		return fmt.Errorf("memory %d MiB: must be positive", mib)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.dropIndex()
	g, err := s.guestLocked(vmid)
	if err != nil {
		return err
	}
	g["maxmem"] = int64(mib) << 20
	if c := s.storedConfig(g); c != nil {
		c["memory"] = sameType(c["memory"], int64(mib))
		c["digest"] = fingerprintHex(fmt.Sprint(c["digest"], "memory", mib))
	}
	s.addTask(asString(g["node"]), setTask(g), strconv.Itoa(vmid))
	return nil
}

// AddBackup stores a new vzdump backup of a guest on a backup storage, listed by every node
// that sees the storage (all nodes for shared storage), and returns its volid.
func (s *Server) AddBackup(vmid int, storage string, at time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.dropIndex()
	g, err := s.guestLocked(vmid)
	if err != nil {
		return "", err
	}
	var st map[string]any
	for _, e := range asList(s.data("/storage")) {
		if asString(e["storage"]) == storage {
			st = e
		}
	}
	if st == nil {
		return "", fmt.Errorf("add backup: storage '%s' does not exist", storage)
	}
	if !slices.Contains(strings.Split(asString(st["content"]), ","), "backup") {
		return "", fmt.Errorf("add backup: storage '%s' does not support backups", storage)
	}
	entry := backupEntry(asString(st["type"]), storage, asString(g["type"]), int64(vmid), at.UTC(), 1<<30, asString(g["name"]))
	nodes := []string{asString(g["node"])}
	if isShared(st) {
		nodes = s.nodeNames()
	}
	for _, n := range nodes {
		key := "/nodes/" + n + "/storage/" + storage + "/content"
		list, _ := s.data(key).([]any)
		s.setData(key, append(list, deepCopy(entry)))
	}
	s.addTask(asString(g["node"]), "vzdump", strconv.Itoa(vmid))
	return asString(entry["volid"]), nil
}

// AddSnapshot takes a snapshot: it becomes the parent of `current`.
func (s *Server) AddSnapshot(vmid int, name, description string, at time.Time) error {
	if name == "" || name == "current" {
		return fmt.Errorf("snapshot name %q: invalid", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.dropIndex()
	g, err := s.guestLocked(vmid)
	if err != nil {
		return err
	}
	typ, node := asString(g["type"]), asString(g["node"])
	key := guestPrefix(typ, node, int64(vmid)) + "/snapshot"
	list, _ := s.data(key).([]any)
	if list == nil {
		cur := map[string]any{"name": "current", "description": "You are here!", "digest": asString(s.config(g)["digest"])}
		if typ == "qemu" {
			cur["running"] = boolInt(asString(g["status"]) == "running")
		}
		list = []any{cur}
	}
	snap := map[string]any{"name": name, "description": description, "snaptime": at.Unix()}
	if typ == "qemu" {
		snap["vmstate"] = 0
	}
	var out []any
	placed := false
	for _, e := range asList(list) {
		if asString(e["name"]) == name {
			return fmt.Errorf("snapshot name '%s' already used", name)
		}
		if asString(e["name"]) == "current" && !placed {
			if p, ok := e["parent"]; ok && p != nil {
				snap["parent"] = p
			}
			e["parent"] = name
			out = append(out, snap)
			placed = true
		}
		out = append(out, e)
	}
	if !placed {
		out = append(out, snap)
	}
	s.setData(key, out)
	task := "qmsnapshot"
	if typ == "lxc" {
		task = "vzsnapshot"
	}
	s.addTask(node, task, strconv.Itoa(vmid))
	return nil
}

// addTask records a finished task at the head of a node's task list and returns its UPID.
func (s *Server) addTask(node, typ, id string) string {
	s.upids++
	now := time.Now().Unix()
	pid := 0x100000 + int64(s.upids)
	upid := fmt.Sprintf("UPID:%s:%08X:%08X:%08X:%s:%s:%s:", node, pid, pid*7, now, typ, id, s.tokenUser())
	task := map[string]any{
		"upid": upid, "node": node, "pid": pid, "pstart": pid * 7, "starttime": now, "endtime": now + 1,
		"type": typ, "id": id, "user": s.tokenUser(), "status": "OK",
	}
	key := "/nodes/" + node + "/tasks"
	list, _ := s.data(key).([]any)
	s.setData(key, append([]any{task}, list...))
	s.lastTask = upid
	if cl, ok := s.data("/cluster/tasks").([]any); ok { // a fixture's own list; else derived
		s.setData("/cluster/tasks", append([]any{deepCopy(task)}, cl...))
	}
	return upid
}

func (s *Server) tokenUser() string {
	u, _, _ := strings.Cut(s.tokenID, "!")
	return u
}

// serveWrite implements the few writes a lab needs (guest power actions); other writes get
// PVE's 501.
func (s *Server) serveWrite(r *http.Request, rel string, p *pattern, vars map[string]string) result {
	if p != nil && r.Method == http.MethodPost && strings.HasPrefix(p.text, "/cluster/ha/status/") && p.text != "/cluster/ha/status/current" {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return s.haWrite(p)
	}
	if p == nil || p.text != "/nodes/{node}/{type}/{vmid}/status/{action}" || r.Method != http.MethodPost {
		return notImplemented(r.Method, rel)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.dropIndex()
	if res, bad := s.checkVars(vars); bad {
		return res
	}
	g, res, ok := s.guestAt(vars)
	if !ok {
		return res
	}
	switch vars["action"] {
	case "start", "resume":
		return okResult(s.setRunningLocked(g, true))
	case "stop", "shutdown", "suspend":
		return okResult(s.setRunningLocked(g, false))
	case "reboot", "reset":
		if asString(g["status"]) != "running" {
			return errResult(http.StatusInternalServerError, fmt.Sprintf("VM %s not running", vars["vmid"]))
		}
		return okResult(s.setRunningLocked(g, true))
	}
	return notImplemented(r.Method, rel)
}
