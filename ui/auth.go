package ui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/proxbox/proxbox/server"
	"github.com/proxbox/proxbox/store"
)

func (h *Dashboard) setupPage(w http.ResponseWriter, r *http.Request) {
	n, err := h.d.Store.ActiveKeyCount(r.Context())
	if err != nil {
		h.fail(w, r, "count API keys", err)
		return
	}
	if n > 0 {
		http.Redirect(w, r, "/ui/signin", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, setupPage(h.pageCtx(r, h.tr(r, "setup.pageTitle"), ""), anonCSRF(w, r), "", h.d.SetupCode != nil))
}

// setupPost creates the first admin key, signs the browser in with it and
// shows it once. It refuses once any active key exists.
func (h *Dashboard) setupPost(w http.ResponseWriter, r *http.Request) {
	label := strings.TrimSpace(r.PostForm.Get("label"))
	if label == "" || len(label) > 100 || server.TextProblem(label, 100) != "" {
		h.render(w, r, http.StatusUnprocessableEntity, setupPage(h.pageCtx(r, h.tr(r, "setup.pageTitle"), ""), anonCSRF(w, r), h.tr(r, "valid.label"), h.d.SetupCode != nil))
		return
	}
	if h.d.SetupCode != nil && !h.d.SetupCode(r.PostForm.Get("setup_code")) {
		h.log.Info("first-run setup refused: wrong setup code", "remote_addr", r.RemoteAddr)
		h.render(w, r, http.StatusUnprocessableEntity, setupPage(h.pageCtx(r, h.tr(r, "setup.pageTitle"), ""), anonCSRF(w, r), h.tr(r, "valid.setupCode"), true))
		return
	}
	raw, err := store.NewRawKey()
	if err != nil {
		h.fail(w, r, "generate API key", err)
		return
	}
	k, err := h.d.Store.RegisterFirstKey(r.Context(), label, raw)
	if errors.Is(err, store.ErrConflict) {
		http.Redirect(w, r, "/ui/signin", http.StatusSeeOther)
		return
	}
	if err != nil {
		h.fail(w, r, "register the first API key", err)
		return
	}
	h.log.Info("first API key created from the dashboard", "key_id", k.ID, "label", label)
	ss := h.sessions.create(k.ID)
	h.setSessionCookie(w, r, ss)
	clearCookie(w, r, csrfCookie)
	p := h.pageCtx(r, h.tr(r, "newkey.title"), "keys")
	p.SignedIn, p.CSRF = true, ss.csrf
	h.render(w, r, http.StatusOK, keyShownOnce(p, raw, true))
}

func (h *Dashboard) signinPage(w http.ResponseWriter, r *http.Request) {
	if n, err := h.d.Store.ActiveKeyCount(r.Context()); err == nil && n == 0 {
		http.Redirect(w, r, "/ui/setup", http.StatusSeeOther)
		return
	}
	if _, ok := h.session(r); ok {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, signinPage(h.pageCtx(r, h.tr(r, "signin.title"), ""), anonCSRF(w, r), safeNext(r.URL.Query().Get("next")), ""))
}

// safeNext keeps a post-sign-in redirect on the dashboard.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/ui/") && !strings.HasPrefix(next, "/ui//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/ui/"
}

func (h *Dashboard) signinPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	client := clientOf(r)
	next := safeNext(r.PostForm.Get("next"))
	again := func(status int, msg string) {
		h.render(w, r, status, signinPage(h.pageCtx(r, h.tr(r, "signin.title"), ""), anonCSRF(w, r), next, msg))
	}
	if l, found, err := h.d.Store.AuthLockout(ctx, client); err != nil {
		h.fail(w, r, "read sign-in lockout", err)
		return
	} else if found && l.Attempts >= maxSigninFailures && h.now().Sub(l.FirstAttempt) < lockWindow {
		again(http.StatusTooManyRequests, h.tr(r, "signin.locked"))
		return
	}
	id, ok, err := h.d.Store.VerifyKey(ctx, strings.TrimSpace(r.PostForm.Get("key")))
	if err != nil {
		h.fail(w, r, "verify API key", err)
		return
	}
	if !ok {
		if _, err := h.d.Store.RecordAuthFailure(ctx, client, h.now(), lockWindow); err != nil {
			h.log.Warn("record sign-in failure", "err", err)
		}
		h.log.Info("dashboard sign-in refused", "client", client)
		again(http.StatusUnprocessableEntity, h.tr(r, "signin.bad"))
		return
	}
	_ = h.d.Store.ClearAuthLockout(ctx, client)
	ss := h.sessions.create(id)
	h.setSessionCookie(w, r, ss)
	clearCookie(w, r, csrfCookie)
	h.log.Info("dashboard sign-in", "key_id", id, "client", client)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Dashboard) signoutPost(w http.ResponseWriter, r *http.Request) {
	h.sessions.delete(sessionFrom(r.Context()).id)
	clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, "/ui/signin", http.StatusSeeOther)
}
