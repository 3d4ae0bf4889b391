//go:build pprof

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"
)

// A binary built with -tags pprof (make bench-pprof; never a release)
// writes a CPU profile and, at exit, a heap profile of every command into
// $PROXBOX_PPROF_DIR: <command>-<pid>-<time>.cpu.pprof and .heap.pprof,
// and .peakheap.pprof, the heap at its largest live size.
func init() {
	dir := os.Getenv("PROXBOX_PPROF_DIR")
	if dir == "" {
		return
	}
	cmd := "proxbox"
	if len(os.Args) > 1 {
		cmd = strings.TrimLeft(os.Args[1], "-")
	}
	base := filepath.Join(dir, fmt.Sprintf("%s-%d-%d", cmd, os.Getpid(), time.Now().Unix()))
	f, err := os.Create(base + ".cpu.pprof")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pprof:", err)
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "pprof:", err)
		return
	}
	stop := make(chan struct{})
	go peakHeap(base+".peakheap.pprof", stop)
	atExit = append(atExit, func() {
		close(stop)
		pprof.StopCPUProfile()
		f.Close()
		h, err := os.Create(base + ".heap.pprof")
		if err != nil {
			return
		}
		runtime.GC()
		_ = pprof.WriteHeapProfile(h)
		h.Close()
	})
}

// peakHeap writes a heap profile each time the live heap (after a GC) is
// larger than at every earlier check: the profile of the peak.
func peakHeap(path string, stop <-chan struct{}) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var peak uint64
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > peak+peak/20 {
			peak = v
			if f, err := os.Create(path); err == nil {
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
	}
}
