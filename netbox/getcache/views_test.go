package getcache

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// promState builds a cache with every counter non-zero and known.
func promState(t *testing.T) *rig {
	t.Helper()
	r := newRig(Limits{TTL: 300 * time.Second, MaxEntries: 3, MaxBytes: 7340032})
	r.nb.size["/api/dcim/sites/"] = 100
	r.nb.size["/api/dcim/racks/"] = 200
	r.nb.size["/api/dcim/devices/"] = 300
	r.nb.size["/api/dcim/regions/"] = 400
	get(t, r.tr, "/api/dcim/sites/")   // miss
	get(t, r.tr, "/api/dcim/sites/")   // hit
	get(t, r.tr, "/api/dcim/sites/")   // hit
	get(t, r.tr, "/api/dcim/racks/")   // miss
	get(t, r.tr, "/api/dcim/devices/") // miss
	r.clock.Advance(1500 * time.Millisecond)
	get(t, r.tr, "/api/dcim/regions/") // miss, evicts sites (least recently used, 100 bytes)
	do(t, r.tr, http.MethodPatch, "/api/dcim/devices/3/")
	r.clock.Advance(298 * time.Second) // racks: 299.5 s old
	get(t, r.tr, "/api/dcim/regions/") // hit
	r.clock.Advance(time.Second)       // racks expires on the sweep
	r.c.Sweep()
	return r
}

func TestPrometheusTextGolden(t *testing.T) {
	r := promState(t)
	var buf bytes.Buffer
	if err := r.c.WritePrometheusText(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "prometheus.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("prometheus text:\n%s\nwant:\n%s", got, want)
	}
}

// TestPrometheusNamesAndTypes pins the names, TYPE and HELP lines of the surface spec §6.5,
// independent of the golden file's values.
func TestPrometheusNamesAndTypes(t *testing.T) {
	want := []string{
		"# HELP proxbox_cache_hits Total number of cache hits", "# TYPE proxbox_cache_hits counter",
		"# HELP proxbox_cache_misses Total number of cache misses", "# TYPE proxbox_cache_misses counter",
		"# HELP proxbox_cache_hit_rate Cache hit rate percentage", "# TYPE proxbox_cache_hit_rate gauge",
		"# HELP proxbox_cache_invalidations Total number of cache invalidations", "# TYPE proxbox_cache_invalidations counter",
		"# HELP proxbox_cache_evictions_ttl Total entries evicted due to TTL expiry", "# TYPE proxbox_cache_evictions_ttl counter",
		"# HELP proxbox_cache_evictions_size Total entries evicted due to entry count limit", "# TYPE proxbox_cache_evictions_size counter",
		"# HELP proxbox_cache_evictions_bytes Total bytes evicted due to size limit", "# TYPE proxbox_cache_evictions_bytes counter",
		"# HELP proxbox_cache_entries Current number of cached entries", "# TYPE proxbox_cache_entries gauge",
		"# HELP proxbox_cache_bytes Current cache size in bytes", "# TYPE proxbox_cache_bytes gauge",
		"# HELP proxbox_cache_max_entries Maximum cache entry count", "# TYPE proxbox_cache_max_entries gauge",
		"# HELP proxbox_cache_max_bytes Maximum cache size in bytes", "# TYPE proxbox_cache_max_bytes gauge",
		"# HELP proxbox_cache_ttl_seconds Cache TTL setting", "# TYPE proxbox_cache_ttl_seconds gauge",
		"# HELP proxbox_cache_oldest_age_seconds Age of oldest entry in cache", "# TYPE proxbox_cache_oldest_age_seconds gauge",
	}
	var buf bytes.Buffer
	if err := New(Config{}).WritePrometheusText(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), "\n") {
		t.Error("body does not end with a newline")
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			got = append(got, line)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("HELP/TYPE lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(buf.String(), "\nproxbox_cache_ttl_seconds 60.0\n") || !strings.Contains(buf.String(), "\nproxbox_cache_hit_rate 0.0\n") {
		t.Errorf("defaults not printed Python-style:\n%s", buf.String())
	}
}

func TestMetricsJSON(t *testing.T) {
	b, err := json.Marshal(New(Config{}).Metrics())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"hits":0,"misses":0,"hit_rate":0.0,"invalidations":0,"evictions_ttl":0,"evictions_size":0,"evictions_bytes":0,"current_entries":0,"current_bytes":0,"max_entries":4096,"max_bytes":52428800,"ttl_seconds":60.0,"oldest_entry_age_seconds":0.0}`
	if string(b) != want {
		t.Errorf("empty metrics JSON:\n%s\nwant:\n%s", b, want)
	}
	m := promState(t).c.Metrics()
	wantM := MetricsJSON{
		Hits: 3, Misses: 4, HitRate: 42.86, Invalidations: 1, EvictionsTTL: 1, EvictionsSize: 1, EvictionsBytes: 100,
		CurrentEntries: 1, CurrentBytes: 400, MaxEntries: 3, MaxBytes: 7340032, TTLSeconds: 300, OldestEntryAgeSeconds: 299,
	}
	if m != wantM {
		t.Errorf("metrics = %+v\nwant      %+v", m, wantM)
	}
	// The custom encoding decodes back to the same values.
	b, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back MetricsJSON
	if err := json.Unmarshal(b, &back); err != nil || back != m {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func TestSample(t *testing.T) {
	r := newRig(DefaultLimits())
	get(t, r.tr, "/api/dcim/devices/?name=b&name=a&limit=50")
	get(t, r.tr, "/api/dcim/sites/")
	other := &Transport{Base: r.nb, Cache: r.c, Endpoint: "second"}
	get(t, other, "/api/dcim/sites/")
	got := r.c.Sample(20)
	want := []SampleEntry{
		{APIID: 1, Path: "/api/dcim/devices/", Query: `{"limit":"50","name":["b","a"]}`},
		{APIID: 1, Path: "/api/dcim/sites/", Query: ""},
		{APIID: 2, Path: "/api/dcim/sites/", Query: ""},
	}
	if len(got) != len(want) {
		t.Fatalf("sample = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sample[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got := r.c.Sample(1); len(got) != 1 {
		t.Errorf("Sample(1) has %d entries", len(got))
	}
	if got := New(Config{}).Sample(20); got == nil || len(got) != 0 {
		t.Errorf("empty sample = %#v, want []", got)
	}
}

func TestPyFloat(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0.0", 60: "60.0", 75.5: "75.5", 42.86: "42.86", 0.5: "0.5", 1e-5: "1e-05", 1e16: "1e+16", 123456789: "123456789.0",
	} {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%v) = %q, want %q", f, got, want)
		}
	}
}
