package ui

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/proxbox/proxbox/server"
	"github.com/proxbox/proxbox/store"
)

// endpointForm is the add/edit form of either kind. Secrets are never put
// back into it: Set tells whether one is stored, and an empty field keeps it.
type endpointForm struct {
	Kind   string // netbox | proxmox
	ID     int64
	V      map[string]string
	Set    map[string]bool // stored secrets
	Errors map[string]string
	Result *probeRes
	CanTry bool
}

func (f endpointForm) Action() string {
	if f.ID == 0 {
		return "/ui/endpoints/" + f.Kind
	}
	return "/ui/endpoints/" + f.Kind + "/" + i64(f.ID)
}

func (f endpointForm) Title(ctx context.Context) string {
	if f.ID == 0 {
		return t(ctx, "endpoints.add."+f.Kind)
	}
	return tf(ctx, "endpoints.edit."+f.Kind, f.V["name"])
}

type endpointsVM struct {
	NetBox  []endpointRow
	Proxmox []endpointRow
	CanTest bool
}

func (h *Dashboard) endpointsPage(w http.ResponseWriter, r *http.Request) {
	nb, px, err := h.endpointRows(r.Context())
	if err != nil {
		h.fail(w, r, "list endpoints", err)
		return
	}
	h.render(w, r, http.StatusOK, endpointsPage(h.pageCtx(r, h.tr(r, "nav.endpoints"), "endpoints"), endpointsVM{NetBox: nb, Proxmox: px, CanTest: h.d.Tester != nil}))
}

func validKind(k string) bool { return k == "netbox" || k == "proxmox" }

func (h *Dashboard) endpointNew(w http.ResponseWriter, r *http.Request) {
	kind := r.PathValue("kind")
	if !validKind(kind) {
		http.NotFound(w, r)
		return
	}
	f := endpointForm{Kind: kind, V: map[string]string{"verify_ssl": "1"}, Set: map[string]bool{}}
	if kind == "netbox" {
		f.V["port"], f.V["token_version"] = "443", "v1"
	} else {
		f.V["port"], f.V["timeout"], f.V["max_retries"], f.V["retry_backoff"] = "8006", "5", "0", "0"
	}
	h.render(w, r, http.StatusOK, endpointPage(h.pageCtx(r, f.Title(r.Context()), "endpoints"), f))
}

func netboxForm(e store.NetBoxEndpoint) endpointForm {
	return endpointForm{Kind: "netbox", ID: e.ID, V: map[string]string{
		"name": e.Name, "ip_address": e.IPAddress, "domain": e.Domain, "port": itoa(e.Port), "token_version": e.TokenVersion, "verify_ssl": checked(e.VerifySSL),
	}, Set: map[string]bool{"token": e.Token.IsSet(), "token_key": e.TokenKey.IsSet()}}
}

func proxmoxForm(e store.ProxmoxEndpoint) endpointForm {
	return endpointForm{Kind: "proxmox", ID: e.ID, V: map[string]string{
		"name": e.Name, "ip_address": e.IPAddress, "domain": e.Domain, "port": itoa(e.Port), "username": e.Username, "token_name": e.TokenName,
		"verify_ssl": checked(e.VerifySSL), "timeout": itoa(e.TimeoutSeconds), "max_retries": itoa(e.MaxRetries),
		"retry_backoff": strconv.FormatFloat(e.RetryBackoff, 'f', -1, 64),
	}, Set: map[string]bool{"password": e.Password.IsSet(), "token_value": e.TokenValue.IsSet()}}
}

func checked(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// loadForm reads a stored endpoint into its form.
func (h *Dashboard) loadForm(ctx context.Context, kind string, id int64) (endpointForm, error) {
	if kind == "netbox" {
		e, err := h.d.Store.NetBoxEndpoint(ctx, id)
		return netboxForm(e), err
	}
	e, err := h.d.Store.ProxmoxEndpoint(ctx, id)
	return proxmoxForm(e), err
}

func pathKindID(r *http.Request) (string, int64, bool) {
	kind := r.PathValue("kind")
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return kind, id, validKind(kind) && err == nil && id > 0
}

func (h *Dashboard) endpointEdit(w http.ResponseWriter, r *http.Request) {
	kind, id, ok := pathKindID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	f, err := h.loadForm(r.Context(), kind, id)
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.fail(w, r, "read endpoint", err)
		return
	}
	f.CanTry = h.d.Tester != nil
	h.render(w, r, http.StatusOK, endpointPage(h.pageCtx(r, f.Title(r.Context()), "endpoints"), f))
}

