package pve

import (
	"strconv"
	"testing"
)

// Guest addresses never repeat inside one cluster (a 100,000-guest lab's vmids stay below
// 64,250) and differ between clusters unless the lab shares one range.
func TestGuestIPsUnique(t *testing.T) {
	seen := map[string]string{}
	for ci := range 3 {
		g := &gen{net: 10 + ci}
		for vmid := 100; vmid < 64250; vmid++ {
			for nic := range 2 {
				ip := g.guestIP(vmid, nic)
				if prev, dup := seen[ip]; dup {
					t.Fatalf("%s given twice: %s and cluster %d vmid %d nic %d", ip, prev, ci, vmid, nic)
				}
				seen[ip] = "cluster " + itoaInt(ci) + " vmid " + itoaInt(vmid)
			}
		}
	}
	shared := GenerateWith(30, 1, GenOptions{SharedRange: true})
	own := Generate(30, 1)
	if len(shared.Clusters) < 2 {
		t.Fatalf("%d clusters", len(shared.Clusters))
	}
	// The second cluster's first node: 10.10.0.11 when shared, 10.11.0.11 otherwise.
	if ip := nodeIPOf(t, shared.Clusters[1]); ip != "10.10.0.11" {
		t.Fatalf("shared range: node address %s", ip)
	}
	if ip := nodeIPOf(t, own.Clusters[1]); ip != "10.11.0.11" {
		t.Fatalf("own range: node address %s", ip)
	}
}

func itoaInt(i int) string { return strconv.Itoa(i) }

func nodeIPOf(t *testing.T, c *Cluster) string {
	t.Helper()
	for _, e := range c.routes["/cluster/status"].([]any) {
		m := e.(map[string]any)
		if m["type"] == "node" {
			return m["ip"].(string)
		}
	}
	t.Fatalf("%s: no node in /cluster/status", c.Name)
	return ""
}
