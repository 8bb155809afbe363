// Package cgroupfs says where the host's cgroup hierarchies are mounted
// (v1, hybrid or v2 layout) and which cgroup a process is in. It is the one
// reader of the cgroup lines of /proc/*/mountinfo and of /proc/*/cgroup:
// package cgroup (which creates and configures cgroups), container (which
// mounts the hierarchies inside a container), kconfig (which reports the
// layout) and the attach path all ask it, so that they cannot disagree on
// what a hierarchy is.
//
// It imports nothing of this module: container must not import cgroup,
// and both need this.
package cgroupfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// Layouts, as LayoutOf reports them.
const (
	LayoutV1     = "v1"
	LayoutHybrid = "hybrid"
	LayoutV2     = "v2"
)

// SelfMountinfo is this process's mount table, what Mounts reads and the
// default of lxc-initd checkconfig --mountinfo.
const SelfMountinfo = "/proc/self/mountinfo"

// UnifiedKey is the Key of the cgroup2 hierarchy (mounted at
// /sys/fs/cgroup on a v2 host, /sys/fs/cgroup/unified on a hybrid one).
const UnifiedKey = "unified"

// Mount is one mount of a cgroup hierarchy as mountinfo shows it.
type Mount struct {
	V2    bool
	Point string // mount point
	Root  string // the hierarchy path the mount shows at Point ("/" normally)
	// Controllers are a v1 mount's controllers in the order of its mount
	// options; for cgroup2 those its root offers (cgroup.controllers), when
	// read.
	Controllers []string
	Name        string // a v1 named hierarchy's "name=systemd" option, or ""
	NoPrefix    bool   // v1 "noprefix": cpuset files lack the "cpuset." prefix
}

// notControllers are the v1 mount options that do not name a controller.
var notControllers = map[string]bool{
	"rw": true, "ro": true, "xattr": true, "noprefix": true, "clone_children": true,
	"cpuset_v2_mode": true, "favordynmods": true, "none": true,
}

// Key names the hierarchy of a mount: its v1 controllers sorted and joined
// by commas ("cpu,cpuacct"), then its name= ("name=systemd"), or UnifiedKey
// for cgroup2. It matches the keys of ParseProcCgroup.
func (m Mount) Key() string {
	if m.V2 {
		return UnifiedKey
	}
	return hierarchyKey(m.Controllers, m.Name)
}

// MountData is the data argument that mounts the same v1 hierarchy again
// (its controllers and name=, in the order mountinfo shows them); "" for
// cgroup2.
func (m Mount) MountData() string {
	if m.V2 {
		return ""
	}
	data := append([]string(nil), m.Controllers...)
	if m.Name != "" {
		data = append(data, m.Name)
	}
	return strings.Join(data, ",")
}

func hierarchyKey(ctrls []string, name string) string {
	s := append([]string(nil), ctrls...)
	sort.Strings(s)
	if name != "" {
		s = append(s, name)
	}
	return strings.Join(s, ",")
}

// Mounts lists the cgroup and cgroup2 mounts of this process's mount
// namespace in mountinfo order (without cgroup2's controllers: Hierarchies
// reads those of the one it keeps).
func Mounts() ([]Mount, error) {
	infos, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("cgroupfs: read %s: %w", SelfMountinfo, err)
	}
	return fromInfos(infos), nil
}

