// Package certs owns the appliance's TLS: the local certificate authority
// that replaces mkcert, ACME through certmagic (with the local CA as the
// fallback issuer), user-supplied certificate files reloaded on change, the
// plain-HTTP port's ACME HTTP-01 answers and redirect, and the status the
// dashboard shows. It hands out a *tls.Config and http.Handlers; it must not
// open the appliance's listeners, build its http.Server, or touch the store,
// the sync engine or the web routes.
package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
)

// TLS modes, as PROXBOX_TLS spells them.
const (
	ModeOff   = "off"
	ModeLocal = "local"
	ModeACME  = "acme"
	ModeFiles = "files"
)

// acmeTLS1 is the ALPN protocol of TLS-ALPN-01 (RFC 8737).
const acmeTLS1 = "acme-tls/1"

// Certificate event names passed to Config.OnEvent.
const (
	EventObtained = "cert_obtained"
	EventRenewed  = "cert_renewed"
	EventFailed   = "cert_failed"
	EventReloaded = "cert_reloaded" // files mode
)

// Config selects and tunes the TLS mode. The zero value of every tuning
// field picks the production default.
type Config struct {
	Mode    string // off|local|acme|files; empty means local
	DataDir string // certmagic storage lives in <DataDir>/certmagic
	CARoot  string // local CA directory; empty means <DataDir>/ca
	Names   []string

	ACMEEmail    string
	ACMECA       string // directory URL, or letsencrypt, letsencrypt-staging, zerossl; empty: Let's Encrypt
	ACMEEABKeyID string
	ACMEEABHMAC  string
	// ACMETrustedRoots verifies the ACME server (private CAs, tests); nil
	// means the system roots.
	ACMETrustedRoots *x509.CertPool
	// ACMEDisableTLSALPN turns TLS-ALPN-01 off, for an HTTPS port behind a
	// TLS-terminating proxy (HTTP-01 on HTTPPort is then the only challenge).
	ACMEDisableTLSALPN bool

	CertFile, KeyFile string // files mode

	// HTTPSPort is the externally reachable HTTPS port, used for
	// TLS-ALPN-01 and in redirects. HTTPPort is the plain port that
	// answers HTTP-01 (0: HTTP-01 is not offered).
	HTTPSPort, HTTPPort int

	Logger  *slog.Logger
	OnEvent func(name string, data map[string]any)

	// LeafLifetime is the validity of local-CA leaves; 0 means 7 days in
	// local mode and 1 day in acme mode (so ACME is retried soon after a
	// fallback). RenewInterval is how often certmagic looks for leaves to
	// renew (0: 10 minutes). FilesCheckInterval bounds how often a handshake
	// looks at the files in files mode (0: 5 s; negative: every handshake).
	LeafLifetime       time.Duration
	RenewInterval      time.Duration
	FilesCheckInterval time.Duration
}

// Manager serves certificates for one TLS mode.
type Manager struct {
	cfg         Config
	log         *slog.Logger
	names       []string
	nameSet     map[string]bool
	defaultName string

	ca        *CA
	cache     *certmagic.Cache
	magic     *certmagic.Config
	acme      *certmagic.ACMEIssuer
	files     *fileCert
	cancel    context.CancelFunc
	closeOnce sync.Once

	mu            sync.Mutex
	lastEvent     string
	lastEventAt   time.Time
	lastInfo      EventInfo
	lastACMEError string
	lastFilesErr  string
	namesWarning  string // set once by New: the interface addresses could not be read
	boot          map[string]*tls.Certificate
}

// EventInfo is a certificate event in parts, for callers that word it
// themselves (the dashboard, in two languages).
type EventInfo struct {
	Kind       string // EventObtained, EventRenewed, EventFailed or EventReloaded
	Identifier string // the certificate's name
	Issuer     string // may be empty
	Error      string // EventFailed
}

// Status is what the dashboard shows about TLS.
type Status struct {
	Mode            string
	Names           []string
	DefaultName     string // served to clients without SNI on unknown addresses
	Issuer          string // issuer of the primary certificate
	NotAfter        time.Time
	LastEvent       string // e.g. "cert_obtained localhost from local"; LastEventInfo has its parts
	LastEventAt     time.Time
	LastEventInfo   EventInfo
	LastACMEError   string // empty when the last ACME attempt succeeded or none ran
	LastError       string // files mode: last reload error
	NamesWarning    string // local mode: the interface addresses could not be read, so Names lacks them
	RootFingerprint string // local CA, SHA-256
	Certificates    []CertStatus
}

