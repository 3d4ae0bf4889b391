package main

import (
	"os"
	"testing"
)

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{1: "1", 999: "999", 1000: "1,000", 10000: "10,000", 100000: "100,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFileName(t *testing.T) {
	for kind, want := range map[string]string{"first": "first", "one change": "one-change", "steady, GOMEMLIMIT=1800MiB": "steady--GOMEMLIMIT-1800MiB"} {
		if got := fileName(kind); got != want {
			t.Errorf("fileName(%q) = %q, want %q", kind, got, want)
		}
	}
}

// The lab's figures come from /proc: this process's own must read.
func TestProcFigures(t *testing.T) {
	x := 0
	cpu, err := cpuOf(os.Getpid())
	for round := 0; err == nil && cpu <= 0 && round < 500; round++ { // some CPU to see (ticks of 10 ms)
		for i := range 10_000_000 {
			x += i % 7
		}
		cpu, err = cpuOf(os.Getpid())
	}
	if err != nil || cpu <= 0 {
		t.Errorf("cpuOf(self) = %v, %v (x %d)", cpu, err, x)
	}
	if rss := peakRSS(os.Getpid()); rss < 1<<20 {
		t.Errorf("peakRSS(self) = %d bytes", rss)
	}
	if kb := procKB(os.Getpid(), "VmRSS:"); kb < 1<<10 {
		t.Errorf("procKB(self, VmRSS:) = %d kB", kb)
	}
	if _, err := cpuOf(-1); err == nil {
		t.Error("cpuOf(-1): no error")
	}
}
