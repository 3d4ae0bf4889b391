package proxmox

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxbox/proxbox/inventory"
)

// ReadOptions selects the optional reads of Read. The zero value reads guests, nodes and
// their configs only; DefaultReadOptions turns everything on.
type ReadOptions struct {
	// GuestAgent reads guest-side interfaces: QEMU agent/network-get-interfaces (running,
	// agent enabled) and LXC /interfaces (running).
	GuestAgent bool
	// NodeNetworks reads /nodes/{node}/network for every online node.
	NodeNetworks bool
	// Storage reads /storage.
	Storage bool

	// The optional reads of sync engine II (plugin models); off, they cost nothing.
	//
	// Backups reads /nodes/{n}/storage?content=backup and the content=backup list of each
	// storage it names, on every online node (1 + backup storages requests per node);
	// shared storage lists the same volume on every node and is deduplicated by volid.
	Backups bool
	// Snapshots reads /nodes/{n}/{qemu|lxc}/{vmid}/snapshot for every guest (one request
	// per guest), without PVE's "current" entry.
	Snapshots bool
	// Replications reads /cluster/replication; BackupJobs reads /cluster/backup.
	Replications bool
	BackupJobs   bool
	// Tasks reads /nodes/{n}/tasks of every online node with since= and pages of 500,
	// keeping the tasks of the last TaskDays days (default 30), at most TaskPerGuest
	// (default 50) per guest, and reading at most TaskMaxPerNode (default 5000) per node.
	Tasks          bool
	TaskDays       int
	TaskPerGuest   int
	TaskMaxPerNode int

	// GuestConfig keeps every guest's raw config in inventory.Guest.Config. Off (what a
	// sync and the watcher read), the config is parsed into the guest's fields and
	// dropped: a snapshot held for a whole run then keeps about half the bytes.
	GuestConfig bool
}

// DefaultReadOptions is what a sync uses: guest agent, node networks and storage.
func DefaultReadOptions() ReadOptions {
	return ReadOptions{GuestAgent: true, NodeNetworks: true, Storage: true}
}

// Problem objects (inventory.Problem.Object) use these forms: "cluster", "node/NAME",
// "qemu/VMID", "lxc/VMID", "storage".

// Read reads the endpoint into a snapshot. Per-object failures (a node down, a config
// 500, a silent guest agent) are recorded in the snapshot's Errors or Warnings and the
// read goes on. Read returns an error only when the endpoint cannot be read at all
// (authentication, unreachable, /cluster/status or /cluster/resources failing, ctx
// cancelled); the snapshot returned with it still carries Requests and Errors, and is
// never Complete.
func (c *Client) Read(ctx context.Context, ep inventory.Endpoint, opts ReadOptions) (*inventory.Snapshot, error) {
	r := &reader{c: c, opts: opts, snap: &inventory.Snapshot{Endpoint: ep, TakenAt: time.Now().UTC()}}
	ctx = context.WithValue(ctx, counterKey, &r.requests)
	err := r.run(ctx)
	r.finish()
	if err != nil {
		return r.snap, fmt.Errorf("read proxmox endpoint %q: %w", endpointName(ep, c.base), err)
	}
	return r.snap, nil
}

func endpointName(ep inventory.Endpoint, base string) string {
	if ep.Name != "" {
		return ep.Name
	}
	if ep.Host != "" {
		return ep.Host
	}
	return base
}

type reader struct {
	c        *Client
	opts     ReadOptions
	snap     *inventory.Snapshot
	requests atomic.Int64

	mu       sync.Mutex
	warnings []inventory.Problem
	errs     []inventory.Problem

	lxcIfacesMissing atomic.Bool // PVE < 8.1 answers 501: ask once, then stop

	strs strtab // the values guests repeat, held once per read
}

func (r *reader) warn(obj, path, detail string) {
	r.mu.Lock()
	r.warnings = append(r.warnings, inventory.Problem{Object: obj, Path: path, Detail: detail})
	r.mu.Unlock()
}

func (r *reader) fail(obj, path string, err error) {
	r.mu.Lock()
	r.errs = append(r.errs, inventory.Problem{Object: obj, Path: path, Detail: err.Error()})
	r.mu.Unlock()
}

