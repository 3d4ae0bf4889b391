package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
	"github.com/labstack/echo/v4"

	"github.com/proxbox/proxbox/netbox/getcache"
)

// opSpec documents what one route reads and answers: its request body and
// query parameters, and every status it answers with the Go type of the
// body. Schemas are generated from those types by reflection
// (kin-openapi's openapi3gen), so the document follows the code; 401 and
// 429 are added to every route that needs the API key.
//
// Every route registered on the server needs an entry in routeSpecs (or, for
// the plugin's stage streams, in stageRoutes): TestEveryRouteHasASpec fails
// otherwise, and TestOpenAPIMatchesHandlers drives every documented status
// and validates the body against the document.
type opSpec struct {
	body         any // zero value of the request body type; nil: no body
	bodyOptional bool
	query        []queryParam
	responses    []resp
}

type queryParam struct {
	name, desc string
	integer    bool
}

// resp is one documented status. body is a zero value of the Go type the
// handler answers (nil: no body); oneOf, for arrays that mix record kinds,
// lists the item types.
type resp struct {
	status int
	desc   string
	ctype  string
	body   any
	oneOf  []any
	// nullable: the body may also be JSON null (an inline schema only).
	nullable bool
}

const (
	ctJSON = "application/json"
	ctSSE  = "text/event-stream"
	ctText = "text/plain"
	ctHTML = "text/html"
	ctPEM  = "application/x-pem-file"
)

func ok(status int, desc string, body any) resp {
	return resp{status: status, desc: desc, ctype: ctJSON, body: body}
}

func text(status int, ctype, desc string) resp {
	return resp{status: status, desc: desc, ctype: ctype, body: ""}
}

func noBody(status int, desc string) resp { return resp{status: status, desc: desc} }

// e is an error status answered with the JSON error body.
func e(status int, desc string) resp {
	return resp{status: status, desc: desc, ctype: ctJSON, body: apiError{}}
}

func q(name, desc string) queryParam    { return queryParam{name: name, desc: desc} }
func qInt(name, desc string) queryParam { return queryParam{name: name, desc: desc, integer: true} }

