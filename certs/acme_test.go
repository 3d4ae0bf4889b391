package certs

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// pebble runs Let's Encrypt's test ACME server in-process. Its validation
// authority checks challenges on httpPort and tlsPort of 127.0.0.1
// (localhost resolves there). It returns the directory URL, the pool that
// verifies the directory's own HTTPS, and the pool of the root it issues
// under.
func pebble(t *testing.T, httpPort, tlsPort int) (string, *x509.CertPool, *x509.CertPool) {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	logger := log.New(io.Discard, "", 0)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(logger, httpPort, tlsPort, false, "", store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	srv := httptest.NewUnstartedServer(front.Handler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	dirPool := x509.NewCertPool()
	dirPool.AddCert(srv.Certificate())
	return srv.URL + "/dir", dirPool, poolOf(t, authority.GetRootCert(0).PEM())
}

func listen(t *testing.T) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, ln.Addr().(*net.TCPAddr).Port
}

func newACME(t *testing.T, cfg Config) *Manager {
	t.Helper()
	// certmagic's background jobs may still write after Close returns, so
	// the directory is removed best-effort rather than by t.TempDir
	dir, err := os.MkdirTemp("", "proxbox-acme-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	cfg.Mode, cfg.DataDir, cfg.Logger = ModeACME, dir, quietLogger()
	if cfg.Names == nil {
		cfg.Names = []string{"localhost"}
	}
	cfg.ACMEEmail = "ops@proxbox.test"
	m, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

// verifies reports whether a client trusting only roots accepts addr's
// certificate for https://localhost.
func verifies(addr string, roots *x509.CertPool) bool {
	c := clientTo(addr, roots)
	defer c.CloseIdleConnections()
	resp, err := c.Get("https://localhost/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestACMEHTTP01(t *testing.T) {
	httpsLn, httpsPort := listen(t)
	plainLn, plainPort := listen(t)
	dir, dirPool, issued := pebble(t, plainPort, httpsPort)
	m := newACME(t, Config{
		ACMECA: dir, ACMETrustedRoots: dirPool,
		HTTPSPort: httpsPort, HTTPPort: plainPort,
		ACMEDisableTLSALPN: true, // only HTTP-01 can succeed
	})
	addr := serveTLS(t, httpsLn, m.TLSConfig(), okHandler())
	servePlain(t, plainLn, m.HTTPHandler(nil))

	// until ACME finishes, the local CA's stand-in keeps the port usable
	waitFor(t, "the Pebble-issued certificate", func() bool { return verifies(addr, issued) })
	st := m.Status()
	if st.LastACMEError != "" || strings.HasPrefix(st.Issuer, "proxbox-local") {
		t.Errorf("status after ACME success: %+v", st)
	}
}

func TestACMETLSALPN01(t *testing.T) {
	httpsLn, httpsPort := listen(t)
	_, deadPort := listen(t) // nothing answers HTTP-01
	dir, dirPool, issued := pebble(t, deadPort, httpsPort)
	m := newACME(t, Config{
		ACMECA: dir, ACMETrustedRoots: dirPool,
		HTTPSPort: httpsPort, // HTTPPort 0: HTTP-01 is not offered
	})
	addr := serveTLS(t, httpsLn, m.TLSConfig(), okHandler())
	waitFor(t, "the Pebble-issued certificate", func() bool { return verifies(addr, issued) })
	// HTTP/2 still negotiated next to acme-tls/1
	resp, err := clientTo(addr, issued).Get("https://localhost/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" {
		t.Errorf("proto %s", resp.Proto)
	}
}

func TestACMEServerDownLocalCAServes(t *testing.T) {
	httpsLn, httpsPort := listen(t)
	deadLn, deadPort := listen(t)
	deadLn.Close() // connection refused from here on
	events := make(chan string, 16)
	m := newACME(t, Config{
		ACMECA:    "https://127.0.0.1:" + itoa(deadPort) + "/dir",
		HTTPSPort: httpsPort,
		OnEvent: func(name string, data map[string]any) {
			select {
			case events <- fmt.Sprint(name, " ", data["issuer"]):
			default:
			}
		},
	})
	addr := serveTLS(t, httpsLn, m.TLSConfig(), okHandler())
	local := poolOf(t, m.RootPEM())
	if !verifies(addr, local) {
		t.Fatal("nothing served while ACME is pending")
	}
	if ev := nextEvent(t, events); ev != EventObtained+" "+m.ca.IssuerKey() {
		t.Fatalf("first event %q, want the local CA's", ev)
	}
	waitFor(t, "the stored local-CA leaf to be served", func() bool {
		st := m.Status()
		return len(st.Certificates) == 1 && st.Certificates[0].Issuer == m.ca.IssuerKey()
	})
	if !verifies(addr, local) {
		t.Fatal("local-CA leaf not trusted by the exported root")
	}
	if st := m.Status(); !strings.Contains(st.LastACMEError, "localhost") {
		t.Errorf("Status does not say why ACME is not serving: %+v", st)
	}
}

func TestHTTPHandlerRedirectsAndFallsBack(t *testing.T) {
	m := newACME(t, Config{ACMECA: "https://127.0.0.1:1/dir", HTTPSPort: 8443, HTTPPort: 8080})
	cases := []struct {
		host, target, want string
		code               int
	}{
		{"proxbox.example:8080", "/api/x?y=1", "https://proxbox.example:8443/api/x?y=1", http.StatusPermanentRedirect},
		{"10.0.0.5", "/", "https://10.0.0.5:8443/", http.StatusPermanentRedirect},
		{"[fd00::5]:8080", "/", "https://[fd00::5]:8443/", http.StatusPermanentRedirect},
		{"bad/host", "/", "", http.StatusBadRequest},
	}
	h := m.HTTPHandler(nil)
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.target, nil)
			req.Host = tc.host
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code || rec.Header().Get("Location") != tc.want {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Header().Get("Location"), tc.code, tc.want)
			}
		})
	}
	off, err := New(context.Background(), Config{Mode: ModeOff})
	if err != nil {
		t.Fatal(err)
	}
	if off.TLSConfig() != nil {
		t.Error("off mode has a TLS config")
	}
	rec := httptest.NewRecorder()
	off.HTTPHandler(okHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("off mode did not use the fallback: %d", rec.Code)
	}
}
