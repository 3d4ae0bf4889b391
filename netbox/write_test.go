package netbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	lab "github.com/proxbox/proxbox/lab/netbox"
)

const vmLabel = "virtualization.virtualmachine"

func TestCreateBulkInBatches(t *testing.T) {
	srv, ts := newLab(t, lab.Options{}, nil)
	clusters := seedClusters(t, srv, 1)
	srv.ResetStats()
	c, _ := newClient(t, ts.URL, func(cfg *Config) { cfg.BatchSize = 100; cfg.Concurrency = 3 })
	objs := vmObjs(500, clusters[0])
	rs := c.Create(context.Background(), vmModel, objs)
	okResults(t, rs)
	if len(rs) != 500 {
		t.Fatalf("%d results", len(rs))
	}
	for i, r := range rs {
		if r.Index != i || r.Object["name"] != objs[i]["name"] {
			t.Fatalf("result %d: index %d, name %v, want %v", i, r.Index, r.Object["name"], objs[i]["name"])
		}
		if _, ok := ID(r.Object); !ok {
			t.Fatalf("result %d has no id", i)
		}
	}
	st := srv.Stats()
	if st.Requests["POST "+vmPath] != 5 || st.Created[vmLabel] != 500 || srv.Count(vmLabel) != 500 {
		t.Fatalf("POSTs %d, created %d, count %d", st.Requests["POST "+vmPath], st.Created[vmLabel], srv.Count(vmLabel))
	}
	if cs := c.Stats(); cs.Requests != 5 || cs.Writes != 5 || cs.Retries != 0 {
		t.Fatalf("client stats %+v", cs)
	}
}

// One object NetBox refuses: the others land, the bad one carries NetBox's reason.
func TestCreateOneBadAmongMany(t *testing.T) {
	srv, ts := newLab(t, lab.Options{}, nil)
	clusters := seedClusters(t, srv, 1)
	srv.ResetStats()
	c, _ := newClient(t, ts.URL, func(cfg *Config) { cfg.BatchSize = 50 })
	objs := vmObjs(120, clusters[0])
	objs[7]["cluster"] = 999            // unknown cluster
	objs[70]["status"] = "running"      // not a NetBox choice
	objs[71]["name"] = objs[72]["name"] // duplicate inside one batch
	rs := c.Create(context.Background(), vmModel, objs)
	bad := map[int]string{7: "cluster", 70: "status", 72: ""}
	for i, r := range rs {
		field, isBad := bad[i]
		if !isBad {
			if r.Err != nil || r.Object == nil {
				t.Fatalf("good object %d failed: %v", i, r.Err)
			}
			continue
		}
		var ae *APIError
		if !errors.As(r.Err, &ae) || ae.Status != 400 {
			t.Fatalf("object %d: err %v, want a 400 *APIError", i, r.Err)
		}
		if field != "" && len(ae.Fields[field]) == 0 {
			t.Fatalf("object %d: fields %v lack %q", i, ae.Fields, field)
		}
		t.Logf("object %d refused: %v", i, ae)
	}
	if !strings.Contains(rs[7].Err.Error(), "Related object not found using the provided numeric ID: 999") {
		t.Errorf("reason for 7: %v", rs[7].Err)
	}
	if !strings.Contains(rs[70].Err.Error(), "running") {
		t.Errorf("reason for 70: %v", rs[70].Err)
	}
	st := srv.Stats()
	if srv.Count(vmLabel) != 117 || st.Created[vmLabel] != 117 {
		t.Fatalf("count %d, created %d; want 117", srv.Count(vmLabel), st.Created[vmLabel])
	}
	// Batches: [0,50) bad 7 -> 2 requests; [50,100): 70 is refused by validation, then the
	// 71/72 duplicate passes validation and breaks the unique constraint on save (500
	// IntegrityError, nothing written), so that batch is bisected until 71 and 72 travel
	// apart (about 2·log2(49) requests); [100,120) -> 1 request.
	if n := st.Requests["POST "+vmPath]; n > 20 {
		t.Fatalf("%d POSTs for 3 batches with 3 bad objects", n)
	}
}

