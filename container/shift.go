package container

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/lxc-shim/lxc-shim/config"
	"golang.org/x/sys/unix"
)

// ShiftRootfs chowns every file of cfg's rootfs from container ids to the
// host ids lxc.idmap maps them to, once, so that an unshifted (root-owned)
// rootfs runs without idmap=container. It stays on the rootfs's file
// system (a mount below it is not its to change), follows no symlink, and
// puts back the set-user-ID and set-group-ID bits chown clears. File
// capabilities (security.capability) are dropped by the kernel on chown
// and not recreated: a tree that needs them runs with idmap=container.
// It refuses a tree whose top is already owned by a host id of the map,
// and stops at the first file whose owner the map does not cover, naming
// it (nothing before it is undone: run it again after fixing that file).
// It returns how many files it changed.
func ShiftRootfs(cfg *config.Config) (int, error) {
	root := cfg.Rootfs.Path
	if !cfg.Unprivileged() {
		return 0, fmt.Errorf("shift %s: no lxc.idmap to shift to", cfg.Name)
	}
	if cfg.Rootfs.IDMapped {
		return 0, fmt.Errorf("shift %s: lxc.rootfs.options has idmap=container: the rootfs is meant to stay unshifted", cfg.Name)
	}
	var top unix.Stat_t
	if err := unix.Lstat(root, &top); err != nil {
		return 0, fmt.Errorf("shift %s: %w", cfg.Name, err)
	}
	if _, ok := cfg.ContainerID('u', int64(top.Uid)); ok {
		return 0, fmt.Errorf("shift %s: %s is owned by host uid %d, already in the map: already shifted", cfg.Name, root, top.Uid)
	}
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Dev != top.Dev {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		uid, ok := cfg.HostID('u', int64(st.Uid))
		if !ok {
			return fmt.Errorf("%s is owned by uid %d, which lxc.idmap does not map", p, st.Uid)
		}
		gid, ok := cfg.HostID('g', int64(st.Gid))
		if !ok {
			return fmt.Errorf("%s is owned by gid %d, which lxc.idmap does not map", p, st.Gid)
		}
		if err := unix.Lchown(p, int(uid), int(gid)); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK && st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
			if err := unix.Fchmodat(unix.AT_FDCWD, p, st.Mode&0o7777, 0); err != nil {
				return err
			}
		}
		n++
		return nil
	})
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("%s: %w", pe.Path, pe.Err)
		}
		return n, fmt.Errorf("shift %s: %w (%d files shifted before)", cfg.Name, err, n)
	}
	return n, nil
}
