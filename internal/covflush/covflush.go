// Package covflush writes the coverage counters of a process built with
// `go build -cover` that never exits normally: the container's stage ends
// by exec'ing the init, so Go's exit-time flush to $GOCOVERDIR never runs,
// and by then the stage has pivoted into the container's root, where
// $GOCOVERDIR's path names nothing. The directory is opened on the host
// first and written through that descriptor at the end.
//
// Outside a coverage run ($GOCOVERDIR unset) it does nothing; in a binary
// built without -cover runtime/coverage refuses and nothing is written. The
// binary must be built with -covermode=atomic (make cover does): writing
// counters of a running process needs it.
package covflush

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/coverage"

	"golang.org/x/sys/unix"
)

// Dir is $GOCOVERDIR held open (close-on-exec: it never reaches the init).
type Dir struct {
	f *os.File
}

// Built reports whether this binary was built with -cover.
func Built() bool { return coverage.WriteMeta(io.Discard) == nil }

// Open opens $GOCOVERDIR, or returns nil when there is none.
func Open() *Dir {
	p := os.Getenv("GOCOVERDIR")
	// Only a -cover build does anything: a production lxc-shim started
	// with GOCOVERDIR in its environment must never hold (and fchdir to)
	// a host directory in the container's stage.
	if p == "" || !Built() {
		return nil
	}
	fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	return &Dir{f: os.NewFile(uintptr(fd), p)}
}

// Flush writes the binary's meta-data and this process's counters so far
// into the directory, reached through its descriptor (fchdir there and
// back: the container may have no /proc). d may be nil. The error is for a
// log: a test run's data is never a reason to fail.
func (d *Dir) Flush() error {
	if d == nil {
		return nil
	}
	back, err := unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("coverage: open the working directory: %w", err)
	}
	defer unix.Close(back)
	if err := unix.Fchdir(int(d.f.Fd())); err != nil {
		return fmt.Errorf("coverage: %s: %w", d.f.Name(), err)
	}
	werr := errors.Join(coverage.WriteMetaDir("."), coverage.WriteCountersDir("."))
	if err := unix.Fchdir(back); err != nil {
		// The caller is about to exec in the wrong directory: say so.
		return errors.Join(werr, fmt.Errorf("coverage: back to the working directory: %w", err))
	}
	return werr
}
