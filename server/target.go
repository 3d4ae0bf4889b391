package server

import "context"

// checkTarget validates an endpoint host by text (and by what it resolves
// to now) with the egress policy, for the clear 400 at creation. The rule
// that is relied on is the dial check of every outbound client (egress).
func (s *Server) checkTarget(ctx context.Context, host string) error {
	return s.egress.CheckHost(ctx, host)
}
