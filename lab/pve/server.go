package pve

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// APIPrefix is where PVE serves its JSON API.
const APIPrefix = "/api2/json"

// DefaultToken is the API token a Server accepts when Options.Token is empty.
const DefaultToken = "root@pam!proxbox=00000000-0000-4000-8000-000000000000"

// DefaultUser and DefaultPassword are the credentials POST /access/ticket accepts when
// Options.Username / Options.Password are empty.
const (
	DefaultUser     = "root@pam"
	DefaultPassword = "proxbox"
)

// Options configures a Server. Exactly one data source is used, in this order:
// FixturesFile, Cluster, then a lab generated from Scale and Seed.
type Options struct {
	// FixturesFile is a JSON object mapping request paths (with /api2/json, optionally with a
	// query string) to replies: a PVE envelope served with 200, or {"_status":N,"_body":{...}}
	// served as given. The file is re-read when its mtime or size changes.
	FixturesFile string
	// Cluster serves one cluster of a generated Lab (see Generate).
	Cluster *Cluster
	// Scale and Seed generate a lab when neither FixturesFile nor Cluster is set; New serves
	// its first cluster and NewLab one Server per cluster. Scale 0 means 20 guests.
	Scale int
	Seed  int64
	// SharedRange generates every cluster with the same private addresses
	// (GenOptions.SharedRange).
	SharedRange bool
	// Token is the one API token accepted, as USER@REALM!NAME=SECRET. Empty: DefaultToken.
	Token string
	// Username and Password are accepted by POST /access/ticket. Empty: DefaultUser and
	// DefaultPassword.
	Username, Password string
	// Faults sets latency and injected failures; change them later with SetFaults.
	Faults Faults
	// Logger receives request and reload logs; nil discards them.
	Logger *slog.Logger
}

// reply is a fixture reply served verbatim: {"_status":N,"_body":...}, or an envelope
// carrying more than "data" (e.g. "total").
type reply struct {
	status int
	body   any
}

// Server is one simulated PVE API (one cluster, or one standalone node). It is an
// http.Handler; serve it with net/http, httptest, or ServeTLS. Safe for concurrent use.
type Server struct {
	log  *slog.Logger
	name string

	tokenID, tokenSecret string
	user, password       string
	ticketKey            []byte

	mu     sync.RWMutex
	routes map[string]any // path (no /api2/json prefix)[?canonical query] -> data or *reply
	// idx is derived from routes (guests by vmid, node names); every write under mu drops it.
	idx      atomic.Pointer[routeIndex]
	upids    uint32 // counter for tasks created by writes and mutations
	lastTask string // UPID of the newest task addTask logged

	fixture struct {
		sync.Mutex
		path    string
		modTime time.Time
		size    int64
		checked time.Time
	}

	faults faultState
	stats  statsState
}

// New builds a Server from opts.
func New(opts Options) (*Server, error) {
	s, err := newBare(opts)
	if err != nil {
		return nil, err
	}
	switch {
	case opts.FixturesFile != "":
		s.fixture.path = opts.FixturesFile
		if err := s.reloadFixture(true); err != nil {
			return nil, err
		}
	case opts.Cluster != nil:
		s.useCluster(opts.Cluster)
	default:
		lab := GenerateWith(opts.Scale, opts.Seed, GenOptions{SharedRange: opts.SharedRange})
		s.useCluster(lab.Clusters[0])
	}
	return s, nil
}

// NewLab builds the Servers opts describes: one for a fixture file or a given Cluster, else
// one per cluster of Generate(opts.Scale, opts.Seed), in the Lab's order. Every Server shares
// the token, credentials and faults of opts.
func NewLab(opts Options) ([]*Server, error) {
	if opts.FixturesFile != "" || opts.Cluster != nil {
		s, err := New(opts)
		if err != nil {
			return nil, err
		}
		return []*Server{s}, nil
	}
	lab := GenerateWith(opts.Scale, opts.Seed, GenOptions{SharedRange: opts.SharedRange})
	out := make([]*Server, 0, len(lab.Clusters))
	for i, c := range lab.Clusters {
		o := opts
		o.Cluster = c
		o.Faults.Seed = opts.Faults.Seed + int64(i)
		s, err := New(o)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func newBare(opts Options) (*Server, error) {
	s := &Server{log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	tok := opts.Token
	if tok == "" {
		tok = DefaultToken
	}
	id, secret, ok := strings.Cut(tok, "=")
	if !ok || !strings.Contains(id, "@") || !strings.Contains(id, "!") || secret == "" {
		return nil, fmt.Errorf("pve lab token %q: want USER@REALM!NAME=SECRET", redactToken(tok))
	}
	s.tokenID, s.tokenSecret = id, secret
	s.user, s.password = opts.Username, opts.Password
	if s.user == "" {
		s.user = DefaultUser
	}
	if s.password == "" {
		s.password = DefaultPassword
	}
	s.ticketKey = make([]byte, 32)
	if _, err := rand.Read(s.ticketKey); err != nil {
		return nil, fmt.Errorf("ticket key: %w", err)
	}
	s.faults.set(opts.Faults)
	s.stats.reset()
	return s, nil
}

func redactToken(t string) string {
	if id, _, ok := strings.Cut(t, "="); ok {
		return id + "=***"
	}
	return "***"
}

func (s *Server) useCluster(c *Cluster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.dropIndex()
	s.name = c.Name
	s.routes = make(map[string]any, len(c.routes))
	for k, v := range c.routes {
		s.routes[k] = deepCopy(v)
	}
}

// Name is the cluster name, or the node name of a standalone node (as the sync engine names
// it from /cluster/status).
func (s *Server) Name() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.name
}

// TokenID and TokenSecret are the accepted API token's parts.
func (s *Server) TokenID() string     { return s.tokenID }
func (s *Server) TokenSecret() string { return s.tokenSecret }

// ---------------------------------------------------------------------------------------
// fixture loading

// loadFixtureRoutes parses a fixture file into routes.
func loadFixtureRoutes(b []byte) (map[string]any, string, error) {
	tree, err := decodeJSON(b)
	if err != nil {
		return nil, "", fmt.Errorf("parse: %w", err)
	}
	top, ok := tree.(map[string]any)
	if !ok {
		return nil, "", errors.New("parse: top level is not an object")
	}
	routes := make(map[string]any, len(top))
	for k, v := range top {
		key, err := routeKey(k)
		if err != nil {
			return nil, "", fmt.Errorf("key %q: %w", k, err)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, "", fmt.Errorf("key %q: reply is not an object", k)
		}
		if st, has := obj["_status"]; has {
			code, ok := asInt(st)
			if !ok || code < 100 || code > 599 {
				return nil, "", fmt.Errorf("key %q: bad _status", k)
			}
			routes[key] = &reply{status: int(code), body: obj["_body"]}
			continue
		}
		if _, has := obj["data"]; !has {
			return nil, "", fmt.Errorf("key %q: reply has neither data nor _status", k)
		}
		if len(obj) == 1 {
			routes[key] = obj["data"]
		} else {
			routes[key] = &reply{status: http.StatusOK, body: obj}
		}
	}
	return routes, clusterName(routes), nil
}

// routeKey normalises a fixture key: strips /api2/json, sorts the query.
func routeKey(k string) (string, error) {
	p, q, _ := strings.Cut(k, "?")
	p = strings.TrimPrefix(p, APIPrefix)
	if !strings.HasPrefix(p, "/") {
		return "", errors.New("path must start with /api2/json/ or /")
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	if q == "" {
		return p, nil
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		return "", err
	}
	return p + "?" + canonicalQuery(vals), nil
}

func canonicalQuery(v url.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := append([]string(nil), v[k]...)
		sort.Strings(vs)
		for _, e := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(e))
		}
	}
	return b.String()
}

// clusterName reads the cluster (or standalone node) name from /cluster/status.
func clusterName(routes map[string]any) string {
	var node string
	for _, e := range asList(routes["/cluster/status"]) {
		switch asString(e["type"]) {
		case "cluster":
			return asString(e["name"])
		case "node":
			if node == "" {
				node = asString(e["name"])
			}
		}
	}
	return node
}

