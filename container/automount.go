package container

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/lxc-shim/lxc-shim/cgroupfs"

	"golang.org/x/sys/unix"
)

const pseudoFlags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// autoProcSys applies the proc and sys parts of lxc.mount.auto, as LXC
// does before the mount entries.
func (s *stager) autoProcSys() error {
	a := s.cfg.MountAuto
	fail := func(what string, err error) error {
		return s.fail("mount", "mount.auto", "lxc.mount.auto", what, err)
	}
	if a.Proc != "" {
		what := "proc:" + a.Proc
		if _, err := s.root.mkdirAll("proc", 0o555); err != nil {
			return fail(what, err)
		}
		if err := s.mountAt("proc", "proc", "proc", pseudoFlags, ""); err != nil {
			return fail(what, err)
		}
		if a.Proc == "mixed" {
			// /proc/sys read-only except /proc/sys/net (the container's
			// own network namespace), and no /proc/sysrq-trigger writes.
			steps := []func() error{
				func() error { return s.bindSelf("proc/sys", 0) },
				func() error { return s.bindSelf("proc/sys/net", 0) },
				func() error { return s.remount("proc/sys", unix.MS_RDONLY|pseudoFlags) },
				func() error {
					// Absent when the kernel has no magic SysRq: nothing to protect.
					if f, err := s.root.open("proc/sysrq-trigger"); err != nil {
						return nil
					} else {
						f.Close()
					}
					return s.bindSelf("proc/sysrq-trigger", unix.MS_RDONLY|pseudoFlags)
				},
			}
			for _, st := range steps {
				if err := st(); err != nil {
					return fail(what, err)
				}
			}
		}
	}
	if a.Sys != "" {
		what := "sys:" + a.Sys
		if _, err := s.root.mkdirAll("sys", 0o555); err != nil {
			return fail(what, err)
		}
		if err := s.mountAt("sys", "sysfs", "sysfs", pseudoFlags, ""); err != nil {
			return fail(what, err)
		}
		switch a.Sys {
		case "ro":
			if err := s.remount("sys", unix.MS_RDONLY|pseudoFlags); err != nil {
				return fail(what, err)
			}
		case "mixed":
			// Read-only but for the container's own network devices. The
			// read-only flag is per mount (a bind remount), not on the
			// superblock, so the bind of devices/virtual/net stays writable.
			if err := s.bindSelf("sys/devices/virtual/net", 0); err != nil {
				return fail(what, err)
			}
			if err := s.remount("sys", unix.MS_RDONLY|pseudoFlags); err != nil {
				return fail(what, err)
			}
		}
	}
	return nil
}

// bindSelf binds rel (inside the rootfs) onto itself, so that it gets
// mount flags of its own, and applies flags.
func (s *stager) bindSelf(rel string, flags uintptr) error {
	f, err := s.root.open(rel)
	if err != nil {
		return err
	}
	defer f.Close()
	return s.bindAt(rel, fdPath(f), flags)
}

// cgroupMount is one of the host's cgroup hierarchies under /sys/fs/cgroup.
type cgroupMount struct {
	Rel    string // "cpu,cpuacct", "systemd", "unified"; "" when cgroup2 is /sys/fs/cgroup
	FSType string // cgroup or cgroup2
	Data   string // controllers and name= for v1
}

// hostCgroupMounts reads the host's cgroup layout (package cgroupfs); the
// stage reads it before its first mount, when its table is still a copy of
// the host's.
func hostCgroupMounts() ([]cgroupMount, error) {
	mounts, err := cgroupfs.Mounts()
	if err != nil {
		return nil, err
	}
	var out []cgroupMount
	for _, m := range mounts {
		var rel string
		switch {
		case m.Point == "/sys/fs/cgroup":
		case strings.HasPrefix(m.Point, "/sys/fs/cgroup/"):
			rel = strings.TrimPrefix(m.Point, "/sys/fs/cgroup/")
		default:
			continue
		}
		fstype := "cgroup"
		if m.V2 {
			fstype = "cgroup2"
		}
		out = append(out, cgroupMount{Rel: rel, FSType: fstype, Data: m.MountData()})
	}
	return out, nil
}

