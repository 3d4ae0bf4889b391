package netbox

import (
	"fmt"
	"strings"
)

// kind is how a model field is read from a request and written to a response.
type kind int

const (
	kStr     kind = iota // string
	kInt                 // integer (int64)
	kFloat               // number (float64)
	kBool                // boolean
	kChoice              // string value, rendered {value,label}
	kFK                  // foreign key (int64 id), rendered as the related brief object
	kJSON                // any JSON value, stored as decoded
	kTime                // date-time string
	kGFKType             // "app.model" of a generic foreign key (assigned_object_type)
	kGFKID               // id of a generic foreign key (assigned_object_id)
	kStrList             // list of strings (custom field object_types)
	kFKList              // many-to-many: list of ids of ref, rendered as brief objects (tagged_vlans)
)

// onDelete is what happens to a row whose FK points at a deleted row.
type onDelete int

const (
	delCascade onDelete = iota
	delProtect
	delSetNull
)

type choice struct{ value, label string }

// field describes one writable or computed attribute of a model.
type field struct {
	name     string
	kind     kind
	required bool // required on create and PUT
	nullable bool
	ref      string // model key for kFK
	choices  []choice
	def      any // value on create when absent
	maxLen   int
	del      onDelete
	secret   bool   // write-only: never rendered (passwords)
	gfkTypes string // for kGFKID: the kGFKType field naming the model
}

// unique is a uniqueness rule, a database constraint in NetBox: validation checks it against
// the stored rows (checkUnique), and a bulk create's items that collide only with each other
// break it when they are saved (bulkSave). Rows where any field is null never collide (SQL
// NULLs are distinct; Django's UniqueConstraint.validate skips them too).
type unique struct {
	fields []string
	ci     string // field compared case-insensitively (Lower() in NetBox constraints)
	// key and msg of the error. key "" means field-level: the error goes under fields[0]
	// with DRF's UniqueValidator wording.
	key string
	msg string
	// when, if set, restricts the rule to rows for which it returns true.
	when func(v map[string]any) bool
	// constraint is the PostgreSQL constraint's name when it differs from Django's default
	// ("<table>_<field>_key" for unique=True, NetBox's "<table>_unique_<fields>" otherwise);
	// it names the constraint in a bulk create's IntegrityError (integrityError).
	constraint string
	// upsert: the plugin serializer's create() looks this key up when it saves and updates
	// the row it finds instead of inserting (api/serializers/storage.py, vm_task_history.py
	// in netbox-proxbox 0.0.24). Validation runs first and refuses a key already stored
	// (400), so only a sibling of the same bulk create is ever found: both items then name
	// one row and NetBox's post-save check refuses the request with 403 (bulkSave).
	upsert bool
	// saveOnly: validation does not see the rule, only PostgreSQL does (a column save() fills
	// in): a collision is a 500 IntegrityError also for a single object.
	saveOnly bool
	// columns name the key's columns in the IntegrityError text when they are not the fields'.
	columns []string
}

// model describes one NetBox (or plugin) model served under /api/.
type model struct {
	key     string // app_label.modelname, e.g. virtualization.virtualmachine
	path    string // API path below /api/, e.g. virtualization/virtual-machines
	class   string // Python class name, for 404 texts
	verbose string // verbose_name, for uniqueness texts
	plugin  bool
	fields  []field
	brief   []string // brief representation (besides id, url, display)
	display func(s *store, v map[string]any) string
	uniques []unique
	// zeros are read-only integer or boolean fields the 4.3 schema requires; rendered 0/false.
	zeros  []string
	falses []string
	// counts are computed counts rendered as "name": number of rows of child model whose
	// field points at this row.
	counts []count
	// derived are read-only values computed from the row (serializer fields with a
	// source or a model property).
	derived []derived
	tags    bool
	cfs     bool
	// search are the fields q= matches (case-insensitive contains).
	search []string
	byName map[string]*field
	// fullOut and briefOut are the ordered response keys.
	fullOut, briefOut []string
	fullSet           map[string]bool
}

type count struct{ name, child, field string }

type derived struct {
	name  string
	value func(v map[string]any) any
}

