package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Lang is a language of the dashboard's pages.
type Lang string

// The languages the pages are written in: those the Python project
// documents.
const (
	English    Lang = "en"
	Portuguese Lang = "pt-BR"
)

// Languages lists the supported languages, in the switch's order.
var Languages = []Lang{English, Portuguese}

// langCookie remembers the language chosen with the switch.
const langCookie = "lang"

// catalog holds every page text by language and key. A key missing from
// one language fails TestCatalogLanguagesHaveTheSameKeys. Values with
// verbs are fmt formats (Tf).
var catalog = map[Lang]map[string]string{English: msgEN, Portuguese: msgPT}

// T returns the text of key in l, falling back to English, then to the key
// itself (which a test catches).
func T(l Lang, key string) string {
	if s, ok := catalog[l][key]; ok {
		return s
	}
	if s, ok := msgEN[key]; ok {
		return s
	}
	return key
}

// Tf formats the text of key in l with args.
func Tf(l Lang, key string, args ...any) string {
	return fmt.Sprintf(T(l, key), args...)
}

// parseLang maps a language tag to a supported language: pt, pt-BR (any pt)
// to Portuguese, en* to English; ok is false for anything else.
func parseLang(tag string) (Lang, bool) {
	tag = strings.ToLower(strings.TrimSpace(tag))
	base, _, _ := strings.Cut(strings.ReplaceAll(tag, "_", "-"), "-")
	switch base {
	case "pt":
		return Portuguese, true
	case "en":
		return English, true
	}
	return "", false
}

// acceptLang picks the supported language the Accept-Language header
// prefers most (highest q, then first listed); English when none fits.
func acceptLang(header string) Lang {
	best, bestQ := English, 0.0
	for part := range strings.SplitSeq(header, ",") {
		tag, params, _ := strings.Cut(part, ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				continue
			}
			q = f
		}
		if l, ok := parseLang(tag); ok && q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

// langOf is the request's language: the lang cookie set by the switch,
// else Accept-Language.
func langOf(r *http.Request) Lang {
	if c, err := r.Cookie(langCookie); err == nil {
		if l := Lang(c.Value); slices.Contains(Languages, l) {
			return l
		}
	}
	return acceptLang(r.Header.Get("Accept-Language"))
}

const langKey ctxKey = 2

func withLang(ctx context.Context, l Lang) context.Context { return context.WithValue(ctx, langKey, l) }

// langFrom is the language ServeHTTP put in the request's context.
func langFrom(ctx context.Context) Lang {
	if l, ok := ctx.Value(langKey).(Lang); ok {
		return l
	}
	return English
}

// t and tf are the templates' shorthands: the text of key in the
// request's language.
func t(ctx context.Context, key string) string { return T(langFrom(ctx), key) }

func tf(ctx context.Context, key string, args ...any) string { return Tf(langFrom(ctx), key, args...) }

// tr and trf are the handlers' shorthands.
func (h *Dashboard) tr(r *http.Request, key string) string { return t(r.Context(), key) }

func (h *Dashboard) trf(r *http.Request, key string, args ...any) string {
	return tf(r.Context(), key, args...)
}

// setLang is the language switch: GET /ui/lang/{lang}?next=/ui/...
// remembers the choice in a cookie for a year and goes back to next. It is
// a plain link so it works without JavaScript; it changes nothing but the
// language, so it needs no CSRF token.
func (h *Dashboard) setLang(w http.ResponseWriter, r *http.Request) {
	l := Lang(r.PathValue("lang"))
	if !slices.Contains(Languages, l) {
		http.NotFound(w, r)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: string(l), Path: Prefix, HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteLaxMode, MaxAge: int((365 * 24 * time.Hour) / time.Second)})
	http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// langName is how the switch names a language, in that language.
func langName(l Lang) string {
	if l == Portuguese {
		return "Português (Brasil)"
	}
	return "English"
}

// langSwitchURL is the switch's link to language l, coming back to the
// page at path.
func langSwitchURL(l Lang, path string) string {
	return "/ui/lang/" + string(l) + "?next=" + url.QueryEscape(safeNext(path))
}
