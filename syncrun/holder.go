package syncrun

import (
	"os"

	"github.com/proxbox/proxbox/store"
)

// hostIdentity names this host and pid namespace: processes with the same
// identity see each other's pids, so one can tell that another is gone. Two
// containers sharing a data directory differ here (their pid namespaces
// differ) and so never judge each other's pids.
func hostIdentity() string {
	name, _ := os.Hostname()
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return "" // unknown: never judge another holder dead
	}
	return name + "/" + ns
}

// holderGone reports a lease holder that ran on this host under a pid that
// no longer runs (a process killed with -9 left its lease behind).
func holderGone(self store.LeaseHolder) func(store.LeaseHolder) bool {
	return func(o store.LeaseHolder) bool {
		return self.Host != "" && o.Host == self.Host && o.PID > 0 && o.PID != self.PID && !pidRunning(o.PID)
	}
}
