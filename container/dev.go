package container

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"

	"golang.org/x/sys/unix"
)

// autodevNode is a device node lxc.autodev creates in /dev.
type autodevNode struct {
	name         string
	major, minor uint32
}

// autodevNodes are LXC's: /dev/console and /dev/ptmx are handled apart.
var autodevNodes = []autodevNode{
	{"full", 1, 7}, {"null", 1, 3}, {"random", 1, 8},
	{"tty", 5, 0}, {"urandom", 1, 9}, {"zero", 1, 5},
}

// autodevLinks are the symlinks lxc.autodev creates in /dev.
var autodevLinks = [][2]string{
	{"fd", "/proc/self/fd"},
	{"stdin", "/proc/self/fd/0"},
	{"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"},
}

func (s *stager) autodevFail(what string, err error) error {
	return s.fail("autodev", "", "lxc.autodev", what, err)
}

// mountAutodev mounts the tmpfs on /dev (before the mount entries, so they
// can mount under it) with the directories entries commonly need.
func (s *stager) mountAutodev() error {
	if _, err := s.root.mkdirAll("dev", 0o755); err != nil {
		return s.autodevFail("/dev", err)
	}
	if err := s.mountAt("dev", "none", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "size=500000,mode=755"); err != nil {
		return s.autodevFail("/dev", err)
	}
	for _, d := range []struct {
		name string
		mode uint32
	}{{"pts", 0o755}, {"shm", 0o1777}} {
		if err := s.mkdirIn("dev", d.name, d.mode); err != nil {
			return s.autodevFail("/dev/"+d.name, err)
		}
	}
	return nil
}

// mkdirIn creates dir/name inside the rootfs with exactly mode.
func (s *stager) mkdirIn(dir, name string, mode uint32) error {
	d, err := s.root.open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Mkdirat(int(d.Fd()), name, mode); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

// fillAutodev creates the device nodes and links in /dev. Nodes that
// cannot be made (no CAP_MKNOD) are bind mounts of the host's.
func (s *stager) fillAutodev() error {
	dev, err := s.root.open("dev")
	if err != nil {
		return s.autodevFail("/dev", err)
	}
	defer dev.Close()
	dfd := int(dev.Fd())
	for _, n := range autodevNodes {
		err := unix.Mknodat(dfd, n.name, unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor)))
		switch {
		case err == nil, errors.Is(err, unix.EEXIST):
		case errors.Is(err, unix.EPERM):
			if _, err := s.root.createFile("dev/"+n.name, 0); err != nil {
				return s.autodevFail("/dev/"+n.name, err)
			}
			if err := s.bindAt("dev/"+n.name, "/dev/"+n.name, 0); err != nil {
				return s.autodevFail("/dev/"+n.name, err)
			}
		default:
			return s.autodevFail("/dev/"+n.name, err)
		}
	}
	for _, l := range autodevLinks {
		if err := unix.Symlinkat(l[1], dfd, l[0]); err != nil && !errors.Is(err, unix.EEXIST) {
			return s.autodevFail("/dev/"+l[0], err)
		}
	}
	return nil
}

// setupDevpts mounts a new devpts instance on /dev/pts (replacing any a
// mount entry put there, as LXC does) and points /dev/ptmx at its ptmx.
func (s *stager) setupDevpts() error {
	fail := func(err error) error { return s.fail("devpts", "", "lxc.pty.max", strconv.Itoa(s.cfg.PTYMax), err) }
	if _, err := s.root.mkdirAll("dev/pts", 0o755); err != nil {
		return fail(err)
	}
	for {
		f, err := s.root.open("dev/pts")
		if err != nil {
			return fail(err)
		}
		err = unix.Unmount(fdPath(f), unix.MNT_DETACH)
		f.Close()
		if err != nil {
			break // EINVAL: not a mount point (any more)
		}
	}
	data := "newinstance,ptmxmode=0666,mode=0620" + s.devptsGID()
	if s.cfg.PTYMax > 0 {
		data += ",max=" + strconv.Itoa(s.cfg.PTYMax)
	}
	if err := s.mountAt("dev/pts", "devpts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, data); err != nil {
		return fail(err)
	}
	dev, err := s.root.open("dev")
	if err != nil {
		return fail(err)
	}
	defer dev.Close()
	var st unix.Stat_t
	err = unix.Fstatat(int(dev.Fd()), "ptmx", &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		if err := unix.Symlinkat("pts/ptmx", int(dev.Fd()), "ptmx"); err != nil {
			return fail(fmt.Errorf("symlink /dev/ptmx: %w", err))
		}
	case err != nil:
		return fail(err)
	case st.Mode&unix.S_IFMT != unix.S_IFLNK:
		// A node from the rootfs: the new instance's ptmx goes over it.
		if err := s.bindSelfFrom("dev/pts/ptmx", "dev/ptmx"); err != nil {
			return fail(err)
		}
	}
	return nil
}

