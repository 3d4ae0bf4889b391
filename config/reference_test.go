package config

import (
	"strings"
	"testing"
)

// TestReferenceCoversTheTable fails when a setting lacks a help text in a
// language or a translation names a setting that no longer exists.
func TestReferenceCoversTheTable(t *testing.T) {
	for _, lang := range []string{"en", "pt-BR"} {
		rows, err := Reference(lang)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(options) {
			t.Errorf("%s: %d rows for %d options", lang, len(rows), len(options))
		}
		md, err := ReferenceMarkdown(lang)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range options {
			if !strings.Contains(md, "| `"+o.env+"` |") {
				t.Errorf("%s reference lacks %s", lang, o.env)
			}
		}
	}
	known := map[string]bool{}
	for _, o := range options {
		known[o.env] = true
	}
	for _, m := range []map[string]string{helpEN, helpPTBR} {
		for env := range m {
			if !known[env] {
				t.Errorf("config/reference.go has a help text for %s, which is not in the options table: remove it", env)
			}
		}
	}
	if _, err := ReferenceMarkdown("fr"); err == nil {
		t.Error("an unknown language must be refused")
	}
}
