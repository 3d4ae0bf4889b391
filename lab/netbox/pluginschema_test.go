package netbox

import (
	"encoding/json"
	"os"
	"slices"
	"sort"
	"testing"
	"time"
)

// pluginSchemaOverrides are the places where the real kit does not do what its own OpenAPI
// document says; the kit wins (checked with requests against it).
var pluginSchemaOverrides = map[string]map[string]string{
	// ProxmoxEndpointSerializer declares mode = ChoiceField(choices=...) without required=False:
	// a POST without it answers 400 {"mode": ["This field is required."]}, the schema lists no
	// required field.
	"netbox_proxbox.proxmoxendpoint": {"mode": "required"},
}

// TestPluginModelsMatchThePluginSchema compares every field of the simulator's plugin models
// with the plugin's request schema of 0.0.24 (openapi/plugin-0.0.24.json, from the real kit):
// the same required fields, nullability, maximum length, type and choices, and no field the
// plugin does not have. Fields the plugin has and proxbox never writes may be left out of the
// simulator (DRF ignores unknown keys, so leaving one out only loses what it would store).
func TestPluginModelsMatchThePluginSchema(t *testing.T) {
	raw, err := os.ReadFile("openapi/plugin-0.0.24.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schemas map[string]struct {
			Required   []string `json:"required"`
			Properties map[string]struct {
				Type      string `json:"type"`
				Nullable  bool   `json:"nullable"`
				MaxLength int    `json:"maxLength"`
				MinLength int    `json:"minLength"`
				Enum      []any  `json:"enum"`
				ReadOnly  bool   `json:"readOnly"`
				Items     any    `json:"items"`
				OneOf     []any  `json:"oneOf"`
				AllOf     []any  `json:"allOf"`
				Format    string `json:"format"`
			} `json:"properties"`
		} `json:"schemas"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	s := newStore(time.Now)
	seen := 0
	for _, m := range s.models {
		if !m.plugin {
			continue
		}
		sc, ok := doc.Schemas["Writable"+m.class+"Request"]
		if !ok {
			sc, ok = doc.Schemas[m.class+"Request"]
		}
		if !ok {
			t.Errorf("%s: no request schema %sRequest in the plugin's document", m.key, m.class)
			continue
		}
		seen++
		for _, f := range m.fields {
			p, ok := sc.Properties[f.name]
			if !ok {
				t.Errorf("%s.%s: the plugin has no such field", m.key, f.name)
				continue
			}
			required := slices.Contains(sc.Required, f.name) || pluginSchemaOverrides[m.key][f.name] == "required"
			if f.required != required {
				t.Errorf("%s.%s: required %v, plugin %v", m.key, f.name, f.required, required)
			}
			if f.kind != kJSON && f.nullable != p.Nullable && !(f.kind == kChoice && !p.Nullable && f.nullable && slices.Contains(p.Enum, any(""))) {
				t.Errorf("%s.%s: nullable %v, plugin %v", m.key, f.name, f.nullable, p.Nullable)
			}
			if f.kind == kStr && f.maxLen != p.MaxLength {
				t.Errorf("%s.%s: max length %d, plugin %d", m.key, f.name, f.maxLen, p.MaxLength)
			}
			want := map[kind]string{kStr: "string", kInt: "integer", kFK: "integer", kFloat: "number", kBool: "boolean",
				kTime: "string", kChoice: "string"}[f.kind]
			if want != "" && p.Type != want && !(p.Type == "" && f.kind == kFK && len(p.OneOf) > 0) {
				t.Errorf("%s.%s: type %s, plugin %s", m.key, f.name, want, p.Type)
			}
			if f.kind == kStr && len(p.Enum) > 0 && len(f.choices) == 0 {
				t.Errorf("%s.%s: free text, plugin choices %v", m.key, f.name, p.Enum)
			}
			if f.kind == kChoice || len(f.choices) > 0 {
				var have, plug []string
				for _, c := range f.choices {
					have = append(have, c.value)
				}
				for _, e := range p.Enum {
					if v, ok := e.(string); ok && v != "" {
						plug = append(plug, v)
					}
				}
				sort.Strings(have)
				sort.Strings(plug)
				if !slices.Equal(have, plug) {
					t.Errorf("%s.%s: choices %v, plugin %v", m.key, f.name, have, plug)
				}
			}
		}
	}
	if seen < 9 {
		t.Fatalf("compared %d plugin models, want the 9 proxbox writes", seen)
	}
}

// TestPluginListFiltersLoad: every plugin model has its list filter set from the plugin's
// document, and a parameter outside it is ignored as the real plugin does (the kit answers
// every ProxmoxCluster row to endpoint_id=, which is not in its filter set; endpoint= filters).
func TestPluginListFiltersLoad(t *testing.T) {
	s := newStore(time.Now)
	for _, m := range s.models {
		if m.plugin && listFilters(m.path) == nil {
			t.Errorf("%s: no list filter set in openapi/plugin-0.0.24.json", m.path)
		}
	}
	f := listFilters("plugins/proxbox/proxmox-clusters")
	if !f["endpoint"] || f["endpoint_id"] {
		t.Errorf("proxmox-clusters filters: endpoint %v, endpoint_id %v", f["endpoint"], f["endpoint_id"])
	}
}
