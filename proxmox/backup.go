package proxmox

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/proxbox/proxbox/inventory"
)

// Pure parsers for backup volume ids, backup formats, retention strings and task types.
// Facts: ../shared/spec/proxbox-sync-engine.md §4.6 (the Python mapping, whose format
// choices we keep) and the plugin's choices in ../shared/spec/plugin-client-contract.md §4.1.

// VolID is what a backup volume id says about its backup.
type VolID struct {
	Storage string              // storage id before the colon
	Kind    string              // "vzdump" or "pbs"
	Type    inventory.GuestType // qemu or lxc; "" when the volid does not say (PBS host backups)
	VMID    int                 // 0 when the volid does not say
	Time    time.Time           // UTC; the time the volid encodes (vzdump names carry no zone: read as UTC)
	Ext     string              // vzdump file extension ("vma.zst", "tar.gz"); "" for PBS
}

var (
	vzdumpName = regexp.MustCompile(`^vzdump-(qemu|lxc|openvz)-(\d+)-(\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2})\.(.+)$`)
	pbsPath    = regexp.MustCompile(`^(?:backup/)?(vm|ct|host)/([^/]+)/(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))$`)
)

// ParseBackupVolID parses a vzdump volid ("local:backup/vzdump-qemu-101-2026_01_15-02_00_00.vma.zst",
// also with any directory between the colon and the file name) or a PBS volid
// ("pbs:backup/vm/201/2026-11-20T01:00:00Z"). ok is false for anything else.
func ParseBackupVolID(volid string) (v VolID, ok bool) {
	storage, rest, found := strings.Cut(strings.TrimSpace(volid), ":")
	if !found || storage == "" || rest == "" {
		return v, false
	}
	v.Storage = storage
	if m := pbsPath.FindStringSubmatch(rest); m != nil {
		v.Kind = "pbs"
		switch m[1] {
		case "vm":
			v.Type = inventory.QEMU
		case "ct":
			v.Type = inventory.LXC
		}
		if v.Type != "" {
			n, err := strconv.Atoi(m[2])
			if err != nil || n <= 0 {
				return VolID{}, false
			}
			v.VMID = n
		}
		t, err := time.Parse(time.RFC3339, m[3])
		if err != nil {
			return VolID{}, false
		}
		v.Time = t.UTC()
		return v, true
	}
	base := rest
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		base = rest[i+1:]
	}
	m := vzdumpName.FindStringSubmatch(base)
	if m == nil {
		return VolID{}, false
	}
	n, err := strconv.Atoi(m[2])
	if err != nil || n <= 0 {
		return VolID{}, false
	}
	t, err := time.Parse("2006_01_02-15_04_05", m[3])
	if err != nil {
		return VolID{}, false
	}
	v.Kind, v.VMID, v.Time, v.Ext = "vzdump", n, t.UTC(), m[4]
	v.Type = inventory.QEMU
	if m[1] != "qemu" {
		v.Type = inventory.LXC
	}
	return v, true
}

// BackupFormat maps PVE's backup format (or, when it is missing or unknown, the volid) to
// the plugin's format choices: pbs-vm, pbs-ct, tzst, tgz, tbz, tar, zst, iso, qcow2, raw or
// undefined. zst, vma.zst and vma.zstd give tzst as in the Python service, so rows it wrote
// keep their value; lzo and gzip VMA archives have no choice and give undefined.
func BackupFormat(format, volid string) string {
	f := strings.ToLower(strings.TrimSpace(format))
	switch f {
	case "pbs-vm", "pbs-ct", "tzst", "tgz", "tbz", "tar", "iso", "qcow2", "raw":
		return f
	case "zst", "vma.zst", "vma.zstd", "tar.zst", "tar.zstd":
		return "tzst"
	case "tar.gz":
		return "tgz"
	case "tar.bz2":
		return "tbz"
	}
	if v, ok := ParseBackupVolID(volid); ok {
		if v.Kind == "pbs" {
			switch v.Type {
			case inventory.QEMU:
				return "pbs-vm"
			case inventory.LXC:
				return "pbs-ct"
			}
			return "undefined"
		}
		if f == "" {
			return BackupFormat(v.Ext, "")
		}
	}
	return "undefined"
}

// BackupSubtype maps a content entry's subtype (qemu, lxc, vm, ct) to a guest type,
// falling back to the volid; "" when neither says.
func BackupSubtype(subtype, volid string) inventory.GuestType {
	switch strings.ToLower(strings.TrimSpace(subtype)) {
	case "qemu", "vm":
		return inventory.QEMU
	case "lxc", "ct", "openvz":
		return inventory.LXC
	}
	if v, ok := ParseBackupVolID(volid); ok {
		return v.Type
	}
	return ""
}

// ParsePruneBackups parses a retention string ("keep-daily=7,keep-weekly=4", "keep-all=1")
// into its keys without the "keep-" prefix; values that are not integers are dropped.
func ParsePruneBackups(s string) map[string]int {
	out := map[string]int{}
	_, props := SplitProps(s)
	for k, v := range props {
		name, ok := strings.CutPrefix(k, "keep-")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			continue
		}
		out[name] = n
	}
	return out
}

// TaskGuestType says which guest type a task type concerns: qm* and QEMU's vncproxy
// family give qemu, vz* and pct* give lxc; "" when the type does not say (vzdump, which
// backs up both, and node tasks).
func TaskGuestType(typ string) inventory.GuestType {
	t := strings.ToLower(typ)
	switch {
	case t == "vzdump":
		return ""
	case strings.HasPrefix(t, "qm"):
		return inventory.QEMU
	case strings.HasPrefix(t, "vz"), strings.HasPrefix(t, "pct"):
		return inventory.LXC
	}
	return ""
}
