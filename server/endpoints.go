package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/proxbox/proxbox/inventory"
	"github.com/proxbox/proxbox/store"
	pbsync "github.com/proxbox/proxbox/sync"
)

type netboxEndpointJSON struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	IPAddress    string `json:"ip_address"`
	Domain       string `json:"domain"`
	Port         int    `json:"port"`
	TokenVersion string `json:"token_version"`
	VerifySSL    bool   `json:"verify_ssl"`
	TokenSet     bool   `json:"token_set"`
	TokenKeySet  bool   `json:"token_key_set"`
}

func toNetBoxJSON(e store.NetBoxEndpoint) netboxEndpointJSON {
	return netboxEndpointJSON{ID: e.ID, Name: e.Name, IPAddress: e.IPAddress, Domain: e.Domain, Port: e.Port,
		TokenVersion: e.TokenVersion, VerifySSL: e.VerifySSL, TokenSet: e.Token.IsSet(), TokenKeySet: e.TokenKey.IsSet()}
}

type proxmoxEndpointJSON struct {
	ID             int64   `json:"id"`
	Name           string  `json:"name"`
	Label          string  `json:"label"` // identity in NetBox: proxmox_endpoint of its cluster
	IPAddress      string  `json:"ip_address"`
	Domain         *string `json:"domain"`
	Port           int     `json:"port"`
	Username       string  `json:"username"`
	VerifySSL      bool    `json:"verify_ssl"`
	TokenName      *string `json:"token_name"`
	PasswordSet    bool    `json:"password_set"`
	TokenValueSet  bool    `json:"token_value_set"`
	TimeoutSeconds int     `json:"timeout"`
	MaxRetries     int     `json:"max_retries"`
	RetryBackoff   float64 `json:"retry_backoff"`
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toProxmoxJSON(e store.ProxmoxEndpoint) proxmoxEndpointJSON {
	return proxmoxEndpointJSON{ID: e.ID, Name: e.Name, Label: endpointLabel(e), IPAddress: e.IPAddress, Domain: nilIfEmpty(e.Domain), Port: e.Port,
		Username: e.Username, VerifySSL: e.VerifySSL, TokenName: nilIfEmpty(e.TokenName), PasswordSet: e.Password.IsSet(),
		TokenValueSet: e.TokenValue.IsSet(), TimeoutSeconds: e.TimeoutSeconds, MaxRetries: e.MaxRetries, RetryBackoff: e.RetryBackoff}
}

// endpointLabel is a stored endpoint's identity in NetBox (its key; "nb:<pk>"
// for an endpoint the plugin pushed): the proxmox_endpoint of its cluster.
func endpointLabel(e store.ProxmoxEndpoint) string {
	return pbsync.EndpointLabel(inventory.Endpoint{ID: e.ID, Name: e.Name, Key: e.Key, Host: hostOf(e.Domain, e.IPAddress)})
}

// ---- NetBox endpoint (a singleton) ----

func (s *Server) listNetBoxEndpoints(c echo.Context) error {
	eps, err := s.store.NetBoxEndpoints(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]netboxEndpointJSON, 0, len(eps))
	for _, e := range eps {
		out = append(out, toNetBoxJSON(e))
	}
	return c.JSON(http.StatusOK, page(c, out))
}

func (s *Server) getNetBoxEndpoint(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	e, err := s.store.NetBoxEndpoint(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return fail(http.StatusNotFound, "NetBox endpoint not found.")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toNetBoxJSON(e))
}

// readNetBox applies the fields present in the body to e and returns the
// patch of what changed.
func (s *Server) readNetBox(c echo.Context, e *store.NetBoxEndpoint) (store.NetBoxEndpointPatch, error) {
	var p store.NetBoxEndpointPatch
	b, err := readObject(c)
	if err != nil {
		return p, err
	}
	if v, ok := b.str("name", 255); ok {
		e.Name, p.Name = v, &v
	}
	if v, ok := b.str("ip_address", 45); ok {
		v = stripMask(v)
		e.IPAddress, p.IPAddress = v, &v
	}
	if v, ok := b.str("domain", 255); ok {
		e.Domain, p.Domain = v, &v
	}
	if v, ok := b.integer("port", 1, 65535); ok {
		e.Port, p.Port = v, &v
	}
	if v, ok := b.str("token_version", 10); ok && v != "" {
		v = strings.ToLower(v)
		e.TokenVersion, p.TokenVersion = v, &v
	}
	if v, ok := b.boolean("verify_ssl"); ok {
		e.VerifySSL, p.VerifySSL = v, &v
	}
	// An empty or null token in an update keeps the stored one: the plugin
	// resends every field and must not wipe a credential it does not hold.
	if v, _ := b.str("token", 1000); v != "" {
		sec := store.Secret(v)
		e.Token, p.Token = sec, &sec
	}
	if v, _ := b.str("token_key", 1000); v != "" {
		sec := store.Secret(v)
		e.TokenKey, p.TokenKey = sec, &sec
	}
	if err := b.err(); err != nil {
		return p, err
	}
	if e.TokenVersion != "v1" && e.TokenVersion != "v2" {
		return p, fail(http.StatusBadRequest, "Invalid token_version. Must be 'v1' or 'v2'.")
	}
	if e.TokenVersion == "v1" && e.TokenKey.IsSet() {
		none := store.Secret("")
		e.TokenKey, p.TokenKey = none, &none
	}
	if e.Name == "" {
		return p, fail(http.StatusUnprocessableEntity, "Invalid request body: name: is required.")
	}
	if err := s.checkHosts(c.Request().Context(), e.IPAddress, e.Domain); err != nil {
		return p, err
	}
	switch {
	case e.TokenVersion == "v1" && !e.Token.IsSet():
		return p, fail(http.StatusBadRequest, "token is required for NetBox API token v1")
	case e.TokenVersion == "v2" && (!e.Token.IsSet() || !e.TokenKey.IsSet()):
		return p, fail(http.StatusBadRequest, "token_key and token (secret) must both be set for NetBox API token v2")
	}
	return p, nil
}

