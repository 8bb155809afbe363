package supervise

import (
	"errors"
	"fmt"
	"os"

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
	return func() { f.Close() }, nil
}
