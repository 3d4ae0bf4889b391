package sync

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"time"

	"github.com/proxbox/proxbox/inventory"
)

// NetBox is what the engine needs from a NetBox client. sync/nbadapter
// adapts *netbox.Client; tests use fakes or the lab simulator.
type NetBox interface {
	// List returns every object of model matching query (pagination is the
	// client's job). The engine passes FreshRead contexts via Fresh.
	List(ctx context.Context, model string, query url.Values) ([]map[string]any, error)
	// Create, Update and Delete write in bulk; one result per input, in any order.
	// A result's Object needs to carry only "id" and the fields its input set
	// (the engine lays an update's reply over the object it had).
	Create(ctx context.Context, model string, objs []map[string]any) []WriteResult
	Update(ctx context.Context, model string, patches []map[string]any) []WriteResult
	Delete(ctx context.Context, model string, ids []int64) []WriteResult
}

// WriteResult is the outcome of one object of a bulk write.
type WriteResult struct {
	Index  int
	Object map[string]any
	Err    error
}

// Target is one Proxmox endpoint to sync: Read is called once per run
// (proxmox.Client.Read with the endpoint and its read options, in production).
type Target struct {
	Endpoint inventory.Endpoint
	Read     func(ctx context.Context) (*inventory.Snapshot, error)
}

// Engine syncs Proxmox endpoints into one NetBox.
type Engine struct {
	NetBox NetBox
	// Stats returns the NetBox client's request and write counters (optional;
	// the summary's netbox numbers are deltas of it).
	Stats func() (requests, writes int64)
	// BatchSizes returns the NetBox client's bulk write size per model path
	// (optional; reported in the summary).
	BatchSizes func() map[string]int
	// Fresh marks a context so that lists bypass any GET cache
	// (netbox.FreshRead in production; optional).
	Fresh func(context.Context) context.Context
}

// Run reads every target concurrently (at most opt.ReadConcurrency at a
// time, while NetBox's tags and clusters load), decides which NetBox
// cluster each one owns once all snapshots are in (see "Endpoint identity"
// in the package doc: nothing is written before), then syncs them one after
// another, in dependency order, and returns the summary. The stream of events goes to
// opt.Events. A target that cannot be read, or that is refused, is an error
// of the run and nothing of it is written; the others still sync.
func (e *Engine) Run(ctx context.Context, targets []Target, opt Options) *Summary {
	opt.defaults()
	start := opt.Now()
	rep := newReport(opt.Events, opt.Now)
	netboxDelta := e.netboxDelta()
	var pveRequests int64
	if opt.DryRun {
		opt.State = nil // a dry run's simulated writes must not be remembered
		opt.Refusals = nil
	}
	sh := &shared{cur: map[string]map[int64]map[string]any{}, loaded: map[string]bool{}}
	if opt.State != nil {
		sh = opt.State.shared()
	}
	pctx := ctx
	if e.Fresh != nil {
		pctx = e.Fresh(ctx)
	}
	if sh.plugin.checked && sh.plugin.err == "" {
		if !opt.IgnorePluginSettings && sh.plugin.settings != nil {
			ApplyPluginSettings(&opt.Map, sh.plugin.settings)
		}
	} else {
		sh.plugin = pluginState{}
		e.checkPlugin(pctx, &opt, &sh.plugin)
	}
	if sh.plugin.checked && !sh.plugin.installed && sh.plugin.err == "" {
		ctx = context.WithValue(ctx, pluginAbsentKey{}, true)
	}
	// Every endpoint's label, then every snapshot, then who owns which
	// NetBox cluster: nothing is written before all three are known.
	labels := make([]string, len(targets))
	eps := make([]inventory.Endpoint, len(targets))
	for i, t := range targets {
		eps[i], labels[i] = t.Endpoint, EndpointLabel(t.Endpoint)
	}
	dup := map[string]int{}
	for _, l := range labels {
		dup[l]++
	}
	snaps := make([]*inventory.Snapshot, len(targets))
	synced := map[string]bool{}
	for i := range targets {
		rep.endpoint = labels[i]
		rep.send(Event{Type: EventRunStarted})
	}
	rep.endpoint = ""
	// Read every endpoint at once (at most ReadConcurrency at a time) while
	// NetBox's tags and clusters load: nothing is written before all
	// snapshots are in, so the claims below see them all.
	r := e.newRun(opt, rep, sh)
	clErr := make(chan error, 1)
	go func() { clErr <- r.loadClusters(pctx) }()
	readErrs := make([]error, len(targets))
	sem := make(chan struct{}, opt.ReadConcurrency)
	var wg gosync.WaitGroup
	for i, t := range targets {
		if dup[labels[i]] > 1 {
			continue // refused below, without reading it
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				readErrs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			snaps[i], readErrs[i] = t.Read(ctx)
		}()
	}
	wg.Wait()
	loadErr := <-clErr
	for i, t := range targets {
		snap, err := snaps[i], readErrs[i]
		snaps[i] = nil
		if snap != nil {
			pveRequests += int64(snap.Requests)
		}
		if dup[labels[i]] > 1 {
			continue
		}
		if err != nil {
			rep.endpoint = labels[i]
			rep.fail("endpoint "+labels[i], fmt.Sprintf("read proxmox: %v", err))
			continue
		}
		if snap.Endpoint != t.Endpoint { // the target's identity wins (a reused snapshot may predate a rename)
			cp := *snap
			cp.Endpoint = t.Endpoint
			snap = &cp
		}
		snaps[i] = snap
	}
	if err := loadErr; err != nil {
		rep.endpoint = ""
		rep.fail("netbox", err.Error())
	} else {
		claims := claimClusters(r, eps, labels, snaps, opt.ReservedLabels)
		for i, c := range claims {
			rep.endpoint = c.label
			if c.refuse != "" {
				rep.fail("endpoint "+c.label, c.refuse)
				continue
			}
			if c.warn != "" {
				rep.warn("endpoint "+c.label, c.warn)
			}
			if snaps[i] == nil {
				continue
			}
			if c.adopt != 0 {
				ar := e.newRun(opt, rep, sh)
				if !ar.adopt(pctx, c) {
					continue
				}
			}
			snap := snaps[i]
			snaps[i] = nil // e.sync releases it once mapped
			e.sync(ctx, snap, opt, rep, sh)
			synced[c.label] = true
		}
	}
	if ctx.Err() == nil {
		opt.Refusals.sweep(synced) // what no write of a synced endpoint met is gone
	}
	if loadErr == nil {
		rep.endpoint = ""
		r.unusedVRFs(labels)
	}
	s := rep.summary(start, opt.DryRun)
	if opt.State != nil && len(s.Errors) > 0 {
		opt.State.Reset() // what failed may have half landed: list again next time
	}
	s.Proxmox.Requests = pveRequests
	netboxDelta(s)
	rep.send(Event{Type: EventRunFinished, Summary: s})
	return s
}

// netboxDelta returns a func that sets a summary's NetBox request and write
// counts to those made since netboxDelta was called (when Stats is set).
func (e *Engine) netboxDelta() func(*Summary) {
	if e.Stats == nil {
		return func(*Summary) {}
	}
	req0, wr0 := e.Stats()
	return func(s *Summary) {
		req, wr := e.Stats()
		s.NetBox.Requests, s.NetBox.Writes = req-req0, wr-wr0
		if e.BatchSizes != nil {
			s.NetBox.BatchSizes = e.BatchSizes()
		}
	}
}

type pluginAbsentKey struct{}

// PluginAbsent reports, inside a Target's Read, that this run found no
// netbox-proxbox plugin, so no plugin stage will use the Proxmox data only
// they need (storage, backups, snapshots, replications, backup jobs, tasks):
// the reader may skip it.
func PluginAbsent(ctx context.Context) bool {
	v, _ := ctx.Value(pluginAbsentKey{}).(bool)
	return v
}

// SyncSnapshot syncs one snapshot that the caller already read.
func (e *Engine) SyncSnapshot(ctx context.Context, snap *inventory.Snapshot, opt Options) *Summary {
	return e.Run(ctx, []Target{{Endpoint: snap.Endpoint, Read: func(context.Context) (*inventory.Snapshot, error) { return snap, nil }}}, opt)
}

// run is the state of one endpoint's sync: NetBox's current objects by model
// and id, updated by every write (or by the simulated writes of a dry run).
type run struct {
	e      *Engine
	opt    Options
	rep    *report
	snap   *inventory.Snapshot
	d      *Desired
	cur    map[string]map[int64]map[string]any
	keys   map[string]map[int64]string // memo of current keys, dropped on writes
	nextID int64
	// created this run (no second-pass update counted for them)
	created map[string]bool
	frozen  map[string]bool // VM keys whose agent read failed: their children are not removed or renamed
	once    func(model string, load func() error) error
	ps      *pluginState
	pc      pluginCtx
	// parts and oldestTask: what the plugin stages need of the snapshot
	// once it is released (mapPluginObjects).
	parts      map[Stage]partInfo
	oldestTask time.Time
	// warm: NetBox's objects come from Options.State, nothing is listed.
	warm bool
	// lastBackupWrite is when the last backup write request ended (BackupBatchDelay).
	lastBackupWrite time.Time
}

// shared holds the models that are not scoped to one endpoint (dependency
// objects, tags, and the proxbox-tagged children lists): loaded once per Run
// and kept up to date by every endpoint's writes.
type shared struct {
	cur    map[string]map[int64]map[string]any
	loaded map[string]bool
	plugin pluginState
}

var sharedModels = []string{ModelTag, ModelCustomField, ModelClusterType, ModelSite, ModelMfr, ModelDeviceType,
	ModelRole, ModelPlatform, ModelCluster, ModelVMInterface, ModelDisk, ModelMAC, ModelIP, ModelVRF,
	ModelStorage, ModelBackup, ModelSnapshot, ModelTaskHistory, ModelReplication, ModelBackupRoutine}

// newRun is a run over the shared state, without a snapshot yet.
func (e *Engine) newRun(opt Options, rep *report, sh *shared) *run {
	r := &run{e: e, opt: opt, rep: rep, cur: map[string]map[int64]map[string]any{},
		keys: map[string]map[int64]string{}, created: map[string]bool{}, frozen: map[string]bool{}, ps: &sh.plugin}
	for _, m := range sharedModels {
		if sh.cur[m] == nil {
			sh.cur[m] = map[int64]map[string]any{}
		}
		r.cur[m] = sh.cur[m]
	}
	r.once = func(model string, f func() error) error {
		if sh.loaded[model] {
			return nil
		}
		if err := f(); err != nil {
			return err
		}
		sh.loaded[model] = true
		return nil
	}
	return r
}

// loadClusters loads the tags (tag filters of NetBox reject unknown slugs)
// and our clusters, once per Run.
func (r *run) loadClusters(ctx context.Context) error {
	if err := r.once(ModelTag, func() error { return r.load(ctx, ModelTag, url.Values{}) }); err != nil {
		return err
	}
	if !r.hasTag(TagProxbox) {
		return nil
	}
	return r.once(ModelCluster, func() error { return r.load(ctx, ModelCluster, url.Values{"tag": {TagProxbox}}) })
}

func (e *Engine) sync(ctx context.Context, snap *inventory.Snapshot, opt Options, rep *report, sh *shared) {
	r := e.newRun(opt, rep, sh)
	r.snap = snap
	label := EndpointLabel(snap.Endpoint)
	if opt.State != nil {
		if es := opt.State.endpoint(label); es != nil {
			r.warm = true
			for m, v := range es.cur {
				if r.cur[m] == nil {
					r.cur[m] = v
				}
			}
		}
		defer func() { opt.State.keep(label, r.cur) }()
	}
	for _, w := range snap.Warnings {
		rep.warn(w.Object, w.Detail)
	}
	for _, er := range snap.Errors {
		rep.warn(er.Object, "read failed, orphan handling skipped: "+er.Detail)
	}
	if e.Fresh != nil {
		ctx = e.Fresh(ctx)
	}
	mapOpt := opt.Map
	if err := r.loadClusters(ctx); err != nil {
		rep.fail("netbox", err.Error())
		return
	}
	// Our cluster, and whether its name is taken by someone else.
	name := ClusterName(snap)
	if _, ours := r.idFor(ModelCluster, label); !ours {
		if err := r.load(ctx, ModelCluster, url.Values{"name": {name}}); err != nil {
			rep.fail("netbox", err.Error())
			return
		}
	}
	if mapOpt.ClusterName == "" {
		mapOpt.ClusterName = name
		for _, c := range r.cur[ModelCluster] {
			if c["name"] == name && cfString(c, CFEndpoint) != label {
				mapOpt.ClusterName = FallbackClusterName(snap)
			}
		}
		for _, c := range r.cur[ModelCluster] { // keep the name we gave earlier
			if cfString(c, CFEndpoint) == label {
				if n, _ := c["name"].(string); n != "" {
					mapOpt.ClusterName = n
				}
			}
		}
	}
	r.d = Map(snap, mapOpt)
	for _, w := range r.d.Warnings {
		rep.warn("", w)
	}
	for _, w := range snap.Warnings {
		if t, id, ok := strings.Cut(w.Object, "/"); ok && (t == "qemu" || t == "lxc") {
			if n, err := strconv.Atoi(id); err == nil {
				r.frozen[vmKey(label, inventory.GuestType(t), n)] = true
			}
		}
	}
	r.mapPluginObjects()
	// The snapshot is mapped: released here (the caller holds it no more),
	// before the current state loads, the run's memory peak.
	r.snap, snap = nil, nil
	if err := r.loadAll(ctx); err != nil {
		rep.fail("netbox", "load current state: "+err.Error())
		return
	}
	if err := r.loadPlugin(ctx); err != nil {
		r.ps.err = "load current state: " + err.Error()
	}

	rep.startStage("prelude")
	r.step(ctx, ModelTag, "", 0)
	r.step(ctx, ModelCustomField, "", 0)
	rep.endStage()
	for _, st := range AllStages {
		if !opt.runs(st) {
			continue
		}
		rep.startStage(st)
		if slices.Contains(PluginStages, st) && !r.pluginReady(st) {
			rep.endStage()
			continue
		}
		for _, s := range stageSteps[st] {
			r.step(ctx, s.model, st, s.pass)
		}
		if st == StageVMs || st == StageDevices {
			r.orphans(ctx, st)
		}
		r.disappeared(ctx, st)
		rep.endStage()
	}
}

type stepDef struct {
	model string
	pass  int
}

var stageSteps = map[Stage][]stepDef{
	StageDevices:        {{ModelClusterType, 0}, {ModelSite, 0}, {ModelMfr, 0}, {ModelDeviceType, 0}, {ModelRole, 0}, {ModelCluster, 0}, {ModelDevice, 0}},
	StageVMs:            {{ModelRole, 0}, {ModelPlatform, 0}, {ModelVM, 0}},
	StageDisks:          {{ModelDisk, 0}},
	StageNodeInterfaces: {{ModelVLAN, 0}, {ModelInterface, 0}, {ModelInterface, 1}, {ModelVRF, 0}, {ModelIP, 0}, {ModelDevice, 1}},
	StageVMInterfaces:   {{ModelVLAN, 0}, {ModelVMInterface, 0}, {ModelMAC, 0}, {ModelVMInterface, 1}},
	StageIPs:            {{ModelVRF, 0}, {ModelIP, 0}, {ModelVM, 1}},
}

func cfString(o map[string]any, name string) string {
	cf, _ := o["custom_fields"].(map[string]any)
	s, _ := cf[name].(string)
	return s
}

func (r *run) hasTag(slug string) bool {
	for _, t := range r.cur[ModelTag] {
		if t["slug"] == slug {
			return true
		}
	}
	return false
}

var listFields = map[string]string{
	ModelVM:          "id,name,status,site,cluster,device,role,platform,vcpus,memory,disk,description,tags,custom_fields,primary_ip4,primary_ip6",
	ModelVMInterface: "id,name,enabled,mtu,mode,virtual_machine,untagged_vlan,primary_mac_address,tags",
	ModelDisk:        "id,name,size,virtual_machine,tags",
	ModelMAC:         "id,mac_address,assigned_object_type,assigned_object_id,tags",
	ModelIP:          "id,address,vrf,status,assigned_object_type,assigned_object_id,tags",
	ModelInterface:   "id,name,type,enabled,mtu,mode,device,untagged_vlan,bridge,lag,tags",
	ModelDevice:      "id,name,status,description,device_type,role,site,cluster,tags,custom_fields,primary_ip4",
}

// LeanRows says how a NetBox client may reduce the objects of a List or Create call marked
// by the engine (LeanRowsOf): the engine reads a member not in Whole whose value is a nested
// object by that object's id only (idOf, Normalize), and a member not in KeepEmpty whose
// value is "" or {}, and a null member of a create's reply, as a missing one. A client may
// return each such member as the id (a float64), or leave it out, or return the objects
// whole: the engine reads them the same.
type LeanRows struct {
	Whole     map[string]bool
	KeepEmpty map[string]bool
}

type leanRowsKey struct{}

// LeanRowsOf returns the reduction the engine allows for the objects of the List or Create
// call made with ctx (ok false: none, the objects are returned whole). The engine's loads of
// the current state (run.load) and its creates allow it: those objects are held for the
// whole run and read only by the engine, and their nested brief objects were most of their
// size (sync/nbadapter lists them with netbox.Client.ListLean, creates with
// netbox.CreateOptions.Lean).
func LeanRowsOf(ctx context.Context) (LeanRows, bool) {
	l, ok := ctx.Value(leanRowsKey{}).(LeanRows)
	return l, ok
}

// leanRows: the nested objects whose members the engine reads (nestedRead), the free JSON
// documents (jsonFields: {} is a value there, and their keys may be "id") and custom_fields
// stay whole.
var leanRows = func() LeanRows {
	l := LeanRows{Whole: map[string]bool{"custom_fields": true}, KeepEmpty: map[string]bool{}}
	for f := range nestedRead {
		l.Whole[f] = true
	}
	for f := range jsonFields {
		l.Whole[f], l.KeepEmpty[f] = true, true
	}
	return l
}()

// load lists model with q and adds the rows to the current state. An empty
// multi-valued filter lists nothing.
func (r *run) load(ctx context.Context, model string, q url.Values) error {
	if f, ok := listFields[model]; ok {
		q.Set("fields", f)
	}
	rows, err := r.e.NetBox.List(context.WithValue(ctx, leanRowsKey{}, leanRows), model, q)
	if err != nil {
		return fmt.Errorf("list %s: %w", model, err)
	}
	m := r.cur[model]
	if m == nil {
		m = map[int64]map[string]any{}
		r.cur[model] = m
	}
	macs := r.cur[ModelMAC]
	for _, o := range rows {
		if id, ok := idOf(o["id"]); ok {
			m[id] = o
		}
		if model == ModelVMInterface && len(macs) > 0 {
			sharePrimaryMAC(o, macs)
		}
	}
	delete(r.keys, model)
	return nil
}

// sharePrimaryMAC points a VM interface's primary_mac_address at the current MAC object it
// names when that has the same id and address: the engine reads only those two members of it
// (Normalize, index), current objects are never changed in place, and the brief object of
// each interface's own MAC was a large part of the interfaces' size. A MAC not in macs (not
// proxbox's, or not listed yet) keeps its brief object.
func sharePrimaryMAC(o map[string]any, macs map[int64]map[string]any) {
	brief, ok := o["primary_mac_address"].(map[string]any)
	if !ok {
		return
	}
	id, ok := idOf(brief)
	if !ok {
		return
	}
	if mac := macs[id]; mac != nil && mac["mac_address"] != nil && mac["mac_address"] == brief["mac_address"] {
		o["primary_mac_address"] = mac
	}
}

// filterValuesPerQuery bounds the values of one filter parameter in a list request.
const filterValuesPerQuery = 50

// eachChunk calls fn with vals in runs of at most filterValuesPerQuery, in order; it stops
// at fn's first error and returns it.
func eachChunk(vals []string, fn func(chunk []string) error) error {
	for len(vals) > 0 {
		n := min(filterValuesPerQuery, len(vals))
		if err := fn(vals[:n]); err != nil {
			return err
		}
		vals = vals[n:]
	}
	return nil
}

// loadChunked lists with one filter parameter spread over requests of at most 50 values.
func (r *run) loadChunked(ctx context.Context, model, param string, vals []string, extra url.Values) error {
	return eachChunk(vals, func(chunk []string) error {
		q := url.Values{}
		for k, v := range extra {
			q[k] = v
		}
		q[param] = chunk
		return r.load(ctx, model, q)
	})
}

func (r *run) loadAll(ctx context.Context) error {
	if r.warm {
		return nil // a State's earlier runs read and kept these (see State)
	}
	keys := func(model string) []string {
		var out []string
		for _, o := range r.d.Objects(model) {
			out = append(out, o.Key)
		}
		return out
	}
	for _, m := range []string{ModelCustomField, ModelClusterType, ModelMfr, ModelDeviceType, ModelRole, ModelPlatform} {
		if err := r.once(m, func() error { return r.load(ctx, m, url.Values{}) }); err != nil {
			return err
		}
	}
	// Sites may be many: ours by slug, per endpoint.
	if err := r.loadChunked(ctx, ModelSite, "slug", keys(ModelSite), nil); err != nil {
		return err
	}
	tagged := r.hasTag(TagProxbox)
	clusterID, ok := r.idFor(ModelCluster, r.d.Cluster)
	if ok {
		cq := strconv.FormatInt(clusterID, 10)
		if err := r.load(ctx, ModelDevice, url.Values{"cluster_id": {cq}}); err != nil {
			return err
		}
		if err := r.load(ctx, ModelVM, url.Values{"cluster_id": {cq}}); err != nil {
			return err
		}
	}
	var devIDs []string
	for id := range r.cur[ModelDevice] {
		devIDs = append(devIDs, strconv.FormatInt(id, 10))
	}
	slices.Sort(devIDs)
	if err := r.loadChunked(ctx, ModelInterface, "device_id", devIDs, nil); err != nil {
		return err
	}
	var siteIDs []string
	for _, s := range r.d.Objects(ModelSite) {
		if id, ok := r.idFor(ModelSite, s.Key); ok {
			siteIDs = append(siteIDs, strconv.FormatInt(id, 10))
		}
	}
	if err := r.loadChunked(ctx, ModelVLAN, "site_id", siteIDs, nil); err != nil {
		return err
	}
	if tagged {
		// Every proxbox-tagged child, once per run for all endpoints: a few
		// pages instead of per-endpoint filters NetBox cannot express for all
		// models (virtual disks have no cluster filter).
		// MACs before the VM interfaces: an interface's primary MAC then shares the MAC's
		// object (sharePrimaryMAC).
		for _, m := range []string{ModelMAC, ModelVMInterface, ModelDisk, ModelIP, ModelVRF} {
			if err := r.once(m, func() error { return r.load(ctx, m, url.Values{"tag": {TagProxbox}}) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// keyOf is the identity key of a current object, "" when it is not one of
// the kinds of objects we manage (e.g. a VM without proxmox_vm_id).
func (r *run) keyOf(model string, o map[string]any) string {
	str := func(k string) string { s, _ := o[k].(string); return s }
	ref := func(field, pm string) string {
		id, ok := idOf(o[field])
		if !ok {
			return ""
		}
		return r.keyByID(pm, id)
	}
	switch model {
	case ModelTag, ModelClusterType, ModelSite, ModelMfr, ModelDeviceType, ModelRole, ModelPlatform:
		return str("slug")
	case ModelCustomField:
		return str("name")
	case ModelCluster, ModelVRF:
		return cfString(o, CFEndpoint)
	case ModelDevice:
		if c := ref("cluster", ModelCluster); c != "" && str("name") != "" {
			return deviceKey(c, str("name"))
		}
	case ModelVM:
		c := ref("cluster", ModelCluster)
		cf, _ := o["custom_fields"].(map[string]any)
		vmid, ok := idOf(cf[CFVMID])
		if c == "" || !ok {
			return ""
		}
		t, _ := cf[CFVMType].(string)
		if t == "" {
			t = "?"
		}
		return vmKey(c, inventory.GuestType(t), int(vmid))
	case ModelVMInterface:
		if p := ref("virtual_machine", ModelVM); p != "" {
			return ifaceKey(p, str("name"))
		}
	case ModelDisk:
		if p := ref("virtual_machine", ModelVM); p != "" {
			return diskKey(p, str("name"))
		}
	case ModelInterface:
		if p := ref("device", ModelDevice); p != "" {
			return ifaceKey(p, str("name"))
		}
	case ModelMAC, ModelIP:
		pm := map[any]string{"virtualization.vminterface": ModelVMInterface, "dcim.interface": ModelInterface}[o["assigned_object_type"]]
		if pm == "" {
			return ""
		}
		p := ref("assigned_object_id", pm)
		if p == "" {
			return ""
		}
		if model == ModelMAC {
			return macKey(p)
		}
		return ipKey(p, str("address"))
	case ModelStorage:
		if c := ref("cluster", ModelCluster); c != "" && str("name") != "" {
			return storageKey(c, str("name"))
		}
	case ModelBackup, ModelSnapshot, ModelTaskHistory:
		vm := ref("virtual_machine", ModelVM)
		id := map[string]string{ModelBackup: "volume_id", ModelSnapshot: "name", ModelTaskHistory: "upid"}[model]
		if vm == "" || str(id) == "" {
			return ""
		}
		return map[string]func(string, string) string{ModelBackup: backupKey, ModelSnapshot: snapshotKey, ModelTaskHistory: taskKey}[model](vm, str(id))
	case ModelPluginCluster, ModelPluginNode:
		return r.pluginRowKey(model, o)
	case ModelReplication, ModelBackupRoutine:
		id := str(map[string]string{ModelReplication: "replication_id", ModelBackupRoutine: "job_id"}[model])
		if id == "" || r.d == nil {
			return ""
		}
		mk := map[string]func(string, string) string{ModelReplication: replicationKey, ModelBackupRoutine: routineKey}[model]
		if ep, ok := idOf(o["endpoint"]); ok {
			if r.pc.endpoint > 0 && ep == r.pc.endpoint {
				return mk(r.d.Cluster, id)
			}
			return "" // another endpoint's
		}
		if model == ModelReplication && ref("virtual_machine", ModelVM) != "" {
			return mk(r.d.Cluster, id)
		}
	case ModelVLAN:
		site := ""
		if s, ok := o["site"].(map[string]any); ok {
			site, _ = s["slug"].(string)
		}
		if site == "" {
			site = ref("site", ModelSite)
		}
		vid, ok := idOf(o["vid"])
		if site != "" && ok {
			return vlanKey(site, int(vid))
		}
	}
	return ""
}

func (r *run) keyByID(model string, id int64) string {
	m := r.keys[model]
	if m == nil {
		m = map[int64]string{}
		r.keys[model] = m
	}
	if k, ok := m[id]; ok {
		return k
	}
	o := r.cur[model][id]
	k := ""
	if o != nil {
		k = r.keyOf(model, o)
	}
	m[id] = k
	return k
}

// index maps keys to current objects of a model.
func (r *run) index(model string) map[string]map[string]any {
	idx := map[string]map[string]any{}
	ids := make([]int64, 0, len(r.cur[model]))
	for id := range r.cur[model] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		o := r.cur[model][id]
		k := r.keyByID(model, id)
		if k == "" {
			continue
		}
		if _, dup := idx[k]; !dup {
			idx[k] = o
		}
		if model == ModelVMInterface { // alternative identity: (VM, MAC)
			if mac, ok := o["primary_mac_address"].(map[string]any); ok {
				if s, _ := mac["mac_address"].(string); s != "" {
					if p := r.keyByID(ModelVM, mustID(o["virtual_machine"])); p != "" {
						idx[p+"/mac/"+normMAC(s)] = o
					}
				}
			}
		}
		if model == ModelVM && strings.Contains(k, "/?/") {
			// no proxmox_vm_type: matches either type of that vmid
			for _, t := range []string{"qemu", "lxc"} {
				alt := strings.Replace(k, "/?/", "/"+t+"/", 1)
				if _, dup := idx[alt]; !dup {
					idx[alt] = o
				}
			}
		}
	}
	return idx
}

func mustID(v any) int64 { id, _ := idOf(v); return id }

func (r *run) idFor(model, key string) (int64, bool) {
	for id := range r.cur[model] {
		if r.keyByID(model, id) == key {
			return id, true
		}
	}
	return 0, false
}

func (r *run) put(model string, o map[string]any) {
	id, ok := idOf(o["id"])
	if !ok {
		return
	}
	m := r.cur[model]
	if m == nil {
		m = map[int64]map[string]any{}
		r.cur[model] = m
	}
	m[id] = o
	delete(r.keys, model)
	for _, child := range []string{ModelDevice, ModelVM, ModelVMInterface, ModelDisk, ModelMAC, ModelIP, ModelInterface, ModelVLAN,
		ModelStorage, ModelBackup, ModelSnapshot, ModelTaskHistory, ModelReplication, ModelBackupRoutine} {
		if child != model {
			delete(r.keys, child)
		}
	}
}

func (r *run) managedTag(pve bool) func(string) bool {
	return func(slug string) bool {
		return slug == TagProxbox || slug == TagOrphan || (pve && strings.HasPrefix(slug, pveTagPrefix))
	}
}

// resolve turns o's references into ids. missing names a required parent
// that does not exist (the object is skipped).
func (r *run) resolve(o *Object, idx map[string]map[string]map[string]any) (Resolved, string) {
	res := Resolved{Fields: map[string]any{}, CreateOnly: o.CreateOnly, Soft: o.Soft, SetFields: o.SetFields,
		CustomFields: o.CustomFields.Map(), ManagedTag: r.managedTag(o.Fields.Get(pveTagsMarker) == true)}
	for k, v := range o.Fields.All() {
		if !strings.HasPrefix(k, "\x00") {
			res.Fields[k] = v
		}
	}
	get := func(model string) map[string]map[string]any {
		if idx[model] == nil {
			idx[model] = r.index(model)
		}
		return idx[model]
	}
	for f, ref := range o.Refs.All() {
		if ref.IsZero() {
			res.Fields[f] = nil
			continue
		}
		if c := get(ref.Model)[ref.Key]; c != nil {
			id, _ := idOf(c["id"])
			res.Fields[f] = id
			continue
		}
		if o.Optional[f] {
			continue
		}
		return res, fmt.Sprintf("%s %s does not exist", TypeName(ref.Model), ref.Key)
	}
	if o.Tags != nil {
		res.Tags = []int64{}
		for _, slug := range o.Tags {
			if t := get(ModelTag)[slug]; t != nil {
				id, _ := idOf(t["id"])
				res.Tags = append(res.Tags, id)
			}
		}
		slices.Sort(res.Tags)
	}
	res.Owned = func(field string, id int64) bool {
		m := ModelIP // primary_ip4, primary_ip6
		if field == "vrf" {
			m = ModelVRF // proxbox's VRFs (tagged proxbox, proxmox_endpoint set)
		}
		_, ok := r.cur[m][id]
		return ok
	}
	return res, ""
}

func createBody(res Resolved) map[string]any {
	b := make(map[string]any, len(res.Fields)+2)
	for k, v := range res.Fields {
		b[k] = v
	}
	if res.Tags != nil {
		b["tags"] = res.Tags
	}
	if len(res.CustomFields) > 0 {
		b["custom_fields"] = res.CustomFields
	}
	return b
}

func (r *run) altKey(o *Object) string {
	if o.Model != ModelVMInterface {
		return ""
	}
	mo := r.d.Get(ModelMAC, macKey(o.Key))
	vm := o.Refs.Get("virtual_machine")
	if mo == nil {
		return ""
	}
	mac, _ := mo.Fields.Get("mac_address").(string)
	return vm.Key + "/mac/" + mac
}

// step applies the desired objects of one model (and stage) in bulk.
func (r *run) step(ctx context.Context, model string, stage Stage, pass int) {
	var objs []*Object
	for _, o := range r.d.Objects(model) {
		if o.Stage == stage || o.Stage == "" || (model == ModelVM && pass > 0) || (model == ModelDevice && pass > 0) {
			objs = append(objs, o)
		}
	}
	idx := map[string]map[string]map[string]any{}
	cur := r.index(model)
	idx[model] = cur
	var creates, updates []map[string]any
	var cObjs, uObjs []*Object
	var uChanges [][]FieldChange
	seen := map[int64]bool{}
	for _, o := range objs {
		res, missing := r.resolve(o, idx)
		if missing != "" {
			if pass == 0 {
				r.rep.record(Change{Op: OpSkip, Model: model, Key: o.Key, Label: o.Label(), Reason: missing})
			}
			continue
		}
		c := cur[o.Key]
		if c == nil {
			if ak := r.altKey(o); ak != "" {
				c = cur[ak]
				if c != nil && r.frozen[o.Refs.Get("virtual_machine").Key] {
					res.CreateOnly = withFlag(res.CreateOnly, "name") // agent silent: keep the known name
				}
			}
		}
		if c == nil {
			if pass > 0 {
				continue // not created in pass 0 (failed or skipped): reported there
			}
			body := createBody(res)
			if r.knownRefusal(model, o, OpCreate, body) {
				continue
			}
			creates = append(creates, body)
			cObjs = append(cObjs, o)
			continue
		}
		id, _ := idOf(c["id"])
		seen[id] = true
		if o.EnsureOnly {
			if pass == 0 {
				r.rep.record(Change{Op: OpUnchanged, Model: model, Key: o.Key, Label: o.Label(), ID: id})
			}
			continue
		}
		if model == ModelIP {
			r.foreignVRF(o, c, res)
		}
		patch, ch := Diff(res, c)
		if patch == nil {
			if pass == 0 {
				r.rep.record(Change{Op: OpUnchanged, Model: model, Key: o.Key, Label: o.Label(), ID: id})
			}
			continue
		}
		patch["id"] = id
		if r.knownRefusal(model, o, OpUpdate, patch) {
			continue
		}
		updates = append(updates, patch)
		uObjs = append(uObjs, o)
		uChanges = append(uChanges, ch)
	}
	if len(creates) > 0 {
		results := r.create(ctx, model, creates)
		if model == ModelIP {
			r.explainConflicts(ctx, results, creates, nil)
		}
		for _, wr := range results {
			o := cObjs[wr.Index]
			c := Change{Op: OpCreate, Model: model, Key: o.Key, Label: o.Label(), Fields: createFields(creates[wr.Index])}
			r.noteRefusal(model, o, creates[wr.Index], wr.Err)
			if wr.Err != nil {
				c.Error = wr.Err.Error()
			} else {
				r.put(model, leanCreated(wr.Object, creates[wr.Index], o))
				c.ID = mustID(wr.Object["id"])
				r.created[model+"\x00"+o.Key] = true
			}
			r.rep.record(c)
		}
	}
	if len(updates) > 0 {
		results := r.update(ctx, model, updates)
		if model == ModelIP {
			r.explainConflicts(ctx, results, updates, r.cur[model])
		}
		for _, wr := range results {
			o := uObjs[wr.Index]
			c := Change{Op: OpUpdate, Model: model, Key: o.Key, Label: o.Label(), ID: mustID(updates[wr.Index]["id"]), Fields: uChanges[wr.Index]}
			r.noteRefusal(model, o, updates[wr.Index], wr.Err)
			if wr.Err != nil {
				c.Error = wr.Err.Error()
			} else {
				r.put(model, wr.Object)
			}
			if wr.Err != nil || !r.created[model+"\x00"+o.Key] {
				r.rep.record(c)
			}
		}
	}
	if pass == 0 {
		r.stale(ctx, model, stage, cur, seen)
	}
}

// nestedRead names the reference fields whose nested object's members (a slug, a name, a
// MAC or an address) the engine reads: leanCreated and the state loads (leanRows) keep them
// as NetBox returned them.
var nestedRead = map[string]bool{"site": true, "type": true, "vrf": true, "cluster": true, "primary_mac_address": true, "ip_address": true}

// leanCreated returns a create's reply with each reference field that NetBox returned as a
// brief object of the id sent (a disk's or an interface's VM, ...) holding the id sent
// instead: read by id only (idOf), and the brief objects were a large part of a first run's
// memory. reply is the caller's, changed in place.
func leanCreated(reply, body map[string]any, o *Object) map[string]any {
	for f := range o.Refs.All() {
		if nestedRead[f] {
			continue
		}
		m, ok := reply[f].(map[string]any)
		if !ok {
			continue
		}
		if got, ok := idOf(m); ok {
			if sent, ok := idOf(body[f]); ok && sent == got {
				reply[f] = body[f]
			}
		}
	}
	return reply
}

// knownRefusal reports (and records as a skip with a warning) a write NetBox
// refused before with this very body: it is not sent again.
func (r *run) knownRefusal(model string, o *Object, op Op, body map[string]any) bool {
	if r.opt.Refusals == nil || r.opt.DryRun {
		return false
	}
	f, ok := r.opt.Refusals.known(r.rep.endpoint+"\x00"+model+"\x00"+o.Key, func() string { return bodyHash(body) }, r.opt.Now())
	if !ok {
		return false
	}
	reason := fmt.Sprintf("known conflict, unchanged since %s (%s not sent again): %s", f.Since.UTC().Format(time.RFC3339), op, f.Reason)
	r.rep.record(Change{Op: OpSkip, Model: model, Key: o.Key, Label: o.Label(), Reason: reason})
	r.rep.warn(o.Label(), reason)
	return true
}

// noteRefusal remembers a deterministic refusal of a write (or forgets an
// earlier one when the write went through or failed otherwise).
func (r *run) noteRefusal(model string, o *Object, body map[string]any, err error) {
	if r.opt.Refusals == nil || r.opt.DryRun {
		return
	}
	r.opt.Refusals.note(r.rep.endpoint+"\x00"+model+"\x00"+o.Key, func() string { return bodyHash(body) }, err, r.opt.Now())
}

func withFlag(m map[string]bool, f string) map[string]bool {
	out := map[string]bool{f: true}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// stale deletes child objects (disks, interfaces, MACs, IPs) of our synced
// parents that Proxmox no longer has.
func (r *run) stale(ctx context.Context, model string, stage Stage, cur map[string]map[string]any, seen map[int64]bool) {
	if r.opt.Orphans == OrphansKeep || !r.d.Complete {
		return
	}
	parentOf := func(o map[string]any) (string, string) { // parent model, key
		switch model {
		case ModelDisk, ModelVMInterface:
			return ModelVM, r.keyByID(ModelVM, mustID(o["virtual_machine"]))
		case ModelInterface:
			return ModelDevice, r.keyByID(ModelDevice, mustID(o["device"]))
		case ModelMAC, ModelIP:
			pm := map[any]string{"virtualization.vminterface": ModelVMInterface, "dcim.interface": ModelInterface}[o["assigned_object_type"]]
			if pm == "" || (model == ModelIP && (pm == ModelInterface) != (stage == StageNodeInterfaces)) {
				return "", ""
			}
			return pm, r.keyByID(pm, mustID(o["assigned_object_id"]))
		}
		return "", ""
	}
	var ids []int64
	var labels []string
	for k, o := range cur {
		id := mustID(o["id"])
		if seen[id] || r.d.Get(model, k) != nil || !hasTagSlug(o, TagProxbox) {
			continue
		}
		pm, pk := parentOf(o)
		if pk == "" || r.d.Get(pm, pk) == nil || r.frozen[vmOf(pm, pk, r)] {
			continue
		}
		ids = append(ids, id)
		labels = append(labels, k)
	}
	if len(ids) == 0 {
		return
	}
	for _, wr := range r.delete(ctx, model, ids) {
		c := Change{Op: OpDelete, Model: model, Key: labels[wr.Index], Label: TypeName(model) + " " + labels[wr.Index], ID: ids[wr.Index], Reason: "gone from Proxmox"}
		if wr.Err != nil {
			c.Error = wr.Err.Error()
		} else {
			delete(r.cur[model], ids[wr.Index])
			delete(r.keys, model)
		}
		r.rep.record(c)
	}
}

// vmOf returns the VM key owning a parent (VM or VM interface) key.
func vmOf(pm, pk string, r *run) string {
	switch pm {
	case ModelVM:
		return pk
	case ModelVMInterface:
		if o := r.d.Get(ModelVMInterface, pk); o != nil {
			return o.Refs.Get("virtual_machine").Key
		}
	}
	return ""
}

func hasTagSlug(o map[string]any, slug string) bool {
	list, _ := o["tags"].([]any)
	for _, t := range list {
		if m, ok := t.(map[string]any); ok && m["slug"] == slug {
			return true
		}
	}
	return false
}

// orphans applies the orphan policy to our VMs or devices that Proxmox no longer has.
func (r *run) orphans(ctx context.Context, st Stage) {
	model := map[Stage]string{StageVMs: ModelVM, StageDevices: ModelDevice}[st]
	if r.opt.Orphans == OrphansKeep {
		return
	}
	if !r.d.Complete {
		r.rep.warn(TypeName(model), "orphan handling skipped: the Proxmox read was incomplete")
		return
	}
	cur := r.index(model)
	tagIdx := r.index(ModelTag)
	orphanTag, _ := idOf(tagIdx[TagOrphan]["id"])
	now := r.opt.Now().UTC()
	var patches []map[string]any
	var pKeys []string
	var dels []int64
	var dKeys []string
	keys := make([]string, 0, len(cur))
	for k := range cur {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		o := cur[k]
		if strings.Contains(k, "/?/") || r.d.Get(model, k) != nil || !hasTagSlug(o, TagProxbox) {
			continue
		}
		if strings.Contains(k, "/?/") {
			continue
		}
		id := mustID(o["id"])
		since := cfString(o, CFOrphanedAt)
		if r.opt.Orphans == OrphansDelete {
			t, err := time.Parse(time.RFC3339, since)
			if r.opt.OrphanGrace < 0 || (err == nil && !now.Before(t.Add(r.opt.OrphanGrace))) {
				dels = append(dels, id)
				dKeys = append(dKeys, k)
				continue
			}
		}
		want := Resolved{Fields: map[string]any{"status": "offline"}, Tags: []int64{}}
		if orphanTag > 0 {
			want.Tags = []int64{orphanTag}
		}
		if since == "" {
			want.CustomFields = map[string]any{CFOrphanedAt: now.Format(time.RFC3339)}
		}
		patch, _ := Diff(want, o)
		if patch == nil {
			r.rep.record(Change{Op: OpOrphan, Model: model, Key: k, Label: TypeName(model) + " " + k, ID: id, Reason: "already marked since " + since})
			continue
		}
		patch["id"] = id
		patches = append(patches, patch)
		pKeys = append(pKeys, k)
	}
	r.writeGone(ctx, model, patches, pKeys, "gone from Proxmox", dels, dKeys, "orphan past its grace period")
}

// writeGone sends the marks (patches, keyed by pKeys) and deletes (dels,
// keyed by dKeys) of objects gone from Proxmox, keeps the current state in
// step and records each outcome.
func (r *run) writeGone(ctx context.Context, model string, patches []map[string]any, pKeys []string, markReason string, dels []int64, dKeys []string, delReason string) {
	for _, wr := range r.update(ctx, model, patches) {
		c := Change{Op: OpOrphan, Model: model, Key: pKeys[wr.Index], Label: TypeName(model) + " " + pKeys[wr.Index], ID: mustID(patches[wr.Index]["id"]), Reason: markReason}
		if wr.Err != nil {
			c.Error = wr.Err.Error()
		} else {
			r.put(model, wr.Object)
		}
		r.rep.record(c)
	}
	for _, wr := range r.delete(ctx, model, dels) {
		c := Change{Op: OpDelete, Model: model, Key: dKeys[wr.Index], Label: TypeName(model) + " " + dKeys[wr.Index], ID: dels[wr.Index], Reason: delReason}
		if wr.Err != nil {
			c.Error = wr.Err.Error()
		} else {
			delete(r.cur[model], dels[wr.Index])
			delete(r.keys, model)
		}
		r.rep.record(c)
	}
}

// Writes, real or simulated (dry run: objects get negative ids so children resolve).

func (r *run) create(ctx context.Context, model string, objs []map[string]any) []WriteResult {
	ctx = context.WithValue(ctx, leanRowsKey{}, leanRows) // the replies are current objects
	if r.opt.DryRun {
		out := make([]WriteResult, len(objs))
		for i, o := range objs {
			r.nextID--
			c := map[string]any{"id": float64(r.nextID)}
			for k, v := range o {
				c[k] = v
			}
			out[i] = WriteResult{Index: i, Object: c}
		}
		return out
	}
	if model == ModelBackup {
		return r.batched(ctx, len(objs), func(lo, hi int) []WriteResult { return r.e.NetBox.Create(ctx, model, objs[lo:hi]) })
	}
	return r.e.NetBox.Create(ctx, model, objs)
}

func (r *run) update(ctx context.Context, model string, patches []map[string]any) []WriteResult {
	if len(patches) == 0 {
		return nil
	}
	if r.opt.DryRun {
		out := make([]WriteResult, len(patches))
		for i, p := range patches {
			out[i] = WriteResult{Index: i, Object: overlay(r.cur[model][mustID(p["id"])], p)}
		}
		return out
	}
	var out []WriteResult
	if model == ModelBackup {
		out = r.batched(ctx, len(patches), func(lo, hi int) []WriteResult { return r.e.NetBox.Update(ctx, model, patches[lo:hi]) })
	} else {
		out = r.e.NetBox.Update(ctx, model, patches)
	}
	// A reply may carry only the patched fields (netbox.Client decodes no more):
	// the object now is the one we had with the reply's fields over it.
	for i := range out {
		if wr := &out[i]; wr.Err == nil && wr.Object != nil && wr.Index >= 0 && wr.Index < len(patches) {
			r.leanReply(model, wr.Object)
			wr.Object = overlay(r.cur[model][mustID(patches[wr.Index]["id"])], wr.Object)
		}
	}
	return out
}

// leanReply holds an update reply's nested objects as the state loads hold them (leanRows:
// the id of one the engine reads only by its id; an interface's primary MAC as its MAC's
// current object, sharePrimaryMAC); its "" and null members stay, they replace the old
// values. reply is the caller's, changed in place.
func (r *run) leanReply(model string, reply map[string]any) {
	for k, v := range reply {
		if m, ok := v.(map[string]any); ok && !leanRows.Whole[k] {
			if id, ok := m["id"].(float64); ok {
				reply[k] = id
			}
		}
	}
	if model == ModelVMInterface {
		sharePrimaryMAC(reply, r.cur[ModelMAC])
	}
}

// overlay returns a copy of base with top's fields over it, made for the members it has (a
// map's size class is set when it is made).
func overlay(base, top map[string]any) map[string]any {
	n := len(base)
	for k := range top {
		if _, ok := base[k]; !ok {
			n++
		}
	}
	c := make(map[string]any, n)
	for k, v := range base {
		c[k] = v
	}
	for k, v := range top {
		c[k] = v
	}
	return c
}

func (r *run) delete(ctx context.Context, model string, ids []int64) []WriteResult {
	if len(ids) == 0 {
		return nil
	}
	if r.opt.DryRun {
		out := make([]WriteResult, len(ids))
		for i := range ids {
			out[i] = WriteResult{Index: i}
		}
		return out
	}
	if model == ModelBackup {
		return r.batched(ctx, len(ids), func(lo, hi int) []WriteResult { return r.e.NetBox.Delete(ctx, model, ids[lo:hi]) })
	}
	return r.e.NetBox.Delete(ctx, model, ids)
}
