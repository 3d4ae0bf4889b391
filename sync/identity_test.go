package sync

import (
	"strings"
	"testing"

	"github.com/proxbox/proxbox/inventory"
)

func TestEndpointLabel(t *testing.T) {
	for _, tc := range []struct {
		ep   inventory.Endpoint
		want string
	}{
		{inventory.Endpoint{ID: 1, Name: "PVE (nb:3)", Key: "PVE (nb:3)"}, "nb:3"},
		{inventory.Endpoint{ID: 1, Name: "renamed", Key: "alpha"}, "alpha"},
		{inventory.Endpoint{ID: 1, Name: " prod ", Host: "10.0.0.1"}, "prod"},
		{inventory.Endpoint{ID: 1, Host: "10.0.0.1:8006"}, "10.0.0.1:8006"},
		{inventory.Endpoint{ID: 4}, "endpoint-4"},
	} {
		if got := EndpointLabel(tc.ep); got != tc.want {
			t.Errorf("EndpointLabel(%+v) = %q, want %q", tc.ep, got, tc.want)
		}
	}
}

func TestInlineEndpoint(t *testing.T) {
	for _, tc := range []struct {
		url, name, label, host string
	}{
		{"https://127.0.0.1:18471", "", "127.0.0.1:18471", "127.0.0.1:18471"},
		{"https://pve1.example.com", "", "pve1.example.com:8006", "pve1.example.com:8006"},
		{"https://[fd00::1]:8006/", "", "[fd00::1]:8006", "[fd00::1]:8006"},
		{"https://127.0.0.1:18472", " lab-beta ", "lab-beta", "127.0.0.1:18472"},
	} {
		ep, err := InlineEndpoint(2, tc.url, tc.name)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if got := EndpointLabel(ep); got != tc.label || ep.Host != tc.host {
			t.Errorf("%s %q: label %q host %q, want %q %q", tc.url, tc.name, got, ep.Host, tc.label, tc.host)
		}
	}
	if _, err := InlineEndpoint(1, "pve1:8006", ""); err == nil {
		t.Error("a URL without scheme and host was accepted")
	}
}

func TestProxmoxAndRecordedIdentity(t *testing.T) {
	if got := ProxmoxIdentity(&inventory.Snapshot{Cluster: inventory.Cluster{Name: "prod"}}); got != "cluster:prod" {
		t.Errorf("cluster: %q", got)
	}
	if got := ProxmoxIdentity(&inventory.Snapshot{Cluster: inventory.Cluster{Name: "pve", Standalone: true}}); got != "node:pve" {
		t.Errorf("standalone: %q", got)
	}
	if got := ProxmoxIdentity(&inventory.Snapshot{}); got != "" {
		t.Errorf("nameless: %q", got)
	}
	cl := func(name, label, typ, rec string) map[string]any {
		return map[string]any{"name": name, "type": map[string]any{"slug": typ},
			"custom_fields": map[string]any{CFEndpoint: label, CFPVECluster: rec}}
	}
	for _, tc := range []struct {
		c        map[string]any
		want     string
		recorded bool
	}{
		{cl("x", "a", "cluster", "cluster:prod"), "cluster:prod", true},
		{cl("prod", "10.0.0.1", "cluster", ""), "cluster:prod", false},
		{cl("prod (10.0.0.1)", "10.0.0.1", "cluster", ""), "cluster:prod", false}, // fallback name
		{cl("pve (10.0.0.1)", "10.0.0.1", "standalone", ""), "node:pve", false},
		{cl("pve (10.0.0.1) [3]", "10.0.0.1", "standalone", ""), "node:pve", false},
		{cl("pve", "", "standalone", ""), "", false}, // not ours
	} {
		got, rec := recordedIdentity(tc.c)
		if got != tc.want || rec != tc.recorded {
			t.Errorf("recordedIdentity(%v) = %q %v, want %q %v", tc.c["name"], got, rec, tc.want, tc.recorded)
		}
	}
}

