package ui

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// TestCatalogLanguagesHaveTheSameKeys fails when a key exists in one
// language and not in the other, when a text is empty, or when the two
// texts of a key take different fmt arguments.
func TestCatalogLanguagesHaveTheSameKeys(t *testing.T) {
	verbs := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)
	for _, l := range Languages {
		if _, ok := catalog[l]; !ok {
			t.Fatalf("no catalogue for %s", l)
		}
	}
	for _, l := range Languages[1:] {
		for k, en := range msgEN {
			tr, ok := catalog[l][k]
			if !ok {
				t.Errorf("%s: key %q is missing", l, k)
				continue
			}
			if strings.TrimSpace(tr) == "" {
				t.Errorf("%s: key %q is empty", l, k)
			}
			if a, b := verbs.FindAllString(en, -1), verbs.FindAllString(tr, -1); !slices.Equal(a, b) {
				t.Errorf("%s: key %q takes %q, English takes %q", l, k, b, a)
			}
		}
		for k := range catalog[l] {
			if _, ok := msgEN[k]; !ok {
				t.Errorf("%s: key %q is not in the English catalogue", l, k)
			}
		}
	}
	for k, v := range msgEN {
		if strings.TrimSpace(v) == "" {
			t.Errorf("en: key %q is empty", k)
		}
	}
}

// TestEveryKeyUsedExists reads the templates and handlers for the keys
// they pass to t, tf, tr, trf and msg, and the dynamic families, and fails
// on a key the catalogue lacks (it would render as the bare key).
func TestEveryKeyUsedExists(t *testing.T) {
	use := regexp.MustCompile(`\b(?:t|tf|tr|trf|msg)\((?:ctx|r), "([a-zA-Z0-9_.]+)"`)
	lit := regexp.MustCompile(`(?:LabelA|LabelB|AuthKey)(?:, r\.AuthArg)?:? =? ?"([a-zA-Z0-9_.]+)"`)
	files, _ := filepath.Glob("*.templ")
	gofiles, _ := filepath.Glob("*.go")
	for _, f := range gofiles {
		if !strings.HasSuffix(f, "_test.go") && !strings.HasSuffix(f, "_templ.go") {
			files = append(files, f)
		}
	}
	used := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range []*regexp.Regexp{use, lit} {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				k := m[1]
				if strings.HasSuffix(k, ".") { // a family, checked below
					continue
				}
				used++
				if _, ok := msgEN[k]; !ok {
					t.Errorf("%s uses key %q, which the catalogue lacks", f, k)
				}
			}
		}
	}
	if used < 100 {
		t.Fatalf("found only %d key uses: the scan is broken", used)
	}
	var family []string
	for _, n := range nav {
		family = append(family, "nav."+n.Key)
	}
	for _, k := range []string{"netbox", "proxmox"} {
		family = append(family, "endpoints.add."+k, "endpoints.edit."+k)
	}
	for _, a := range []string{"activate", "deactivate", "delete"} {
		family = append(family, "flash.key."+a)
	}
	for _, s := range []string{"token", "token_key", "password", "token_value"} {
		family = append(family, "secret."+s)
	}
	for _, s := range []string{"ok", "running", "partial", "cancelled", "failed"} {
		family = append(family, "status."+s)
	}
	for _, s := range []string{"running", "done", "failed"} {
		family = append(family, "state."+s)
	}
	for _, s := range []string{"dashboard", "plugin", "schedule", "cli"} {
		family = append(family, "trigger."+s, "by."+s)
	}
	for _, s := range []string{"cert_obtained", "cert_renewed", "cert_failed", "cert_reloaded"} {
		family = append(family, "tls.event."+s)
	}
	for _, s := range []string{"create", "update", "orphan", "delete", "failed"} {
		family = append(family, "op."+s)
	}
	for _, k := range family {
		if _, ok := msgEN[k]; !ok {
			t.Errorf("key %q is missing", k)
		}
	}
}

func TestAcceptLanguage(t *testing.T) {
	for _, c := range []struct {
		header string
		want   Lang
	}{
		{"", English},
		{"pt-BR", Portuguese},
		{"pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7", Portuguese},
		{"pt", Portuguese},
		{"pt_PT", Portuguese},
		{"en-US,en;q=0.9,pt-BR;q=0.8", English},
		{"fr-FR,fr;q=0.9", English},
		{"fr-FR,pt;q=0.5", Portuguese},
		{"en;q=0.3, pt-BR;q=0.6", Portuguese},
		{"pt-BR;q=0", English},
		{"pt-BR;q=abc, en", English},
		{"*", English},
	} {
		if got := acceptLang(c.header); got != c.want {
			t.Errorf("Accept-Language %q: %s, want %s", c.header, got, c.want)
		}
	}
}