func join[T any](parts ...[]T) []T {
	var out []T
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var (
	pageQuery = []queryParam{qInt("offset", "skip this many records"), qInt("limit", "at most this many records")}
	pxQuery   = []queryParam{
		q("source", "database (the stored endpoints; netbox is accepted as a synonym)"),
		q("ip_address", "select the endpoint with this IP address"),
		q("domain", "select the endpoint with this domain (when no ip_address)"),
		q("name", "select the endpoint with this name (when no ip_address or domain)"),
		q("endpoint_ids", "comma-separated store ids"),
		q("proxmox_endpoint_ids", "same as endpoint_ids"),
	}
	nodeQuery  = join(pxQuery, []queryParam{q("cluster_name", "the session (cluster) that has the node")})
	stageQuery = []queryParam{
		q("proxmox_endpoint_ids", "comma-separated endpoints to sync (the plugin's ids, matched by the \"(nb:<id>)\" name suffix, or store ids); empty: all"),
		q("use_guest_agent_interface_name", "true/false: interface names from the guest agent"),
		q("ignore_ipv6_link_local_addresses", "true/false: skip fe80::/10 addresses"),
		q("delete_nonexistent_backup", "true/false"),
		q("delete_nonexistent_snapshot", "true/false"),
		q("primary_ip_preference", "ipv4 or ipv6"),
		qInt("fetch_max_concurrency", "Proxmox requests in flight per endpoint, 1..64"),
		q("netbox_vm_ids", "comma-separated NetBox VM ids to restrict the run to"),
	}
	logQuery = []queryParam{
		q("level", "DEBUG, INFO, WARNING or ERROR"), q("errors_only", "true: ERROR only"), q("operation_id", "one run's records"),
		q("q", "text the message contains"), q("since", "RFC 3339 time or date"), qInt("newer_than_id", ""), qInt("older_than_id", ""),
		qInt("limit", "1..1000, default 200"), q("token", "a token from POST /admin/logs/token, instead of the key header"),
	}
	individualQuery = join(stageQuery, []queryParam{
		q("dry_run", "true: plan only, write nothing"), q("cluster_name", "restrict to the endpoint serving this cluster"),
		q("type", "qemu or lxc (vm)"), q("vm_type", "alias of type"), q("vmid", ""), q("node", ""), q("node_name", ""),
		q("disk_name", ""), q("interface_name", ""), q("ip_address", ""), q("storage", ""), q("storage_name", ""),
		q("volid", ""), q("snapshot_name", ""), q("upid", ""), q("replication_id", ""),
	})
)

// proxmoxRecords is what Proxmox answers, passed through unchanged.
type proxmoxRecords = json.RawMessage

// perSession is [{"<session name>": <Proxmox data>}], one item per endpoint.
type perSession = []map[string]json.RawMessage

var (
	pxSelectErrors = []resp{e(400, "Invalid selector, or no endpoint matches it."), e(404, "No Proxmox endpoint configured.")}
	upstream       = e(502, "Proxmox failed or refused the read (the reason is in detail).")
	badID          = e(422, "The id is not a positive integer.")
	syncRefused    = e(400, "No NetBox or no Proxmox endpoint is configured, or proxmox_endpoint_ids is invalid.")
)

func endpointSpecs(prefix, what string, list, one, write any, conflictOnUpdate bool) map[string]opSpec {
	notFound := e(404, what+" not found.")
	bad := e(400, "Invalid value (token version, credentials, host or target).")
	malformed := "Malformed body, a field of the wrong type, or a required field missing."
	writeErrs := []resp{bad, e(422, malformed)}
	update := opSpec{body: write, responses: []resp{ok(200, "The updated "+what+".", one), notFound, bad, e(422, "The id is not a positive integer, or: "+malformed)}}
	if conflictOnUpdate {
		update.responses = append(update.responses, e(409, "Another "+what+" has that name."))
	}
	create := map[bool]string{false: "The " + what + " exists already (one at most).", true: "An " + what + " with that name exists."}[conflictOnUpdate]
	return map[string]opSpec{
		"GET " + prefix:             {query: pageQuery, responses: []resp{ok(200, "Every "+what+" (a bare JSON array; secrets are reported as *_set booleans).", list)}},
		"POST " + prefix:            {body: write, responses: join([]resp{ok(201, "The created "+what+".", one), e(409, create)}, writeErrs)},
		"GET " + prefix + "/:id":    {responses: []resp{ok(200, "The "+what+".", one), notFound, badID}},
		"PUT " + prefix + "/:id":    update,
		"PATCH " + prefix + "/:id":  update,
		"DELETE " + prefix + "/:id": {responses: []resp{ok(200, "Deleted.", deletedJSON{}), notFound, badID}},
	}
}

func perSessionSpec(extra ...queryParam) opSpec {
	return opSpec{query: join(pxQuery, extra), responses: join([]resp{ok(200, "One item per endpoint: {\"<cluster or node name>\": <Proxmox data>}.", perSession{}), upstream}, pxSelectErrors)}
}

func flatSpec(what string) opSpec {
	return opSpec{query: pxQuery, responses: join([]resp{ok(200, what+" of every endpoint as Proxmox reports them, each with cluster_name; an endpoint that fails gives one {cluster_name, status: error, error} record.", []map[string]any{})}, pxSelectErrors)}
}

func nodeSpec(desc string, extra ...queryParam) opSpec {
	return opSpec{query: join(nodeQuery, extra), responses: join([]resp{ok(200, desc, proxmoxRecords{}), upstream}, []resp{pxSelectErrors[0], e(404, "No Proxmox endpoint configured, or no endpoint has that node.")})}
}

var (
	stageStreamSpec = opSpec{query: stageQuery, responses: []resp{
		text(200, ctSSE, "Server-sent events in the plugin's vocabulary: step, substep, item_progress, phase_summary, error_detail, error, and complete (always last; data {ok, message, result, errors})."),
		syncRefused}}
	individualSpec = opSpec{query: individualQuery, responses: []resp{
		ok(200, "What happened to the named object, and the objects created or updated on the way.", individualJSON{}),
		syncRefused, e(404, "Unknown kind, or no endpoint serves cluster_name."),
		ok(502, "The run failed (action failed, the reason in error).", individualJSON{})}}
)

var haActionSpec = opSpec{query: pxQuery, responses: join([]resp{
	ok(200, "One result per selected endpoint (a Proxmox before 9.2 answers status error).", []haActionJSON{}),
	e(403, writesDisabled)}, pxSelectErrors)}

// bootstrapItemJSON documents sync.BootstrapItem.
type bootstrapItemJSON struct {
	Kind   string `json:"kind" doc:"tag or custom_field"`
	Name   string `json:"name"`
	ID     int64  `json:"id,omitempty"`
	Action string `json:"action" doc:"created, updated, unchanged or failed"`
	Error  string `json:"error,omitempty"`
}

// routeSpecs documents every route but the stage streams ("METHOD path" in
// echo's syntax, as routeDocs).
var routeSpecs = func() map[string]opSpec {
	m := map[string]opSpec{
		"GET /": {responses: []resp{ok(200, "The service description.", rootJSON{}), noBody(http.StatusSeeOther, "A browser (Accept: text/html) is sent to /ui/ when the dashboard is mounted.")}},
		"GET /health": {responses: []resp{ok(200, "Ready.", healthJSON{}),
			ok(503, "The store is unavailable.", healthJSON{})}},
		"GET /version":      {responses: []resp{ok(200, "Versions.", versionJSON{})}},
		"GET /openapi.json": {responses: []resp{ok(200, "This OpenAPI 3.0 document.", map[string]any{})}},
		"GET /docs":         {responses: []resp{text(200, ctHTML, "Redoc page (a route list without JavaScript).")}},
		"GET /ca.pem":       {responses: []resp{text(200, ctPEM, "The local CA's root certificate."), e(404, "TLS is not in local or acme mode: there is no local CA.")}},
		"GET /metrics":      {responses: []resp{text(200, ctText, "Prometheus text exposition.")}},

		"GET /auth/bootstrap-status": {responses: []resp{ok(200, "Whether a first key can still be registered.", bootstrapJSON{})}},
		"POST /auth/register-key": {body: keyRegistrationJSON{}, responses: []resp{ok(201, "Registered.", registeredJSON{}),
			e(400, "The key is shorter than 32 characters."), e(403, "The client is outside PROXBOX_BOOTSTRAP_FROM."), e(409, "An API key is already configured."),
			e(422, "api_key missing or over 72 bytes, label too long or not text, or the body is not JSON."), e(429, "Too many bootstrap attempts from this client.")}},
		"GET /auth/keys": {responses: []resp{ok(200, "Every key (never its value).", keyListJSON{})}},
		"POST /auth/keys": {body: keyLabelJSON{}, bodyOptional: true, responses: []resp{ok(201, "The new key; raw_key is shown only here.", createdKeyJSON{}),
			e(422, "The body is not JSON.")}},
		"DELETE /auth/keys/:id":          {responses: []resp{noBody(204, "Deleted."), e(404, "API key not found."), badID}},
		"POST /auth/keys/:id/activate":   {responses: []resp{ok(200, "The key, active.", keyJSON{}), e(404, "API key not found."), badID}},
		"POST /auth/keys/:id/deactivate": {responses: []resp{ok(200, "The key, inactive.", keyJSON{}), e(404, "API key not found."), badID}},

		"GET /proxmox/sessions": {query: pxQuery, responses: join([]resp{ok(200, "One record per selected endpoint.", []pxSessionJSON{})}, pxSelectErrors)},
		"GET /proxmox/version":  perSessionSpec(),
		"GET /proxmox/cluster/status": {query: pxQuery, responses: join([]resp{
			{status: 200, ctype: ctJSON, desc: "Per endpoint, its cluster record (mode cluster or standalone) followed by its nodes as flat type=node records.", oneOf: []any{pxClusterJSON{}, pxNodeJSON{}}},
			upstream}, pxSelectErrors)},
		"GET /proxmox/cluster/resources": perSessionSpec(q("type", "vm, storage, node or sdn")),
		"GET /proxmox/cluster/backup":    flatSpec("Backup jobs"),
		"GET /proxmox/replication":       flatSpec("Replication jobs"),
		"GET /proxmox/nodes/":            perSessionSpec(),
		"GET /proxmox/nodes":             perSessionSpec(),
		"GET /proxmox/storage":           perSessionSpec(),
		"GET /proxmox/nodes/:node/storage/:storage/content": {query: join(nodeQuery, []queryParam{q("content", "backup, images, iso..."), qInt("vmid", "")}),
			responses: join([]resp{ok(200, "Proxmox's storage content records.", proxmoxRecords{}), e(502, "Proxmox refused the read: node or storage not found.")},
				[]resp{pxSelectErrors[0], e(404, "No Proxmox endpoint configured, or no endpoint has that node.")})},
		"GET /proxmox/nodes/:node/network": nodeSpec("Proxmox's network interface records of the node.", q("type", "bridge, bond, eth...")),
		"GET /proxmox/nodes/:node/qemu/:vmid/firewall": func() opSpec {
			s := nodeSpec("Proxmox's firewall options of the guest.")
			s.responses = append(s.responses, e(422, "vmid is not a positive integer."))
			return s
		}(),
		"GET /proxmox/:node/:type/:vmid/config": {query: nodeQuery, responses: []resp{
			ok(200, "The guest's config as Proxmox reports it (null values dropped).", map[string]any{}),
			e(400, "type is not qemu or lxc, the selector matches nothing, or Proxmox has no such guest."),
			e(404, "No Proxmox endpoint configured, or no endpoint has that node."),
			e(422, "vmid is not a positive integer."),
			e(502, "Proxmox answered something that is not an object.")}},

		"GET /proxmox/firewall/summary": {query: pxQuery, responses: join([]resp{
			ok(200, "One entry per endpoint whose firewall could be read completely (others are left out and logged).", []firewallSummaryJSON{}),
			e(502, "No selected endpoint's firewall could be read.")}, pxSelectErrors)},
		"GET /proxmox/datacenter/cpu-models": {query: pxQuery, responses: join([]resp{
			ok(200, "Custom CPU models of every selected endpoint, each with cluster_name (PVE before 9.2 has none).", []map[string]any{}),
			e(502, "No selected endpoint answered.")}, pxSelectErrors)},
		"GET /proxmox/cluster/ha/summary": {query: pxQuery, responses: join([]resp{
			ok(200, "HA status, groups, resources and rules of the selected endpoints, each row with cluster_name.", haSummaryJSON{}),
			e(502, "No selected endpoint's HA state could be read.")}, pxSelectErrors)},
		"GET /proxmox/cluster/ha/resources/by-vm/:vmid": {query: pxQuery, responses: join([]resp{
			{status: 200, ctype: ctJSON, desc: "The HA resource of the guest (vm:<vmid>, else ct:<vmid>) with its runtime state, or null when HA does not manage it.", body: proxmoxRecords{}, nullable: true},
			e(422, "vmid is not a positive integer."), e(502, "No selected endpoint's HA state could be read.")}, pxSelectErrors)},
		"POST /proxmox/cluster/ha/arm":    haActionSpec,
		"POST /proxmox/cluster/ha/disarm": haActionSpec,
		"GET /extras/bootstrap-status":    {responses: []resp{ok(200, "Whether NetBox holds the proxbox tags and custom fields (a read-only comparison; skipped without a NetBox endpoint).", bootstrapStatusJSON{})}},
		"POST /extras/custom-fields/reconcile": {responses: []resp{
			ok(200, "Each proxbox tag and custom field with what was done: created, updated or unchanged.", []bootstrapItemJSON{}),
			e(400, "No NetBox endpoint is configured."), e(502, "NetBox refused a write or could not be read.")}},

		"GET /full-update":            {query: stageQuery, responses: []resp{ok(200, "Every stage ran once; the run's summary.", fullUpdateJSON{}), e(400, "No endpoint is configured, proxmox_endpoint_ids is invalid, or the run could not start.")}},
		"GET /full-update/stream":     {query: stageQuery, responses: stageStreamSpec.responses},
		"GET /sync/individual/:kind":  individualSpec,
		"POST /sync/individual/:kind": individualSpec,
		"GET /sync/watch":             {responses: []resp{ok(200, "Whether the watch runs (PROXBOX_WATCH) and, per watched endpoint, its polls, last change seen and that change's delay to NetBox.", watchJSON{})}},
		"GET /ws":                     {responses: []resp{noBody(http.StatusSwitchingProtocols, "WebSocket: first text frame {\"api_key\": ...}, then the commands \"Full Update Sync\", \"Sync Nodes\", \"Sync Virtual Machines\"; a refused key closes with 4001.")}},

		"GET /cache":                    {responses: []resp{ok(200, "Metrics and a sample of keys.", cacheOverviewJSON{})}},
		"GET /cache/metrics":            {responses: []resp{ok(200, "Counters since the last clear and the current gauges.", getcache.MetricsJSON{})}},
		"GET /cache/metrics/prometheus": {responses: []resp{text(200, ctText, "The same metrics, Prometheus text with proxbox-api's names.")}},
		"GET /clear-cache":              {responses: []resp{ok(200, "Emptied.", messageJSON{})}},
		"POST /cache/clear":             {responses: []resp{ok(200, "Emptied.", messageJSON{})}},
		"GET /cache/settings":           {responses: []resp{ok(200, "Limits in force and their source.", cacheSettingsJSON{})}},
		"PUT /cache/settings": {body: cacheSettingsWrite{}, responses: []resp{ok(200, "Applied at once and stored.", cacheSettingsJSON{}),
			e(422, "A limit is out of range (fields names each one).")}},
		"DELETE /cache/settings": {responses: []resp{ok(200, "Back to the environment's limits.", cacheSettingsJSON{})}},

		"GET /sync/runs/:id/changes": {query: []queryParam{q("model", "NetBox model label"), q("op", "create, update, orphan, delete or skip"),
			q("failed", "true: failed changes only"), qInt("offset", "skip this many matching changes"), qInt("limit", "0..1000, default 100")},
			responses: []resp{ok(200, "The matching changes, a page of them.", runChangesJSON{}), e(404, "Sync run not found."),
				e(422, "id, offset or limit is not a valid integer.")}},

		"GET /admin/logs":        {query: logQuery, responses: []resp{ok(200, "Stored log records, newest first.", logPageJSON{})}},
		"GET /admin/logs/stream": {query: logQuery, responses: []resp{text(200, ctSSE, "The stored records newer than newer_than_id, then live ones, as \"event: log\" frames."), e(503, "Live logs are not available.")}},
		"POST /admin/logs/token": {responses: []resp{ok(201, "A token valid 15 minutes and the log URLs that carry it.", logTokenJSON{})}},
	}
	for _, n := range firewallNouns {
		desc := "Proxmox's firewall " + n.noun + " as it reports them."
		if n.datacenter {
			m["GET /proxmox/firewall/datacenter/"+n.noun] = opSpec{query: pxQuery, responses: join([]resp{ok(200, desc, proxmoxRecords{}), upstream}, pxSelectErrors)}
		}
		if n.node {
			m["GET /proxmox/firewall/nodes/:node/"+n.noun] = nodeSpec(desc)
		}
		if n.guest {
			m["GET /proxmox/firewall/vms/:vmid/"+n.noun] = opSpec{query: join(pxQuery, []queryParam{q("vm_type", "qemu or lxc"), q("node", "the guest's node")}),
				responses: []resp{ok(200, desc, proxmoxRecords{}), upstream, e(400, "Invalid vm_type or selector."),
					e(404, "No Proxmox endpoint configured, or no selected endpoint has the guest."), e(422, "vmid is not a positive integer.")}}
		}
	}
	for _, r := range writeRoutes {
		m[r.method+" "+r.path] = opSpec{bodyOptional: true, responses: []resp{e(403, writesDisabled), e(501, r.what+" is not available in proxbox (writes enabled).")}}
	}
	for _, r := range unavailableRoutes {
		m[r.method+" "+r.path] = opSpec{bodyOptional: true, responses: []resp{e(r.status, r.detail)}}
	}
	for k, v := range endpointSpecs("/netbox/endpoint", "NetBox endpoint", []netboxEndpointJSON{}, netboxEndpointJSON{}, netboxEndpointWrite{}, false) {
		m[k] = v
	}
	for k, v := range endpointSpecs("/proxmox/endpoints", "Proxmox endpoint", []proxmoxEndpointJSON{}, proxmoxEndpointJSON{}, proxmoxEndpointWrite{}, true) {
		m[k] = v
	}
	return m
}()

// cacheSettingsWrite documents PUT /cache/settings: fields absent keep
// their current value.
type cacheSettingsWrite struct {
	TTLSeconds *float64 `json:"ttl_seconds,omitempty" doc:"seconds a NetBox GET answer is reused; 0 disables the cache"`
	MaxEntries *int     `json:"max_entries,omitempty"`
	MaxBytes   *int64   `json:"max_bytes,omitempty"`
}

// routeSpec returns the spec of a route: routeSpecs, or the stage streams'
// common one.
func routeSpec(method, path string) (opSpec, bool) {
	if s, ok := routeSpecs[method+" "+path]; ok {
		return s, true
	}
	if method == http.MethodGet {
		for _, r := range stageRoutes {
			if r.path == path {
				return stageStreamSpec, true
			}
		}
	}
	return opSpec{}, false
}

// documented reports whether a route appears in the OpenAPI document (the
// dashboard and its assets do not).
func documented(r *echo.Route) bool {
	return r.Method != echo.RouteNotFound && !strings.HasPrefix(r.Path, "/ui") && !strings.HasPrefix(r.Path, "/static")
}

// buildOpenAPI describes the routes actually registered, so the document
// never drifts from the router.
func (s *Server) buildOpenAPI() (*openapi3.T, error) {
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{
			Title:       "proxbox",
			Version:     APILevel,
			Description: "Backend of the netbox-proxbox NetBox plugin: endpoint configuration, API keys, Proxmox reads and sync streams. Protected routes need the header X-Proxbox-API-Key. Errors are JSON with detail (and message).",
		},
		Paths: openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas: openapi3.Schemas{},
			SecuritySchemes: openapi3.SecuritySchemes{
				"APIKeyHeader": {Value: openapi3.NewSecurityScheme().WithType("apiKey").WithIn("header").WithName(APIKeyHeader)},
			},
		},
	}
	gen := newSchemaGen(doc.Components.Schemas)
	routes := s.e.Routes()
	sort.Slice(routes, func(i, j int) bool { return routes[i].Path+routes[i].Method < routes[j].Path+routes[j].Method })
	for _, r := range routes {
		if !documented(r) {
			continue
		}
		op, err := s.operation(gen, r)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.Method, r.Path, err)
		}
		p := openAPIPath(r.Path)
		item := doc.Paths.Value(p)
		if item == nil {
			item = &openapi3.PathItem{}
			doc.Paths.Set(p, item)
		}
		item.SetOperation(r.Method, op)
	}
	if gen.err != nil {
		return nil, gen.err
	}
	for _, sc := range doc.Components.Schemas {
		dropRepeatedDescriptions(sc)
	}
	return doc, nil
}

