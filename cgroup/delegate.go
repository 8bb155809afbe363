package cgroup

import (
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// delegatedFiles are the files of the container's cgroup that its root
// must own to manage its own subtree (LXC's cgfsng chown_cgroup_wrapper):
// the directory itself (new child cgroups), the files that move processes
// and, on cgroup2, the ones that enable controllers and threads below it.
var delegatedFiles = map[bool][]string{
	false: {"cgroup.procs", "tasks"},
	true:  {"cgroup.procs", "cgroup.subtree_control", "cgroup.threads"},
}

// Chown delegates the container's cgroup, in every hierarchy, to uid and
// gid (the host ids of an unprivileged container's root), so that an init
// such as systemd can make and manage cgroups below it. The limits stay
// the host's: the files that set them stay root's. Nothing is followed:
// cgroupfs holds no symlinks, and AT_SYMLINK_NOFOLLOW makes sure.
func (g *Cgroup) Chown(uid, gid int) error {
	var errs []error
	for _, h := range g.hiers {
		if err := unix.Fchownat(unix.AT_FDCWD, h.dir, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			errs = append(errs, fmt.Errorf("cgroup %s: delegate %s to %d:%d: %w", g.name, h.dir, uid, gid, err))
			continue
		}
		for _, f := range delegatedFiles[h.key == unifiedKey] {
			p := filepath.Join(h.dir, f)
			err := unix.Fchownat(unix.AT_FDCWD, p, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
			if err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("cgroup %s: delegate %s to %d:%d: %w", g.name, p, uid, gid, err))
			}
		}
	}
	return errors.Join(errs...)
}
