package netbox

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/proxbox/proxbox/lab/selfsigned"
)

// SelfSignedCert makes an in-memory ECDSA P-256 certificate for hosts (names or IPs),
// valid for a year, like the certificate a fresh appliance would present.
func SelfSignedCert(hosts ...string) (tls.Certificate, error) {
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	return selfsigned.New(pkix.Name{CommonName: "netbox-lab"}, 365*24*time.Hour, hosts...)
}

// Serve serves the simulator on ln until ctx is done: plain HTTP, or HTTPS with a fresh
// self-signed certificate when useTLS is set. HTTP/2 is off so connection-reset faults work.
func (s *Server) Serve(ctx context.Context, ln net.Listener, useTLS bool) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second,
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
	if useTLS {
		cert, err := SelfSignedCert()
		if err != nil {
			return fmt.Errorf("netbox lab tls: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			return fmt.Errorf("netbox lab shutdown: %w", err)
		}
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("netbox lab serve: %w", err)
	}
}
