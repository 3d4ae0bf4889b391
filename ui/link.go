package ui

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// LinkPrefix is the path of one-time sign-in links; the token follows it.
const LinkPrefix = "/ui/signin/link/"

// linkStore holds one-time sign-in tokens in memory, by the SHA-256 of the
// token, so neither a map dump nor a timing difference gives a token away.
type linkStore struct {
	mu sync.Mutex
	m  map[[32]byte]oneTimeLink
}

type oneTimeLink struct {
	keyID   int64
	expires time.Time
}

// LoginLink mints a single-use sign-in link for the oldest active API key and
// returns its path (LinkPrefix + a random 256-bit token). Opening it within
// ttl signs the browser in exactly as a sign-in with the key would and
// redirects to /ui/; the first use consumes it. Tokens live in memory only,
// so a restart voids them, and they are never logged.
func (h *Dashboard) LoginLink(ctx context.Context, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", errors.New("ui: one-time link needs a positive lifetime")
	}
	keys, err := h.d.Store.Keys(ctx)
	if err != nil {
		return "", fmt.Errorf("one-time link: list keys: %w", err)
	}
	var keyID int64
	for _, k := range keys { // newest first: the last active one is the oldest
		if k.IsActive {
			keyID = k.ID
		}
	}
	if keyID == 0 {
		return "", errors.New("ui: one-time link: no active API key to sign in with")
	}
	tok := randomToken()
	now := h.now()
	h.links.mu.Lock()
	defer h.links.mu.Unlock()
	if h.links.m == nil {
		h.links.m = map[[32]byte]oneTimeLink{}
	}
	for k, l := range h.links.m {
		if !now.Before(l.expires) {
			delete(h.links.m, k)
		}
	}
	h.links.m[sha256.Sum256([]byte(tok))] = oneTimeLink{keyID: keyID, expires: now.Add(ttl)}
	h.log.Info("one-time sign-in link minted", "key_id", keyID, "expires_in", ttl.String())
	return LinkPrefix + tok, nil
}

// take consumes a token: it is gone after this call, valid or not.
func (s *linkStore) take(tok string, now time.Time) (int64, bool) {
	sum := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.m[sum]
	if !ok {
		return 0, false
	}
	delete(s.m, sum)
	if !now.Before(l.expires) {
		return 0, false
	}
	return l.keyID, true
}

// linkSignin redeems a one-time link: a session like a key sign-in, then the
// overview. A forged, used or expired link gets the sign-in form.
func (h *Dashboard) linkSignin(w http.ResponseWriter, r *http.Request) {
	keyID, ok := h.links.take(r.PathValue("token"), h.now())
	if ok {
		ok = h.keyActive(r.Context(), keyID)
	}
	if !ok {
		h.log.Info("one-time sign-in link refused", "client", clientOf(r))
		h.render(w, r, http.StatusForbidden, signinPage(h.pageCtx(r, h.tr(r, "signin.title"), ""), anonCSRF(w, r), "/ui/", h.tr(r, "signin.linkRefused")))
		return
	}
	ss := h.sessions.create(keyID)
	h.setSessionCookie(w, r, ss)
	clearCookie(w, r, csrfCookie)
	h.log.Info("dashboard sign-in by one-time link", "key_id", keyID, "client", clientOf(r))
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// keyActive reports whether key id exists and is active.
func (h *Dashboard) keyActive(ctx context.Context, id int64) bool {
	keys, err := h.d.Store.Keys(ctx)
	if err != nil {
		h.log.Warn("read keys for one-time link", "err", err)
		return false
	}
	for _, k := range keys {
		if k.ID == id && k.IsActive {
			return true
		}
	}
	return false
}
