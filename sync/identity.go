package sync

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/proxbox/proxbox/inventory"
)

// InlineEndpoint is the endpoint of a Proxmox URL given on the command line
// (proxbox sync --pve-url): its label is name (--pve-name) when given, else
// host:port of the URL (port 8006 when the URL has none), so that several
// endpoints behind one address never share a label. Host is host:port too.
func InlineEndpoint(id int64, rawURL, name string) (inventory.Endpoint, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return inventory.Endpoint{}, fmt.Errorf("bad Proxmox URL %q: want https://host:8006", rawURL)
	}
	port := u.Port()
	if port == "" {
		port = "8006"
	}
	hp := net.JoinHostPort(u.Hostname(), port)
	key := strings.TrimSpace(name)
	if key == "" {
		key = hp
	}
	return inventory.Endpoint{ID: id, Name: key, Key: key, Host: hp}, nil
}

// ProxmoxIdentity is what a Proxmox endpoint says it is: "cluster:<name>" for
// a PVE cluster, "node:<name>" for a standalone node, "" when the snapshot
// names neither. The engine records it on the endpoint's NetBox cluster
// (custom field proxmox_cluster) and checks it on every run.
func ProxmoxIdentity(s *inventory.Snapshot) string {
	name := strings.TrimSpace(s.Cluster.Name)
	if name == "" && len(s.Nodes) > 0 {
		name = s.Nodes[0].Name
	}
	switch {
	case name == "":
		return ""
	case s.Cluster.Standalone:
		return "node:" + name
	}
	return "cluster:" + name
}

// recordedIdentity is the Proxmox identity a NetBox cluster of ours was
// written for: the proxmox_cluster custom field, or, for clusters written
// before it existed (legacy), what their name and type tell: "<node>
// (<label>)" (optionally followed by " [<id>]") is a standalone node's (or,
// with cluster type "cluster", a PVE cluster's fallback name), any other
// name is a PVE cluster's. recorded is false for a derived identity.
func recordedIdentity(c map[string]any) (id string, recorded bool) {
	if s := strings.TrimSpace(cfString(c, CFPVECluster)); s != "" {
		return s, true
	}
	label := cfString(c, CFEndpoint)
	name, _ := c["name"].(string)
	if label == "" || name == "" {
		return "", false
	}
	typ := ""
	if t, ok := c["type"].(map[string]any); ok {
		typ, _ = t["slug"].(string)
	}
	base := name
	if i := strings.LastIndex(base, " ["); i > 0 && strings.HasSuffix(base, "]") {
		base = base[:i]
	}
	if b, ok := strings.CutSuffix(base, " ("+label+")"); ok && b != "" {
		if typ == clusterTypeSlug(false) {
			return "cluster:" + b, false
		}
		return "node:" + b, false
	}
	return "cluster:" + name, false
}

// claim is what the engine decided for one target before anything is written.
type claim struct {
	label  string
	refuse string // why the endpoint is refused; "" when it syncs
	warn   string // what the operator should know (the endpoint still syncs)
	adopt  int64  // NetBox cluster to re-label to this endpoint's label; 0 none
	from   string // that cluster's label before
}

