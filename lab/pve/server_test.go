package pve_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxbox/proxbox/lab/pve"
)

func TestAuth(t *testing.T) {
	_, ts := fixtureServer(t, sharedFixture)
	cases := []struct {
		name   string
		hdr    map[string]string
		status int
		reason string
	}{
		{"no credentials", nil, 401, "No ticket"},
		{"wrong secret", map[string]string{"Authorization": "PVEAPIToken=root@pam!proxbox=nope"}, 401, "invalid token value!"},
		{"unknown token", map[string]string{"Authorization": "PVEAPIToken=root@pam!other=00000000-0000-4000-8000-000000000000"}, 401, "no such token 'other' for user 'root@pam'"},
		{"malformed", map[string]string{"Authorization": "PVEAPIToken=garbage"}, 401, "invalid API token"},
		{"bad ticket", map[string]string{"Cookie": "PVEAuthCookie=PVE:root@pam:00000000::forged"}, 401, "permission denied - invalid PVE ticket"},
		{"token", tokenHdr(), 200, "OK"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, ts, http.MethodGet, "/api2/json/cluster/resources", c.hdr, nil)
			if r.status != c.status || r.reason != c.reason {
				t.Fatalf("got %d %q, want %d %q", r.status, r.reason, c.status, c.reason)
			}
			if c.status == 401 && r.raw != `{"data":null}` {
				t.Fatalf("401 body %q", r.raw)
			}
		})
	}
	// unknown paths need auth too, like pveproxy
	if r := do(t, ts, http.MethodGet, "/api2/json/foo", nil, nil); r.status != 401 {
		t.Fatalf("unauthenticated unknown path: %d", r.status)
	}
}

func TestTicketAndCSRF(t *testing.T) {
	_, ts := fixtureServer(t, sharedFixture)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	bad := do(t, ts, http.MethodPost, "/api2/json/access/ticket", form, strings.NewReader("username=root@pam&password=wrong"))
	if bad.status != 401 || bad.reason != "authentication failure" {
		t.Fatalf("bad password: %d %q", bad.status, bad.reason)
	}
	missing := do(t, ts, http.MethodPost, "/api2/json/access/ticket", form, strings.NewReader("username=root@pam"))
	if missing.status != 400 || missing.body["errors"].(map[string]any)["password"] == nil {
		t.Fatalf("missing password: %d %s", missing.status, missing.raw)
	}
	ok := do(t, ts, http.MethodPost, "/api2/json/access/ticket", form, strings.NewReader("username=root&realm=pam&password="+pve.DefaultPassword))
	if ok.status != 200 {
		t.Fatalf("login: %d %s", ok.status, ok.raw)
	}
	data := ok.body["data"].(map[string]any)
	ticket, csrf := data["ticket"].(string), data["CSRFPreventionToken"].(string)
	cookie := map[string]string{"Cookie": "PVEAuthCookie=" + url.QueryEscape(ticket)}
	if r := do(t, ts, http.MethodGet, "/api2/json/nodes", cookie, nil); r.status != 200 {
		t.Fatalf("GET with ticket: %d %s", r.status, r.reason)
	}
	start := "/api2/json/nodes/pve02/qemu/105/status/start"
	if r := do(t, ts, http.MethodPost, start, cookie, nil); r.status != 401 || r.reason != "Permission denied - invalid csrf token" {
		t.Fatalf("POST without CSRF: %d %q", r.status, r.reason)
	}
	withCSRF := map[string]string{"Cookie": cookie["Cookie"], "CSRFPreventionToken": csrf}
	r := do(t, ts, http.MethodPost, start, withCSRF, nil)
	if r.status != 200 || !strings.HasPrefix(r.body["data"].(string), "UPID:pve02:") {
		t.Fatalf("POST with CSRF: %d %s", r.status, r.raw)
	}
	// token auth needs no CSRF token
	if r := do(t, ts, http.MethodPost, "/api2/json/nodes/pve02/qemu/105/status/stop", tokenHdr(), nil); r.status != 200 {
		t.Fatalf("POST with token: %d %s", r.status, r.reason)
	}
}