// formValues copies the posted fields of the form (secrets excluded).
func formValues(r *http.Request, kind string) map[string]string {
	names := []string{"name", "ip_address", "domain", "port", "verify_ssl"}
	if kind == "netbox" {
		names = append(names, "token_version")
	} else {
		names = append(names, "username", "token_name", "timeout", "max_retries", "retry_backoff")
	}
	v := map[string]string{}
	for _, n := range names {
		v[n] = strings.TrimSpace(r.PostForm.Get(n))
	}
	return v
}

// fieldErrs maps a form field to its message, already in the page's
// language (msg translates).
type fieldErrs map[string]string

// msg is the text of key in ctx's language; validators use it so their
// messages follow the page.
func msg(ctx context.Context, key string, args ...any) string { return tf(ctx, key, args...) }

func (e fieldErrs) add(k, msg string) {
	if _, ok := e[k]; !ok {
		e[k] = msg
	}
}

func (e fieldErrs) str(ctx context.Context, v map[string]string, k string, maxLen int, required bool) string {
	s := v[k]
	if required && s == "" {
		e.add(k, msg(ctx, "valid.required"))
	}
	if len(s) > maxLen {
		e.add(k, msg(ctx, "valid.maxLen", maxLen))
	} else if p := server.TextProblem(s, maxLen); p != "" {
		e.add(k, p)
	}
	return s
}

func (e fieldErrs) integer(ctx context.Context, v map[string]string, k string, lo, hi int) int {
	n, err := strconv.Atoi(v[k])
	if err != nil || n < lo || n > hi {
		e.add(k, msg(ctx, "valid.intRange", lo, hi))
	}
	return n
}

// hosts checks the address fields with the server's own rule.
func (h *Dashboard) hosts(ctx context.Context, e fieldErrs, ip, domain string) {
	if ip == "" && domain == "" {
		e.add("ip_address", msg(ctx, "valid.host"))
		return
	}
	if ip != "" {
		if err := server.CheckTarget(ctx, ip, h.d.AllowedTargets); err != nil {
			e.add("ip_address", err.Error())
		}
	}
	if domain != "" {
		if err := server.CheckTarget(ctx, domain, h.d.AllowedTargets); err != nil {
			e.add("domain", err.Error())
		}
	}
}

func stripMask(v string) string {
	if i := strings.IndexByte(v, '/'); i > 0 {
		return v[:i]
	}
	return v
}

// readNetBox validates the NetBox form over the stored endpoint cur (zero
// for a new one), with the rules of the /netbox/endpoint routes.
func (h *Dashboard) readNetBox(r *http.Request, cur store.NetBoxEndpoint) (store.NetBoxEndpoint, store.NetBoxEndpointPatch, fieldErrs) {
	ctx := r.Context()
	v := formValues(r, "netbox")
	errs := fieldErrs{}
	e := cur
	e.Name = errs.str(ctx, v, "name", 255, true)
	e.IPAddress = stripMask(errs.str(ctx, v, "ip_address", 45, false))
	e.Domain = errs.str(ctx, v, "domain", 255, false)
	e.Port = errs.integer(ctx, v, "port", 1, 65535)
	e.TokenVersion = strings.ToLower(v["token_version"])
	e.VerifySSL = v["verify_ssl"] != ""
	if e.TokenVersion != "v1" && e.TokenVersion != "v2" {
		errs.add("token_version", msg(ctx, "valid.tokenVersion"))
	}
	p := store.NetBoxEndpointPatch{Name: &e.Name, IPAddress: &e.IPAddress, Domain: &e.Domain, Port: &e.Port, TokenVersion: &e.TokenVersion, VerifySSL: &e.VerifySSL}
	if t := r.PostForm.Get("token"); t != "" {
		if len(t) > 1000 {
			errs.add("token", msg(ctx, "valid.maxLen", 1000))
		}
		sec := store.Secret(t)
		e.Token, p.Token = sec, &sec
	}
	if t := r.PostForm.Get("token_key"); t != "" {
		if len(t) > 1000 {
			errs.add("token_key", msg(ctx, "valid.maxLen", 1000))
		}
		sec := store.Secret(t)
		e.TokenKey, p.TokenKey = sec, &sec
	}
	if e.TokenVersion == "v1" && e.TokenKey.IsSet() {
		none := store.Secret("")
		e.TokenKey, p.TokenKey = none, &none
	}
	h.hosts(ctx, errs, e.IPAddress, e.Domain)
	switch {
	case e.TokenVersion == "v1" && !e.Token.IsSet():
		errs.add("token", msg(ctx, "valid.v1Token"))
	case e.TokenVersion == "v2" && !e.Token.IsSet():
		errs.add("token", msg(ctx, "valid.v2Secret"))
	case e.TokenVersion == "v2" && !e.TokenKey.IsSet():
		errs.add("token_key", msg(ctx, "valid.v2Key"))
	}
	return e, p, errs
}

