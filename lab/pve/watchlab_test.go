package pve_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLabMutate drives every mutation kind over POST /_lab/mutate and checks
// the cluster changed and /cluster/tasks lists the task PVE would log.
func TestLabMutate(t *testing.T) {
	_, ts := genServer(t, 20, 7)
	res := list(t, get(t, ts, "/cluster/resources?type=vm"))
	var vmid, lxc string
	var node string
	for _, r := range res {
		if r["type"] == "qemu" && vmid == "" && r["template"] != float64(1) {
			vmid, node = itoa(uint64(r["vmid"].(float64))), r["node"].(string)
		}
		if r["type"] == "lxc" && lxc == "" {
			lxc = itoa(uint64(r["vmid"].(float64)))
		}
	}
	nodes := list(t, get(t, ts, "/nodes"))
	other := ""
	for _, n := range nodes {
		if n["node"] != node {
			other = n["node"].(string)
		}
	}
	cases := []struct {
		body, task, id string
		check          func(t *testing.T)
	}{
		{`{"vmid":` + vmid + `,"memory":3072}`, "qmset", vmid, func(t *testing.T) {
			if g := guestRow(t, ts, vmid); g["maxmem"] != float64(3072<<20) {
				t.Errorf("maxmem = %v", g["maxmem"])
			}
		}},
		{`{"vmid":` + lxc + `,"name":"ct-renamed"}`, "vzset", lxc, func(t *testing.T) {
			if g := guestRow(t, ts, lxc); g["name"] != "ct-renamed" {
				t.Errorf("name = %v", g["name"])
			}
		}},
		{`{"vmid":` + vmid + `,"node":"` + other + `"}`, "qmigrate", vmid, func(t *testing.T) {
			if g := guestRow(t, ts, vmid); g["node"] != other {
				t.Errorf("node = %v", g["node"])
			}
		}},
		{`{"vmid":` + vmid + `,"snapshot":"before-upgrade"}`, "qmsnapshot", vmid, func(t *testing.T) {
			snaps := list(t, get(t, ts, "/nodes/"+other+"/qemu/"+vmid+"/snapshot"))
			if !strings.Contains(jsonOf(snaps), "before-upgrade") {
				t.Errorf("snapshot missing: %v", snaps)
			}
		}},
		{`{"vmid":` + vmid + `,"backup":true}`, "vzdump", vmid, func(t *testing.T) {}},
		{`{"create":{"vmid":150,"type":"qemu","node":"` + node + `"}}`, "qmcreate", "150", func(t *testing.T) {
			if g := guestRow(t, ts, "150"); g == nil || g["status"] != "stopped" {
				t.Errorf("created guest = %v", g)
			}
			if r := get(t, ts, "/nodes/"+node+"/qemu/150/config"); r.status != 200 {
				t.Errorf("config of created guest: %d", r.status)
			}
		}},
		{`{"vmid":150,"destroy":true}`, "qmdestroy", "150", func(t *testing.T) {
			if g := guestRow(t, ts, "150"); g != nil {
				t.Errorf("destroyed guest still listed: %v", g)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.task, func(t *testing.T) {
			r := do(t, ts, http.MethodPost, "/_lab/mutate", tokenHdr(), strings.NewReader(c.body))
			if r.status != 200 {
				t.Fatalf("mutate %s: %d %s", c.body, r.status, r.reason)
			}
			upid, _ := r.body["data"].(string)
			tasks := list(t, get(t, ts, "/cluster/tasks"))
			if len(tasks) == 0 || tasks[0]["upid"] != upid || tasks[0]["type"] != c.task || tasks[0]["id"] != c.id || tasks[0]["status"] != "OK" {
				t.Fatalf("newest cluster task = %v, want %s of %s with upid %s", tasks[0], c.task, c.id, upid)
			}
			if !strings.HasPrefix(upid, "UPID:") || !strings.Contains(upid, ":"+c.task+":"+c.id+":") {
				t.Errorf("upid %q not in PVE's format", upid)
			}
			if tasks[0]["starttime"] == nil || tasks[0]["endtime"] == nil {
				t.Errorf("task without starttime/endtime: %v", tasks[0])
			}
			c.check(t)
		})
	}
	// refused: no token, unknown guest, two changes at once, unknown field
	if r := do(t, ts, http.MethodPost, "/_lab/mutate", nil, strings.NewReader(`{"vmid":`+vmid+`,"memory":1024}`)); r.status != 401 {
		t.Errorf("without token: %d", r.status)
	}
	for _, body := range []string{`{"vmid":99999,"memory":1024}`, `{"vmid":` + vmid + `,"memory":1024,"name":"x"}`, `{"vmid":` + vmid + `,"colour":"red"}`} {
		if r := do(t, ts, http.MethodPost, "/_lab/mutate", tokenHdr(), strings.NewReader(body)); r.status != 400 {
			t.Errorf("%s: %d, want 400", body, r.status)
		}
	}
}

func guestRow(t *testing.T, ts *httptest.Server, vmid string) map[string]any {
	t.Helper()
	for _, r := range list(t, get(t, ts, "/cluster/resources?type=vm")) {
		if itoa(uint64(r["vmid"].(float64))) == vmid {
			return r
		}
	}
	return nil
}

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }
