package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxbox/proxbox/lab"
	pvelab "github.com/proxbox/proxbox/lab/pve"
)

func outLines(l *lockedBuffer) []string { return strings.Split(strings.TrimSpace(l.String()), "\n") }

// `proxbox sync --watch --json` syncs fully, then prints one summary line
// per change set, and ends on interrupt.
func TestSyncWatchInlineJSON(t *testing.T) {
	t.Setenv("PROXBOX_WATCH_INTERVAL", "1s")
	l := startLab(t)
	args := inlineArgs(l, "--json")
	args[1] = "--watch"
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	var errOut bytes.Buffer
	done := make(chan int)
	go func() { done <- run(ctx, args, &out, &errOut) }()
	// waitLine waits for line n (the watch polls every second; the bound
	// only keeps a broken build from hanging).
	waitLine := func(n int) map[string]any {
		t.Helper()
		for i := 0; i < 600; i++ {
			if ls := outLines(&out); len(ls) >= n && ls[n-1] != "" {
				var m map[string]any
				if err := json.Unmarshal([]byte(ls[n-1]), &m); err != nil {
					t.Fatalf("line %d is not JSON: %v %q", n, err, ls[n-1])
				}
				return m
			}
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
		t.Fatalf("no line %d: %q %s", n, outLines(&out), errOut.String())
		return nil
	}
	first := waitLine(1)
	if first["trigger"] != "watch" || first["full"] != true || first["ok"] != true {
		t.Fatalf("first line: %v", first)
	}
	if err := l.PVE[0].Mutate(pvelab.Mutation{VMID: 101, Memory: 6144}); err != nil {
		t.Fatal(err)
	}
	second := waitLine(2)
	changes, _ := second["changes"].([]any)
	nb, _ := second["netbox"].(map[string]any)
	if second["full"] != false || second["ok"] != true || !strings.Contains(jsonText(changes), "qemu/101") || nb["writes"].(float64) < 1 {
		t.Fatalf("change line: %v", second)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d after interrupt: %s", code, errOut.String())
	}
}

func jsonText(v any) string { b, _ := json.Marshal(v); return string(b) }

// sync --watch with inline endpoints and --state saves the writes NetBox refused after
// every applied batch, so a later run (watch or once) does not send them again.
func TestSyncWatchInlineSavesRefusals(t *testing.T) {
	t.Setenv("PROXBOX_DATA_DIR", "")
	t.Setenv("PROXBOX_WATCH_INTERVAL", "1s")
	_, args := generatedLabArgs(t, lab.Config{Scale: 20, Seed: 1, SharedRange: true})
	state := filepath.Join(t.TempDir(), "state.json")
	watchArgs := append(append([]string{}, args...), "--state", state)
	watchArgs[1] = "--watch"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lockedBuffer
	var errOut bytes.Buffer
	done := make(chan int)
	go func() { done <- run(ctx, watchArgs, &out, &errOut) }()
	// One line per endpoint's first full sync; the bound only keeps a broken build from hanging.
	for i := 0; i < 600 && len(outLines(&out)) < 3; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("watch exit %d: %s", code, errOut.String())
	}
	b, err := os.ReadFile(state)
	if err != nil || !strings.Contains(string(b), "is held by") {
		t.Fatalf("the watch saved no refused write in %s (%v): %s\nwatch output: %s", state, err, b, out.String())
	}
	var o, e bytes.Buffer
	code := run(context.Background(), append(append([]string{}, args...), "--state", state), &o, &e)
	var s syncJSON
	if err := json.Unmarshal(o.Bytes(), &s); err != nil {
		t.Fatalf("exit %d: %v: %s", code, err, e.String())
	}
	if code != 0 || s.NetBox.Writes != 0 || len(s.Errors) != 0 {
		t.Fatalf("sync --once after the watch: exit %d, %d writes, errors %v", code, s.NetBox.Writes, s.Errors)
	}
}
