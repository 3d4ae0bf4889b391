// Command proxbox-bench measures proxbox's sync at scale with the simulators
// and the sync in separate processes (make bench, make bench-large): it
// starts `proxbox lab --scale N` as one process, registers the lab's
// endpoints in a fresh appliance store, and runs `proxbox sync --once
// --data-dir` three times as separate processes, as an operator's CLI or a
// restarted appliance does (the store keeps the memory of NetBox's refused
// writes between runs, as serve mode does): a first run, a steady run and a
// run after one memory change in Proxmox. Per run it prints wall time, CPU
// (user+sys) of the sync process and of the lab process, NetBox requests and
// writes and Proxmox requests (the sync's summary), refused objects, and the
// peak RSS of each process, as a markdown table.
//
// It is a development tool: it owns no behaviour of the appliance and
// touches nothing but the lab it starts and the data directory it makes.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/proxbox/proxbox/lab"
	"github.com/proxbox/proxbox/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "proxbox-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("proxbox-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("proxbox", "bin/proxbox", "the proxbox binary to measure")
	scales := fs.String("scale", "1000,10000", "guest counts, comma separated (one lab each)")
	latency := fs.String("netbox-latency", "2ms", "latency the NetBox simulator adds to every request")
	keep := fs.String("keep", "", "keep each lab's data directory and logs under this directory (default: a temporary one, removed)")
	labArgs := fs.String("lab-args", "", "extra flags for proxbox lab, space separated")
	syncEnv := fs.String("sync-env", "PROXBOX_BACKUP_BATCH_SIZE=200 PROXBOX_BACKUP_BATCH_DELAY_MS=0",
		"environment for proxbox sync, space separated KEY=VALUE (the default lifts the backup pacing: see docs/sync.md)")
	extra := fs.String("extra-steady-env", "", "after the three runs, one more steady run with this extra environment for proxbox sync (space separated KEY=VALUE, e.g. GOMEMLIMIT=1800MiB)")
	watchRun := fs.Bool("watch", false, "after the runs, run `proxbox sync --watch` (the appliance's watch: every endpoint synced fully, NetBox's state kept between change sets), change one guest and print its row with the RSS it keeps")
	pprofDir := fs.String("pprof", "", "directory for CPU and heap profiles of the lab and of each sync (needs a proxbox built with -tags pprof: make bench-pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root := *keep
	if root == "" {
		d, err := os.MkdirTemp("", "proxbox-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		root = d
	}
	fmt.Fprintf(stdout, "load average at start: %s; NetBox latency %s; sync environment: %s\n\n", loadavg(), *latency, *syncEnv)
	fmt.Fprintln(stdout, "| guests | run | wall | sync CPU | lab CPU | NetBox requests | NetBox writes | refused / known conflicts | errors | Proxmox requests | sync peak RSS | lab peak RSS |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range strings.Split(*scales, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("--scale %q: want guest counts such as 1000,10000", *scales)
		}
		b := &bench{bin: *bin, scale: n, latency: *latency, dir: filepath.Join(root, strconv.Itoa(n)),
			labArgs: strings.Fields(*labArgs), syncEnv: strings.Fields(*syncEnv), extraEnv: strings.Fields(*extra), watch: *watchRun, out: stdout}
		if *pprofDir != "" {
			abs, err := filepath.Abs(*pprofDir)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(abs, 0o700); err != nil {
				return err
			}
			b.env = []string{"PROXBOX_PPROF_DIR=" + abs}
		}
		if err := b.run(ctx); err != nil {
			return fmt.Errorf("%d guests: %w", n, err)
		}
	}
	fmt.Fprintf(stdout, "\nload average at end: %s\n", loadavg())
	return nil
}

// bench is one lab size.
type bench struct {
	bin, latency string
	scale        int
	dir          string
	labArgs      []string
	syncEnv      []string
	extraEnv     []string // a fourth, steady run with these added (--extra-steady-env)
	watch        bool     // then a watch run (--watch)
	env          []string // for both processes
	out          io.Writer

	lab  *exec.Cmd
	info lab.Info
}

func (b *bench) run(ctx context.Context) error {
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return err
	}
	if err := b.startLab(ctx); err != nil {
		return err
	}
	defer func() {
		_ = b.lab.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = b.lab.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = b.lab.Process.Kill()
			<-done
		}
	}()
	if err := b.seed(ctx); err != nil {
		return err
	}
	for _, kind := range []string{"first", "steady", "one change"} {
		if kind == "one change" {
			if err := b.change(ctx); err != nil {
				return err
			}
		}
		if err := b.syncOnce(ctx, kind, nil); err != nil {
			return err
		}
	}
	if len(b.extraEnv) > 0 {
		if err := b.syncOnce(ctx, "steady, "+strings.Join(b.extraEnv, " "), b.extraEnv); err != nil {
			return err
		}
	}
	if b.watch {
		return b.watchRun(ctx)
	}
	return nil
}