// reloadFixture re-reads the fixture file when it changed (or always when force).
func (s *Server) reloadFixture(force bool) error {
	f := &s.fixture
	f.Lock()
	defer f.Unlock()
	if f.path == "" {
		return nil
	}
	st, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("stat fixtures %s: %w", f.path, err)
	}
	if !force && st.ModTime().Equal(f.modTime) && st.Size() == f.size {
		return nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("read fixtures %s: %w", f.path, err)
	}
	routes, name, err := loadFixtureRoutes(b)
	if err != nil {
		return fmt.Errorf("fixtures %s: %w", f.path, err)
	}
	s.mu.Lock()
	s.routes, s.name = routes, name
	s.dropIndex()
	s.mu.Unlock()
	f.modTime, f.size = st.ModTime(), st.Size()
	if !force {
		s.log.Info("pve lab: fixtures reloaded", "file", f.path, "paths", len(routes))
	}
	return nil
}

// ---------------------------------------------------------------------------------------
// HTTP

// ServeHTTP answers /api2/json/... like a PVE node and /_lab/stats for tests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", "pve-api-daemon/3.0")
	if r.URL.Path == "/_lab/stats" || r.URL.Path == "/_lab/stats/reset" {
		s.serveStats(w, r)
		return
	}
	if r.URL.Path == "/_lab/mutate" {
		s.serveMutate(w, r)
		return
	}
	if !strings.HasPrefix(r.URL.Path, APIPrefix+"/") && r.URL.Path != APIPrefix {
		http.NotFound(w, r)
		return
	}
	rel := strings.TrimPrefix(r.URL.Path, APIPrefix)
	if rel == "" {
		rel = "/"
	}
	if len(rel) > 1 {
		rel = strings.TrimSuffix(rel, "/")
	}
	p, vars := match(rel)
	patText := "(unmatched)"
	if p != nil {
		patText = p.text
	}
	s.stats.count(r.Method + " " + patText)

	if s.fixture.path != "" {
		if err := s.reloadFixture(false); err != nil {
			s.log.Error("pve lab: fixture reload failed, keeping previous data", "err", err)
		}
	}

	plan := s.faults.plan()
	if p != nil && strings.Contains(p.text, "/agent/") {
		plan.delay += s.faults.agentDelay(vars["vmid"])
	}
	if plan.delay > 0 {
		t := time.NewTimer(plan.delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if plan.reset {
		s.stats.fault("reset")
		resetConn(w)
		return
	}
	if plan.status != 0 {
		s.stats.fault(strconv.Itoa(plan.status))
		s.writeError(w, plan.status, faultMessage(plan.status), nil)
		return
	}
	if plan.slow > 0 {
		s.stats.fault("slow")
		w = &slowWriter{ResponseWriter: w, ctx: r.Context(), delay: plan.slow}
	}

	if rel == "/access/ticket" && r.Method == http.MethodPost {
		s.serveTicket(w, r)
		return
	}
	if msg := s.authenticate(r); msg != "" {
		s.writeError(w, http.StatusUnauthorized, msg, nil)
		return
	}
	s.serveAPI(w, r, rel, p, vars)
}

// writeData writes a 200 envelope {"data": v}.
func (s *Server) writeData(w http.ResponseWriter, v any) {
	s.writeJSON(w, http.StatusOK, map[string]any{"data": v})
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		s.writeError(w, http.StatusInternalServerError, "unable to encode reply", nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "max-age=0")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError answers like pveproxy: the message is the HTTP reason phrase, the body is
// {"data":null} plus "errors" for parameter errors (400).
func (s *Server) writeError(w http.ResponseWriter, status int, msg string, errs map[string]string) {
	body := map[string]any{"data": nil}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	b, _ := json.Marshal(body)
	msg = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, strings.TrimSpace(msg))
	if msg == "" {
		msg = http.StatusText(status)
	}
	// net/http always writes its own reason phrase; PVE puts the error text there and
	// go-proxmox surfaces exactly that (errors.New(res.Status)). So write the response
	// ourselves on a hijacked connection when we can.
	if sw, ok := w.(*slowWriter); ok {
		w = sw.ResponseWriter
	}
	if hj, ok := w.(http.Hijacker); ok {
		conn, rw, err := hj.Hijack()
		if err == nil {
			defer conn.Close()
			writeRawResponse(rw.Writer, status, msg, b)
			_ = rw.Flush()
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeRawResponse(w *bufio.Writer, status int, reason string, body []byte) {
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n", status, reason)
	fmt.Fprintf(w, "Server: pve-api-daemon/3.0\r\n")
	fmt.Fprintf(w, "Date: %s\r\n", time.Now().UTC().Format(http.TimeFormat))
	fmt.Fprintf(w, "Cache-Control: max-age=0\r\nPragma: no-cache\r\nConnection: close\r\n")
	fmt.Fprintf(w, "Content-Type: application/json;charset=UTF-8\r\n")
	fmt.Fprintf(w, "Content-Length: %d\r\n\r\n", len(body))
	_, _ = w.Write(body)
}

// ---------------------------------------------------------------------------------------
// auth

const ticketLifetime = 2 * time.Hour

func (s *Server) sign(parts ...string) string {
	m := hmac.New(sha256.New, s.ticketKey)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawStdEncoding.EncodeToString(m.Sum(nil))
}

// serveTicket implements POST /access/ticket with form or JSON username/password.
func (s *Server) serveTicket(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Realm    string `json:"realm"`
	}
	ct := r.Header.Get("Content-Type")
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "unable to read request body", nil)
		return
	}
	if strings.HasPrefix(ct, "application/json") {
		if err := json.Unmarshal(body, &in); err != nil {
			s.writeError(w, http.StatusBadRequest, "Parameter verification failed.",
				map[string]string{"username": "invalid JSON body"})
			return
		}
	} else {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			s.writeError(w, http.StatusBadRequest, "Parameter verification failed.",
				map[string]string{"username": "invalid form body"})
			return
		}
		in.Username, in.Password, in.Realm = v.Get("username"), v.Get("password"), v.Get("realm")
	}
	errs := map[string]string{}
	if in.Username == "" {
		errs["username"] = "property is missing and it is not optional"
	}
	if in.Password == "" {
		errs["password"] = "property is missing and it is not optional"
	}
	if len(errs) > 0 {
		s.writeError(w, http.StatusBadRequest, "Parameter verification failed.", errs)
		return
	}
	user := in.Username
	if !strings.Contains(user, "@") && in.Realm != "" {
		user += "@" + in.Realm
	}
	ok := subtle.ConstantTimeCompare([]byte(user), []byte(s.user)) == 1 &&
		subtle.ConstantTimeCompare([]byte(in.Password), []byte(s.password)) == 1
	if !ok {
		// a still-valid ticket is accepted as password (ticket renewal), as PVE does
		if u, valid := s.checkTicket(in.Password); !valid || u != user {
			s.writeError(w, http.StatusUnauthorized, "authentication failure", nil)
			return
		}
	}
	ts := strings.ToUpper(strconv.FormatInt(time.Now().Unix(), 16))
	ticket := "PVE:" + user + ":" + ts + "::" + s.sign("ticket", user, ts)
	csrf := ts + ":" + s.sign("csrf", user, ts)
	s.writeData(w, map[string]any{
		"username":            user,
		"ticket":              ticket,
		"CSRFPreventionToken": csrf,
		"cap": map[string]any{
			"vms":     map[string]any{"VM.Audit": 1, "VM.PowerMgmt": 1},
			"storage": map[string]any{"Datastore.Audit": 1},
			"nodes":   map[string]any{"Sys.Audit": 1},
		},
	})
}

