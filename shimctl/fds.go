package shimctl

import (
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// Descriptors. A shim lives as long as its container and is the parent of
// its stage: a descriptor it inherited (the lock file of the init script
// that ran lxc-initd, a pipe of the shell) would be held open for the
// container's life, and would be one step from the container. lxc-initd
// marks everything close-on-exec before it starts a shim (CloseOnExecFrom),
// and the shim closes what it inherited anyway (CloseInherited).

// closeRangeCloexec is CLOSE_RANGE_CLOEXEC of close_range(2) (Linux 5.11).
const closeRangeCloexec = 1 << 2

// CloseOnExecFrom marks every descriptor from fd up close-on-exec, so that
// a program started next receives only what it is given explicitly.
func CloseOnExecFrom(fd int) {
	if err := unix.CloseRange(uint(fd), ^uint(0), closeRangeCloexec); err == nil {
		return
	}
	for _, n := range openFDs(fd) {
		unix.CloseOnExec(n)
	}
}

// CloseInherited closes every descriptor from 3 up that this process
// inherited, except keep. Right after exec every open descriptor is one
// that was not close-on-exec, while the Go runtime opens all of its own
// close-on-exec: the flag tells the two apart.
func CloseInherited(keep ...int) {
	for _, n := range openFDs(3) {
		if slices.Contains(keep, n) {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(n), unix.F_GETFD, 0)
		if err == nil && flags&unix.FD_CLOEXEC == 0 {
			unix.Close(n)
		}
	}
}

// openFDs lists this process's descriptors from fd up.
func openFDs(from int) []int {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	self := int(d.Fd())
	var out []int
	for _, s := range names {
		if n, err := strconv.Atoi(s); err == nil && n >= from && n != self {
			out = append(out, n)
		}
	}
	d.Close()
	return out
}