// watchLine is what `proxbox sync --watch --json` prints per applied change set.
type watchLine struct {
	summary
	Endpoint string   `json:"endpoint"`
	Full     bool     `json:"full"`
	Changes  []string `json:"changes"`
	DelayMS  int64    `json:"delay_ms"`
}

// watchRun runs `proxbox sync --watch --json` as its own process: it waits until every
// endpoint's full sync applied, changes one guest's memory, waits for that change set,
// then stops the process and prints its row (the full syncs and the change together: wall,
// CPU, requests, peak RSS) and the RSS it held once the change set applied, which is what
// the appliance keeps between changes (NetBox's state of every watched endpoint).
func (b *bench) watchRun(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, "sync", "--watch", "--json", "--data-dir", filepath.Join(b.dir, "data"))
	cmd.Env = append(append(append(os.Environ(), b.env...), b.syncEnv...), "PROXBOX_WATCH_INTERVAL=2s")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = time.Minute
	logf, err := os.Create(filepath.Join(b.dir, "sync-watch.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stderr = logf
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	labBefore, err := cpuOf(b.lab.Process.Pid)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start proxbox sync --watch: %w", err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	lines := make(chan watchLine)
	go func() {
		defer close(lines)
		r := bufio.NewReaderSize(pipe, 1<<20)
		for {
			raw, err := r.ReadBytes('\n')
			if err != nil {
				return
			}
			var l watchLine
			if json.Unmarshal(raw, &l) == nil {
				select {
				case lines <- l:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	var total watchLine
	errCount := 0
	next := func() (watchLine, error) {
		select {
		case l, ok := <-lines:
			if !ok {
				return l, fmt.Errorf("proxbox sync --watch stopped (see %s)", logf.Name())
			}
			total.NetBox.Requests += l.NetBox.Requests
			total.NetBox.Writes += l.NetBox.Writes
			total.Proxmox.Requests += l.Proxmox.Requests
			errCount += len(l.Errors) + l.ErrorsOmitted
			return l, nil
		case <-ctx.Done():
			return watchLine{}, fmt.Errorf("proxbox sync --watch: %w (see %s)", ctx.Err(), logf.Name())
		}
	}
	full := map[string]bool{}
	for len(full) < len(b.info.PVE) {
		l, err := next()
		if err != nil {
			return err
		}
		if l.Full {
			full[l.Endpoint] = true
		}
	}
	if err := b.change(ctx); err != nil {
		return err
	}
	var changed watchLine
	for len(changed.Changes) == 0 || changed.Full {
		if changed, err = next(); err != nil {
			return err
		}
	}
	kept := procKB(cmd.Process.Pid, "VmRSS:") * 1024
	wall := time.Since(start)
	labAfter, err := cpuOf(b.lab.Process.Pid)
	if err != nil {
		return err
	}
	cancel()
	_ = cmd.Wait()
	var syncCPU time.Duration
	var syncRSS int64
	if ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage); ru != nil {
		syncCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		syncRSS = ru.Maxrss * 1024 // kB on Linux
	}
	fmt.Fprintf(b.out, "| %s | watch: full syncs, then one change | %.1f s | %.1f s | %.1f s | %d | %d | - | %d | %d | %d MiB | %d MiB |\n",
		thousands(b.scale), wall.Seconds(), syncCPU.Seconds(), (labAfter - labBefore).Seconds(),
		total.NetBox.Requests, total.NetBox.Writes, errCount, total.Proxmox.Requests,
		syncRSS>>20, peakRSS(b.lab.Process.Pid)>>20)
	fmt.Fprintf(b.out, "\nwatch, %s guests: the change set (%v) made %d NetBox requests, %d writes, %d ms after the change; the process held %d MiB RSS once it applied\n\n",
		thousands(b.scale), changed.Changes, changed.NetBox.Requests, changed.NetBox.Writes, changed.DelayMS, kept>>20)
	return nil
}

// startLab starts `proxbox lab` on free ports and reads the JSON line it prints.
func (b *bench) startLab(ctx context.Context) error {
	args := append([]string{"lab", "--scale", strconv.Itoa(b.scale), "--seed", "1",
		"--pve-listen", "127.0.0.1:0", "--netbox-listen", "127.0.0.1:0", "--netbox-latency", b.latency}, b.labArgs...)
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Env = append(os.Environ(), b.env...)
	logf, err := os.Create(filepath.Join(b.dir, "lab.log"))
	if err != nil {
		return err
	}
	cmd.Stderr = logf
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s lab: %w", b.bin, err)
	}
	b.lab = cmd
	line, err := bufio.NewReader(pipe).ReadBytes('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return fmt.Errorf("proxbox lab printed no JSON line (see %s): %w", logf.Name(), err)
	}
	if err := json.Unmarshal(line, &b.info); err != nil || b.info.NetBox == nil || len(b.info.PVE) == 0 {
		_ = cmd.Process.Kill()
		return fmt.Errorf("proxbox lab printed %q: %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, pipe) }()
	return nil
}

// seed creates what an operator has before the first sync: the plugin's
// ProxmoxEndpoint row per endpoint in NetBox (as a user of netbox-proxbox
// 0.0.24 makes it) and the endpoints in the appliance's store.
func (b *bench) seed(ctx context.Context) error {
	nb := b.info.NetBox
	var ip struct{ ID int64 }
	if err := b.netbox(ctx, "/api/ipam/ip-addresses/", map[string]any{"address": "127.0.0.1/32"}, &ip); err != nil {
		return err
	}
	st, err := store.Open(ctx, filepath.Join(b.dir, "data"), store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.CreateNetBoxEndpoint(ctx, store.NetBoxEndpoint{Name: "bench NetBox", IPAddress: nb.Host, Port: nb.Port,
		TokenVersion: "v1", Token: store.Secret(nb.Token), VerifySSL: nb.TLS}); err != nil {
		return err
	}
	for _, p := range b.info.PVE {
		user, token, _ := strings.Cut(p.TokenID, "!")
		row := map[string]any{"name": p.Name, "ip_address": ip.ID, "port": p.Port, "mode": "cluster", "username": user}
		var made struct{ ID int64 }
		if err := b.netbox(ctx, "/api/plugins/proxbox/endpoints/proxmox/", row, &made); err != nil {
			return err
		}
		// The name the plugin pushes ("<name> (nb:<pk>)"): the lab's endpoints share
		// one host, so the plugin row is found by its pk, not by host.
		name := fmt.Sprintf("%s (nb:%d)", p.Name, made.ID)
		if _, err := st.CreateProxmoxEndpoint(ctx, store.ProxmoxEndpoint{Name: name, IPAddress: p.Host, Port: p.Port,
			Username: user, TokenName: token, TokenValue: store.Secret(p.TokenSecret)}); err != nil {
			return err
		}
	}
	return nil
}

// netbox POSTs body to the NetBox simulator.
func (b *bench) netbox(ctx context.Context, path string, body, out any) error {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.info.NetBox.URL+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Token "+b.info.NetBox.Token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return do(req, out)
}

// change sets the memory of the first guest of the first Proxmox endpoint
// (POST /_lab/mutate), as an operator's `qm set --memory` would.
func (b *bench) change(ctx context.Context) error {
	p := b.info.PVE[0]
	auth := "PVEAPIToken=" + p.TokenID + "=" + p.TokenSecret
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/api2/json/cluster/resources?type=vm", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", auth)
	var res struct {
		Data []struct {
			VMID   int `json:"vmid"`
			MaxMem int `json:"maxmem"`
		} `json:"data"`
	}
	if err := do(req, &res); err != nil {
		return err
	}
	if len(res.Data) == 0 {
		return errors.New("the first Proxmox endpoint has no guest to change")
	}
	g := res.Data[0]
	mem := g.MaxMem>>20 + 512
	raw, _ := json.Marshal(map[string]int{"vmid": g.VMID, "memory": mem})
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/_lab/mutate", bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	return do(req, nil)
}

// insecure trusts the lab's self-signed Proxmox certificates (it is on loopback).
var insecure = &http.Client{Timeout: time.Minute, Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}}} //nolint:gosec // the bench's own lab

func do(req *http.Request, out any) error {
	resp, err := insecure.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<26))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(raw))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

// summary is the part of `proxbox sync --once --json` the table shows.
type summary struct {
	OK     bool `json:"ok"`
	NetBox struct {
		Requests int64 `json:"requests"`
		Writes   int64 `json:"writes"`
	} `json:"netbox"`
	Proxmox struct {
		Requests int64 `json:"requests"`
	} `json:"proxmox"`
	Objects map[string]struct {
		Created, Unchanged, Failed, Skipped int
	} `json:"objects"`
	Errors          []string `json:"errors"`
	ErrorsOmitted   int      `json:"errors_omitted"`
	Warnings        []string `json:"warnings"`
	WarningsOmitted int      `json:"warnings_omitted"`
}

// syncOnce runs `proxbox sync --once` as its own process and prints its row.
func (b *bench) syncOnce(ctx context.Context, kind string, extra []string) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, b.bin, "sync", "--once", "--json", "--data-dir", filepath.Join(b.dir, "data"))
	cmd.Env = append(append(append(os.Environ(), b.env...), b.syncEnv...), extra...)
	cmd.Stdout = &out
	logf, err := os.Create(filepath.Join(b.dir, "sync-"+fileName(kind)+".log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stderr = logf
	labBefore, err := cpuOf(b.lab.Process.Pid)
	if err != nil {
		return err
	}
	start := time.Now()
	runErr := cmd.Run()
	wall := time.Since(start)
	labAfter, err := cpuOf(b.lab.Process.Pid)
	if err != nil {
		return err
	}
	if cmd.ProcessState == nil {
		return fmt.Errorf("proxbox sync: %w", runErr)
	}
	var s summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		return fmt.Errorf("proxbox sync (%v) printed no summary (see %s): %w", runErr, logf.Name(), err)
	}
	_ = os.WriteFile(filepath.Join(b.dir, "sync-"+fileName(kind)+".json"), out.Bytes(), 0o600)
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	var syncCPU time.Duration
	var syncRSS int64
	if ru != nil {
		syncCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		syncRSS = ru.Maxrss * 1024 // kB on Linux
	}
	// Objects NetBox refused in this run (failed), and earlier refusals not
	// sent again ("known conflict" warnings; sync.Refusals).
	failed, known := 0, 0
	for _, c := range s.Objects {
		failed += c.Failed
	}
	for _, w := range s.Warnings {
		if strings.Contains(w, "known conflict, unchanged since") {
			known++
		}
	}
	knownText := strconv.Itoa(known)
	if s.WarningsOmitted > 0 {
		knownText += "+" // some warnings were left out of the summary
	}
	fmt.Fprintf(b.out, "| %s | %s | %.1f s | %.1f s | %.1f s | %d | %d | %d / %s | %d | %d | %d MiB | %d MiB |\n",
		thousands(b.scale), kind, wall.Seconds(), syncCPU.Seconds(), (labAfter - labBefore).Seconds(),
		s.NetBox.Requests, s.NetBox.Writes, failed, knownText, len(s.Errors)+s.ErrorsOmitted, s.Proxmox.Requests,
		syncRSS>>20, peakRSS(b.lab.Process.Pid)>>20)
	return nil
}

// cpuOf is the user+system CPU a running process has used (/proc/PID/stat).
func cpuOf(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("lab process: %w", err)
	}
	// The command name (field 2) may hold spaces: count from its closing parenthesis.
	i := bytes.LastIndexByte(raw, ')')
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // utime, field 14
	st, _ := strconv.ParseInt(f[12], 10, 64) // stime, field 15
	const hz = 100                           // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, nil
}

// peakRSS is a running process's peak resident set size in bytes (VmHWM).
func peakRSS(pid int) int64 { return procKB(pid, "VmHWM:") * 1024 }

// procKB reads a kB figure of /proc/PID/status (VmHWM:, VmRSS:); 0 when it cannot.
func procKB(pid int, field string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

func loadavg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ") + " (1, 5, 15 min)"
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// fileName turns a run's kind into a file name part.
func fileName(kind string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == ',' || r == '=' || r == '/' {
			return '-'
		}
		return r
	}, kind)
}