// CertStatus describes the certificate currently cached for one name.
type CertStatus struct {
	Name     string
	Issuer   string
	NotAfter time.Time
}

// New starts TLS in cfg.Mode. Local mode issues its leaves before
// returning; acme mode returns at once and obtains in the background while
// the local CA answers handshakes. ctx bounds background work; Close stops it.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Mode == "" {
		cfg.Mode = ModeLocal
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, boot: map[string]*tls.Certificate{}}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.log = m.log.With("component", "tls")
	switch cfg.Mode {
	case ModeOff:
		return m, nil
	case ModeFiles:
		return m, m.startFiles()
	case ModeLocal, ModeACME:
	default:
		return nil, fmt.Errorf("tls: unknown mode %q (want off, local, acme or files)", cfg.Mode)
	}
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("tls %s: a data directory is required", cfg.Mode)
	}
	ca, err := OpenCA(ctx, cfg.DataDir, cfg.CARoot)
	if err != nil {
		return nil, fmt.Errorf("tls %s: %w", cfg.Mode, err)
	}
	m.ca = ca
	ca.lifetime = cfg.LeafLifetime
	if ca.lifetime <= 0 {
		ca.lifetime = defaultLeafLifetime
		if cfg.Mode == ModeACME {
			ca.lifetime = 24 * time.Hour
		}
	}

	extra := normalizeNames(cfg.Names)
	if cfg.Mode == ModeACME {
		if len(extra) == 0 {
			return nil, errors.New("tls acme: no names: set PROXBOX_TLS_NAMES to the public DNS name(s)")
		}
		m.names = extra
		m.defaultName = extra[0]
	} else {
		var warning string
		m.names, warning = localNames(extra)
		if warning != "" {
			m.namesWarning = warning
			m.log.Warn("TLS names incomplete: "+warning, "names", m.names)
		}
		fallback := "localhost"
		if h, err := os.Hostname(); err == nil && normalizeName(h) != "" {
			fallback = normalizeName(h)
		}
		m.defaultName = defaultServerName(extra, fallback)
	}
	m.nameSet = make(map[string]bool, len(m.names))
	for _, n := range m.names {
		m.nameSet[n] = true
	}

	zl := newZapLogger(m.log)
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return m.magic, nil },
		RenewCheckInterval: cfg.RenewInterval,
		Logger:             zl,
	})
	m.magic = certmagic.New(m.cache, certmagic.Config{
		Storage:           &certmagic.FileStorage{Path: filepath.Join(cfg.DataDir, "certmagic")},
		Issuers:           []certmagic.Issuer{ca},
		DefaultServerName: m.defaultName,
		Logger:            zl,
		OnEvent:           m.onCertmagicEvent,
		ShouldEmitFunc: func(name string) bool {
			return name == "cert_obtained" || name == "cert_failed"
		},
	})
	mctx, cancel := context.WithCancel(ctx)
	m.cancel = cancel

	if cfg.Mode == ModeLocal {
		if err := m.magic.ManageSync(mctx, m.names); err != nil {
			m.Close()
			return nil, fmt.Errorf("tls local: issue certificates: %w", err)
		}
		m.log.Info("local CA serving", "names", m.names, "root_sha256", ca.Fingerprint(), "ca_dir", ca.Dir())
		return m, nil
	}

	iss, err := m.newACMEIssuer()
	if err != nil {
		m.Close()
		return nil, err
	}
	m.acme = iss
	m.magic.Issuers = []certmagic.Issuer{&recordingIssuer{ACMEIssuer: iss, m: m}, ca}
	if err := m.magic.ManageAsync(mctx, m.names); err != nil {
		m.Close()
		return nil, fmt.Errorf("tls acme: manage %v: %w", m.names, err)
	}
	m.log.Info("ACME started", "names", m.names, "ca", iss.CA, "fallback_root_sha256", ca.Fingerprint())
	return m, nil
}

