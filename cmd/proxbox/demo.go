package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/proxbox/proxbox/config"
	"github.com/proxbox/proxbox/lab"
	"github.com/proxbox/proxbox/store"
	"github.com/proxbox/proxbox/syncrun"
)

// demoMarker marks a data directory that `proxbox demo` created and may
// therefore wipe at its next start.
const demoMarker = ".proxbox-demo"

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "demo [flags]\n\nRuns the appliance with its embedded lab: HTTPS on the local CA, simulated Proxmox VE\nclusters and NetBox, endpoints and an admin API key preconfigured in a fresh data directory\n(<data-dir>/demo), and a first sync started. Stop it with Ctrl-C.", stderr)
	load := config.Flags(fs, nil)
	var lf labFlags
	lf.register(fs, "127.0.0.1:0", "127.0.0.1:0", 40)
	keep := fs.Bool("keep", false, "keep the previous demo's data directory instead of starting fresh")
	demoDefaults(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := load(os.Getenv)
	if err != nil {
		return err
	}
	cfg.DataDir = filepath.Join(cfg.DataDir, "demo")
	if err := freshDemoDir(cfg.DataDir, *keep); err != nil {
		return err
	}

	labCfg, err := lf.config(nil)
	if err != nil {
		return err
	}
	// The lab lives as long as the appliance: when serving ends, also on an error such as a
	// busy port, the lab is stopped and awaited, so demo exits instead of waiting on it.
	labCtx, stopLab := context.WithCancel(ctx)
	defer stopLab()
	l, err := lab.Start(labCtx, labCfg)
	if err != nil {
		return err
	}
	defer func() { stopLab(); _ = l.Wait() }()

	return serveAppliance(ctx, cfg, stderr, func(ctx context.Context, a *appliance) error {
		key, err := demoSetup(ctx, a.store, l)
		if err != nil {
			return fmt.Errorf("demo setup: %w", err)
		}
		run, err := a.runner.Start(ctx, syncrun.Request{Trigger: syncrun.TriggerDashboard})
		if err != nil {
			return fmt.Errorf("demo: first sync: %w", err)
		}
		link, err := a.dash.LoginLink(ctx, demoLinkTTL)
		if err != nil {
			return fmt.Errorf("demo: one-time sign-in link: %w", err)
		}
		printDemoBanner(stdout, a, l, key, a.baseURL+link, run.ID)
		return nil
	})
}

// Demo lab defaults: a NetBox that answers like a real one on a LAN
// (tens of milliseconds per request, a little per object written) and a few
// guests whose agent is slow, so a demo sync takes a few seconds and the
// live view is seen moving. Each gives way to its flag when given.
var demoLabDefaults = map[string]string{
	"netbox-latency":    "25ms",
	"netbox-jitter":     "15ms",
	"netbox-write-cost": "3ms",
	"pve-latency":       "2ms",
	"pve-slow-agent":    "1500ms",
}

// demoDefaults makes demoLabDefaults the flags' defaults (shown by --help).
func demoDefaults(fs *flag.FlagSet) {
	for name, v := range demoLabDefaults {
		if fl := fs.Lookup(name); fl != nil && fl.Value.Set(v) == nil {
			fl.DefValue = v
		}
	}
}

