package pve

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/proxbox/proxbox/lab/selfsigned"
)

// SelfSignedCert makes a self-signed certificate for the given host names and IPs, like the
// one a fresh PVE node serves (pve-ssl.pem). localhost, 127.0.0.1 and ::1 are always added.
func SelfSignedCert(hosts ...string) (tls.Certificate, error) {
	cn := "pve.lab"
	if len(hosts) > 0 && hosts[0] != "" {
		cn = hosts[0]
	}
	subject := pkix.Name{CommonName: cn, Organization: []string{"PVE Cluster Node"}, OrganizationalUnit: []string{"PVE Cluster Node"}}
	return selfsigned.New(subject, 2*365*24*time.Hour, append(hosts, "localhost", "127.0.0.1", "::1")...)
}

// Fingerprint is the SHA-256 fingerprint of a certificate in PVE's notation
// (upper-case hex pairs separated by colons), as users pin it.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// ServeTLS serves the simulator over HTTPS on ln with a fresh self-signed certificate (or
// cert, when given), HTTP/1.1 only like pveproxy, until ctx ends. It returns nil after a
// clean shutdown.
func (s *Server) ServeTLS(ctx context.Context, ln net.Listener, cert *tls.Certificate) error {
	if cert == nil {
		host, _, _ := net.SplitHostPort(ln.Addr().String())
		c, err := SelfSignedCert(s.Name(), host)
		if err != nil {
			return fmt.Errorf("pve lab tls: %w", err)
		}
		cert = &c
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}},
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		case <-done:
		}
	}()
	err := srv.Serve(tls.NewListener(ln, srv.TLSConfig))
	close(done)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("pve lab serve %s: %w", ln.Addr(), err)
}
