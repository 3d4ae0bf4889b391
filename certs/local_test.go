package certs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func newLocal(t *testing.T, dataDir string, mut func(*Config)) *Manager {
	t.Helper()
	cfg := Config{Mode: ModeLocal, DataDir: dataDir, Names: ParseNames("proxbox.test, 10.9.8.7"), Logger: quietLogger()}
	if mut != nil {
		mut(&cfg)
	}
	m, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

func TestLocalClientTrustingOnlyRootVerifiesEveryName(t *testing.T) {
	m := newLocal(t, scratchDir(t), nil)
	addr := serveTLS(t, nil, m.TLSConfig(), okHandler())
	_, port, _ := net.SplitHostPort(addr)
	c := clientTo(addr, poolOf(t, m.RootPEM()))

	for _, host := range []string{"localhost", "127.0.0.1", "proxbox.test"} {
		t.Run(host, func(t *testing.T) {
			resp, err := c.Get("https://" + net.JoinHostPort(host, port) + "/")
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if string(body) != "HTTP/2.0" || resp.TLS.NegotiatedProtocol != "h2" {
				t.Errorf("protocol %q, ALPN %q; want HTTP/2 over h2", body, resp.TLS.NegotiatedProtocol)
			}
			if v := resp.TLS.Version; v < tls.VersionTLS12 {
				t.Errorf("TLS version %x", v)
			}
		})
	}
}

func TestLocalExtraIPIsAnIPSANServedWithoutSNI(t *testing.T) {
	m := newLocal(t, scratchDir(t), nil)
	roots := poolOf(t, m.RootPEM())
	cases := []struct {
		name    string
		localIP string // address the server sees the connection arrive on
	}{
		// the extra IP is the server's own address (port-forward to it)
		{"extra IP is the local address", "10.9.8.7"},
		// a NAT address nothing covers: the default name, the first extra IP
		{"unknown local address falls back to the extra IP", "192.0.2.50"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := serveTLS(t, addrListener{Listener: ln, local: net.ParseIP(tc.localIP)}, m.TLSConfig(), okHandler())
			leaf := served(t, addr, "")
			if !slices.ContainsFunc(leaf.IPAddresses, func(ip net.IP) bool { return ip.String() == "10.9.8.7" }) {
				t.Fatalf("IP SANs %v lack 10.9.8.7", leaf.IPAddresses)
			}
			_, port, _ := net.SplitHostPort(addr)
			resp, err := clientTo(addr, roots).Get("https://10.9.8.7:" + port + "/")
			if err != nil {
				t.Fatalf("GET by IP: %v", err)
			}
			resp.Body.Close()
		})
	}
}

func TestLocalRefusesTLS11(t *testing.T) {
	m := newLocal(t, scratchDir(t), nil)
	addr := serveTLS(t, nil, m.TLSConfig(), okHandler())
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", MinVersion: v, MaxVersion: v, InsecureSkipVerify: true})
		if err == nil {
			conn.Close()
			t.Errorf("TLS version %x accepted", v)
		}
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", MaxVersion: tls.VersionTLS12, RootCAs: poolOf(t, m.RootPEM())})
	if err != nil {
		t.Fatalf("TLS 1.2 refused: %v", err)
	}
	conn.Close()
}

// TestTLS12OffersAEADOnly: a TLS 1.2 client offering only CBC-SHA suites is
// refused; every suite the server agrees to is an AEAD one.
func TestTLS12OffersAEADOnly(t *testing.T) {
	m := newLocal(t, scratchDir(t), nil)
	addr := serveTLS(t, nil, m.TLSConfig(), okHandler())
	cbc := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
		tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_128_GCM_SHA256}
	if conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", MaxVersion: tls.VersionTLS12, CipherSuites: cbc, InsecureSkipVerify: true}); err == nil {
		conn.Close()
		t.Fatalf("a CBC-only TLS 1.2 client was served (%s)", tls.CipherSuiteName(conn.ConnectionState().CipherSuite))
	}
	for _, s := range tls.CipherSuites() {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{s.ID}, InsecureSkipVerify: true})
		if err != nil {
			continue
		}
		conn.Close()
		if !slices.Contains(AEADSuites, s.ID) {
			t.Errorf("TLS 1.2 suite %s accepted", s.Name)
		}
	}
}

