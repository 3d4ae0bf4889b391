package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/proxbox/proxbox/certs"
)

// runCA prints the local certificate authority's root (creating the CA on
// first use, exactly as `serve` would) so it can be trusted on the NetBox
// host: copied into the system store or pointed at by REQUESTS_CA_BUNDLE.
func runCA(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ca", "ca export|fingerprint [flags]\n\n"+
		"  export       print the local root CA certificate (PEM) to stdout\n"+
		"  fingerprint  print the root's SHA-256 fingerprint\n\n"+
		"The CA lives in $CAROOT when set, otherwise in <data-dir>/ca; it is\n"+
		"created when missing. Trust it on the NetBox host, e.g.:\n"+
		"  proxbox ca export > /usr/local/share/ca-certificates/proxbox.crt && update-ca-certificates\n"+
		"  or: proxbox ca export > proxbox-ca.pem; export REQUESTS_CA_BUNDLE=$PWD/proxbox-ca.pem", stderr)
	dataDir := fs.String("data-dir", caEnvOr("PROXBOX_DATA_DIR", "./data"), "directory for the store, keys and certificates [$PROXBOX_DATA_DIR]")
	caRoot := fs.String("ca-root", os.Getenv("CAROOT"), "directory of the local CA (default: <data-dir>/ca) [$CAROOT]")

	action := ""
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		action, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch action {
	case "export", "fingerprint":
	case "":
		fs.Usage()
		return errUsage
	default:
		fmt.Fprintf(stderr, "unknown action %q\n\n", action)
		fs.Usage()
		return errUsage
	}

	ca, err := certs.OpenCA(ctx, *dataDir, *caRoot)
	if err != nil {
		return err
	}
	if action == "export" {
		_, err = stdout.Write(ca.PEM())
	} else {
		_, err = fmt.Fprintln(stdout, ca.Fingerprint())
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", action, err)
	}
	return nil
}

func caEnvOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
