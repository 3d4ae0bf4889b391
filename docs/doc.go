// Package docs holds proxbox's user documentation: the Markdown pages in
// English here and in Brazilian Portuguese in pt-BR/. It has no code; its
// tests keep the pages honest: every page exists in both languages and
// names the same things in inline code (variables, routes, values), the
// configuration reference is the options table of config/ (regenerate it
// with `go generate ./docs/`), every environment variable the code reads is
// documented, metrics.md names exactly the metrics proxbox exposes, and no
// link leaves the repository or points at a missing file.
// It must not be imported.
package docs

//go:generate go test -run TestConfigurationReference -update .
