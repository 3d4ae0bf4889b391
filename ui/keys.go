package ui

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/proxbox/proxbox/server"
	"github.com/proxbox/proxbox/store"
)

type keysVM struct {
	Keys    []store.APIKey
	Current int64 // the key of this session
	Error   string
}

func (h *Dashboard) keysPage(w http.ResponseWriter, r *http.Request) {
	h.renderKeys(w, r, http.StatusOK, "")
}

func (h *Dashboard) renderKeys(w http.ResponseWriter, r *http.Request, status int, msg string) {
	keys, err := h.d.Store.Keys(r.Context())
	if err != nil {
		h.fail(w, r, "list API keys", err)
		return
	}
	h.render(w, r, status, keysPage(h.pageCtx(r, h.tr(r, "nav.keys"), "keys"), keysVM{Keys: keys, Current: sessionFrom(r.Context()).keyID, Error: msg}))
}

func (h *Dashboard) keyCreate(w http.ResponseWriter, r *http.Request) {
	label := strings.TrimSpace(r.PostForm.Get("label"))
	if label == "" || len(label) > 100 || server.TextProblem(label, 100) != "" {
		h.renderKeys(w, r, http.StatusUnprocessableEntity, h.tr(r, "valid.label"))
		return
	}
	raw, err := store.NewRawKey()
	if err != nil {
		h.fail(w, r, "generate API key", err)
		return
	}
	k, err := h.d.Store.CreateKey(r.Context(), label, raw)
	if err != nil {
		h.fail(w, r, "create API key", err)
		return
	}
	h.log.Info("API key created from the dashboard", "key_id", k.ID, "label", label)
	h.render(w, r, http.StatusOK, keyShownOnce(h.pageCtx(r, h.tr(r, "newkey.title"), "keys"), raw, false))
}

// keyAction deactivates, activates or deletes a key. The key of the
// current session can be neither deactivated nor deleted here, so nobody
// locks themselves out by a click.
func (h *Dashboard) keyAction(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	action := r.PathValue("action")
	if err != nil || (action != "deactivate" && action != "activate" && action != "delete") {
		http.NotFound(w, r)
		return
	}
	if id == sessionFrom(r.Context()).keyID && action != "activate" {
		h.flashTo(w, r, "/ui/keys", "bad", h.tr(r, "flash.ownKey"))
		return
	}
	ctx := r.Context()
	switch action {
	case "delete":
		err = h.d.Store.DeleteKey(ctx, id)
	default:
		_, err = h.d.Store.SetKeyActive(ctx, id, action == "activate")
	}
	if errors.Is(err, store.ErrNotFound) {
		h.flashTo(w, r, "/ui/keys", "bad", h.tr(r, "flash.keyGone"))
		return
	}
	if err != nil {
		h.fail(w, r, action+" API key", err)
		return
	}
	h.log.Info("API key changed from the dashboard", "key_id", id, "action", action)
	h.flashTo(w, r, "/ui/keys", "ok", h.trf(r, "flash.key."+action, id))
}
