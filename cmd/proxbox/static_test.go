package main

import (
	"bufio"
	"debug/elf"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// buildBinary compiles the proxbox binary the way `make build` does, once
// per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "proxbox-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "proxbox")
		cmd := exec.Command("go", "build", "-trimpath", "-o", buildPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, b)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

func TestBinaryIsStatic(t *testing.T) {
	f, err := elf.Open(buildBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("binary has a dynamic loader (PT_INTERP): not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("binary needs shared libraries: %v", libs)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestRunsInEmptyRoot proves the binary needs nothing from the OS (the
// distroless image has no libc, no CA bundle, no shell, no curl): it serves
// HTTPS on its local CA inside an empty chroot, and its own healthcheck
// command passes there.
func TestRunsInEmptyRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root (CI runs as root)")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "proxbox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 {
		t.Fatalf("root is not empty: %v", entries)
	}
	port := freePort(t)
	env := []string{fmt.Sprintf("PORT=%d", port), "PROXBOX_BIND_HOST=127.0.0.1", "PROXBOX_DATA_DIR=/data", "PROXBOX_TLS=local"}
	srv := exec.Command("/proxbox", "serve")
	srv.Env = env
	srv.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	stderr, _ := srv.StderrPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	logs := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(bufio.NewReader(stderr))
		logs <- string(b)
	}()
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
		if t.Failed() {
			t.Log(<-logs)
		}
	}()

	var lastErr error
	for i := 0; i < 100; i++ { // wait for the listener (a readiness loop, not a timing assertion)
		hc := exec.Command("/proxbox", "healthcheck")
		hc.Env = env
		hc.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
		out, err := hc.CombinedOutput()
		if err == nil {
			if !strings.Contains(string(out), `"ready"`) {
				t.Fatalf("healthcheck output: %s", out)
			}
			lastErr = nil
			break
		}
		lastErr = fmt.Errorf("%v: %s", err, out)
		time.Sleep(100 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("healthcheck never passed in the empty root: %v", lastErr)
	}
	// The CA the binary made inside the chroot verifies its HTTPS from outside.
	pem, err := os.ReadFile(filepath.Join(root, "data", "ca", "rootCA.pem"))
	if err != nil {
		t.Fatal(err)
	}
	client := clientTrusting(t, pem)
	resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/health", port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health: %d", resp.StatusCode)
	}
}
