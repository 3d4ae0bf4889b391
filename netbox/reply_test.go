package netbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"testing"

	lab "github.com/proxbox/proxbox/lab/netbox"
)

// vmItems are create items shaped like the sync's VMs.
func vmItems(prefix string, n int, clusters []int64) []Object {
	objs := make([]Object, n)
	for i := range objs {
		objs[i] = Object{"name": fmt.Sprintf("%s%04d", prefix, i), "cluster": clusters[i%len(clusters)], "vcpus": 2,
			"memory": 2048, "status": "active", "comments": "", "description": "Proxmox qemu " + fmt.Sprint(100+i)}
	}
	return objs
}

// TestCreateReplyKeepsSentFields: a create result carries the id and exactly the fields its
// item sent, with NetBox's values for them; an update result its id and the patched fields.
func TestCreateReplyKeepsSentFields(t *testing.T) {
	srv, ts := newLab(t, lab.Options{}, nil)
	clusters := seedClusters(t, srv, 2)
	c, _ := newClient(t, ts.URL, nil)
	ctx := context.Background()
	items := vmItems("lean", 3, clusters)
	rs := c.Create(ctx, vmModel, items)
	okResults(t, rs)
	for i, r := range rs {
		var keys []string
		for k := range r.Object {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		want := []string{"cluster", "comments", "description", "id", "memory", "name", "status", "vcpus"}
		if !reflect.DeepEqual(keys, want) {
			t.Fatalf("create result %d keys %v, want %v", i, keys, want)
		}
		id, ok := ID(r.Object)
		full, found := srv.Get("virtualization.virtualmachine", id)
		if !ok || !found || full["name"] != items[i]["name"] {
			t.Fatalf("create result %d: id %d names %v", i, id, full["name"])
		}
		// Values are NetBox's (a choice is its value/label dict, a related object its brief dict).
		if st, _ := r.Object["status"].(map[string]any); st["value"] != "active" {
			t.Fatalf("status %v", r.Object["status"])
		}
		if cl, _ := r.Object["cluster"].(map[string]any); cl["id"] != float64(clusters[i%2]) || cl["name"] == nil {
			t.Fatalf("cluster %v", r.Object["cluster"])
		}
	}
	id, _ := ID(rs[0].Object)
	up := c.Update(ctx, vmModel, []Object{{"id": id, "memory": 4096}})
	okResults(t, up)
	if len(up[0].Object) != 2 || up[0].Object["memory"] != float64(4096) || up[0].Object["id"] != float64(id) {
		t.Fatalf("update result %v, want its id and memory", up[0].Object)
	}
	if vm, _ := srv.Get("virtualization.virtualmachine", id); vm["memory"] != float64(4096) {
		t.Fatalf("memory in NetBox: %v", vm["memory"])
	}
}

// BenchmarkDecodeCreateReply decodes one NetBox reply to a bulk create of 200 VMs, as whole
// objects (what the client did before) and keeping the sent fields (what it does for
// creates): the CPU a first sync spends per created object on replies.
func BenchmarkDecodeCreateReply(b *testing.B) {
	var body []byte
	srv, ts := newLab(b, lab.Options{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				h.ServeHTTP(w, r)
				return
			}
			rec := &captureWriter{ResponseWriter: w}
			h.ServeHTTP(rec, r)
			body = rec.buf.Bytes()
		})
	})
	clusters := seedClusters(b, srv, 5)
	c, _ := newClient(b, ts.URL, nil)
	items := vmItems("bench", 200, clusters)
	okResults(b, c.Create(context.Background(), vmModel, items))
	sent := func(j int) Object { return items[j] }
	for _, mode := range []struct {
		name string
		sent func(int) Object
	}{{"whole", nil}, {"sent-fields", sent}} {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				objs, _, err := decodeReply(body, mode.sent)
				if err != nil || len(objs) != 200 {
					b.Fatalf("%d objects, %v", len(objs), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(200*b.N), "ns/object")
		})
	}
}

type captureWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (w *captureWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	return w.ResponseWriter.Write(p)
}

var _ io.Writer = (*captureWriter)(nil)

// CreateWith with Lean: the client's create results are the lean reply objects (the
// cluster's brief object as its id, "" comments left out); an update's stay whole.
func TestCreateWithLean(t *testing.T) {
	srv, ts := newLab(t, lab.Options{}, nil)
	clusters := seedClusters(t, srv, 1)
	c, _ := newClient(t, ts.URL, nil)
	ctx := context.Background()
	rs := c.CreateWith(ctx, vmModel, vmItems("leanc", 2, clusters), CreateOptions{Lean: &Lean{}})
	okResults(t, rs)
	for _, r := range rs {
		if r.Object["cluster"] != float64(clusters[0]) {
			t.Errorf("cluster %#v, want its id", r.Object["cluster"])
		}
		if _, ok := r.Object["comments"]; ok || r.Object["description"] == nil {
			t.Errorf("\"\" comments kept or description lost: %v", r.Object)
		}
	}
	id, _ := ID(rs[0].Object)
	up := c.Update(ctx, vmModel, []Object{{"id": id, "cluster": clusters[0], "comments": ""}})
	okResults(t, up)
	if _, ok := up[0].Object["cluster"].(map[string]any); !ok || up[0].Object["comments"] != "" {
		t.Errorf("update result %v, want NetBox's objects as they are", up[0].Object)
	}
}
