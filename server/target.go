package server

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// Endpoint targets: Proxmox and NetBox live on private and loopback
// addresses, so those are allowed; link-local and cloud metadata addresses
// are refused (they are how server-side request forgery reaches instance
// credentials) unless the operator lists them in PROXBOX_ALLOWED_TARGETS.
var refusedTargets = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local (and cloud metadata) address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "a cloud metadata address"},
	{netip.MustParsePrefix("100.100.100.200/32"), "a cloud metadata address"},
	{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified address"},
	{netip.MustParsePrefix("::/128"), "an unspecified address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
	{netip.MustParsePrefix("255.255.255.255/32"), "the broadcast address"},
}

var refusedNames = map[string]string{
	"metadata.google.internal": "a cloud metadata host",
	"metadata":                 "a cloud metadata host",
	"instance-data":            "a cloud metadata host",
}

var hostLabel = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$`)

// checkTarget validates that host is an IP address or a DNS name and that it
// is not a refused range. It returns a sentence for the error body.
func (s *Server) checkTarget(host string) error {
	host = strings.TrimSpace(host)
	if host == "" {
		return fmt.Errorf("host cannot be empty")
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		a = a.Unmap()
		for _, p := range s.cfg.AllowedTargets {
			if p.Contains(a) {
				return nil
			}
		}
		for _, r := range refusedTargets {
			if r.prefix.Contains(a) {
				return fmt.Errorf("%s is %s; list it in PROXBOX_ALLOWED_TARGETS to allow it", a, r.why)
			}
		}
		return nil
	}
	if p, err := netip.ParsePrefix(host); err == nil {
		return fmt.Errorf("%q is a network, not a host address (drop the /%d)", host, p.Bits())
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if len(name) > 253 {
		return fmt.Errorf("%q is not a valid host name: longer than 253 characters", host)
	}
	for _, label := range strings.Split(name, ".") {
		if !hostLabel.MatchString(label) {
			return fmt.Errorf("%q is neither an IP address nor a valid host name", host)
		}
	}
	if why, ok := refusedNames[name]; ok {
		return fmt.Errorf("%s is %s", host, why)
	}
	return nil
}
