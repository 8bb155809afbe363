// Package nsenter is the part of `lxc-initd attach` that must run before
// the Go runtime starts: a C constructor that, when the process was started
// with _LXC_SHIM_ATTACH_PID in its environment, makes itself non-dumpable,
// closes every descriptor the protocol does not need, moves into the
// container's cgroups, joins the namespaces of the container's init and
// forks once (the child with a new session keyring when asked), so that the
// Go code that follows runs as a process inside the container (its PID
// namespace included). See nsenter.c for the protocol.
//
// A program opts in by importing this package; without the variable the
// constructor does nothing.
//go:build cgo

package nsenter

/*
#cgo CFLAGS: -Wall -Wextra -Wno-unused-parameter
int lxc_shim_nsenter_entered(void);
*/
import "C"

// Environment variables the constructor reads. The caller sets them on the
// re-executed process; see nsenter.c.
const (
	EnvPid       = "_LXC_SHIM_ATTACH_PID"
	EnvErrFd     = "_LXC_SHIM_ATTACH_ERRFD"
	EnvPidfd     = "_LXC_SHIM_ATTACH_PIDFD"
	EnvCgroupFds = "_LXC_SHIM_ATTACH_CGROUP_FDS"
	EnvKeyring   = "_LXC_SHIM_ATTACH_KEYRING" // "new": a new session keyring
)

// Available reports whether this build has the constructor (cgo).
const Available = true

// Entered reports whether the constructor joined a container in this
// process: the process is the child that runs inside the container.
func Entered() bool { return C.lxc_shim_nsenter_entered() != 0 }