// percent is a/b*100 (the plugin's memory_usage_percent property), nil when either is
// unknown or b is 0.
func percent(a, b any) any {
	x, ok1 := toFloat(a)
	y, ok2 := toFloat(b)
	if !ok1 || !ok2 || y == 0 {
		return nil
	}
	return x / y * 100
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func (m *model) field(name string) *field { return m.byName[name] }

// Choice sets, values and labels as NetBox 4.6 renders them with Accept-Language en-US.
var (
	vmStatus = []choice{{"offline", "Offline"}, {"active", "Active"}, {"planned", "Planned"},
		{"staged", "Staged"}, {"failed", "Failed"}, {"decommissioning", "Decommissioning"}, {"paused", "Paused"}}
	clusterStatus = []choice{{"planned", "Planned"}, {"staging", "Staging"}, {"active", "Active"},
		{"decommissioning", "Decommissioning"}, {"offline", "Offline"}}
	siteStatus = []choice{{"planned", "Planned"}, {"staging", "Staging"}, {"active", "Active"},
		{"decommissioning", "Decommissioning"}, {"retired", "Retired"}}
	deviceStatus = []choice{{"offline", "Offline"}, {"active", "Active"}, {"planned", "Planned"},
		{"staged", "Staged"}, {"failed", "Failed"}, {"inventory", "Inventory"}, {"decommissioning", "Decommissioning"}}
	ipStatus = []choice{{"active", "Active"}, {"reserved", "Reserved"}, {"deprecated", "Deprecated"},
		{"dhcp", "DHCP"}, {"slaac", "SLAAC"}}
	ipRole = []choice{{"loopback", "Loopback"}, {"secondary", "Secondary"}, {"anycast", "Anycast"},
		{"vip", "VIP"}, {"vrrp", "VRRP"}, {"hsrp", "HSRP"}, {"glbp", "GLBP"}, {"carp", "CARP"}}
	vlanStatus   = []choice{{"active", "Active"}, {"reserved", "Reserved"}, {"deprecated", "Deprecated"}}
	prefixStatus = []choice{{"container", "Container"}, {"active", "Active"}, {"reserved", "Reserved"},
		{"deprecated", "Deprecated"}}
	ifMode = []choice{{"access", "Access"}, {"tagged", "Tagged"}, {"tagged-all", "Tagged (All)"},
		{"q-in-q", "Q-in-Q (802.1ad)"}}
	// A subset of NetBox's 131 interface types: the ones a Proxmox sync produces. The schema gate
	// accepts every 4.3 type; labels of the others fall back to the value.
	ifType = []choice{{"virtual", "Virtual"}, {"bridge", "Bridge"}, {"lag", "Link Aggregation Group (LAG)"},
		{"other", "Other"}, {"loopback", "Loopback"}, {"1000base-t", "1000BASE-T (1GE)"},
		{"10gbase-t", "10GBASE-T (10GE)"}, {"10gbase-x-sfpp", "SFP+ (10GE)"}, {"25gbase-x-sfp28", "SFP28 (25GE)"},
		{"100base-tx", "100BASE-TX (10/100ME)"}, {"2.5gbase-t", "2.5GBASE-T (2.5GE)"}, {"other-wireless", "Other (Wireless)"}}
	journalKind = []choice{{"info", "Info"}, {"success", "Success"}, {"warning", "Warning"}, {"danger", "Danger"}}
	cfType      = []choice{{"text", "Text"}, {"longtext", "Text (long)"}, {"integer", "Integer"},
		{"decimal", "Decimal"}, {"boolean", "Boolean (true/false)"}, {"date", "Date"}, {"datetime", "Date & time"},
		{"url", "URL"}, {"json", "JSON"}, {"select", "Selection"}, {"multiselect", "Multiple selection"},
		{"object", "Object"}, {"multiobject", "Multiple objects"}}
	cfFilterLogic = []choice{{"disabled", "Disabled"}, {"loose", "Loose"}, {"exact", "Exact"}}
	cfUIVisible   = []choice{{"always", "Always"}, {"if-set", "If set"}, {"hidden", "Hidden"}}
	cfUIEditable  = []choice{{"yes", "Yes"}, {"no", "No"}, {"hidden", "Hidden"}}
	activeStale   = []choice{{"active", "Active"}, {"stale", "Stale"}}
	backupSubtype = []choice{{"undefined", "Undefined"}, {"lxc", "LXC"}, {"ct", "CT"}, {"qemu", "QEMU"}, {"vm", "VM"}}
	backupFormat  = []choice{{"undefined", "Undefined"}, {"pbs-vm", "PBS VM"}, {"pbs-ct", "PBS CT"},
		{"zst", "ZST"}, {"iso", "ISO"}, {"tzst", "TZST"}, {"tgz", "TGZ"}, {"qcow2", "QCOW2"}, {"raw", "RAW"},
		{"tar", "TAR"}, {"tbz", "TBZ"}}
	snapSubtype   = []choice{{"qemu", "QEMU"}, {"lxc", "LXC"}}
	replJobType   = []choice{{"local", "Local"}}
	replRemoveJob = []choice{{"local", "Local"}, {"full", "Full"}}
	endpointMode  = []choice{{"undefined", "Undefined"}, {"standalone", "Standalone"}, {"cluster", "Cluster"}}
)

// Helpers that keep the model table below readable.
func str(n string, maxLen int) field { return field{name: n, kind: kStr, maxLen: maxLen, def: ""} }
func reqStr(n string, maxLen int) field {
	return field{name: n, kind: kStr, maxLen: maxLen, required: true}
}
func nstr(n string) field { return field{name: n, kind: kStr, nullable: true} }
func nstrL(n string, maxLen int) field {
	return field{name: n, kind: kStr, nullable: true, maxLen: maxLen}
}
func intf(n string) field            { return field{name: n, kind: kInt, nullable: true} }
func boolf(n string, def bool) field { return field{name: n, kind: kBool, def: def} }
func fk(n, ref string, del onDelete) field {
	return field{name: n, kind: kFK, ref: ref, nullable: true, del: del}
}
func reqFK(n, ref string, del onDelete) field {
	return field{name: n, kind: kFK, ref: ref, required: true, del: del}
}
func ch(n string, cs []choice, def string) field {
	f := field{name: n, kind: kChoice, choices: cs}
	if def != "" {
		f.def = def
	}
	return f
}
func nch(n string, cs []choice) field {
	return field{name: n, kind: kChoice, choices: cs, nullable: true}
}
func m2m(n, ref string) field { return field{name: n, kind: kFKList, ref: ref, def: []int64{}} }
func jsonf(n string) field    { return field{name: n, kind: kJSON, nullable: true} }
func timef(n string) field    { return field{name: n, kind: kTime, nullable: true} }

var (
	descr    = str("description", 200)
	comments = str("comments", 0)
	name100  = reqStr("name", 100)
	slug100  = reqStr("slug", 100)
)

func nameDisplay(_ *store, v map[string]any) string { s, _ := v["name"].(string); return s }

// vrfDisplay is str(VRF): "name (rd)" when the VRF has a route distinguisher, else its name.
func vrfDisplay(_ *store, v map[string]any) string {
	name, _ := v["name"].(string)
	if rd, _ := v["rd"].(string); rd != "" {
		return name + " (" + rd + ")"
	}
	return name
}

// fieldUnique is a unique=True model field, checked by DRF's UniqueValidator: the error goes
// under the field, "<verbose_name> with this <field> already exists.".
func fieldUnique(f string) unique { return unique{fields: []string{f}} }

// together is a UniqueConstraint on fields fs. NetBox's serializers skip DRF's
// UniqueTogetherValidator (netbox/netbox/api/serializers/base.py:85-88, v4.5.10) and leave it
// to the model's full_clean(): msg is Django's text under "__all__", "<Model> with this
// <Field> and <Field> already exists." or the constraint's violation_error_message (each
// checked against NetBox 4.5.10 + netbox-proxbox 0.0.24).
func together(msg string, fs ...string) unique { return unique{fields: fs, key: "__all__", msg: msg} }

// topLevel is a UniqueConstraint on field f with condition parent IS NULL and its own message
// (DeviceRole, Platform: dcim/models/devices.py:417-437, 472-493 in v4.5.10).
func topLevel(f, parent, msg, constraint string) unique {
	return unique{fields: []string{f}, key: "__all__", msg: msg, constraint: constraint,
		when: func(v map[string]any) bool { return v[parent] == nil }}
}

// named sets the PostgreSQL name of u's constraint where it is not the default.
func named(u unique, constraint string) unique { u.constraint = constraint; return u }

// upserting marks u as a key the serializer's create() upserts on (unique.upsert).
func upserting(u unique) unique { u.upsert = true; return u }

func isNil(v any) bool { return v == nil }

// models is the catalogue of everything the simulator serves. Field lists, choices and rules
// follow NetBox 4.6 (see shared/spec/peers-and-fixtures.md B.5/B.6) and the plugin serializers
// (shared/spec/plugin-client-contract.md section 4).
func buildModels() []*model {
	ms := []*model{
		{key: "dcim.site", path: "dcim/sites", class: "Site", verbose: "site",
			fields: []field{name100, slug100, ch("status", siteStatus, "active"), fk("region", "", delSetNull),
				fk("group", "", delSetNull), fk("tenant", "", delSetNull), str("facility", 50), str("time_zone", 0),
				descr, str("physical_address", 200), str("shipping_address", 200), comments},
			brief: []string{"name", "slug", "description"}, uniques: []unique{fieldUnique("name"), fieldUnique("slug")},
			counts: []count{{"device_count", "dcim.device", "site"}}},
		{key: "dcim.manufacturer", path: "dcim/manufacturers", class: "Manufacturer", verbose: "manufacturer",
			fields: []field{name100, slug100, descr}, brief: []string{"name", "slug", "description"},
			uniques: []unique{fieldUnique("name"), fieldUnique("slug")},
			counts:  []count{{"devicetype_count", "dcim.devicetype", "manufacturer"}}},
		{key: "dcim.devicetype", path: "dcim/device-types", class: "DeviceType", verbose: "device type",
			fields: []field{reqFK("manufacturer", "dcim.manufacturer", delProtect), reqStr("model", 100), slug100,
				str("part_number", 50), {name: "u_height", kind: kFloat, def: 1.0}, boolf("is_full_depth", true), descr, comments},
			brief:   []string{"manufacturer", "model", "slug", "description"},
			display: func(_ *store, v map[string]any) string { s, _ := v["model"].(string); return s },
			uniques: []unique{together("Device type with this Manufacturer and Model already exists.", "manufacturer", "model"),
				together("Device type with this Manufacturer and Slug already exists.", "manufacturer", "slug")},
			zeros: []string{"console_port_template_count", "console_server_port_template_count", "device_bay_template_count",
				"front_port_template_count", "interface_template_count", "inventory_item_template_count",
				"module_bay_template_count", "power_outlet_template_count", "power_port_template_count", "rear_port_template_count"},
			counts: []count{{"device_count", "dcim.device", "device_type"}}, search: []string{"model"}},
		{key: "dcim.devicerole", path: "dcim/device-roles", class: "DeviceRole", verbose: "device role",
			fields: []field{name100, slug100, {name: "color", kind: kStr, maxLen: 6, def: "9e9e9e"}, boolf("vm_role", true),
				fk("parent", "dcim.devicerole", delCascade), descr},
			brief: []string{"name", "slug", "description", "_depth"},
			uniques: []unique{
				named(together("Device role with this Parent and Name already exists.", "parent", "name"), "dcim_devicerole_parent_name"),
				topLevel("name", "parent", "A top-level device role with this name already exists.", "dcim_devicerole_name"),
				named(together("Device role with this Parent and Slug already exists.", "parent", "slug"), "dcim_devicerole_parent_slug"),
				topLevel("slug", "parent", "A top-level device role with this slug already exists.", "dcim_devicerole_slug")},
			zeros: []string{"_depth"}, counts: []count{{"device_count", "dcim.device", "role"}, {"virtualmachine_count", "virtualization.virtualmachine", "role"}}},
		{key: "dcim.platform", path: "dcim/platforms", class: "Platform", verbose: "platform",
			fields: []field{name100, slug100, fk("manufacturer", "dcim.manufacturer", delProtect), fk("parent", "dcim.platform", delCascade), descr},
			brief:  []string{"name", "slug", "description"},
			uniques: []unique{
				named(together("Platform with this Manufacturer and Name already exists.", "manufacturer", "name"), "dcim_platform_manufacturer_name"),
				topLevel("name", "manufacturer", "Platform name must be unique.", "dcim_platform_name"),
				named(together("Platform with this Manufacturer and Slug already exists.", "manufacturer", "slug"), "dcim_platform_manufacturer_slug"),
				topLevel("slug", "manufacturer", "Platform slug must be unique.", "dcim_platform_slug")},
			zeros: []string{"_depth"}},
		{key: "dcim.device", path: "dcim/devices", class: "Device", verbose: "device",
			fields: []field{{name: "name", kind: kStr, nullable: true, maxLen: 64}, reqFK("device_type", "dcim.devicetype", delProtect),
				reqFK("role", "dcim.devicerole", delProtect), fk("tenant", "", delProtect), fk("platform", "dcim.platform", delSetNull),
				str("serial", 50), {name: "asset_tag", kind: kStr, nullable: true, maxLen: 50},
				reqFK("site", "dcim.site", delProtect), ch("status", deviceStatus, "active"), fk("cluster", "virtualization.cluster", delSetNull),
				fk("primary_ip4", "ipam.ipaddress", delSetNull), fk("primary_ip6", "ipam.ipaddress", delSetNull),
				descr, comments, jsonf("local_context_data")},
			brief: []string{"name", "description"},
			display: func(s *store, v map[string]any) string {
				if n, _ := v["name"].(string); n != "" {
					return n
				}
				return "Unnamed device"
			},
			uniques: []unique{{fields: []string{"name", "site"}, ci: "name", key: "__all__", msg: "Device name must be unique per site."}},
			zeros: []string{"console_port_count", "console_server_port_count", "device_bay_count", "front_port_count",
				"inventory_item_count", "module_bay_count", "power_outlet_count", "power_port_count", "rear_port_count"},
			counts: []count{{"interface_count", "dcim.interface", "device"}}},
		{key: "dcim.interface", path: "dcim/interfaces", class: "Interface", verbose: "interface",
			fields: []field{reqFK("device", "dcim.device", delCascade), reqStr("name", 64), str("label", 64),
				{name: "type", kind: kChoice, choices: ifType, required: true}, boolf("enabled", true),
				fk("parent", "dcim.interface", delSetNull), fk("bridge", "dcim.interface", delSetNull), fk("lag", "dcim.interface", delSetNull),
				intf("mtu"), fk("primary_mac_address", "dcim.macaddress", delSetNull), boolf("mgmt_only", false), descr,
				nch("mode", ifMode), fk("untagged_vlan", "ipam.vlan", delSetNull), m2m("tagged_vlans", "ipam.vlan")},
			brief: []string{"device", "name", "description"}, uniques: []unique{together("Interface with this Device and Name already exists.", "device", "name")},
			zeros: []string{"count_fhrp_groups"}, falses: []string{"_occupied", "connected_endpoints_reachable"},
			counts: []count{{"count_ipaddresses", "ipam.ipaddress", "@dcim.interface"}}},
		{key: "dcim.macaddress", path: "dcim/mac-addresses", class: "MACAddress", verbose: "MAC address",
			fields: []field{{name: "mac_address", kind: kStr, required: true, maxLen: 17},
				{name: "assigned_object_type", kind: kGFKType, nullable: true},
				{name: "assigned_object_id", kind: kGFKID, nullable: true, gfkTypes: "assigned_object_type"}, descr, comments},
			brief:   []string{"mac_address", "description"},
			display: func(_ *store, v map[string]any) string { s, _ := v["mac_address"].(string); return strings.ToUpper(s) }},
		{key: "virtualization.clustertype", path: "virtualization/cluster-types", class: "ClusterType", verbose: "cluster type",
			fields: []field{name100, slug100, descr}, brief: []string{"name", "slug", "description"},
			uniques: []unique{fieldUnique("name"), fieldUnique("slug")},
			counts:  []count{{"cluster_count", "virtualization.cluster", "type"}}},
		{key: "virtualization.clustergroup", path: "virtualization/cluster-groups", class: "ClusterGroup", verbose: "cluster group",
			fields: []field{name100, slug100, descr}, brief: []string{"name", "slug", "description"},
			uniques: []unique{fieldUnique("name"), fieldUnique("slug")},
			counts:  []count{{"cluster_count", "virtualization.cluster", "group"}}},
		{key: "virtualization.cluster", path: "virtualization/clusters", class: "Cluster", verbose: "cluster",
			fields: []field{name100, reqFK("type", "virtualization.clustertype", delProtect), fk("group", "virtualization.clustergroup", delProtect),
				ch("status", clusterStatus, "active"), fk("tenant", "", delProtect),
				{name: "scope_type", kind: kGFKType, nullable: true}, {name: "scope_id", kind: kGFKID, nullable: true, gfkTypes: "scope_type"},
				descr, comments},
			brief: []string{"name", "description"},
			uniques: []unique{together("Cluster with this Group and Name already exists.", "group", "name"),
				// (_site, name): _site is filled from the scope in save(), after full_clean()
				// (virtualization/models/clusters.py:101-108, dcim/models/mixins.py
				// CachedScopeMixin): NetBox meets a duplicate only in PostgreSQL, 500.
				{fields: []string{"scope_id", "name"}, columns: []string{"_site_id", "name"}, saveOnly: true,
					constraint: "virtualization_cluster_unique__site_name", when: func(v map[string]any) bool { return v["scope_type"] == "dcim.site" }}},
			counts: []count{{"device_count", "dcim.device", "cluster"}, {"virtualmachine_count", "virtualization.virtualmachine", "cluster"}}},
		{key: "virtualization.virtualmachine", path: "virtualization/virtual-machines", class: "VirtualMachine", verbose: "virtual machine",
			fields: []field{reqStr("name", 64), ch("status", vmStatus, "active"), fk("site", "dcim.site", delProtect),
				fk("cluster", "virtualization.cluster", delProtect), fk("device", "dcim.device", delProtect), str("serial", 50),
				fk("role", "dcim.devicerole", delProtect), fk("tenant", "", delProtect), fk("platform", "dcim.platform", delSetNull),
				fk("primary_ip4", "ipam.ipaddress", delSetNull), fk("primary_ip6", "ipam.ipaddress", delSetNull),
				{name: "vcpus", kind: kFloat, nullable: true}, intf("memory"), intf("disk"), descr, comments,
				jsonf("local_context_data"), {name: "start_on_boot", kind: kChoice, choices: []choice{{"on", "On"}, {"off", "Off"}, {"laststate", "Last State"}}, def: "off"}},
			brief: []string{"name", "description"},
			uniques: []unique{{fields: []string{"name", "cluster"}, ci: "name", key: "__all__", msg: "Virtual machine name must be unique per cluster."},
				{fields: []string{"name", "device"}, ci: "name", key: "__all__", msg: "Virtual machine name must be unique per device.", when: func(v map[string]any) bool { return isNil(v["cluster"]) }}},
			counts: []count{{"interface_count", "virtualization.vminterface", "virtual_machine"}, {"virtual_disk_count", "virtualization.virtualdisk", "virtual_machine"}},
			search: []string{"name", "description", "comments", "serial"}},
		{key: "virtualization.vminterface", path: "virtualization/interfaces", class: "VMInterface", verbose: "interface",
			fields: []field{reqFK("virtual_machine", "virtualization.virtualmachine", delCascade), reqStr("name", 64), boolf("enabled", true),
				fk("parent", "virtualization.vminterface", delSetNull), fk("bridge", "virtualization.vminterface", delSetNull), intf("mtu"),
				fk("primary_mac_address", "dcim.macaddress", delSetNull), descr, nch("mode", ifMode), fk("untagged_vlan", "ipam.vlan", delSetNull),
				m2m("tagged_vlans", "ipam.vlan"), fk("vrf", "ipam.vrf", delSetNull)},
			brief: []string{"virtual_machine", "name", "description"}, uniques: []unique{together("Interface with this Virtual machine and Name already exists.", "virtual_machine", "name")},
			zeros:  []string{"count_fhrp_groups"},
			counts: []count{{"count_ipaddresses", "ipam.ipaddress", "@virtualization.vminterface"}}},
		{key: "virtualization.virtualdisk", path: "virtualization/virtual-disks", class: "VirtualDisk", verbose: "virtual disk",
			fields: []field{reqFK("virtual_machine", "virtualization.virtualmachine", delCascade), reqStr("name", 64),
				{name: "size", kind: kInt, required: true}, descr},
			brief: []string{"virtual_machine", "name", "size", "description"}, uniques: []unique{together("Virtual disk with this Virtual machine and Name already exists.", "virtual_machine", "name")}},
		{key: "ipam.ipaddress", path: "ipam/ip-addresses", class: "IPAddress", verbose: "IP address",
			fields: []field{{name: "address", kind: kStr, required: true}, fk("vrf", "ipam.vrf", delProtect), fk("tenant", "", delProtect),
				ch("status", ipStatus, "active"), nch("role", ipRole),
				{name: "assigned_object_type", kind: kGFKType, nullable: true},
				{name: "assigned_object_id", kind: kGFKID, nullable: true, gfkTypes: "assigned_object_type"},
				fk("nat_inside", "ipam.ipaddress", delSetNull), str("dns_name", 255), descr, comments},
			brief:   []string{"family", "address", "description"},
			display: func(_ *store, v map[string]any) string { s, _ := v["address"].(string); return s },
			search:  []string{"address", "dns_name", "description"}},
		// VRF (ipam/models/vrfs.py, NetBox 4.5.10): name not unique, rd unique when set,
		// enforce_unique (default true) makes cleanIP refuse duplicates inside it.
		{key: "ipam.vrf", path: "ipam/vrfs", class: "VRF", verbose: "VRF",
			fields: []field{name100, {name: "rd", kind: kStr, nullable: true, maxLen: 21}, fk("tenant", "", delProtect),
				boolf("enforce_unique", true), descr, comments, m2m("import_targets", "ipam.routetarget"), m2m("export_targets", "ipam.routetarget")},
			brief:   []string{"name", "rd", "description"},
			display: vrfDisplay,
			uniques: []unique{{fields: []string{"rd"}, key: "rd", msg: "VRF with this route distinguisher already exists."}},
			counts:  []count{{"ipaddress_count", "ipam.ipaddress", "vrf"}, {"prefix_count", "ipam.prefix", "vrf"}}},
		{key: "ipam.vlan", path: "ipam/vlans", class: "VLAN", verbose: "VLAN",
			fields: []field{fk("site", "dcim.site", delProtect), fk("group", "", delProtect), {name: "vid", kind: kInt, required: true},
				reqStr("name", 64), fk("tenant", "", delProtect), ch("status", vlanStatus, "active"), descr, comments},
			brief: []string{"vid", "name", "description"},
			display: func(_ *store, v map[string]any) string {
				return fmt.Sprintf("%v (%v)", v["name"], v["vid"])
			}},
		{key: "ipam.prefix", path: "ipam/prefixes", class: "Prefix", verbose: "prefix",
			fields: []field{{name: "prefix", kind: kStr, required: true}, fk("vrf", "ipam.vrf", delProtect), fk("tenant", "", delProtect),
				fk("vlan", "ipam.vlan", delProtect), ch("status", prefixStatus, "active"), boolf("is_pool", false),
				boolf("mark_utilized", false), descr, comments,
				{name: "scope_type", kind: kGFKType, nullable: true}, {name: "scope_id", kind: kGFKID, nullable: true, gfkTypes: "scope_type"}},
			brief:   []string{"family", "prefix", "description"},
			display: func(_ *store, v map[string]any) string { s, _ := v["prefix"].(string); return s },
			zeros:   []string{"_depth", "children"}},
		{key: "extras.tag", path: "extras/tags", class: "Tag", verbose: "tag",
			fields: []field{name100, slug100, {name: "color", kind: kStr, maxLen: 6, def: "9e9e9e"}, descr,
				{name: "object_types", kind: kStrList, def: []string{}}},
			brief: []string{"name", "slug", "color", "description"}, uniques: []unique{fieldUnique("name"), fieldUnique("slug")}},
		{key: "extras.customfield", path: "extras/custom-fields", class: "CustomField", verbose: "custom field",
			fields: []field{{name: "object_types", kind: kStrList, required: true}, {name: "type", kind: kChoice, choices: cfType, def: "text"},
				{name: "related_object_type", kind: kGFKType, nullable: true}, reqStr("name", 50), str("label", 50), str("group_name", 50),
				descr, boolf("required", false), boolf("unique", false), {name: "search_weight", kind: kInt, def: int64(1000)},
				ch("filter_logic", cfFilterLogic, "loose"), ch("ui_visible", cfUIVisible, "always"), ch("ui_editable", cfUIEditable, "yes"),
				boolf("is_cloneable", false), jsonf("default"), {name: "weight", kind: kInt, def: int64(100)},
				intf("validation_minimum"), intf("validation_maximum"), str("validation_regex", 500), jsonf("related_object_filter"),
				fk("choice_set", "", delProtect), str("comments", 0)},
			brief: []string{"name", "description"}, uniques: []unique{fieldUnique("name")}},
		{key: "extras.journalentry", path: "extras/journal-entries", class: "JournalEntry", verbose: "journal entry",
			fields: []field{{name: "assigned_object_type", kind: kGFKType, required: true},
				{name: "assigned_object_id", kind: kInt, required: true}, ch("kind", journalKind, "info"), {name: "comments", kind: kStr, required: true}},
			display: func(_ *store, v map[string]any) string {
				return fmt.Sprintf("%v - %v", v["assigned_object_type"], v["kind"])
			}},

		// netbox-proxbox plugin models (shared/spec/plugin-client-contract.md 4.1-4.3).
		{key: "netbox_proxbox.proxmoxendpoint", path: "plugins/proxbox/endpoints/proxmox", class: "ProxmoxEndpoint", verbose: "Proxmox endpoint", plugin: true,
			fields: []field{{name: "name", kind: kStr, nullable: true, maxLen: 255, def: "Proxmox Endpoint"},
				fk("ip_address", "ipam.ipaddress", delProtect), nstr("domain"), {name: "port", kind: kInt, def: int64(8006)},
				{name: "mode", kind: kChoice, choices: endpointMode, required: true}, nstrL("version", 20), nstrL("repoid", 16), str("username", 255),
				{name: "password", kind: kStr, nullable: true, def: "", secret: true}, str("token_name", 255), boolf("verify_ssl", true)},
			// The plugin's only constraint is (name, ip_address, domain) (models/proxmox_endpoint.py
			// in 0.0.24): a NULL never collides, so names repeat freely without an IP address.
			brief: []string{"name"}, uniques: []unique{named(together("Proxmox endpoint with this Name, IP address and Domain already exists.", "name", "ip_address", "domain"), "netbox_proxbox_proxmoxendpoint_identity")}},
		// ProxmoxCluster and ProxmoxNode as the plugin's models and serializers define them
		// (models/proxmox_cluster.py, proxmox_node.py, api/serializers/cluster.py@fed47142):
		// endpoint required, ip_address a required IP, node_count and the *_percent figures
		// computed (read only).
		{key: "netbox_proxbox.proxmoxcluster", path: "plugins/proxbox/proxmox-clusters", class: "ProxmoxCluster", verbose: "Proxmox cluster", plugin: true,
			fields: []field{reqFK("endpoint", "netbox_proxbox.proxmoxendpoint", delCascade), fk("netbox_cluster", "virtualization.cluster", delSetNull),
				reqStr("name", 255), str("cluster_id", 255), ch("mode", endpointMode, "cluster"),
				{name: "nodes_count", kind: kInt, def: int64(0)}, boolf("quorate", false), intf("version")},
			derived: []derived{{"node_count", func(v map[string]any) any { return v["nodes_count"] }}},
			brief:   []string{"name"}, uniques: []unique{together("Proxmox cluster with this Proxmox endpoint and Cluster name already exists.", "endpoint", "name")}},
		{key: "netbox_proxbox.proxmoxnode", path: "plugins/proxbox/proxmox-nodes", class: "ProxmoxNode", verbose: "Proxmox node", plugin: true,
			fields: []field{reqFK("endpoint", "netbox_proxbox.proxmoxendpoint", delCascade), fk("proxmox_cluster", "netbox_proxbox.proxmoxcluster", delSetNull),
				fk("netbox_device", "dcim.device", delSetNull), reqStr("name", 255), intf("node_id"),
				{name: "ip_address", kind: kStr, required: true}, boolf("online", false), boolf("local", false),
				{name: "cpu_usage", kind: kFloat, nullable: true}, intf("max_cpu"), intf("memory_usage"), intf("max_memory"),
				str("ssl_fingerprint", 255), str("support_level", 100), str("location", 255),
				fk("default_role_qemu", "dcim.devicerole", delSetNull), fk("default_role_lxc", "dcim.devicerole", delSetNull)},
			derived: []derived{
				{"cpu_usage_percent", func(v map[string]any) any { return v["cpu_usage"] }}, // stored as a percentage
				{"memory_usage_percent", func(v map[string]any) any { return percent(v["memory_usage"], v["max_memory"]) }}},
			brief: []string{"name", "online"}, uniques: []unique{together("Proxmox node with this Proxmox endpoint and Node name already exists.", "endpoint", "name")}},
		{key: "netbox_proxbox.proxmoxstorage", path: "plugins/proxbox/storage", class: "ProxmoxStorage", verbose: "Proxmox storage", plugin: true,
			fields: []field{reqFK("cluster", "virtualization.cluster", delCascade), reqStr("name", 255), nstrL("storage_type", 100),
				nstrL("content", 255), nstrL("path", 255), nstr("nodes"), boolf("shared", false), boolf("enabled", true),
				nstrL("server", 255), intf("port"), nstrL("username", 255), nstrL("export", 255), nstrL("share", 255), nstrL("pool", 255),
				nstrL("monhost", 512), nstrL("namespace", 255), nstrL("datastore", 255), nstrL("subdir", 255), nstrL("mountpoint", 255),
				nstrL("is_mountpoint", 255), nstrL("preallocation", 50), nstrL("format", 100),
				nstrL("prune_backups", 512), intf("max_protected_backups"), jsonf("raw_config")},
			brief: []string{"name"}, uniques: []unique{upserting(named(together("Proxmox Storage with this Cluster and Name already exists.", "cluster", "name"), "unique_proxmox_storage_cluster_name"))}},
		{key: "netbox_proxbox.vmbackup", path: "plugins/proxbox/backups", class: "VMBackup", verbose: "VM backup", plugin: true,
			fields: []field{reqFK("virtual_machine", "virtualization.virtualmachine", delCascade),
				fk("proxmox_storage", "netbox_proxbox.proxmoxstorage", delSetNull), nstrL("storage", 255),
				ch("subtype", backupSubtype, "undefined"), ch("format", backupFormat, "undefined"), timef("creation_time"),
				intf("size"), intf("used"), nstr("notes"), nstrL("volume_id", 255), intf("vmid"), str("encrypted", 255),
				nstrL("verification_state", 255), nstrL("verification_upid", 255)},
			brief:   []string{"volume_id"},
			display: func(_ *store, v map[string]any) string { s, _ := v["volume_id"].(string); return s },
			uniques: []unique{named(together("VM Backup with this Storage, Virtual machine, Subtype, Format, Volume id and Vmid already exists.",
				"storage", "virtual_machine", "subtype", "format", "volume_id", "vmid"), "unique_vm_backup_fields")}},
		{key: "netbox_proxbox.vmsnapshot", path: "plugins/proxbox/snapshots", class: "VMSnapshot", verbose: "VM snapshot", plugin: true,
			fields: []field{reqFK("virtual_machine", "virtualization.virtualmachine", delCascade),
				fk("proxmox_storage", "netbox_proxbox.proxmoxstorage", delSetNull), reqStr("name", 255), nstr("description"),
				{name: "vmid", kind: kInt, required: true}, reqStr("node", 255), timef("snaptime"), nstrL("parent", 255),
				ch("subtype", snapSubtype, "qemu"), ch("status", activeStale, "active")},
			brief: []string{"name"}, uniques: []unique{named(together("VM Snapshot with this Vmid, Name and Node already exists.", "vmid", "name", "node"), "unique_vm_snapshot_vmid_name_node")}},
		{key: "netbox_proxbox.vmtaskhistory", path: "plugins/proxbox/task-history", class: "VMTaskHistory", verbose: "VM Task History", plugin: true,
			fields: []field{reqFK("virtual_machine", "virtualization.virtualmachine", delCascade),
				{name: "vm_type", kind: kStr, maxLen: 16, def: "qemu"}, reqStr("upid", 255), reqStr("node", 255), intf("pid"),
				intf("pstart"), nstrL("task_id", 255), reqStr("task_type", 255), reqStr("username", 255),
				{name: "start_time", kind: kTime, required: true}, timef("end_time"), reqStr("description", 0),
				reqStr("status", 0), nstrL("task_state", 255), nstr("exitstatus")},
			brief:   []string{"upid"},
			display: func(_ *store, v map[string]any) string { s, _ := v["upid"].(string); return s },
			uniques: []unique{upserting(fieldUnique("upid"))}},
		{key: "netbox_proxbox.replication", path: "plugins/proxbox/replications", class: "Replication", verbose: "replication", plugin: true,
			fields: []field{fk("endpoint", "netbox_proxbox.proxmoxendpoint", delCascade), reqStr("replication_id", 255),
				reqFK("virtual_machine", "virtualization.virtualmachine", delCascade), fk("proxmox_node", "netbox_proxbox.proxmoxnode", delSetNull),
				{name: "guest", kind: kInt, required: true}, reqStr("target", 255), ch("job_type", replJobType, "local"), str("schedule", 128),
				{name: "rate", kind: kFloat, nullable: true}, nstr("comment"), boolf("disable", false), nstrL("source", 255), {name: "jobnum", kind: kInt, required: true},
				nch("remove_job", replRemoveJob), ch("status", activeStale, "active"), jsonf("raw_config")},
			brief:   []string{"replication_id"},
			display: func(_ *store, v map[string]any) string { s, _ := v["replication_id"].(string); return s },
			uniques: []unique{together("Replication with this Proxmox endpoint and Replication id already exists.", "endpoint", "replication_id")}},
		{key: "netbox_proxbox.backuproutine", path: "plugins/proxbox/backup-routines", class: "BackupRoutine", verbose: "backup routine", plugin: true,
			fields: []field{reqFK("endpoint", "netbox_proxbox.proxmoxendpoint", delCascade), reqStr("job_id", 255), boolf("enabled", true),
				str("schedule", 255), timef("next_run"), fk("node", "netbox_proxbox.proxmoxnode", delSetNull),
				fk("storage", "netbox_proxbox.proxmoxstorage", delSetNull), jsonf("selection"), str("comment", 0),
				ch("status", activeStale, "active"), intf("keep_last"), intf("keep_daily"), intf("keep_weekly"), intf("keep_monthly"),
				intf("keep_yearly"), {name: "keep_all", kind: kBool, nullable: true}, str("notes_template", 0), intf("bwlimit"), intf("zstd"),
				intf("io_workers"), str("fleecing", 255), fk("fleecing_storage", "netbox_proxbox.proxmoxstorage", delSetNull),
				{name: "repeat_missed", kind: kBool, nullable: true}, str("pbs_change_detection_mode", 50), jsonf("raw_config")},
			brief:   []string{"job_id"},
			display: func(_ *store, v map[string]any) string { s, _ := v["job_id"].(string); return s },
			uniques: []unique{together("Backup Routine with this Proxmox endpoint and Job ID already exists.", "endpoint", "job_id")}},
		{key: "netbox_proxbox.proxboxpluginsettings", path: "plugins/proxbox/settings", class: "ProxboxPluginSettings", verbose: "settings", plugin: true,
			fields: []field{boolf("use_guest_agent_interface_name", true), {name: "proxbox_fetch_max_concurrency", kind: kInt, def: int64(8)},
				boolf("ignore_ipv6_link_local_addresses", true), {name: "primary_ip_preference", kind: kStr, def: "ipv4", choices: []choice{{"ipv4", "IPv4"}, {"ipv6", "IPv6"}}},
				{name: "netbox_max_concurrent", kind: kInt, def: int64(4)}, {name: "netbox_max_retries", kind: kInt, def: int64(3)},
				{name: "netbox_retry_delay", kind: kFloat, def: 1.0}, {name: "netbox_get_cache_ttl", kind: kFloat, def: 60.0},
				{name: "bulk_batch_size", kind: kInt, def: int64(50)}, {name: "bulk_batch_delay_ms", kind: kInt, def: int64(0)},
				{name: "vm_sync_max_concurrency", kind: kInt, def: int64(4)}, {name: "custom_fields_request_delay", kind: kFloat, def: 0.0},
				str("backend_log_file_path", 255), boolf("ssrf_protection_enabled", true), boolf("allow_private_ips", true),
				str("additional_allowed_ip_ranges", 0), str("explicitly_blocked_ip_ranges", 0),
				{name: "encryption_key", kind: kStr, maxLen: 255, def: "", secret: true}}, // write-only since 6fb46b03
			display: func(_ *store, _ map[string]any) string { return "Proxbox plugin settings" }},
	}
	for _, m := range ms {
		m.byName = map[string]*field{}
		for i := range m.fields {
			m.byName[m.fields[i].name] = &m.fields[i]
		}
		if m.display == nil {
			m.display = nameDisplay
		}
		m.tags, m.cfs = true, true
		if m.key == "extras.tag" || m.key == "extras.journalentry" || m.key == "netbox_proxbox.proxboxpluginsettings" {
			m.tags = m.key == "extras.journalentry"
			m.cfs = m.key == "extras.journalentry"
		}
		if m.key == "extras.customfield" {
			m.tags, m.cfs = false, false
		}
		m.fullOut, m.briefOut = outNames(m), briefNames(m)
		m.fullSet = map[string]bool{}
		for _, n := range m.fullOut {
			m.fullSet[n] = true
		}
		if m.search == nil {
			for _, f := range []string{"name", "slug", "description"} {
				if m.byName[f] != nil {
					m.search = append(m.search, f)
				}
			}
		}
	}
	return ms
}
