// Package lab starts the Proxmox VE and NetBox simulators together (the
// packages lab/pve and lab/netbox do the simulating): listeners, TLS,
// credentials, and the one-line description `proxbox lab` prints and
// `proxbox demo` uses to configure the appliance. It must not import the
// appliance's server, store or sync engine.
package lab

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	nbsim "github.com/proxbox/proxbox/lab/netbox"
	"github.com/proxbox/proxbox/lab/pve"
)

// DefaultNetBoxToken is the v1 token the NetBox simulator accepts unless
// told otherwise (40 hex characters, like a NetBox v1 token).
const DefaultNetBoxToken = "0123456789abcdef0123456789abcdef01234567"

// Config describes the lab to start.
type Config struct {
	// PVEListen is the address of the first Proxmox simulator; each further
	// generated cluster listens on the next port (port 0: any free port).
	// Empty turns the Proxmox simulators off.
	PVEListen string
	// NetBoxListen is the NetBox simulator's address; empty turns it off.
	NetBoxListen string
	NetBoxTLS    bool
	PVEFixtures  string // fixture mode; else generated
	Scale        int
	Seed         int64
	SharedRange  bool   // generated clusters reuse one private range (pve.GenOptions)
	PVEToken     string // USER@REALM!NAME=SECRET; empty: pve.DefaultToken
	NetBoxToken  string // empty: DefaultNetBoxToken
	PVEFaults    pve.Faults
	NetBoxFaults nbsim.Faults
	Logger       *slog.Logger
}

// PVEInfo describes one running Proxmox simulator.
type PVEInfo struct {
	Name        string `json:"name"`
	URL         string `json:"url"`
	TokenID     string `json:"token_id"`
	TokenSecret string `json:"token_secret"`
	Fingerprint string `json:"fingerprint"`
	Host        string `json:"host"`
	Port        int    `json:"port"`
}

// NetBoxInfo describes the running NetBox simulator.
type NetBoxInfo struct {
	URL   string `json:"url"`
	Token string `json:"token"`
	Host  string `json:"host"`
	Port  int    `json:"port"`
	TLS   bool   `json:"tls"`
}

// Info is what `proxbox lab` prints.
type Info struct {
	PVE    []PVEInfo   `json:"pve"`
	NetBox *NetBoxInfo `json:"netbox,omitempty"`
}

// Lab is a running set of simulators.
type Lab struct {
	Info   Info
	PVE    []*pve.Server
	NetBox *nbsim.Server
	// PVERoots trusts the Proxmox simulators' self-signed certificates.
	PVERoots *x509.CertPool

	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

// Start opens the listeners and serves until ctx ends; Wait returns after.
func Start(ctx context.Context, cfg Config) (*Lab, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.NetBoxToken == "" {
		cfg.NetBoxToken = DefaultNetBoxToken
	}
	l := &Lab{PVERoots: x509.NewCertPool()}
	var listeners []net.Listener
	fail := func(err error) (*Lab, error) {
		for _, ln := range listeners {
			ln.Close()
		}
		return nil, err
	}
	if cfg.PVEListen != "" {
		servers, err := pve.NewLab(pve.Options{FixturesFile: cfg.PVEFixtures, Scale: cfg.Scale, Seed: cfg.Seed, SharedRange: cfg.SharedRange, Token: cfg.PVEToken, Faults: cfg.PVEFaults, Logger: cfg.Logger.With("module", "lab-pve")})
		if err != nil {
			return fail(fmt.Errorf("proxmox simulator: %w", err))
		}
		host, portStr, err := net.SplitHostPort(cfg.PVEListen)
		if err != nil {
			return fail(fmt.Errorf("--pve-listen %q: %w", cfg.PVEListen, err))
		}
		base, _ := strconv.Atoi(portStr)
		for i, s := range servers {
			port := 0
			if base != 0 {
				port = base + i
			}
			ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				return fail(fmt.Errorf("proxmox simulator %s: %w", s.Name(), err))
			}
			listeners = append(listeners, ln)
			addr := ln.Addr().(*net.TCPAddr)
			cert, err := pve.SelfSignedCert(s.Name(), host, "localhost", "127.0.0.1")
			if err != nil {
				return fail(err)
			}
			l.PVERoots.AddCert(cert.Leaf)
			l.PVE = append(l.PVE, s)
			l.Info.PVE = append(l.Info.PVE, PVEInfo{
				Name: s.Name(), URL: "https://" + net.JoinHostPort(displayHost(host), strconv.Itoa(addr.Port)),
				TokenID: s.TokenID(), TokenSecret: s.TokenSecret(), Fingerprint: pve.Fingerprint(cert.Leaf),
				Host: displayHost(host), Port: addr.Port,
			})
			l.serve(func() error { return s.ServeTLS(ctx, ln, &cert) })
		}
	}
	if cfg.NetBoxListen != "" {
		nb := nbsim.New(nbsim.Options{Tokens: []nbsim.Token{{Value: cfg.NetBoxToken}}, Faults: cfg.NetBoxFaults, Seed: uint64(cfg.Seed), Logger: cfg.Logger.With("module", "lab-netbox")})
		ln, err := net.Listen("tcp", cfg.NetBoxListen)
		if err != nil {
			return fail(fmt.Errorf("netbox simulator: %w", err))
		}
		listeners = append(listeners, ln)
		host, _, _ := net.SplitHostPort(cfg.NetBoxListen)
		scheme := "http"
		if cfg.NetBoxTLS {
			scheme = "https"
		}
		port := ln.Addr().(*net.TCPAddr).Port
		l.NetBox = nb
		l.Info.NetBox = &NetBoxInfo{URL: scheme + "://" + net.JoinHostPort(displayHost(host), strconv.Itoa(port)), Token: cfg.NetBoxToken, Host: displayHost(host), Port: port, TLS: cfg.NetBoxTLS}
		l.serve(func() error { return nb.Serve(ctx, ln, cfg.NetBoxTLS) })
	}
	return l, nil
}

func (l *Lab) serve(fn func() error) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		if err := fn(); err != nil {
			l.mu.Lock()
			l.errs = append(l.errs, err)
			l.mu.Unlock()
		}
	}()
}

// Wait blocks until every simulator has stopped (after ctx ends) and
// returns their errors.
func (l *Lab) Wait() error {
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(l.errs...)
}

func displayHost(h string) string {
	if h == "" || h == "0.0.0.0" || h == "::" {
		return "127.0.0.1"
	}
	return h
}

// ParseDuration accepts Go durations ("2ms") for the latency flags.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 2ms", s)
	}
	return d, nil
}