// autoCgroup applies the cgroup part of lxc.mount.auto: a tmpfs on
// /sys/fs/cgroup holding each of the host's hierarchies, mounted inside the
// container's cgroup namespace so that each shows the container's own cgroup
// as its root (writable for mixed and rw, read-only for ro), with the
// host's comount symlinks (cpu -> cpu,cpuacct).
func (s *stager) autoCgroup() error {
	a := s.cfg.MountAuto
	if a.Cgroup == "" {
		return nil
	}
	what := "cgroup:" + a.Cgroup
	fail := func(err error) error { return s.fail("mount", "mount.auto", "lxc.mount.auto", what, err) }
	if !s.p.CgroupNS {
		return fail(fmt.Errorf("needs a cgroup namespace (the config keeps the host's, or the kernel has none)"))
	}
	if len(s.hostCg) == 0 {
		return fail(fmt.Errorf("the host has no cgroup file system under /sys/fs/cgroup"))
	}
	var hierFlags uintptr = pseudoFlags
	if a.Cgroup == "ro" {
		hierFlags |= unix.MS_RDONLY
	}
	if _, err := s.root.mkdirAll("sys/fs/cgroup", 0o755); err != nil {
		return fail(err)
	}
	// A pure v2 host: the one hierarchy is /sys/fs/cgroup itself.
	if len(s.hostCg) == 1 && s.hostCg[0].Rel == "" {
		if err := s.mountAt("sys/fs/cgroup", "cgroup2", "cgroup2", pseudoFlags, ""); err != nil {
			return fail(err)
		}
		if hierFlags&unix.MS_RDONLY != 0 {
			if err := s.remount("sys/fs/cgroup", hierFlags); err != nil {
				return fail(err)
			}
		}
		return nil
	}
	if err := s.mountAt("sys/fs/cgroup", "tmpfs", "tmpfs", pseudoFlags, "size=10240k,mode=755"); err != nil {
		return fail(err)
	}
	for _, h := range s.hostCg {
		if h.Rel == "" {
			continue
		}
		target := path.Join("sys/fs/cgroup", h.Rel)
		if _, err := s.root.mkdirAll(target, 0o755); err != nil {
			return fail(err)
		}
		if err := s.mountAt(target, h.FSType, h.FSType, pseudoFlags, h.Data); err != nil {
			return fail(err)
		}
		// Read-only by a bind remount: the v1 superblocks are the host's.
		if hierFlags&unix.MS_RDONLY != 0 {
			if err := s.remount(target, hierFlags); err != nil {
				return fail(err)
			}
		}
	}
	links, err := hostCgroupLinks()
	if err != nil {
		return fail(err)
	}
	for _, l := range links {
		dir, err := s.root.open("sys/fs/cgroup")
		if err != nil {
			return fail(err)
		}
		err = unix.Symlinkat(l[1], int(dir.Fd()), l[0])
		dir.Close()
		if err != nil {
			return fail(fmt.Errorf("symlink /sys/fs/cgroup/%s: %w", l[0], err))
		}
	}
	if a.Cgroup != "rw" {
		if err := s.remount("sys/fs/cgroup", unix.MS_RDONLY|pseudoFlags); err != nil {
			return fail(err)
		}
	}
	return nil
}

// hostCgroupLinks returns the symlinks in the host's /sys/fs/cgroup as
// [name, target] pairs.
func hostCgroupLinks() ([][2]string, error) {
	ents, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, e := range ents {
		if e.Type()&os.ModeSymlink == 0 {
			continue
		}
		t, err := os.Readlink("/sys/fs/cgroup/" + e.Name())
		if err != nil {
			return nil, err
		}
		if strings.Contains(t, "/") {
			continue // only comount aliases are mirrored
		}
		out = append(out, [2]string{e.Name(), t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out, nil
}
