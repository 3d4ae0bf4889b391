package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writePair writes a self-signed certificate for localhost named cn.
func writePair(t *testing.T, certFile, keyFile, cn string, mtime time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: cn},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for path, data := range map[string][]byte{certFile: certPEM, keyFile: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})} {
		// write then rename, as certbot's symlink swap and most tools do
		tmp := path + ".new"
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	return certPEM
}

func TestFilesReplacingTheFilesSwitchesTheServedCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	t0 := time.Now().Add(-time.Minute)
	first := writePair(t, certFile, keyFile, "first", t0)
	reloaded := make(chan string, 4)
	m, err := New(context.Background(), Config{
		Mode: ModeFiles, CertFile: certFile, KeyFile: keyFile, Logger: quietLogger(),
		FilesCheckInterval: -1, // look at the files on every handshake
		OnEvent:            func(name string, _ map[string]any) { reloaded <- name },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	addr := serveTLS(t, nil, m.TLSConfig(), okHandler())
	if !verifies(addr, poolOf(t, first)) {
		t.Fatal("first pair not served")
	}

	// a key that does not match the certificate: the old pair stays
	if err := os.WriteFile(keyFile, mustRSAKeyPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(keyFile, t0.Add(time.Second), t0.Add(time.Second))
	if !verifies(addr, poolOf(t, first)) {
		t.Fatal("a broken replacement took the server down")
	}
	if ev := nextEvent(t, reloaded); ev != EventFailed {
		t.Errorf("event %q, want %q", ev, EventFailed)
	}
	if m.Status().LastError == "" {
		t.Error("Status does not report the failed reload")
	}

	second := writePair(t, certFile, keyFile, "second", t0.Add(2*time.Second))
	if got := served(t, addr, "localhost").Subject.CommonName; got != "second" {
		t.Fatalf("served %q after replacing the files, want second", got)
	}
	if !verifies(addr, poolOf(t, second)) {
		t.Fatal("second pair not trusted")
	}
	if ev := nextEvent(t, reloaded); ev != EventReloaded {
		t.Errorf("event %q, want %q", ev, EventReloaded)
	}
	if st := m.Status(); st.LastError != "" || st.Names[0] != "localhost" {
		t.Errorf("status %+v", st)
	}
}

func TestFilesModeNeedsBothFiles(t *testing.T) {
	for _, cfg := range []Config{
		{Mode: ModeFiles, CertFile: "x.pem"},
		{Mode: ModeFiles, CertFile: "/nonexistent/a.pem", KeyFile: "/nonexistent/b.pem"},
		{Mode: "tls13-only"},
		{Mode: ModeLocal},
		{Mode: ModeACME, DataDir: "unused"},
	} {
		cfg.Logger = quietLogger()
		if cfg.DataDir == "unused" {
			cfg.DataDir = t.TempDir()
		}
		if m, err := New(context.Background(), cfg); err == nil {
			m.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func mustRSAKeyPEM(t *testing.T) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}
