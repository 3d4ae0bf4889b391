package main

import (
	"context"
	"errors"
	"io"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "demo [flags]", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return errors.New("not yet available")
}
