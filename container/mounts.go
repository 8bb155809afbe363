package container

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/storage"
	"golang.org/x/sys/unix"
)

// rootfs is the container's root directory, as a handle every mount target
// is resolved under: a symlink inside the rootfs is followed as if the
// rootfs were "/", so it can never lead a mount onto the host.
type rootfs struct {
	path string
	fd   *os.File // O_PATH handle on the top of the rootfs bind mount
}

// open resolves rel inside the rootfs and returns an O_PATH handle.
func (r *rootfs) open(rel string) (*os.File, error) {
	f, err := pathrs.OpenatInRoot(r.fd, clean(rel))
	return f, inRootErr("resolve", rel, err)
}

// mkdirAll creates rel (and its parents) inside the rootfs.
func (r *rootfs) mkdirAll(rel string, mode os.FileMode) (*os.File, error) {
	f, err := pathrs.MkdirAllHandle(r.fd, clean(rel), mode)
	return f, inRootErr("mkdir", rel, err)
}

// inRootErr names rel as the container sees it, with the bare errno: the
// library's message names host paths and its own internals.
func inRootErr(op, rel string, err error) error {
	if err == nil {
		return nil
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		err = errno
	}
	return &os.PathError{Op: op, Path: "/" + strings.TrimPrefix(clean(rel), "."), Err: err}
}

// createFile creates rel as an empty regular file inside the rootfs (its
// parents too) unless something exists there, and opens it.
func (r *rootfs) createFile(rel string, mode uint32) (*os.File, error) {
	rel = clean(rel)
	dir, err := r.mkdirAll(path.Dir(rel), 0o755)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	fd, err := unix.Openat(int(dir.Fd()), path.Base(rel), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, mode)
	if err == nil {
		unix.Close(fd)
	} else if !errors.Is(err, unix.EEXIST) {
		return nil, &os.PathError{Op: "create", Path: rel, Err: err}
	}
	return r.open(rel)
}

