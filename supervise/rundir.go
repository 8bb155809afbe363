package supervise

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"

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

	mu      sync.Mutex
	lock    *os.File
	closed  bool
	ino     int            // inotify descriptor
	watched syscall.Stat_t // the directory being watched
}

// KeepRunDir takes over lock (held on paths.Lock) and watches paths.Dir for
// the shim s. Close releases the lock; call it from s.OnExit.
func KeepRunDir(s *Shim, paths shimctl.Paths, lock *os.File) *RunDir {
	r := &RunDir{paths: paths, shim: s, lock: lock, ino: -1}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		s.Log.Warn("run directory: no inotify; it is not re-created if removed", "err", err)
		return r
	}
	r.ino = fd
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
	if r.ino >= 0 {
		unix.Close(r.ino) // the loop's read fails and it returns
		r.ino = -1
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
	if _, err := unix.InotifyAddWatch(r.ino, r.paths.Dir, unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF); err != nil {
		return err
	}
	r.watched = st
	return nil
}

// loop waits for inotify events; once they have stopped for settle (an
// rm -rf is a burst of them), it repairs the directory. Repairing at the
// first event would refill a directory that rm -rf is still emptying.
func (r *RunDir) loop() {
	const settle = 100 // ms
	buf := make([]byte, 4096)
	// What the events say does not matter: repair looks at what is there.
	read := func(fd int) bool {
		n, err := unix.Read(fd, buf)
		return (err == nil && n > 0) || errors.Is(err, unix.EINTR)
	}
	for {
		r.mu.Lock()
		fd := r.ino
		r.mu.Unlock()
		if fd < 0 || !read(fd) {
			return
		}
		for {
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			k, err := unix.Poll(pfd, settle)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil || k <= 0 || !read(fd) {
				break
			}
		}
		r.repair()
	}
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
	if err := shimctl.WriteState(s.Paths.State, &s.st); err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	return nil
}
