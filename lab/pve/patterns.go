package pve

import "strings"

// pattern is one PVE API path the simulator knows, with `{name}` placeholders for one
// path segment each. Known patterns are answered (from data, derived, or with PVE's own
// error); anything else gets PVE's 501. Stats are counted per pattern.
type pattern struct {
	text  string
	segs  []string
	query map[string]bool // allowed query parameters; nil = not checked
}

func newPattern(text string, params ...string) pattern {
	p := pattern{text: text, segs: strings.Split(strings.Trim(text, "/"), "/")}
	if params != nil {
		p.query = map[string]bool{}
		for _, q := range params {
			p.query[q] = true
		}
	}
	return p
}

// noParams marks a pattern whose query string is checked and must be empty.
var noParams = []string{}

// knownPatterns lists the read paths the sync engine uses (spec proxbox-sync-engine.md
// sections 1, 4 and 8.3) and a few neighbours. Order matters only for ambiguity, and there is
// none: literal segments always win over placeholders in match.
var knownPatterns = []pattern{
	newPattern("/version", noParams...),
	newPattern("/access/ticket"),
	newPattern("/cluster/status", noParams...),
	newPattern("/cluster/resources", "type"),
	newPattern("/cluster/config/join", "node"),
	newPattern("/cluster/backup", noParams...),
	newPattern("/cluster/backup/{id}", noParams...),
	newPattern("/cluster/replication", noParams...),
	newPattern("/cluster/replication/{id}", noParams...),
	newPattern("/cluster/tasks", noParams...),
	newPattern("/cluster/ha/resources", "type"),
	newPattern("/cluster/ha/status/current", noParams...),
	newPattern("/storage", "type"),
	newPattern("/storage/{storage}", noParams...),
	newPattern("/pools", "type", "poolid"),
	newPattern("/nodes", noParams...),
	newPattern("/nodes/{node}", noParams...),
	newPattern("/nodes/{node}/status", noParams...),
	newPattern("/nodes/{node}/version", noParams...),
	newPattern("/nodes/{node}/network", "type"),
	newPattern("/nodes/{node}/network/{iface}", noParams...),
	newPattern("/nodes/{node}/storage", "content", "enabled", "format", "storage", "target"),
	newPattern("/nodes/{node}/storage/{storage}", noParams...),
	newPattern("/nodes/{node}/storage/{storage}/status", noParams...),
	newPattern("/nodes/{node}/storage/{storage}/content", "content", "vmid"),
	newPattern("/nodes/{node}/tasks", "start", "limit", "vmid", "typefilter", "source", "errors", "userfilter", "statusfilter", "since", "until"),
	newPattern("/nodes/{node}/tasks/{upid}", noParams...),
	newPattern("/nodes/{node}/tasks/{upid}/status", noParams...),
	newPattern("/nodes/{node}/tasks/{upid}/log", "start", "limit", "download"),
	newPattern("/nodes/{node}/replication", "guest"),
	newPattern("/nodes/{node}/replication/{id}/status", noParams...),
	newPattern("/nodes/{node}/qemu", "full"),
	newPattern("/nodes/{node}/lxc", noParams...),
	newPattern("/nodes/{node}/{type}/{vmid}", noParams...),
	newPattern("/nodes/{node}/{type}/{vmid}/config", "current", "snapshot"),
	newPattern("/nodes/{node}/{type}/{vmid}/pending", noParams...),
	newPattern("/nodes/{node}/{type}/{vmid}/status", noParams...),
	newPattern("/nodes/{node}/{type}/{vmid}/status/current", noParams...),
	newPattern("/nodes/{node}/{type}/{vmid}/status/{action}"),
	newPattern("/nodes/{node}/{type}/{vmid}/snapshot", noParams...),
	newPattern("/nodes/{node}/qemu/{vmid}/agent", noParams...),
	newPattern("/nodes/{node}/qemu/{vmid}/agent/{command}", noParams...),
	newPattern("/nodes/{node}/lxc/{vmid}/interfaces", noParams...),
}

// match finds the known pattern for a path (without /api2/json) and the placeholder values.
func match(path string) (*pattern, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var best *pattern
	var bestVars map[string]string
	bestLiterals := -1
	for i := range knownPatterns {
		p := &knownPatterns[i]
		if len(p.segs) != len(segs) {
			continue
		}
		vars := map[string]string{}
		literals := 0
		ok := true
		for j, s := range p.segs {
			if strings.HasPrefix(s, "{") {
				if segs[j] == "" {
					ok = false
					break
				}
				vars[s[1:len(s)-1]] = segs[j]
				continue
			}
			if s != segs[j] {
				ok = false
				break
			}
			literals++
		}
		if !ok {
			continue
		}
		if t, has := vars["type"]; has && t != "qemu" && t != "lxc" {
			continue
		}
		if literals > bestLiterals {
			best, bestVars, bestLiterals = p, vars, literals
		}
	}
	return best, bestVars
}
