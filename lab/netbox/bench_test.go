package netbox

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
)

// seedVMs creates n VMs (tagged, with a custom field) across 5 clusters through the Go API.
func seedVMs(b *testing.B, n int) *Server {
	b.Helper()
	srv := New(Options{Tokens: []Token{{Value: testV1}}})
	ctx := context.Background()
	mustID := func(model string, body any) int64 {
		v, err := srv.Create(ctx, model, body)
		if err != nil {
			b.Fatal(err)
		}
		return int64(v.(map[string]any)["id"].(float64))
	}
	ct := mustID("virtualization.clustertype", map[string]any{"name": "Cluster", "slug": "cluster"})
	tag := mustID("extras.tag", map[string]any{"name": "Proxbox", "slug": "proxbox"})
	mustID("extras.customfield", map[string]any{"name": "proxmox_vm_id", "type": "integer", "object_types": []string{"virtualization.virtualmachine"}})
	var clusters []int64
	for i := 0; i < 5; i++ {
		clusters = append(clusters, mustID("virtualization.cluster", map[string]any{"name": fmt.Sprintf("pve%d", i), "type": ct}))
	}
	batch := make([]any, 0, 500)
	for i := 0; i < n; i++ {
		batch = append(batch, map[string]any{"name": fmt.Sprintf("vm%05d", i), "cluster": clusters[i%5], "vcpus": 2, "memory": 4096,
			"status": "active", "tags": []any{tag}, "custom_fields": map[string]any{"proxmox_vm_id": 100 + i}})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := srv.Create(ctx, "virtualization.virtualmachine", batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return srv
}

// BenchmarkListVMs measures list GET throughput: 5000 VMs read in pages of 1000, in process
// (handler only) and over loopback HTTP. vms/s is the figure to compare with a sync's needs.
func BenchmarkListVMs(b *testing.B) {
	const total = 5000
	srv := seedVMs(b, total)
	b.Run("handler", func(b *testing.B) {
		b.ReportAllocs()
		var bytes int64
		for b.Loop() {
			for off := 0; off < total; off += 1000 {
				req := httptest.NewRequest("GET", fmt.Sprintf("/api/virtualization/virtual-machines/?limit=1000&offset=%d", off), nil)
				req.Header.Set("Authorization", "Token "+testV1)
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("HTTP %d", rec.Code)
				}
				bytes += int64(rec.Body.Len())
			}
		}
		b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "vms/s")
		b.ReportMetric(float64(bytes)/float64(b.N*total), "B/vm")
	})
	b.Run("http", func(b *testing.B) {
		ts := httptest.NewServer(srv)
		defer ts.Close()
		b.ReportAllocs()
		for b.Loop() {
			for off := 0; off < total; off += 1000 {
				req, _ := http.NewRequestWithContext(context.Background(), "GET", fmt.Sprintf("%s/api/virtualization/virtual-machines/?limit=1000&offset=%d", ts.URL, off), nil)
				req.Header.Set("Authorization", "Token "+testV1)
				resp, err := ts.Client().Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "vms/s")
	})
	b.Run("http-parallel4", func(b *testing.B) {
		ts := httptest.NewServer(srv)
		defer ts.Close()
		b.SetParallelism(2) // 2 x GOMAXPROCS(2) = 4 concurrent readers
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequestWithContext(context.Background(), "GET", ts.URL+"/api/virtualization/virtual-machines/?limit=1000&offset=2000", nil)
				req.Header.Set("Authorization", "Token "+testV1)
				resp, err := ts.Client().Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
		b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "vms/s")
	})
}

// BenchmarkBulkCreateVMs measures validated bulk POST of 100 VMs (OpenAPI gate included).
func BenchmarkBulkCreateVMs(b *testing.B) {
	srv := seedVMs(b, 0)
	if err := WarmSchema(); err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		batch := make([]any, 100)
		for i := range batch {
			batch[i] = map[string]any{"name": fmt.Sprintf("b%07d", n), "cluster": 1, "vcpus": 1, "memory": 512}
			n++
		}
		if _, err := srv.Create(context.Background(), "virtualization.virtualmachine", batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "vms/s")
}

// BenchmarkSchemaLoad measures one parse of the embedded OpenAPI document and the heap it
// keeps (retained-MB), i.e. the one-time cost of the first write.
func BenchmarkSchemaLoad(b *testing.B) {
	var retained float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		doc, err := parseSpec()
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		retained = float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
		runtime.KeepAlive(doc)
	}
	b.ReportMetric(retained, "retained-MB")
}