// TestPagesInBothLanguages renders pages for each language, chosen by
// Accept-Language and then by the switch's cookie, and checks the texts
// a user reads.
func TestPagesInBothLanguages(t *testing.T) {
	e := newEnv(t, nil)
	raw := e.addKey("admin")
	getAs := func(path, accept string) (*http.Response, string, map[string]string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.url(path), nil)
		if accept != "" {
			req.Header.Set("Accept-Language", accept)
		}
		resp, err := e.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		doc := mustDoc(t, resp)
		lang, _ := doc.Find("html").Attr("lang")
		out := map[string]string{
			"h1":      text(doc, "main h1"),
			"nav":     text(doc, "nav.pbx-nav ul:nth-of-type(2) li:first-child a"),
			"signout": text(doc, `[data-testid="signout"]`),
			"submit":  text(doc, `[data-testid="signin-form"] button[type="submit"]`),
			"label":   text(doc, `label[for="key"]`),
			"switch":  text(doc, `.pbx-lang a`),
			"title":   text(doc, "title"),
		}
		return resp, lang, out
	}
	// Signed out: the sign-in page.
	_, lang, got := getAs("/ui/signin", "pt-BR,pt;q=0.9,en;q=0.8")
	if lang != "pt-BR" || got["h1"] != "Entrar" || got["label"] != "Chave de API" || got["switch"] != "English" {
		t.Fatalf("sign-in in Portuguese: lang %q, %q", lang, got)
	}
	_, lang, got = getAs("/ui/signin", "en-GB")
	if lang != "en" || got["h1"] != "Sign in" || got["label"] != "API key" || got["switch"] != "Português (Brasil)" {
		t.Fatalf("sign-in in English: lang %q, %q", lang, got)
	}
	// Signed in: overview, sync, cache, endpoints in both languages.
	e.signIn(raw)
	want := map[Lang]map[string]string{
		English:    {"/ui/": "Overview", "/ui/sync": "Sync", "/ui/cache": "NetBox GET cache", "/ui/endpoints": "Endpoints", "/ui/keys": "API keys", "/ui/logs": "Logs", "/ui/history": "History"},
		Portuguese: {"/ui/": "Visão geral", "/ui/sync": "Sincronizar", "/ui/cache": "Cache de GET do NetBox", "/ui/endpoints": "Endpoints", "/ui/keys": "Chaves de API", "/ui/logs": "Logs", "/ui/history": "Histórico"},
	}
	for l, pages := range want {
		for path, h1 := range pages {
			resp, lang, got := getAs(path, string(l))
			if resp.StatusCode != http.StatusOK || lang != string(l) || got["h1"] != h1 || resp.Header.Get("Content-Language") != string(l) {
				t.Errorf("%s %s: %d, lang %q, h1 %q (want %q), Content-Language %q", l, path, resp.StatusCode, lang, got["h1"], h1, resp.Header.Get("Content-Language"))
			}
		}
	}
	_, _, got = getAs("/ui/", "pt-BR")
	if got["nav"] != "Visão geral" || got["signout"] != "Sair" || got["title"] != "Visão geral · proxbox" {
		t.Errorf("Portuguese layout: %q", got)
	}

	// The switch: a plain link that sets the cookie and comes back; the
	// cookie wins over Accept-Language.
	_, doc := e.get("/ui/cache")
	href, ok := doc.Find(`[data-testid="lang-pt-BR"]`).Attr("href")
	if !ok || href != "/ui/lang/pt-BR?next="+url.QueryEscape("/ui/cache") {
		t.Fatalf("switch link %q", href)
	}
	resp, _ := e.get(href)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/cache" {
		t.Fatalf("switch: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, lang, got := getAs("/ui/cache", "en-US"); lang != "pt-BR" || got["h1"] != "Cache de GET do NetBox" {
		t.Fatalf("after the switch: lang %q, h1 %q", lang, got["h1"])
	}
	// Validation messages and flashes follow the language.
	tok := e.csrfOf("/ui/cache")
	_, doc, _ = e.post("/ui/cache", url.Values{"_csrf": {tok}, "ttl_seconds": {"abc"}, "max_entries": {"10"}, "max_bytes": {"1048576"}})
	if msg := text(doc, "#ttl_seconds-error"); !strings.HasPrefix(msg, "deve ser um número de segundos") {
		t.Errorf("Portuguese validation message %q", msg)
	}
	e.post("/ui/cache/clear", url.Values{"_csrf": {tok}})
	if _, doc := e.get("/ui/cache"); text(doc, `[data-testid="flash"]`) != "Cache limpo." {
		t.Errorf("Portuguese flash %q", text(doc, `[data-testid="flash"]`))
	}
	// Back to English; unknown languages and foreign redirects are refused.
	if resp, _ := e.get("/ui/lang/en?next=/ui/sync"); resp.Header.Get("Location") != "/ui/sync" {
		t.Fatalf("switch to English: %q", resp.Header.Get("Location"))
	}
	if _, lang, _ := getAs("/ui/", "pt-BR"); lang != "en" {
		t.Errorf("after switching back: lang %q", lang)
	}
	if resp, _ := e.get("/ui/lang/de"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown language: %d", resp.StatusCode)
	}
	if resp, _ := e.get("/ui/lang/pt-BR?next=//evil.example/"); resp.Header.Get("Location") != "/ui/" {
		t.Errorf("switch with a foreign next: %q", resp.Header.Get("Location"))
	}
}

func mustDoc(t *testing.T, resp *http.Response) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}