// claimClusters gives every target its NetBox cluster (see the package doc,
// "Endpoint identity"). labels are the targets' labels and snaps their
// snapshots (nil: not read). Our clusters must be loaded in r.
func claimClusters(r *run, eps []inventory.Endpoint, labels []string, snaps []*inventory.Snapshot, reserved []string) []claim {
	out := make([]claim, len(labels))
	taken := map[string]bool{} // labels that belong to an endpoint: not adoptable
	count := map[string]int{}
	for i, l := range labels {
		out[i].label = l
		taken[l] = true
		count[l]++
	}
	for _, l := range reserved {
		taken[strings.TrimSpace(l)] = true
	}
	for i, l := range labels {
		if count[l] > 1 {
			var others []string
			for j, m := range labels {
				if m == l && j != i {
					others = append(others, describeEndpoint(eps[j]))
				}
			}
			out[i].refuse = fmt.Sprintf("%s has the same label %q as %s: refused, nothing written; give each endpoint its own name (--pve-name for inline endpoints)",
				describeEndpoint(eps[i]), l, strings.Join(others, ", "))
		}
	}
	// Our clusters by label, lowest id first.
	ids := make([]int64, 0, len(r.cur[ModelCluster]))
	for id, c := range r.cur[ModelCluster] {
		if cfString(c, CFEndpoint) != "" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	byLabel := map[string]int64{}
	for _, id := range ids {
		l := cfString(r.cur[ModelCluster][id], CFEndpoint)
		if _, dup := byLabel[l]; !dup {
			byLabel[l] = id
		}
	}
	adopters := map[int64][]int{}
	for i, snap := range snaps {
		if snap == nil || out[i].refuse != "" {
			continue
		}
		label := labels[i]
		want := ProxmoxIdentity(snap)
		if id, ok := byLabel[label]; ok {
			c := r.cur[ModelCluster][id]
			if rec, recorded := recordedIdentity(c); recorded && want != "" && rec != want {
				out[i].refuse = fmt.Sprintf("answers as Proxmox %s, but its NetBox cluster %q (#%d) was recorded for %s: refused, nothing written (another Proxmox behind the same address?); if this is intended, set the custom field %s of that cluster to %q",
					want, c["name"], id, rec, CFPVECluster, want)
			}
			continue
		}
		if want == "" {
			continue
		}
		legacy := legacyLabels(eps[i], label)
		var cands, preferred []int64
		for _, id := range ids {
			c := r.cur[ModelCluster][id]
			l := cfString(c, CFEndpoint)
			if taken[l] || byLabel[l] != id {
				continue
			}
			if rec, _ := recordedIdentity(c); rec != want {
				continue
			}
			cands = append(cands, id)
			if slices.Contains(legacy, l) {
				preferred = append(preferred, id)
			}
		}
		pick := preferred
		if len(pick) == 0 {
			pick = cands
		}
		switch {
		case len(pick) == 1:
			adopters[pick[0]] = append(adopters[pick[0]], i)
		case len(pick) > 1:
			var names []string
			for _, id := range pick {
				names = append(names, fmt.Sprintf("%q (#%d, endpoint %q)", r.cur[ModelCluster][id]["name"], id, cfString(r.cur[ModelCluster][id], CFEndpoint)))
			}
			out[i].refuse = fmt.Sprintf("no NetBox cluster is labelled %q yet and %d clusters of ours were recorded for Proxmox %s: %s; refused rather than guessed, nothing written; set the custom field %s of the one that is this endpoint's to %q",
				label, len(pick), want, strings.Join(names, ", "), CFEndpoint, label)
		}
	}
	warnSameProxmox(out, labels, snaps)
	for id, who := range adopters {
		c := r.cur[ModelCluster][id]
		if len(who) == 1 {
			out[who[0]].adopt, out[who[0]].from = id, cfString(c, CFEndpoint)
			continue
		}
		var names []string
		for _, i := range who {
			names = append(names, labels[i])
		}
		for _, i := range who {
			out[i].refuse = fmt.Sprintf("NetBox cluster %q (#%d, endpoint %q) is claimed by endpoints %s, all answering as Proxmox %s: refused, nothing written; set the custom field %s of that cluster to the label of the endpoint it belongs to",
				c["name"], id, cfString(c, CFEndpoint), strings.Join(names, " and "), ProxmoxIdentity(snaps[i]), CFEndpoint)
		}
	}
	return out
}

// warnSameProxmox warns on every endpoint that answers as the same Proxmox as an
// earlier one of the run: the same identity and the same nodes at the same
// addresses (at least one known). Each gets its own NetBox cluster, so that
// cluster's guests land in NetBox twice and their IP addresses clash. Only a
// warning: two sites may reuse a cluster name, node names and private
// addresses, and which endpoint to keep is the operator's call.
func warnSameProxmox(out []claim, labels []string, snaps []*inventory.Snapshot) {
	first := map[string]int{}
	for i, snap := range snaps {
		if snap == nil || out[i].refuse != "" {
			continue
		}
		fp := proxmoxFingerprint(snap)
		if fp == "" {
			continue
		}
		j, seen := first[fp]
		if !seen {
			first[fp] = i
			continue
		}
		out[i].warn = fmt.Sprintf("answers as the same Proxmox as endpoint %q (%s, nodes %s): if both reach one cluster, its guests are written twice, once in each endpoint's NetBox cluster, and their IP addresses clash; remove one of the two endpoints",
			labels[j], ProxmoxIdentity(snap), fpNodes(snap))
	}
}

// proxmoxFingerprint is a snapshot's identity with its nodes' names and
// addresses, "" when no node address is known.
func proxmoxFingerprint(s *inventory.Snapshot) string {
	id := ProxmoxIdentity(s)
	nodes := fpNodes(s)
	if id == "" || !strings.Contains(nodes, "@") {
		return ""
	}
	return id + " " + nodes
}

func fpNodes(s *inventory.Snapshot) string {
	parts := make([]string, 0, len(s.Nodes))
	for _, n := range s.Nodes {
		if n.IP != "" {
			parts = append(parts, n.Name+"@"+n.IP)
		} else {
			parts = append(parts, n.Name)
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// legacyLabels are the labels older proxbox versions gave ep: its name, else
// its bare host (inline endpoints were labelled with the host alone).
func legacyLabels(ep inventory.Endpoint, label string) []string {
	var out []string
	host := strings.TrimSpace(ep.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	for _, s := range []string{strings.TrimSpace(ep.Name), host} {
		if s != "" && s != label {
			out = append(out, s)
		}
	}
	return out
}

func describeEndpoint(ep inventory.Endpoint) string {
	s := fmt.Sprintf("#%d", ep.ID)
	if n := strings.TrimSpace(ep.Name); n != "" {
		s += " " + n
	}
	if h := strings.TrimSpace(ep.Host); h != "" && h != strings.TrimSpace(ep.Name) {
		s += " (" + h + ")"
	}
	return s
}

// adopt re-labels the cluster a claim adopted: its proxmox_endpoint becomes
// this endpoint's label, so its guests and children are found under it.
func (r *run) adopt(ctx context.Context, c claim) bool {
	cur := r.cur[ModelCluster][c.adopt]
	cf := map[string]any{CFEndpoint: c.label}
	patch := map[string]any{"id": c.adopt, "custom_fields": cf}
	ch := Change{Op: OpUpdate, Model: ModelCluster, Key: c.label, ID: c.adopt, Label: fmt.Sprintf("cluster %v", cur["name"]),
		Reason: fmt.Sprintf("adopted: endpoint label %q -> %q (same Proxmox identity)", c.from, c.label),
		Fields: []FieldChange{{"custom_fields." + CFEndpoint, c.from, c.label}}}
	ok := true
	for _, wr := range r.update(ctx, ModelCluster, []map[string]any{patch}) {
		if wr.Err != nil {
			ch.Error = "adopt: " + wr.Err.Error()
			ok = false
			continue
		}
		o := wr.Object
		if r.opt.DryRun || o == nil {
			o = map[string]any{}
			for k, v := range cur {
				o[k] = v
			}
			old, _ := cur["custom_fields"].(map[string]any)
			ncf := map[string]any{}
			for k, v := range old {
				ncf[k] = v
			}
			ncf[CFEndpoint] = c.label
			o["custom_fields"] = ncf
		}
		r.put(ModelCluster, o)
	}
	r.rep.record(ch)
	if ok {
		r.adoptVRF(ctx, c)
	}
	return ok
}
