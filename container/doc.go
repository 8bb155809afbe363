// Package container is lxc-shim's native launcher: it creates a container's
// namespaces, prepares its root file system, /dev, console and ttys from the
// config model, drops capabilities and execs the container's init as PID 1.
//
// The work is split in two processes. Spawn (in the shim) re-executes the
// shim's own binary ("the stage") with clone flags for the new namespaces;
// the stage reads its plan from an inherited pipe and waits. The shim then
// puts the stage into its cgroup and moves the network devices in, and
// Release lets the stage go on: it builds the mounts, pivots into the
// rootfs, applies the rest of the config and execs the init, which keeps the
// stage's PID. Release returns once that exec succeeded, or with the one
// error (step, key, file:line, path) that stopped the stage.
//
// The cgroup namespace is not a clone flag: the stage must be rooted at the
// container's cgroup, which the shim moves it into only after the clone. The
// stage therefore unshares CLONE_NEWCGROUP itself, right after release, on
// the OS thread it keeps locked until exec (namespaces, capabilities and
// personality are per thread, so every step up to exec runs on that thread).
package container
