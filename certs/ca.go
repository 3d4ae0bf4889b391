package certs

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
)

// File names of the root inside its directory. They are mkcert's, so a
// CAROOT volume that mkcert filled for the Python images is picked up as is
// and clients that already trust that root keep trusting the appliance.
const (
	rootCertFile = "rootCA.pem"
	rootKeyFile  = "rootCA-key.pem"
)

const (
	rootLifetime        = 10 * 365 * 24 * time.Hour
	defaultLeafLifetime = 7 * 24 * time.Hour
	// leafBackdate tolerates clients whose clock runs a little behind.
	leafBackdate = time.Hour
)

// CA is the appliance's local certificate authority: one self-signed root
// whose key never leaves its directory. It implements certmagic.Issuer, so
// certmagic stores and renews the short-lived leaves it signs.
type CA struct {
	dir      string
	cert     *x509.Certificate
	key      crypto.Signer
	pem      []byte
	lifetime time.Duration
}

var _ certmagic.Issuer = (*CA)(nil)

// CADir returns where the local CA lives: caRoot when set (CAROOT, as with
// mkcert), otherwise <dataDir>/ca.
func CADir(dataDir, caRoot string) string {
	if caRoot != "" {
		return caRoot
	}
	return filepath.Join(dataDir, "ca")
}

// OpenCA loads the root from CADir(dataDir, caRoot), creating an ECDSA P-256
// root valid for ten years when the directory holds none. The key file is
// written with mode 0600. A directory holding only one of the two files is
// an error rather than a reason to overwrite it.
func OpenCA(ctx context.Context, dataDir, caRoot string) (*CA, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir := CADir(dataDir, caRoot)
	if dir == "" || dir == "ca" && dataDir == "" {
		return nil, errors.New("open local CA: no data directory or CAROOT given")
	}
	ca, err := loadCA(dir)
	if errors.Is(err, fs.ErrNotExist) {
		ca, err = createCA(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open local CA in %s: %w", dir, err)
	}
	return ca, nil
}

func loadCA(dir string) (*CA, error) {
	certPEM, certErr := os.ReadFile(filepath.Join(dir, rootCertFile))
	keyPEM, keyErr := os.ReadFile(filepath.Join(dir, rootKeyFile))
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		return nil, fs.ErrNotExist
	case certErr != nil:
		return nil, fmt.Errorf("read root certificate: %w", certErr)
	case keyErr != nil:
		return nil, fmt.Errorf("read root key: %w", keyErr)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", rootCertFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", rootCertFile, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("%s is not a CA certificate", rootCertFile)
	}
	key, err := parseSigner(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", rootKeyFile, err)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("%s does not belong to %s", rootKeyFile, rootCertFile)
	}
	return &CA{dir: dir, cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), lifetime: defaultLeafLifetime}, nil
}

func parseSigner(keyPEM []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
	return signer, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	switch k := a.(type) {
	case *ecdsa.PublicKey:
		return k.Equal(b)
	case *rsa.PublicKey:
		return k.Equal(b)
	case ed25519.PublicKey:
		return k.Equal(b)
	}
	return false
}

func createCA(dir string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create directory: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate root key: %w", err)
	}
	host, _ := os.Hostname()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject: pkix.Name{
			Organization:       []string{"proxbox local CA"},
			OrganizationalUnit: []string{strings.TrimSpace(host)},
			CommonName:         "proxbox local CA " + now.UTC().Format("2006-01-02"),
		},
		NotBefore:             now.Add(-leafBackdate),
		NotAfter:              now.Add(rootLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("sign root: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode root key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	// The key is linked into place (which fails when it exists), so two
	// processes starting together never overwrite each other's root: the
	// loser loads the winner's.
	if err := writeExclusive(filepath.Join(dir, rootKeyFile), keyPEM, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadCA(dir)
		}
		return nil, fmt.Errorf("write root key: %w", err)
	}
	if err := writeExclusive(filepath.Join(dir, rootCertFile), certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write root certificate: %w", err)
	}
	return loadCA(dir)
}

// writeExclusive writes data to a temporary file and links it to path,
// failing with fs.ErrExist when path is already there.
func writeExclusive(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Link(tmp, path)
}

func randomSerial() *big.Int {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		// crypto/rand does not fail on supported platforms; a time-based
		// serial is still unique enough for a private CA.
		return big.NewInt(time.Now().UnixNano())
	}
	return n.Add(n, big.NewInt(1))
}

// PEM returns the root certificate, PEM-encoded.
func (ca *CA) PEM() []byte { return append([]byte(nil), ca.pem...) }

// Certificate returns the parsed root certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// Dir returns the directory holding the root.
func (ca *CA) Dir() string { return ca.dir }

// Fingerprint returns the SHA-256 of the root certificate as upper-case hex
// pairs separated by colons, as `openssl x509 -fingerprint -sha256` shows it.
func (ca *CA) Fingerprint() string { return fingerprint(ca.cert.Raw) }

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// IssuerKey names this root in certmagic storage. It carries a prefix of the
// root's fingerprint, so leaves signed by an earlier root are never served
// as if this one had signed them.
func (ca *CA) IssuerKey() string {
	sum := sha256.Sum256(ca.cert.Raw)
	return fmt.Sprintf("proxbox-local-%x", sum[:6])
}

// Issue signs a short-lived server certificate for the names in csr.
func (ca *CA) Issue(ctx context.Context, csr *x509.CertificateRequest) (*certmagic.IssuedCertificate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	der, err := ca.sign(csr, time.Now())
	if err != nil {
		return nil, err
	}
	return &certmagic.IssuedCertificate{
		Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Metadata:    map[string]string{"root_sha256": ca.Fingerprint()},
	}, nil
}

func (ca *CA) sign(csr *x509.CertificateRequest, now time.Time) ([]byte, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("local CA: bad CSR signature: %w", err)
	}
	if len(csr.DNSNames) == 0 && len(csr.IPAddresses) == 0 {
		return nil, errors.New("local CA: CSR names no host or IP")
	}
	notAfter := now.Add(ca.lifetime)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	cn := ""
	if len(csr.DNSNames) > 0 {
		cn = csr.DNSNames[0]
	} else {
		cn = csr.IPAddresses[0].String()
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{Organization: []string{"proxbox local certificate"}, CommonName: cn},
		DNSNames:              csr.DNSNames,
		IPAddresses:           csr.IPAddresses,
		NotBefore:             now.Add(-leafBackdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if _, ok := csr.PublicKey.(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, csr.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("local CA: sign leaf: %w", err)
	}
	return der, nil
}
