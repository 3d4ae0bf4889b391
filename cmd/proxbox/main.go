// Command proxbox is the proxbox appliance: one binary that serves the
// netbox-proxbox plugin's backend API, runs the Proxmox-to-NetBox sync engine,
// terminates TLS and serves the dashboard. This package holds flags and
// wiring only; behaviour lives in the packages it calls.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand of the proxbox binary. Each lives in its own file.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"serve":       {"run the appliance (API, sync engine, dashboard)", runServe},
	"demo":        {"run the appliance with the embedded Proxmox and NetBox lab", runDemo},
	"lab":         {"serve the Proxmox VE and NetBox simulators", runLab},
	"sync":        {"run one sync from the command line", runSync},
	"migrate":     {"import endpoints and API keys from a proxbox-api database", runMigrate},
	"ca":          {"manage the local certificate authority", runCA},
	"version":     {"print version and commit", runVersion},
	"healthcheck": {"exit 0 when the local server answers /health", runHealthcheck},
}

// errUsage marks errors already explained by printed usage text.
var errUsage = errors.New("usage")

func main() {
	// Everything proxbox creates (the store and its WAL/SHM files, keys,
	// certificates, logs) is for its own user only (issue 14).
	restrictUmask()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	for _, f := range atExit {
		f()
	}
	os.Exit(code)
}

// atExit runs before the process exits (a -tags pprof build stops its
// profiles there: pprof.go).
var atExit []func()

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "proxbox: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errSyncFailed):
		return 1
	default:
		fmt.Fprintf(stderr, "proxbox %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "proxbox keeps NetBox true to what runs on Proxmox VE.")
	fmt.Fprintln(w, "\nUsage: proxbox <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-12s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'proxbox <command> --help' for the flags of one command.")
}

// newFlagSet returns a flag set whose usage text names the command.
func newFlagSet(name, synopsis string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: proxbox %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and converts parse errors into errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		return errUsage
	}
	return nil
}