func (s *Server) createNetBoxEndpoint(c echo.Context) error {
	e := store.NetBoxEndpoint{Port: 443, TokenVersion: "v1", VerifySSL: true}
	if _, err := s.readNetBox(c, &e); err != nil {
		return err
	}
	created, err := s.store.CreateNetBoxEndpoint(c.Request().Context(), e)
	if errors.Is(err, store.ErrConflict) {
		return fail(http.StatusConflict, "Only one NetBox endpoint is allowed; update the existing one with PUT /netbox/endpoint/{id}.")
	}
	if err != nil {
		return err
	}
	s.log.Info("NetBox endpoint created", "id", created.ID, "name", created.Name, "host", hostOf(created.Domain, created.IPAddress))
	return c.JSON(http.StatusCreated, toNetBoxJSON(created))
}

func (s *Server) updateNetBoxEndpoint(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	e, err := s.store.NetBoxEndpoint(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fail(http.StatusNotFound, "NetBox endpoint not found.")
	}
	if err != nil {
		return err
	}
	p, err := s.readNetBox(c, &e)
	if err != nil {
		return err
	}
	updated, err := s.store.UpdateNetBoxEndpoint(ctx, id, p)
	if err != nil {
		return err
	}
	s.log.Info("NetBox endpoint updated", "id", id, "name", updated.Name, "token_changed", p.Token != nil)
	return c.JSON(http.StatusOK, toNetBoxJSON(updated))
}

func (s *Server) deleteNetBoxEndpoint(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteNetBoxEndpoint(c.Request().Context(), id); errors.Is(err, store.ErrNotFound) {
		return fail(http.StatusNotFound, "NetBox endpoint not found.")
	} else if err != nil {
		return err
	}
	s.log.Info("NetBox endpoint deleted", "id", id)
	return c.JSON(http.StatusOK, deletedJSON{Message: "NetBox Endpoint deleted.", Detail: "NetBox Endpoint deleted."})
}

// ---- Proxmox endpoints ----

func (s *Server) listProxmoxEndpoints(c echo.Context) error {
	eps, err := s.store.ProxmoxEndpoints(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]proxmoxEndpointJSON, 0, len(eps))
	for _, e := range eps {
		out = append(out, toProxmoxJSON(e))
	}
	return c.JSON(http.StatusOK, page(c, out))
}

func (s *Server) getProxmoxEndpoint(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	e, err := s.store.ProxmoxEndpoint(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return fail(http.StatusNotFound, "Proxmox endpoint not found.")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toProxmoxJSON(e))
}

