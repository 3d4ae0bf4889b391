package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/proxbox/proxbox/store"
	pbsync "github.com/proxbox/proxbox/sync"
)

// scriptedSyncer plays a fixed run: it emits events, optionally waits on
// gate (a slow stage), and returns its summary or error. It records the
// requests it got.
type scriptedSyncer struct {
	mu       gosync.Mutex
	requests []StageRequest
	events   []pbsync.Event
	gate     chan struct{}
	sum      *pbsync.Summary
	err      error
	started  chan struct{}
	ctxErr   chan error
	// Bootstrap's answers.
	boot       []pbsync.BootstrapItem
	bootErrors []string
	bootErr    error
}

func (s *scriptedSyncer) Bootstrap(_ context.Context, dryRun bool) ([]pbsync.BootstrapItem, *pbsync.Summary, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bootErr != nil {
		return nil, nil, s.bootErr
	}
	return s.boot, &pbsync.Summary{OK: len(s.bootErrors) == 0, DryRun: dryRun, Errors: s.bootErrors}, nil
}

func (s *scriptedSyncer) Sync(ctx context.Context, req StageRequest, emit func(pbsync.Event)) (*pbsync.Summary, error) {
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	for _, e := range s.events {
		if emit != nil {
			emit(e)
		}
	}
	if s.started != nil {
		s.started <- struct{}{}
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			if s.ctxErr != nil {
				s.ctxErr <- ctx.Err()
			}
			return nil, ctx.Err()
		}
	}
	return s.sum, s.err
}

func streamFixture(t *testing.T, sy *scriptedSyncer, keepalive time.Duration) (*fixture, *httptest.Server) {
	f := newFixture(t)
	f.srv = New(Options{Config: f.srv.cfg, Store: f.st, Sync: sy, Keepalive: keepalive})
	f.bootstrap()
	ctx := context.Background()
	f.st.CreateNetBoxEndpoint(ctx, store.NetBoxEndpoint{Name: "nb", IPAddress: "10.0.0.5", Port: 443, TokenVersion: "v1", Token: "t"})
	f.st.CreateProxmoxEndpoint(ctx, store.ProxmoxEndpoint{Name: "PVE (nb:7)", IPAddress: "10.0.0.10", Port: 8006, Username: "root@pam", Password: "x"})
	ts := httptest.NewServer(f.srv.Handler())
	t.Cleanup(ts.Close)
	return f, ts
}

func get(t *testing.T, url string) (int, string) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set(APIKeyHeader, adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func okSummary() *pbsync.Summary {
	s := &pbsync.Summary{OK: true, Objects: map[string]*pbsync.Counts{"virtual_machines": {Created: 1, Unchanged: 2}}}
	return s
}

func TestStageStreamFramesAreASCIIAndEndWithComplete(t *testing.T) {
	now := time.Now()
	sy := &scriptedSyncer{sum: okSummary(), events: []pbsync.Event{
		{Type: pbsync.EventRunStarted, Time: now, Endpoint: "PVE (nb:7)"},
		{Type: pbsync.EventStageStarted, Time: now, Stage: pbsync.StageVMs},
		{Type: pbsync.EventItem, Time: now, Stage: pbsync.StageVMs, Change: &pbsync.Change{Op: pbsync.OpCreate, Model: "virtualization/virtual-machines", Label: "vm-çà-日本\u0085x\u2028", ID: 7}},
		{Type: pbsync.EventWarning, Time: now, Stage: pbsync.StageVMs, Object: "qemu/101", Message: "guest agent: not running — ünïcode"},
		{Type: pbsync.EventStageFinished, Time: now, Stage: pbsync.StageVMs, Counts: map[string]*pbsync.Counts{"virtual_machines": {Created: 1, Unchanged: 2}}},
	}}
	_, ts := streamFixture(t, sy, time.Hour)
	code, body := get(t, ts.URL+"/virtualization/virtual-machines/create/stream?use_guest_agent_interface_name=False&ignore_ipv6_link_local_addresses=TRUE&primary_ip_preference=ipv6&proxmox_endpoint_ids=7&unknown=1")
	if code != 200 {
		t.Fatalf("HTTP %d %s", code, body)
	}
	for i := 0; i < len(body); i++ {
		if body[i] >= 0x80 {
			t.Fatalf("non-ASCII byte at %d", i)
		}
	}
	if strings.Contains(body, "\nid:") || strings.Contains(body, "\nretry:") {
		t.Fatal("id/retry lines")
	}
	if !strings.HasSuffix(strings.TrimSpace(body), "}") || !strings.Contains(body, "event: complete\ndata: {\"errors\":[],\"message\":\"virtual-machines sync completed.\",\"ok\":true") {
		t.Fatalf("complete frame:\n%s", body)
	}
	last := body[strings.LastIndex(body, "event: "):]
	if !strings.HasPrefix(last, "event: complete") {
		t.Fatalf("last frame: %s", last)
	}
	for _, want := range []string{"event: item_progress", "event: phase_summary", `"created":1`, `\u65e5\u672c`, `\u0085`} {
		if !strings.Contains(body, want) {
			t.Errorf("stream lacks %s", want)
		}
	}
	req := sy.requests[0]
	p := req.Params
	if *p.AgentInterfaceNames || !*p.IgnoreIPv6LinkLocal || p.PrimaryIP != "ipv6" || !req.Job || req.Stages[0] != pbsync.StageVMs {
		t.Fatalf("params not parsed: %+v %+v", req, p)
	}
	if len(req.EndpointIDs) != 1 || req.EndpointIDs[0] != 1 {
		t.Fatalf("plugin pk 7 not mapped to store id 1: %v", req.EndpointIDs)
	}
}

func TestStageStreamFailureAndPartial(t *testing.T) {
	sy := &scriptedSyncer{err: errors.New("read proxmox: connection refused")}
	_, ts := streamFixture(t, sy, time.Hour)
	_, body := get(t, ts.URL+"/dcim/devices/create/stream")
	if !strings.Contains(body, "event: error\n") || !strings.Contains(body, `"ok":false`) || !strings.HasPrefix(body[strings.LastIndex(body, "event: "):], "event: complete") {
		t.Fatalf("failed stage:\n%s", body)
	}
	// A partial run (one object refused) is ok:true with the failure counted.
	part := &pbsync.Summary{OK: false, Partial: true, Errors: []string{"vm-9: name must be unique"}, Objects: map[string]*pbsync.Counts{"virtual_machines": {Created: 9, Failed: 1}}}
	sy2 := &scriptedSyncer{sum: part, events: []pbsync.Event{{Type: pbsync.EventStageFinished, Stage: pbsync.StageVMs, Counts: part.Objects}}}
	_, ts2 := streamFixture(t, sy2, time.Hour)
	_, body = get(t, ts2.URL+"/virtualization/virtual-machines/create/stream")
	if !strings.Contains(body, `"ok":true`) || !strings.Contains(body, "completed_with_errors") || !strings.Contains(body, "name must be unique") {
		t.Fatalf("partial stage:\n%s", body)
	}
}

func TestStageStreamKeepaliveOnSlowStage(t *testing.T) {
	sy := &scriptedSyncer{sum: okSummary(), gate: make(chan struct{}), started: make(chan struct{}, 1)}
	_, ts := streamFixture(t, sy, 30*time.Millisecond)
	req, _ := http.NewRequest("GET", ts.URL+"/dcim/devices/create/stream", nil)
	req.Header.Set(APIKeyHeader, adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-sy.started
	// Read until a keepalive comment arrives while the stage is still running.
	buf := make([]byte, 4096)
	var seen strings.Builder
	for !strings.Contains(seen.String(), ": keepalive\n\n") {
		n, err := resp.Body.Read(buf)
		if err != nil {
			t.Fatalf("stream ended before a keepalive: %v\n%s", err, seen.String())
		}
		seen.Write(buf[:n])
	}
	close(sy.gate)
	rest, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(rest), "event: complete") {
		t.Fatalf("no complete after the slow stage: %s", rest)
	}
}

func TestStageStreamDisconnectCancelsTheRun(t *testing.T) {
	sy := &scriptedSyncer{sum: okSummary(), gate: make(chan struct{}), started: make(chan struct{}, 1), ctxErr: make(chan error, 1)}
	_, ts := streamFixture(t, sy, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/dcim/devices/create/stream", nil)
	req.Header.Set(APIKeyHeader, adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	<-sy.started
	cancel() // the plugin goes away mid-stage
	resp.Body.Close()
	select {
	case err := <-sy.ctxErr:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("run stopped with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run was not cancelled when the client disconnected")
	}
}

func TestStageStreamRefusesWithoutEndpoints(t *testing.T) {
	f := newFixture(t)
	f.srv = New(Options{Config: f.srv.cfg, Store: f.st, Sync: &scriptedSyncer{}})
	f.bootstrap()
	var e map[string]any
	if rec := f.do("GET", "/dcim/devices/create/stream", adminKey, nil, &e); rec.Code != 400 || e["message"] != "No NetBox endpoint found" {
		t.Fatalf("%d %v", rec.Code, e)
	}
}

func TestEveryPluginStagePathIsRouted(t *testing.T) {
	sy := &scriptedSyncer{sum: okSummary()}
	_, ts := streamFixture(t, sy, time.Hour)
	for _, r := range stageRoutes {
		path := strings.Replace(r.path, ":vm_id", "42", 1)
		code, body := get(t, ts.URL+path+"?delete_nonexistent_backup=True")
		if code != 200 || !strings.Contains(body, "event: complete") {
			t.Errorf("%s: %d", path, code)
		}
	}
	code, body := get(t, ts.URL+"/full-update")
	if code != 200 || !strings.Contains(body, `"status":"completed"`) {
		t.Fatalf("/full-update: %d %s", code, body)
	}
	code, body = get(t, ts.URL+"/full-update/stream")
	if code != 200 || !strings.Contains(body, "event: discovery") || !strings.Contains(body, "event: complete") {
		t.Fatalf("/full-update/stream: %d %s", code, body)
	}
}

func TestLegacyWebSocket(t *testing.T) {
	now := time.Now()
	sy := &scriptedSyncer{sum: okSummary(), events: []pbsync.Event{
		{Type: pbsync.EventItem, Time: now, Change: &pbsync.Change{Op: pbsync.OpCreate, Model: "dcim/devices", Label: "pve01", ID: 3}},
	}}
	_, ts := streamFixture(t, sy, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"

	// A wrong key closes with 4001.
	bad, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad.Write(ctx, websocket.MessageText, []byte(`{"api_key":"nope"}`))
	if _, _, err := bad.Read(ctx); websocket.CloseStatus(err) != 4001 {
		t.Fatalf("bad key: %v", err)
	}

	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.Write(ctx, websocket.MessageText, []byte(`{"api_key":"`+adminKey+`"}`))
	read := func() string {
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if m := read(); m != "Connected!" {
		t.Fatalf("first: %q", m)
	}
	read()
	conn.Write(ctx, websocket.MessageText, []byte("Sync Nodes"))
	if m := read(); m != "Sync Nodes" {
		t.Fatalf("echo: %q", m)
	}
	if m := read(); !strings.Contains(m, `"object":"device"`) || !strings.Contains(m, `"name":"pve01"`) {
		t.Fatalf("progress: %q", m)
	}
	if m := read(); !strings.Contains(m, `"end":true`) {
		t.Fatalf("end: %q", m)
	}
	if got := sy.requests[len(sy.requests)-1].Stages; len(got) != 1 || got[0] != pbsync.StageDevices {
		t.Fatalf("stages: %v", got)
	}
	conn.Write(ctx, websocket.MessageText, []byte("Dance"))
	if m := read(); m != "Invalid command: Dance" {
		t.Fatalf("invalid: %q", m)
	}
}

func TestIndividualSyncReportsTheObjectAndItsDependencies(t *testing.T) {
	now := time.Now()
	sy := &scriptedSyncer{sum: okSummary(), events: []pbsync.Event{
		{Type: pbsync.EventItem, Time: now, Change: &pbsync.Change{Op: pbsync.OpCreate, Model: "virtualization/clusters", Label: "e2e", ID: 1}},
		{Type: pbsync.EventItem, Time: now, Change: &pbsync.Change{Op: pbsync.OpCreate, Model: "virtualization/virtual-machines", Key: "e2e/qemu/102", Label: "other", ID: 8}},
		{Type: pbsync.EventItem, Time: now, Change: &pbsync.Change{Op: pbsync.OpUpdate, Model: "virtualization/virtual-machines", Key: "e2e/qemu/101", Label: "web", ID: 7}},
	}}
	_, ts := streamFixture(t, sy, time.Hour)
	code, body := get(t, ts.URL+"/sync/individual/vm?node=pve01&vm_type=qemu&vmid=101&dry_run=True")
	var r map[string]any
	if err := json.Unmarshal([]byte(body), &r); code != 200 || err != nil {
		t.Fatalf("%d %s", code, body)
	}
	obj, _ := r["netbox_object"].(map[string]any)
	deps, _ := r["dependencies_synced"].([]any)
	if r["action"] != "updated" || obj["id"].(float64) != 7 || r["dry_run"] != true || len(deps) != 1 || deps[0].(map[string]any)["object_type"] != "cluster" {
		t.Fatalf("answer: %s", body)
	}
	if !sy.requests[0].DryRun || sy.requests[0].Stages[0] != pbsync.StageVMs {
		t.Fatalf("request: %+v", sy.requests[0])
	}
	// Nothing changed for the VM: unchanged, still 200.
	sy2 := &scriptedSyncer{sum: okSummary()}
	_, ts2 := streamFixture(t, sy2, time.Hour)
	_, body = get(t, ts2.URL+"/sync/individual/vm?type=lxc&vmid=200")
	if !strings.Contains(body, `"action":"unchanged"`) {
		t.Fatalf("unchanged: %s", body)
	}
}

// TestEndpointIDsOfBothGenerations: plugin v0.0.12 sends its NetBox pks to
// the stage streams, v0.0.24 (recognised by its base query) proxbox's own
// ids, also to individual syncs.
func TestEndpointIDsOfBothGenerations(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, name := range []string{"Alpha (nb:2)", "Solo (nb:3)"} {
		if _, err := f.st.CreateProxmoxEndpoint(ctx, store.ProxmoxEndpoint{Name: name, IPAddress: "10.0.0.10", Port: 8006, Username: "root@pam", Password: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	eps, _ := f.st.ProxmoxEndpoints(ctx)
	alpha, solo := eps[0].ID, eps[1].ID
	for _, tc := range []struct {
		raw       string
		pluginPKs bool
		want      []int64
	}{
		{"2,3", true, []int64{alpha, solo}},       // v0.0.12: its pks
		{fmt.Sprint(alpha), true, []int64{alpha}}, // no "(nb:1)": taken as a store id
		{fmt.Sprint(solo), false, []int64{solo}},  // v0.0.24: a store id stays one even when it is also an nb pk
		{fmt.Sprint(alpha, ",", solo), false, []int64{alpha, solo}},
		{"3", false, []int64{solo}}, // not a store id, but an nb pk
	} {
		got, err := f.srv.endpointIDs(ctx, tc.raw, tc.pluginPKs)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%q (plugin pks %v): %v %v, want %v", tc.raw, tc.pluginPKs, got, err, tc.want)
		}
	}
	for q, want := range map[string]bool{"proxmox_endpoint_ids=2": false, "vm_interface_sync_strategy=match&proxmox_endpoint_ids=2": true,
		"parse_description_metadata=false": true} {
		c := f.srv.e.NewContext(httptest.NewRequest("GET", "/dcim/devices/create/stream?"+q, nil), httptest.NewRecorder())
		if newerPlugin(c) != want {
			t.Errorf("%s: newer plugin %v", q, !want)
		}
	}
}

// TestFullUpdateReplyIsTheSummaryJSON: /full-update streams its summary's plan one
// change at a time, and the body is still the bytes c.JSON gave (json.Marshal of the
// reply and a newline), escaped text included.
func TestFullUpdateReplyIsTheSummaryJSON(t *testing.T) {
	sum := okSummary()
	sum.Warnings = []string{"a <warning> & more"}
	sum.Plan = &pbsync.Plan{Unchanged: map[string]int{"virtual_machines": 2}, Changes: []pbsync.Change{
		{Op: pbsync.OpCreate, Model: "virtualization/virtual-machines", Key: "pve/qemu/100", Label: "vm-çà-日本\u2028", ID: 7,
			Fields: []pbsync.FieldChange{{Field: "name", New: "vm-çà"}, {Field: "vcpus", New: 2.0}}},
		{Op: pbsync.OpUpdate, Model: "virtualization/virtual-machines", Key: "pve/qemu/101", Label: "db", ID: 8,
			Fields: []pbsync.FieldChange{{Field: "memory", Old: 1024.0, New: 2048}}},
	}}
	sy := &scriptedSyncer{sum: sum}
	_, ts := streamFixture(t, sy, time.Hour)
	code, body := get(t, ts.URL+"/full-update")
	want, err := json.Marshal(fullUpdateJSON{Status: "completed", OK: true, Summary: sum})
	if err != nil {
		t.Fatal(err)
	}
	if code != 200 || body != string(want)+"\n" {
		t.Fatalf("/full-update: %d\n got %s\nwant %s", code, body, want)
	}
}
