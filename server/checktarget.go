package server

import (
	"context"
	"net/netip"

	"github.com/proxbox/proxbox/egress"
)

// CheckTarget validates an endpoint host exactly as the endpoint routes do
// (egress.Policy.CheckHost: an IP address or DNS name; link-local, cloud
// metadata, unspecified, multicast and broadcast targets are refused unless
// listed in allowed, PROXBOX_ALLOWED_TARGETS). The dashboard calls it so both
// paths share one rule. The error is a sentence for the user.
func CheckTarget(ctx context.Context, host string, allowed []netip.Prefix) error {
	return (&egress.Policy{Allowed: allowed}).CheckHost(ctx, host)
}
