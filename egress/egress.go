// Package egress owns the appliance's outbound connection policy: which
// addresses proxbox may connect to on behalf of a stored endpoint (Proxmox,
// NetBox, the dashboard's connection tests). Endpoints are normally on
// private or loopback addresses, so those are allowed; link-local, cloud
// metadata, unspecified, multicast and broadcast addresses are refused unless
// the operator lists them in PROXBOX_ALLOWED_TARGETS. The rule is applied
// twice: to the host text when an endpoint is saved (a clear 400) and to the
// address actually dialled, after DNS resolution and on every connection a
// redirect opens (the check that is relied on). It must not know about HTTP
// routes, the store or the endpoints' credentials.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// refused lists the ranges that are never dialled unless allowed.
var refused = []struct {
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

// refusedNames are metadata host names refused by text (they resolve to a
// refused address inside the cloud, and to nothing outside it).
var refusedNames = map[string]string{
	"metadata.google.internal":   "a cloud metadata host",
	"metadata":                   "a cloud metadata host",
	"instance-data":              "a cloud metadata host",
	"instance-data.ec2.internal": "a cloud metadata host",
	"metadata.azure.internal":    "a cloud metadata host",
	"metadata.tencentyun.com":    "a cloud metadata host",
}

var hostLabel = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$`)

// Prefixes that carry an IPv4 address inside an IPv6 one. A connection to
// one of them can reach the embedded IPv4 address (through NAT64, 6to4 or
// Teredo relays, or a stack that routes IPv4-compatible addresses), so the
// embedded address is checked as well.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	nat64Loc  = netip.MustParsePrefix("64:ff9b:1::/48")
	v4compat  = netip.MustParsePrefix("::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	teredo    = netip.MustParsePrefix("2001::/32")
)

// ErrRefused is wrapped by every refusal.
var ErrRefused = errors.New("refused target")

// Policy decides which addresses may be dialled. The zero value refuses the
// default ranges and allows nothing extra.
type Policy struct {
	// Allowed lists ranges allowed even though they are refused by default
	// (PROXBOX_ALLOWED_TARGETS).
	Allowed []netip.Prefix
	// Resolver resolves names in DialContext and CheckHost; nil uses
	// net.DefaultResolver. Tests give a fixed table.
	Resolver Resolver
}

// Resolver is the part of *net.Resolver a Policy needs.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// StaticResolver answers from a fixed table of host -> addresses (tests,
// which must never reach a real DNS server); an unknown name is not found.
type StaticResolver map[string][]string

// LookupNetIP implements Resolver.
func (r StaticResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := r[strings.ToLower(host)]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		x, err := netip.ParseAddr(a)
		if err != nil {
			return nil, &net.DNSError{Err: "bad address in table", Name: host}
		}
		out = append(out, x)
	}
	return out, nil
}

func (p *Policy) resolver() Resolver {
	if p == nil || p.Resolver == nil {
		return net.DefaultResolver
	}
	return p.Resolver
}

// LookupHost resolves host with the policy's resolver.
func (p *Policy) LookupHost(ctx context.Context, host string) ([]netip.Addr, error) {
	return p.resolver().LookupNetIP(ctx, "ip", host)
}

// CheckAddr returns an error wrapping ErrRefused when a is not a target proxbox
// may connect to. The zone is ignored; IPv4-mapped, IPv4-compatible, NAT64,
// 6to4 and Teredo addresses are judged by the IPv4 address they carry too.
func (p *Policy) CheckAddr(a netip.Addr) error {
	a = a.WithZone("").Unmap()
	if !a.IsValid() {
		return fmt.Errorf("%w: not an IP address", ErrRefused)
	}
	if p.allowed(a) {
		return nil
	}
	for _, r := range refused {
		if r.prefix.Contains(a) {
			return fmt.Errorf("%w: %s is %s; list it in PROXBOX_ALLOWED_TARGETS to allow it", ErrRefused, a, r.why)
		}
	}
	if v4, how, ok := embeddedIPv4(a); ok {
		if err := p.CheckAddr(v4); err != nil {
			return fmt.Errorf("%w: %s is %s address of %s, which is refused; list it in PROXBOX_ALLOWED_TARGETS to allow it", ErrRefused, a, how, v4)
		}
	}
	return nil
}

func (p *Policy) allowed(a netip.Addr) bool {
	if p == nil {
		return false
	}
	for _, pr := range p.Allowed {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// embeddedIPv4 extracts the IPv4 address an IPv6 address carries.
func embeddedIPv4(a netip.Addr) (netip.Addr, string, bool) {
	if !a.Is6() {
		return netip.Addr{}, "", false
	}
	b := a.As16()
	switch {
	case nat64.Contains(a), nat64Loc.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), "a NAT64", true
	case v4compat.Contains(a):
		if a == netip.IPv6Unspecified() || a == netip.IPv6Loopback() {
			return netip.Addr{}, "", false
		}
		return netip.AddrFrom4([4]byte(b[12:16])), "an IPv4-compatible", true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), "a 6to4", true
	case teredo.Contains(a):
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}), "a Teredo", true
	}
	return netip.Addr{}, "", false
}

// CheckHost validates an endpoint's host text: an IP address (zones are
// refused: an endpoint is not tied to this machine's interfaces) or a DNS
// name, not in a refused range. Numeric forms other than the dotted quad
// (2852039166, 0251.0376.0251.0376, 0xa9fea9fe, 0, a trailing dot) are
// refused because resolvers read them differently. When the name resolves
// (bounded by ctx), every address is checked too; a name that does not
// resolve now is accepted (the dial check still guards it).
func (p *Policy) CheckHost(ctx context.Context, host string) error {
	host = strings.TrimSpace(host)
	if host == "" {
		return errors.New("host cannot be empty")
	}
	bare := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(bare); err == nil {
		if a.Zone() != "" {
			return fmt.Errorf("%q has an interface zone (%%%s); give the address without it", host, a.Zone())
		}
		return stripSentinel(p.CheckAddr(a))
	}
	if i := strings.IndexByte(bare, '%'); i > 0 {
		if _, err := netip.ParseAddr(bare[:i]); err == nil {
			return fmt.Errorf("%q is not a valid IP address (zone)", host)
		}
	}
	if pr, err := netip.ParsePrefix(host); err == nil {
		return fmt.Errorf("%q is a network, not a host address (drop the /%d)", host, pr.Bits())
	}
	if strings.HasSuffix(host, ".") {
		return fmt.Errorf("%q ends with a dot; give the name without it", host)
	}
	name := strings.ToLower(host)
	if len(name) > 253 {
		return fmt.Errorf("%q is not a valid host name: longer than 253 characters", host)
	}
	labels := strings.Split(name, ".")
	for _, label := range labels {
		if !hostLabel.MatchString(label) {
			return fmt.Errorf("%q is neither an IP address nor a valid host name", host)
		}
	}
	if numericLabel(labels[len(labels)-1]) {
		return fmt.Errorf("%q is not a canonical IP address (write IPv4 as four decimal numbers, a.b.c.d)", host)
	}
	if why, ok := refusedNames[name]; ok {
		return fmt.Errorf("%s is %s", host, why)
	}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := p.resolver().LookupNetIP(rctx, "ip", name)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			return fmt.Errorf("%s resolves to %s", host, stripSentinel(err))
		}
	}
	return nil
}

// numericLabel reports a top label that a resolver could read as a number
// (decimal, octal 0..., hex 0x...): no real top-level domain is one.
func numericLabel(l string) bool {
	if strings.HasPrefix(l, "0x") {
		_, err := strconv.ParseUint(l[2:], 16, 64)
		return err == nil || l == "0x"
	}
	_, err := strconv.ParseUint(l, 10, 64)
	return err == nil
}

// stripSentinel removes the "refused target: " prefix for user-facing text.
func stripSentinel(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(strings.TrimPrefix(err.Error(), ErrRefused.Error()+": "))
}

// Control is a net.Dialer Control hook: it refuses a connection to a refused
// address before the socket connects. address is what is dialled, after any
// DNS resolution.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrRefused, address, err)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: dial %q is not an IP address", ErrRefused, address)
	}
	return p.CheckAddr(a)
}

// Dialer returns a dialer whose every connection passes Control.
func (p *Policy) Dialer() *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: p.Control}
}

// DialContext resolves address with the policy's resolver, refuses the whole
// dial when any resolved address is refused (a name that answers with one
// refused address is not trusted for the others), and dials the addresses in
// order through Dialer (whose Control checks again what is connected).
func (p *Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		addrs, err = p.resolver().LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", address, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("dial %s: no address", address)
		}
	}
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			return nil, fmt.Errorf("dial %s: %w", host, err)
		}
	}
	d := p.Dialer()
	var errs []error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// Transport returns a fresh *http.Transport (the defaults of
// http.DefaultTransport) that dials through the policy. Proxies from the
// environment are not used: a proxy would be the dialled address and the
// target's would go unchecked.
func (p *Policy) Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = p.DialContext
	return t
}

// Guard makes t dial through the policy (t is changed and returned).
func (p *Policy) Guard(t *http.Transport) *http.Transport {
	t.Proxy = nil
	t.DialContext = p.DialContext
	t.DialTLSContext = nil
	return t
}
