package ui

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/proxbox/proxbox/netbox/getcache"
	"github.com/proxbox/proxbox/store"
)

// fakeSync is a Syncer whose runs the test drives by hand.
type fakeSync struct {
	st *store.Store
	mu sync.Mutex
	// started records requests; chans holds the live runs' event feeds.
	started   []SyncRequest
	chans     map[int64]chan SyncEvent
	cancelled []int64
}

func (f *fakeSync) Stages() []string { return []string{"devices", "virtual-machines"} }

func (f *fakeSync) Start(ctx context.Context, req SyncRequest) (int64, error) {
	id, err := f.st.StartRun(ctx, store.Run{StartedAt: time.Now(), Trigger: req.Trigger, Scope: "all", DryRun: req.DryRun})
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, req)
	if f.chans == nil {
		f.chans = map[int64]chan SyncEvent{}
	}
	f.chans[id] = make(chan SyncEvent, 64)
	return id, nil
}

func (f *fakeSync) Events(id int64) (<-chan SyncEvent, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch, ok := f.chans[id]
	if !ok {
		return nil, func() {}
	}
	return ch, func() {}
}

func (f *fakeSync) Cancel(id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.chans[id]; !ok {
		return errors.New("run is not running")
	}
	f.cancelled = append(f.cancelled, id)
	return nil
}

func (f *fakeSync) feed(id int64) chan SyncEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.chans[id]
}

type fakeTester struct{}

func (fakeTester) TestProxmox(ctx context.Context, e store.ProxmoxEndpoint) (string, error) {
	if e.Name == "down" {
		return "", errors.New("connection refused")
	}
	return "8.3.2", nil
}

func (fakeTester) TestNetBox(ctx context.Context, e store.NetBoxEndpoint) (string, error) {
	return "4.3.0", nil
}

type env struct {
	t     *testing.T
	st    *store.Store
	cache *getcache.Cache
	sync  *fakeSync
	srv   *httptest.Server
	c     *http.Client
	dash  *Dashboard
}

// newEnv starts the dashboard on a test server. With key set, an admin key
// exists (returned in env.key via signIn).
func newEnv(t *testing.T, mod func(*Deps)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cache := getcache.New(getcache.Config{Limits: getcache.DefaultLimits()})
	t.Cleanup(cache.Close)
	fs := &fakeSync{st: st}
	d := Deps{Store: st, Cache: cache, CacheDefaults: getcache.DefaultLimits(), Sync: fs, Tester: fakeTester{}, Version: "test", Commit: "abc"}
	if mod != nil {
		mod(&d)
	}
	h, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := &http.Client{Jar: newJar(), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &env{t: t, st: st, cache: cache, sync: fs, srv: srv, c: c, dash: h}
}

func newJar() http.CookieJar {
	jar, _ := cookiejar.New(nil)
	return jar
}

func (e *env) url(p string) string { return e.srv.URL + p }

// get fetches p and parses it.
func (e *env) get(p string) (*http.Response, *goquery.Document) {
	e.t.Helper()
	resp, err := e.c.Get(e.url(p))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, doc
}

// post submits a form as the browser would (same-origin headers).
func (e *env) post(p string, form url.Values) (*http.Response, *goquery.Document, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url(p), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := e.c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(body)))
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, doc, string(body)
}

// csrfOf returns the CSRF token of the page p.
func (e *env) csrfOf(p string) string {
	e.t.Helper()
	_, doc := e.get(p)
	tok, ok := doc.Find(`input[name="_csrf"]`).First().Attr("value")
	if !ok || tok == "" {
		e.t.Fatalf("no CSRF token on %s", p)
	}
	return tok
}

// addKey registers a key directly in the store and returns it.
func (e *env) addKey(label string) string {
	e.t.Helper()
	raw, err := store.NewRawKey()
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.st.CreateKey(context.Background(), label, raw); err != nil {
		e.t.Fatal(err)
	}
	return raw
}

// signIn creates a key (when none is given) and signs in with it.
func (e *env) signIn(raw string) string {
	e.t.Helper()
	if raw == "" {
		raw = e.addKey("admin")
	}
	tok := e.csrfOf("/ui/signin")
	resp, _, body := e.post("/ui/signin", url.Values{"_csrf": {tok}, "key": {raw}})
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign in: status %d: %s", resp.StatusCode, body)
	}
	return raw
}

func text(doc *goquery.Document, sel string) string {
	return strings.Join(strings.Fields(doc.Find(sel).Text()), " ")
}

// steppingClock advances 3 s on every reading, so rate-limited samples
// (the cache chart) accumulate without waiting.
func steppingClock() func() time.Time {
	var mu sync.Mutex
	t := time.Now()
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(3 * time.Second)
		return t
	}
}
