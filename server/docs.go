package server

import "strings"

// routeDocs documents every route the server registers ("METHOD path" in
// echo's syntax). The OpenAPI document carries them, and a test fails when
// a route is registered without one.
var routeDocs = map[string]string{
	"GET /":                                             "Describe the service (JSON); browsers asking for HTML are sent to the dashboard.",
	"GET /health":                                       "Readiness: {status, init_ok}.",
	"GET /version":                                      "API level, appliance version and commit.",
	"GET /openapi.json":                                 "This document.",
	"GET /docs":                                         "This document, rendered.",
	"GET /ca.pem":                                       "The local CA's root certificate (PEM), to trust on the NetBox host.",
	"GET /static/*":                                     "Embedded browser assets.",
	"GET /metrics":                                      "Prometheus exposition: cache, sync runs and objects, NetBox and Proxmox requests, Go runtime.",
	"GET /auth/bootstrap-status":                        "Whether an API key still has to be registered.",
	"POST /auth/register-key":                           "Register the first API key (open only while none exists, to PROXBOX_BOOTSTRAP_FROM, 10 a minute per client): 201, or 409.",
	"GET /auth/keys":                                    "List API keys (never their values).",
	"POST /auth/keys":                                   "Create an API key; its value is shown once, in this reply.",
	"DELETE /auth/keys/:id":                             "Delete an API key.",
	"POST /auth/keys/:id/activate":                      "Activate an API key.",
	"POST /auth/keys/:id/deactivate":                    "Deactivate an API key.",
	"GET /netbox/endpoint":                              "List the NetBox endpoint (a bare JSON array).",
	"POST /netbox/endpoint":                             "Create the NetBox endpoint (one at most).",
	"GET /netbox/endpoint/:id":                          "Read the NetBox endpoint.",
	"PUT /netbox/endpoint/:id":                          "Update the NetBox endpoint; an empty token keeps the stored one.",
	"PATCH /netbox/endpoint/:id":                        "Update some fields of the NetBox endpoint.",
	"DELETE /netbox/endpoint/:id":                       "Delete the NetBox endpoint.",
	"GET /proxmox/endpoints":                            "List Proxmox endpoints (a bare JSON array).",
	"POST /proxmox/endpoints":                           "Create a Proxmox endpoint (password, or token name and value).",
	"GET /proxmox/endpoints/:id":                        "Read a Proxmox endpoint.",
	"PUT /proxmox/endpoints/:id":                        "Update a Proxmox endpoint; credential fields sent are the new truth.",
	"PATCH /proxmox/endpoints/:id":                      "Update some fields of a Proxmox endpoint.",
	"DELETE /proxmox/endpoints/:id":                     "Delete a Proxmox endpoint.",
	"GET /proxmox/sessions":                             "One record per selected Proxmox endpoint: name, mode, host.",
	"GET /proxmox/version":                              "Proxmox VE version per endpoint: [{name: version}].",
	"GET /proxmox/cluster/status":                       "One cluster record per endpoint (standalone: named after its node), each followed by its nodes as flat records (both plugin generations parse it).",
	"GET /proxmox/cluster/resources":                    "Cluster resources per endpoint, flat records; type= filters.",
	"GET /proxmox/cluster/backup":                       "Backup jobs of every endpoint, each with cluster_name.",
	"GET /proxmox/replication":                          "Replication jobs of every endpoint, each with cluster_name.",
	"GET /proxmox/nodes/":                               "Every node of every endpoint: [{name: [nodes]}].",
	"GET /proxmox/nodes":                                "Same as /proxmox/nodes/ (no redirect).",
	"GET /proxmox/storage":                              "Storage definitions per endpoint.",
	"GET /proxmox/nodes/:node/storage/:storage/content": "Storage content of one node (content=, vmid= filter).",
	"GET /proxmox/nodes/:node/network":                  "Network interfaces of one node.",
	"GET /proxmox/nodes/:node/qemu/:vmid/firewall":      "Firewall options of one QEMU guest.",
	"GET /proxmox/:node/:type/:vmid/config":             "Raw config of one guest (type qemu or lxc).",
	"GET /proxmox/firewall/summary":                     "Datacenter firewall of every selected endpoint: security groups with rules, rules, IP sets with entries, aliases, options.",
	"GET /proxmox/datacenter/cpu-models":                "Custom CPU models of every selected endpoint, each with cluster_name (none before PVE 9.2).",
	"GET /proxmox/cluster/ha/summary":                   "HA status, groups (PVE 8), resources and rules (PVE 9) of the selected endpoints.",
	"GET /proxmox/cluster/ha/resources/by-vm/:vmid":     "The HA resource of one guest with its runtime state, or null.",
	"POST /proxmox/cluster/ha/arm":                      "Arm HA on the selected endpoints (PVE 9.2); needs PROXBOX_PROXMOX_WRITES.",
	"POST /proxmox/cluster/ha/disarm":                   "Disarm HA on the selected endpoints (PVE 9.2); needs PROXBOX_PROXMOX_WRITES.",
	"GET /extras/bootstrap-status":                      "Whether NetBox holds the proxbox tags and custom fields (read only).",
	"POST /extras/custom-fields/reconcile":              "Create or repair the proxbox tags and custom fields in NetBox now.",
	"GET /full-update":                                  "Run every stage once and answer the summary (JSON).",
	"GET /full-update/stream":                           "Run every stage once, streaming progress (SSE).",
	"GET /sync/individual/:kind":                        "Sync the stage owning one object kind and report what happened to the named object.",
	"POST /sync/individual/:kind":                       "Same as GET.",
	"GET /cache":                                        "NetBox GET cache: metrics and a sample of keys.",
	"GET /cache/metrics":                                "NetBox GET cache metrics (JSON).",
	"GET /cache/metrics/prometheus":                     "NetBox GET cache metrics (Prometheus text, proxbox-api names).",
	"GET /clear-cache":                                  "Empty the NetBox GET cache (proxbox-api's route).",
	"POST /cache/clear":                                 "Empty the NetBox GET cache.",
	"GET /cache/settings":                               "Cache limits in force, the environment's defaults, and where they come from.",
	"PUT /cache/settings":                               "Tune the cache (ttl_seconds, max_entries, max_bytes); applied at once and stored.",
	"DELETE /cache/settings":                            "Return to the environment's cache limits.",
	"GET /sync/watch":                                   "Whether the near-real-time watch runs (PROXBOX_WATCH) and, per watched endpoint, its polls, last change seen and that change's delay to NetBox.",
	"GET /sync/runs/:id/changes":                        "Every change of a stored sync run (its stored summary lists some per kind): model, op, failed=true, offset, limit (<= 1000).",
	"GET /admin/logs":                                   "Stored log entries (level, errors_only, operation_id, since, newer_than_id, older_than_id, limit).",
	"GET /admin/logs/stream":                            "Live log tail (SSE, event: log).",
	"POST /admin/logs/token":                            "A 15-minute token that opens the log URLs without the key header (?token=).",
	"GET /ws":                                           "Legacy WebSocket: first frame {api_key}, then text commands.",
}

