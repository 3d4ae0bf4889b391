package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestEveryCommandHasHelp(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &out, &out); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for name := range commands {
		if !strings.Contains(out.String(), name) {
			t.Errorf("usage does not list %s", name)
		}
		var help bytes.Buffer
		if code := run(context.Background(), []string{name, "--help"}, &help, &help); code != 0 {
			t.Errorf("%s --help: exit %d: %s", name, code, help.String())
		}
		if !strings.Contains(help.String(), "Usage: proxbox "+name) {
			t.Errorf("%s --help does not show its usage: %q", name, help.String())
		}
	}
}

func TestUnknownCommandAndBadFlag(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &out, &out); code != 2 {
		t.Fatalf("unknown command exit %d", code)
	}
	if code := run(context.Background(), []string{"version", "--nope"}, &out, &out); code != 2 {
		t.Fatalf("bad flag exit %d", code)
	}
}

func TestVersionPrintsVersionAndCommit(t *testing.T) {
	version, commit = "v1.2.3", "abcdef123456"
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &out); code != 0 {
		t.Fatal(code)
	}
	if !strings.Contains(out.String(), "v1.2.3") || !strings.Contains(out.String(), "abcdef123456") {
		t.Fatalf("version output: %s", out.String())
	}
}

func TestInvalidEnvironmentStopsServeWithOneLine(t *testing.T) {
	t.Setenv("PROXBOX_TLS", "bogus")
	var out bytes.Buffer
	code := run(context.Background(), []string{"serve"}, &out, &out)
	if code != 1 || strings.Count(strings.TrimSpace(out.String()), "\n") != 0 || !strings.Contains(out.String(), "PROXBOX_TLS") {
		t.Fatalf("exit %d, output %q", code, out.String())
	}
}
