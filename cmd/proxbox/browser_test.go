package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/proxbox/proxbox/lab/pve"
)

const chromiumPath = "/usr/bin/chromium"

// lockedBuffer collects the demo's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// demoBanner is what the test reads from `proxbox demo`'s banner.
type demoBanner struct {
	base, link, key, ca, pveURL string
	runID                       string
}

func parseBanner(out string) (demoBanner, bool) {
	if !strings.Contains(out, "Stop with Ctrl-C") {
		return demoBanner{}, false
	}
	var b demoBanner
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 2 && f[0] == "Appliance:":
			b.base = f[1]
		case len(f) >= 3 && f[0] == "Sign" && f[1] == "in:":
			b.link = f[2]
		case len(f) >= 3 && f[0] == "Admin" && f[1] == "key:":
			b.key = f[2]
		case len(f) >= 3 && f[0] == "Local" && f[1] == "CA:":
			b.ca = f[2]
		case len(f) >= 4 && f[0] == "Proxmox" && f[1] == "lab:" && b.pveURL == "":
			b.pveURL = f[3]
		case len(f) >= 5 && f[0] == "A" && f[1] == "first" && f[2] == "sync":
			b.runID = strings.TrimSuffix(strings.TrimPrefix(f[4], "#"), ")")
		}
	}
	return b, b.base != "" && b.link != "" && b.key != "" && b.pveURL != ""
}