func acmeDirectory(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "letsencrypt", "le", "production":
		return certmagic.LetsEncryptProductionCA, nil
	case "letsencrypt-staging", "staging", "le-staging":
		return certmagic.LetsEncryptStagingCA, nil
	case "zerossl":
		return certmagic.ZeroSSLProductionCA, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("tls acme: PROXBOX_ACME_CA=%q is neither letsencrypt, letsencrypt-staging, zerossl nor an https directory URL", s)
	}
	return s, nil
}

func (m *Manager) newACMEIssuer() (*certmagic.ACMEIssuer, error) {
	dir, err := acmeDirectory(m.cfg.ACMECA)
	if err != nil {
		return nil, err
	}
	tmpl := certmagic.ACMEIssuer{
		CA:                      dir,
		Email:                   m.cfg.ACMEEmail,
		Agreed:                  true,
		TrustedRoots:            m.cfg.ACMETrustedRoots,
		AltTLSALPNPort:          m.cfg.HTTPSPort,
		DisableTLSALPNChallenge: m.cfg.ACMEDisableTLSALPN,
		Logger:                  newZapLogger(m.log),
	}
	if dir == certmagic.LetsEncryptProductionCA {
		tmpl.TestCA = certmagic.LetsEncryptStagingCA
	}
	if m.cfg.HTTPPort > 0 {
		tmpl.AltHTTPPort = m.cfg.HTTPPort
	} else {
		tmpl.DisableHTTPChallenge = true
	}
	if (m.cfg.ACMEEABKeyID == "") != (m.cfg.ACMEEABHMAC == "") {
		return nil, errors.New("tls acme: PROXBOX_ACME_EAB_KID and PROXBOX_ACME_EAB_HMAC go together")
	}
	if m.cfg.ACMEEABKeyID != "" {
		tmpl.ExternalAccount = &acme.EAB{KeyID: m.cfg.ACMEEABKeyID, MACKey: m.cfg.ACMEEABHMAC}
	}
	return certmagic.NewACMEIssuer(m.magic, tmpl), nil
}

// recordingIssuer is the ACME issuer with its outcome noted for Status:
// when it fails, certmagic silently moves on to the local CA.
type recordingIssuer struct {
	*certmagic.ACMEIssuer
	m *Manager
}

func (r *recordingIssuer) PreCheck(ctx context.Context, names []string, interactive bool) error {
	err := r.ACMEIssuer.PreCheck(ctx, names, interactive)
	if err != nil {
		r.m.recordACME(names, err)
	}
	return err
}

func (r *recordingIssuer) Issue(ctx context.Context, csr *x509.CertificateRequest) (*certmagic.IssuedCertificate, error) {
	c, err := r.ACMEIssuer.Issue(ctx, csr)
	names := slices.Clone(csr.DNSNames)
	for _, ip := range csr.IPAddresses {
		names = append(names, ip.String())
	}
	r.m.recordACME(names, err)
	return c, err
}

func (m *Manager) recordACME(names []string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		m.lastACMEError = ""
		return
	}
	m.lastACMEError = fmt.Sprintf("%s: %v (serving the local CA meanwhile)", strings.Join(names, ","), err)
	m.log.Warn("ACME failed; local CA serves meanwhile", "names", names, "err", err)
}

func (m *Manager) onCertmagicEvent(_ context.Context, event string, data map[string]any) error {
	name, _ := data["identifier"].(string)
	issuer, _ := data["issuer"].(string)
	out := map[string]any{"identifier": name}
	switch event {
	case "cert_obtained":
		kind := EventObtained
		if renewal, _ := data["renewal"].(bool); renewal {
			kind = EventRenewed
		}
		out["issuer"] = issuer
		m.log.Info("certificate "+strings.TrimPrefix(kind, "cert_"), "identifier", name, "issuer", issuer)
		m.note(kind, out)
	case "cert_failed":
		errText := fmt.Sprint(data["error"])
		out["error"] = errText
		if renewal, _ := data["renewal"].(bool); renewal {
			out["renewal"] = true
		}
		m.log.Error("certificate failed", "identifier", name, "err", errText)
		m.note(EventFailed, out)
	}
	return nil
}

