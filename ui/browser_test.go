package ui

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/proxbox/proxbox/store"
)

const chromiumPath = "/usr/bin/chromium"

// screenshotDir is where the browser test saves its screenshots
// (PROXBOX_SCREENSHOT_DIR, default <tmp>/proxbox-ui-screenshots).
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("PROXBOX_SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "proxbox-ui-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBrowserFirstRunSignInSyncAndCacheTuning drives Debian's chromium
// through the first-run setup, sign-out and sign-in, a live sync and a cache
// tuning, checks that no request leaves the page's origin, and saves
// screenshots of the overview and cache pages in light and dark.
func TestBrowserFirstRunSignInSyncAndCacheTuning(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser test skipped: %s is missing (apt-get install chromium)", chromiumPath)
	}
	e := newEnv(t, func(d *Deps) { d.Now = steppingClock() })
	if _, err := e.st.CreateProxmoxEndpoint(context.Background(), store.ProxmoxEndpoint{Name: "pve-lab", IPAddress: "10.0.0.5", Port: 8006, Username: "root@pam", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1200, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	var mu sync.Mutex
	var foreign []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if r, ok := ev.(*network.EventRequestWillBeSent); ok {
			u := r.Request.URL
			if !strings.HasPrefix(u, e.srv.URL+"/") && !strings.HasPrefix(u, "data:") {
				mu.Lock()
				foreign = append(foreign, u)
				mu.Unlock()
			}
		}
	}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if err := chromedp.Do(ctx, call(network.Enable, network.EnableParams{})); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// The browser lives as long as ctx; the steps get a deadline.
	bctx := ctx
	ctx, cancelT := context.WithTimeout(bctx, 90*time.Second)
	defer cancelT()
	dir := screenshotDir(t)
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			buf, err := chromedp.FullScreenshot(100)(ctx, t)
			if err != nil {
				return chromedp.Void{}, err
			}
			return chromedp.Void{}, os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
		}
	}
	fail := func(step string, err error) {
		t.Helper()
		_ = chromedp.Do(bctx, shot("failed-"+strings.ReplaceAll(step, " ", "-")))
		t.Fatalf("%s: %v (screenshot in %s)", step, err, dir)
	}

	// First run: setup creates the key and shows it once.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.url("/ui/")),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="setup-form"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="setup-form"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-key-value"]`)),
		shot("setup-key-shown"),
	); err != nil {
		fail("first-run setup", err)
	}
	key, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`[data-testid="new-key-value"]`)))
	if err != nil {
		fail("read key", err)
	}
	if len(key) != 64 {
		t.Fatalf("key %q", key)
	}
	// Sign out, sign in again with the key.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`[data-testid="signout"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signin-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#key`), key),
		chromedp.Submit(chromedp.CSS(`#key`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="last-run"]`)),
	); err != nil {
		fail("sign in", err)
	}
	// A live sync: start it, let the engine report, see every stage done.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.url("/ui/sync")),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sync-start"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="sync-start"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="run-progress"][data-live="true"]`)),
	); err != nil {
		fail("start sync", err)
	}
	runs := mustRuns(t, e.st)
	id := runs[0].ID
	feed := e.sync.feed(id)
	feed <- SyncEvent{Type: EventStageStarted, Stage: "devices"}
	feed <- SyncEvent{Type: EventItem, Stage: "devices", Object: "node pve1", Counts: StageCounts{Total: 3, Created: 1}}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`[data-testid="current-item"]`)), shot("sync-running")); err != nil {
		fail("live progress", err)
	}
	now := time.Now()
	for _, st := range []string{"devices", "virtual-machines"} {
		c, _ := json.Marshal(map[string]int{"created": 3, "updated": 1, "unchanged": 5, "failed": 0})
		_ = e.st.AddStageResult(context.Background(), id, store.StageResult{Stage: st, StartedAt: now, FinishedAt: now.Add(time.Second), OK: true, Counts: c})
		feed <- SyncEvent{Type: EventStageFinished, Stage: st, Counts: StageCounts{Created: 3, Updated: 1, Unchanged: 5}}
	}
	_ = e.st.FinishRun(context.Background(), id, now.Add(2*time.Second), "ok", json.RawMessage(`{"netbox":{"requests":12,"writes":4}}`), "")
	feed <- SyncEvent{Type: EventRunFinished, Status: "ok"}
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="run-progress"][data-live="false"]`)),
		shot("sync-done"),
	); err != nil {
		fail("sync done", err)
	}
	// The finished run is a summary: one matrix row per stage, no progress bar.
	stages, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('[data-testid="run-matrix"] tbody tr')).map(r => r.dataset.stage + ":" + Array.from(r.querySelectorAll('[data-testid="matrix-cell"]')).map(c => [c.dataset.created, c.dataset.updated, c.dataset.deleted, c.dataset.failed].join("/")).join(","))`))
	if err != nil {
		fail("read stages", err)
	}
	if len(stages) != 2 || stages[0] != "devices:3/1/0/0" || stages[1] != "virtual-machines:3/1/0/0" {
		t.Fatalf("matrix rows %q", stages)
	}
	if bars, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#run-progress progress').length`)); bars != 0 {
		t.Fatalf("%d progress bars on a finished run", bars)
	}
	// Tune the cache TTL; the cache and the metrics report it.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.url("/ui/cache")),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="cache-form"]`)),
		chromedp.SetValue(chromedp.CSS(`#ttl_seconds`), "42"),
		chromedp.Click(chromedp.CSS(`[data-testid="cache-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	); err != nil {
		fail("cache tuning", err)
	}
	ttl, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="ttl"]`)))
	if err != nil {
		fail("read ttl", err)
	}
	if got := e.cache.Limits().TTL; got != 42*time.Second || strings.TrimSpace(ttl) != "42 s" {
		t.Fatalf("after tuning: cache TTL %v, page %q", got, ttl)
	}
	// An invalid value shows its message and changes nothing.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#max_bytes`), "10"),
		chromedp.Click(chromedp.CSS(`[data-testid="cache-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#max_bytes-error`)),
	); err != nil {
		fail("cache validation", err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#max_bytes-error`)))
	if err != nil {
		fail("read message", err)
	}
	if !strings.Contains(msg, "1024") || e.cache.Limits().MaxBytes != 52428800 {
		t.Fatalf("validation message %q, max bytes %d", msg, e.cache.Limits().MaxBytes)
	}
	// Screenshots, light and dark, desktop and phone width.
	e.dash.takeCacheSample()
	e.dash.takeCacheSample()
	for _, scheme := range []string{"light", "dark"} {
		if err := chromedp.Do(ctx,
			call(emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}),
			chromedp.Navigate(e.url("/ui/")), chromedp.WaitVisible(chromedp.CSS(`[data-testid="last-run"]`)), shot("overview-"+scheme),
			chromedp.Navigate(e.url("/ui/cache")), chromedp.WaitVisible(chromedp.CSS(`[data-testid="cache-chart"]`)), shot("cache-"+scheme),
			chromedp.Navigate(e.url("/ui/history")), chromedp.WaitVisible(chromedp.CSS(`[data-testid="runs-chart"]`)), shot("history-"+scheme),
		); err != nil {
			fail("screenshots "+scheme, err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(e.url("/ui/")), chromedp.WaitVisible(chromedp.CSS(`[data-testid="last-run"]`)), shot("overview-phone")); err != nil {
		fail("phone screenshot", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(foreign) > 0 {
		t.Fatalf("the page made requests outside its origin: %q", foreign)
	}
}

// call runs one DevTools command as a chromedp action.
func call[P any](c cdp.Command[P, cdp.Empty], p P) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, c, p)
		return chromedp.Void{}, err
	}
}