// clean makes p relative to the rootfs ("/dev/pts" and "dev/pts" alike).
func clean(p string) string {
	p = strings.TrimLeft(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// fdPath is the magic link that names what f refers to; mounting on it
// mounts on exactly that (already resolved) location.
func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// mountAt resolves target inside the rootfs and mounts on it.
func (s *stager) mountAt(target, source, fstype string, flags uintptr, data string) error {
	f, err := s.root.open(target)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Mount(source, fdPath(f), fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on /%s: %w", describeSource(source, fstype), clean(target), err)
	}
	return nil
}

func describeSource(source, fstype string) string {
	if fstype == "" {
		return source
	}
	return fstype
}

// remountableFlags are the per-mount flags a bind remount can set.
const remountableFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
	unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_NOSYMFOLLOW

// bindAt bind-mounts source (a host path or /proc/self/fd/N) on target
// inside the rootfs, then applies flags by a bind remount, which is the
// only way a bind mount gets ro, nosuid and the like.
func (s *stager) bindAt(target, source string, flags uintptr) error {
	if err := s.mountAt(target, source, "", unix.MS_BIND|flags&unix.MS_REC, ""); err != nil {
		return err
	}
	if flags&remountableFlags == 0 {
		return nil
	}
	return s.remount(target, flags)
}

// remount changes the per-mount flags of the mount on top of target.
func (s *stager) remount(target string, flags uintptr) error {
	// A new handle: the old one names the directory under the mount.
	return s.mountAt(target, "", "", unix.MS_BIND|unix.MS_REMOUNT|flags&remountableFlags, "")
}

// mountRootfs mounts the rootfs from its storage (a directory bound on
// itself or on lxc.rootfs.mount: pivot_root needs a mount point) and opens
// the handle every later target is resolved in.
func (s *stager) mountRootfs() error {
	src := s.p.Rootfs
	fail := func(err error) error { return s.fail("rootfs", "rootfs", "lxc.rootfs.path", s.cfg.Rootfs.Path, err) }
	if src.Kind == storage.KindDir {
		st, err := os.Stat(src.Path)
		if err != nil {
			return fail(s.rootfsAccessHint(unwrapPath(err)))
		}
		if !st.IsDir() {
			return fail(errors.New("not a directory"))
		}
	}
	// An idmapped rootfs (lxc.rootfs.options = idmap=container, a
	// directory only: the reader refuses it on other storage) is the tree
	// the shim made and sent; anything else is mounted from its storage.
	mount := src.Mount
	if f := s.idmapped["rootfs"]; f != nil {
		mount = func() error { return attachIDMappedRootfs(f, src.MountPoint()) }
	}
	if err := mount(); err != nil {
		return fail(err)
	}
	p := src.MountPoint()
	if err := unix.Mount("", p, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fail(fmt.Errorf("make rslave: %w", err))
	}
	f, err := os.OpenFile(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(unwrapPath(err))
	}
	s.root = &rootfs{path: p, fd: f}
	return nil
}

// unwrapPath drops the path from an *os.PathError whose path the error
// message already names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// rootfsOptions makes the rootfs read-only when lxc.rootfs.options says
// so, last, once the mounts below it were made (their targets may need
// creating). The other options applied when the rootfs was mounted; a
// bind remount sets exactly the flags it is given, so they are repeated.
func (s *stager) rootfsOptions() error {
	flags := s.cfg.Rootfs.Flags
	if flags&unix.MS_RDONLY == 0 {
		return nil
	}
	if err := s.remount(".", flags); err != nil {
		return s.fail("rootfs options", "rootfs", "lxc.rootfs.options", strings.Join(s.cfg.Rootfs.Options, ","), err)
	}
	return nil
}

// pseudoFS are file system types whose source is a name, not a path.
var pseudoFS = map[string]bool{
	"proc": true, "sysfs": true, "tmpfs": true, "devpts": true, "mqueue": true,
	"cgroup": true, "cgroup2": true, "debugfs": true, "securityfs": true,
	"fusectl": true, "binfmt_misc": true, "hugetlbfs": true, "ramfs": true,
	"tracefs": true, "pstore": true, "efivarfs": true, "bpf": true, "configfs": true,
	"overlay": true, "none": true, "": true,
}

func entryText(m config.Mount) string {
	opts := m.Options
	if opts == "" {
		opts = "defaults"
	}
	return strings.Join([]string{m.Source, m.Target, m.FSType, opts}, " ")
}

// mountEntry applies one lxc.mount.entry / lxc.mount.fstab line.
func (s *stager) mountEntry(i int, m config.Mount) error {
	key := "lxc.mount.entry"
	fail := func(err error) error { return s.fail("mount", "mount."+strconv.Itoa(i), key, entryText(m), err) }
	skip := func(err error) error {
		s.log.Info("optional mount skipped", "entry", entryText(m), "err", err)
		return nil
	}
	failOrSkip := func(err error) error {
		if m.Optional {
			return skip(err)
		}
		return fail(err)
	}
	bind := m.Flags&unix.MS_BIND != 0
	source := m.Source
	switch {
	case m.SourceRelative:
		// LXC's "relative": the source is a path in the rootfs. It is
		// resolved there as the container would resolve it (a symlink
		// or ".." never leads out) and mounted through its handle, so
		// nothing can swap the path in between.
		src, err := s.root.open(m.Source)
		if err != nil {
			return failOrSkip(fmt.Errorf("source %s (relative to the rootfs): %w", m.Source, unwrapPath(err)))
		}
		defer src.Close()
		source = fdPath(src)
	case m.IDMapped:
		// The shim opened the source (userns.go): nothing by path here.
		// It sends none for an optional entry whose source is missing.
		if s.idmapped["mount."+strconv.Itoa(i)] == nil {
			return failOrSkip(fmt.Errorf("source %s: %w", m.Source, unix.ENOENT))
		}
	case bind || (strings.HasPrefix(m.Source, "/") && !pseudoFS[m.FSType]):
		if _, err := os.Stat(m.Source); err != nil {
			return failOrSkip(fmt.Errorf("source %s: %w", m.Source, unwrapPath(err)))
		}
	}
	f, err := s.root.open(m.Target)
	if errors.Is(err, unix.ENOENT) {
		switch {
		case m.CreateDir:
			f, err = s.root.mkdirAll(m.Target, 0o755)
		case m.CreateFil:
			f, err = s.root.createFile(m.Target, 0o644)
		}
	}
	if err != nil {
		return failOrSkip(fmt.Errorf("target /%s: %w", clean(m.Target), unwrapPath(err)))
	}
	f.Close()
	switch {
	case bind && m.IDMapped:
		err = s.attachIDMapped(i, m)
	case bind:
		err = s.bindEntry(m, source)
	default:
		// "remount" (as LXC): mount, then remount with the same flags
		// and data, never a remount of whatever was there before.
		err = s.mountAt(m.Target, source, m.FSType, m.Flags&^unix.MS_REMOUNT, m.Data)
		if err == nil && m.Flags&unix.MS_REMOUNT != 0 {
			err = s.mountAt(m.Target, source, m.FSType, m.Flags, m.Data)
		}
	}
	if err == nil && m.Propagation != 0 {
		err = s.mountAt(m.Target, "", "", m.Propagation, "")
	}
	if err != nil {
		return failOrSkip(err)
	}
	return nil
}

// bindEntry bind-mounts source on m.Target (rbind: with its submounts)
// and applies the options' per-mount flags to every mount it made: what
// the options set or clear changes, the rest stays as on the source (a
// nosuid source stays nosuid unless "suid" is given), as LXC keeps it.
func (s *stager) bindEntry(m config.Mount, source string) error {
	rec := m.Flags & unix.MS_REC
	if err := s.mountAt(m.Target, source, "", unix.MS_BIND|rec|m.Flags&unix.MS_SILENT, ""); err != nil {
		return err
	}
	return s.applyBindFlags(m, source)
}

// applyBindFlags applies the per-mount flags of entry m to the bind
// mount on its target (every mount of it for rbind).
func (s *stager) applyBindFlags(m config.Mount, source string) error {
	rec := m.Flags & unix.MS_REC
	attr := bindAttr(m.Flags, m.ClearFlags)
	if attr.Attr_set == 0 && attr.Attr_clr == 0 {
		return nil
	}
	// A new handle: the old one names the directory under the mount.
	f, err := s.root.open(m.Target)
	if err != nil {
		return err
	}
	defer f.Close()
	at := uint(unix.AT_EMPTY_PATH)
	if rec != 0 {
		// A remount would change the top mount only: the submounts of
		// an "rbind,ro" would stay writable.
		at |= unix.AT_RECURSIVE
	}
	err = unix.MountSetattr(int(f.Fd()), "", at, attr)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENOSYS) && rec == 0:
		return s.bindRemount(m, source)
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("set %s on every mount of an rbind on /%s: this kernel has no mount_setattr (Linux 5.12); use bind, or drop the options: %w",
			m.Options, clean(m.Target), err)
	}
	return fmt.Errorf("set %s on /%s: %w", m.Options, clean(m.Target), err)
}