func (m *Manager) note(kind string, data map[string]any) {
	desc := kind + " " + fmt.Sprint(data["identifier"])
	if iss, ok := data["issuer"].(string); ok && iss != "" {
		desc += " from " + iss
	}
	if e, ok := data["error"].(string); ok {
		desc += ": " + e
	}
	info := EventInfo{Kind: kind, Identifier: fmt.Sprint(data["identifier"])}
	info.Issuer, _ = data["issuer"].(string)
	info.Error, _ = data["error"].(string)
	m.mu.Lock()
	m.lastEvent, m.lastEventAt, m.lastInfo = desc, time.Now(), info
	m.mu.Unlock()
	if m.cfg.OnEvent != nil {
		m.cfg.OnEvent(kind, data)
	}
}

func (m *Manager) startFiles() error {
	if m.cfg.CertFile == "" || m.cfg.KeyFile == "" {
		return errors.New("tls files: PROXBOX_TLS_CERT and PROXBOX_TLS_KEY are required")
	}
	interval := m.cfg.FilesCheckInterval
	if interval == 0 {
		interval = defaultFilesCheckInterval
	}
	m.files = &fileCert{certFile: m.cfg.CertFile, keyFile: m.cfg.KeyFile, interval: interval}
	leaf, err := m.files.load()
	if err != nil {
		return fmt.Errorf("tls files: %w", err)
	}
	m.files.lastCheck = time.Now()
	m.names = leafNames(leaf)
	m.files.onReload = m.onFilesReload
	m.log.Info("serving certificate files", "cert", m.cfg.CertFile, "names", m.names, "not_after", leaf.NotAfter)
	return nil
}

// onFilesReload runs under the fileCert lock, inside a handshake.
func (m *Manager) onFilesReload(leaf *x509.Certificate, err error) {
	if err != nil {
		m.mu.Lock()
		repeated := m.lastFilesErr == err.Error()
		m.lastFilesErr = err.Error()
		m.mu.Unlock()
		if !repeated {
			m.log.Error("certificate files changed but cannot be loaded; still serving the previous pair", "err", err)
			m.note(EventFailed, map[string]any{"identifier": m.cfg.CertFile, "error": err.Error()})
		}
		return
	}
	m.mu.Lock()
	m.lastFilesErr = ""
	m.mu.Unlock()
	names := leafNames(leaf)
	m.log.Info("certificate files reloaded", "names", names, "not_after", leaf.NotAfter)
	m.note(EventReloaded, map[string]any{"identifier": strings.Join(names, ","), "issuer": leaf.Issuer.String(), "not_after": leaf.NotAfter})
}

