package netbox

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Token is one API token the simulator accepts.
type Token struct {
	// Value is a v1 token (40 hex characters, sent as "Token <value>") or a v2 token
	// "nbt_<key>.<secret>" (sent as "Bearer nbt_<key>.<secret>").
	Value string
	// ReadOnly tokens get 403 on writes, as a NetBox token with write_enabled=false.
	ReadOnly bool
}

// Options configure a Server. The zero value serves NetBox 4.6.8 with the netbox_proxbox
// plugin, no tokens (every request is refused) and no faults.
type Options struct {
	Tokens []Token
	// DisablePlugin starts NetBox without netbox_proxbox: /api/plugins/proxbox/ answers 404
	// and /api/status/ lists no plugin.
	DisablePlugin bool
	// Version is reported as netbox-version (default 4.6.8).
	Version string
	// PluginVersion is reported for netbox_proxbox (default 0.0.24).
	PluginVersion string
	// AllowDuplicateIPs accepts a second identical IP address outside any VRF, like a
	// NetBox configured with ENFORCE_GLOBAL_UNIQUE = False. NetBox's default since 4.0 is
	// to refuse it ("Duplicate IP address found in global table"), and so is ours.
	AllowDuplicateIPs bool
	// Faults are the initial latency and fault settings; change them with SetFaults.
	Faults Faults
	// Seed makes fault injection deterministic for a given request order.
	Seed uint64
	// Logger receives one debug line per request (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock for created/last_updated (default time.Now).
	Now func() time.Time
}

// Server is the NetBox simulator: an http.Handler for /api/ and /_lab/.
type Server struct {
	opts   Options
	st     *store
	log    *slog.Logger
	faults *faultState
	stats  *stats
	reqlog reqLog
}

// New returns a simulator with an empty database (plus the plugin's settings singleton).
func New(opts Options) *Server {
	if opts.Version == "" {
		opts.Version = "4.6.8"
	}
	if opts.PluginVersion == "" {
		opts.PluginVersion = "0.0.24"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, st: newStore(opts.Now), log: opts.Logger, stats: newStats()}
	s.st.enforceGlobalUnique = !opts.AllowDuplicateIPs
	s.faults = newFaultState(opts.Faults, opts.Seed)
	if !opts.DisablePlugin {
		m := s.st.byKey["netbox_proxbox.proxboxpluginsettings"]
		t := &tx{s: s.st}
		if _, errs := t.create(m, map[string]any{}); errs != nil {
			s.log.Error("netbox lab: create plugin settings", "errors", errs)
		}
	}
	return s
}

// apiError is a non-2xx reply with a JSON body.
type apiError struct {
	status int
	body   any
}

func (e *apiError) Error() string {
	b, _ := json.Marshal(e.body)
	return fmt.Sprintf("netbox lab: HTTP %d: %s", e.status, b)
}

// Status is the HTTP status of an error returned by the Go API (400, 404, 409).
func (e *apiError) Status() int { return e.status }