// bindRemount is bindEntry's per-mount flags on a kernel without
// mount_setattr: a bind remount sets exactly the flags it is given, so the
// source's nosuid, nodev, noexec and ro are added unless cleared.
func (s *stager) bindRemount(m config.Mount, source string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(source, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", m.Source, err)
	}
	const kept = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC // ST_* share these values
	flags := m.Flags | uintptr(st.Flags)&kept&^m.ClearFlags
	return s.mountAt(m.Target, "", "", unix.MS_BIND|unix.MS_REMOUNT|flags&remountableFlags, "")
}

// mountAttrs maps per-mount mount(2) flags to mount_setattr attributes.
var mountAttrs = []struct {
	flag uintptr
	attr uint64
}{
	{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
	{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
	{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
	{unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
	{unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
	{unix.MS_NOSYMFOLLOW, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

const atimeFlags = unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

// bindAttr is the mount_setattr change that applies set and cleared
// per-mount flags. The atime mode is one setting: when an option names
// it, it is computed as mount(2) does (strictatime over noatime over the
// default relatime).
func bindAttr(set, cleared uintptr) *unix.MountAttr {
	a := &unix.MountAttr{}
	for _, m := range mountAttrs {
		switch {
		case set&m.flag != 0:
			a.Attr_set |= m.attr
		case cleared&m.flag != 0:
			a.Attr_clr |= m.attr
		}
	}
	if (set|cleared)&atimeFlags != 0 {
		a.Attr_clr |= unix.MOUNT_ATTR__ATIME
		switch {
		case set&unix.MS_STRICTATIME != 0:
			a.Attr_set |= unix.MOUNT_ATTR_STRICTATIME
		case set&unix.MS_NOATIME != 0:
			a.Attr_set |= unix.MOUNT_ATTR_NOATIME
		default:
			a.Attr_set |= unix.MOUNT_ATTR_RELATIME
		}
	}
	return a
}

// pivot makes the rootfs "/" and detaches the host's root from the
// container's mount namespace.
func (s *stager) pivot() error {
	fail := func(err error) error { return s.fail("pivot_root", "rootfs", "lxc.rootfs.path", s.root.path, err) }
	if err := unix.Fchdir(int(s.root.fd.Fd())); err != nil {
		return fail(err)
	}
	// pivot_root(".", ".") stacks the old root on top of the new one;
	// unmounting "." then detaches the old root (pivot_root(2), NOTES).
	if err := unix.PivotRoot(".", "."); err != nil {
		return fail(err)
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fail(fmt.Errorf("make old root rslave: %w", err))
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fail(fmt.Errorf("detach old root: %w", err))
	}
	if err := unix.Chdir("/"); err != nil {
		return fail(err)
	}
	s.root.fd.Close()
	return nil
}
