package proxmox

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/proxbox/proxbox/inventory"
)

// malformed is a corpus of replies PVE (or something in front of it) may send.
var malformed = []string{
	``, `null`, `[]`, `{}`, `"x"`, `12`, `{"data":null}`, `{"data":}`, `{"data":[`, `{"foo":[]}`,
	`{"data":[null,1,"x",[],{}]}`, `{"data":{"result":null}}`, `{"data":{"result":"garbage"}}`,
	`{"data":{"result":[{"name":null,"hardware-address":12,"ip-addresses":[{"ip-address":null,"prefix":"x"}]}]}}`,
	`{"data":{"result":[{"ip-addresses":"nope"}]}}`,
	`{"data":[{"type":"cluster","name":null,"version":"3","quorate":"1","nodes":null}]}`,
	`{"data":[{"type":"node","name":"n1","online":"1","nodeid":"1","level":null,"ip":null,"local":true}]}`,
	`{"data":[{"type":"qemu","vmid":"100","node":"n1","maxmem":"1073741824","maxcpu":"2.0","template":null,"status":null,"tags":12}]}`,
	`{"data":[{"type":"qemu","vmid":1e300,"maxmem":-5,"maxdisk":"NaN","maxcpu":"Infinity"}]}`,
	`{"data":{"cores":"x","memory":{"a":1},"net0":12,"rootfs":null,"scsi0":["a"],"agent":true,"tags":null}}`,
	`{"data":[{"iface":null,"type":5,"vlan-id":"x","mtu":"9000","bridge_ports":null,"active":"yes"}]}`,
	`{"data":[{"name":"eth0","hwaddr":"zz","inet":"1.2.3.4/99 nope/24 ::1","inet6":null,"ip-addresses":{"x":1}}]}`,
	`{"data":[{"storage":"local","content":null,"nodes":7,"shared":"1","disable":"0"}]}`,
	"{\"data\":\"\xff\xfe\"}",
}

// decodeAll runs body through every decoder of the package; none may panic.
func decodeAll(body []byte) {
	d, err := envelope(body)
	if err != nil {
		d = body
	}
	r := &reader{c: &Client{base: "x"}, snap: &inventory.Snapshot{}}
	_ = r.clusterStatus(d, "9")
	_ = r.resources(d)
	if cfg, err := decodeConfig(d); err == nil {
		for _, typ := range []inventory.GuestType{inventory.QEMU, inventory.LXC} {
			g := inventory.Guest{Type: typ}
			GuestFromConfig(&g, cfg)
		}
	}
	_, _ = ParseAgentInterfaces(d)
	_, _ = ParseLXCInterfaces(d)
	if l, _, err := decodeList[networkEntry](d, true); err == nil {
		for _, e := range l {
			_ = nodeInterface(e)
		}
	}
	_, _, _ = decodeList[map[string]flexString](d, true)
}

func TestDecodersNeverPanic(t *testing.T) {
	for _, body := range malformed {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("panic on %q: %v", body, r)
				}
			}()
			decodeAll([]byte(body))
		}()
	}
}

func FuzzDecoders(f *testing.F) {
	for _, b := range malformed {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) { decodeAll(b) })
}

func FuzzPropertyStrings(f *testing.F) {
	for _, s := range []string{"virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,tag=10,trunks=1-4094", "local-lvm:vm-1-disk-0,size=1e99T", ",,=,=x,size=", "current=x", "mp=/x,size=-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseQEMUNIC("net0", s)
		_, _ = ParseLXCNIC("net0", s)
		_, _ = ParseDisk("scsi0", s)
		_, _ = ParseDisk("mp0", s)
		_, _ = ParseSizeMB(s)
		_ = ParseTags(s)
		_ = AgentEnabled(s)
		_, _ = parseMemoryMB(s)
		_ = NormalizeMAC(s)
	})
}

func TestTolerantScalars(t *testing.T) {
	d := []byte(`[{"type":"node","name":"n1","online":"0","nodeid":"2"},{"type":"node","name":"n2","online":null},{"type":"node","name":"n3","online":true}]`)
	r := &reader{c: &Client{}, snap: &inventory.Snapshot{}}
	if err := r.clusterStatus(d, ""); err != nil {
		t.Fatal(err)
	}
	n := r.snap.Nodes
	if !r.snap.Cluster.Standalone || r.snap.Cluster.Name != "n1" || n[0].Online || n[0].NodeID != 2 || !n[1].Online || !n[2].Online {
		t.Errorf("got %+v %+v", r.snap.Cluster, n)
	}
	d = []byte(`[{"type":"qemu","vmid":"100","node":"n1","maxmem":"1073741824","maxcpu":"2.0","template":"1","tags":"a;b"},
		{"type":"lxc","id":"lxc/101","node":"n1","status":"running"},{"type":"qemu","node":"n1"},"junk",{"type":"storage","storage":"x"}]`)
	if err := r.resources(d); err != nil {
		t.Fatal(err)
	}
	g := r.snap.Guests
	if len(g) != 2 || g[0].VMID != 100 || g[0].MemoryMB != 1024 || g[0].VCPUs != 2 || !g[0].Template || g[0].Status != "unknown" || len(g[0].Tags) != 2 ||
		g[1].VMID != 101 || g[1].Type != inventory.LXC {
		t.Errorf("guests %+v", g)
	}
	if len(r.errs) != 2 {
		t.Errorf("want 2 errors (no vmid, not an object): %+v", r.errs)
	}
}

// rawPVE answers fixed bodies per path (no auth), so replies can be byte-exact garbage.
type rawPVE map[string]struct {
	status int
	body   string
}

func (m rawPVE) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rel := strings.TrimPrefix(r.URL.Path, "/api2/json")
	e, ok := m[rel]
	if !ok {
		e.status, e.body = 501, `{"data":null}`
	}
	w.WriteHeader(e.status)
	_, _ = w.Write([]byte(e.body))
}

func TestReadMalformedReplies(t *testing.T) {
	okStatus := `{"data":[{"type":"cluster","name":"c","version":"2","quorate":1},{"type":"node","name":"n1","online":1,"level":null}]}`
	okRes := `{"data":[{"type":"qemu","vmid":100,"node":"n1","status":"running"},{"type":"lxc","vmid":"101","node":"n1","status":"running"}]}`
	tests := []struct {
		name    string
		routes  rawPVE
		fatal   error
		errs    []string // objects expected in Snapshot.Errors
		guests  int
		warning string
	}{
		{"null in cluster status (go-proxmox Cluster panics on this)", rawPVE{"/cluster/status": {200, okStatus}, "/cluster/resources": {200, okRes},
			"/nodes/n1/qemu/100/config":                       {200, `{"data":{"cores":"2","memory":null,"agent":"1","net0":"virtio=BC:24:11:00:00:01,bridge=vmbr0"}}`},
			"/nodes/n1/qemu/100/agent/network-get-interfaces": {200, `{"data":{"result":[{"name":"eth0","hardware-address":"bc:24:11:00:00:01","ip-addresses":[{"ip-address":"10.0.0.1","prefix":"24"}]}]}}`},
			"/nodes/n1/lxc/101/config":                        {200, `{"data":{"cores":2,"memory":"512"}}`}, "/nodes/n1/lxc/101/interfaces": {200, `{"data":null}`}}, nil, nil, 2, ""},
		{"wrong envelope", rawPVE{"/cluster/status": {200, `{"foo":[]}`}, "/cluster/resources": {200, okRes}}, ErrMalformed, []string{"cluster"}, 0, ""},
		{"not an object", rawPVE{"/cluster/status": {200, `[]`}, "/cluster/resources": {200, okRes}}, ErrMalformed, []string{"cluster"}, 0, ""},
		{"null status", rawPVE{"/cluster/status": {200, `{"data":null}`}, "/cluster/resources": {200, okRes}}, ErrMalformed, []string{"cluster"}, 0, ""},
		{"object instead of list", rawPVE{"/cluster/status": {200, `{"data":{"type":"cluster"}}`}, "/cluster/resources": {200, okRes}}, ErrMalformed, []string{"cluster"}, 0, ""},
		{"truncated resources", rawPVE{"/cluster/status": {200, okStatus}, "/cluster/resources": {200, `{"data":[{"type":`}}, ErrMalformed, []string{"cluster"}, 0, ""},
		{"empty body", rawPVE{"/cluster/status": {200, okStatus}, "/cluster/resources": {200, ``}}, ErrMalformed, []string{"cluster"}, 0, ""},
		{"404 with empty body", rawPVE{"/cluster/status": {200, okStatus}, "/cluster/resources": {404, ``}}, ErrNotFound, []string{"cluster"}, 0, ""},
		{"502 after retries", rawPVE{"/cluster/status": {502, `<html>bad gateway</html>`}, "/cluster/resources": {200, okRes}}, ErrServer, []string{"cluster"}, 0, ""},
		{"403", rawPVE{"/cluster/status": {403, `{"data":null}`}, "/cluster/resources": {200, okRes}}, ErrForbidden, []string{"cluster"}, 0, ""},
		{"bad configs continue", rawPVE{"/cluster/status": {200, okStatus}, "/cluster/resources": {200, okRes},
			"/nodes/n1/qemu/100/config": {200, `{"data":null}`}, "/nodes/n1/lxc/101/config": {200, `{"data":{"cores":{"x":1},"net0":12,"rootfs":null}}`},
			"/nodes/n1/lxc/101/interfaces": {200, `{"data":"nope"}`}}, nil, []string{"qemu/100"}, 2, "LXC interfaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := httptest.NewServer(tt.routes)
			defer hs.Close()
			c := mustNew(t, Config{BaseURL: hs.URL, TokenID: "a@pam!b", TokenSecret: "s", Retries: 2})
			snap, err := c.Read(context.Background(), inventory.Endpoint{Name: "raw"}, ReadOptions{GuestAgent: true})
			if tt.fatal != nil {
				if !errors.Is(err, tt.fatal) {
					t.Fatalf("err = %v, want %v", err, tt.fatal)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			var objs []string
			for _, p := range snap.Errors {
				objs = append(objs, p.Object)
			}
			if strings.Join(objs, ",") != strings.Join(tt.errs, ",") {
				t.Errorf("errors %+v, want objects %v", snap.Errors, tt.errs)
			}
			if len(snap.Guests) != tt.guests {
				t.Errorf("%d guests, want %d", len(snap.Guests), tt.guests)
			}
			if tt.warning != "" && !hasProblem(snap.Warnings, "lxc/101", tt.warning) {
				t.Errorf("warnings %+v", snap.Warnings)
			}
		})
	}
}