// A refusal NetBox reports for the whole batch (409 on a protected delete) is bisected until
// the offending objects are alone; the rest is written.
func TestDeleteProtectedIsIsolated(t *testing.T) {
	srv, ts := newLab(t, lab.Options{}, nil)
	var types []int64
	for i := range 16 {
		types = append(types, mustCreate(t, srv, "virtualization.clustertype", map[string]any{"name": fmt.Sprintf("t%d", i), "slug": fmt.Sprintf("t%d", i)}))
	}
	mustCreate(t, srv, "virtualization.cluster", map[string]any{"name": "c", "type": types[5]})
	srv.ResetStats()
	c, _ := newClient(t, ts.URL, nil)
	rs := c.Delete(context.Background(), "virtualization/cluster-types", types)
	for i, r := range rs {
		var ae *APIError
		if i == 5 {
			if !errors.As(r.Err, &ae) || ae.Status != 409 || !strings.Contains(ae.Detail, "dependent objects") {
				t.Fatalf("protected type: %v", r.Err)
			}
			continue
		}
		if r.Err != nil {
			t.Fatalf("type %d: %v", i, r.Err)
		}
	}
	if n := srv.Count("virtualization.clustertype"); n != 1 {
		t.Fatalf("%d cluster types left, want 1", n)
	}
	// 1 + 2·log2(16) requests at most.
	if n := srv.Stats().Requests["DELETE /api/virtualization/cluster-types/"]; n > 9 {
		t.Fatalf("%d DELETEs", n)
	}
}

func TestUpdateAndDeleteByID(t *testing.T) {
	srv, ts := newLab(t, lab.Options{}, nil)
	clusters := seedClusters(t, srv, 1)
	seedVMs(t, srv, clusters, 10)
	c, _ := newClient(t, ts.URL, nil)
	ctx := context.Background()
	vms, err := c.List(ctx, vmModel, url.Values{"ordering": {"id"}})
	if err != nil {
		t.Fatal(err)
	}
	id0, _ := ID(vms[0])
	id1, _ := ID(vms[1])
	srv.ResetStats()
	rs := c.Update(ctx, vmModel, []Object{
		{"id": id0, "memory": 4096},
		{"id": 987654, "memory": 1},
		{"memory": 3},
		{"id": id1, "status": "offline", "description": "stopped"},
	})
	if rs[0].Err != nil || rs[0].Object["memory"] != float64(4096) {
		t.Fatalf("update 0: %v %v", rs[0].Err, rs[0].Object["memory"])
	}
	var ae *APIError
	if !errors.As(rs[1].Err, &ae) || ae.Status != 404 {
		t.Fatalf("unknown id: %v", rs[1].Err)
	}
	if rs[2].Err == nil || !strings.Contains(rs[2].Err.Error(), "no integer id") {
		t.Fatalf("patch without id: %v", rs[2].Err)
	}
	if rs[3].Err != nil || rs[3].Object["status"].(map[string]any)["value"] != "offline" {
		t.Fatalf("update 3: %v %v", rs[3].Err, rs[3].Object["status"])
	}
	st := srv.Stats()
	if st.Requests["PATCH "+vmPath] != 1 || st.Updated[vmLabel] != 2 || srv.Changes(vmLabel, id0) != 2 {
		t.Fatalf("PATCHes %d, updated %d, changes of %d: %d", st.Requests["PATCH "+vmPath], st.Updated[vmLabel], id0, srv.Changes(vmLabel, id0))
	}
	if got, _ := srv.Get(vmLabel, id0); got["memory"] != float64(4096) {
		t.Fatalf("memory in NetBox: %v", got["memory"])
	}

	rs = c.Delete(ctx, vmModel, []int64{id0, id1, 0, 987654})
	if rs[0].Err != nil || rs[1].Err != nil || rs[2].Err == nil || rs[3].Err != nil {
		t.Fatalf("delete results: %v", rs)
	}
	if srv.Count(vmLabel) != 8 || srv.Stats().Requests["DELETE "+vmPath] != 1 {
		t.Fatalf("count %d, DELETEs %d", srv.Count(vmLabel), srv.Stats().Requests["DELETE "+vmPath])
	}
	if _, ok := srv.Get(vmLabel, id0); ok {
		t.Fatal("deleted VM still there")
	}
}

