package certs

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// ParseNames splits a PROXBOX_TLS_NAMES / MKCERT_EXTRA_NAMES value on commas
// and/or white space (the Python image aborted on commas), trims brackets
// from IPv6 literals, lower-cases host names and drops empty pieces and
// duplicates, keeping the first occurrence's order.
func ParseNames(s string) []string {
	parts := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == ';'
	})
	return normalizeNames(parts)
}

func normalizeNames(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, n := range in {
		n = normalizeName(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

func normalizeName(n string) string {
	n = strings.TrimSpace(n)
	n = strings.TrimSuffix(strings.TrimPrefix(n, "["), "]")
	if ip, err := netip.ParseAddr(n); err == nil {
		return ip.WithZone("").Unmap().String()
	}
	n = strings.TrimSuffix(strings.ToLower(n), ".")
	if !validHostname(n) {
		return ""
	}
	return n
}

// validHostname accepts DNS names (and one leading wildcard label) made of
// letters, digits, hyphens and underscores; anything else cannot be a SAN.
func validHostname(n string) bool {
	if n == "" || len(n) > 253 {
		return false
	}
	for i, label := range strings.Split(n, ".") {
		if label == "*" && i == 0 {
			continue
		}
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// interfaceAddrs lists the host's interface addresses; tests replace it.
var interfaceAddrs = net.InterfaceAddrs

// localNames returns the names the local CA covers: localhost, the host
// name, every usable interface address, then extra. Link-local IPv6
// addresses are left out: they need a zone, which no certificate can carry.
//
// When the interface addresses cannot be read (a sandbox that forbids
// netlink, such as a systemd unit without AF_NETLINK in
// RestrictAddressFamilies), the certificate covers only localhost, the host
// name, 127.0.0.1 and extra, and a client that connects by the host's IP
// fails with "IP address mismatch". warning then says so, for the log and the
// dashboard; it is empty when the addresses were read.
func localNames(extra []string) (names []string, warning string) {
	names = []string{"localhost"}
	if h, err := os.Hostname(); err == nil {
		names = append(names, h)
	}
	addrs, err := interfaceAddrs()
	if err != nil {
		warning = fmt.Sprintf("cannot read the interface addresses (%v): the certificate covers only localhost, "+
			"the host name, 127.0.0.1 and PROXBOX_TLS_NAMES, so clients that connect by IP address will fail to verify it; "+
			"allow AF_NETLINK (systemd RestrictAddressFamilies) or list the addresses in PROXBOX_TLS_NAMES", err)
	} else {
		for _, a := range addrs {
			var ip net.IP
			switch v := a.(type) {
			case *net.IPNet:
				ip = v.IP
			case *net.IPAddr:
				ip = v.IP
			}
			if ip == nil || ip.IsUnspecified() || ip.IsMulticast() || ip.To4() == nil && ip.IsLinkLocalUnicast() {
				continue
			}
			names = append(names, ip.String())
		}
	}
	names = append(names, "127.0.0.1")
	return normalizeNames(append(names, extra...)), warning
}

// defaultServerName picks the name served to clients that send no SNI and
// reach an address no certificate covers: the first extra IP (the one an
// operator wrote because clients use it, e.g. a NAT or Docker host address),
// else the first extra name, else fallback.
func defaultServerName(extra []string, fallback string) string {
	for _, n := range extra {
		if _, err := netip.ParseAddr(n); err == nil {
			return n
		}
	}
	if len(extra) > 0 {
		return extra[0]
	}
	return fallback
}
