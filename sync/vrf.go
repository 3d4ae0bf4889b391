package sync

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// nestedName returns the "name" (else "display") of a nested object field.
func nestedName(v any) string {
	m, _ := v.(map[string]any)
	for _, k := range []string{"name", "display"} {
		if s, _ := m[k].(string); s != "" {
			return s
		}
	}
	return ""
}

// foreignVRF warns about one of our addresses that sits in a VRF that is not
// proxbox's: the address is left there (the vrf field is soft).
func (r *run) foreignVRF(o *Object, cur map[string]any, res Resolved) {
	id, ok := idOf(cur["vrf"])
	if !ok || res.Owned == nil || res.Owned("vrf", id) {
		return
	}
	r.rep.warn(o.Label(), fmt.Sprintf("in VRF %q, which is not proxbox's: left there (PROXBOX_IP_VRF moves only addresses in the global table or in proxbox's VRFs)", nestedName(cur["vrf"])))
}

// dupMarker starts NetBox's refusal of a duplicate address (IPAddress.clean).
const dupMarker = "Duplicate IP address found in "

// explainConflicts turns NetBox's refusals of duplicate addresses in results
// (of writes of bodies; cur holds the current objects of updates) into
// conflicts that name the object holding the address, looked up with one list
// of the addresses per table (and one list of their VMs, for the cluster).
// The lookup is best effort: where it fails, NetBox's text stays as it is.
func (r *run) explainConflicts(ctx context.Context, results []WriteResult, bodies []map[string]any, cur map[int64]map[string]any) {
	type want struct {
		i    int
		host string
		self int64
	}
	byTable := map[string][]want{} // vrf id or "null" -> refused writes
	for i, wr := range results {
		var re *RefusedError
		if wr.Err == nil || !errors.As(wr.Err, &re) || !strings.Contains(wr.Err.Error(), dupMarker) || wr.Index < 0 || wr.Index >= len(bodies) {
			continue
		}
		body := bodies[wr.Index]
		self := mustID(body["id"])
		addr, _ := body["address"].(string)
		vrf, hasVRF := body["vrf"]
		if c := cur[self]; c != nil {
			if addr == "" {
				addr, _ = c["address"].(string)
			}
			if !hasVRF {
				vrf = c["vrf"]
			}
		}
		host, _, _ := strings.Cut(addr, "/")
		if host == "" {
			continue
		}
		table := "null"
		if id, ok := idOf(vrf); ok {
			table = strconv.FormatInt(id, 10)
		}
		byTable[table] = append(byTable[table], want{i, host, self})
	}
	if len(byTable) == 0 {
		return
	}
	tables := make([]string, 0, len(byTable))
	for t := range byTable {
		tables = append(tables, t)
	}
	slices.Sort(tables)
	holders := map[string]map[string]any{} // table + host -> the address's holder row
	vmIDs := map[int64]bool{}
	for _, t := range tables {
		ws := byTable[t]
		hosts := make([]string, 0, len(ws))
		self := map[int64]bool{}
		for _, w := range ws {
			hosts = append(hosts, w.host)
			self[w.self] = true
		}
		slices.Sort(hosts)
		hosts = slices.Compact(hosts)
		_ = eachChunk(hosts, func(chunk []string) error {
			rows, err := r.e.NetBox.List(ctx, ModelIP, url.Values{"address": chunk, "vrf_id": {t}})
			if err != nil {
				return nil // best effort: NetBox's text stays for these
			}
			for _, row := range rows {
				addr, _ := row["address"].(string)
				host, _, _ := strings.Cut(addr, "/")
				id := mustID(row["id"])
				if k := t + "\x00" + host; holders[k] == nil && !self[id] {
					holders[k] = row
					if ao, _ := row["assigned_object"].(map[string]any); ao != nil && row["assigned_object_type"] == "virtualization.vminterface" {
						if vm, ok := idOf(ao["virtual_machine"]); ok {
							vmIDs[vm] = true
						}
					}
				}
			}
			return nil
		})
	}
	clusters := r.vmClusters(ctx, vmIDs)
	for _, t := range tables {
		for _, w := range byTable[t] {
			row := holders[t+"\x00"+w.host]
			if row == nil {
				continue
			}
			wr := &results[w.i]
			wr.Err = &RefusedError{Err: fmt.Errorf("conflict: %s (%w)", holderText(row, clusters), wr.Err)}
		}
	}
}

