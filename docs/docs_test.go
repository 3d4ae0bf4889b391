package docs

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/proxbox/proxbox/config"
	"github.com/proxbox/proxbox/metrics"
	"github.com/proxbox/proxbox/netbox/getcache"
)

var update = flag.Bool("update", false, "rewrite the generated pages (go generate ./docs/)")

// englishOnly lists the pages that have no pt-BR counterpart, with the
// reason.
var englishOnly = map[string]string{
	"CONTRIBUTING.md": "for contributors: the code, commit messages, reviews and issues of the project are in English",
}

// pages lists the Markdown pages of dir (not its subdirectories).
func pages(t *testing.T, dir string) map[string]bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".md") {
			out[e.Name()] = true
		}
	}
	return out
}

// TestEveryPageInBothLanguages fails when a page exists in one language and
// not the other.
func TestEveryPageInBothLanguages(t *testing.T) {
	en, pt := pages(t, "."), pages(t, "pt-BR")
	for p := range en {
		if !pt[p] && englishOnly[p] == "" {
			t.Errorf("docs/%s has no Brazilian Portuguese counterpart: write docs/pt-BR/%s (or list it in englishOnly with the reason)", p, p)
		}
	}
	for p := range pt {
		if !en[p] {
			t.Errorf("docs/pt-BR/%s has no English counterpart: write docs/%s", p, p)
		}
	}
	for p := range englishOnly {
		if pt[p] {
			t.Errorf("docs/pt-BR/%s exists: remove %s from englishOnly", p, p)
		}
		if !en[p] {
			t.Errorf("englishOnly lists %s, which does not exist", p)
		}
	}
	if len(en) < 10 {
		t.Fatalf("only %d pages in docs/", len(en))
	}
}

// TestConfigurationReference fails when docs/configuration.md or
// docs/pt-BR/configuration.md differs from the options table in config/.
func TestConfigurationReference(t *testing.T) {
	for lang, file := range map[string]string{"en": "configuration.md", "pt-BR": "pt-BR/configuration.md"} {
		want, err := config.ReferenceMarkdown(lang)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v: run go generate ./docs/", err)
		}
		if string(got) != want {
			t.Errorf("docs/%s differs from the options table in config/: run go generate ./docs/ (first difference: %s)", file, firstDiff(string(got), want))
		}
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d: have %q, want %q", i+1, a, b)
		}
	}
	return "none"
}

var envName = regexp.MustCompile(`"((?:PROXBOX|MKCERT)_[A-Z0-9_]+|CAROOT|PORT)"`)

