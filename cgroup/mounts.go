package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// Layouts, as Layout reports them.
const (
	LayoutV1     = "v1"
	LayoutHybrid = "hybrid"
	LayoutV2     = "v2"
)

// unifiedKey is the Paths key of the cgroup2 hierarchy (mounted at
// /sys/fs/cgroup on a v2 host, /sys/fs/cgroup/unified on a hybrid one).
const unifiedKey = "unified"

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
	infos, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("cgroup: read mounts: %w", err)
	}
	seen := map[string]int{}
	var v1 []mount
	var v2 *mount
	for _, mi := range infos {
		fstype, super, root, point := mi.FSType, mi.VFSOptions, mi.Root, mi.Mountpoint
		switch fstype {
		case "cgroup2":
			if v2 != nil && (v2.root == "/" || root != "/") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(point, "cgroup.controllers"))
			if err != nil {
				return nil, fmt.Errorf("cgroup: read %s: %w", filepath.Join(point, "cgroup.controllers"), err)
			}
			v2 = &mount{key: unifiedKey, v2: true, controllers: strings.Fields(string(b)), point: point, root: root}
		case "cgroup":
			m := mount{point: point, root: root}
			var name string
			for _, opt := range strings.Split(super, ",") {
				switch {
				case strings.HasPrefix(opt, "name="):
					name = opt
				case opt == "noprefix":
					m.noprefix = true
				case known[opt]:
					m.controllers = append(m.controllers, opt)
				}
			}
			sort.Strings(m.controllers)
			m.key = strings.Join(m.controllers, ",")
			if name != "" {
				if m.key != "" {
					m.key += ","
				}
				m.key += name
			}
			if m.key == "" {
				continue
			}
			// The same hierarchy may be mounted twice (a bind of a
			// subtree): prefer the mount that shows its root.
			if i, ok := seen[m.key]; ok {
				if v1[i].root != "/" && m.root == "/" {
					v1[i] = m
				}
				continue
			}
			seen[m.key] = len(v1)
			v1 = append(v1, m)
		}
	}
	sort.Slice(v1, func(i, j int) bool { return v1[i].key < v1[j].key })
	if v2 != nil {
		v1 = append(v1, *v2)
	}
	return v1, nil
}

// knownControllers reads the v1-capable controller names from /proc/cgroups,
// so that mount options that are not controllers (rw, xattr, clone_children,
// release_agent=...) are not taken for one.
func knownControllers() (map[string]bool, error) {
	known := map[string]bool{}
	b, err := os.ReadFile("/proc/cgroups")
	if errors.Is(err, fs.ErrNotExist) {
		// A kernel built without cgroup v1 may lack the file; the v1
		// controllers Linux has ever had stand in for it.
		for _, c := range strings.Fields("cpuset cpu cpuacct blkio memory devices freezer net_cls perf_event net_prio hugetlb pids rdma misc debug") {
			known[c] = true
		}
		return known, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cgroup: read /proc/cgroups: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		known[f[0]] = true
	}
	return known, nil
}

// layoutOf says whether mounts hold v1 hierarchies, cgroup2, or both.
func layoutOf(mounts []mount) string {
	var v1, v2 bool
	for _, m := range mounts {
		if m.v2 {
			v2 = true
		} else {
			v1 = true
		}
	}
	switch {
	case v1 && v2:
		return LayoutHybrid
	case v2:
		return LayoutV2
	case v1:
		return LayoutV1
	}
	return ""
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
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("cgroup: read /proc/self/cgroup: %w", err)
	}
	return parseProcCgroup(string(b)), nil
}

// parseProcCgroup maps the lines of a /proc/PID/cgroup to hierarchy key →
// path. Keys match mount.key (v1 controllers sorted, named hierarchies
// after them; unifiedKey for cgroup2).
func parseProcCgroup(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			out[unifiedKey] = parts[2]
			continue
		}
		var ctrls []string
		var name string
		for _, c := range strings.Split(parts[1], ",") {
			if strings.HasPrefix(c, "name=") {
				name = c
			} else if c != "" {
				ctrls = append(ctrls, c)
			}
		}
		sort.Strings(ctrls)
		key := strings.Join(ctrls, ",")
		if name != "" {
			if key != "" {
				key += ","
			}
			key += name
		}
		out[key] = parts[2]
	}
	return out
}