// 5xx bursts and resets on every kind of request: everything lands exactly once, and the
// simulator's counters account for every retry.
func TestWritesUnder5xxBurstsNoDuplicates(t *testing.T) {
	for _, codes := range [][]int{{500, 502, 503, 504}, {429}} {
		t.Run(fmt.Sprint(codes), func(t *testing.T) {
			srv, ts := newLab(t, lab.Options{Seed: 11}, nil)
			clusters := seedClusters(t, srv, 2)
			srv.ResetStats()
			srv.SetFaults(lab.Faults{ErrorRate: 0.3, ErrorCodes: codes, RetryAfter: 2})
			c, sl := newClient(t, ts.URL, func(cfg *Config) { cfg.BatchSize = 20; cfg.MaxRetries = 15; cfg.Concurrency = 1 })
			ctx := context.Background()
			objs := vmObjs(200, clusters[0])
			for i := range objs {
				objs[i]["cluster"] = clusters[i%2]
			}
			rs := c.Create(ctx, vmModel, objs)
			okResults(t, rs)
			st := srv.Stats()
			faults := sumFaults(st)
			if faults == 0 {
				t.Fatal("no fault injected")
			}
			if st.Created[vmLabel] != 200 || srv.Count(vmLabel) != 200 {
				t.Fatalf("created %d, count %d: duplicates or losses", st.Created[vmLabel], srv.Count(vmLabel))
			}
			cs := c.Stats()
			if cs.Retries != faults || cs.Requests != st.RequestsTotal {
				t.Fatalf("faults %d, simulator requests %d, client %+v", faults, st.RequestsTotal, cs)
			}
			gets := st.Requests["GET "+vmPath]
			posts := st.Requests["POST "+vmPath]
			if codes[0] == 429 {
				// Throttled requests were not processed: plain re-send, no lookups; every wait
				// honours Retry-After: 2.
				if gets != 0 || posts != 10+st.Faults["429"] {
					t.Fatalf("429: %d GETs, %d POSTs, %d throttled", gets, posts, st.Faults["429"])
				}
				for _, d := range sl.all() {
					if d != 2*time.Second {
						t.Fatalf("wait %v, want Retry-After 2s", d)
					}
				}
			} else if gets == 0 {
				t.Fatal("a 5xx on POST was re-sent without a lookup")
			}

			// PATCH and DELETE under the same faults are plain retries.
			srv.ResetStats()
			patches := make([]Object, len(rs))
			ids := make([]int64, len(rs))
			for i, r := range rs {
				ids[i], _ = ID(r.Object)
				patches[i] = Object{"id": ids[i], "memory": 1024 + i}
			}
			okResults(t, c.Update(ctx, vmModel, patches))
			okResults(t, c.Delete(ctx, vmModel, ids))
			st = srv.Stats()
			if st.Updated[vmLabel] < 200 || srv.Count(vmLabel) != 0 || st.Requests["GET "+vmPath] != 0 {
				t.Fatalf("updated %d, left %d, GETs %d", st.Updated[vmLabel], srv.Count(vmLabel), st.Requests["GET "+vmPath])
			}
		})
	}
}

// The POST lands, then the reply is lost (reset or a proxy's 502): the client finds the
// objects instead of creating them twice.
func TestCreateReplyLostAfterWriteLanded(t *testing.T) {
	for _, tt := range []struct {
		name   string
		reset  bool
		status int
	}{{"reset", true, 0}, {"502", false, 502}, {"504", false, 504}} {
		t.Run(tt.name, func(t *testing.T) {
			drop := &landThenDrop{n: 1, method: "POST", path: vmPath, reset: tt.reset, status: tt.status}
			srv, ts := newLab(t, lab.Options{}, func(h http.Handler) http.Handler { drop.next = h; return drop })
			clusters := seedClusters(t, srv, 1)
			srv.ResetStats()
			c, _ := newClient(t, ts.URL, nil)
			objs := vmObjs(20, clusters[0])
			rs := c.Create(context.Background(), vmModel, objs)
			okResults(t, rs)
			for i, r := range rs {
				if r.Object["name"] != objs[i]["name"] {
					t.Fatalf("result %d is %v", i, r.Object["name"])
				}
			}
			st := srv.Stats()
			if srv.Count(vmLabel) != 20 || st.Created[vmLabel] != 20 || st.Requests["POST "+vmPath] != 1 {
				t.Fatalf("count %d, created %d, POSTs %d", srv.Count(vmLabel), st.Created[vmLabel], st.Requests["POST "+vmPath])
			}
			// One probe shows the batch landed; one grouped list (name=…&name=…&cluster_id=)
			// re-reads the other 19.
			if n := st.Requests["GET "+vmPath]; n != 2 {
				t.Fatalf("%d lookups, want 2", n)
			}
			if c.Stats().Retries != 1 {
				t.Fatalf("retries %d", c.Stats().Retries)
			}
		})
	}
}

// The connection is reset before NetBox processes the POST: one lookup shows nothing landed,
// and the batch is sent again.
func TestCreateResetBeforeProcessingResends(t *testing.T) {
	srv, ts := newLab(t, lab.Options{Seed: 5}, nil)
	clusters := seedClusters(t, srv, 1)
	srv.ResetStats()
	srv.SetFaults(lab.Faults{ResetRate: 0.4})
	c, _ := newClient(t, ts.URL, func(cfg *Config) { cfg.BatchSize = 10; cfg.MaxRetries = 10 })
	okResults(t, c.Create(context.Background(), vmModel, vmObjs(100, clusters[0])))
	st := srv.Stats()
	if st.Faults["reset"] == 0 {
		t.Fatal("no reset injected")
	}
	if srv.Count(vmLabel) != 100 || st.Created[vmLabel] != 100 {
		t.Fatalf("count %d, created %d", srv.Count(vmLabel), st.Created[vmLabel])
	}
}

func TestCreateReplyLostWithCallerLookup(t *testing.T) {
	drop := &landThenDrop{n: 1, method: "POST", path: vmPath, reset: true}
	srv, ts := newLab(t, lab.Options{}, func(h http.Handler) http.Handler { drop.next = h; return drop })
	clusters := seedClusters(t, srv, 1)
	c, _ := newClient(t, ts.URL, nil)
	objs := vmObjs(5, clusters[0])
	calls := 0
	rs := c.CreateWith(context.Background(), vmModel, objs, CreateOptions{
		Lookup: func(ctx context.Context, obj Object) (Object, error) {
			calls++
			got, err := c.List(ctx, vmModel, url.Values{"name__ie": {obj["name"].(string)}})
			if err != nil || len(got) == 0 {
				return nil, err
			}
			return got[0], nil
		},
	})
	okResults(t, rs)
	if calls != 5 || srv.Count(vmLabel) != 5 {
		t.Fatalf("lookups %d, count %d", calls, srv.Count(vmLabel))
	}
}

// When nothing can be looked up, a lost reply is reported, never re-sent blindly.
func TestCreateReplyLostWithoutIdentity(t *testing.T) {
	drop := &landThenDrop{n: 1, method: "POST", path: vmPath, reset: true}
	srv, ts := newLab(t, lab.Options{}, func(h http.Handler) http.Handler { drop.next = h; return drop })
	clusters := seedClusters(t, srv, 1)
	srv.ResetStats()
	c, _ := newClient(t, ts.URL, nil)
	rs := c.CreateWith(context.Background(), vmModel, vmObjs(3, clusters[0]), CreateOptions{
		Lookup: func(context.Context, Object) (Object, error) { return nil, errors.New("lookup down") },
	})
	for _, r := range rs {
		if !errors.Is(r.Err, ErrReplyLost) || !strings.Contains(r.Err.Error(), "lookup down") {
			t.Fatalf("result %d: %v", r.Index, r.Err)
		}
	}
	if n := srv.Stats().Requests["POST "+vmPath]; n != 1 || srv.Count(vmLabel) != 3 {
		t.Fatalf("POSTs %d, count %d", n, srv.Count(vmLabel))
	}
}

