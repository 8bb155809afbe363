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
	unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

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

// mountRootfs binds the rootfs on itself (pivot_root needs a mount point)
// and opens the handle every later target is resolved in.
func (s *stager) mountRootfs() error {
	// The reader strips "dir:"; a model built elsewhere may still carry it.
	p := strings.TrimPrefix(s.cfg.Rootfs.Path, "dir:")
	fail := func(err error) error { return s.fail("rootfs", "rootfs", "lxc.rootfs.path", p, err) }
	st, err := os.Stat(p)
	if err != nil {
		return fail(unwrapPath(err))
	}
	if !st.IsDir() {
		return fail(errors.New("not a directory"))
	}
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fail(fmt.Errorf("bind: %w", err))
	}
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

// rootfsOptions applies lxc.rootfs.options; only "ro" is known.
func (s *stager) rootfsOptions() error {
	var flags uintptr
	for _, o := range s.cfg.Rootfs.Options {
		switch o {
		case "ro":
			flags |= unix.MS_RDONLY
		case "rw", "defaults", "":
		default:
			return s.fail("rootfs options", "rootfs", "lxc.rootfs.options", o, errors.New("unsupported option"))
		}
	}
	if flags == 0 {
		return nil
	}
	if err := s.remount(".", flags); err != nil {
		return s.fail("rootfs options", "rootfs", "lxc.rootfs.options", "ro", err)
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
	bind := m.Flags&unix.MS_BIND != 0
	if bind || (strings.HasPrefix(m.Source, "/") && !pseudoFS[m.FSType]) {
		if _, err := os.Stat(m.Source); err != nil {
			err = fmt.Errorf("source %s: %w", m.Source, unwrapPath(err))
			if m.Optional {
				return skip(err)
			}
			return fail(err)
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
		err = fmt.Errorf("target /%s: %w", clean(m.Target), unwrapPath(err))
		if m.Optional {
			return skip(err)
		}
		return fail(err)
	}
	f.Close()
	if bind {
		err = s.bindAt(m.Target, m.Source, m.Flags)
	} else {
		err = s.mountAt(m.Target, m.Source, m.FSType, m.Flags, m.Data)
	}
	if err == nil && m.Propagation != 0 {
		err = s.mountAt(m.Target, "", "", m.Propagation, "")
	}
	if err != nil {
		if m.Optional {
			return skip(err)
		}
		return fail(err)
	}
	return nil
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
