package sync

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

type reconFixture struct {
	PreparedVMs []struct {
		DesiredPayload map[string]any `json:"desired_payload"`
		VMType         string         `json:"vm_type"`
	} `json:"prepared_vms"`
	NetBoxSnapshot []map[string]any `json:"netbox_snapshot"`
	Flags          map[string]bool  `json:"flags"`
	Expected       struct {
		Methods       []string         `json:"methods"`
		PatchPayloads []map[string]any `json:"patch_payloads"`
		ExistingIDs   []int64          `json:"existing_ids"`
	} `json:"expected"`
}

// fixtureKey is the VM identity the fixtures use: (cluster id, type, vmid).
func fixtureKey(cluster, cf any) string {
	c, _ := idOf(cluster)
	if cluster == nil {
		return ""
	}
	m, _ := cf.(map[string]any)
	vmid, ok := idOf(m[CFVMID])
	if !ok {
		return ""
	}
	t, _ := m[CFVMType].(string)
	return fmt.Sprintf("%d/%s/%d", c, t, vmid)
}

// TestReconciliationFixtures ports shared/fixtures/reconciliation/*.json: the
// same matching, overwrite policy and Diff the engine applies to VMs.
func TestReconciliationFixtures(t *testing.T) {
	files, err := filepath.Glob("../testdata/fixtures/reconciliation/*.json")
	if err != nil || len(files) != 10 {
		t.Fatalf("want the 10 reconciliation fixtures in testdata, got %d (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var fx reconFixture
			if err := json.Unmarshal(raw, &fx); err != nil {
				t.Fatal(err)
			}
			current := map[string]map[string]any{}
			for _, c := range fx.NetBoxSnapshot {
				if k := fixtureKey(c["cluster"], c["custom_fields"]); k != "" {
					current[k] = c
				}
			}
			if len(fx.PreparedVMs) != len(fx.Expected.Methods) {
				t.Fatalf("fixture: %d vms, %d methods", len(fx.PreparedVMs), len(fx.Expected.Methods))
			}
			for i, p := range fx.PreparedVMs {
				o := newObject(ModelVM, "", "", StageVMs)
				want := Resolved{Fields: map[string]any{}}
				for k, v := range p.DesiredPayload {
					switch k {
					case "tags":
						for _, x := range v.([]any) {
							id, _ := idOf(x)
							want.Tags = append(want.Tags, id)
						}
					case "custom_fields":
						want.CustomFields = v.(map[string]any)
					default:
						want.Fields[k] = v
					}
				}
				applyVMOverwrite(o, OverwriteFlags(fx.Flags))
				want.CreateOnly = o.CreateOnly
				cf := map[string]any{}
				for k, v := range want.CustomFields {
					cf[k] = v
				}
				if _, ok := cf[CFVMType]; !ok {
					cf[CFVMType] = p.VMType
				}
				cur, found := current[fixtureKey(want.Fields["cluster"], cf)]
				if !found { // current without proxmox_vm_type: matched by (cluster, vmid)
					delete(cf, CFVMType)
					cur, found = current[fixtureKey(want.Fields["cluster"], cf)]
				}
				method := "CREATE"
				var patch map[string]any
				if found {
					patch, _ = Diff(want, cur)
					method = "GET"
					if patch != nil {
						method = "UPDATE"
					}
					if len(fx.Expected.ExistingIDs) > i {
						if id, _ := idOf(cur["id"]); id != fx.Expected.ExistingIDs[i] {
							t.Errorf("vm %d matched id %d, want %d", i, id, fx.Expected.ExistingIDs[i])
						}
					}
				}
				if method != fx.Expected.Methods[i] {
					t.Errorf("vm %d: method %s, want %s (patch %v)", i, method, fx.Expected.Methods[i], patch)
				}
				if patch == nil {
					patch = map[string]any{}
				}
				if !jsonEqual(patch, fx.Expected.PatchPayloads[i]) {
					t.Errorf("vm %d: patch %v, want %v", i, patch, fx.Expected.PatchPayloads[i])
				}
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var x, y any
	_ = json.Unmarshal(ja, &x)
	_ = json.Unmarshal(jb, &y)
	return reflect.DeepEqual(x, y)
}

func TestDiffTagsAndSoftFields(t *testing.T) {
	managed := func(s string) bool { return s == TagProxbox || s == TagOrphan || strings.HasPrefix(s, pveTagPrefix) }
	cur := map[string]any{
		"id":          int64(5),
		"status":      map[string]any{"value": "offline", "label": "Offline"},
		"primary_ip4": map[string]any{"id": 900.0, "address": "192.0.2.1/24"},
		"tags": []any{
			map[string]any{"id": 1.0, "slug": "proxbox"},
			map[string]any{"id": 2.0, "slug": "proxbox-orphan"},
			map[string]any{"id": 3.0, "slug": "pve-old"},
			map[string]any{"id": 4.0, "slug": "users-own"},
		},
		"custom_fields": map[string]any{CFVMID: 101.0, "other": "x", CFOrphanedAt: "2026-01-01T00:00:00Z"},
	}
	tests := []struct {
		name      string
		want      Resolved
		wantPatch map[string]any
	}{
		{"choice dict equals value", Resolved{Fields: map[string]any{"status": "offline"}}, nil},
		{"status change", Resolved{Fields: map[string]any{"status": "active"}}, map[string]any{"status": "active"}},
		{"ours removed theirs kept", Resolved{Fields: map[string]any{}, Tags: []int64{1, 7}, ManagedTag: managed},
			map[string]any{"tags": []int64{1, 4, 7}}},
		{"user primary ip kept", Resolved{Fields: map[string]any{"primary_ip4": int64(17)}, Soft: map[string]bool{"primary_ip4": true},
			Owned: func(string, int64) bool { return false }}, nil},
		{"our primary ip replaced", Resolved{Fields: map[string]any{"primary_ip4": int64(17)}, Soft: map[string]bool{"primary_ip4": true},
			Owned: func(string, int64) bool { return true }}, map[string]any{"primary_ip4": int64(17)}},
		{"cf key by key, others ignored", Resolved{Fields: map[string]any{}, CustomFields: map[string]any{CFVMID: 101}}, nil},
		{"cf cleared", Resolved{Fields: map[string]any{}, CustomFields: map[string]any{CFVMID: 101, CFOrphanedAt: nil}},
			map[string]any{"custom_fields": map[string]any{CFVMID: 101, CFOrphanedAt: nil}}},
		{"create-only ignored", Resolved{Fields: map[string]any{"status": "active"}, CreateOnly: map[string]bool{"status": true}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			patch, _ := Diff(tc.want, cur)
			if !jsonEqual(patch, tc.wantPatch) {
				t.Errorf("patch %v, want %v", patch, tc.wantPatch)
			}
		})
	}
}

func TestDiffSetFields(t *testing.T) {
	cur := map[string]any{"object_types": []any{"dcim.device"}}
	want := Resolved{Fields: map[string]any{"object_types": []string{"virtualization.virtualmachine"}}, SetFields: map[string]bool{"object_types": true}}
	patch, _ := Diff(want, cur)
	if !jsonEqual(patch, map[string]any{"object_types": []string{"dcim.device", "virtualization.virtualmachine"}}) {
		t.Fatalf("patch %v", patch)
	}
	cur["object_types"] = []any{"virtualization.virtualmachine", "dcim.device"}
	if patch, _ := Diff(want, cur); patch != nil {
		t.Fatalf("superset must be unchanged, got %v", patch)
	}
}

// A created object's change lists what it was created with, empty values
// and unset custom fields left out, in field order.
func TestCreateFieldsListTheCreatedValues(t *testing.T) {
	got := createFields(map[string]any{
		"name": "web", "vcpus": 2, "comments": "", "tags": []int64{3}, "role": nil,
		"custom_fields": map[string]any{"proxmox_vm_id": 100, "proxmox_orphaned_at": nil},
	})
	want := []FieldChange{{Field: "custom_fields.proxmox_vm_id", New: 100}, {Field: "name", New: "web"}, {Field: "tags", New: []int64{3}}, {Field: "vcpus", New: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("createFields = %#v, want %#v", got, want)
	}
}
