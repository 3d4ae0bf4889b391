package pve

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Firewall, HA and custom CPU model paths (PVE API: /cluster/firewall/*,
// /nodes/{node}/firewall/*, /nodes/{node}/{type}/{vmid}/firewall/*,
// /cluster/ha/groups (PVE 8), /cluster/ha/rules (PVE 9),
// /cluster/ha/status/{arm-ha,disarm-ha} and /cluster/qemu/custom-cpu-models
// (PVE 9.2)). Nothing configured reads as PVE's fresh install does: empty
// lists and options without any key set. A path the simulated version does
// not have answers PVE's 501.

// firewallPatterns are added to knownPatterns.
var firewallPatterns = []pattern{
	newPattern("/cluster/firewall/groups", noParams...),
	newPattern("/cluster/firewall/groups/{group}", noParams...),
	newPattern("/cluster/firewall/rules", noParams...),
	newPattern("/cluster/firewall/ipset", noParams...),
	newPattern("/cluster/firewall/ipset/{name}", noParams...),
	newPattern("/cluster/firewall/aliases", noParams...),
	newPattern("/cluster/firewall/options", noParams...),
	newPattern("/nodes/{node}/firewall/rules", noParams...),
	newPattern("/nodes/{node}/firewall/options", noParams...),
	newPattern("/nodes/{node}/{type}/{vmid}/firewall/rules", noParams...),
	newPattern("/nodes/{node}/{type}/{vmid}/firewall/options", noParams...),
	newPattern("/nodes/{node}/{type}/{vmid}/firewall/ipset", noParams...),
	newPattern("/nodes/{node}/{type}/{vmid}/firewall/aliases", noParams...),
	newPattern("/cluster/qemu/custom-cpu-models", noParams...),
	newPattern("/cluster/ha/groups", noParams...),
	newPattern("/cluster/ha/rules", "type"),
	newPattern("/cluster/ha/status/arm-ha"),
	newPattern("/cluster/ha/status/disarm-ha"),
}

func init() { knownPatterns = append(knownPatterns, firewallPatterns...) }

// Firewall is a datacenter firewall for SetFirewall, in PVE's reply shapes:
// rules as /cluster/firewall/rules lists them (pos, type, action, ...),
// each group's and IP set's members keyed by its name.
type Firewall struct {
	Options map[string]any
	Rules   []map[string]any
	Groups  map[string][]map[string]any // group -> its rules
	IPSets  map[string][]map[string]any // name -> entries {cidr, nomatch, comment}
	Aliases []map[string]any            // {name, cidr, comment}
}

// SetFirewall replaces the datacenter firewall configuration.
func (s *Server) SetFirewall(fw Firewall) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.dropIndex()
	digest := fingerprintHex
	opts := map[string]any{}
	for k, v := range fw.Options {
		opts[k] = v
	}
	if len(opts) > 0 {
		opts["digest"] = digest("options")
	}
	s.setData("/cluster/firewall/options", opts)
	s.setData("/cluster/firewall/rules", anyList(fw.Rules))
	var groups []any
	for name, rules := range fw.Groups {
		groups = append(groups, map[string]any{"group": name, "digest": digest("group/" + name)})
		s.setData("/cluster/firewall/groups/"+name, anyList(rules))
	}
	s.setData("/cluster/firewall/groups", nonNil(groups))
	var sets []any
	for name, entries := range fw.IPSets {
		sets = append(sets, map[string]any{"name": name, "digest": digest("ipset/" + name)})
		s.setData("/cluster/firewall/ipset/"+name, anyList(entries))
	}
	s.setData("/cluster/firewall/ipset", nonNil(sets))
	s.setData("/cluster/firewall/aliases", anyList(fw.Aliases))
}

func anyList(l []map[string]any) []any {
	out := make([]any, 0, len(l))
	for _, m := range l {
		out = append(out, m)
	}
	return out
}

// deriveFirewall answers the firewall and CPU model patterns when no data is
// stored at the path; ok is false for other patterns.
func (s *Server) deriveFirewall(p *pattern, vars map[string]string) (result, bool) {
	switch p.text {
	case "/cluster/firewall/groups", "/cluster/firewall/rules", "/cluster/firewall/ipset", "/cluster/firewall/aliases",
		"/nodes/{node}/firewall/rules":
		return okResult([]any{}), true
	case "/cluster/firewall/options", "/nodes/{node}/firewall/options":
		return okResult(map[string]any{}), true
	case "/cluster/firewall/groups/{group}":
		return errResult(http.StatusInternalServerError, fmt.Sprintf("no such security group '%s'", vars["group"])), true
	case "/cluster/firewall/ipset/{name}":
		return errResult(http.StatusInternalServerError, fmt.Sprintf("no such IPSet '%s'", vars["name"])), true
	case "/nodes/{node}/{type}/{vmid}/firewall/rules", "/nodes/{node}/{type}/{vmid}/firewall/ipset",
		"/nodes/{node}/{type}/{vmid}/firewall/aliases", "/nodes/{node}/{type}/{vmid}/firewall/options":
		if _, res, ok := s.guestAt(vars); !ok {
			return res, true
		}
		if strings.HasSuffix(p.text, "/options") {
			return okResult(map[string]any{}), true
		}
		return okResult([]any{}), true
	case "/cluster/qemu/custom-cpu-models":
		if !atLeast(asString(s.version()["version"]), 9, 2) {
			return notImplemented(http.MethodGet, p.text), true
		}
		return okResult([]any{}), true
	case "/cluster/ha/groups":
		if atLeast(asString(s.version()["version"]), 9, 0) {
			return notImplemented(http.MethodGet, p.text), true
		}
		return okResult([]any{}), true
	case "/cluster/ha/rules":
		if !atLeast(asString(s.version()["version"]), 9, 0) {
			return notImplemented(http.MethodGet, p.text), true
		}
		return okResult([]any{}), true
	}
	return result{}, false
}

// atLeast compares a PVE version string ("9.2.1") with major.minor.
func atLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	ma, _ := strconv.Atoi(parts[0])
	mi := 0
	if len(parts) > 1 {
		mi, _ = strconv.Atoi(parts[1])
	}
	return ma > major || (ma == major && mi >= minor)
}

// haWrite answers POST /cluster/ha/status/{arm-ha,disarm-ha}: null on PVE
// 9.2 and later, PVE's 501 before. The simulated HA state does not change.
func (s *Server) haWrite(p *pattern) result {
	if !atLeast(asString(s.version()["version"]), 9, 2) {
		return notImplemented(http.MethodPost, p.text)
	}
	return okResult(nil)
}
