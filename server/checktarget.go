package server

import (
	"net/netip"

	"github.com/proxbox/proxbox/config"
)

// CheckTarget validates an endpoint host exactly as the endpoint routes do
// (an IP address or DNS name; link-local, cloud metadata, unspecified,
// multicast and broadcast targets are refused unless listed in allowed,
// PROXBOX_ALLOWED_TARGETS). The dashboard calls it so both paths share one
// rule. The error is a sentence for the user.
func CheckTarget(host string, allowed []netip.Prefix) error {
	s := &Server{cfg: config.Config{AllowedTargets: allowed}}
	return s.checkTarget(host)
}
