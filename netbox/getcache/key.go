package getcache

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// key identifies one cached answer.
type key struct {
	endpoint string
	model    string // endpoint + "\x00" + model prefix path
	path     string // request path with a trailing "/"
	query    string // canonical query (url.Values.Encode)
	full     string // endpoint, header hash, path and query
}

// varyHeaders change the answer for the same URL; their values are hashed into the key.
var varyHeaders = [...]string{"Authorization", "Accept", "Accept-Encoding", "Accept-Language", "Cookie"}

// varyHash is FNV-1a over the vary header values, inlined to avoid allocations on the hit path.
func varyHash(h http.Header) string {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	x := uint64(offset64)
	for _, name := range varyHeaders {
		for _, v := range h[name] {
			for i := 0; i < len(v); i++ {
				x ^= uint64(v[i])
				x *= prime64
			}
			x *= prime64 // separator (xor with 0)
		}
		x ^= 1
		x *= prime64
	}
	return strconv.FormatUint(x, 16)
}

// normalizePath ensures the leading and trailing "/".
func normalizePath(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// modelPath splits a normalized path into the model prefix ("…/api/<app>/<model>/" or
// "…/api/plugins/<plugin>/<model>/") and the segments after it. ok is false outside "/api/" and
// for paths that name no model (/api/, /api/status/, /api/plugins/x/).
func modelPath(p string) (prefix string, rest []string, underAPI, ok bool) {
	i := strings.Index(p, "/api/")
	if i < 0 {
		return "", nil, false, false
	}
	segs := strings.Split(strings.Trim(p[i+len("/api/"):], "/"), "/")
	n := 2
	if len(segs) > 0 && segs[0] == "plugins" {
		n = 3
	}
	if len(segs) < n {
		return "", nil, true, false
	}
	for _, s := range segs[:n] {
		if s == "" {
			return "", nil, true, false
		}
	}
	return p[:i] + "/api/" + strings.Join(segs[:n], "/") + "/", segs[n:], true, true
}

func modelKey(endpoint, prefix string) string { return endpoint + "\x00" + prefix }

// endpointOf names the NetBox endpoint of a request.
func endpointOf(configured string, u *url.URL) string {
	if configured != "" {
		return configured
	}
	return u.Scheme + "://" + u.Host
}

// readKey builds the cache key of a GET, or ok=false when the request is not cacheable.
func readKey(endpoint string, req *http.Request) (*key, bool) {
	if req.Body != nil && req.Body != http.NoBody {
		return nil, false
	}
	if req.Header.Get("Range") != "" {
		return nil, false
	}
	p := normalizePath(req.URL.Path)
	prefix, _, _, ok := modelPath(p)
	if !ok {
		return nil, false
	}
	query := ""
	if req.URL.RawQuery != "" {
		v, err := url.ParseQuery(req.URL.RawQuery)
		if err != nil {
			return nil, false
		}
		query = v.Encode()
	}
	k := &key{endpoint: endpoint, model: modelKey(endpoint, prefix), path: p, query: query}
	k.full = endpoint + "\x00" + varyHash(req.Header) + "\x00" + p + "?" + query
	return k, true
}

// createdBy maps the NetBox sub-resources that create objects of another model to that model.
var createdBy = map[string]string{
	"available-ips":      "ipam/ip-addresses",
	"available-prefixes": "ipam/prefixes",
	"available-vlans":    "ipam/vlans",
	"available-asns":     "ipam/asns",
}

// endpointWide lists models whose writes can change the representation of any other object, or
// run code that writes anything.
var endpointWide = map[string]bool{
	"extras/custom-fields":            true,
	"extras/custom-field-choice-sets": true,
	"extras/tags":                     true,
	"extras/scripts":                  true,
	"extras/reports":                  true,
}

// writeScope is what a write to path p on endpoint invalidates; ok is false outside "/api/".
func writeScope(endpoint, method, p string) (scope, bool) {
	p = normalizePath(p)
	prefix, rest, underAPI, ok := modelPath(p)
	if !underAPI {
		return scope{}, false
	}
	sc := scope{endpoint: endpoint}
	if !ok || method == http.MethodDelete {
		sc.all = true
		return sc, true
	}
	i := strings.Index(prefix, "/api/")
	model := strings.Trim(prefix[i+len("/api/"):], "/")
	if endpointWide[model] {
		sc.all = true
		return sc, true
	}
	sc.models = append(sc.models, modelKey(endpoint, prefix))
	if len(rest) >= 2 {
		if target, found := createdBy[rest[1]]; found {
			sc.models = append(sc.models, modelKey(endpoint, prefix[:i]+"/api/"+target+"/"))
		}
	}
	return sc, true
}