func (r *reader) finish() {
	s := r.snap
	s.Requests = int(r.requests.Load())
	less := func(l []inventory.Problem) func(i, j int) bool {
		return func(i, j int) bool {
			if l[i].Object != l[j].Object {
				return l[i].Object < l[j].Object
			}
			return l[i].Path < l[j].Path
		}
	}
	sort.SliceStable(r.warnings, less(r.warnings))
	sort.SliceStable(r.errs, less(r.errs))
	s.Warnings = append(s.Warnings, r.warnings...)
	s.Errors = append(s.Errors, r.errs...)
}

func (r *reader) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	return r.c.get(ctx, path, q, r.c.cfg.Timeout)
}

func (r *reader) run(ctx context.Context) error {
	c := r.c
	if err := c.ensureSession(ctx); err != nil {
		r.fail("cluster", "/access/ticket", err)
		return err
	}
	c.authMu.RLock()
	defer c.authMu.RUnlock()

	// /cluster/status and /cluster/resources are both required; read them together.
	var (
		wg                  sync.WaitGroup
		statusData, resData []byte
		statusErr, resErr   error
		version             string
	)
	wg.Add(3)
	go func() { defer wg.Done(); statusData, statusErr = r.get(ctx, "/cluster/status", nil) }()
	go func() { defer wg.Done(); resData, resErr = r.get(ctx, "/cluster/resources", nil) }()
	go func() {
		defer wg.Done()
		d, err := r.get(ctx, "/version", nil)
		if err != nil {
			r.warn("cluster", "/version", err.Error())
			return
		}
		if v, err := decodeObject[struct {
			Version flexString `json:"version"`
		}](d); err == nil {
			version = string(v.Version)
		}
	}()
	wg.Wait()
	if statusErr != nil {
		r.fail("cluster", "/cluster/status", statusErr)
		return statusErr
	}
	if resErr != nil {
		r.fail("cluster", "/cluster/resources", resErr)
		return resErr
	}
	if err := r.clusterStatus(statusData, version); err != nil {
		r.fail("cluster", "/cluster/status", err)
		return err
	}
	if err := r.resources(resData); err != nil {
		r.fail("cluster", "/cluster/resources", err)
		return err
	}
	statusData, resData = nil, nil // parsed: the replies (megabytes at 45,000 guests) need not outlive the read's first step

	// Everything else in a bounded pool.
	sem := make(chan struct{}, c.cfg.Concurrency)
	var pool sync.WaitGroup
	spawn := func(f func()) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		pool.Add(1)
		go func() {
			defer func() { <-sem; pool.Done() }()
			f()
		}()
	}
	online := map[string]bool{} // before spawning: node workers write into r.snap.Nodes
	for _, n := range r.snap.Nodes {
		online[n.Name] = n.Online
	}
	if r.opts.Storage {
		spawn(func() {
			if r.storage(ctx) {
				r.snap.Read.Storage = true
			}
		})
	}
	x := &extras{}
	r.spawnExtras(ctx, x, spawn, online)
	if r.opts.NodeNetworks {
		for i := range r.snap.Nodes {
			if r.snap.Nodes[i].Online {
				spawn(func() { r.nodeNetwork(ctx, &r.snap.Nodes[i]) })
			}
		}
	}
	for i := range r.snap.Guests {
		g := &r.snap.Guests[i]
		if !online[g.Node] {
			r.fail(guestObject(g), "", fmt.Errorf("node %s is offline; config not read", g.Node))
			continue
		}
		spawn(func() { r.guest(ctx, g) })
		if r.opts.Snapshots {
			prefix := "/nodes/" + url.PathEscape(g.Node) + "/" + string(g.Type) + "/" + strconv.Itoa(g.VMID)
			spawn(func() { r.snapshots(ctx, x, g, prefix) })
		}
	}
	pool.Wait()
	if err := ctx.Err(); err != nil {
		r.fail("cluster", "", err)
		return err
	}
	r.finishExtras(x)
	return nil
}

func guestObject(g *inventory.Guest) string { return fmt.Sprintf("%s/%d", g.Type, g.VMID) }