func (s *Server) readProxmox(c echo.Context, e *store.ProxmoxEndpoint) (store.ProxmoxEndpointPatch, error) {
	var p store.ProxmoxEndpointPatch
	b, err := readObject(c)
	if err != nil {
		return p, err
	}
	if v, ok := b.str("name", 255); ok {
		e.Name, p.Name = v, &v
	}
	if v, ok := b.str("ip_address", 45); ok {
		v = stripMask(v)
		e.IPAddress, p.IPAddress = v, &v
	}
	if v, ok := b.str("domain", 255); ok {
		e.Domain, p.Domain = v, &v
	}
	if v, ok := b.integer("port", 1, 65535); ok {
		e.Port, p.Port = v, &v
	}
	if v, ok := b.str("username", 255); ok {
		e.Username, p.Username = v, &v
	}
	if v, ok := b.boolean("verify_ssl"); ok {
		e.VerifySSL, p.VerifySSL = v, &v
	}
	if v, ok := b.integer("timeout", 0, 3600); ok {
		e.TimeoutSeconds, p.TimeoutSeconds = v, &v
	}
	if v, ok := b.integer("max_retries", 0, 100); ok {
		e.MaxRetries, p.MaxRetries = v, &v
	}
	if v, ok := b.number("retry_backoff", 0, 600); ok {
		e.RetryBackoff, p.RetryBackoff = v, &v
	}
	// The plugin sends its whole row: a credential field present in the body
	// (null included) is the new truth for that field.
	credsInBody := false
	if v, ok := b.str("password", 1000); ok {
		sec := store.Secret(v)
		e.Password, p.Password, credsInBody = sec, &sec, true
	}
	if v, ok := b.str("token_name", 255); ok {
		e.TokenName, p.TokenName, credsInBody = v, &v, true
	}
	if v, ok := b.str("token_value", 1000); ok {
		sec := store.Secret(v)
		e.TokenValue, p.TokenValue, credsInBody = sec, &sec, true
	}
	if err := b.err(); err != nil {
		return p, err
	}
	var missing []string
	for k, v := range map[string]string{"name": e.Name, "username": e.Username} {
		if v == "" {
			missing = append(missing, k+": is required")
		}
	}
	if len(missing) > 0 {
		return p, fail(http.StatusUnprocessableEntity, "Invalid request body: "+strings.Join(missing, "; ")+".")
	}
	if credsInBody || e.ID == 0 {
		if (e.TokenName == "") != (!e.TokenValue.IsSet()) {
			return p, fail(http.StatusBadRequest, "token_name and token_value must be provided together")
		}
		if !e.Password.IsSet() && e.TokenName == "" {
			return p, fail(http.StatusBadRequest, "Provide password or both token_name/token_value")
		}
	}
	if err := s.checkHosts(c.Request().Context(), e.IPAddress, e.Domain); err != nil {
		return p, err
	}
	return p, nil
}

func (s *Server) createProxmoxEndpoint(c echo.Context) error {
	e := store.ProxmoxEndpoint{Port: 8006, VerifySSL: true}
	if _, err := s.readProxmox(c, &e); err != nil {
		return err
	}
	created, err := s.store.CreateProxmoxEndpoint(c.Request().Context(), e)
	if errors.Is(err, store.ErrConflict) {
		return fail(http.StatusConflict, "Proxmox endpoint name already exists")
	}
	if err != nil {
		return err
	}
	s.log.Info("Proxmox endpoint created", "id", created.ID, "name", created.Name, "host", hostOf(created.Domain, created.IPAddress), "auth", authKind(created))
	return c.JSON(http.StatusCreated, toProxmoxJSON(created))
}

func (s *Server) updateProxmoxEndpoint(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	e, err := s.store.ProxmoxEndpoint(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fail(http.StatusNotFound, "Proxmox endpoint not found.")
	}
	if err != nil {
		return err
	}
	p, err := s.readProxmox(c, &e)
	if err != nil {
		return err
	}
	updated, err := s.store.UpdateProxmoxEndpoint(ctx, id, p)
	if errors.Is(err, store.ErrConflict) {
		return fail(http.StatusConflict, "Proxmox endpoint name already exists")
	}
	if err != nil {
		return err
	}
	s.log.Info("Proxmox endpoint updated", "id", id, "name", updated.Name, "auth", authKind(updated))
	return c.JSON(http.StatusOK, toProxmoxJSON(updated))
}

func (s *Server) deleteProxmoxEndpoint(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteProxmoxEndpoint(c.Request().Context(), id); errors.Is(err, store.ErrNotFound) {
		return fail(http.StatusNotFound, "Proxmox endpoint not found.")
	} else if err != nil {
		return err
	}
	s.log.Info("Proxmox endpoint deleted", "id", id)
	return c.JSON(http.StatusOK, deletedJSON{Message: "Proxmox endpoint deleted.", Detail: "Proxmox endpoint deleted."})
}

// checkHosts validates the address fields of an endpoint: at least one is
// set, and each set one is an allowed target.
func (s *Server) checkHosts(ctx context.Context, ip, domain string) error {
	if ip == "" && domain == "" {
		return fail(http.StatusBadRequest, "Set ip_address or domain: the endpoint needs a host.")
	}
	if ip != "" {
		if err := s.checkTarget(ctx, ip); err != nil {
			return fail(http.StatusBadRequest, "Invalid IP address: "+err.Error())
		}
	}
	if domain != "" {
		if err := s.checkTarget(ctx, domain); err != nil {
			return fail(http.StatusBadRequest, "Invalid domain: "+err.Error())
		}
	}
	return nil
}

// stripMask drops a "/24" the plugin may send with an IPAddress object.
func stripMask(v string) string {
	if i := strings.IndexByte(v, '/'); i > 0 {
		return v[:i]
	}
	return v
}

func hostOf(domain, ip string) string {
	if domain != "" {
		return domain
	}
	return ip
}

func authKind(e store.ProxmoxEndpoint) string {
	if e.TokenName != "" && e.TokenValue.IsSet() {
		return "token"
	}
	return "password"
}
