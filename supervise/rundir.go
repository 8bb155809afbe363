package supervise

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lxc-shim/lxc-shim/shimctl"

	"golang.org/x/sys/unix"
)

// RunDir keeps a running shim's files in RUNDIR/NAME: the lock file, the
// control socket and state.json. If someone removes them (rm -rf of the
// directory, or one file), the shim makes them again at once, woken by
// inotify: status without a shim's answer, list and the ownership records
// the next boot writes all need the directory. The abstract socket is what
// guarantees one shim per container meanwhile (ListenAbstract).
type RunDir struct {
	paths shimctl.Paths
	shim  *Shim

	mu     sync.Mutex
	lock   *os.File
	closed bool
	// ino is the inotify descriptor, non-blocking and on Go's poller:
	// a raw blocking read or poll would keep an OS thread in a syscall,
	// and the runtime's monitor wakes up every few milliseconds while one
	// is (tens of wake-ups for each settle); on the poller a wait costs
	// nothing until an event or the settle deadline.
	ino     *os.File
	watched syscall.Stat_t // the directory being watched
}

// KeepRunDir takes over lock (held on paths.Lock) and watches paths.Dir for
// the shim s. Close releases the lock; call it from s.OnExit.
func KeepRunDir(s *Shim, paths shimctl.Paths, lock *os.File) *RunDir {
	r := &RunDir{paths: paths, shim: s, lock: lock}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		s.Log.Warn("run directory: no inotify; it is not re-created if removed", "err", err)
		return r
	}
	r.ino = os.NewFile(uintptr(fd), "inotify")
	if err := r.watch(); err != nil {
		s.Log.Warn("run directory: watch", "dir", paths.Dir, "err", err)
	}
	go r.loop()
	return r
}

// Close releases the lock and stops watching: from here on what the shim
// removes itself on its way out (the socket file) stays removed.
func (r *RunDir) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.lock != nil {
		r.lock.Close()
		r.lock = nil
	}
	if r.ino != nil {
		r.ino.Close() // the loop's read fails and it returns
		r.ino = nil
	}
}

// watch watches the directory now at paths.Dir, if it is not the one
// watched already. A removed directory may never report IN_DELETE_SELF (a
// socket bound in it pins it), so the inode tells.
func (r *RunDir) watch() error {
	var st syscall.Stat_t
	if err := syscall.Stat(r.paths.Dir, &st); err != nil {
		return err
	}
	if st.Dev == r.watched.Dev && st.Ino == r.watched.Ino {
		return nil
	}
	if r.ino == nil {
		return nil
	}
	// Through Control: Fd would put the descriptor back in blocking mode.
	rc, err := r.ino.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	if err := rc.Control(func(fd uintptr) {
		_, werr = unix.InotifyAddWatch(int(fd), r.paths.Dir, unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF)
	}); err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	r.watched = st
	return nil
}

// loop waits for inotify events; once they have stopped for settle (an
// rm -rf is a burst of them), it repairs the directory. Repairing at the
// first event would refill a directory that rm -rf is still emptying.
func (r *RunDir) loop() {
	const settle = 100 * time.Millisecond
	buf := make([]byte, 4096)
	r.mu.Lock()
	f := r.ino
	r.mu.Unlock()
	if f == nil {
		return
	}
	for {
		// What the events say does not matter: repair looks at what is
		// there. A read error other than a deadline is the Close.
		if err := f.SetReadDeadline(time.Time{}); err != nil {
			return
		}
		n, err := f.Read(buf)
		if err != nil {
			return
		}
		if !r.relevant(buf[:n]) {
			continue
		}
		for {
			if err := f.SetReadDeadline(time.Now().Add(settle)); err != nil {
				return
			}
			_, err := f.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return
			}
		}
		r.repair()
	}
}

// relevant says whether inotify events (raw, as read) may mean something
// the shim keeps is gone: the directory itself, the lock, the socket,
// state.json, or a record while a run is active. The shim's own writes
// (a temporary file renamed over state.json or a record: ".NAME-*.tmp",
// internal/atomicfile) and the records a teardown removes with its run are not: each
// of those would otherwise cost a settle and a repair on every state
// change and reboot.
func (r *RunDir) relevant(events []byte) bool {
	s := r.shim
	s.mu.Lock()
	active := s.run != nil
	s.mu.Unlock()
	for len(events) >= unix.SizeofInotifyEvent {
		mask := binary.NativeEndian.Uint32(events[4:8])
		nameLen := int(binary.NativeEndian.Uint32(events[12:16]))
		end := unix.SizeofInotifyEvent + nameLen
		if end > len(events) {
			return true // cut short: look anyway
		}
		name := strings.TrimRight(string(events[unix.SizeofInotifyEvent:end]), "\x00")
		events = events[end:]
		switch {
		case mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_Q_OVERFLOW|unix.IN_IGNORED) != 0:
			return true
		case strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp"):
		case name == filepath.Base(r.paths.Lock), name == filepath.Base(r.paths.Socket), name == filepath.Base(r.paths.State):
			return true
		case active:
			return true
		}
	}
	return false
}

// repair makes again what is missing of the run directory. It writes
// nothing that is there: its own writes would wake it again.
func (r *RunDir) repair() {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.shim
	s.mu.Lock()
	ended := s.ended
	s.mu.Unlock()
	if r.closed || ended {
		return
	}
	p := r.paths
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		s.Log.Error("run directory: re-create", "dir", p.Dir, "err", err)
		return
	}
	if err := r.watch(); err != nil {
		s.Log.Warn("run directory: watch", "dir", p.Dir, "err", err)
	}
	if !sameFile(r.lock, p.Lock) {
		l, err := shimctl.AcquireLock(p.Lock)
		if err != nil {
			s.Log.Error("run directory: lock file re-created by someone else", "lock", p.Lock, "err", err)
		} else {
			if r.lock != nil {
				r.lock.Close()
			}
			r.lock = l
			s.Log.Warn("run directory: lock file was removed; re-created", "lock", p.Lock)
		}
	}
	if _, err := os.Lstat(p.Socket); errors.Is(err, fs.ErrNotExist) {
		if l, err := Listen(p.Socket); err != nil {
			s.Log.Error("run directory: control socket", "err", err)
		} else {
			go s.Serve(l)
			s.Log.Warn("run directory: control socket was removed; re-created", "socket", p.Socket)
		}
	}
	if _, err := os.Lstat(p.State); errors.Is(err, fs.ErrNotExist) {
		if err := s.rewriteState(); err != nil {
			s.Log.Error("run directory: state", "err", err)
		}
	}
	// The records that prove the run's cgroup and devices its own.
	s.mu.Lock()
	if rr, ok := s.run.(interface{ rerecord() error }); ok {
		if err := rr.rerecord(); err != nil {
			s.Log.Error("run directory: ownership records", "err", err)
		}
	}
	s.mu.Unlock()
}

// sameFile reports whether the open file f is the file at path.
func sameFile(f *os.File, path string) bool {
	if f == nil {
		return false
	}
	var a, b syscall.Stat_t
	if syscall.Fstat(int(f.Fd()), &a) != nil || syscall.Stat(path, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// rewriteState writes state.json again from the shim's status.
func (s *Shim) rewriteState() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeStateLocked()
}
