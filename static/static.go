// Package static owns the dashboard's browser assets: htmx, its SSE
// extension and Pico CSS vendored from npm (see README.md for versions and
// the refresh recipe), plus our own small stylesheet and script. They are
// embedded in the binary so the dashboard works on an air-gapped VM; no page
// may load anything from another origin. It must not contain templates,
// handlers or anything that reaches the network.
package static

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed vendor/*.js vendor/*.css vendor/*LICENSE* app.css app.js favicon.svg
var files embed.FS

// FS is the embedded asset tree (vendor/…, app.css, app.js, favicon.svg).
func FS() fs.FS { return files }

// Handler serves the assets under prefix (for example "/ui/static/"). The
// files never change within a build, so they may be cached for a day;
// directory listings are refused.
func Handler(prefix string) http.Handler {
	fsrv := http.StripPrefix(prefix, http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fsrv.ServeHTTP(w, r)
	})
}