// checkTicket verifies a PVEAuthCookie value; it returns the user.
func (s *Server) checkTicket(t string) (string, bool) {
	parts := strings.Split(t, ":")
	// PVE:user@realm:HEXTIME::sig
	if len(parts) != 5 || parts[0] != "PVE" || parts[3] != "" {
		return "", false
	}
	user, ts, sig := parts[1], parts[2], parts[4]
	if !hmac.Equal([]byte(sig), []byte(s.sign("ticket", user, ts))) {
		return "", false
	}
	sec, err := strconv.ParseInt(ts, 16, 64)
	if err != nil || time.Since(time.Unix(sec, 0)) > ticketLifetime {
		return "", false
	}
	return user, true
}

// authenticate returns "" when the request is authenticated, else PVE's 401 reason.
func (s *Server) authenticate(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "PVEAPIToken") {
		v := strings.TrimPrefix(h, "PVEAPIToken")
		v = strings.TrimLeft(v, "= ")
		id, secret, ok := strings.Cut(v, "=")
		if !ok || !strings.Contains(id, "!") {
			return "invalid API token"
		}
		if subtle.ConstantTimeCompare([]byte(id), []byte(s.tokenID)) != 1 {
			user, name, _ := strings.Cut(id, "!")
			return fmt.Sprintf("no such token '%s' for user '%s'", name, user)
		}
		if subtle.ConstantTimeCompare([]byte(secret), []byte(s.tokenSecret)) != 1 {
			return "invalid token value!"
		}
		return ""
	}
	c, err := r.Cookie("PVEAuthCookie")
	if err != nil || c.Value == "" {
		return "No ticket"
	}
	val, err := url.PathUnescape(c.Value)
	if err != nil {
		val = c.Value
	}
	user, ok := s.checkTicket(val)
	if !ok {
		return "permission denied - invalid PVE ticket"
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		tok := r.Header.Get("CSRFPreventionToken")
		ts, sig, _ := strings.Cut(tok, ":")
		if tok == "" || !hmac.Equal([]byte(sig), []byte(s.sign("csrf", user, ts))) {
			return "Permission denied - invalid csrf token"
		}
	}
	return ""
}

