package sync

import (
	"testing"

	"github.com/proxbox/proxbox/inventory"
)

func TestMapPluginRows(t *testing.T) {
	tests := []struct {
		name        string
		snap        inventory.Snapshot
		endpoint    int64
		wantCluster string // plugin cluster row name; "" none
		wantMode    string
		wantNodes   []string
	}{
		{"cluster", inventory.Snapshot{Cluster: inventory.Cluster{Name: "prod", Quorate: true, Version: 4},
			Nodes: []inventory.Node{{Name: "a", IP: "10.0.0.1", Online: true, NodeID: 1}, {Name: "b", IP: "10.0.0.2"}}}, 3, "prod", "cluster", []string{"a", "b"}},
		// A standalone node's row is named after the node, as /proxmox/cluster/status names it.
		{"standalone", inventory.Snapshot{Cluster: inventory.Cluster{Name: "pve", Standalone: true},
			Nodes: []inventory.Node{{Name: "pve", IP: "10.0.0.9"}}}, 3, "pve", "standalone", []string{"pve"}},
		// ip_address is required by the plugin's model: a node without one is left to the plugin.
		{"node without ip", inventory.Snapshot{Cluster: inventory.Cluster{Name: "prod"}, Nodes: []inventory.Node{{Name: "a"}}}, 3, "prod", "cluster", nil},
		{"no plugin endpoint row", inventory.Snapshot{Cluster: inventory.Cluster{Name: "prod"}, Nodes: []inventory.Node{{Name: "a", IP: "10.0.0.1"}}}, 0, "", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDesired()
			d.Cluster = "nb:3"
			mapPluginRows(d, &tc.snap, pluginCtx{endpoint: tc.endpoint})
			cls := d.Objects(ModelPluginCluster)
			if tc.wantCluster == "" {
				if len(cls) != 0 || len(d.Objects(ModelPluginNode)) != 0 {
					t.Fatalf("rows without a plugin endpoint: %d", len(cls))
				}
				return
			}
			if len(cls) != 1 || cls[0].Fields.Get("name") != tc.wantCluster || cls[0].Fields.Get("mode") != tc.wantMode || cls[0].Fields.Get("endpoint") != tc.endpoint {
				t.Fatalf("cluster row: %+v", cls)
			}
			if r := cls[0].Refs.Get("netbox_cluster"); r.Model != ModelCluster || r.Key != "nb:3" {
				t.Fatalf("netbox_cluster ref: %+v", r)
			}
			// Only the links are diffed: the plugin's preflight owns the rest.
			for _, f := range []string{"mode", "nodes_count", "quorate", "version", "cluster_id"} {
				if !cls[0].CreateOnly[f] {
					t.Errorf("cluster field %s is diffed", f)
				}
			}
			nodes := d.Objects(ModelPluginNode)
			if len(nodes) != len(tc.wantNodes) {
				t.Fatalf("node rows: %d, want %v", len(nodes), tc.wantNodes)
			}
			for i, n := range nodes {
				if n.Fields.Get("name") != tc.wantNodes[i] || n.Refs.Get("proxmox_cluster").Key != cls[0].Key ||
					n.Refs.Get("netbox_device").Key != deviceKey("nb:3", tc.wantNodes[i]) || !n.Optional["netbox_device"] || !n.CreateOnly["ip_address"] {
					t.Errorf("node row %d: %+v", i, n)
				}
			}
		})
	}
}