func TestSharedFixture(t *testing.T) {
	_, ts := fixtureServer(t, sharedFixture)
	res := get(t, ts, "/cluster/resources")
	if n := len(list(t, res)); n != 13 {
		t.Fatalf("cluster/resources: %d records, want 13", n)
	}
	cases := []struct {
		path string
		want int
	}{
		{"/cluster/resources?type=vm", 10},
		{"/cluster/resources?type=node", 3},
		{"/cluster/resources?type=storage", 0},
		{"/nodes", 3},
		{"/nodes/pve01/qemu", 2},
		{"/nodes/pve01/lxc", 2},
		{"/nodes/pve03/lxc", 1},
		{"/nodes/pve01/storage/backup/content?content=backup", 5},
		{"/nodes/pve01/storage/backup/content?vmid=103", 2},
		{"/nodes/pve01/storage/backup/content?content=iso", 0},
		{"/nodes/pve01/storage/backup/content?vmid=101", 1},
		{"/nodes/pve03/qemu/106/snapshot", 1},
		{"/nodes/pve02/lxc/109/snapshot", 1},
		{"/nodes/pve01/network", 0},
		{"/nodes/pve01/tasks", 4},
		{"/nodes/pve01/tasks?limit=1", 1},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			if n := len(list(t, get(t, ts, c.path))); n != c.want {
				t.Fatalf("%d entries, want %d", n, c.want)
			}
		})
	}
	tasks := get(t, ts, "/nodes/pve01/tasks?limit=1")
	if tasks.body["total"] != float64(4) {
		t.Fatalf("tasks total = %v", tasks.body["total"])
	}
	cur := get(t, ts, "/nodes/pve02/qemu/105/status/current")
	d := cur.body["data"].(map[string]any)
	if d["status"] != "stopped" || d["agent"] != float64(1) || d["name"] != "gitlab-runner-01" {
		t.Fatalf("derived status/current: %s", cur.raw)
	}
	upid := "UPID:pve01:00000001:00000001:00000001:qmstart:101:root@pam:"
	if st := get(t, ts, "/nodes/pve01/tasks/"+upid+"/status"); st.body["data"].(map[string]any)["exitstatus"] != "OK" {
		t.Fatalf("task status: %s", st.raw)
	}
}

func TestErrors(t *testing.T) {
	_, ts := fixtureServer(t, sharedFixture)
	cases := []struct {
		path   string
		status int
		reason string
		param  string
	}{
		{"/foo", 501, "Method 'GET /foo' not implemented", ""},
		{"/nodes/pve01/bogus", 501, "Method 'GET /nodes/pve01/bogus' not implemented", ""},
		{"/cluster/resources?type=qemu", 400, "Parameter verification failed.", "type"},
		{"/cluster/resources?foo=1", 400, "Parameter verification failed.", "foo"},
		{"/nodes/pve01/storage/backup/content?content=junk", 400, "Parameter verification failed.", "content"},
		{"/nodes/pve01/qemu/abc/config", 400, "Parameter verification failed.", "vmid"},
		{"/nodes/pve01/qemu/999/config", 500, "Configuration file 'nodes/pve01/qemu-server/999.conf' does not exist", ""},
		{"/nodes/pve02/qemu/101/config", 500, "Configuration file 'nodes/pve02/qemu-server/101.conf' does not exist", ""},
		{"/nodes/nope/qemu", 500, "hostname lookup 'nope' failed - failed to get address info for: nope: Name or service not known", ""},
		{"/nodes/pve02/qemu/105/agent/network-get-interfaces", 500, "VM 105 is not running", ""},
		{"/nodes/pve01/qemu/101/agent/network-get-interfaces", 500, "QEMU guest agent is not running", ""},
		{"/nodes/pve01/qemu/102/agent/network-get-interfaces", 500, "Configuration file 'nodes/pve01/qemu-server/102.conf' does not exist", ""},
		{"/nodes/pve01/qemu/101/agent?command=network-get-interfaces", 400, "Parameter verification failed.", "command"},
		{"/nodes/pve01/storage/nope/content", 500, "storage 'nope' does not exist", ""},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			r := get(t, ts, c.path)
			if r.status != c.status || r.reason != c.reason {
				t.Fatalf("got %d %q, want %d %q", r.status, r.reason, c.status, c.reason)
			}
			if _, has := r.body["data"]; !has || r.body["data"] != nil {
				t.Fatalf("error body %q lacks data:null", r.raw)
			}
			if c.param != "" {
				errs, _ := r.body["errors"].(map[string]any)
				if errs[c.param] == nil {
					t.Fatalf("errors %v lack %q", r.body["errors"], c.param)
				}
			}
		})
	}
}

