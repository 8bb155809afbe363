package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// maxID is the largest id a map may reach: (uid_t)-1 is never valid.
const maxID = 1<<32 - 2

// Unprivileged reports whether the container runs in a user namespace of
// its own (lxc.idmap given): root inside is an unprivileged host uid.
func (c *Config) Unprivileged() bool { return len(c.Security.IDMap) > 0 }

// HostID is the host id that container id id of kind 'u' or 'g' maps to
// (ok false: unmapped).
func (c *Config) HostID(kind rune, id int64) (int64, bool) {
	for _, m := range c.Security.IDMap {
		if m.Kind == kind && id >= m.Container && id < m.Container+m.Count {
			return m.Host + id - m.Container, true
		}
	}
	return 0, false
}

// ContainerID is the container id that host id of kind 'u' or 'g' is
// seen as inside (ok false: unmapped, seen as the overflow id).
func (c *Config) ContainerID(kind rune, id int64) (int64, bool) {
	for _, m := range c.Security.IDMap {
		if m.Kind == kind && id >= m.Host && id < m.Host+m.Count {
			return m.Container + id - m.Host, true
		}
	}
	return 0, false
}

// finishIDMap checks lxc.idmap as a whole, as the kernel and LXC would,
// and the options that need it (idmap=container), so that `check` says
// what a start would fail on, naming the line.
func (b *builder) finishIDMap() {
	c := b.cfg
	maps := c.Security.IDMap
	if len(maps) == 0 {
		if c.Rootfs.IDMapped {
			b.errorf(c.Rootfs.OptionsPos, "idmap=container needs lxc.idmap (the container has no user namespace to map the rootfs to)")
		}
		for _, m := range c.Mounts {
			if m.IDMapped {
				b.errorf(m.Pos, "idmap=container needs lxc.idmap (the container has no user namespace to map the mount to)")
			}
		}
		return
	}
	self := map[rune]int64{'u': int64(os.Getuid()), 'g': int64(os.Getgid())}
	for i, m := range maps {
		what := map[rune]string{'u': "uid", 'g': "gid"}[m.Kind]
		switch {
		case m.Container+m.Count-1 > maxID || m.Host+m.Count-1 > maxID:
			b.errorf(m.Pos, "%s range %d-%d -> %d-%d goes past the largest id %d", what,
				m.Container, m.Container+m.Count-1, m.Host, m.Host+m.Count-1, int64(maxID))
			continue
		case m.Host == 0:
			// Host root inside would make the container privileged again.
			b.errorf(m.Pos, "host %s range %d-%d contains host %s 0: root of the host must never be mapped into a container", what, m.Host, m.Host+m.Count-1, what)
			continue
		case self[m.Kind] != 0 && self[m.Kind] >= m.Host && self[m.Kind] < m.Host+m.Count:
			b.errorf(m.Pos, "host %s range %d-%d contains lxc-shim's own %s %d", what, m.Host, m.Host+m.Count-1, what, self[m.Kind])
			continue
		}
		for _, o := range maps[:i] {
			if o.Kind != m.Kind {
				continue
			}
			if overlaps(m.Container, m.Count, o.Container, o.Count) {
				b.errorf(m.Pos, "container %s range %d-%d overlaps the one of %s:%d (%d-%d)", what,
					m.Container, m.Container+m.Count-1, o.Pos.File, o.Pos.Line, o.Container, o.Container+o.Count-1)
			}
			if overlaps(m.Host, m.Count, o.Host, o.Count) {
				b.errorf(m.Pos, "host %s range %d-%d overlaps the one of %s:%d (%d-%d)", what,
					m.Host, m.Host+m.Count-1, o.Pos.File, o.Pos.Line, o.Host, o.Host+o.Count-1)
			}
		}
	}
	last := maps[len(maps)-1].Pos
	for _, k := range []rune{'u', 'g'} {
		if _, ok := c.HostID(k, 0); !ok {
			what := map[rune]string{'u': "uid", 'g': "gid"}[k]
			b.errorf(last, "no %s map covers container root (%s 0): add \"lxc.idmap = %c 0 HOSTID COUNT\"", what, what, k)
		}
	}
	if _, ok := c.HostID('u', int64(c.Init.UID)); !ok && c.Init.UID != 0 {
		b.errorf(last, "lxc.init.uid %d is not mapped by lxc.idmap", c.Init.UID)
	}
	if _, ok := c.HostID('g', int64(c.Init.GID)); !ok && c.Init.GID != 0 {
		b.errorf(last, "lxc.init.gid %d is not mapped by lxc.idmap", c.Init.GID)
	}
	for _, m := range c.Mounts {
		switch {
		case m.IDMapped && m.Flags&unix.MS_BIND == 0:
			b.errorf(m.Pos, "idmap=container applies to bind mounts only")
		case m.IDMapped && m.SourceRelative:
			// The shim makes the idmapped tree on the host, where a path
			// relative to the rootfs cannot be resolved as the container
			// would resolve it.
			b.errorf(m.Pos, "idmap=container takes a host source, not a relative one")
		}
	}
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		b.errorf(last, "this kernel has no user namespaces (CONFIG_USER_NS)")
	} else if n, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(n)) == "0" {
		b.errorf(last, "user namespaces are disabled on this host (sysctl user.max_user_namespaces = 0)")
	}
	if c.Rootfs.IDMapped && !kernelAtLeast(5, 12) {
		b.errorf(c.Rootfs.OptionsPos, "idmap=container needs idmapped mounts (Linux 5.12 or later)")
	}
	// The shim makes the idmapped tree of a directory on the host; other
	// storage is mounted in the container's namespace, and its owners are
	// not on this host's file system to look at.
	if !c.Rootfs.isDirectory() {
		if c.Rootfs.IDMapped {
			b.errorf(c.Rootfs.OptionsPos, "idmap=container needs a directory rootfs (dir: or btrfs:), not %s storage", c.Rootfs.Storage)
		}
		return
	}
	if len(b.d.errs) == 0 && !b.opts.SkipRootfsOwners {
		b.checkRootfsOwners()
	}
}