func TestDefaultIdentity(t *testing.T) {
	tests := []struct {
		name string
		obj  Object
		want string
	}{
		{"vm", Object{"name": "web", "cluster": 3, "status": "active"}, "cluster_id=3&name=web"},
		{"vm float id", Object{"name": "web", "cluster": float64(3), "tenant": map[string]any{"id": 2}}, "cluster_id=3&name=web&tenant_id=2"},
		{"vm attr-dict cluster", Object{"name": "web", "cluster": map[string]any{"name": "pve"}}, "name=web"},
		{"slug wins", Object{"name": "Proxbox", "slug": "proxbox"}, "slug=proxbox"},
		{"interface", Object{"name": "eth0", "virtual_machine": 7, "type": "virtual"}, "name=eth0&virtual_machine_id=7"},
		{"ip", Object{"address": "10.0.0.5/24", "assigned_object_type": "virtualization.vminterface", "assigned_object_id": 9}, "address=10.0.0.5%2F24&vminterface_id=9"},
		{"mac", Object{"mac_address": "BC:24:11:00:00:01", "assigned_object_type": "dcim.interface", "assigned_object_id": 4}, "interface_id=4&mac_address=BC%3A24%3A11%3A00%3A00%3A01"},
		{"nothing", Object{"size": 10}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DefaultIdentity("x", tt.obj).Encode(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	// netbox-proxbox's filter sets: the field's own name, no _id (the kit's list filters).
	plugin := []struct {
		model string
		obj   Object
		want  string
	}{
		{"plugins/proxbox/storage", Object{"name": "local", "cluster": 2, "storage_type": "dir"}, "cluster=2&name=local"},
		{"plugins/proxbox/snapshots", Object{"name": "pre", "virtual_machine": 7, "vmid": 101, "node": "pve01"}, "name=pre&virtual_machine=7"},
		{"plugins/proxbox/backups", Object{"volume_id": "local:backup/vzdump-qemu-101.vma.zst", "virtual_machine": 7, "storage": "local"}, "virtual_machine=7&volume_id=local%3Abackup%2Fvzdump-qemu-101.vma.zst"},
		{"plugins/proxbox/task-history", Object{"upid": "UPID:pve01:1", "virtual_machine": 7, "description": "x"}, "upid=UPID%3Apve01%3A1&virtual_machine=7"},
		{"plugins/proxbox/replications", Object{"replication_id": "102-0", "endpoint": 1, "virtual_machine": 8}, "endpoint=1&replication_id=102-0&virtual_machine=8"},
		{"plugins/proxbox/backup-routines", Object{"job_id": "backup-1", "endpoint": 1, "node": 3, "storage": 4}, "endpoint=1&job_id=backup-1"},
		{"plugins/proxbox/proxmox-nodes", Object{"name": "pve01", "endpoint": 1, "proxmox_cluster": 2}, "endpoint=1&name=pve01"},
		{"/plugins/proxbox/proxmox-clusters/", Object{"name": "lab", "endpoint": 1, "netbox_cluster": 3}, "endpoint=1&name=lab"},
		{"plugins/proxbox/backups", Object{"virtual_machine": 7}, ""},
	}
	for _, tt := range plugin {
		t.Run(tt.model, func(t *testing.T) {
			if got := DefaultIdentity(tt.model, tt.obj).Encode(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPerItemErrors(t *testing.T) {
	errs, ok := perItemErrors([]byte(`[{}, null, {"name":["dup"]}, ["bad"]]`), 4)
	if !ok || errs[0] != nil || errs[1] != nil || errs[2] == nil || errs[3] == nil {
		t.Fatalf("%v %v", errs, ok)
	}
	if errs[2].Error() != "HTTP 400: name: dup" || string(errs[2].Body) != `{"name":["dup"]}` {
		t.Fatalf("%q %s", errs[2].Error(), errs[2].Body)
	}
	for _, body := range []string{`{"detail":"x"}`, `[{}]`, `nope`} {
		if _, ok := perItemErrors([]byte(body), 2); ok {
			t.Fatalf("%s accepted as per-item errors of 2", body)
		}
	}
}

func TestWriteBadModelAndCancel(t *testing.T) {
	_, ts := newLab(t, lab.Options{}, nil)
	c, _ := newClient(t, ts.URL, nil)
	for _, r := range c.Create(context.Background(), "../x", []Object{{"name": "a"}}) {
		if r.Err == nil {
			t.Fatal("bad model accepted")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, r := range c.Delete(ctx, vmModel, []int64{1, 2}) {
		if !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("cancelled: %v", r.Err)
		}
	}
	if got := c.Create(context.Background(), vmModel, nil); len(got) != 0 {
		t.Fatal("results for no input")
	}
	_ = strconv.Itoa
}

func TestUpdateIsolatesBadPatch(t *testing.T) {
	srv, ts := newLab(t, lab.Options{}, nil)
	seedVMs(t, srv, seedClusters(t, srv, 1), 30)
	c, _ := newClient(t, ts.URL, nil)
	ctx := context.Background()
	vms, err := c.List(ctx, vmModel, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.ResetStats()
	patches := make([]Object, len(vms))
	for i, vm := range vms {
		id, _ := ID(vm)
		patches[i] = Object{"id": id, "comments": "synced"}
	}
	patches[4]["status"] = "running" // not a NetBox VM status
	rs := c.Update(ctx, vmModel, patches)
	var ae *APIError
	if !errors.As(rs[4].Err, &ae) || len(ae.Fields["status"]) == 0 {
		t.Fatalf("bad patch: %v", rs[4].Err)
	}
	for i, r := range rs {
		if i != 4 && (r.Err != nil || r.Object["comments"] != "synced") {
			t.Fatalf("patch %d: %v", i, r.Err)
		}
	}
	// NetBox answers a bulk PATCH with the first invalid object's error alone, so the
	// batch of 30 is bisected down to the bad one: about 2·log2(30) requests.
	st := srv.Stats()
	if st.Updated[vmLabel] != 29 || st.Requests["PATCH "+vmPath] > 12 {
		t.Fatalf("updated %d in %d PATCHes", st.Updated[vmLabel], st.Requests["PATCH "+vmPath])
	}
}

// Requests in flight never exceed Concurrency, across concurrent calls too.
func TestConcurrencyBound(t *testing.T) {
	var mu sync.Mutex
	inFlight, peak := 0, 0
	srv, ts := newLab(t, lab.Options{Faults: lab.Faults{Latency: time.Millisecond}}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			inFlight++
			peak = max(peak, inFlight)
			mu.Unlock()
			defer func() { mu.Lock(); inFlight--; mu.Unlock() }()
			h.ServeHTTP(w, r)
		})
	})
	clusters := seedClusters(t, srv, 2)
	c, _ := newClient(t, ts.URL, func(cfg *Config) { cfg.BatchSize = 5; cfg.Concurrency = 2 })
	var wg sync.WaitGroup
	for k := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			objs := vmObjs(40, clusters[k%2])
			for i := range objs {
				objs[i]["name"] = fmt.Sprintf("c%d-%d", k, i)
			}
			okResults(t, c.Create(context.Background(), vmModel, objs))
		}()
	}
	wg.Wait()
	t.Logf("peak in flight: %d", peak)
	if peak > 2 || srv.Count(vmLabel) != 120 {
		t.Fatalf("peak %d requests in flight (want ≤ 2), %d VMs", peak, srv.Count(vmLabel))
	}
}

// A plugin object whose create reply is lost is found in its own cluster, not under the same
// name in another: netbox-proxbox's filter set knows cluster=, and ignores cluster_id= (lab/netbox
// too), which matched the other cluster's storage.
func TestCreateReplyLostPluginStorageInItsCluster(t *testing.T) {
	const storageModel, storagePath = "plugins/proxbox/storage", "/api/plugins/proxbox/storage/"
	for _, landed := range []bool{true, false} {
		t.Run(fmt.Sprintf("landed=%v", landed), func(t *testing.T) {
			drop := &landThenDrop{n: 1, method: "POST", path: storagePath, reset: true, skip: !landed}
			srv, ts := newLab(t, lab.Options{}, func(h http.Handler) http.Handler { drop.next = h; return drop })
			clusters := seedClusters(t, srv, 2)
			for _, n := range []string{"local", "local-lvm"} {
				mustCreate(t, srv, storageModel, map[string]any{"cluster": clusters[0], "name": n})
			}
			c, _ := newClient(t, ts.URL, nil)
			objs := []Object{{"cluster": clusters[1], "name": "local"}, {"cluster": clusters[1], "name": "local-lvm"}}
			rs := c.Create(context.Background(), storageModel, objs)
			okResults(t, rs)
			for i, r := range rs {
				if id, _ := fkID(r.Object["cluster"]); r.Object["name"] != objs[i]["name"] || id != clusters[1] {
					t.Fatalf("result %d is %v in cluster %v, want cluster %d", i, r.Object["name"], r.Object["cluster"], clusters[1])
				}
			}
			if n := srv.Count(storageModel); n != 4 {
				t.Fatalf("%d storage rows, want 4", n)
			}
		})
	}
}

// A landed batch of 120 spread over two clusters is re-read with one probe and one grouped
// list per cluster and 50 names.
func TestCreateReplyLostGroupedLookup(t *testing.T) {
	drop := &landThenDrop{n: 1, method: "POST", path: vmPath, reset: true}
	srv, ts := newLab(t, lab.Options{}, func(h http.Handler) http.Handler { drop.next = h; return drop })
	clusters := seedClusters(t, srv, 2)
	srv.ResetStats()
	c, _ := newClient(t, ts.URL, nil)
	objs := vmObjs(120, clusters[0])
	for i := range objs {
		objs[i]["cluster"] = clusters[i%2]
	}
	rs := c.Create(context.Background(), vmModel, objs)
	okResults(t, rs)
	for i, r := range rs {
		cl := r.Object["cluster"].(map[string]any)["id"].(float64)
		if r.Object["name"] != objs[i]["name"] || int64(cl) != clusters[i%2] {
			t.Fatalf("result %d is %v in cluster %v", i, r.Object["name"], cl)
		}
	}
	st := srv.Stats()
	// probe + cluster 0 (59 left: 50 + 9) + cluster 1 (60: 50 + 10) = 5
	if st.Created[vmLabel] != 120 || st.Requests["POST "+vmPath] != 1 || st.Requests["GET "+vmPath] != 5 {
		t.Fatalf("created %d, POSTs %d, GETs %d", st.Created[vmLabel], st.Requests["POST "+vmPath], st.Requests["GET "+vmPath])
	}
}

// TestCreateTimedOutWaitsForTheCommit: the bulk create outlives the client's timeout and
// NetBox commits it at its end (lab/netbox does the same). The first look-up finds nothing
// yet; the client waits and looks again instead of sending the batch a second time, and
// finds the objects: no second POST, no duplicate, no failure.
func TestCreateTimedOutWaitsForTheCommit(t *testing.T) {
	srv, ts := newLab(t, lab.Options{}, nil)
	clusters := seedClusters(t, srv, 1)
	srv.ResetStats()
	srv.SetFaults(lab.Faults{WriteCost: 100 * time.Millisecond})
	c, _ := newClient(t, ts.URL, func(cfg *Config) { cfg.Timeout = 300 * time.Millisecond; cfg.RetryBase = 50 * time.Millisecond })
	c.sleep = sleepCtx // really wait: the commit happens in real time
	rs := c.Create(context.Background(), vmModel, vmObjs(5, clusters[0]))
	okResults(t, rs)
	st := srv.Stats()
	if srv.Count(vmLabel) != 5 || st.Requests["POST "+vmPath] != 1 {
		t.Fatalf("count %d, POSTs %d: the batch was sent again while NetBox was still committing it", srv.Count(vmLabel), st.Requests["POST "+vmPath])
	}
	if st.Requests["GET "+vmPath] < 2 {
		t.Fatalf("%d look-ups: want a look-up that found nothing yet, then one that found the batch", st.Requests["GET "+vmPath])
	}
}

// TestBatchSizeAdaptsToNetBoxSpeed: after a bulk write, the client sizes the next requests
// of that model so that one takes about a quarter of the timeout at the speed NetBox showed
// (never more than Config.BatchSize), and reports the size.
func TestBatchSizeAdaptsToNetBoxSpeed(t *testing.T) {
	srv, ts := newLab(t, lab.Options{}, nil)
	clusters := seedClusters(t, srv, 1)
	srv.ResetStats()
	srv.SetFaults(lab.Faults{WriteCost: 10 * time.Millisecond}) // 50 objects: 0.5 s of a 1 s timeout
	c, _ := newClient(t, ts.URL, func(cfg *Config) { cfg.Timeout = time.Second; cfg.BatchSize = 50; cfg.Concurrency = 1 })
	okResults(t, c.Create(context.Background(), vmModel, vmObjs(150, clusters[0])))
	size := c.BatchSizes()[vmPath]
	posts := srv.Stats().Requests["POST "+vmPath]
	t.Logf("batch size chosen %d, %d POSTs", size, posts)
	if size < 10 || size > 25 {
		t.Fatalf("batch size %d, want at most 25 (a quarter of 1 s at 10 ms per object)", size)
	}
	if posts < 1+100/25 || srv.Count(vmLabel) != 150 {
		t.Fatalf("%d POSTs for 150 objects (first batch 50, then at most 25 each); %d created", posts, srv.Count(vmLabel))
	}
}
