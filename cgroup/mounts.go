package cgroup

import (
	"github.com/lxc-shim/lxc-shim/cgroupfs"
)

// The mount table and /proc/PID/cgroup are read by package cgroupfs alone
// (container and kconfig need the same answers and must not import this
// package); what follows adapts its answers to this package's names.

// Layouts, as Layout reports them.
const (
	LayoutV1     = cgroupfs.LayoutV1
	LayoutHybrid = cgroupfs.LayoutHybrid
	LayoutV2     = cgroupfs.LayoutV2
)

// unifiedKey is the Paths key of the cgroup2 hierarchy.
const unifiedKey = cgroupfs.UnifiedKey

// mount is one mounted cgroup hierarchy as /proc/self/mountinfo shows it.
type mount struct {
	// key names the hierarchy: its v1 controllers joined by commas
	// ("cpu,cpuacct"), "name=systemd" for a named one, unifiedKey for cgroup2.
	key string
	v2  bool
	// controllers are the v1 controllers of the hierarchy, or for cgroup2
	// those its root offers (cgroup.controllers).
	controllers []string
	point       string // mount point
	root        string // the hierarchy path the mount shows at point ("/" normally)
	noprefix    bool   // v1 "noprefix": cpuset files lack the "cpuset." prefix
}

// readMounts lists the cgroup hierarchies mounted in this mount namespace,
// one entry per hierarchy (the first mount of each that shows the
// hierarchy's root, else its first mount), v1 ones sorted by key
// and cgroup2 last.
func readMounts() ([]mount, error) {
	known, err := knownControllers()
	if err != nil {
		return nil, err
	}
	all, err := cgroupfs.Mounts()
	if err != nil {
		return nil, err
	}
	hs, err := cgroupfs.Hierarchies(all, known)
	if err != nil {
		return nil, err
	}
	var out []mount
	for _, m := range hs {
		out = append(out, mount{key: m.Key(), v2: m.V2, controllers: m.Controllers,
			point: m.Point, root: m.Root, noprefix: m.NoPrefix})
	}
	return out, nil
}

// knownControllers reads the v1-capable controller names from /proc/cgroups.
func knownControllers() (map[string]bool, error) {
	return cgroupfs.KnownControllers()
}

// layoutOf says whether mounts hold v1 hierarchies, cgroup2, or both.
func layoutOf(mounts []mount) string {
	ms := make([]cgroupfs.Mount, len(mounts))
	for i, m := range mounts {
		ms[i].V2 = m.v2
	}
	return cgroupfs.LayoutOf(ms)
}

// Layout reports the host's cgroup layout: "v1" (only v1 hierarchies),
// "hybrid" (v1 controllers plus a cgroup2 mount, as systemd's hybrid mode),
// or "v2" (the unified hierarchy alone). It is "" when no cgroup file system
// is mounted or the mount table cannot be read.
func Layout() string {
	mounts, err := readMounts()
	if err != nil {
		return ""
	}
	return layoutOf(mounts)
}

// ownCgroups reads /proc/self/cgroup: hierarchy key → this process's path.
func ownCgroups() (map[string]string, error) {
	return cgroupfs.Of(0)
}

// parseProcCgroup maps the lines of a /proc/PID/cgroup to hierarchy key →
// path. Keys match mount.key.
func parseProcCgroup(s string) map[string]string {
	return cgroupfs.ParseProcCgroup(s)
}