// dropRepeatedDescriptions clears the description the generator copies
// from a field onto its items or values.
func dropRepeatedDescriptions(r *openapi3.SchemaRef) {
	if r == nil || r.Value == nil {
		return
	}
	for _, p := range r.Value.Properties {
		if p.Value == nil || p.Value.Description == "" {
			continue
		}
		for _, child := range []*openapi3.SchemaRef{p.Value.Items, p.Value.AdditionalProperties.Schema} {
			if child != nil && child.Ref == "" && child.Value != nil && child.Value.Description == p.Value.Description {
				child.Value.Description = ""
			}
		}
	}
}

func (s *Server) operation(gen *schemaGen, r *echo.Route) (*openapi3.Operation, error) {
	op := openapi3.NewOperation()
	op.Summary, _ = routeDoc(r.Method, r.Path)
	op.OperationID = strings.ToLower(r.Method) + strings.NewReplacer("/", "_", ":", "", "*", "any", "-", "_", "{", "", "}", "").Replace(r.Path)
	op.Tags = []string{openAPITag(r.Path)}
	protected := !s.IsExempt(r.Path)
	if protected {
		op.Security = &openapi3.SecurityRequirements{openapi3.NewSecurityRequirement().Authenticate("APIKeyHeader")}
	}
	for _, seg := range strings.Split(r.Path, "/") {
		if name, ok := strings.CutPrefix(seg, ":"); ok {
			typ := "string"
			if name == "id" || name == "vmid" || name == "vm_id" {
				typ = "integer"
			}
			op.AddParameter(openapi3.NewPathParameter(name).WithSchema(&openapi3.Schema{Type: &openapi3.Types{typ}}))
		}
	}
	spec, found := routeSpec(r.Method, r.Path)
	op.Responses = openapi3.NewResponses()
	op.AddResponse(0, openapi3.NewResponse().WithDescription("Any other failure: 413 for a body over 2 MB, 500 for an unexpected error (logged with the request id).").
		WithJSONSchemaRef(gen.ref(apiError{})))
	if !found {
		return op, nil
	}
	for _, p := range spec.query {
		typ := "string"
		if p.integer {
			typ = "integer"
		}
		op.AddParameter(openapi3.NewQueryParameter(p.name).WithDescription(p.desc).WithSchema(&openapi3.Schema{Type: &openapi3.Types{typ}}))
	}
	if spec.body != nil {
		op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(!spec.bodyOptional).WithJSONSchemaRef(gen.ref(spec.body))}
	}
	res := spec.responses
	if protected {
		res = append(res[:len(res):len(res)],
			e(401, "API key missing or invalid (the text contains \"API key\"), or no key registered yet."),
			e(429, "Too many failed keys from this client, or over PROXBOX_RATE_LIMIT; see Retry-After."))
	}
	for _, rs := range res {
		if op.Responses.Status(rs.status) != nil {
			return nil, fmt.Errorf("status %d documented twice", rs.status)
		}
		out := openapi3.NewResponse().WithDescription(rs.desc)
		switch {
		case rs.oneOf != nil:
			item := &openapi3.Schema{}
			for _, v := range rs.oneOf {
				item.OneOf = append(item.OneOf, gen.ref(v))
			}
			out.Content = openapi3.NewContentWithSchema(openapi3.NewArraySchema().WithItems(item), []string{rs.ctype})
		case rs.body != nil:
			sr := gen.ref(rs.body)
			if rs.nullable && sr.Ref == "" && sr.Value != nil {
				v := *sr.Value
				v.Nullable = true
				sr = &openapi3.SchemaRef{Value: &v}
			}
			out.Content = openapi3.NewContentWithSchemaRef(sr, []string{rs.ctype})
		}
		op.AddResponse(rs.status, out)
	}
	return op, nil
}

