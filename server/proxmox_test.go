package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/proxbox/proxbox/lab/pve"
	"github.com/proxbox/proxbox/store"
)

// labProxmox reads the Proxmox simulator over HTTP the way the proxmox
// adapter does (token auth, envelope unwrapped); endpoints are matched to
// simulators by port.
type labProxmox struct {
	byPort map[int]*httptest.Server
}

func (l *labProxmox) Get(ctx context.Context, ep store.ProxmoxEndpoint, path string, q url.Values) (json.RawMessage, error) {
	return l.send(ctx, http.MethodGet, ep, path, q)
}

// Post sends a write to the simulator (a form body, as PVE takes it).
func (l *labProxmox) Post(ctx context.Context, ep store.ProxmoxEndpoint, path string, params url.Values) (json.RawMessage, error) {
	return l.send(ctx, http.MethodPost, ep, path, params)
}

func (l *labProxmox) send(ctx context.Context, method string, ep store.ProxmoxEndpoint, path string, q url.Values) (json.RawMessage, error) {
	srv := l.byPort[ep.Port]
	if srv == nil {
		return nil, fmt.Errorf("dial 127.0.0.1:%d: connection refused", ep.Port)
	}
	u := srv.URL + "/api2/json" + path
	var body io.Reader
	if method == http.MethodGet && len(q) > 0 {
		u += "?" + q.Encode()
	} else if method != http.MethodGet {
		body = strings.NewReader(q.Encode())
	}
	req, _ := http.NewRequestWithContext(ctx, method, u, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Authorization", "PVEAPIToken="+ep.Username+"!"+ep.TokenName+"="+ep.TokenValue.Reveal())
	resp, err := srv.Client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, &statusErr{code: resp.StatusCode, status: resp.Status}
	}
	var env struct{ Data json.RawMessage }
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, err
	}
	return env.Data, nil
}

// statusErr is a Proxmox reply other than 200, with its status (as the
// proxmox adapter's APIError reports it).
type statusErr struct {
	code   int
	status string
}

func (e *statusErr) Error() string   { return "HTTP " + e.status }
func (e *statusErr) HTTPStatus() int { return e.code }

// labCluster serves the Proxmox simulator with the e2e cluster fixture
// for the test's lifetime.
func labCluster(t *testing.T) (*pve.Server, *httptest.Server, int) {
	t.Helper()
	sim, err := pve.New(pve.Options{FixturesFile: "../testdata/fixtures/pve/netbox-proxbox-e2e-cluster.json"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	port := ts.Listener.Addr().(*net.TCPAddr).Port
	return sim, ts, port
}

func TestProxmoxReadRoutes(t *testing.T) {
	sim, ts, port := labCluster(t)
	f := newFixture(t)
	f.srv = New(Options{Config: f.srv.cfg, Store: f.st, Proxmox: &labProxmox{byPort: map[int]*httptest.Server{port: ts}}})
	f.bootstrap()
	user, name, _ := strings.Cut(sim.TokenID(), "!")
	if _, err := f.st.CreateProxmoxEndpoint(context.Background(), store.ProxmoxEndpoint{Name: "PVE (nb:1)", IPAddress: "127.0.0.1", Port: port, Username: user, TokenName: name, TokenValue: store.Secret(sim.TokenSecret())}); err != nil {
		t.Fatal(err)
	}

	// cluster/status: the cluster record, then its nodes as flat records
	// only (both plugin generations read those; a nested copy counts twice).
	var status []map[string]any
	if rec := f.do("GET", "/proxmox/cluster/status", adminKey, nil, &status); rec.Code != 200 {
		t.Fatalf("status: %d %s", rec.Code, rec.Body)
	}
	if _, nested := status[0]["node_list"]; status[0]["type"] != "cluster" || nested || len(status) != 4 {
		t.Fatalf("cluster record: %v", status)
	}
	flat := 0
	for _, r := range status[1:] {
		if r["type"] == "node" {
			flat++
		}
	}
	if flat != 3 {
		t.Fatalf("flat node records: %d", flat)
	}
	clusterName := status[0]["name"].(string)

	// cluster/resources: [{"<cluster>": [flat records]}], the 13 fixture records.
	var res []map[string][]map[string]any
	if rec := f.do("GET", "/proxmox/cluster/resources?source=database&ip_address=127.0.0.1", adminKey, nil, &res); rec.Code != 200 || len(res[0][clusterName]) != 13 {
		t.Fatalf("resources: %d %v", rec.Code, res)
	}
	for _, r := range res[0][clusterName] {
		for k, v := range r {
			switch v.(type) {
			case map[string]any, []any:
				t.Fatalf("resource %v has nested %s: the plugin's parser would skip it", r["id"], k)
			}
		}
	}
	var vms []map[string][]map[string]any
	f.do("GET", "/proxmox/cluster/resources?type=vm", adminKey, nil, &vms)
	if len(vms[0][clusterName]) != 10 {
		t.Fatalf("type=vm: %d", len(vms[0][clusterName]))
	}
	// nodes/ with the trailing slash, no redirect; every node, not the first only.
	var nodes []map[string][]map[string]any
	if rec := f.do("GET", "/proxmox/nodes/", adminKey, nil, &nodes); rec.Code != 200 || len(nodes[0][clusterName]) != 3 {
		t.Fatalf("nodes/: %d %v", rec.Code, nodes)
	}
	var version []map[string]map[string]any
	if rec := f.do("GET", "/proxmox/version", adminKey, nil, &version); rec.Code != 200 || version[0][clusterName]["version"] == nil {
		t.Fatalf("version: %d %v", rec.Code, version)
	}
	var sessions []map[string]any
	f.do("GET", "/proxmox/sessions", adminKey, nil, &sessions)
	if sessions[0]["mode"] != "cluster" || sessions[0]["name"] != clusterName {
		t.Fatalf("sessions: %v", sessions)
	}
	// A guest config through the VM tab route.
	node := vms[0][clusterName][0]["node"].(string)
	vmid := int(vms[0][clusterName][0]["vmid"].(float64))
	typ := vms[0][clusterName][0]["type"].(string)
	var cfg map[string]any
	if rec := f.do("GET", fmt.Sprintf("/proxmox/%s/%s/%d/config?source=database&name=PVE%%20(nb:1)", node, typ, vmid), adminKey, nil, &cfg); rec.Code != 200 || cfg["name"] == nil {
		t.Fatalf("config: %d %v", rec.Code, cfg)
	}
	var e map[string]any
	if rec := f.do("GET", fmt.Sprintf("/proxmox/%s/docker/%d/config", node, vmid), adminKey, nil, &e); rec.Code != 400 {
		t.Fatalf("bad type: %d", rec.Code)
	}
	if rec := f.do("GET", "/proxmox/cluster/resources?domain=nope.example", adminKey, nil, &e); rec.Code != 400 || !strings.Contains(e["detail"].(string), "domain") {
		t.Fatalf("unknown selector: %d %v", rec.Code, e)
	}
	if rec := f.do("GET", "/proxmox/nodes/nosuchnode/storage/local/content", adminKey, nil, &e); rec.Code != 404 {
		t.Fatalf("unknown node: %d", rec.Code)
	}
}