// vmClusters returns the cluster name of each VM id (one list per filterValuesPerQuery VMs).
func (r *run) vmClusters(ctx context.Context, ids map[int64]bool) map[int64]string {
	out := map[int64]string{}
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, strconv.FormatInt(id, 10))
	}
	slices.Sort(list)
	_ = eachChunk(list, func(chunk []string) error {
		rows, err := r.e.NetBox.List(ctx, ModelVM, url.Values{"id": chunk, "fields": {"id,name,cluster"}})
		if err != nil {
			return nil // best effort: the holder is named without its cluster
		}
		for _, row := range rows {
			if c := nestedName(row["cluster"]); c != "" {
				out[mustID(row["id"])] = c
			}
		}
		return nil
	})
	return out
}

// holderText says who holds an address: "10.0.0.5/24 is held by VM web01
// (cluster pve-a) interface eth0".
func holderText(row map[string]any, clusters map[int64]string) string {
	addr, _ := row["address"].(string)
	ao, _ := row["assigned_object"].(map[string]any)
	var who string
	switch t, _ := row["assigned_object_type"].(string); {
	case ao != nil && t == "virtualization.vminterface":
		who = "VM " + nestedName(ao["virtual_machine"])
		if vm, ok := idOf(ao["virtual_machine"]); ok && clusters[vm] != "" {
			who += " (cluster " + clusters[vm] + ")"
		}
		who += " interface " + nestedName(ao)
	case ao != nil && t == "dcim.interface":
		who = "device " + nestedName(ao["device"]) + " interface " + nestedName(ao)
	case ao != nil:
		who = t + " " + nestedName(ao)
	default:
		who = "IP address #" + strconv.FormatInt(mustID(row["id"]), 10) + ", assigned to nothing"
	}
	return addr + " is held by " + who
}

// unusedVRFs warns about proxbox's VRFs that no endpoint of this run uses:
// every one when PROXBOX_IP_VRF is none, else those of endpoints that are
// neither in the run nor reserved. They are never deleted: they may hold
// addresses that are not ours.
func (r *run) unusedVRFs(labels []string) {
	if !r.opt.runs(StageIPs) && !r.opt.runs(StageNodeInterfaces) {
		return
	}
	mode := r.opt.Map.IPVRF
	if mode == "" {
		mode = IPVRFNone
	}
	ids := make([]int64, 0, len(r.cur[ModelVRF]))
	for id := range r.cur[ModelVRF] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		label := r.keyByID(ModelVRF, id)
		if label == "" || (r.opt.Map.vrfOn() && (slices.Contains(labels, label) || slices.Contains(r.opt.ReservedLabels, label))) {
			continue
		}
		name, _ := r.cur[ModelVRF][id]["name"].(string)
		r.rep.warn("VRF "+name, fmt.Sprintf("proxbox's VRF %q (#%d, endpoint %s) is used by no endpoint of this run (PROXBOX_IP_VRF=%s): left in place, it may hold other addresses; delete it in NetBox when it is no longer needed", name, id, label, mode))
	}
}

// adoptVRF moves the VRF of an adopted cluster's old label to the new one
// (proxmox_endpoint), so its addresses stay where they are instead of moving
// to a new VRF; the next step renames it when its name came from the label.
// Nothing happens when there is none, or when the new label has one already.
func (r *run) adoptVRF(ctx context.Context, c claim) {
	if !r.hasTag(TagProxbox) {
		return
	}
	if err := r.once(ModelVRF, func() error { return r.load(ctx, ModelVRF, url.Values{"tag": {TagProxbox}}) }); err != nil {
		r.rep.warn("VRF", "adopt: "+err.Error())
		return
	}
	var from int64
	for id, v := range r.cur[ModelVRF] {
		switch cfString(v, CFEndpoint) {
		case c.label:
			return
		case c.from:
			from = id
		}
	}
	if from == 0 {
		return
	}
	cur := r.cur[ModelVRF][from]
	ch := Change{Op: OpUpdate, Model: ModelVRF, Key: c.label, ID: from, Label: fmt.Sprintf("VRF %v", cur["name"]),
		Reason: fmt.Sprintf("adopted with its cluster: endpoint label %q -> %q", c.from, c.label),
		Fields: []FieldChange{{"custom_fields." + CFEndpoint, c.from, c.label}}}
	cf := map[string]any{}
	if old, ok := cur["custom_fields"].(map[string]any); ok {
		for k, v := range old {
			cf[k] = v
		}
	}
	cf[CFEndpoint] = c.label
	for _, wr := range r.update(ctx, ModelVRF, []map[string]any{{"id": from, "custom_fields": map[string]any{CFEndpoint: c.label}}}) {
		if wr.Err != nil {
			ch.Error = "adopt: " + wr.Err.Error()
			continue
		}
		o := overlay(cur, map[string]any{"custom_fields": cf})
		r.put(ModelVRF, o)
	}
	r.rep.record(ch)
}
