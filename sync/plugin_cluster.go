package sync

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/proxbox/proxbox/inventory"
)

// The plugin's ProxmoxCluster and ProxmoxNode rows (proxmox-clusters/,
// proxmox-nodes/; models/proxmox_cluster.py and proxmox_node.py@fed47142).
// The plugin's own preflight creates them from /proxmox/cluster/status but
// never links them; the newer plugin finds the endpoint that owns a NetBox
// VM or cluster through ProxmoxCluster.netbox_cluster ("Sync selected", the
// VM "Sync now" button), so the devices stage writes them with their links:
// the cluster row's netbox_cluster (our cluster), each node row's
// proxmox_cluster and netbox_device (our device of that node).
//
// Identity: (the plugin's endpoint row of ours, name), the models' unique
// constraint; the cluster's name is the one /proxmox/cluster/status reports
// (the PVE cluster name, or the node name of a standalone node). Only the
// links are diffed: the other fields (mode, counts, quorum, usage figures)
// are written when proxbox creates a row and are otherwise the plugin's
// preflight's, so the two never undo each other's writes.
const (
	ModelPluginCluster = "plugins/proxbox/proxmox-clusters"
)

func init() {
	typeNames[ModelPluginCluster] = "proxmox_clusters"
	typeNames[ModelPluginNode] = "proxmox_nodes"
	stageSteps[StageDevices] = append(stageSteps[StageDevices], stepDef{ModelPluginCluster, 0}, stepDef{ModelPluginNode, 0})
}

func pluginClusterKey(cluster, name string) string { return cluster + "/proxmox-cluster/" + name }
func pluginNodeKey(cluster, name string) string    { return cluster + "/proxmox-node/" + name }

// pluginRowKey keys the plugin's cluster and node rows of this endpoint; rows
// of other endpoints have none.
func (r *run) pluginRowKey(model string, o map[string]any) string {
	ep, ok := idOf(o["endpoint"])
	name, _ := o["name"].(string)
	if !ok || r.pc.endpoint <= 0 || ep != r.pc.endpoint || name == "" || r.d == nil {
		return ""
	}
	if model == ModelPluginCluster {
		return pluginClusterKey(r.d.Cluster, name)
	}
	return pluginNodeKey(r.d.Cluster, name)
}

// needsPluginRows reports whether this run loads the plugin's cluster and
// node rows: the devices stage writes them, replications and backup routines
// point at the node rows.
func (r *run) needsPluginRows() bool {
	return r.pc.endpoint > 0 && (r.opt.runs(StageDevices) || r.opt.runs(StageReplications) || r.opt.runs(StageBackupRoutines))
}

// loadPluginRows lists this endpoint's ProxmoxCluster and ProxmoxNode rows
// (one request each).
func (r *run) loadPluginRows(ctx context.Context) error {
	if !r.needsPluginRows() {
		return nil
	}
	q := func() url.Values { return url.Values{"endpoint": {strconv.FormatInt(r.pc.endpoint, 10)}} }
	if r.opt.runs(StageDevices) {
		if err := r.load(ctx, ModelPluginCluster, q()); err != nil {
			return err
		}
	}
	return r.load(ctx, ModelPluginNode, q())
}

// pluginNodeRef points field at the plugin's node row of node (null without
// a node); a row that does not exist (yet) leaves the field as it is.
func pluginNodeRef(o *Object, field, cluster, node string) {
	if node == "" {
		o.Refs.Set(field, Ref{})
		return
	}
	o.ref(field, ModelPluginNode, pluginNodeKey(cluster, node))
	o.flag(flagOptional, field)
}

// mapPluginRows adds this endpoint's ProxmoxCluster row and its nodes' rows.
// It is pure.
func mapPluginRows(d *Desired, s *inventory.Snapshot, pc pluginCtx) {
	if pc.endpoint <= 0 || s.Cluster.Name == "" {
		return
	}
	label := d.Cluster
	name := s.Cluster.Name
	ck := pluginClusterKey(label, name)
	cl := newObject(ModelPluginCluster, ck, "proxmox cluster "+name, StageDevices)
	cl.Fields.Set("endpoint", pc.endpoint)
	cl.Fields.Set("name", name)
	cl.ref("netbox_cluster", ModelCluster, label)
	mode, id, quorate := "cluster", "cluster", s.Cluster.Quorate
	if s.Cluster.Standalone {
		mode, id, quorate = "standalone", "cluster/"+name, true
	}
	cl.Fields.Set("cluster_id", id)
	cl.Fields.Set("mode", mode)
	cl.Fields.Set("nodes_count", len(s.Nodes))
	cl.Fields.Set("quorate", quorate)
	cl.Fields.Set("version", nil)
	if s.Cluster.Version > 0 {
		cl.Fields.Set("version", s.Cluster.Version)
	}
	cl.flag(flagCreateOnly, "cluster_id", "mode", "nodes_count", "quorate", "version")
	d.Add(cl)
	for _, n := range s.Nodes {
		if n.IP == "" {
			d.Warnings = append(d.Warnings, fmt.Sprintf("proxmox node %s: no IP address in /cluster/status, its netbox-proxbox node row is left to the plugin", n.Name))
			continue
		}
		o := newObject(ModelPluginNode, pluginNodeKey(label, n.Name), "proxmox node "+n.Name, StageDevices)
		o.Fields.Set("endpoint", pc.endpoint)
		o.Fields.Set("name", n.Name)
		o.ref("proxmox_cluster", ModelPluginCluster, ck)
		o.ref("netbox_device", ModelDevice, deviceKey(label, n.Name))
		o.flag(flagOptional, "netbox_device")
		o.Fields.Set("ip_address", n.IP)
		o.Fields.Set("online", n.Online)
		o.Fields.Set("node_id", nil)
		if n.NodeID > 0 {
			o.Fields.Set("node_id", n.NodeID)
		}
		o.Fields.Set("max_cpu", nil)
		if n.CPUs > 0 {
			o.Fields.Set("max_cpu", n.CPUs)
		}
		o.Fields.Set("max_memory", nil)
		if n.MemoryBytes > 0 {
			o.Fields.Set("max_memory", n.MemoryBytes)
		}
		o.flag(flagCreateOnly, "ip_address", "online", "node_id", "max_cpu", "max_memory")
		d.Add(o)
	}
}