// readProxmox validates the Proxmox form with the rules of the
// /proxmox/endpoints routes. An empty password or token value keeps the
// stored one; the clear_* boxes remove it.
func (h *Dashboard) readProxmox(r *http.Request, cur store.ProxmoxEndpoint) (store.ProxmoxEndpoint, store.ProxmoxEndpointPatch, fieldErrs) {
	ctx := r.Context()
	v := formValues(r, "proxmox")
	errs := fieldErrs{}
	e := cur
	e.Name = errs.str(ctx, v, "name", 255, true)
	e.IPAddress = stripMask(errs.str(ctx, v, "ip_address", 45, false))
	e.Domain = errs.str(ctx, v, "domain", 255, false)
	e.Port = errs.integer(ctx, v, "port", 1, 65535)
	e.Username = errs.str(ctx, v, "username", 255, true)
	e.TokenName = errs.str(ctx, v, "token_name", 255, false)
	e.VerifySSL = v["verify_ssl"] != ""
	e.TimeoutSeconds = errs.integer(ctx, v, "timeout", 0, 3600)
	e.MaxRetries = errs.integer(ctx, v, "max_retries", 0, 100)
	b, err := strconv.ParseFloat(v["retry_backoff"], 64)
	if err != nil || math.IsNaN(b) || b < 0 || b > 600 {
		errs.add("retry_backoff", msg(ctx, "valid.backoff"))
	}
	e.RetryBackoff = b
	p := store.ProxmoxEndpointPatch{Name: &e.Name, IPAddress: &e.IPAddress, Domain: &e.Domain, Port: &e.Port, Username: &e.Username,
		TokenName: &e.TokenName, VerifySSL: &e.VerifySSL, TimeoutSeconds: &e.TimeoutSeconds, MaxRetries: &e.MaxRetries, RetryBackoff: &e.RetryBackoff}
	secret := func(field, clear string, dst *store.Secret, patch **store.Secret) {
		if t := r.PostForm.Get(field); t != "" {
			if len(t) > 1000 {
				errs.add(field, msg(ctx, "valid.maxLen", 1000))
			}
			sec := store.Secret(t)
			*dst, *patch = sec, &sec
		} else if r.PostForm.Get(clear) != "" {
			none := store.Secret("")
			*dst, *patch = none, &none
		}
	}
	secret("password", "clear_password", &e.Password, &p.Password)
	secret("token_value", "clear_token_value", &e.TokenValue, &p.TokenValue)
	if (e.TokenName == "") != !e.TokenValue.IsSet() {
		errs.add("token_name", msg(ctx, "valid.tokenPair"))
	}
	if !e.Password.IsSet() && e.TokenName == "" {
		errs.add("password", msg(ctx, "valid.pveAuth"))
	}
	h.hosts(ctx, errs, e.IPAddress, e.Domain)
	return e, p, errs
}