// ReadMounts lists the cgroup and cgroup2 mounts of a mountinfo file read
// from r, in its order; it reads no cgroup.controllers.
func ReadMounts(r io.Reader) ([]Mount, error) {
	infos, err := mountinfo.GetMountsFromReader(r, mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return fromInfos(infos), nil
}

func fromInfos(infos []*mountinfo.Info) []Mount {
	var out []Mount
	for _, mi := range infos {
		m := Mount{V2: mi.FSType == "cgroup2", Point: mi.Mountpoint, Root: mi.Root}
		if !m.V2 {
			for _, o := range strings.Split(mi.VFSOptions, ",") {
				switch {
				case o == "noprefix":
					m.NoPrefix = true
				case strings.HasPrefix(o, "name="):
					m.Name = o
				case o == "" || notControllers[o] || strings.HasPrefix(o, "release_agent="):
				default:
					m.Controllers = append(m.Controllers, o)
				}
			}
		}
		out = append(out, m)
	}
	return out
}

// KnownControllers reads the v1-capable controller names from /proc/cgroups,
// so that a mount option that is not a controller is not taken for one.
func KnownControllers() (map[string]bool, error) {
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
		return nil, fmt.Errorf("cgroupfs: read /proc/cgroups: %w", err)
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

// Hierarchies keeps one mount per hierarchy (the first that shows the
// hierarchy's root, else its first), v1 ones sorted by Key and cgroup2 last.
// A v1 controller not in known is dropped; a v1 mount left with neither
// controller nor name is no hierarchy. Controllers of the v1 mounts it
// returns are sorted; those of cgroup2 are read from its cgroup.controllers.
func Hierarchies(mounts []Mount, known map[string]bool) ([]Mount, error) {
	seen := map[string]int{}
	var v1 []Mount
	var v2 *Mount
	for _, m := range mounts {
		if m.V2 {
			if v2 != nil && (v2.Root == "/" || m.Root != "/") {
				continue
			}
			mm := m
			v2 = &mm
			continue
		}
		var ctrls []string
		for _, c := range m.Controllers {
			if known[c] {
				ctrls = append(ctrls, c)
			}
		}
		sort.Strings(ctrls)
		m.Controllers = ctrls
		key := m.Key()
		if key == "" {
			continue
		}
		// The same hierarchy may be mounted twice (a bind of a subtree):
		// prefer the mount that shows its root.
		if i, ok := seen[key]; ok {
			if v1[i].Root != "/" && m.Root == "/" {
				v1[i] = m
			}
			continue
		}
		seen[key] = len(v1)
		v1 = append(v1, m)
	}
	sort.Slice(v1, func(i, j int) bool { return v1[i].Key() < v1[j].Key() })
	if v2 != nil {
		p := filepath.Join(v2.Point, "cgroup.controllers")
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("cgroupfs: read %s: %w", p, err)
		}
		v2.Controllers = strings.Fields(string(b))
		v1 = append(v1, *v2)
	}
	return v1, nil
}

// LayoutOf says whether mounts hold v1 hierarchies (LayoutV1), cgroup2
// (LayoutV2), or both (LayoutHybrid, as systemd's hybrid mode; a named v1
// hierarchy alone beside cgroup2 counts, as systemd counts it); "" for none.
func LayoutOf(mounts []Mount) string {
	var v1, v2 bool
	for _, m := range mounts {
		if m.V2 {
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

// procCgroupPath is /proc/PID/cgroup, or /proc/self/cgroup for pid 0.
func procCgroupPath(pid int) string {
	if pid == 0 {
		return "/proc/self/cgroup"
	}
	return "/proc/" + strconv.Itoa(pid) + "/cgroup"
}

// Of reads which cgroup a process (0: this one) is in: hierarchy Key →
// path, as seen from this process's cgroup namespace.
func Of(pid int) (map[string]string, error) {
	p := procCgroupPath(pid)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("cgroupfs: read %s: %w", p, err)
	}
	return ParseProcCgroup(string(b)), nil
}

// ParseProcCgroup maps the lines of a /proc/PID/cgroup to hierarchy Key →
// path.
func ParseProcCgroup(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		hid, ctrls, path, ok := splitLine(line)
		if !ok {
			continue
		}
		if hid == "0" && ctrls == "" {
			out[UnifiedKey] = path
			continue
		}
		var cs []string
		var name string
		for _, c := range strings.Split(ctrls, ",") {
			if strings.HasPrefix(c, "name=") {
				name = c
			} else if c != "" {
				cs = append(cs, c)
			}
		}
		out[hierarchyKey(cs, name)] = path
	}
	return out
}

func splitLine(line string) (hid, ctrls, path string, ok bool) {
	parts := strings.SplitN(line, ":", 3)
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// ProcsFiles lists, for every hierarchy process pid is in and this mount
// namespace has mounted, the cgroup.procs file of its cgroup. The paths of
// /proc/PID/cgroup are read in this process's cgroup namespace, so they are
// the host's even for a process in a cgroup namespace of its own.
func ProcsFiles(pid int) ([]string, error) {
	p := procCgroupPath(pid)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("cgroupfs: read %s: %w", p, err)
	}
	infos, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("cgroupfs: read %s: %w", SelfMountinfo, err)
	}
	out := procsFiles(string(b), fromInfos(infos))
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no cgroup of the process is mounted here", p)
	}
	return out, nil
}

// procsFiles maps the lines of a /proc/PID/cgroup onto cgroup mounts: one
// cgroup.procs per hierarchy that is mounted where the path is visible.
func procsFiles(procCgroup string, mounts []Mount) []string {
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(procCgroup), "\n") {
		hid, ctrls, path, ok := splitLine(line)
		if !ok {
			continue
		}
		for _, m := range mounts {
			if !m.holds(hid, ctrls) {
				continue
			}
			rel, ok := path, true
			if m.Root != "/" {
				if rel, ok = strings.CutPrefix(path, m.Root); ok && rel != "" && rel[0] != '/' {
					ok = false // /a/bc is not under /a/b
				}
			}
			if !ok {
				continue
			}
			p := filepath.Join(m.Point, rel, "cgroup.procs")
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
			break
		}
	}
	return out
}

// holds says whether m mounts the hierarchy of a /proc/PID/cgroup line with
// hierarchy ID hid and controller list ctrls.
func (m Mount) holds(hid, ctrls string) bool {
	if hid == "0" && ctrls == "" {
		return m.V2
	}
	if m.V2 || ctrls == "" {
		return false
	}
	for _, c := range strings.Split(ctrls, ",") {
		if c != m.Name && !contains(m.Controllers, c) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
