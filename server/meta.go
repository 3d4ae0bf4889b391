package server

import (
	"net/http"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"
)

// RootMessage is GET /'s "message". The newer plugin (v0.0.24) trusts a
// backend it discovers, or adopts a key for, only when this starts with
// "Proxbox Backend" (services/endpoint_autoconfiguration.py@fed47142).
const RootMessage = "Proxbox Backend (proxbox: the netbox-proxbox backend, in one Go binary)"

func (s *Server) root(c echo.Context) error {
	if s.opt.UI != nil && prefersHTML(c.Request()) {
		return c.Redirect(http.StatusSeeOther, "/ui/")
	}
	return c.JSON(http.StatusOK, rootJSON{
		Name:       "proxbox",
		Message:    RootMessage,
		Version:    s.opt.Build.Version,
		APIVersion: APILevel,
		Links: map[string]string{
			"health": "/health", "version": "/version", "openapi": "/openapi.json", "docs": "/docs", "dashboard": "/ui/",
		},
	})
}

// prefersHTML is true for browsers (Accept lists text/html explicitly); the
// plugin sends */* and always gets JSON.
func prefersHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

func (s *Server) health(c echo.Context) error {
	if err := s.store.Ping(c.Request().Context()); err != nil {
		return c.JSON(http.StatusServiceUnavailable, healthJSON{Status: "initializing", InitOK: false, Detail: "store unavailable"})
	}
	return c.JSON(http.StatusOK, healthJSON{Status: "ready", InitOK: true})
}

func (s *Server) version(c echo.Context) error {
	return c.JSON(http.StatusOK, versionJSON{Version: APILevel, ApplianceVersion: s.opt.Build.Version, Commit: s.opt.Build.Commit})
}

func openAPIPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") {
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/")
}

func openAPITag(p string) string {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	if parts[0] == "" {
		return "meta"
	}
	return parts[0]
}

// docs renders /openapi.json with Redoc, vendored into the binary (no
// asset from the network); without JavaScript it lists the routes.
func (s *Server) docs(c echo.Context) error {
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
		`<title>proxbox API</title></head><body><redoc spec-url="/openapi.json" hide-download-button></redoc>` +
		`<noscript><h1>proxbox API</h1><p>Machine-readable description: <a href="/openapi.json">/openapi.json</a>. ` +
		`Protected routes need the header <code>X-Proxbox-API-Key</code>.</p><ul>`)
	routes := s.e.Routes()
	sort.Slice(routes, func(i, j int) bool { return routes[i].Path+routes[i].Method < routes[j].Path+routes[j].Method })
	for _, r := range routes {
		if r.Method == echo.RouteNotFound || strings.HasPrefix(r.Path, "/ui") || strings.HasPrefix(r.Path, "/static") {
			continue
		}
		b.WriteString("<li><code>" + r.Method + " " + htmlEscape(r.Path) + "</code></li>")
	}
	b.WriteString(`</ul></noscript><script src="/static/vendor/redoc.standalone.js"></script></body></html>`)
	return c.HTML(http.StatusOK, b.String())
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

func (s *Server) caPEM(c echo.Context) error {
	var pem []byte
	if s.opt.CARootPEM != nil {
		pem = s.opt.CARootPEM()
	}
	if len(pem) == 0 {
		return fail(http.StatusNotFound, "No local CA: TLS is not in local mode.")
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="proxbox-root-ca.pem"`)
	return c.Blob(http.StatusOK, "application/x-pem-file", pem)
}