func (r *reader) clusterStatus(data []byte, version string) error {
	entries, bad, err := decodeList[statusEntry](data, false)
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		r.warn("cluster", "/cluster/status", fmt.Sprintf("%d malformed entries skipped", len(bad)))
	}
	s := r.snap
	var clusterSeen bool
	for _, e := range entries {
		switch string(e.Type) {
		case "cluster":
			clusterSeen = true
			s.Cluster = inventory.Cluster{Name: string(e.Name), Quorate: bool(e.Quorate), Version: int(e.Version)}
		case "node":
			if e.Name == "" {
				continue
			}
			n := inventory.Node{Name: string(e.Name), IP: string(e.IP), NodeID: int(e.NodeID), Online: true}
			if e.Online != nil {
				n.Online = bool(*e.Online)
			}
			if bool(e.Local) {
				n.PVEVersion = version
			}
			s.Nodes = append(s.Nodes, n)
		}
	}
	if !clusterSeen {
		if len(s.Nodes) == 0 {
			return fmt.Errorf("%w: /cluster/status lists neither a cluster nor a node", ErrMalformed)
		}
		s.Cluster = inventory.Cluster{Name: s.Nodes[0].Name, Standalone: true, Quorate: true}
		if len(s.Nodes) == 1 {
			s.Nodes[0].PVEVersion = version
		}
	}
	return nil
}

func (r *reader) resources(data []byte) error {
	entries, bad, err := decodeList[resourceEntry](data, false)
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		// a skipped entry may be a guest: the snapshot is not complete
		r.fail("cluster", "/cluster/resources", fmt.Errorf("%w: %d entries are not objects", ErrMalformed, len(bad)))
	}
	s := r.snap
	nodeIdx := map[string]int{}
	for i, n := range s.Nodes {
		nodeIdx[n.Name] = i
	}
	guests := 0
	for _, e := range entries {
		if e.Type == "qemu" || e.Type == "lxc" {
			guests++
		}
	}
	s.Guests = make([]inventory.Guest, 0, guests)
	t := &r.strs
	for _, e := range entries {
		typ := string(e.Type)
		switch typ {
		case "node":
			name := string(e.Node)
			if name == "" {
				continue
			}
			i, ok := nodeIdx[name]
			if !ok {
				s.Nodes = append(s.Nodes, inventory.Node{Name: name, Online: string(e.Status) == "online"})
				i = len(s.Nodes) - 1
				nodeIdx[name] = i
			}
			n := &s.Nodes[i]
			n.CPUs = int(e.MaxCPU)
			n.MemoryBytes = int64(e.MaxMem)
			n.Uptime = int64(e.Uptime)
			if st := string(e.Status); st != "" && st != "online" {
				n.Online = false
			}
		case "qemu", "lxc":
			vmid := int(e.VMID)
			if vmid <= 0 {
				if _, id, ok := strings.Cut(string(e.ID), "/"); ok {
					vmid = int(parseIntLoose(id))
				}
			}
			if vmid <= 0 || e.Node == "" {
				r.fail("cluster", "/cluster/resources", fmt.Errorf("%w: %s entry %q without vmid or node", ErrMalformed, typ, string(e.ID)))
				continue
			}
			g := inventory.Guest{
				VMID:         vmid,
				Type:         inventory.GuestType(t.intern(typ)),
				Name:         string(e.Name),
				Node:         t.intern(string(e.Node)),
				Status:       t.intern(string(e.Status)),
				Template:     bool(e.Template),
				Pool:         t.intern(string(e.Pool)),
				HAState:      t.intern(string(e.HAState)),
				Tags:         t.internAll(ParseTags(string(e.Tags))),
				VCPUs:        float64(e.MaxCPU),
				MemoryMB:     int64(e.MaxMem) >> 20,
				MaxDiskBytes: int64(e.MaxDisk),
			}
			if g.Status == "" {
				g.Status = "unknown"
			}
			s.Guests = append(s.Guests, g)
		}
	}
	sort.Slice(s.Nodes, func(i, j int) bool { return s.Nodes[i].Name < s.Nodes[j].Name })
	sort.Slice(s.Guests, func(i, j int) bool {
		if s.Guests[i].VMID != s.Guests[j].VMID {
			return s.Guests[i].VMID < s.Guests[j].VMID
		}
		return s.Guests[i].Type < s.Guests[j].Type
	})
	return nil
}

