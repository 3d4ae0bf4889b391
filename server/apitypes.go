package server

import (
	"github.com/proxbox/proxbox/netbox/getcache"
	pbsync "github.com/proxbox/proxbox/sync"
)

// The JSON bodies the handlers answer with. The OpenAPI document's schemas
// are generated from these types (openapi.go), and TestOpenAPIMatchesHandlers
// validates every handler's reply against them, so a field added here or in
// a handler shows up in /openapi.json or fails that test. A `doc` tag becomes
// the field's description, an `enum` tag (comma-separated) its allowed values.

type rootJSON struct {
	Name       string            `json:"name"`
	Message    string            `json:"message"`
	Version    string            `json:"version" doc:"appliance version"`
	APIVersion string            `json:"api_version" doc:"proxbox-api API level implemented"`
	Links      map[string]string `json:"links"`
}

type healthJSON struct {
	Status string `json:"status" enum:"ready,initializing" doc:"ready, or initializing while the store is unavailable"`
	InitOK bool   `json:"init_ok"`
	Detail string `json:"detail,omitempty"`
}

type versionJSON struct {
	Version          string `json:"version" doc:"proxbox-api API level (the plugin refuses backends below 0.0.13)"`
	ApplianceVersion string `json:"appliance_version"`
	Commit           string `json:"commit"`
}

type bootstrapJSON struct {
	NeedsBootstrap bool `json:"needs_bootstrap" doc:"true while no active API key exists"`
	HasDBKeys      bool `json:"has_db_keys"`
}

type keyRegistrationJSON struct {
	APIKey string `json:"api_key" doc:"the key to register, at least 32 characters"`
	Label  string `json:"label,omitempty" doc:"at most 255 characters"`
}

type registeredJSON struct {
	Detail string `json:"detail"`
	ID     int64  `json:"id"`
}

type keyLabelJSON struct {
	Label string `json:"label,omitempty"`
}

type keyListJSON struct {
	Keys []keyJSON `json:"keys"`
}

type createdKeyJSON struct {
	keyJSON
	RawKey string `json:"raw_key" doc:"the key itself, shown only in this reply"`
}

type messageJSON struct {
	Message string `json:"message"`
}

type deletedJSON struct {
	Message string `json:"message"`
	Detail  string `json:"detail"`
}

// netboxEndpointWrite documents the body of POST/PUT/PATCH /netbox/endpoint.
// The handler reads it field by field (readNetBox) so it also accepts the
// loose types the plugin sends: numbers as strings, booleans as "True"; the
// schema gives the canonical types.
type netboxEndpointWrite struct {
	Name         string `json:"name,omitempty" doc:"required on create; at most 255 characters"`
	IPAddress    string `json:"ip_address,omitempty" doc:"IP address (a /mask is dropped); ip_address or domain is required"`
	Domain       string `json:"domain,omitempty"`
	Port         int    `json:"port,omitempty" doc:"1..65535, default 443"`
	TokenVersion string `json:"token_version,omitempty" doc:"v1 (default) or v2"`
	VerifySSL    bool   `json:"verify_ssl,omitempty" doc:"default true"`
	Token        string `json:"token,omitempty" doc:"write-only; empty or null keeps the stored token"`
	TokenKey     string `json:"token_key,omitempty" doc:"write-only; v2 tokens only"`
}

// proxmoxEndpointWrite documents the body of POST/PUT/PATCH
// /proxmox/endpoints (read field by field by readProxmox).
type proxmoxEndpointWrite struct {
	Name         string  `json:"name,omitempty" doc:"required on create; unique"`
	IPAddress    string  `json:"ip_address,omitempty" doc:"ip_address or domain is required"`
	Domain       *string `json:"domain,omitempty"`
	Port         int     `json:"port,omitempty" doc:"1..65535, default 8006"`
	Username     string  `json:"username,omitempty" doc:"required on create, e.g. root@pam"`
	VerifySSL    bool    `json:"verify_ssl,omitempty" doc:"default true"`
	Password     *string `json:"password,omitempty" doc:"write-only; password, or token_name with token_value"`
	TokenName    *string `json:"token_name,omitempty"`
	TokenValue   *string `json:"token_value,omitempty" doc:"write-only"`
	Timeout      int     `json:"timeout,omitempty" doc:"seconds, 0..3600"`
	MaxRetries   int     `json:"max_retries,omitempty" doc:"0..100"`
	RetryBackoff float64 `json:"retry_backoff,omitempty" doc:"seconds, 0..600"`
}

type pxSessionJSON struct {
	Name         string  `json:"name" doc:"cluster name, node name (standalone) or host (restricted)"`
	IPAddress    string  `json:"ip_address"`
	Domain       *string `json:"domain"`
	HTTPPort     int     `json:"http_port"`
	User         string  `json:"user"`
	Mode         string  `json:"mode" enum:"cluster,standalone,restricted"`
	EndpointID   int64   `json:"endpoint_id"`
	EndpointName string  `json:"endpoint_name"`
	Connected    bool    `json:"connected"`
}

// pxNodeJSON is a node of GET /proxmox/cluster/status, a flat record after
// its cluster's record (never nested in node_list: v0.0.24 would count it twice).
type pxNodeJSON struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type" enum:"node"`
	IP     string `json:"ip"`
	Level  string `json:"level"`
	Local  int    `json:"local"`
	NodeID int    `json:"nodeid"`
	Online int    `json:"online"`
}

type pxClusterJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type" enum:"cluster"`
	Nodes      int    `json:"nodes"`
	Quorate    int    `json:"quorate"`
	Version    int    `json:"version"`
	Mode       string `json:"mode" enum:"cluster,standalone"`
	EndpointID int64  `json:"endpoint_id"`
}

type cacheOverviewJSON struct {
	ProxboxCache map[string]any         `json:"proxbox_cache" doc:"always empty (kept from proxbox-api)"`
	Metrics      getcache.MetricsJSON   `json:"netbox_get_cache_metrics"`
	Sample       []getcache.SampleEntry `json:"netbox_get_cache_sample" doc:"up to 20 keys, oldest first"`
}

type cacheSettingsJSON struct {
	Current  getcache.Settings `json:"current"`
	Defaults getcache.Settings `json:"defaults" doc:"the environment's limits"`
	Source   string            `json:"source" enum:"environment,settings" doc:"settings when a stored tuning wins over the environment"`
}

type logPageJSON struct {
	Logs          []logJSON         `json:"logs"`
	Total         int               `json:"total"`
	HasMore       bool              `json:"has_more"`
	ActiveFilters map[string]string `json:"active_filters"`
}

type logTokenJSON struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at" doc:"RFC 3339, 15 minutes from now"`
	LogsURL   string `json:"logs_url"`
	StreamURL string `json:"stream_url"`
}

type fullUpdateJSON struct {
	Status  string          `json:"status" enum:"completed,completed_with_errors,failed"`
	OK      bool            `json:"ok"`
	Summary *pbsync.Summary `json:"summary"`
}

type dependencyJSON struct {
	ObjectType string `json:"object_type"`
	Action     string `json:"action" enum:"created,updated"`
	Name       string `json:"name"`
	NetBoxID   *int64 `json:"netbox_id"`
}

// netboxObjectJSON is an alias of an unnamed struct so its schema is
// inlined where it may be null (OpenAPI 3.0 cannot mark a $ref nullable).
type netboxObjectJSON = struct {
	ID      int64  `json:"id"`
	Display string `json:"display"`
	Model   string `json:"model"`
}

type individualJSON struct {
	ObjectType         string            `json:"object_type"`
	ProxmoxResource    map[string]string `json:"proxmox_resource" doc:"the query parameters of the request"`
	Action             string            `json:"action" enum:"created,updated,deleted,skipped,unchanged,failed"`
	NetBoxObject       *netboxObjectJSON `json:"netbox_object"`
	DryRun             bool              `json:"dry_run"`
	DependenciesSynced []dependencyJSON  `json:"dependencies_synced"`
	Error              *string           `json:"error"`
}

// ptrIfNonZero is nil (JSON null) for a zero id.
func ptrIfNonZero(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// firewallSummaryJSON is one endpoint of GET /proxmox/firewall/summary, in
// Proxmox's own record shapes.
type firewallSummaryJSON struct {
	ClusterName    string           `json:"cluster_name" doc:"the name the plugin's ProxmoxCluster row of this endpoint carries"`
	EndpointID     int64            `json:"endpoint_id"`
	SecurityGroups []map[string]any `json:"security_groups" doc:"/cluster/firewall/groups, each with name (its group) and rules"`
	Rules          []map[string]any `json:"rules" doc:"/cluster/firewall/rules"`
	IPSets         []map[string]any `json:"ip_sets" doc:"/cluster/firewall/ipset, each with its entries"`
	Aliases        []map[string]any `json:"aliases" doc:"/cluster/firewall/aliases"`
	Options        map[string]any   `json:"options" doc:"/cluster/firewall/options"`
}

// haSummaryJSON is GET /proxmox/cluster/ha/summary: Proxmox's rows, each
// with cluster_name; resources carry their runtime state.
type haSummaryJSON struct {
	Status    []map[string]any `json:"status" doc:"/cluster/ha/status/current"`
	Groups    []map[string]any `json:"groups" doc:"/cluster/ha/groups (PVE 8)"`
	Resources []map[string]any `json:"resources" doc:"/cluster/ha/resources with node, crm_state, request_state and status"`
	Rules     []map[string]any `json:"rules" doc:"/cluster/ha/rules (PVE 9)"`
}

type haActionJSON struct {
	ClusterName string  `json:"cluster_name"`
	EndpointID  int64   `json:"endpoint_id"`
	Status      string  `json:"status" doc:"ok or error"`
	Error       *string `json:"error"`
}

// bootstrapStatusJSON is GET /extras/bootstrap-status, proxbox-api's shape
// plus missing and outdated.
type bootstrapStatusJSON struct {
	OK        bool                `json:"ok" doc:"true when NetBox holds every proxbox tag and custom field as proxbox writes them"`
	Skipped   bool                `json:"skipped" doc:"true when NetBox could not be asked (no NetBox endpoint)"`
	Reason    *string             `json:"reason"`
	Warnings  []map[string]string `json:"warnings"`
	Created   []string            `json:"created"`
	Patched   []string            `json:"patched"`
	Unchanged []string            `json:"unchanged"`
	Missing   []string            `json:"missing"`
	Outdated  []string            `json:"outdated"`
}
