package storage

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// perMount are the flags a bind remount can set on one mount.
const perMount = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
	unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_NOSYMFOLLOW

// Mount mounts the rootfs on its mount point, in the caller's mount
// namespace (the stage's, already a slave of the host's, so nothing
// propagates back). For a directory or an overlay, lxc.rootfs.options'
// read-only flag is left to the caller, which applies it once the
// container's own mounts are made (their targets may need creating); a
// device is mounted with every flag at once, as LXC does.
func (s Source) Mount() error {
	target := s.MountPoint()
	flags := s.Flags &^ unix.MS_RDONLY
	var err error
	switch s.Kind {
	case KindDir:
		err = unix.Mount(s.Path, target, "", unix.MS_BIND|unix.MS_REC, "")
		if err == nil && flags&perMount != 0 {
			err = unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|flags&perMount, "")
		}
	case KindOverlay:
		// LXC's option string (storage/overlay.c), the lowers as the
		// source.
		lower := strings.Join(s.Lowers, ":")
		data := "upperdir=" + s.Upper + ",lowerdir=" + lower + ",workdir=" + s.Work
		err = unix.Mount(lower, target, "overlay", flags, joinData(data, s.Data))
	case KindBlock:
		err = unix.Mount(s.Path, target, s.FSType, s.Flags, s.Data)
	case KindZFS:
		err = unix.Mount(s.Path, target, "zfs", s.Flags, joinData("zfsutil,mntpoint="+target, s.Data))
	default:
		return fmt.Errorf("unknown rootfs kind %q", s.Kind)
	}
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w", s.describe(), target, err)
	}
	if s.Propagation != 0 {
		if err := unix.Mount("", target, "", s.Propagation, ""); err != nil {
			return fmt.Errorf("rootfs propagation: %w", err)
		}
	}
	return nil
}

func (s Source) describe() string {
	switch {
	case s.Image != "":
		return fmt.Sprintf("%s (%s of %s)", s.FSType, s.Path, s.Image)
	case s.Kind == KindBlock:
		return fmt.Sprintf("%s (%s)", s.FSType, s.Path)
	case s.Kind == KindOverlay:
		return "overlay"
	}
	return s.Path
}

func joinData(a, b string) string {
	if b == "" {
		return a
	}
	return a + "," + b
}