// ---------------------------------------------------------------------------------------
// stats

type statsState struct {
	mu       sync.Mutex
	requests map[string]int64
	faults   map[string]int64
	total    int64
	since    time.Time
}

func (st *statsState) reset() {
	st.mu.Lock()
	st.requests, st.faults, st.total, st.since = map[string]int64{}, map[string]int64{}, 0, time.Now().UTC()
	st.mu.Unlock()
}

func (st *statsState) count(key string) {
	st.mu.Lock()
	st.requests[key]++
	st.total++
	st.mu.Unlock()
}

func (st *statsState) fault(kind string) {
	st.mu.Lock()
	st.faults[kind]++
	st.mu.Unlock()
}

// Stats counts the API requests a Server received since it started or was last reset.
type Stats struct {
	// Total is the number of /api2/json requests.
	Total int64 `json:"total"`
	// Requests is keyed by "METHOD pattern", e.g. "GET /nodes/{node}/qemu/{vmid}/config";
	// paths no pattern matches count as "METHOD (unmatched)".
	Requests map[string]int64 `json:"requests"`
	// Faults counts injected faults by kind: "500", "502", "503", "429", "reset", "slow".
	Faults map[string]int64 `json:"faults"`
	Since  time.Time        `json:"since"`
}

// Stats returns a copy of the request counters.
func (s *Server) Stats() Stats {
	st := &s.stats
	st.mu.Lock()
	defer st.mu.Unlock()
	out := Stats{Total: st.total, Requests: map[string]int64{}, Faults: map[string]int64{}, Since: st.since}
	for k, v := range st.requests {
		out.Requests[k] = v
	}
	for k, v := range st.faults {
		out.Faults[k] = v
	}
	return out
}

// ResetStats zeroes the request counters.
func (s *Server) ResetStats() { s.stats.reset() }

func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/_lab/stats":
		s.writeJSON(w, http.StatusOK, s.Stats())
	case (r.Method == http.MethodPost && r.URL.Path == "/_lab/stats/reset") ||
		(r.Method == http.MethodDelete && r.URL.Path == "/_lab/stats"):
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// ---------------------------------------------------------------------------------------
// slow bodies and resets

// slowWriter trickles the body out in small flushed chunks.
type slowWriter struct {
	http.ResponseWriter
	ctx   context.Context
	delay time.Duration
}

func (sw *slowWriter) Write(b []byte) (int, error) {
	const chunks = 8
	size := (len(b) + chunks - 1) / chunks
	if size < 1 {
		size = 1
	}
	step := sw.delay / chunks
	n := 0
	for off := 0; off < len(b); off += size {
		end := min(off+size, len(b))
		m, err := sw.ResponseWriter.Write(b[off:end])
		n += m
		if err != nil {
			return n, err
		}
		if f, ok := sw.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		if end < len(b) {
			t := time.NewTimer(step)
			select {
			case <-sw.ctx.Done():
				t.Stop()
				return n, sw.ctx.Err()
			case <-t.C:
			}
		}
	}
	return n, nil
}

// resetConn drops the connection without a reply (RST where the platform allows).
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	type lingerer interface{ SetLinger(int) error }
	if l, ok := conn.(lingerer); ok {
		_ = l.SetLinger(0)
	}
	_ = conn.Close()
}