func writeFixture(t *testing.T, path, body string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestFixtureReloadAndRawReplies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pve.json")
	base := time.Unix(1700000000, 0)
	writeFixture(t, path, `{
	 "/api2/json/cluster/resources": {"data": [
	   {"id":"node/n1","type":"node","node":"n1","status":"online"},
	   {"id":"qemu/100","type":"qemu","vmid":100,"name":"a","node":"n1","status":"running","maxmem":1073741824,"maxcpu":1}]},
	 "/api2/json/nodes/n1/qemu/100/config": {"data": {"name":"a","agent":"1","memory":"1024"}},
	 "/api2/json/nodes/n1/qemu/100/agent/network-get-interfaces": {"data": {"result": []}},
	 "/api2/json/version": {"_status": 503, "_body": {"data": null, "message": "down"}},
	 "/api2/json/cluster/resources?type=node": {"data": [{"id":"exact"}]}
	}`, base)
	_, ts := fixtureServer(t, path)
	if r := get(t, ts, "/version"); r.status != 503 || r.body["message"] != "down" {
		t.Fatalf("_status reply: %d %s", r.status, r.raw)
	}
	if l := list(t, get(t, ts, "/cluster/resources?type=node")); l[0]["id"] != "exact" {
		t.Fatalf("exact query key not preferred: %v", l)
	}
	if r := get(t, ts, "/nodes/n1/qemu/100/agent/network-get-interfaces"); r.status != 200 {
		t.Fatalf("agent on running VM: %d %s", r.status, r.reason)
	}
	// stop the VM in the file: the same agent reply now answers 500
	writeFixture(t, path, `{
	 "/api2/json/cluster/resources": {"data": [
	   {"id":"node/n1","type":"node","node":"n1","status":"online"},
	   {"id":"qemu/100","type":"qemu","vmid":100,"name":"renamed","node":"n1","status":"stopped"},
	   {"id":"lxc/101","type":"lxc","vmid":101,"name":"c","node":"n1","status":"running"}]},
	 "/api2/json/nodes/n1/qemu/100/config": {"data": {"name":"renamed","agent":"1"}},
	 "/api2/json/nodes/n1/qemu/100/agent/network-get-interfaces": {"data": {"result": []}}
	}`, base.Add(time.Second))
	if r := get(t, ts, "/nodes/n1/qemu/100/agent/network-get-interfaces"); r.status != 500 || r.reason != "VM 100 is not running" {
		t.Fatalf("after reload: %d %q", r.status, r.reason)
	}
	if l := list(t, get(t, ts, "/nodes/n1/lxc")); len(l) != 1 || l[0]["name"] != "c" {
		t.Fatalf("derived lxc list after reload: %v", l)
	}
	// a broken file keeps the previous data
	writeFixture(t, path, `{broken`, base.Add(2*time.Second))
	if l := list(t, get(t, ts, "/cluster/resources")); len(l) != 3 {
		t.Fatalf("broken reload replaced data: %v", l)
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"not json":     `{`,
		"no envelope":  `{"/api2/json/version": {"release": "8"}}`,
		"bad status":   `{"/api2/json/version": {"_status": 42}}`,
		"bad path":     `{"version": {"data": 1}}`,
		"top is array": `[]`,
	}
	for name, body := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := pve.New(pve.Options{FixturesFile: p}); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := pve.New(pve.Options{Token: "root@pam=secret"}); err == nil {
		t.Error("token without !NAME accepted")
	}
}

func TestUnknownQueryParametersRefusedEverywhere(t *testing.T) {
	_, ts := fixtureServer(t, sharedFixture)
	for _, path := range []string{"/nodes/pve01?bogus=1", "/nodes/pve01/qemu/101?bogus=1", "/nodes/pve01/qemu/101/status?bogus=1", "/nodes/pve01/qemu/101/agent/network-get-interfaces?bogus=1"} {
		if r := get(t, ts, path); r.status != 400 {
			t.Errorf("%s: %d, want 400 like PVE's schema check", path, r.status)
		}
	}
}