func detail(status int, msg string) *apiError {
	return &apiError{status: status, body: map[string]string{"detail": msg}}
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("API-Version", "4.6")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"detail":"internal error"}`)
	}
	return b
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/_lab/"):
		s.serveLab(w, r)
		return
	case r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/"):
	default:
		writeJSON(w, http.StatusNotFound, []byte(`{"detail":"Not found."}`))
		return
	}
	if !strings.HasSuffix(r.URL.Path, "/") {
		// Django's APPEND_SLASH.
		u := *r.URL
		u.Path += "/"
		http.Redirect(w, r, u.RequestURI(), http.StatusFound) // Django's APPEND_SLASH answers 302
		return
	}
	start := time.Now()
	m, id, pattern, ok := s.route(r.URL.Path)
	s.stats.request(r.Method, pattern)
	plan := s.faults.draw()
	// NetBox finishes a write whose client has gone and commits at its end: a write sleeps
	// its latency and write cost whatever the client does, then commits; only its reply is
	// lost. A read stops when its client goes.
	write := r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch || r.Method == http.MethodDelete
	wait := r.Context()
	if write {
		wait = context.WithoutCancel(wait)
	}
	if !plan.sleep(wait) {
		return
	}
	if plan.reset {
		s.stats.fault("reset")
		resetConn(w)
		return
	}
	if plan.status != 0 {
		s.stats.fault(strconv.Itoa(plan.status))
		if plan.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(plan.retryAfter))
			writeJSON(w, plan.status, []byte(`{"detail":"Request was throttled. Expected available in `+strconv.Itoa(plan.retryAfter)+` seconds."}`))
			return
		}
		writeJSON(w, plan.status, []byte(`{"error":"simulated failure","exception":"OperationalError","netbox_version":"`+s.opts.Version+`","python_version":"3.12.3"}`))
		return
	}
	if !ok {
		// No API view (an unknown model, or the plugin's paths without the plugin): Django's
		// URL resolver answers with NetBox's HTML 404 page, whatever Accept says.
		writeNotFoundPage(w, s.opts.Version)
		return
	}
	if aerr := s.authenticate(r); aerr != nil {
		writeJSON(w, aerr.status, marshal(aerr.body))
		return
	}
	if write && plan.writeEach > 0 {
		plan.writeCost(wait, bodyItems(r))
	}
	status, body, written := s.handle(r, m, id, pattern)
	s.reqlog.add(LoggedRequest{Start: start, End: time.Now(), Method: r.Method, Pattern: pattern, Status: status, Objects: written})
	if r.Context().Err() != nil {
		return // the client has gone: the write is done, its reply is not sent
	}
	s.log.Debug("netbox lab request", "method", r.Method, "path", pattern, "status", status)
	if plan.slow > 0 && len(body) > 0 {
		s.stats.fault("slow")
		slowWrite(r.Context(), w, status, body, plan.slow)
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, body)
}

// bodyItems is the number of objects a write request carries (a bulk list or one object),
// read without consuming the body.
func bodyItems(r *http.Request) int {
	if r.Body == nil {
		return 1
	}
	b, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return 1
	}
	var list []json.RawMessage
	if json.Unmarshal(b, &list) == nil && len(list) > 0 {
		return len(list)
	}
	return 1
}

// notFoundPage is the gist of NetBox 4.5's 404 page (templates/404.html).
const notFoundPage = `<!DOCTYPE html>
<html lang="en" data-netbox-url-name="" data-netbox-version="%s">
<head><meta charset="UTF-8"><title>Page Not Found | NetBox</title></head>
<body><div class="page"><h1>Page Not Found</h1><p>The requested page does not exist.</p></div></body>
</html>
`

func writeNotFoundPage(w http.ResponseWriter, version string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", "en")
	w.WriteHeader(http.StatusNotFound)
	_, _ = fmt.Fprintf(w, notFoundPage, html.EscapeString(version))
}

// route resolves an /api/ path to a model and optional id. pattern names it for stats.
func (s *Server) route(p string) (m *model, id int64, pattern string, ok bool) {
	rest := strings.Trim(strings.TrimPrefix(p, "/api"), "/")
	if rest == "status" {
		return nil, 0, "/api/status/", true
	}
	if mm := s.st.byPath[rest]; mm != nil {
		if mm.plugin && s.opts.DisablePlugin {
			return nil, 0, p, false
		}
		return mm, 0, "/api/" + rest + "/", true
	}
	if i := strings.LastIndexByte(rest, '/'); i > 0 {
		if mm := s.st.byPath[rest[:i]]; mm != nil {
			if mm.plugin && s.opts.DisablePlugin {
				return nil, 0, p, false
			}
			n, err := strconv.ParseInt(rest[i+1:], 10, 64)
			if err == nil && n > 0 {
				return mm, n, "/api/" + rest[:i] + "/{id}/", true
			}
		}
	}
	return nil, 0, "(unknown)", false
}

// authenticate parses Authorization like netbox/netbox/api/authentication.py (4.6).
func (s *Server) authenticate(r *http.Request) *apiError {
	h := r.Header.Get("Authorization")
	if h == "" {
		return detail(http.StatusForbidden, "Authentication credentials were not provided.")
	}
	kw, val, found := strings.Cut(strings.TrimSpace(h), " ")
	val = strings.TrimSpace(val)
	kwl := strings.ToLower(kw)
	if !found || val == "" || (kwl != "token" && kwl != "bearer") {
		return detail(http.StatusForbidden, `Invalid authorization header: Must be in the form "Bearer <key>.<token>" or "Token <token>"`)
	}
	var tok *Token
	if rest, v2 := strings.CutPrefix(val, "nbt_"); v2 {
		key, secret, ok := strings.Cut(rest, ".")
		if kwl != "bearer" {
			return detail(http.StatusForbidden, "Invalid v1 token")
		}
		if !ok || key == "" || secret == "" {
			return detail(http.StatusForbidden, "Invalid authorization header: Could not parse key from v2 token. Did you mean to use 'Token' instead of 'Bearer'?")
		}
		for i := range s.opts.Tokens {
			if s.opts.Tokens[i].Value == val && len(key) == 12 && len(secret) == 40 {
				tok = &s.opts.Tokens[i]
			}
		}
		if tok == nil {
			return detail(http.StatusForbidden, "Invalid v2 token")
		}
	} else {
		// A v1 token is 40 characters and sent as "Token <token>".
		if kwl != "token" || len(val) != 40 {
			return detail(http.StatusForbidden, "Invalid v1 token")
		}
		for i := range s.opts.Tokens {
			if s.opts.Tokens[i].Value == val && !strings.HasPrefix(val, "nbt_") {
				tok = &s.opts.Tokens[i]
			}
		}
		if tok == nil {
			return detail(http.StatusForbidden, "Invalid v1 token")
		}
	}
	if tok.ReadOnly && r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions {
		return detail(http.StatusForbidden, "You do not have permission to perform this action.")
	}
	return nil
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// handle serves one authenticated /api/ request. written is the number of objects written.
func (s *Server) handle(r *http.Request, m *model, id int64, pattern string) (int, []byte, int) {
	if m == nil {
		if r.Method != http.MethodGet {
			return http.StatusMethodNotAllowed, marshal(map[string]string{"detail": fmt.Sprintf("Method \"%s\" not allowed.", r.Method)}), 0
		}
		return http.StatusOK, s.statusBody(), 0
	}
	base := baseURL(r)
	q := r.URL.Query()
	switch r.Method {
	case http.MethodGet:
		if id != 0 {
			return s.getOne(base, m, id, q)
		}
		return s.list(r, base, m, q)
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		if r.Method == http.MethodPost && id != 0 {
			break
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			return http.StatusBadRequest, marshal(map[string]string{"detail": "could not read body"}), 0
		}
		if r.Method == http.MethodDelete && id != 0 {
			body = nil
		}
		res, n, aerr := s.write(base, m, id, r.Method, body, q)
		if aerr != nil {
			return aerr.status, marshal(aerr.body), 0
		}
		switch {
		case r.Method == http.MethodDelete:
			return http.StatusNoContent, nil, n
		case r.Method == http.MethodPost:
			return http.StatusCreated, res, n
		default:
			return http.StatusOK, res, n
		}
	}
	return http.StatusMethodNotAllowed, marshal(map[string]string{"detail": fmt.Sprintf("Method \"%s\" not allowed.", r.Method)}), 0
}

func (s *Server) statusBody() []byte {
	plugins := map[string]string{}
	if !s.opts.DisablePlugin {
		plugins["netbox_proxbox"] = s.opts.PluginVersion
	}
	return marshal(map[string]any{
		"django-version": "5.2.7", "netbox-version": s.opts.Version, "netbox-full-version": s.opts.Version,
		"python-version": "3.12.3", "rq-workers-running": 1, "plugins": plugins,
		"installed-apps": map[string]string{"django_filters": "25.1", "rest_framework": "3.16.1", "django_rq": "3.1", "mptt": "0.17.0"},
	})
}

// shape works out which keys to render (B.6 item 7: fields wins over omit wins over brief).
func shape(m *model, q url.Values, allowBrief bool) []string {
	if f := q.Get("fields"); f != "" {
		var out []string
		want := map[string]bool{}
		for _, n := range strings.Split(f, ",") {
			want[strings.TrimSpace(n)] = true
		}
		for _, n := range m.fullOut {
			if want[n] {
				out = append(out, n)
			}
		}
		return out
	}
	if o := q.Get("omit"); o != "" {
		drop := map[string]bool{}
		for _, n := range strings.Split(o, ",") {
			drop[strings.TrimSpace(n)] = true
		}
		var out []string
		for _, n := range m.fullOut {
			if !drop[n] {
				out = append(out, n)
			}
		}
		return out
	}
	if b := strings.ToLower(q.Get("brief")); allowBrief && (b == "1" || b == "true" || b == "yes" || b == "on") {
		return m.briefOut
	}
	if q.Get("exclude") == "config_context" {
		out := make([]string, 0, len(m.fullOut))
		for _, n := range m.fullOut {
			if n != "config_context" {
				out = append(out, n)
			}
		}
		return out
	}
	return m.fullOut
}

func (s *Server) getOne(base string, m *model, id int64, q url.Values) (int, []byte, int) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	o := s.st.get(m.key, id)
	if o == nil {
		return http.StatusNotFound, marshal(map[string]string{"detail": fmt.Sprintf("No %s matches the given query.", m.class)}), 0
	}
	rc := newRctx(s.st, base)
	w := &jw{}
	rc.writeObj(w, m, o, shape(m, q, true))
	return http.StatusOK, w.b, 0
}

const (
	defaultLimit = 50
	maxPageSize  = 1000
)

// pageLimit implements NetBox's OptionalLimitOffsetPagination limit rules.
func pageLimit(q url.Values) int {
	v := q.Get("limit")
	if v == "" {
		return defaultLimit
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil || n < 0:
		return defaultLimit
	case n == 0 || n > maxPageSize:
		return maxPageSize
	}
	return n
}

func pageURL(base, path string, q url.Values, set map[string]string, del ...string) string {
	c := url.Values{}
	for k, v := range q {
		c[k] = v
	}
	for k, v := range set {
		c.Set(k, v)
	}
	for _, k := range del {
		c.Del(k)
	}
	if len(c) == 0 {
		return base + path
	}
	return base + path + "?" + c.Encode()
}

func (s *Server) list(r *http.Request, base string, m *model, q url.Values) (int, []byte, int) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	rows, errs := s.st.filterRows(m, q)
	if errs != nil {
		return http.StatusBadRequest, marshal(errs), 0
	}
	limit := pageLimit(q)
	names := shape(m, q, true)
	rc := newRctx(s.st, base)
	w := &jw{b: make([]byte, 0, 64+len(rows)*64)}
	if start := q.Get("start"); start != "" {
		// Cursor pagination (NetBox 4.6): rows with pk >= start, count and previous null.
		n, err := strconv.ParseInt(start, 10, 64)
		if err != nil || n < 0 {
			return http.StatusBadRequest, marshal(map[string][]string{"start": {"A valid non-negative integer is required."}}), 0
		}
		if q.Get("offset") != "" || q.Get("ordering") != "" {
			return http.StatusBadRequest, marshal(map[string][]string{"start": {"The start parameter cannot be used with offset or ordering."}}), 0
		}
		var page []*object
		for _, o := range rows {
			if o.id >= n && len(page) < limit {
				page = append(page, o)
			}
		}
		w.raw(`{"count":null,"next":`)
		if len(page) == limit && len(page) > 0 {
			w.str(pageURL(base, r.URL.Path, q, map[string]string{"start": strconv.FormatInt(page[len(page)-1].id+1, 10), "limit": strconv.Itoa(limit)}))
		} else {
			w.raw("null")
		}
		w.raw(`,"previous":null,"results":[`)
		for i, o := range page {
			if i > 0 {
				w.raw(",")
			}
			rc.writeObj(w, m, o, names)
		}
		w.raw("]}")
		return http.StatusOK, w.b, 0
	}
	offset, err := strconv.Atoi(q.Get("offset"))
	if err != nil || offset < 0 {
		offset = 0
	}
	count := len(rows)
	end := min(offset+limit, count)
	w.raw(`{"count":`)
	w.int(int64(count))
	w.raw(`,"next":`)
	if offset+limit < count {
		w.str(pageURL(base, r.URL.Path, q, map[string]string{"limit": strconv.Itoa(limit), "offset": strconv.Itoa(offset + limit)}))
	} else {
		w.raw("null")
	}
	w.raw(`,"previous":`)
	switch {
	case offset <= 0:
		w.raw("null")
	case offset-limit <= 0:
		w.str(pageURL(base, r.URL.Path, q, map[string]string{"limit": strconv.Itoa(limit)}, "offset"))
	default:
		w.str(pageURL(base, r.URL.Path, q, map[string]string{"limit": strconv.Itoa(limit), "offset": strconv.Itoa(offset - limit)}))
	}
	w.raw(`,"results":[`)
	for i := offset; i < end; i++ {
		if i > offset {
			w.raw(",")
		}
		rc.writeObj(w, m, rows[i], names)
	}
	w.raw("]}")
	return http.StatusOK, w.b, 0
}

// decodeBody parses a JSON body keeping numbers exact.
func decodeBody(body []byte) (any, *apiError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, detail(http.StatusBadRequest, "JSON parse error - "+err.Error())
	}
	return v, nil
}

// write runs one POST/PATCH/PUT/DELETE, single or bulk, as one atomic transaction.
func (s *Server) write(base string, m *model, id int64, method string, body []byte, q url.Values) ([]byte, int, *apiError) {
	var payload any
	if len(bytes.TrimSpace(body)) > 0 {
		var aerr *apiError
		if payload, aerr = decodeBody(body); aerr != nil {
			return nil, 0, aerr
		}
	} else if method != http.MethodDelete {
		payload = map[string]any{}
	}
	if !m.plugin && method != http.MethodDelete {
		// Load the schema before taking the lock: the first write pays about a second.
		_, _ = loadSpec()
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	t := &tx{s: s.st}
	items, isList := payload.([]any)
	if !isList {
		items = []any{payload}
	}
	if id != 0 && isList {
		return nil, 0, &apiError{status: http.StatusBadRequest, body: map[string][]string{"non_field_errors": {"Invalid data. Expected a dictionary, but got list."}}}
	}
	if id == 0 && !isList && method != http.MethodPost {
		if method == http.MethodDelete {
			return nil, 0, &apiError{status: http.StatusBadRequest, body: map[string][]string{"non_field_errors": {"Expected a list of items but got type \"dict\"."}}}
		}
		return nil, 0, &apiError{status: http.StatusMethodNotAllowed, body: map[string]string{"detail": fmt.Sprintf("Method \"%s\" not allowed.", method)}}
	}
	if id != 0 && s.st.get(m.key, id) == nil {
		return nil, 0, detail(http.StatusNotFound, fmt.Sprintf("No %s matches the given query.", m.class))
	}
	if id == 0 && isList && (method == http.MethodPatch || method == http.MethodPut) {
		// NetBox updates a bulk list one object after another in primary-key
		// order and stops at the first invalid one (B.6 item 10).
		slices.SortStableFunc(items, func(a, b any) int {
			ia, _ := toInt(mapGet(a, "id"))
			ib, _ := toInt(mapGet(b, "id"))
			return cmp.Compare(ia, ib)
		})
	}
	var results []*object
	itemErrs := make([]any, len(items))
	// A bulk create validates every item against the database as it was before the
	// request (DRF's ListSerializer.is_valid), then saves them in order (bulkSave).
	bulkCreate := method == http.MethodPost && isList
	var valid []map[string]any
	failed := false
	for i, it := range items {
		obj, isObj := it.(map[string]any)
		if !isObj && !(method == http.MethodDelete && id != 0) {
			itemErrs[i] = map[string][]string{"non_field_errors": {fmt.Sprintf("Invalid data. Expected a dictionary, but got %s.", pyType(it))}}
			failed = true
			continue
		}
		var o *object
		var errs errMap
		switch {
		case bulkCreate:
			var vals map[string]any
			if vals, errs = s.st.validate(m, obj, nil, false); len(errs) == 0 {
				valid = append(valid, vals)
			}
		case method == http.MethodPost:
			o, errs = t.create(m, obj)
		case method == http.MethodDelete:
			target := id
			if target == 0 {
				n, ok := toInt(obj["id"])
				if !ok {
					errs = errMap{"id": []string{"This field is required."}}
					break
				}
				target = n
			}
			if err := t.delete(m, target); err != nil {
				var ce *conflictError
				if errors.As(err, &ce) {
					t.rollback()
					return nil, 0, detail(http.StatusConflict, ce.detail)
				}
				errs = errMap{"detail": []string{err.Error()}}
			}
		default:
			target := id
			if target == 0 {
				n, ok := toInt(obj["id"])
				if !ok {
					errs = errMap{"id": []string{"This field is required."}}
					break
				}
				if s.st.get(m.key, n) == nil {
					continue // bulk update skips unknown ids (B.6 item 10)
				}
				target = n
			}
			o, errs = t.update(m, target, obj, method == http.MethodPatch)
		}
		if len(errs) > 0 {
			itemErrs[i] = errs
			failed = true
			continue
		}
		if o != nil {
			// A single create or any update saves at once: a rule only PostgreSQL
			// checks breaks here.
			if u, hit := s.st.collision(m, o.v, o.id, false); hit {
				t.rollback()
				return nil, 0, s.integrity(m, u, o.v)
			}
		}
		itemErrs[i] = map[string]any{}
		if o != nil {
			results = append(results, o)
		}
	}
	if failed {
		t.rollback()
		if !isList {
			return nil, 0, &apiError{status: http.StatusBadRequest, body: itemErrs[0]}
		}
		if method == http.MethodPatch || method == http.MethodPut {
			for _, e := range itemErrs {
				if em, ok := e.(errMap); ok && len(em) > 0 {
					return nil, 0, &apiError{status: http.StatusBadRequest, body: e} // the first error only
				}
			}
		}
		return nil, 0, &apiError{status: http.StatusBadRequest, body: itemErrs}
	}
	if bulkCreate {
		var aerr *apiError
		if results, aerr = s.bulkSave(t, m, valid); aerr != nil {
			return nil, 0, aerr
		}
	}
	s.stats.commit(t.stats)
	if method == http.MethodDelete {
		return nil, len(t.stats), nil
	}
	rc := newRctx(s.st, base)
	names := shape(m, q, false)
	w := &jw{}
	if isList {
		w.raw("[")
	}
	for i, o := range results {
		if i > 0 {
			w.raw(",")
		}
		rc.writeObj(w, m, s.st.get(m.key, o.id), names)
	}
	if isList {
		w.raw("]")
	}
	return w.b, len(results), nil
}

// bulkSave saves the validated items of a bulk create in request order, as NetBox does once
// every item has passed validation (NetBoxModelViewSet.perform_create, one transaction;
// netbox/netbox/api/viewsets/__init__.py:196-207 in v4.5.10). Validation saw the database
// as it was before the request, so a collision found here is with a sibling saved before:
//   - a database constraint (m.uniques): PostgreSQL refuses the insert, NetBox answers 500
//     IntegrityError and writes nothing;
//   - a plugin serializer's upsert key (unique.upsert): create() finds the sibling and
//     updates it, so two items name one row and ObjectValidationMixin._validate_objects
//     (mixins.py:180-191) raises, which perform_create answers 403, nothing written.
//
// Rules that only the model's clean() enforces (the unique IP space of addresses and
// prefixes) are not checked again: NetBox creates both copies (201). Observed on NetBox
// 4.5.10 + netbox-proxbox 0.0.24 (TestBulkCreateSiblings).
func (s *Server) bulkSave(t *tx, m *model, valid []map[string]any) ([]*object, *apiError) {
	results := make([]*object, 0, len(valid))
	for _, vals := range valid {
		if u, hit := s.st.collision(m, vals, 0, true); hit {
			t.rollback()
			if u.upsert {
				return nil, detail(http.StatusForbidden, "You do not have permission to perform this action.")
			}
			return nil, s.integrity(m, u, vals)
		}
		results = append(results, t.insert(m, vals))
	}
	return results, nil
}

// integrity is NetBox's 500 for an insert or update PostgreSQL refused under rule u.
func (s *Server) integrity(m *model, u unique, vals map[string]any) *apiError {
	return &apiError{status: http.StatusInternalServerError, body: map[string]any{
		"error": integrityError(m, u, vals), "exception": "IntegrityError",
		"netbox_version": s.opts.Version, "python_version": "3.12.3"}}
}

// stats counts requests and writes for /_lab/stats.
type stats struct {
	mu       sync.Mutex
	requests map[string]int64
	faults   map[string]int64
	created  map[string]int64
	updated  map[string]int64
	deleted  map[string]int64
	changes  int64
	written  int64
	since    time.Time
}

// Stats is a snapshot of the request and write counters.
type Stats struct {
	// Requests counts /api/ requests by "METHOD /api/path/pattern/" (detail paths as {id}).
	Requests      map[string]int64 `json:"requests"`
	RequestsTotal int64            `json:"requests_total"`
	// Faults counts injected faults by kind: HTTP status, "reset", "slow".
	Faults map[string]int64 `json:"faults"`
	// Created, Updated and Deleted count objects by model (app_label.model).
	Created map[string]int64 `json:"created"`
	Updated map[string]int64 `json:"updated"`
	Deleted map[string]int64 `json:"deleted"`
	// ObjectsWritten counts every object saved or deleted; ObjectChanges only those that
	// produced a change-log row (updates that changed nothing do not, as in NetBox 4.x).
	ObjectsWritten int64     `json:"objects_written"`
	ObjectChanges  int64     `json:"object_changes"`
	Since          time.Time `json:"since"`
}

func newStats() *stats {
	st := &stats{}
	st.reset()
	return st
}

func (st *stats) reset() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.requests, st.faults = map[string]int64{}, map[string]int64{}
	st.created, st.updated, st.deleted = map[string]int64{}, map[string]int64{}, map[string]int64{}
	st.changes, st.written, st.since = 0, 0, time.Now()
}

func (st *stats) request(method, pattern string) {
	st.mu.Lock()
	st.requests[method+" "+pattern]++
	st.mu.Unlock()
}

func (st *stats) fault(kind string) {
	st.mu.Lock()
	st.faults[kind]++
	st.mu.Unlock()
}

func (st *stats) commit(ws []writeStat) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, w := range ws {
		st.written++
		if w.real {
			st.changes++
		}
		switch w.op {
		case "create":
			st.created[w.model]++
		case "update":
			st.updated[w.model]++
		case "delete":
			st.deleted[w.model]++
		}
	}
}

func (st *stats) snapshot() Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	cp := func(m map[string]int64) map[string]int64 {
		out := make(map[string]int64, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	out := Stats{Requests: cp(st.requests), Faults: cp(st.faults), Created: cp(st.created), Updated: cp(st.updated),
		Deleted: cp(st.deleted), ObjectsWritten: st.written, ObjectChanges: st.changes, Since: st.since}
	for _, v := range st.requests {
		out.RequestsTotal += v
	}
	return out
}

func (s *Server) serveLab(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_lab/stats" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, marshal(s.Stats()))
	case r.URL.Path == "/_lab/stats/reset" && r.Method == http.MethodPost:
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/_lab/faults" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, marshal(s.Faults().toJSON()))
	case r.URL.Path == "/_lab/faults" && (r.Method == http.MethodPut || r.Method == http.MethodPost):
		var fj faultsJSON
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&fj); err != nil {
			writeJSON(w, http.StatusBadRequest, marshal(map[string]string{"detail": "bad faults JSON: " + err.Error()}))
			return
		}
		f, err := fj.toFaults()
		if err != nil {
			writeJSON(w, http.StatusBadRequest, marshal(map[string]string{"detail": err.Error()}))
			return
		}
		s.SetFaults(f)
		writeJSON(w, http.StatusOK, marshal(f.toJSON()))
	default:
		writeJSON(w, http.StatusNotFound, []byte(`{"detail":"Not found."}`))
	}
}

func mapGet(v any, k string) any {
	if m, ok := v.(map[string]any); ok {
		return m[k]
	}
	return nil
}
