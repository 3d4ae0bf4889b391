package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/proxbox/proxbox/metrics"
	"github.com/proxbox/proxbox/netbox/getcache"
	"github.com/proxbox/proxbox/store"
	pbsync "github.com/proxbox/proxbox/sync"
)

func init() {
	// Bodies that are not JSON are validated as strings.
	for _, ct := range []string{ctSSE, ctHTML, ctPEM} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
}

// notExercised lists documented statuses no case below produces, each with
// the reason. Keep it short: a status here is documented on trust.
var notExercised = map[string]string{
	"GET /ws 101": "the upgrade needs a hijackable connection: TestLegacyWebSocket drives it over a real socket",
	"GET /proxmox/:node/:type/:vmid/config 502": "Proxmox always sends an object; the guard is for a broken peer",
}

// closedLogs is a live tail with no live records: the stream sends the
// stored backlog and ends.
type closedLogs struct{}

func (closedLogs) Subscribe() (<-chan store.LogEntry, func()) {
	ch := make(chan store.LogEntry)
	close(ch)
	return ch, func() {}
}

// fullServer wires every optional part, so every route is registered.
func fullServer(t *testing.T, f *fixture, sy *scriptedSyncer, px ProxmoxAPI, pem *[]byte) *Server {
	t.Helper()
	cache := getcache.New(getcache.Config{})
	return New(Options{Config: f.srv.cfg, Store: f.st, Sync: sy, Proxmox: px, Cache: cache, CacheDefaults: cache.Limits(),
		Metrics: metrics.New().Handler(), Logs: closedLogs{}, UI: http.NotFoundHandler(),
		CARootPEM: func() []byte { return *pem }, Now: func() time.Time { return f.now }})
}

// TestEveryRouteHasASpec fails on a route without request and response
// documentation, and on documentation of a route that does not exist.
func TestEveryRouteHasASpec(t *testing.T) {
	f := newFixture(t)
	var pem []byte
	srv := fullServer(t, f, &scriptedSyncer{}, &labProxmox{}, &pem)
	routed := map[string]bool{}
	for _, r := range srv.Echo().Routes() {
		if !documented(r) {
			continue
		}
		routed[r.Method+" "+r.Path] = true
		if _, ok := routeSpec(r.Method, r.Path); !ok {
			t.Errorf("%s %s has no OpenAPI spec: add it to routeSpecs in server/openapi.go (each status it answers, with the Go type of each body), "+
				"then a case answering each status to TestOpenAPIMatchesHandlers", r.Method, r.Path)
		}
	}
	for k := range routeSpecs {
		if !routed[k] {
			t.Errorf("routeSpecs documents %s, which is not routed", k)
		}
	}
}

// oaHarness drives handlers and checks each reply against /openapi.json.
type oaHarness struct {
	t       *testing.T
	doc     *openapi3.T // as served, with object schemas closed
	covered map[string]bool
}

type oaReq struct {
	method, url string
	key         bool
	body        any // JSON-encoded; a string is sent as it is
	want        int
	accept      string
	remote      string
}

