package netbox

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	lab "github.com/proxbox/proxbox/lab/netbox"
	"github.com/proxbox/proxbox/netbox/getcache"
)

func TestListPagination(t *testing.T) {
	srv, ts := newLab(t, lab.Options{}, nil)
	clusters := seedClusters(t, srv, 5)
	seedVMs(t, srv, clusters, 2500)
	srv.ResetStats()
	c, _ := newClient(t, ts.URL, nil)
	vms, err := c.List(context.Background(), vmModel, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(vms) != 2500 {
		t.Fatalf("got %d VMs, want 2500", len(vms))
	}
	seen := map[int64]bool{}
	for _, vm := range vms {
		id, ok := ID(vm)
		if !ok || seen[id] {
			t.Fatalf("bad or repeated id in %v", vm["id"])
		}
		seen[id] = true
	}
	if n := srv.Stats().Requests["GET "+vmPath]; n != 3 {
		t.Fatalf("simulator saw %d list requests, want 3", n)
	}
	if st := c.Stats(); st.Requests != 3 || st.Writes != 0 || st.Retries != 0 {
		t.Fatalf("client stats %+v", st)
	}

	// Filters and shaping pass through; still paged.
	srv.ResetStats()
	q := url.Values{"cluster_id": {strconv.FormatInt(clusters[0], 10)}, "fields": {"id,name"}}
	vms, err = c.List(context.Background(), vmModel, q)
	if err != nil || len(vms) != 500 {
		t.Fatalf("filtered list: %d, %v", len(vms), err)
	}
	if len(vms[0]) != 2 || vms[0]["name"] != "vm00000" {
		t.Fatalf("fields= not applied: %v", vms[0])
	}
	if q.Get("limit") != "" {
		t.Fatal("List modified the caller's query")
	}

	// A caller's smaller page size is kept and every page is read.
	srv.ResetStats()
	vms, err = c.List(context.Background(), vmModel, url.Values{"limit": {"400"}, "brief": {"1"}})
	if err != nil || len(vms) != 2500 || srv.Stats().Requests["GET "+vmPath] != 7 {
		t.Fatalf("limit=400: %d VMs, %d requests, %v", len(vms), srv.Stats().Requests["GET "+vmPath], err)
	}
	// Cursor pagination (NetBox 4.6 start=).
	vms, err = c.List(context.Background(), vmModel, url.Values{"start": {"0"}})
	if err != nil || len(vms) != 2500 {
		t.Fatalf("cursor: %d, %v", len(vms), err)
	}
}

// A next link naming another host (a TLS proxy writing http://, a wrong BASE_URL) is never
// followed as given: the request goes to the configured URL.
func TestListIgnoresForeignNextHost(t *testing.T) {
	var tsURL string
	srv, ts := newLab(t, lab.Options{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			body := bytes.ReplaceAll(rec.Body.Bytes(), []byte(tsURL), []byte("http://evil.invalid:1"))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body)
		})
	})
	tsURL = ts.URL
	seedVMs(t, srv, seedClusters(t, srv, 1), 1200)
	c, _ := newClient(t, ts.URL, nil)
	vms, err := c.List(context.Background(), vmModel, nil)
	if err != nil || len(vms) != 1200 {
		t.Fatalf("%d VMs, %v", len(vms), err)
	}
	if !strings.HasPrefix(vms[0]["url"].(string), "http://evil.invalid:1") {
		t.Fatal("the rewrite did not happen; the test proves nothing")
	}
}

