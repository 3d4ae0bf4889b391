package certs

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestParseNames(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", []string{}},
		// the README example that aborted the Python image
		{"myhost.local,192.168.1.10", []string{"myhost.local", "192.168.1.10"}},
		{"a.example b.example", []string{"a.example", "b.example"}},
		{" A.Example. ,  b.example\t10.0.0.1 , a.example", []string{"a.example", "b.example", "10.0.0.1"}},
		{"[fd00::1], ::ffff:10.0.0.2", []string{"fd00::1", "10.0.0.2"}},
		{"*.lab.example, bad/name, -x.example", []string{"*.lab.example"}},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			if got := ParseNames(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("ParseNames(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLocalNamesCoverLocalhostLoopbackAndExtras(t *testing.T) {
	got, _ := localNames([]string{"proxbox.test"})
	for _, want := range []string{"localhost", "127.0.0.1", "proxbox.test"} {
		if !slices.Contains(got, want) {
			t.Errorf("localNames = %v, lacks %s", got, want)
		}
	}
	for _, n := range got {
		if strings.HasPrefix(n, "fe80:") {
			t.Errorf("link-local %s listed", n)
		}
	}
}

// An existing mkcert root in CAROOT (RSA, PKCS#8 key) is used as is, so
// hosts that trusted it for the Python image keep trusting the appliance.
func TestOpenCAUsesExistingMkcertRoot(t *testing.T) {
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: "mkcert development CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	_ = os.WriteFile(filepath.Join(dir, rootCertFile), rootPEM, 0o644)
	_ = os.WriteFile(filepath.Join(dir, rootKeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)

	m, err := New(context.Background(), Config{Mode: ModeLocal, DataDir: scratchDir(t), CARoot: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !bytes.Equal(m.RootPEM(), rootPEM) {
		t.Fatal("existing root replaced")
	}
	addr := serveTLS(t, nil, m.TLSConfig(), okHandler())
	leaf := served(t, addr, "localhost")
	// a leaf never outlives its root
	if leaf.NotAfter.After(tmpl.NotAfter.Add(time.Second)) {
		t.Errorf("leaf expires %v after root %v", leaf.NotAfter, tmpl.NotAfter)
	}
	if !verifies(addr, poolOf(t, rootPEM)) {
		t.Fatal("leaf not verified by the mkcert root")
	}
}

func TestOpenCARefusesHalfARoot(t *testing.T) {
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, rootKeyFile), []byte("x"), 0o600)
	if _, err := OpenCA(context.Background(), "", dir); err == nil {
		t.Fatal("a key without certificate was accepted or overwritten")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, rootKeyFile)); string(b) != "x" {
		t.Fatal("key overwritten")
	}
}

type captureHandler struct {
	records *[]slog.Record
}

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	*h.records = append(*h.records, r)
	return nil
}
func (h captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h captureHandler) WithGroup(string) slog.Handler      { return h }

func TestZapLogsReachSlog(t *testing.T) {
	var recs []slog.Record
	zl := newZapLogger(slog.New(captureHandler{&recs})).Named("obtain").With(zap.String("identifier", "localhost"))
	zl.Warn("could not get certificate from issuer", zap.Error(errors.New("acme: deadline")), zap.Int("attempt", 2))
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[0]
	attrs := map[string]string{}
	r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	if r.Level != slog.LevelWarn || r.Message != "could not get certificate from issuer" ||
		attrs["logger"] != "certmagic.obtain" || attrs["identifier"] != "localhost" ||
		attrs["attempt"] != "2" || !strings.Contains(attrs["error"], "deadline") {
		t.Errorf("record %v %q %v", r.Level, r.Message, attrs)
	}
}

func TestFingerprintFormat(t *testing.T) {
	ca, err := OpenCA(context.Background(), t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	fp := ca.Fingerprint()
	if len(fp) != 32*3-1 || strings.Count(fp, ":") != 31 || strings.ToUpper(fp) != fp {
		t.Errorf("fingerprint %q", fp)
	}
	if !strings.HasPrefix(ca.IssuerKey(), "proxbox-local-"+strings.ToLower(strings.ReplaceAll(fp[:17], ":", ""))) {
		t.Errorf("issuer key %q does not carry the fingerprint prefix of %q", ca.IssuerKey(), fp)
	}
}

// A sandbox that forbids netlink (a systemd unit without AF_NETLINK) makes
// the interface addresses unreadable: the leaf then misses the host's IPs, so
// New says so loudly in the log and in Status, which the dashboard shows.
func TestUnreadableInterfaceAddressesWarn(t *testing.T) {
	orig := interfaceAddrs
	interfaceAddrs = func() ([]net.Addr, error) {
		return nil, errors.New("route ip+net: netlinkrib: address family not supported by protocol")
	}
	t.Cleanup(func() { interfaceAddrs = orig })

	var logBuf bytes.Buffer
	lg := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, err := New(context.Background(), Config{Mode: ModeLocal, DataDir: scratchDir(t), Names: []string{"proxbox.test"}, Logger: lg})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st := m.Status()
	if !strings.Contains(st.NamesWarning, "cannot read the interface addresses") || !strings.Contains(st.NamesWarning, "AF_NETLINK") {
		t.Errorf("Status.NamesWarning = %q", st.NamesWarning)
	}
	if !slices.Contains(st.Names, "proxbox.test") || !slices.Contains(st.Names, "127.0.0.1") {
		t.Errorf("names %v lack the extras or loopback", st.Names)
	}
	if log := logBuf.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, "netlinkrib") {
		t.Errorf("no warning logged: %q", log)
	}

	interfaceAddrs = orig
	ok, err := New(context.Background(), Config{Mode: ModeLocal, DataDir: scratchDir(t), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer ok.Close()
	if w := ok.Status().NamesWarning; w != "" {
		t.Errorf("warning with readable addresses: %q", w)
	}
}