// routeDoc returns the documentation of a route; the plugin's stage streams
// are documented from their table.
func routeDoc(method, path string) (string, bool) {
	if d, ok := routeDocs[method+" "+path]; ok {
		return d, true
	}
	for _, n := range firewallNouns {
		switch path {
		case "/proxmox/firewall/datacenter/" + n.noun:
			return "Datacenter firewall " + n.noun + " of the selected endpoint, as Proxmox reports them.", true
		case "/proxmox/firewall/nodes/:node/" + n.noun:
			return "Firewall " + n.noun + " of one node, as Proxmox reports them.", true
		case "/proxmox/firewall/vms/:vmid/" + n.noun:
			return "Firewall " + n.noun + " of one guest (vm_type=, node=), as Proxmox reports them.", true
		}
	}
	for _, r := range writeRoutes {
		if r.method == method && r.path == path {
			return r.what + ": not available (403 while PROXBOX_PROXMOX_WRITES is off, else 501).", true
		}
	}
	for _, r := range unavailableRoutes {
		if r.method == method && r.path == path {
			return "Not available in proxbox: " + r.detail, true
		}
	}
	if method == "GET" && strings.HasSuffix(path, "/stream") {
		for _, r := range stageRoutes {
			if r.path == path {
				if strings.Contains(path, ":vm_id") {
					return "Run the " + r.stage + " stage for the endpoints of one NetBox VM, streaming progress (SSE).", true
				}
				return "Run the " + r.stage + " stage (the plugin's " + r.step + "), streaming progress (SSE); complete is always the last frame.", true
			}
		}
	}
	return "", false
}