// bindSelfFrom binds src onto dst, both inside the rootfs.
func (s *stager) bindSelfFrom(src, dst string) error {
	f, err := s.root.open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return s.bindAt(dst, fdPath(f), 0)
}

// bindTTY binds a pty slave the shim passed (fd in the stage) on rel,
// creating an empty file there first when nothing is there.
func (s *stager) bindTTY(rel string, fd int) error {
	f, err := s.root.open(rel)
	if errors.Is(err, unix.ENOENT) {
		f, err = s.root.createFile(rel, 0o600)
	}
	if err != nil {
		return err
	}
	f.Close()
	src, err := ptyPath(fd)
	if err != nil {
		return err
	}
	// nosuid,noexec as LXC binds them: nothing is run from a terminal.
	return s.bindAt(rel, src, unix.MS_NOSUID|unix.MS_NOEXEC)
}

// ptyPath is the path of the pty slave the stage inherited as fd. The fd's
// mount belongs to the shim's mount namespace, which a bind mount cannot
// take as source; the same devpts is mounted at the same place in the
// stage's copy of it, so the path names the same device (checked).
func ptyPath(fd int) (string, error) {
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", err
	}
	var a, b unix.Stat_t
	if err := unix.Fstat(fd, &a); err != nil {
		return "", err
	}
	if err := unix.Stat(p, &b); err != nil || a.Rdev != b.Rdev || a.Mode&unix.S_IFMT != unix.S_IFCHR {
		return "", fmt.Errorf("pty %s is not reachable from the stage's mount namespace", p)
	}
	return p, nil
}

// setupConsole binds the shim's console pty on /dev/console.
func (s *stager) setupConsole() error {
	if s.p.ConsoleFD < 0 {
		return nil
	}
	if err := s.bindTTY("dev/console", s.p.ConsoleFD); err != nil {
		return s.fail("console", "console", "lxc.console.path", "/dev/console", err)
	}
	return nil
}

// setupTTYs binds the shim's tty ptys on /dev/ttyN, or on /dev/DIR/ttyN
// with a /dev/ttyN link for lxc.tty.dir.
func (s *stager) setupTTYs() error {
	dir := s.cfg.TTY.Dir
	for i, fd := range s.p.TTYFDs {
		name := "tty" + strconv.Itoa(i+1)
		rel := path.Join("dev", dir, name)
		fail := func(err error) error {
			return s.fail("tty", "", "lxc.tty.max", strconv.Itoa(s.cfg.TTY.Max), fmt.Errorf("/%s: %w", rel, err))
		}
		if dir != "" {
			if _, err := s.root.mkdirAll(path.Join("dev", dir), 0o755); err != nil {
				return fail(err)
			}
		}
		if err := s.bindTTY(rel, fd); err != nil {
			return fail(err)
		}
		if dir != "" {
			dev, err := s.root.open("dev")
			if err != nil {
				return fail(err)
			}
			err = unix.Symlinkat(path.Join(dir, name), int(dev.Fd()), name)
			dev.Close()
			if errors.Is(err, unix.EEXIST) {
				err = nil // the rootfs has its own /dev/ttyN: leave it
			}
			if err != nil {
				return fail(err)
			}
		}
	}
	return nil
}

// stdioFD is the init's stdin/stdout/stderr: the console, or /dev/null.
func (s *stager) stdioFD() int {
	if s.p.ConsoleFD >= 0 {
		return s.p.ConsoleFD
	}
	return 0 // /dev/null, opened by Spawn
}