// TestBrowserOnDemo runs `proxbox demo` in-process (TLS on its local CA,
// as a user gets it) and drives Debian's chromium through it: the one-time
// sign-in link, the demo's first sync and a new one to every stage done
// with counts, a cache TTL change that /cache reports, a new Proxmox
// endpoint tested against the lab, the pages in Portuguese, and sign-out.
// No request may leave the appliance's origin. Every step saves a
// screenshot in $PROXBOX_SCREENSHOT_DIR (default /tmp/proxbox-ui/); a failed
// step saves failed-<step>.png.
//
// Chromium is started with --ignore-certificate-errors rather than with
// PROXBOX_TLS=off: the demo's real mode is HTTPS, and the session cookie is
// Secure there, which plain HTTP would not exercise.
func TestBrowserOnDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser test skipped: %s is missing (apt-get install chromium)", chromiumPath)
	}
	dir := os.Getenv("PROXBOX_SCREENSHOT_DIR")
	if dir == "" {
		dir = "/tmp/proxbox-ui"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	// The demo, in-process.
	var stdout, stderr lockedBuffer
	dctx, stopDemo := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runDemo(dctx, []string{"--data-dir", t.TempDir(), "--bind", "127.0.0.1", "--port", strconv.Itoa(freePort(t)),
			"--tls", "local", "--scale", "12"}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		stopDemo()
		if err := <-done; err != nil {
			t.Errorf("demo stopped with %v", err)
		}
	})
	var banner demoBanner
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var ok bool
		if banner, ok = parseBanner(stdout.String()); ok {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("demo ended before its banner: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no demo banner; output:\n%s\nlog:\n%s", stdout.String(), stderr.String())
		}
	}
	if !strings.HasPrefix(banner.link, banner.base+"/ui/signin/link/") {
		t.Fatalf("banner link %q is not a one-time link of %s", banner.link, banner.base)
	}
	caPEM, err := os.ReadFile(banner.ca)
	if err != nil {
		t.Fatalf("read the demo's CA from the banner: %v", err)
	}
	api := clientTrusting(t, caPEM)

	// The browser.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	var mu sync.Mutex
	var foreign []string
	if err := chromedp.Listen(bctx, func(ev any) {
		if r, ok := ev.(*network.EventRequestWillBeSent); ok {
			u := r.Request.URL
			if !strings.HasPrefix(u, banner.base+"/") && !strings.HasPrefix(u, "data:") {
				mu.Lock()
				foreign = append(foreign, u)
				mu.Unlock()
			}
		}
	}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if err := chromedp.Do(bctx, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		return chromedp.Void{}, err
	}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(bctx, 4*time.Minute)
	defer cancelT()
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return chromedp.Void{}, err
			}
			return chromedp.Void{}, os.WriteFile(filepath.Join(dir, "demo-"+name+".png"), buf, 0o644)
		}
	}
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, append(actions, shot(name))...); err != nil {
			sctx, cancel := context.WithTimeout(bctx, 10*time.Second)
			defer cancel()
			_ = chromedp.Do(sctx, shot("failed-"+name))
			t.Fatalf("step %s: %v (screenshot %s)\nlog tail:\n%s", name, err, filepath.Join(dir, "demo-failed-"+name+".png"), tail(stderr.String(), 30))
		}
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	u := func(p string) string { return banner.base + p }

	// 1. The one-time link opens the overview, signed in.
	step("1-signed-in-by-link",
		chromedp.Navigate(banner.link),
		chromedp.WaitVisible(css(`[data-testid="last-run"]`)),
	)

	// 2. The demo's first sync reaches its end; then a new full sync from
	// the Sync page runs every stage to done, with counts.
	step("2-first-sync-done",
		chromedp.Navigate(u("/ui/sync/"+banner.runID)),
		chromedp.WaitVisible(css(`[data-testid="run-progress"][data-live="false"]`)),
	)
	step("3-sync-page",
		chromedp.Navigate(u("/ui/sync")),
		chromedp.WaitVisible(css(`[data-testid="sync-start"]`)),
	)
	stages, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('[data-testid="sync-stage"] option')).map(o => o.value).filter(v => v !== "all")`))
	if err != nil || len(stages) == 0 {
		t.Fatalf("stages offered on the Sync page: %q, %v", stages, err)
	}
	step("4-sync-done",
		chromedp.Click(css(`[data-testid="sync-start"]`)),
		chromedp.WaitVisible(css(`[data-testid="run-progress"]`)),
		chromedp.WaitVisible(css(`[data-testid="run-progress"][data-live="false"]`)),
	)
	type stageSeen struct{ Name, State, Counts string }
	seen, err := chromedp.Run(ctx, chromedp.Evaluate[[]stageSeen](`Array.from(document.querySelectorAll('[data-testid="stage"]')).map(e => ({Name: e.dataset.stage, State: e.dataset.state, Counts: e.querySelector('[data-testid="stage-counts"]').textContent.trim().replace(/\s+/g, " ")}))`))
	if err != nil {
		t.Fatalf("read stages: %v", err)
	}
	status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid="run-progress"] [data-testid="run-status"]').dataset.status`))
	if status != "ok" {
		t.Errorf("run status %q after the run ended, want ok", status)
	}
	digits := regexp.MustCompile(`\d+`)
	var names []string
	total := 0
	for _, s := range seen {
		names = append(names, s.Name)
		n := digits.FindAllString(s.Counts, -1)
		if s.State != "done" || len(n) != 4 {
			t.Errorf("stage %s: state %q, counts %q; want done with created, updated, unchanged and failed", s.Name, s.State, s.Counts)
		}
		for _, x := range n {
			v, _ := strconv.Atoi(x)
			total += v
		}
	}
	for _, s := range stages {
		if !slices.ContainsFunc(names, func(n string) bool { return n == s || strings.HasSuffix(n, ": "+s) }) {
			t.Errorf("stage %s never showed on the run page (saw %q, run status %q)", s, names, status)
		}
	}
	if total == 0 {
		t.Errorf("every stage counted zero objects: %+v", seen)
	}

	// 3. Cache TTL from the dashboard; /cache (JSON, admin key) reports it.
	step("5-cache-tuned",
		chromedp.Navigate(u("/ui/cache")),
		chromedp.WaitVisible(css(`[data-testid="cache-form"]`)),
		chromedp.SetValue(css(`#ttl_seconds`), "42"),
		chromedp.Click(css(`[data-testid="cache-save"]`)),
		chromedp.WaitVisible(css(`[data-testid="flash"]`)),
	)
	req, _ := http.NewRequest(http.MethodGet, u("/cache"), nil)
	req.Header.Set("X-Proxbox-API-Key", banner.key)
	resp, err := api.Do(req)
	if err != nil {
		t.Fatalf("GET /cache: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var cache struct {
		Metrics map[string]any `json:"netbox_get_cache_metrics"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &cache) != nil || cache.Metrics["ttl_seconds"] != 42.0 {
		t.Fatalf("GET /cache after setting the TTL to 42 s: %d %s", resp.StatusCode, body)
	}

	// 4. A new Proxmox endpoint on the lab's simulator, and its connection
	// test.
	pu, err := url.Parse(banner.pveURL)
	if err != nil {
		t.Fatalf("lab Proxmox URL %q: %v", banner.pveURL, err)
	}
	id, secret, _ := strings.Cut(pve.DefaultToken, "=")
	user, tokenName, _ := cutToken(id)
	step("6-endpoint-added",
		chromedp.Navigate(u("/ui/endpoints/proxmox/new")),
		chromedp.WaitVisible(css(`[data-testid="endpoint-form"]`)),
		chromedp.SetValue(css(`#name`), "Browser PVE"),
		chromedp.SetValue(css(`#ip_address`), pu.Hostname()),
		chromedp.SetValue(css(`#port`), pu.Port()),
		chromedp.SetValue(css(`#username`), user),
		chromedp.SetValue(css(`#token_name`), tokenName),
		chromedp.SendKeys(css(`#token_value`), secret),
		chromedp.Click(css(`input[name="verify_ssl"]`)),
		chromedp.Click(css(`[data-testid="endpoint-save"]`)),
		chromedp.WaitVisible(css(`[data-testid="endpoint-test"]`)),
	)
	step("7-endpoint-tested",
		chromedp.Click(css(`[data-testid="endpoint-test"]`)),
		chromedp.WaitVisible(css(`[data-testid="test-result"]`)),
	)
	res, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('[data-testid="test-result"] [data-testid="probe-result"]')).map(e => e.className + "|" + e.textContent.trim())`))
	if err != nil || len(res) != 1 || !strings.HasPrefix(res[0], "pbx-ok|") {
		t.Fatalf("connection test of the lab endpoint: %q, %v", res, err)
	}

	// 5. The same pages in Brazilian Portuguese, by the switch.
	step("8-pt-overview",
		chromedp.Navigate(u("/ui/")),
		chromedp.WaitVisible(css(`[data-testid="lang-pt-BR"]`)),
		chromedp.Click(css(`[data-testid="lang-pt-BR"]`)),
		chromedp.WaitVisible(css(`html[lang="pt-BR"] [data-testid="last-run"]`)),
	)
	step("9-pt-sync-run", chromedp.Navigate(u("/ui/sync/"+banner.runID)), chromedp.WaitVisible(css(`html[lang="pt-BR"] [data-testid="run-progress"][data-live="false"]`)))
	step("10-pt-cache", chromedp.Navigate(u("/ui/cache")), chromedp.WaitVisible(css(`html[lang="pt-BR"] [data-testid="cache-form"]`)))
	step("11-pt-endpoints", chromedp.Navigate(u("/ui/endpoints")), chromedp.WaitVisible(css(`html[lang="pt-BR"] [data-testid="add-proxmox"]`)))
	step("12-pt-history", chromedp.Navigate(u("/ui/history")), chromedp.WaitVisible(css(`html[lang="pt-BR"] [data-testid="history-run"]`)))
	step("13-back-to-english",
		chromedp.Click(css(`[data-testid="lang-en"]`)),
		chromedp.WaitVisible(css(`html[lang="en"] [data-testid="runs-chart"]`)),
	)

	// 6. Sign out; the used link does not sign in again.
	step("14-signed-out",
		chromedp.Click(css(`[data-testid="signout"]`)),
		chromedp.WaitVisible(css(`[data-testid="signin-form"]`)),
	)
	step("15-link-used",
		chromedp.Navigate(banner.link),
		chromedp.WaitVisible(css(`[data-testid="signin-form"] #key-error`)),
	)

	mu.Lock()
	defer mu.Unlock()
	if len(foreign) > 0 {
		t.Fatalf("the page made requests outside %s: %q", banner.base, foreign)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
