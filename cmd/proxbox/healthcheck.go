package main

import (
	"context"
	"errors"
	"io"
)

func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", "healthcheck [flags]", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return errors.New("not yet available")
}
