// Package sealedexe gives a process a way to re-execute its own binary
// without ever making the host's executable reachable from a container
// (CVE-2019-5736): the copy that is executed is a sealed memfd, so what a
// container process can get at through /proc/PID/exe is that copy, which
// no one can write, grow or shrink, and never the file on the host.
//
// Both re-executions of lxc-shim use it: lxc-shim's stage (package
// container) and the attach child of `lxc-initd attach`. The stage runs,
// where the kernel allows it, from a read-only view of the binary instead
// (View, view.go), the same protection without a copy. The copy lives
// only for the exec: the caller passes it to the child as one of its
// descriptors, execs /proc/self/fd/N (ChildPath), and closes its own copy
// as soon as the child runs, so a running shim holds none; the child's
// mapping goes away when it execs the container's program.
package sealedexe

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Seals is what a copy carries: no more seals, no shrinking, no growing,
// no writing (runc's libcontainer/exeseal applies the same set).
const Seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// fSealExec (Linux 6.3) also freezes the mode bits, so the copy cannot be
// made non-executable or, more to the point, anything else later. Not in
// every x/sys version, and refused by older kernels: best effort.
const fSealExec = 0x20

// Self returns a sealed, executable, close-on-exec memfd named name holding
// a copy of the running binary (/proc/self/exe). The caller closes it once
// the child that executes it has started.
func Self(name string) (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("sealed copy of own binary: %w", err)
	}
	defer src.Close()
	return Copy(src, name)
}

// Copy returns a sealed, executable, close-on-exec memfd named name holding
// what src holds.
func Copy(src *os.File, name string) (*os.File, error) {
	st, err := src.Stat()
	if err != nil {
		return nil, fmt.Errorf("sealed copy of %s: %w", src.Name(), err)
	}
	fd, err := memfd(name)
	if errors.Is(err, unix.EACCES) {
		// Linux 6.6 and later refuse MFD_EXEC under vm.memfd_noexec = 2.
		return nil, fmt.Errorf("sealed copy of %s: memfd_create: %w (sysctl vm.memfd_noexec is 2: executable memfds are forbidden)", src.Name(), err)
	}
	if err != nil {
		return nil, fmt.Errorf("sealed copy of %s: memfd_create: %w", src.Name(), err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	// io.Copy between two *os.File uses copy_file_range/sendfile: no
	// round trip through user space.
	n, err := io.Copy(f, src)
	if err == nil && n != st.Size() {
		err = fmt.Errorf("copied %d bytes of %d", n, st.Size())
	}
	if err == nil {
		err = seal(f)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sealed copy of %s: %w", src.Name(), err)
	}
	return f, nil
}

// memfd creates an executable memfd that can be sealed. MFD_EXEC (Linux
// 6.3) is asked for because vm.memfd_noexec = 1 makes memfds
// non-executable by default; kernels before 6.3 refuse the flag with
// EINVAL, and theirs are executable anyway.
func memfd(name string) (int, error) {
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate(name, flags|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate(name, flags)
	}
	return fd, err
}

func seal(f *os.File) error {
	// r-x for everyone: nothing that reopens it through /proc gets write
	// permission from the mode either.
	if err := f.Chmod(0o555); err != nil {
		return err
	}
	_, _ = unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, fSealExec)
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, Seals); err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	return nil
}

// IsSealed reports whether f is a memfd carrying every one of Seals.
func IsSealed(f *os.File) bool {
	s, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	return err == nil && s&Seals == Seals
}

// ChildPath is the path a child executes to run the copy it received as
// descriptor fd. The copy must be among the child's own descriptors (Go's
// fork shuffles descriptors before execve, so a number of the parent's
// may by then name another file).
func ChildPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }
