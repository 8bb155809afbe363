//go:build !cgo

package nsenter

// Environment variables the constructor reads (see nsenter.c).
const (
	EnvPid       = "_LXC_SHIM_ATTACH_PID"
	EnvErrFd     = "_LXC_SHIM_ATTACH_ERRFD"
	EnvCgroupFds = "_LXC_SHIM_ATTACH_CGROUP_FDS"
	EnvKeyring   = "_LXC_SHIM_ATTACH_KEYRING"
)

// Available is false: without cgo there is no constructor, and a Go
// program cannot join a mount namespace once its runtime runs threads.
const Available = false

// Entered is always false without cgo.
func Entered() bool { return false }
