package pve_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/proxbox/proxbox/lab/pve"
)

const sharedFixture = "../../testdata/fixtures/pve/netbox-proxbox-e2e-cluster.json"

type reply struct {
	status int
	reason string
	body   map[string]any
	raw    string
}

// get calls the simulator over a real HTTP connection (error replies are written raw on the
// connection, so a ResponseRecorder would not see them).
func do(t *testing.T, ts *httptest.Server, method, path string, hdr map[string]string, body io.Reader) reply {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, reason: strings.TrimSpace(strings.TrimPrefix(res.Status, res.Status[:3])), raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

func tokenHdr() map[string]string {
	return map[string]string{"Authorization": "PVEAPIToken=" + pve.DefaultToken}
}

func get(t *testing.T, ts *httptest.Server, path string) reply {
	t.Helper()
	return do(t, ts, http.MethodGet, "/api2/json"+path, tokenHdr(), nil)
}

func list(t *testing.T, r reply) []map[string]any {
	t.Helper()
	l, ok := r.body["data"].([]any)
	if !ok {
		t.Fatalf("data is not a list: %d %s %.300s", r.status, r.reason, r.raw)
	}
	out := make([]map[string]any, 0, len(l))
	for _, e := range l {
		out = append(out, e.(map[string]any))
	}
	return out
}

func fixtureServer(t *testing.T, path string) (*pve.Server, *httptest.Server) {
	t.Helper()
	s, err := pve.New(pve.Options{FixturesFile: path})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

func genServer(t *testing.T, scale int, seed int64) (*pve.Server, *httptest.Server) {
	t.Helper()
	s, err := pve.New(pve.Options{Scale: scale, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}
