package main

import (
	"context"
	"errors"
	"io"
)

// runLab is filled by the lab issue (#3).
func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lab", "lab [flags]", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return errors.New("not yet available: the lab simulators are issue #3")
}
