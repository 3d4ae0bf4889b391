//go:build unix

package syncrun

import (
	"errors"
	"syscall"
)

// pidRunning reports whether a process with pid exists (signal 0 probes
// without signalling; EPERM means it exists under another user).
func pidRunning(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
