package pve

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkGuestRequest measures the per-guest requests a sync sends for every guest (its
// config, found through the guest's vmid and node), in labs of 1,000 and 10,000 guests:
// ns/op must not grow with the number of guests (guests by vmid and the node set are indexed,
// not scanned per request).
func BenchmarkGuestRequest(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		s, err := New(Options{Scale: n, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		var paths []string
		for _, e := range s.resources() {
			if t := asString(e["type"]); t == "qemu" || t == "lxc" {
				id, _ := asInt(e["vmid"])
				paths = append(paths, fmt.Sprintf("/api2/json/nodes/%s/%s/%d/config", asString(e["node"]), t, id))
			}
		}
		b.Run(fmt.Sprintf("config/guests=%d", len(paths)), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, paths[i%len(paths)], nil)
				req.Header.Set("Authorization", "PVEAPIToken="+DefaultToken)
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", paths[i%len(paths)], rec.Code, rec.Body)
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("lookup/guests=%d", len(paths)), func(b *testing.B) {
			s.mu.RLock()
			defer s.mu.RUnlock()
			nodes := s.nodeNames()
			found := 0
			for i := 0; b.Loop(); i++ {
				if s.guest(int64(100+i%n)) != nil && s.nodeExists(nodes[i%len(nodes)]) {
					found++
				}
			}
			if found == 0 {
				b.Fatal("no guest found")
			}
		})
	}
}