func (h *oaHarness) do(srv *Server, r oaReq) *httptest.ResponseRecorder {
	h.t.Helper()
	var raw []byte
	switch b := r.body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		raw, _ = json.Marshal(b)
	}
	newReq := func() *http.Request {
		req := httptest.NewRequest(r.method, r.url, bytes.NewReader(raw))
		req.RemoteAddr = "10.20.30.40:5555"
		if r.remote != "" {
			req.RemoteAddr = r.remote
		}
		if r.body != nil {
			req.Header.Set("Content-Type", ctJSON)
		}
		if r.key {
			req.Header.Set(APIKeyHeader, adminKey)
		}
		if r.accept != "" {
			req.Header.Set("Accept", r.accept)
		}
		return req
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, newReq())
	what := r.method + " " + r.url
	if rec.Code != r.want {
		h.t.Errorf("%s: answered %d, the case expects %d: %s", what, rec.Code, r.want, rec.Body)
	}

	req := newReq()
	ec := srv.e.NewContext(req, nil)
	srv.e.Router().Find(r.method, req.URL.Path, ec)
	pattern := ec.Path()
	item := h.doc.Paths.Value(openAPIPath(pattern))
	var op *openapi3.Operation
	if item != nil {
		op = item.GetOperation(r.method)
	}
	if op == nil {
		h.t.Errorf("%s: route %s is not in /openapi.json", what, pattern)
		return rec
	}
	if op.Responses.Status(rec.Code) == nil {
		h.t.Errorf("%s: answered %d, which /openapi.json does not document for %s %s (add it to routeSpecs): %s", what, rec.Code, r.method, pattern, rec.Body)
		return rec
	}
	h.covered[r.method+" "+pattern+" "+strconv.Itoa(rec.Code)] = true
	params := map[string]string{}
	for i, n := range ec.ParamNames() {
		params[n] = ec.ParamValues()[i]
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params,
		Route:   &routers.Route{Spec: h.doc, Path: openAPIPath(pattern), PathItem: item, Method: r.method, Operation: op},
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if rec.Code < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			h.t.Errorf("%s: the request the handler accepted does not match /openapi.json: %v", what, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(rec.Body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		h.t.Errorf("%s → %d: the body does not match /openapi.json: %v\nbody: %.600s", what, rec.Code, err, rec.Body)
	}
	return rec
}

// closeObjects forbids properties a schema does not list, so a field a
// handler adds without documenting it fails the validation.
func closeObjects(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(r *openapi3.SchemaRef) {
		if r == nil || r.Value == nil || seen[r.Value] {
			return
		}
		s := r.Value
		seen[s] = true
		if s.Properties != nil && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			no := false
			s.AdditionalProperties.Has = &no
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
		for _, o := range s.OneOf {
			walk(o)
		}
	}
	for _, s := range doc.Components.Schemas {
		walk(s)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody != nil {
				for _, mt := range op.RequestBody.Value.Content {
					walk(mt.Schema)
				}
			}
			for _, rr := range op.Responses.Map() {
				for _, mt := range rr.Value.Content {
					walk(mt.Schema)
				}
			}
		}
	}
}