// TestEveryVariableIsDocumented scans the Go sources for environment
// variable names and fails on one that neither the configuration reference
// nor the migration page mentions. PROXBOX_TEST_* are the test harness's
// (lab/nbtest reads them, make test-real sets them): docs/sync.md, "Against
// a real NetBox", documents those.
func TestEveryVariableIsDocumented(t *testing.T) {
	var documented strings.Builder
	for _, f := range []string{"configuration.md", "migrate.md"} {
		b, err := os.ReadFile(f)
		if err == nil {
			documented.Write(b)
		}
	}
	harness, err := os.ReadFile("sync.md")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string][]string{}
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range envName.FindAllSubmatch(b, -1) {
			found[string(m[1])] = append(found[string(m[1])], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasPrefix(n, "PROXBOX_TEST_") {
			if !strings.Contains(string(harness), "`"+n+"`") {
				t.Errorf("%s is read in %s but not documented in docs/sync.md", n, strings.Join(found[n], ", "))
			}
			continue
		}
		if !strings.Contains(documented.String(), "`"+n+"`") {
			t.Errorf("%s is read in %s but documented in neither docs/configuration.md nor docs/migrate.md", n, strings.Join(found[n], ", "))
		}
	}
	if len(names) < 30 {
		t.Fatalf("only %d variables found: the scan is broken", len(names))
	}
}

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestLinksStayInTheRepository fails on a link that leaves the repository
// (../shared/ is not in a clone) or points at a file that does not exist.
func TestLinksStayInTheRepository(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{".", "pt-BR"} {
		for p := range pages(t, dir) {
			file := filepath.Join(dir, p)
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "../shared") || strings.Contains(string(b), "shared/spec") {
				t.Errorf("docs/%s points at the team's shared folder, which a clone does not have", file)
			}
			for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				target, _, _ = strings.Cut(target, "#")
				abs, err := filepath.Abs(filepath.Join(dir, target))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(abs, root+string(filepath.Separator)) {
					t.Errorf("docs/%s links to %s, outside the repository", file, m[1])
					continue
				}
				if _, err := os.Stat(abs); err != nil {
					t.Errorf("docs/%s links to %s, which does not exist", file, m[1])
				}
			}
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

var metricName = regexp.MustCompile(`proxbox_[a-z0-9_]+`)

// TestMetricNames fails when metrics.md (either language) names a metric
// proxbox does not expose, or does not name one it exposes.
func TestMetricNames(t *testing.T) {
	reg := metrics.New()
	cache := getcache.New(getcache.Config{})
	if err := reg.RegisterCache(cache); err != nil {
		t.Fatal(err)
	}
	// Vectors appear once they have a child: touch each instrument.
	reg.ObserveSyncRun("devices", time.Second, true)
	reg.AddSyncObjects("virtual_machine", "created", 1)
	reg.CertificateEvent("obtained")
	rt := reg.InstrumentTransport("netbox", roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	}))
	req, _ := http.NewRequest("GET", "http://netbox.invalid/api/", nil)
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	exposed := map[string]bool{}
	mfs, err := reg.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "proxbox_") {
			exposed[mf.GetName()] = true
		}
	}
	legacy := map[string]bool{}
	var text bytes.Buffer
	if err := cache.WritePrometheusText(&text); err != nil {
		t.Fatal(err)
	}
	for _, n := range metricName.FindAllString(text.String(), -1) {
		legacy[n] = true
	}
	if len(exposed) < 15 || len(legacy) < 5 {
		t.Fatalf("only %d metrics exposed and %d legacy names: the test is broken", len(exposed), len(legacy))
	}
	for _, file := range []string{"metrics.md", "pt-BR/metrics.md"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		named := map[string]bool{}
		for _, n := range metricName.FindAllString(string(b), -1) {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(n, suffix); ok && exposed[base] {
					n = base
				}
			}
			named[n] = true
			if !exposed[n] && !legacy[n] {
				t.Errorf("docs/%s names %s, which proxbox does not expose", file, n)
			}
		}
		for n := range exposed {
			if !named[n] {
				t.Errorf("docs/%s does not document %s", file, n)
			}
		}
	}
}

var (
	fence    = regexp.MustCompile("(?s)```.*?```")
	codeSpan = regexp.MustCompile("`([^`]+)`")
	// placeholder is a <name> in code, which a translation may translate.
	placeholder = regexp.MustCompile(`<[^<>]+>`)
)

// codeSpans lists the inline code of a page (names, paths, values), which
// a translation keeps as it is, white space collapsed and <placeholders>
// blanked (they may be translated); fenced blocks are left out (their
// comments are translated).
func codeSpans(t *testing.T, file string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range codeSpan.FindAllStringSubmatch(fence.ReplaceAllString(string(b), ""), -1) {
		out[placeholder.ReplaceAllString(strings.Join(strings.Fields(m[1]), " "), "<>")] = true
	}
	return out
}

// TestTranslationsKeepTheFacts fails when a page and its translation do not
// name the same things in inline code (variables, routes, values,
// commands): a fact added to one language and not the other.
func TestTranslationsKeepTheFacts(t *testing.T) {
	for p := range pages(t, ".") {
		if englishOnly[p] != "" {
			continue
		}
		if _, err := os.Stat(filepath.Join("pt-BR", p)); err != nil {
			continue // TestEveryPageInBothLanguages reports it
		}
		en, pt := codeSpans(t, p), codeSpans(t, filepath.Join("pt-BR", p))
		var onlyEN, onlyPT []string
		for s := range en {
			if !pt[s] {
				onlyEN = append(onlyEN, s)
			}
		}
		for s := range pt {
			if !en[s] {
				onlyPT = append(onlyPT, s)
			}
		}
		sort.Strings(onlyEN)
		sort.Strings(onlyPT)
		if len(onlyEN) > 0 {
			t.Errorf("docs/%s names %q, which docs/pt-BR/%s does not: update the translation", p, onlyEN, p)
		}
		if len(onlyPT) > 0 {
			t.Errorf("docs/pt-BR/%s names %q, which docs/%s does not: update the English page", p, onlyPT, p)
		}
	}
}