func (h *Dashboard) endpointCreate(w http.ResponseWriter, r *http.Request) {
	kind := r.PathValue("kind")
	if !validKind(kind) {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	var errs fieldErrs
	var err error
	var id int64
	var name string
	if kind == "netbox" {
		var e store.NetBoxEndpoint
		if e, _, errs = h.readNetBox(r, store.NetBoxEndpoint{}); len(errs) == 0 {
			e, err = h.d.Store.CreateNetBoxEndpoint(ctx, e)
			if errors.Is(err, store.ErrConflict) {
				errs.add("name", msg(ctx, "valid.oneNetBox"))
				err = nil
			}
			id, name = e.ID, e.Name
		}
	} else {
		var e store.ProxmoxEndpoint
		if e, _, errs = h.readProxmox(r, store.ProxmoxEndpoint{}); len(errs) == 0 {
			e, err = h.d.Store.CreateProxmoxEndpoint(ctx, e)
			if errors.Is(err, store.ErrConflict) {
				errs.add("name", msg(ctx, "valid.nameTaken"))
				err = nil
			}
			id, name = e.ID, e.Name
		}
	}
	if err != nil {
		h.fail(w, r, "create endpoint", err)
		return
	}
	if len(errs) > 0 {
		f := endpointForm{Kind: kind, V: formValues(r, kind), Set: map[string]bool{}, Errors: errs}
		h.render(w, r, http.StatusUnprocessableEntity, endpointPage(h.pageCtx(r, f.Title(r.Context()), "endpoints"), f))
		return
	}
	h.log.Info("endpoint created from the dashboard", "kind", kind, "id", id, "name", name)
	h.flashTo(w, r, "/ui/endpoints/"+kind+"/"+i64(id), "ok", h.trf(r, "flash.endpointSaved", name))
}

func (h *Dashboard) endpointUpdate(w http.ResponseWriter, r *http.Request) {
	kind, id, ok := pathKindID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	stored, err := h.loadForm(ctx, kind, id)
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.fail(w, r, "read endpoint", err)
		return
	}
	var errs fieldErrs
	var name string
	if kind == "netbox" {
		cur, _ := h.d.Store.NetBoxEndpoint(ctx, id)
		var p store.NetBoxEndpointPatch
		if _, p, errs = h.readNetBox(r, cur); len(errs) == 0 {
			var e store.NetBoxEndpoint
			e, err = h.d.Store.UpdateNetBoxEndpoint(ctx, id, p)
			name = e.Name
		}
	} else {
		cur, _ := h.d.Store.ProxmoxEndpoint(ctx, id)
		var p store.ProxmoxEndpointPatch
		if _, p, errs = h.readProxmox(r, cur); len(errs) == 0 {
			var e store.ProxmoxEndpoint
			e, err = h.d.Store.UpdateProxmoxEndpoint(ctx, id, p)
			if errors.Is(err, store.ErrConflict) {
				errs.add("name", msg(ctx, "valid.nameTaken"))
				err = nil
			}
			name = e.Name
		}
	}
	if err != nil {
		h.fail(w, r, "update endpoint", err)
		return
	}
	if len(errs) > 0 {
		f := endpointForm{Kind: kind, ID: id, V: formValues(r, kind), Set: stored.Set, Errors: errs, CanTry: h.d.Tester != nil}
		h.render(w, r, http.StatusUnprocessableEntity, endpointPage(h.pageCtx(r, f.Title(r.Context()), "endpoints"), f))
		return
	}
	h.log.Info("endpoint updated from the dashboard", "kind", kind, "id", id, "name", name)
	h.flashTo(w, r, "/ui/endpoints/"+kind+"/"+i64(id), "ok", h.trf(r, "flash.endpointSaved", name))
}

func (h *Dashboard) endpointDelete(w http.ResponseWriter, r *http.Request) {
	kind, id, ok := pathKindID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	var err error
	if kind == "netbox" {
		err = h.d.Store.DeleteNetBoxEndpoint(r.Context(), id)
	} else {
		err = h.d.Store.DeleteProxmoxEndpoint(r.Context(), id)
	}
	if errors.Is(err, store.ErrNotFound) {
		h.flashTo(w, r, "/ui/endpoints", "bad", h.tr(r, "flash.endpointGone"))
		return
	}
	if err != nil {
		h.fail(w, r, "delete endpoint", err)
		return
	}
	h.log.Info("endpoint deleted from the dashboard", "kind", kind, "id", id)
	h.flashTo(w, r, "/ui/endpoints", "ok", h.tr(r, "flash.endpointDeleted"))
}

// endpointTest runs the connection test of a stored endpoint and shows the
// result on its edit page (or as a fragment for htmx).
func (h *Dashboard) endpointTest(w http.ResponseWriter, r *http.Request) {
	kind, id, ok := pathKindID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	res := h.testEndpoint(r.Context(), kind, i64(id))
	if r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Boosted") != "true" {
		h.render(w, r, http.StatusOK, probeResult(res))
		return
	}
	f, err := h.loadForm(r.Context(), kind, id)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	f.CanTry, f.Result = h.d.Tester != nil, &res
	h.render(w, r, http.StatusOK, endpointPage(h.pageCtx(r, f.Title(r.Context()), "endpoints"), f))
}
