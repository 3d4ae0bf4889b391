package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"
)

// defaultFilesCheckInterval bounds how often a handshake looks at the
// files' modification times.
const defaultFilesCheckInterval = 5 * time.Second

// fileCert serves a user-supplied certificate chain and key (as certbot
// writes them) and reloads them when either file changes on disk. The check
// runs inside handshakes, at most once per interval, so no goroutine polls.
type fileCert struct {
	certFile, keyFile string
	interval          time.Duration
	onReload          func(leaf *x509.Certificate, err error)

	mu        sync.Mutex
	cert      *tls.Certificate
	leaf      *x509.Certificate
	stamp     [2]fileStamp
	lastCheck time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

// load reads both files and swaps them in. On error the previous pair stays.
func (f *fileCert) load() (*x509.Certificate, error) {
	cs, err := stampOf(f.certFile)
	if err != nil {
		return nil, fmt.Errorf("stat certificate: %w", err)
	}
	ks, err := stampOf(f.keyFile)
	if err != nil {
		return nil, fmt.Errorf("stat key: %w", err)
	}
	certPEM, err := os.ReadFile(f.certFile)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(f.keyFile)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load %s and %s: %w", f.certFile, f.keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse %s: %w", f.certFile, err)
		}
	}
	f.cert, f.leaf, f.stamp = &pair, leaf, [2]fileStamp{cs, ks}
	return leaf, nil
}

// current returns the pair to serve, reloading first when the interval has
// passed and either file's modification time or size changed.
func (f *fileCert) current(now time.Time) *tls.Certificate {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now.Sub(f.lastCheck) < f.interval {
		return f.cert
	}
	f.lastCheck = now
	cs, err1 := stampOf(f.certFile)
	ks, err2 := stampOf(f.keyFile)
	if err1 == nil && err2 == nil && cs == f.stamp[0] && ks == f.stamp[1] {
		return f.cert
	}
	leaf, err := f.load()
	if f.onReload != nil {
		f.onReload(leaf, err)
	}
	return f.cert
}

func (f *fileCert) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := f.current(time.Now()); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("no certificate loaded from %s", f.certFile)
}

func (f *fileCert) currentLeaf() *x509.Certificate {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leaf
}
