package ui

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOneTimeLink: a link signs in once; a second use, an expired link and
// a forged one get the sign-in form and no session.
func TestOneTimeLink(t *testing.T) {
	var now time.Time
	clock := func() time.Time { return now }
	now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var dash *Dashboard
	e := newEnv(t, func(d *Deps) { d.Now = clock })
	dash = e.dash
	if _, err := dash.LoginLink(context.Background(), time.Minute); err == nil {
		t.Fatal("a link was minted with no API key in the store")
	}
	e.addKey("admin")
	link, err := dash.LoginLink(context.Background(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := dash.LoginLink(context.Background(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, LinkPrefix) || len(link) < len(LinkPrefix)+43 || link == expired {
		t.Fatalf("links %q, %q", link, expired)
	}
	refused := func(name, path string) {
		t.Helper()
		e.c.Jar = newJar()
		resp, doc := e.get(path)
		if resp.StatusCode != http.StatusForbidden || doc.Find(`[data-testid="signin-form"]`).Length() != 1 || doc.Find("#key-error").Length() != 1 {
			t.Fatalf("%s: status %d, want 403 with the sign-in form and its message", name, resp.StatusCode)
		}
		if resp, _ := e.get("/ui/"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: signed in anyway (GET /ui/ = %d)", name, resp.StatusCode)
		}
	}

	resp, _ := e.get(link)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" {
		t.Fatalf("first use: %d %q, want 303 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != Prefix {
		t.Fatalf("session cookie %+v", cookie)
	}
	if resp, doc := e.get("/ui/"); resp.StatusCode != http.StatusOK || doc.Find(`[data-testid="last-run"]`).Length() != 1 {
		t.Fatalf("after the link: GET /ui/ = %d", resp.StatusCode)
	}

	refused("second use", link)
	now = now.Add(2 * time.Second)
	refused("expired", expired)
	forged := LinkPrefix + strings.Repeat("A", 43)
	refused("forged", forged)
	refused("empty", LinkPrefix+"x")
}

// TestOneTimeLinkEndsWithItsKey: a link minted for a key that is
// deactivated before use signs nobody in.
func TestOneTimeLinkEndsWithItsKey(t *testing.T) {
	e := newEnv(t, nil)
	e.addKey("admin")
	link, err := e.dash.LoginLink(context.Background(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := e.st.Keys(context.Background())
	if _, err := e.st.SetKeyActive(context.Background(), keys[0].ID, false); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.get(link); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("link of a deactivated key: %d, want 403", resp.StatusCode)
	}
}
