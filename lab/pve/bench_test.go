package pve_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/proxbox/proxbox/lab/pve"
)

// BenchmarkClusterResources measures a full /cluster/resources GET of a 1000-guest lab.
func BenchmarkClusterResources(b *testing.B) {
	benchGet(b, "/api2/json/cluster/resources")
}

// BenchmarkBackupContent measures a shared backup storage listing with the content filter.
func BenchmarkBackupContent(b *testing.B) {
	s, err := pve.New(pve.Options{Scale: 1000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	benchGetOn(b, ts, "/api2/json/nodes/alpha-pve1/storage/pbs/content?content=backup")
}

func benchGet(b *testing.B, path string) {
	s, err := pve.New(pve.Options{Scale: 1000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	benchGetOn(b, ts, path)
}

func benchGetOn(b *testing.B, ts *httptest.Server, path string) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		getB(b, ts, path)
	}
}

func getB(b *testing.B, ts *httptest.Server, path string) int {
	req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	req.Header.Set("Authorization", "PVEAPIToken="+pve.DefaultToken)
	res, err := ts.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	buf := make([]byte, 32<<10)
	for {
		m, err := res.Body.Read(buf)
		n += m
		if err != nil {
			break
		}
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		b.Fatalf("%s: %d", path, res.StatusCode)
	}
	b.SetBytes(int64(n))
	return n
}
