package shimctl

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned by AcquireLock when another shim holds the lock.
var ErrLocked = errors.New("another shim holds the lock")

// The shim's lock is an open-file-description (OFD) write lock rather than
// flock(2): F_OFD_GETLK lets status and cleanup ask whether a shim holds it
// without taking it, so a status probe can never make a starting shim fail.
// Like flock it belongs to the open file, is released when the shim dies,
// and is not inherited across exec (the file is O_CLOEXEC).

func wholeFile(typ int16) *unix.Flock_t {
	return &unix.Flock_t{Type: typ, Whence: 0, Start: 0, Len: 0}
}

// AcquireLock takes the shim's lock on path (created 0600) and returns the
// open file, which must stay open for the shim's life.
func AcquireLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, wholeFile(unix.F_WRLCK)); err != nil {
		f.Close()
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("lock %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// LockHeld reports whether some process holds the lock on path. A missing
// file means no.
func LockHeld(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	lk := wholeFile(unix.F_WRLCK)
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, lk); err != nil {
		return false
	}
	return lk.Type != unix.F_UNLCK
}

// StartLock serialises `lxc-initd start` for one container: it blocks until
// no other start holds path, then returns a release function. Two
// concurrent starts therefore give one shim: the second finds it running.
func StartLock(path string) (release func(), err error) {
	f, err := StartLockFile(path)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}

// StartLockFile is StartLock's lock as its open file: the lock (flock(2),
// which belongs to the open file) is held until every descriptor of it is
// closed. lxc-initd start hands it to the shim it starts, which closes it
// once it holds its own lock: a start killed between the two leaves the
// container "starting", never "stopped" while a shim is about to boot it
// (see WaitStarting).
func StartLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("start lock %s: %w", path, err)
	}
	return f, nil
}

// startLockHeld reports whether a start holds path (without taking it
// for longer than the probe).
func startLockHeld(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return false
	}
	return errors.Is(err, unix.EWOULDBLOCK)
}

// WaitStarting waits, up to max, while a start of name is under way and
// its shim does not hold its lock yet: in that window the container has
// no state, yet a shim is about to boot it, so a stop or cleanup that
// looked now would find nothing and the container would run after it.
// It reports whether the window was still open at max.
func WaitStarting(rundir, name string, max time.Duration) bool {
	p := PathsFor(rundir, name)
	end := time.Now().Add(max)
	for startLockHeld(p.StartLock) && !LockHeld(p.Lock) {
		if time.Now().After(end) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// The control socket has a second name, in the abstract namespace of the
// host's network namespace, which no file operation can remove: binding it
// is exclusive, so a shim that holds it is the only one for its container
// even after someone removed RUNDIR/NAME (lock and socket files with it),
// and lxc-initd reaches the shim through it when the file is gone. A
// process that is not root can squat the name; the shim then refuses to
// start, naming that process, and clients refuse to talk to it (its
// credentials are checked as the shim checks theirs).

// AbstractName is the abstract socket name of container name under rundir
// (Go's "@" prefix for a leading NUL). It depends on the absolute rundir,
// which survives the removal of the directory.
func AbstractName(rundir, name string) string {
	if abs, err := filepath.Abs(rundir); err == nil {
		rundir = abs
	}
	dir := sha256.Sum256([]byte(rundir))
	s := "lxc-shim/" + hex.EncodeToString(dir[:8]) + "/" + name
	if len(s) > 106 { // sun_path holds 108 bytes, the leading NUL among them
		n := sha256.Sum256([]byte(name))
		s = "lxc-shim/" + hex.EncodeToString(dir[:8]) + "/" + hex.EncodeToString(n[:16])
	}
	return "@" + s
}

// ListenAbstract binds the abstract control socket of p. A name already
// bound is ErrLocked, naming the process that holds it.
func ListenAbstract(p Paths) (*net.UnixListener, error) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: p.Abstract, Net: "unix"})
	if err == nil {
		return l, nil
	}
	if !errors.Is(err, unix.EADDRINUSE) {
		return nil, fmt.Errorf("control socket %s: %w", p.Abstract, err)
	}
	who := "a process that does not answer"
	if c, derr := net.DialUnix("unix", nil, &net.UnixAddr{Name: p.Abstract, Net: "unix"}); derr == nil {
		if cred, cerr := peerCred(c); cerr == nil {
			who = fmt.Sprintf("pid %d (%s, uid %d)", cred.Pid, procComm(int(cred.Pid)), cred.Uid)
		}
		c.Close()
	}
	return nil, fmt.Errorf("control socket %s is held by %s: %w", p.Abstract, who, ErrLocked)
}

// peerCred is the credentials of the process at the other end of c.
func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	return cred, serr
}

func procComm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

// HostPeer checks that the process at the other end of c is root in this
// PID namespace: a container's processes are in PID namespaces of their
// own, so one that shares the host's network namespace (lxc.net.0.type =
// none) and is root there still cannot use the abstract socket, and a
// squatter that is not root is not taken for a shim.
func HostPeer(c *net.UnixConn) error {
	cred, err := peerCred(c)
	if err != nil {
		return err
	}
	if cred.Uid != 0 {
		return fmt.Errorf("permission denied (pid %d, uid %d)", cred.Pid, cred.Uid)
	}
	self, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return err
	}
	if cred.Pid <= 0 {
		return fmt.Errorf("permission denied (a process outside this PID namespace)")
	}
	if ns, err := os.Readlink("/proc/" + strconv.Itoa(int(cred.Pid)) + "/ns/pid"); err != nil || ns != self {
		return fmt.Errorf("permission denied (pid %d is in another PID namespace)", cred.Pid)
	}
	return nil
}

// ShimNames lists the containers of rundir whose shim holds its abstract
// socket (from /proc/net/unix), so that list and shutdown find a shim
// whose RUNDIR/NAME was removed. Names too long to appear in the socket
// name (AbstractName hashes them) are not listed.
func ShimNames(rundir string) []string {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return nil
	}
	prefix := strings.TrimSuffix(AbstractName(rundir, "x"), "x")
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		name, ok := strings.CutPrefix(f[len(f)-1], prefix)
		if ok && name != "" && !seen[name] && AbstractName(rundir, name) == prefix+name {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}