// claimRun is a run whose current clusters are given (id -> name, label,
// recorded identity); a name with " (" is a standalone node's.
func claimRun(clusters map[int64][3]string) *run {
	r := &run{cur: map[string]map[int64]map[string]any{ModelCluster: {}}, keys: map[string]map[int64]string{}}
	for id, c := range clusters {
		typ := "cluster"
		if strings.Contains(c[0], " (") {
			typ = "standalone"
		}
		r.cur[ModelCluster][id] = map[string]any{"id": float64(id), "name": c[0], "type": map[string]any{"slug": typ},
			"custom_fields": map[string]any{CFEndpoint: c[1], CFPVECluster: c[2]}}
	}
	return r
}

func snapOf(name string, standalone bool) *inventory.Snapshot {
	return &inventory.Snapshot{Cluster: inventory.Cluster{Name: name, Standalone: standalone}}
}

// nodesAt gives s nodes "name@ip" ("name" alone: no address known).
func nodesAt(s *inventory.Snapshot, nodes ...string) *inventory.Snapshot {
	for _, n := range nodes {
		name, ip, _ := strings.Cut(n, "@")
		s.Nodes = append(s.Nodes, inventory.Node{Name: name, IP: ip})
	}
	return s
}

func TestClaimClusters(t *testing.T) {
	ep := func(id int64, name, host string) inventory.Endpoint {
		return inventory.Endpoint{ID: id, Name: name, Key: name, Host: host}
	}
	type want struct {
		refuse string // substring; "" accepted
		adopt  int64
		warn   string // substring; "" none
	}
	for _, tc := range []struct {
		name     string
		clusters map[int64][3]string
		eps      []inventory.Endpoint
		snaps    []*inventory.Snapshot
		reserved []string
		want     []want
	}{
		{
			name:  "same label twice: both refused, the third syncs",
			eps:   []inventory.Endpoint{ep(1, "a", "h:1"), ep(2, "a", "h:2"), ep(3, "b", "h:3")},
			snaps: []*inventory.Snapshot{nil, nil, snapOf("beta", false)},
			want:  []want{{refuse: `#1 a (h:1) has the same label "a" as #2 a (h:2)`}, {refuse: `#2 a (h:2) has the same label "a" as #1 a (h:1)`}, {}},
		},
		{
			name:     "own cluster recorded for another Proxmox: refused",
			clusters: map[int64][3]string{5: {"alpha", "a", "cluster:alpha"}},
			eps:      []inventory.Endpoint{ep(1, "a", "h:1")},
			snaps:    []*inventory.Snapshot{snapOf("beta", false)},
			want:     []want{{refuse: "answers as Proxmox cluster:beta, but its NetBox cluster \"alpha\" (#5) was recorded for cluster:alpha"}},
		},
		{
			name:     "own cluster, same identity: accepted, nothing adopted",
			clusters: map[int64][3]string{5: {"alpha", "a", "cluster:alpha"}, 6: {"alpha (x)", "x", "cluster:alpha"}},
			eps:      []inventory.Endpoint{ep(1, "a", "h:1")},
			snaps:    []*inventory.Snapshot{snapOf("alpha", false)},
			want:     []want{{}},
		},
		{
			name:     "legacy bare-host label preferred over another unclaimed cluster of the same identity",
			clusters: map[int64][3]string{5: {"pve (10.0.0.9)", "10.0.0.9", "node:pve"}, 6: {"pve (10.0.0.1)", "10.0.0.1", ""}},
			eps:      []inventory.Endpoint{ep(1, "10.0.0.1:8006", "10.0.0.1:8006")},
			snaps:    []*inventory.Snapshot{snapOf("pve", true)},
			want:     []want{{adopt: 6}},
		},
		{
			name:     "renamed endpoint adopts the one cluster recorded for its Proxmox",
			clusters: map[int64][3]string{5: {"alpha", "old-key", "cluster:alpha"}, 7: {"beta", "b", "cluster:beta"}},
			eps:      []inventory.Endpoint{ep(1, "new-key", "h:1"), ep(2, "b", "h:2")},
			snaps:    []*inventory.Snapshot{snapOf("alpha", false), snapOf("beta", false)},
			want:     []want{{adopt: 5}, {}},
		},
		{
			name:     "a cluster another endpoint of the run (or a reserved one) owns is never adopted",
			clusters: map[int64][3]string{5: {"alpha", "a", "cluster:alpha"}, 6: {"alpha (r)", "r", "cluster:alpha"}},
			eps:      []inventory.Endpoint{ep(1, "a", "h:1"), ep(2, "n", "h:2")},
			snaps:    []*inventory.Snapshot{snapOf("alpha", false), snapOf("alpha", false)},
			reserved: []string{"r"},
			want:     []want{{}, {}},
		},
		{
			name:     "one cluster claimed by two new endpoints: both refused",
			clusters: map[int64][3]string{5: {"alpha", "gone", "cluster:alpha"}},
			eps:      []inventory.Endpoint{ep(1, "n1", "h:1"), ep(2, "n2", "h:2")},
			snaps:    []*inventory.Snapshot{snapOf("alpha", false), snapOf("alpha", false)},
			want:     []want{{refuse: "claimed by endpoints n1 and n2"}, {refuse: "claimed by endpoints n1 and n2"}},
		},
		{
			name:     "two unclaimed clusters of the same identity: refused rather than guessed",
			clusters: map[int64][3]string{5: {"pve (x)", "x", "node:pve"}, 6: {"pve (y)", "y", "node:pve"}},
			eps:      []inventory.Endpoint{ep(1, "n1", "h:1")},
			snaps:    []*inventory.Snapshot{snapOf("pve", true)},
			want:     []want{{refuse: "2 clusters of ours were recorded for Proxmox node:pve"}},
		},
		{
			name:     "a standalone node never adopts a cluster of the same name",
			clusters: map[int64][3]string{5: {"pve", "gone", "cluster:pve"}},
			eps:      []inventory.Endpoint{ep(1, "n1", "h:1")},
			snaps:    []*inventory.Snapshot{snapOf("pve", true)},
			want:     []want{{}},
		},
		{
			name: "two endpoints answering as one cluster (same nodes, same addresses): the second is warned, both sync",
			eps:  []inventory.Endpoint{ep(1, "a", "h:1"), ep(2, "b", "h:2"), ep(3, "c", "h:3")},
			snaps: []*inventory.Snapshot{nodesAt(snapOf("prod", false), "n1@10.0.0.1", "n2@10.0.0.2"),
				nodesAt(snapOf("prod", false), "n2@10.0.0.2", "n1@10.0.0.1"), nodesAt(snapOf("lab", false), "n1@10.0.0.1")},
			want: []want{{}, {warn: `answers as the same Proxmox as endpoint "a" (cluster:prod, nodes n1@10.0.0.1,n2@10.0.0.2)`}, {}},
		},
		{
			name: "same cluster and node names at other addresses, or no address known: no warning",
			eps:  []inventory.Endpoint{ep(1, "a", "h:1"), ep(2, "b", "h:2"), ep(3, "c", "h:3"), ep(4, "d", "h:4")},
			snaps: []*inventory.Snapshot{nodesAt(snapOf("prod", false), "n1@10.0.0.1"), nodesAt(snapOf("prod", false), "n1@10.9.0.1"),
				nodesAt(snapOf("pve", true), "pve"), nodesAt(snapOf("pve", true), "pve")},
			want: []want{{}, {}, {}, {}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			labels := make([]string, len(tc.eps))
			for i, e := range tc.eps {
				labels[i] = EndpointLabel(e)
			}
			got := claimClusters(claimRun(tc.clusters), tc.eps, labels, tc.snaps, tc.reserved)
			for i, w := range tc.want {
				g := got[i]
				if (w.refuse == "") != (g.refuse == "") || !strings.Contains(g.refuse, w.refuse) || g.adopt != w.adopt {
					t.Errorf("endpoint %d: refuse %q adopt %d; want refuse containing %q, adopt %d", i, g.refuse, g.adopt, w.refuse, w.adopt)
				}
				if (w.warn == "") != (g.warn == "") || !strings.Contains(g.warn, w.warn) {
					t.Errorf("endpoint %d: warn %q, want one containing %q", i, g.warn, w.warn)
				}
				if g.refuse != "" && g.adopt != 0 {
					t.Errorf("endpoint %d refused and adopting", i)
				}
			}
		})
	}
}