func TestLocalSameRootAfterRestart(t *testing.T) {
	dir := scratchDir(t)
	first := newLocal(t, dir, nil)
	root, fp := first.RootPEM(), first.RootFingerprint()
	first.Close()

	fi, err := os.Stat(filepath.Join(dir, "ca", rootKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("root key mode %v, want 0600", fi.Mode().Perm())
	}

	second := newLocal(t, dir, nil)
	if !bytes.Equal(second.RootPEM(), root) || second.RootFingerprint() != fp {
		t.Fatal("a restart produced a different root")
	}
	// the leaf from the first run, still valid, is served by the second
	addr := serveTLS(t, nil, second.TLSConfig(), okHandler())
	resp, err := clientTo(addr, poolOf(t, root)).Get("https://localhost/")
	if err != nil {
		t.Fatalf("old root no longer trusted: %v", err)
	}
	resp.Body.Close()
}

func TestLocalCARootOverridesDataDir(t *testing.T) {
	caRoot := filepath.Join(t.TempDir(), "caroot")
	m := newLocal(t, scratchDir(t), func(c *Config) { c.CARoot = caRoot })
	ca, err := OpenCA(context.Background(), "", caRoot)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca.PEM(), m.RootPEM()) {
		t.Fatal("root not stored in CAROOT")
	}
}

func TestLocalLeafNearExpiryIsRenewed(t *testing.T) {
	renewed := make(chan string, 64)
	m := newLocal(t, scratchDir(t), func(c *Config) {
		// one minute of validity plus the hour of back-dating puts every
		// leaf inside certmagic's renewal window (last third) at once
		c.LeafLifetime = 60e9
		c.RenewInterval = 50e6
		c.OnEvent = func(name string, data map[string]any) {
			if name == EventRenewed {
				select {
				case renewed <- fmt.Sprint(data["identifier"]):
				default:
				}
			}
		}
	})
	addr := serveTLS(t, nil, m.TLSConfig(), okHandler())
	before := served(t, addr, "localhost")
	recv(t, renewed, "localhost")
	waitFor(t, "the renewed leaf to be served", func() bool {
		return served(t, addr, "localhost").SerialNumber.Cmp(before.SerialNumber) != 0
	})
	after := served(t, addr, "localhost")
	if after.NotAfter.Before(before.NotAfter) {
		t.Errorf("renewed leaf expires %v, old one %v", after.NotAfter, before.NotAfter)
	}
	if err := after.CheckSignatureFrom(m.ca.cert); err != nil {
		t.Errorf("renewed leaf not signed by the root: %v", err)
	}
	if st := m.Status(); st.LastEvent == "" || st.LastEventInfo.Kind == "" || st.LastEventInfo.Identifier == "" {
		t.Errorf("Status has no last event after a renewal: %q %+v", st.LastEvent, st.LastEventInfo)
	}
}

func TestSSEOverTLSDeliversEachFrameBeforeTheNextIsWritten(t *testing.T) {
	m := newLocal(t, scratchDir(t), nil)
	const frames = 5
	next := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		for i := range frames {
			fmt.Fprintf(w, "event: step\ndata: {\"n\":%d}\n\n", i)
			if err := rc.Flush(); err != nil {
				return
			}
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	})
	addr := serveTLS(t, nil, m.TLSConfig(), h)
	for _, proto := range []string{"h2", "http/1.1"} {
		t.Run(proto, func(t *testing.T) {
			c := clientTo(addr, poolOf(t, m.RootPEM()))
			if proto == "http/1.1" {
				tr := c.Transport.(*http.Transport)
				tr.ForceAttemptHTTP2 = false
				tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
				tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
			}
			// the deadline only turns a hang (a buffered frame) into a failure
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://localhost/stream", nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.TLS.NegotiatedProtocol != proto {
				t.Fatalf("ALPN %q, want %q", resp.TLS.NegotiatedProtocol, proto)
			}
			br := bufio.NewReader(resp.Body)
			for i := range frames {
				// the producer is blocked until we signal, so this read
				// only returns if frame i crossed TLS unbuffered
				got, err := readFrame(br)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if want := fmt.Sprintf("event: step\ndata: {\"n\":%d}\n", i); got != want {
					t.Fatalf("frame %d = %q, want %q", i, got, want)
				}
				if i < frames-1 {
					next <- struct{}{}
				}
			}
			next <- struct{}{}
		})
	}
}

func TestStatusLocal(t *testing.T) {
	m := newLocal(t, scratchDir(t), nil)
	st := m.Status()
	if st.Mode != ModeLocal || st.RootFingerprint == "" || st.DefaultName != "10.9.8.7" {
		t.Fatalf("status %+v", st)
	}
	for _, want := range []string{"localhost", "127.0.0.1", "proxbox.test", "10.9.8.7"} {
		if !slices.Contains(st.Names, want) {
			t.Errorf("names %v lack %s", st.Names, want)
		}
	}
	for _, c := range st.Certificates {
		if c.Issuer != m.ca.IssuerKey() || c.NotAfter.IsZero() {
			t.Errorf("certificate %+v not from the local CA", c)
		}
	}
}