// TestOpenAPIMatchesHandlers drives every route through the handlers with
// httptest and validates each request it accepts and each reply against
// /openapi.json (kin-openapi's openapi3filter, with object schemas closed).
// Every status the document lists must be produced by a case here (or be
// listed in notExercised), and every status a case produces must be
// documented.
func TestOpenAPIMatchesHandlers(t *testing.T) {
	sim, ts, port := labCluster(t)
	f := newFixture(t)
	ctx := context.Background()
	sy := &scriptedSyncer{sum: okSummary()}
	pem := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	srv := fullServer(t, f, sy, &labProxmox{byPort: map[int]*httptest.Server{port: ts}}, &pem)
	// The same with PROXBOX_PROXMOX_WRITES on.
	wf := *f
	wf.srv = &Server{cfg: f.srv.cfg}
	wf.srv.cfg.ProxmoxWrites = true
	wsrv := fullServer(t, &wf, sy, &labProxmox{byPort: map[int]*httptest.Server{port: ts}}, &pem)

	// The document as served: valid OpenAPI, then closed for the checks.
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	if rec.Code != 200 {
		t.Fatalf("/openapi.json: %d %s", rec.Code, rec.Body)
	}
	doc, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("/openapi.json does not load: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("/openapi.json is not valid OpenAPI: %v", err)
	}
	if n := len(doc.Components.Schemas); n < 20 {
		t.Fatalf("only %d component schemas", n)
	}
	closeObjects(doc)
	h := &oaHarness{t: t, doc: doc, covered: map[string]bool{}}
	do := func(method, url string, key bool, body any, want int) *httptest.ResponseRecorder {
		t.Helper()
		return h.do(srv, oaReq{method: method, url: url, key: key, body: body, want: want})
	}

	// Before any key.
	do("GET", "/auth/bootstrap-status", false, nil, 200)
	do("POST", "/auth/register-key", false, map[string]string{"api_key": "too-short"}, 400)
	do("POST", "/auth/register-key", false, map[string]string{"label": "no key"}, 422)
	do("POST", "/auth/register-key", false, map[string]string{"api_key": adminKey, "label": "admin"}, 201)
	do("POST", "/auth/register-key", false, map[string]string{"api_key": adminKey + "x"}, 409)
	h.do(srv, oaReq{method: "POST", url: "/auth/register-key", remote: "198.51.100.20:1", body: map[string]string{"api_key": adminKey}, want: 403})
	for i := 0; i < 5; i++ { // the bootstrap burst of one client, then 429
		h.do(srv, oaReq{method: "POST", url: "/auth/register-key", remote: "10.99.0.1:1", body: map[string]string{"api_key": adminKey}, want: 409})
	}
	h.do(srv, oaReq{method: "POST", url: "/auth/register-key", remote: "10.99.0.1:1", body: map[string]string{"api_key": adminKey}, want: 429})

	// Meta.
	do("GET", "/", false, nil, 200)
	h.do(srv, oaReq{method: "GET", url: "/", accept: "text/html,application/xhtml+xml", want: 303})
	do("GET", "/health", false, nil, 200)
	do("GET", "/version", true, nil, 200)
	do("GET", "/openapi.json", false, nil, 200)
	do("GET", "/docs", false, nil, 200)
	do("GET", "/ca.pem", false, nil, 200)
	do("GET", "/metrics", true, nil, 200)

	// Keys.
	do("GET", "/auth/keys", true, nil, 200)
	var created createdKeyJSON
	json.Unmarshal(do("POST", "/auth/keys", true, map[string]string{"label": "second"}, 201).Body.Bytes(), &created)
	do("POST", "/auth/keys", true, "{not json", 422)
	id := strconv.FormatInt(created.ID, 10)
	for _, act := range []string{"deactivate", "activate"} {
		do("POST", "/auth/keys/"+id+"/"+act, true, nil, 200)
		do("POST", "/auth/keys/999/"+act, true, nil, 404)
		do("POST", "/auth/keys/x/"+act, true, nil, 422)
	}
	do("DELETE", "/auth/keys/"+id, true, nil, 204)
	do("DELETE", "/auth/keys/"+id, true, nil, 404)
	do("DELETE", "/auth/keys/x", true, nil, 422)

	// Stored runs' changes.
	runID := strconv.FormatInt(storeRun(t, f, sampleChanges(), 1), 10)
	do("GET", "/sync/runs/"+runID+"/changes?model=virtualization.virtualmachine&op=update&failed=false&offset=0&limit=10", true, nil, 200)
	do("GET", "/sync/runs/999/changes", true, nil, 404)
	do("GET", "/sync/runs/x/changes", true, nil, 422)

	// Syncs and Proxmox reads refuse while nothing is configured.
	for _, r := range stageRoutes {
		do("GET", strings.ReplaceAll(r.path, ":vm_id", "1"), true, nil, 400)
	}
	do("GET", "/full-update", true, nil, 400)
	do("GET", "/full-update/stream", true, nil, 400)
	do("GET", "/sync/individual/vm?vmid=101", true, nil, 400)
	do("POST", "/sync/individual/vm?vmid=101", true, nil, 400)
	pxReads := []string{"/proxmox/sessions", "/proxmox/version", "/proxmox/cluster/status", "/proxmox/cluster/resources", "/proxmox/cluster/backup",
		"/proxmox/replication", "/proxmox/nodes/", "/proxmox/nodes", "/proxmox/storage", "/proxmox/nodes/pve01/storage/local/content",
		"/proxmox/nodes/pve01/network", "/proxmox/nodes/pve01/qemu/101/firewall", "/proxmox/pve01/qemu/101/config",
		"/proxmox/firewall/summary", "/proxmox/datacenter/cpu-models", "/proxmox/cluster/ha/summary", "/proxmox/cluster/ha/resources/by-vm/101"}
	var fwDatacenter, fwNode, fwGuest []string
	for _, n := range firewallNouns {
		if n.datacenter {
			fwDatacenter = append(fwDatacenter, "/proxmox/firewall/datacenter/"+n.noun)
		}
		if n.node {
			fwNode = append(fwNode, "/proxmox/firewall/nodes/pve01/"+n.noun)
		}
		if n.guest {
			fwGuest = append(fwGuest, "/proxmox/firewall/vms/101/"+n.noun)
		}
	}
	pxReads = append(append(append(pxReads, fwDatacenter...), fwNode...), fwGuest...)
	for _, p := range pxReads {
		do("GET", p, true, nil, 404)
		do("GET", p+"?source=bad", true, nil, 400)
	}
	for _, p := range []string{"/proxmox/cluster/ha/arm", "/proxmox/cluster/ha/disarm"} {
		do("POST", p, true, nil, 403)
		h.do(wsrv, oaReq{method: "POST", url: p, key: true, want: 404})
		h.do(wsrv, oaReq{method: "POST", url: p + "?source=bad", key: true, want: 400})
	}

	// Writes proxbox does not implement, and features it does not have.
	fillWrite := strings.NewReplacer("*", "datacenter/rules", ":type", "qemu", ":vmid", "101", ":verb", "start", ":cputype", "custom-x", ":id", "1")
	for _, r := range writeRoutes {
		do(r.method, fillWrite.Replace(r.path), true, map[string]any{}, 403)
		h.do(wsrv, oaReq{method: r.method, url: fillWrite.Replace(r.path), key: true, body: map[string]any{}, want: 501})
	}
	for _, r := range unavailableRoutes {
		do(r.method, r.path, true, nil, r.status)
	}

	// The sync-state repair page's calls.
	sy.boot = []pbsync.BootstrapItem{{Kind: "tag", Name: "proxbox", ID: 1, Action: "unchanged"}, {Kind: "custom_field", Name: "proxmox_vm_id", Action: "missing"}}
	do("GET", "/extras/bootstrap-status", true, nil, 200)
	sy.boot[1].Action = "created"
	do("POST", "/extras/custom-fields/reconcile", true, nil, 200)
	sy.bootErrors = []string{"custom field proxmox_vm_id: NetBox refused it"}
	do("GET", "/extras/bootstrap-status", true, nil, 200)
	do("POST", "/extras/custom-fields/reconcile", true, nil, 502)
	sy.bootErrors, sy.bootErr = nil, errors.New("no NetBox endpoint configured")
	do("GET", "/extras/bootstrap-status", true, nil, 200)
	do("POST", "/extras/custom-fields/reconcile", true, nil, 400)
	sy.bootErr = nil

	// NetBox endpoint.
	nb := map[string]any{"name": "NetBox", "ip_address": "10.0.0.5", "port": 443, "token_version": "v1", "token": "secret-token", "verify_ssl": true}
	do("POST", "/netbox/endpoint", true, map[string]any{"name": "x", "ip_address": "10.0.0.5", "token_version": "v9", "token": "t"}, 400)
	do("POST", "/netbox/endpoint", true, "[1]", 422)
	var nbOut netboxEndpointJSON
	json.Unmarshal(do("POST", "/netbox/endpoint", true, nb, 201).Body.Bytes(), &nbOut)
	do("POST", "/netbox/endpoint", true, nb, 409)
	nbID := strconv.FormatInt(nbOut.ID, 10)
	do("GET", "/netbox/endpoint?limit=5", true, nil, 200)
	for _, m := range []string{"GET", "PUT", "PATCH", "DELETE"} {
		var body any
		if m == "PUT" || m == "PATCH" {
			body = map[string]any{"name": "NetBox 2"}
		}
		do(m, "/netbox/endpoint/999", true, body, 404)
		do(m, "/netbox/endpoint/x", true, body, 422)
	}
	do("GET", "/netbox/endpoint/"+nbID, true, nil, 200)
	do("PUT", "/netbox/endpoint/"+nbID, true, map[string]any{"name": "NetBox", "domain": "netbox.example", "port": 8443, "token": ""}, 200)
	do("PATCH", "/netbox/endpoint/"+nbID, true, map[string]any{"verify_ssl": false}, 200)
	do("PUT", "/netbox/endpoint/"+nbID, true, map[string]any{"token_version": "v3"}, 400)
	do("PATCH", "/netbox/endpoint/"+nbID, true, map[string]any{"ip_address": "169.254.169.254"}, 400)

	// Proxmox endpoints: the simulator, and one that refuses connections.
	user, tokenName, _ := strings.Cut(sim.TokenID(), "!")
	pxEP := map[string]any{"name": "PVE (nb:1)", "ip_address": "127.0.0.1", "port": port, "username": user, "token_name": tokenName, "token_value": sim.TokenSecret(), "verify_ssl": false}
	var pxOut proxmoxEndpointJSON
	json.Unmarshal(do("POST", "/proxmox/endpoints", true, pxEP, 201).Body.Bytes(), &pxOut)
	do("POST", "/proxmox/endpoints", true, pxEP, 409)
	do("POST", "/proxmox/endpoints", true, map[string]any{"name": "no creds", "ip_address": "127.0.0.3", "username": "root@pam"}, 400)
	do("POST", "/proxmox/endpoints", true, map[string]any{"name": "bad port", "ip_address": "127.0.0.3", "username": "root@pam", "port": "x"}, 422)
	do("POST", "/proxmox/endpoints", true, map[string]any{"name": "down", "ip_address": "127.0.0.2", "port": 1, "username": "root@pam", "password": "pw"}, 201)
	pxID := strconv.FormatInt(pxOut.ID, 10)
	do("GET", "/proxmox/endpoints", true, nil, 200)
	for _, m := range []string{"GET", "PUT", "PATCH", "DELETE"} {
		var body any
		if m == "PUT" || m == "PATCH" {
			body = map[string]any{"name": "renamed"}
		}
		do(m, "/proxmox/endpoints/999", true, body, 404)
		do(m, "/proxmox/endpoints/x", true, body, 422)
	}
	do("GET", "/proxmox/endpoints/"+pxID, true, nil, 200)
	do("PUT", "/proxmox/endpoints/"+pxID, true, pxEP, 200)
	do("PATCH", "/proxmox/endpoints/"+pxID, true, map[string]any{"timeout": 30, "retry_backoff": 1.5}, 200)
	for _, m := range []string{"PUT", "PATCH"} {
		do(m, "/proxmox/endpoints/"+pxID, true, map[string]any{"token_name": "only-a-name", "token_value": nil}, 400)
		do(m, "/proxmox/endpoints/"+pxID, true, map[string]any{"name": "down"}, 409)
	}
	do("PUT", "/proxmox/endpoints/"+pxID, true, map[string]any{"timeout": -1}, 422)

	// Proxmox reads: every endpoint, then the refusing one alone.
	for _, p := range pxReads {
		do("GET", p, true, nil, 200)
	}
	for _, p := range append([]string{"/proxmox/version", "/proxmox/cluster/status", "/proxmox/cluster/resources", "/proxmox/nodes/", "/proxmox/nodes", "/proxmox/storage",
		"/proxmox/firewall/summary", "/proxmox/datacenter/cpu-models", "/proxmox/cluster/ha/summary", "/proxmox/cluster/ha/resources/by-vm/101"},
		append(fwDatacenter, fwGuest...)...) {
		do("GET", p+"?name=down", true, nil, 502)
	}
	for _, p := range append([]string{"/proxmox/nodes/pve01/storage/local/content", "/proxmox/nodes/pve01/network", "/proxmox/nodes/pve01/qemu/101/firewall"}, fwNode...) {
		do("GET", p+"?cluster_name=127.0.0.2", true, nil, 502)
		do("GET", strings.Replace(p, "pve01", "nosuchnode", 1), true, nil, 404)
	}
	for _, p := range fwGuest {
		do("GET", strings.Replace(p, "101", "9999", 1)+"?name=PVE%20(nb:1)", true, nil, 404)
		do("GET", strings.Replace(p, "101", "x", 1), true, nil, 422)
		do("GET", p+"?vm_type=docker", true, nil, 400)
	}
	do("GET", "/proxmox/cluster/ha/resources/by-vm/x", true, nil, 422)
	for _, p := range []string{"/proxmox/cluster/ha/arm", "/proxmox/cluster/ha/disarm"} {
		h.do(wsrv, oaReq{method: "POST", url: p + "?name=PVE%20(nb:1)", key: true, want: 200})
	}
	do("GET", "/proxmox/nodes/pve01/qemu/x/firewall", true, nil, 422)
	do("GET", "/proxmox/pve01/docker/101/config", true, nil, 400)
	do("GET", "/proxmox/pve01/qemu/x/config", true, nil, 422)
	do("GET", "/proxmox/nosuchnode/qemu/101/config", true, nil, 404)

	// Syncs.
	for _, r := range stageRoutes {
		do("GET", strings.ReplaceAll(r.path, ":vm_id", "1")+"?proxmox_endpoint_ids=1&fetch_max_concurrency=4", true, nil, 200)
	}
	do("GET", "/full-update", true, nil, 200)
	do("GET", "/full-update/stream", true, nil, 200)
	do("GET", "/sync/individual/vm?vmid=101&type=qemu", true, nil, 200)
	do("POST", "/sync/individual/node?node_name=pve01&dry_run=true", true, nil, 200)
	do("GET", "/sync/individual/nothing", true, nil, 404)
	do("GET", "/sync/watch", true, nil, 200)
	do("POST", "/sync/individual/nothing", true, nil, 404)
	sy.err = errors.New("NetBox refused the run")
	do("GET", "/sync/individual/vm?vmid=101", true, nil, 502)
	do("POST", "/sync/individual/vm?vmid=101", true, nil, 502)
	sy.err = nil

	// Cache.
	for _, p := range []string{"/cache", "/cache/metrics", "/cache/metrics/prometheus", "/clear-cache", "/cache/settings"} {
		do("GET", p, true, nil, 200)
	}
	do("POST", "/cache/clear", true, nil, 200)
	do("PUT", "/cache/settings", true, map[string]any{"ttl_seconds": 30, "max_entries": 10, "max_bytes": 4096}, 200)
	do("PUT", "/cache/settings", true, map[string]any{"max_entries": 0}, 422)
	do("DELETE", "/cache/settings", true, nil, 200)

	// Logs.
	f.st.AppendLogs(ctx, []store.LogEntry{{Time: f.now, Level: "ERROR", Message: "NetBox refused VM 101", OperationID: "run-1", Attrs: []byte(`{"vmid":101}`)}})
	do("GET", "/admin/logs?level=error&limit=10", true, nil, 200)
	do("GET", "/admin/logs/stream", true, nil, 200)
	do("POST", "/admin/logs/token", true, nil, 201)

	// Deletes last.
	do("DELETE", "/proxmox/endpoints/"+pxID, true, nil, 200)
	do("DELETE", "/netbox/endpoint/"+nbID, true, nil, 200)

	// A server without the optional parts, and one whose store is closed.
	var none []byte
	bare := New(Options{Config: f.srv.cfg, Store: f.st, CARootPEM: func() []byte { return none }, Now: func() time.Time { return f.now }})
	h.do(bare, oaReq{method: "GET", url: "/ca.pem", want: 404})
	h.do(srv, oaReq{method: "GET", url: "/ca.pem", want: 200})
	broken, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	broken.Close()
	h.do(New(Options{Config: f.srv.cfg, Store: broken}), oaReq{method: "GET", url: "/health", want: 503})
	noLogs := New(Options{Config: f.srv.cfg, Store: f.st, Now: func() time.Time { return f.now }})
	h.do(noLogs, oaReq{method: "GET", url: "/admin/logs/stream", key: true, want: 503})

	// Every protected route: 401 without a key, 429 from a locked-out client.
	for i := 0; i < maxAuthFailures; i++ {
		if _, err := f.st.RecordAuthFailure(ctx, "198.51.100.9", f.now, lockoutWindow); err != nil {
			t.Fatal(err)
		}
	}
	fill := strings.NewReplacer(":id", "1", ":node", "pve01", ":storage", "local", ":vmid", "101", ":type", "qemu", ":kind", "vm", ":vm_id", "1")
	for _, r := range srv.Echo().Routes() {
		if !documented(r) || srv.IsExempt(r.Path) {
			continue
		}
		u := fill.Replace(r.Path)
		h.do(srv, oaReq{method: r.Method, url: u, want: 401})
		h.do(srv, oaReq{method: r.Method, url: u, key: true, remote: "198.51.100.9:4000", want: 429})
	}

	// Every documented status was produced.
	var missing []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code := range op.Responses.Map() {
				if code == "default" {
					continue
				}
				k := method + " " + echoPath(path) + " " + code
				if !h.covered[k] && notExercised[k] == "" {
					missing = append(missing, k)
				}
			}
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		t.Errorf("/openapi.json documents %s, but no case in TestOpenAPIMatchesHandlers produces it: add one (or drop the status from routeSpecs if the handler cannot answer it)", k)
	}
	for k := range notExercised {
		if h.covered[k] {
			t.Errorf("%s is exercised now: remove it from notExercised", k)
		}
	}
	t.Logf("%d documented statuses exercised", len(h.covered))
}

// echoPath turns an OpenAPI path back into echo's syntax.
func echoPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = ":" + s[1:len(s)-1]
		}
	}
	return strings.Join(segs, "/")
}