// schemaGen turns Go values into schemas; named structs become components
// (#/components/schemas/<Name>).
type schemaGen struct {
	g       *openapi3gen.Generator
	schemas openapi3.Schemas
	names   map[string]reflect.Type
	err     error
}

func newSchemaGen(schemas openapi3.Schemas) *schemaGen {
	sg := &schemaGen{schemas: schemas, names: map[string]reflect.Type{}}
	sg.g = openapi3gen.NewGenerator(
		openapi3gen.CreateComponentSchemas(openapi3gen.ExportComponentSchemasOptions{ExportComponentSchemas: true, ExportTopLevelSchema: true}),
		openapi3gen.CreateTypeNameGenerator(sg.typeName),
		openapi3gen.SchemaCustomizer(customizeSchema),
	)
	return sg
}

// typeName names a component: the Go name without a JSON suffix, prefixed
// with its package outside server/ (SyncSummary, GetcacheSettings).
func (sg *schemaGen) typeName(t reflect.Type) string {
	if t.Name() == "" {
		return ""
	}
	name := strings.TrimSuffix(t.Name(), "JSON")
	if name == "apiError" {
		name = "Error"
	}
	if pkg := t.PkgPath(); pkg != "" && !strings.HasSuffix(pkg, "/server") {
		name = pkg[strings.LastIndex(pkg, "/")+1:] + upperFirst(name)
	}
	name = upperFirst(name)
	if prev, ok := sg.names[name]; ok && prev != t && sg.err == nil {
		sg.err = fmt.Errorf("schema name %s is used by %s and %s", name, prev, t)
	}
	sg.names[name] = t
	return name
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

func (sg *schemaGen) ref(v any) *openapi3.SchemaRef {
	ref, err := sg.g.NewSchemaRefForValue(v, sg.schemas)
	if err != nil {
		if sg.err == nil {
			sg.err = fmt.Errorf("schema of %T: %w", v, err)
		}
		return &openapi3.SchemaRef{Value: &openapi3.Schema{}}
	}
	return ref
}

// customizeSchema adds what reflection alone does not give: required
// properties (fields without omitempty are always sent), null for slices
// and maps that may be nil, descriptions from `doc` tags and allowed values
// from `enum` tags.
func customizeSchema(_ string, t reflect.Type, tag reflect.StructTag, schema *openapi3.Schema) error {
	if d := tag.Get("doc"); d != "" && t.Kind() != reflect.Struct {
		schema.Description = d
	}
	if en := tag.Get("enum"); en != "" && t.Kind() == reflect.String {
		for _, v := range strings.Split(en, ",") {
			schema.Enum = append(schema.Enum, v)
		}
	}
	if jt, isField := tag.Lookup("json"); isField && !strings.Contains(jt, "omitempty") &&
		(t.Kind() == reflect.Map || (t.Kind() == reflect.Slice && t != reflect.TypeFor[json.RawMessage]())) {
		schema.Nullable = true
	}
	if t.Kind() == reflect.Struct && schema.Properties != nil {
		schema.Required = requiredFields(t)
	}
	return nil
}

// requiredFields lists the JSON names of t's fields that encoding/json
// always writes (embedded structs flattened).
func requiredFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		jt, hasTag := f.Tag.Lookup("json")
		name, opts, _ := strings.Cut(jt, ",")
		if jt == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, requiredFields(f.Type)...)
			continue
		}
		if !f.IsExported() || !hasTag {
			continue
		}
		if strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero") {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

// openAPI serves the document.
func (s *Server) openAPI(c echo.Context) error {
	doc, err := s.buildOpenAPI()
	if err != nil {
		return fmt.Errorf("build the OpenAPI document: %w", err)
	}
	return c.JSON(http.StatusOK, doc)
}