func (r *reader) storage(ctx context.Context) bool {
	d, err := r.get(ctx, "/storage", nil)
	if err != nil {
		r.fail("storage", "/storage", err)
		return false
	}
	var raw []map[string]flexString
	items, bad, err := decodeList[map[string]flexString](d, true)
	if err != nil {
		r.fail("storage", "/storage", err)
		return false
	}
	if len(bad) > 0 {
		r.warn("storage", "/storage", fmt.Sprintf("%d malformed entries skipped", len(bad)))
	}
	raw = items
	out := make([]inventory.Storage, 0, len(raw))
	for _, m := range raw {
		st := inventory.Storage{
			Name:    string(m["storage"]),
			Type:    string(m["type"]),
			Content: splitList(string(m["content"])),
			Nodes:   splitList(string(m["nodes"])),
			Shared:  truthy(string(m["shared"])),
			Enabled: !truthy(string(m["disable"])),
			Config:  make(map[string]string, len(m)),
		}
		if st.Name == "" {
			continue
		}
		for k, v := range m {
			st.Config[k] = string(v)
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	r.snap.Storage = out
	return len(bad) == 0
}

func splitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' })
	if len(f) == 0 {
		return nil
	}
	return f
}

func (r *reader) nodeNetwork(ctx context.Context, n *inventory.Node) {
	path := "/nodes/" + url.PathEscape(n.Name) + "/network"
	d, err := r.get(ctx, path, nil)
	if err != nil {
		r.fail("node/"+n.Name, path, err)
		return
	}
	items, bad, err := decodeList[networkEntry](d, true)
	if err != nil {
		r.fail("node/"+n.Name, path, err)
		return
	}
	if len(bad) > 0 {
		r.warn("node/"+n.Name, path, fmt.Sprintf("%d malformed entries skipped", len(bad)))
	}
	out := make([]inventory.NodeInterface, 0, len(items))
	for _, e := range items {
		if e.Iface == "" {
			continue
		}
		out = append(out, nodeInterface(e))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	n.Interfaces = out
}

func (r *reader) guest(ctx context.Context, g *inventory.Guest) {
	obj := guestObject(g)
	prefix := "/nodes/" + url.PathEscape(g.Node) + "/" + string(g.Type) + "/" + strconv.Itoa(g.VMID)
	d, err := r.get(ctx, prefix+"/config", nil)
	if err == nil {
		var cfg map[string]string
		if cfg, err = decodeConfig(d); err == nil {
			guestFromConfig(g, cfg, &r.strs)
			if r.opts.GuestConfig {
				g.Config = cfg
			}
		}
	}
	if err != nil {
		r.fail(obj, prefix+"/config", err)
		return
	}
	if !r.opts.GuestAgent || g.Status != "running" {
		return
	}
	switch g.Type {
	case inventory.QEMU:
		if !g.Agent {
			return
		}
		path := prefix + "/agent/network-get-interfaces"
		d, err := r.c.get(ctx, path, nil, r.c.cfg.AgentTimeout)
		if err == nil {
			g.AgentInterfaces, err = ParseAgentInterfaces(d)
			g.AgentInterfaces = r.strs.ifaces(g.AgentInterfaces)
		}
		if err != nil {
			r.warn(obj, path, "guest agent: "+err.Error())
		}
	case inventory.LXC:
		if r.lxcIfacesMissing.Load() {
			return
		}
		path := prefix + "/interfaces"
		d, err := r.get(ctx, path, nil)
		if err == nil {
			g.AgentInterfaces, err = ParseLXCInterfaces(d)
			g.AgentInterfaces = r.strs.ifaces(g.AgentInterfaces)
		}
		if err != nil {
			if errors.Is(err, ErrNotImplemented) {
				if r.lxcIfacesMissing.CompareAndSwap(false, true) {
					r.warn("cluster", path, "LXC /interfaces is not available on this Proxmox version (8.1+ needed); using the config's ip=/ip6=")
				}
				return
			}
			r.warn(obj, path, "LXC interfaces: "+err.Error()+"; using the config's ip=/ip6=")
		}
	}
}

// Version checks the endpoint (credentials, TLS, reachability) with one GET /version and
// returns PVE's version string, e.g. "8.3.2". For a "test connection" button.
func (c *Client) Version(ctx context.Context) (string, error) {
	if err := c.ensureSession(ctx); err != nil {
		return "", err
	}
	c.authMu.RLock()
	defer c.authMu.RUnlock()
	d, err := c.get(ctx, "/version", nil, c.cfg.Timeout)
	if err != nil {
		return "", err
	}
	v, err := decodeObject[struct {
		Version flexString `json:"version"`
	}](d)
	if err != nil {
		return "", c.apiErr("/version", 200, "malformed reply", err)
	}
	return string(v.Version), nil
}