func leafNames(leaf *x509.Certificate) []string {
	names := slices.Clone(leaf.DNSNames)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// AEADSuites are the TLS 1.2 cipher suites offered: forward-secret AEAD
// only (no CBC-SHA, no RSA key exchange). TLS 1.3 suites are all AEAD and not
// configurable.
var AEADSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSConfig returns the server configuration (nil when TLS is off): TLS 1.2
// minimum with AEADSuites, and ALPN h2, http/1.1 plus acme-tls/1 for
// TLS-ALPN-01. Use it as http.Server.TLSConfig with ServeTLS(ln, "", "").
func (m *Manager) TLSConfig() *tls.Config {
	switch {
	case m.files != nil:
		return &tls.Config{
			MinVersion:     tls.VersionTLS12,
			CipherSuites:   AEADSuites,
			GetCertificate: m.files.getCertificate,
			NextProtos:     []string{"h2", "http/1.1"},
		}
	case m.magic != nil:
		return &tls.Config{
			MinVersion:     tls.VersionTLS12,
			CipherSuites:   AEADSuites,
			GetCertificate: m.getCertificate,
			NextProtos:     []string{"h2", "http/1.1", acmeTLS1},
		}
	}
	return nil
}

// getCertificate asks certmagic first. When it has nothing yet (an ACME
// order still pending on first start), the local CA signs a short-lived
// stand-in so the server is reachable meanwhile.
func (m *Manager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	c, err := m.magic.GetCertificate(hello)
	if err == nil && c != nil && len(c.Certificate) > 0 {
		return c, nil
	}
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmeTLS1 {
		return nil, err
	}
	name := normalizeName(hello.ServerName)
	if !m.nameSet[name] {
		name = m.defaultName
	}
	return m.standIn(name)
}

func (m *Manager) standIn(name string) (*tls.Certificate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.boot[name]; ok && time.Until(c.Leaf.NotAfter) > time.Hour {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("stand-in key: %w", err)
	}
	req := &x509.CertificateRequest{}
	if ip := net.ParseIP(name); ip != nil {
		req.IPAddresses = []net.IP{ip}
	} else {
		req.DNSNames = []string{name}
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, req, key)
	if err != nil {
		return nil, fmt.Errorf("stand-in CSR: %w", err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("stand-in CSR: %w", err)
	}
	der, err := m.ca.sign(csr, time.Now())
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("stand-in parse: %w", err)
	}
	c := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	m.boot[name] = c
	return c, nil
}

// HTTPHandler returns the handler for the optional plain-HTTP port. With
// TLS on it answers ACME HTTP-01 challenges and sends every other request
// to fallback, or, when fallback is nil, redirects it to HTTPS. With TLS off
// it is fallback itself (404 when nil).
func (m *Manager) HTTPHandler(fallback http.Handler) http.Handler {
	if m.cfg.Mode == ModeOff || m.magic == nil && m.files == nil {
		if fallback == nil {
			return http.NotFoundHandler()
		}
		return fallback
	}
	next := fallback
	if next == nil {
		next = http.HandlerFunc(m.redirect)
	}
	if m.acme != nil {
		return m.acme.HTTPChallengeHandler(next)
	}
	return next
}

func (m *Manager) redirect(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" || normalizeName(host) == "" {
		http.Error(w, "bad Host header", http.StatusBadRequest)
		return
	}
	if port := m.cfg.HTTPSPort; port != 0 && port != 443 {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	target := url.URL{Scheme: "https", Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	w.Header().Set("Connection", "close")
	http.Redirect(w, r, target.String(), http.StatusPermanentRedirect)
}

// RootPEM returns the local CA's root certificate (nil outside local and
// acme modes).
func (m *Manager) RootPEM() []byte {
	if m.ca == nil {
		return nil
	}
	return m.ca.PEM()
}

// RootFingerprint returns the local root's SHA-256 fingerprint, upper-case
// hex pairs joined by colons ("" outside local and acme modes).
func (m *Manager) RootFingerprint() string {
	if m.ca == nil {
		return ""
	}
	return m.ca.Fingerprint()
}

// Status reports the mode, names and the certificates currently served.
func (m *Manager) Status() Status {
	m.mu.Lock()
	s := Status{
		Mode:          m.cfg.Mode,
		Names:         slices.Clone(m.names),
		DefaultName:   m.defaultName,
		LastEvent:     m.lastEvent,
		LastEventAt:   m.lastEventAt,
		LastEventInfo: m.lastInfo,
		LastACMEError: m.lastACMEError,
		LastError:     m.lastFilesErr,
		NamesWarning:  m.namesWarning,
	}
	m.mu.Unlock()
	s.RootFingerprint = m.RootFingerprint()
	switch {
	case m.files != nil:
		if leaf := m.files.currentLeaf(); leaf != nil {
			s.Issuer, s.NotAfter = leaf.Issuer.String(), leaf.NotAfter
			s.Names = leafNames(leaf)
		}
	case m.cache != nil:
		for _, name := range m.names {
			cs := CertStatus{Name: name}
			for _, c := range m.cache.AllMatchingCertificates(name) {
				leaf := c.Leaf
				if leaf == nil && len(c.Certificate.Certificate) > 0 {
					leaf, _ = x509.ParseCertificate(c.Certificate.Certificate[0])
				}
				if leaf != nil && leaf.NotAfter.After(cs.NotAfter) {
					cs.NotAfter, cs.Issuer = leaf.NotAfter, m.issuerOf(leaf)
				}
			}
			if cs.Issuer == "" {
				cs.Issuer = "none yet"
			}
			if name == m.defaultName || s.Issuer == "" {
				s.Issuer, s.NotAfter = cs.Issuer, cs.NotAfter
			}
			s.Certificates = append(s.Certificates, cs)
		}
	}
	return s
}

func (m *Manager) issuerOf(leaf *x509.Certificate) string {
	if m.ca != nil && leaf.CheckSignatureFrom(m.ca.cert) == nil {
		return m.ca.IssuerKey()
	}
	return leaf.Issuer.String()
}

// Close stops certmagic's maintenance and any pending ACME work. It is
// safe to call more than once.
func (m *Manager) Close() {
	m.closeOnce.Do(func() {
		if m.cancel != nil {
			m.cancel()
		}
		if m.cache != nil {
			m.cache.Stop()
		}
	})
}
