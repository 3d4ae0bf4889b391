package certs

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// addrConn reports a chosen local address, as a NAT or Docker port mapping
// would make the server see one the client did not dial.
type addrConn struct {
	net.Conn
	local net.Addr
}

func (c addrConn) LocalAddr() net.Addr { return c.local }

type addrListener struct {
	net.Listener
	local net.IP
}

func (l addrListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || l.local == nil {
		return c, err
	}
	return addrConn{Conn: c, local: &net.TCPAddr{IP: l.local, Port: 443}}, nil
}

// serveTLS serves h with cfg on 127.0.0.1 the way the appliance does (own
// http.Server, ServeTLS) and returns the listening address.
func serveTLS(t *testing.T, ln net.Listener, cfg *tls.Config, h http.Handler) string {
	t.Helper()
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	srv := &http.Server{Handler: h, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	srv.ErrorLog = newDiscardStdLogger()
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}

func servePlain(t *testing.T, ln net.Listener, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	})
}

func poolOf(t *testing.T, pemBytes ...[]byte) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	for _, b := range pemBytes {
		if !p.AppendCertsFromPEM(b) {
			t.Fatal("no certificate in PEM")
		}
	}
	return p
}

// clientTo returns an HTTPS client trusting only roots whose every dial
// goes to addr, so any host name or IP in a URL reaches the test server.
func clientTo(addr string, roots *x509.CertPool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
		},
	}
}

// served returns the leaf a handshake with serverName gets (no SNI when
// serverName is empty or an IP, as Go clients do).
func served(t *testing.T, addr, serverName string) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake with %q: %v", serverName, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// waitFor polls cond until it holds or the test's deadline guard fires. It
// synchronises with background work (certmagic jobs); it asserts no timing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	guard := time.After(60 * time.Second)
	for !cond() {
		select {
		case <-guard:
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func readFrame(r *bufio.Reader) (string, error) {
	var frame string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return frame, err
		}
		if line == "\n" {
			if frame == "" {
				continue
			}
			return frame, nil
		}
		frame += line
	}
}

func newDiscardStdLogger() *log.Logger { return log.New(io.Discard, "", 0) }

func itoa(n int) string { return strconv.Itoa(n) }

// recv waits for want on ch, skipping other values; the guard only turns a
// hang into a failure.
func recv(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	guard := time.After(60 * time.Second)
	for {
		select {
		case got := <-ch:
			if got == want {
				return
			}
		case <-guard:
			t.Fatalf("gave up waiting for %q", want)
		}
	}
}

// nextEvent returns the next value on ch, failing instead of hanging.
func nextEvent(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(60 * time.Second):
		t.Fatal("gave up waiting for an event")
		return ""
	}
}

// scratchDir is a data directory removed best-effort after the test:
// certmagic's background maintenance may still be writing a renewed leaf
// into it when the test ends (Manager.Close stops it, but cannot wait for a
// renewal already under way), which would fail t.TempDir's strict cleanup.
func scratchDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "proxbox-certs-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	return dir
}