// freshDemoDir empties dir when an earlier demo made it; it refuses to
// touch a directory it did not create.
func freshDemoDir(dir string, keep bool) error {
	_, err := os.Stat(dir)
	if err == nil && keep {
		return nil
	}
	if err == nil {
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return fmt.Errorf("%s exists and was not made by proxbox demo; move it away or pass --keep", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("reset demo data: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), []byte("made by proxbox demo; deleted at the next demo start\n"), 0o600)
}

// demoSetup registers an admin key and the lab's endpoints in the store,
// unless they are there already (--keep).
func demoSetup(ctx context.Context, st *store.Store, l *lab.Lab) (string, error) {
	raw, err := store.NewRawKey()
	if err != nil {
		return "", err
	}
	if _, err := st.CreateKey(ctx, "demo admin", raw); err != nil {
		return "", err
	}
	if nb := l.Info.NetBox; nb != nil {
		eps, err := st.NetBoxEndpoints(ctx)
		if err != nil {
			return "", err
		}
		for _, e := range eps {
			if err := st.DeleteNetBoxEndpoint(ctx, e.ID); err != nil {
				return "", err
			}
		}
		if _, err := st.CreateNetBoxEndpoint(ctx, store.NetBoxEndpoint{
			Name: "Lab NetBox", IPAddress: nb.Host, Port: nb.Port, TokenVersion: "v1", Token: store.Secret(nb.Token), VerifySSL: nb.TLS,
		}); err != nil {
			return "", err
		}
	}
	existing, err := st.ProxmoxEndpoints(ctx)
	if err != nil {
		return "", err
	}
	for _, e := range existing {
		if err := st.DeleteProxmoxEndpoint(ctx, e.ID); err != nil {
			return "", err
		}
	}
	for _, p := range l.Info.PVE {
		user, name, _ := cutToken(p.TokenID)
		if l.NetBox != nil {
			// The plugin's own row for this endpoint, as a NetBox with netbox-proxbox
			// installed holds it (backup routines and replications point at it).
			if _, err := l.NetBox.SeedProxmoxEndpoint(ctx, "Lab "+p.Name, p.Host, p.Port, user); err != nil {
				return "", fmt.Errorf("seed the lab NetBox: %w", err)
			}
		}
		if _, err := st.CreateProxmoxEndpoint(ctx, store.ProxmoxEndpoint{
			Name: "Lab " + p.Name, IPAddress: p.Host, Port: p.Port, Username: user,
			TokenName: name, TokenValue: store.Secret(p.TokenSecret), VerifySSL: false,
		}); err != nil {
			return "", err
		}
	}
	return raw, nil
}

// cutToken splits USER@REALM!NAME into user and token name.
func cutToken(id string) (user, name string, ok bool) {
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '!' {
			return id[:i], id[i+1:], true
		}
	}
	return id, "", false
}

// demoLinkTTL is how long the banner's one-time sign-in link stays valid.
const demoLinkTTL = 15 * time.Minute

func printDemoBanner(w io.Writer, a *appliance, l *lab.Lab, key, link string, runID int64) {
	fmt.Fprintf(w, "\nproxbox demo is running.\n\n")
	fmt.Fprintf(w, "  Appliance:   %s   (dashboard: %s/ui/)\n", a.baseURL, a.baseURL)
	fmt.Fprintf(w, "  Sign in:     %s\n", link)
	fmt.Fprintf(w, "               (one-time link, valid %s: opens the dashboard signed in)\n", demoLinkTTL)
	fmt.Fprintf(w, "  Admin key:   %s\n", key)
	fmt.Fprintf(w, "               (sign in to the dashboard with it, or send it as the X-Proxbox-API-Key header)\n")
	if a.tls != nil {
		ca := filepath.Join(a.cfg.DataDir, "ca", "rootCA.pem")
		if a.cfg.CARoot != "" {
			ca = filepath.Join(a.cfg.CARoot, "rootCA.pem")
		}
		fmt.Fprintf(w, "  Local CA:    %s  (SHA-256 %s)\n", ca, a.tls.RootFingerprint())
		fmt.Fprintf(w, "  Try:         curl --cacert %s -H 'X-Proxbox-API-Key: %s' %s/proxmox/endpoints\n", ca, key, a.baseURL)
	}
	for _, p := range l.Info.PVE {
		fmt.Fprintf(w, "  Proxmox lab: %-10s %s\n", p.Name, p.URL)
	}
	if nb := l.Info.NetBox; nb != nil {
		fmt.Fprintf(w, "  NetBox lab:  %s  (token %s; object counts at %s/_lab/stats)\n", nb.URL, nb.Token, nb.URL)
	}
	fmt.Fprintf(w, "\nA first sync (run #%d) is running: watch it at %s/ui/sync, or in the History page.\n", runID, a.baseURL)
	fmt.Fprintf(w, "Stop with Ctrl-C. Data: %s\n\n", a.cfg.DataDir)
}
