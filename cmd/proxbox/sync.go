package main

import (
	"context"
	"errors"
	"io"
)

func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sync", "sync [flags]", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return errors.New("not yet available")
}
