package main

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/proxbox/proxbox/server"
)

// Stamped by the linker: -X main.version=... -X main.commit=...
var (
	version = "dev"
	commit  = "unknown"
)

func build() server.Build { return server.Build{Version: version, Commit: commit} }

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "version", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "proxbox %s (commit %s, API level %s, %s %s/%s)\n", version, commit, server.APILevel, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