// isDirectory: the rootfs is a directory of the host (dir, btrfs).
func (r Rootfs) isDirectory() bool {
	return r.Storage == "" || r.Storage == StorageDir || r.Storage == StorageBtrfs
}

// checkRootfsOwners looks at the owners of the rootfs directory and of
// what is directly in it (cheap, and where a wrong tree shows): each must
// be an id the container sees as itself. With idmap=container the ids on
// disk are container ids (the idmapped mount shifts them); without it they
// must be host ids of the map (a shifted rootfs). Anything else would be
// nobody's inside, and the init could not even write its own /etc.
func (b *builder) checkRootfsOwners() {
	c := b.cfg
	root := c.Rootfs.Path
	if root == "" {
		return
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return // a missing rootfs is the start's to report
	}
	if dir, ok := b.unreachable(root); !ok {
		uid, _ := c.HostID('u', 0)
		b.errorf(c.Rootfs.Pos, "%s cannot be searched by the container's root (host uid %d): it must reach its rootfs, as with LXC (chmod o+x %s)", dir, uid, dir)
		return
	}
	paths := []string{root}
	for _, e := range ents {
		paths = append(paths, root+"/"+e.Name())
	}
	for _, p := range paths {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			continue
		}
		for _, id := range []struct {
			kind rune
			what string
			n    int64
		}{{'u', "uid", int64(st.Uid)}, {'g', "gid", int64(st.Gid)}} {
			if c.Rootfs.IDMapped {
				if _, ok := c.HostID(id.kind, id.n); !ok {
					b.errorf(c.Rootfs.OptionsPos, "%s is owned by %s %d, which the idmapped rootfs does not map (lxc.idmap maps container %ss only); a rootfs already shifted to the map runs without idmap=container", p, id.what, id.n, id.what)
					return
				}
				continue
			}
			if _, ok := c.ContainerID(id.kind, id.n); !ok {
				b.errorf(c.Rootfs.Pos, "%s is owned by host %s %d, which lxc.idmap does not map (the container would see it as nobody): add lxc.rootfs.options = idmap=container for an unshifted rootfs, or shift it to the map once (lxc-initd shift NAME --to-map)", p, id.what, id.n)
				return
			}
		}
	}
}

// unreachable finds the first directory above root that the container's
// root cannot search: its capabilities count only over files whose owner
// and group its namespace maps, so elsewhere only the permission bits
// that apply to its host ids do.
func (b *builder) unreachable(root string) (string, bool) {
	c := b.cfg
	uid, _ := c.HostID('u', 0)
	gid, _ := c.HostID('g', 0)
	for dir := filepath.Dir(root); ; dir = filepath.Dir(dir) {
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			return "", true // the start reports what it cannot reach
		}
		_, uok := c.ContainerID('u', int64(st.Uid))
		_, gok := c.ContainerID('g', int64(st.Gid))
		var ok bool
		switch {
		case uok && gok:
			ok = true // CAP_DAC_READ_SEARCH in its namespace
		case int64(st.Uid) == uid:
			ok = st.Mode&0o100 != 0
		case int64(st.Gid) == gid:
			ok = st.Mode&0o010 != 0
		default:
			ok = st.Mode&0o001 != 0
		}
		if !ok {
			return dir, false
		}
		if dir == "/" {
			return "", true
		}
	}
}

func overlaps(a, n, b, m int64) bool { return a < b+m && b < a+n }

// kernelAtLeast reports whether the running kernel is major.minor or
// later (true when the release cannot be read: the start then says).
func kernelAtLeast(major, minor int) bool {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return true
	}
	return releaseAtLeast(unix.ByteSliceToString(uts.Release[:]), major, minor)
}

// releaseAtLeast is kernelAtLeast on a release string ("6.18.44-fc").
func releaseAtLeast(release string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(release, "%d.%d", &ma, &mi); err != nil {
		return true
	}
	return ma > major || ma == major && mi >= minor
}