func TestListErrors(t *testing.T) {
	srv, ts := newLab(t, lab.Options{}, nil)
	seedVMs(t, srv, seedClusters(t, srv, 1), 10)
	c, _ := newClient(t, ts.URL, nil)
	_, err := c.List(context.Background(), vmModel, url.Values{"cluster_id": {"999"}})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 400 || len(ae.Fields["cluster_id"]) != 1 {
		t.Fatalf("err = %v, want 400 on cluster_id", err)
	}
	if !strings.Contains(err.Error(), "netbox list virtualization/virtual-machines page 1") {
		t.Fatalf("error lacks model and page: %v", err)
	}
	_, err = c.List(context.Background(), "plugins/nothing", nil)
	if !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("unknown model: %v", err)
	}
	if _, err := c.List(context.Background(), vmModel+"/1", nil); err == nil || !strings.Contains(err.Error(), "not a list page") {
		t.Fatalf("detail path listed: %v", err)
	}
	if _, err := c.List(context.Background(), "", nil); err == nil {
		t.Fatal("empty model accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.List(ctx, vmModel, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
}

func TestListRetries5xxBurst(t *testing.T) {
	srv, ts := newLab(t, lab.Options{Seed: 3}, nil)
	seedVMs(t, srv, seedClusters(t, srv, 2), 2500)
	srv.ResetStats()
	srv.SetFaults(lab.Faults{ErrorRate: 0.5, ErrorCodes: []int{500, 502, 503, 504}, ResetRate: 0.2})
	c, sl := newClient(t, ts.URL, func(cfg *Config) { cfg.MaxRetries = 20 })
	vms, err := c.List(context.Background(), vmModel, nil)
	if err != nil || len(vms) != 2500 {
		t.Fatalf("%d VMs, %v", len(vms), err)
	}
	st := srv.Stats()
	faults := sumFaults(st)
	if faults == 0 {
		t.Fatal("no fault injected; the test proves nothing")
	}
	cs := c.Stats()
	if cs.Retries != faults || st.RequestsTotal != 3+faults || cs.Requests != st.RequestsTotal || int64(len(sl.all())) != faults {
		t.Fatalf("faults %d, simulator requests %d, client %+v, sleeps %d", faults, st.RequestsTotal, cs, len(sl.all()))
	}
}

func TestListGivesUpAfterMaxRetries(t *testing.T) {
	srv, ts := newLab(t, lab.Options{}, nil)
	srv.SetFaults(lab.Faults{ErrorRate: 1, ErrorCodes: []int{502}})
	c, _ := newClient(t, ts.URL, func(cfg *Config) { cfg.MaxRetries = 2 })
	_, err := c.List(context.Background(), "dcim/sites", nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 502 || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("err = %v", err)
	}
	if n := srv.Stats().RequestsTotal; n != 3 {
		t.Fatalf("requests = %d, want 3", n)
	}
}

func TestCache(t *testing.T) {
	srv, ts := newLab(t, lab.Options{}, nil)
	clusters := seedClusters(t, srv, 1)
	seedVMs(t, srv, clusters, 1500)
	srv.ResetStats()
	cache := getcache.New(getcache.Config{})
	defer cache.Close()
	c, _ := newClient(t, ts.URL, func(cfg *Config) { cfg.Cache = cache })
	ctx := context.Background()
	gets := func() int64 { return srv.Stats().Requests["GET "+vmPath] }

	first, err := c.List(ctx, vmModel, nil)
	if err != nil || len(first) != 1500 || gets() != 2 {
		t.Fatalf("first list: %d VMs, %d requests, %v", len(first), gets(), err)
	}
	before := c.Stats().Requests
	second, err := c.List(ctx, vmModel, nil)
	if err != nil || len(second) != 1500 {
		t.Fatalf("second list: %d, %v", len(second), err)
	}
	if gets() != 2 || c.Stats().Requests != before {
		t.Fatalf("second identical List made requests: simulator %d, client %d -> %d", gets(), before, c.Stats().Requests)
	}
	// FreshRead goes to NetBox even with a warm cache.
	if _, err := c.List(FreshRead(ctx), vmModel, nil); err != nil || gets() != 4 {
		t.Fatalf("fresh read: %d requests, %v", gets(), err)
	}
	// A write invalidates: the next List reads NetBox and sees the new object.
	okResults(t, c.Create(ctx, vmModel, []Object{vmObj(99999, clusters[0])}))
	third, err := c.List(ctx, vmModel, nil)
	if err != nil || len(third) != 1501 || gets() != 6 {
		t.Fatalf("after write: %d VMs, %d requests, %v", len(third), gets(), err)
	}
	if cache.Stats().Hits < 2 {
		t.Fatalf("cache hits = %d", cache.Stats().Hits)
	}
}
