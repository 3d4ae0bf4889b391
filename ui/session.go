package ui

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"
)

const (
	sessionCookie = "proxbox_session"
	csrfCookie    = "proxbox_csrf"
	csrfField     = "_csrf"
	// Sign-in failures allowed per client in lockWindow, as the API allows.
	maxSigninFailures = 5
	lockWindow        = 5 * time.Minute
)

type session struct {
	id      string
	keyID   int64
	csrf    string
	created time.Time
	seen    time.Time
	flash   flash
}

type flash struct {
	Kind string // ok | bad
	Text string
}

type sessionStore struct {
	mu  sync.Mutex
	m   map[string]*session
	now func() time.Time
}

func newSessionStore(now func() time.Time) *sessionStore {
	return &sessionStore{m: map[string]*session{}, now: now}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessionStore) create(keyID int64) *session {
	now := s.now()
	ss := &session{id: randomToken(), keyID: keyID, csrf: randomToken(), created: now, seen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, o := range s.m { // drop expired sessions as new ones arrive
		if s.expired(o, now) {
			delete(s.m, id)
		}
	}
	s.m[ss.id] = ss
	return ss
}

func (s *sessionStore) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.seen) > SessionIdle || now.Sub(ss.created) > SessionMax
}

// get returns a copy of the live session id and refreshes its idle timer.
func (s *sessionStore) get(id string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[id]
	if !ok {
		return session{}, false
	}
	now := s.now()
	if s.expired(ss, now) {
		delete(s.m, id)
		return session{}, false
	}
	ss.seen = now
	return *ss, true
}

func (s *sessionStore) delete(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

func (s *sessionStore) setFlash(id string, f flash) {
	s.mu.Lock()
	if ss, ok := s.m[id]; ok {
		ss.flash = f
	}
	s.mu.Unlock()
}

func (s *sessionStore) takeFlash(id string) flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[id]
	if !ok {
		return flash{}
	}
	f := ss.flash
	ss.flash = flash{}
	return f
}

// session returns the request's live session. A session whose key has been
// deactivated or deleted ends.
func (h *Dashboard) session(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return session{}, false
	}
	ss, ok := h.sessions.get(c.Value)
	if !ok {
		return session{}, false
	}
	keys, err := h.d.Store.Keys(r.Context())
	if err != nil {
		h.log.Warn("read keys for session check", "err", err)
		return session{}, false
	}
	for _, k := range keys {
		if k.ID == ss.keyID && k.IsActive {
			return ss, true
		}
	}
	h.sessions.delete(ss.id)
	return session{}, false
}

func (h *Dashboard) setSessionCookie(w http.ResponseWriter, r *http.Request, ss *session) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: ss.id, Path: Prefix, HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(SessionMax / time.Second)})
}

func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: Prefix, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

type ctxKey int

const sessionKey ctxKey = 1

func sessionFrom(ctx context.Context) session {
	ss, _ := ctx.Value(sessionKey).(session)
	return ss
}

// page wraps a handler that needs a signed-in session; without one, the
// browser goes to setup (no key yet) or sign-in.
func (h *Dashboard) page(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss, ok := h.session(r)
		if !ok {
			h.toSignin(w, r)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), sessionKey, ss)))
	}
}

func (h *Dashboard) toSignin(w http.ResponseWriter, r *http.Request) {
	target := "/ui/signin"
	if n, err := h.d.Store.ActiveKeyCount(r.Context()); err == nil && n == 0 {
		target = "/ui/setup"
	} else if r.Method == http.MethodGet && r.URL.Path != "/ui/" && !strings.HasSuffix(r.URL.Path, "/stream") {
		target += "?next=" + url.QueryEscape(r.URL.Path)
	}
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// form wraps a POST handler of a signed-in page: session, same-origin and
// the session's CSRF token are all required.
func (h *Dashboard) form(next http.HandlerFunc) http.HandlerFunc {
	return h.page(func(w http.ResponseWriter, r *http.Request) {
		if err := h.checkPost(r, sessionFrom(r.Context()).csrf); err != nil {
			h.forbidden(w, r, err)
			return
		}
		next(w, r)
	})
}

// anonForm wraps the sign-in and setup posts: same-origin and the
// double-submit CSRF cookie are required.
func (h *Dashboard) anonForm(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		want := ""
		if c, err := r.Cookie(csrfCookie); err == nil {
			want = c.Value
		}
		if err := h.checkPost(r, want); err != nil {
			h.forbidden(w, r, err)
			return
		}
		next(w, r)
	}
}

var errCSRF = errors.New("the form's security token is missing or stale; reload the page and try again")

func (h *Dashboard) checkPost(r *http.Request, want string) error {
	if err := h.cop.Check(r); err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return errCSRF
	}
	got := r.PostForm.Get(csrfField)
	if got == "" {
		got = r.Header.Get("X-CSRF-Token")
	}
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errCSRF
	}
	return nil
}

func (h *Dashboard) forbidden(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Info("dashboard form refused", "path", r.URL.Path, "reason", err.Error())
	text := err.Error()
	if errors.Is(err, errCSRF) {
		text = h.tr(r, "error.csrf")
	}
	h.render(w, r, http.StatusForbidden, errorPage(h.pageCtx(r, h.tr(r, "error.refused"), ""), h.tr(r, "error.refusedTitle"), text))
}

// anonCSRF returns the double-submit token of the sign-in and setup forms,
// setting its cookie when missing.
func anonCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	t := randomToken()
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: t, Path: Prefix, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	return t
}

// flashTo sets a one-shot message for the next page and redirects there.
func (h *Dashboard) flashTo(w http.ResponseWriter, r *http.Request, target, kind, text string) {
	h.sessions.setFlash(sessionFrom(r.Context()).id, flash{Kind: kind, Text: text})
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// render writes a component, buffered so a failure gives a clean 500.
func (h *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	var b bytes.Buffer
	if err := c.Render(r.Context(), &b); err != nil {
		h.log.Error("render page", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error while rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func (h *Dashboard) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.log.Error(what, "path", r.URL.Path, "err", err)
	h.render(w, r, http.StatusInternalServerError, errorPage(h.pageCtx(r, h.tr(r, "error.title"), ""), h.tr(r, "error.wrong"), h.trf(r, "error.wrongText", what)))
}

// clientOf is the remote address without port, the lockout's client key.
func clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
