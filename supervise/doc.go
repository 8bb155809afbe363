// Package supervise is the heart of lxc-shim: the per-container supervisor
// that is the direct parent of the container's init.
//
// It holds the one reaper of the shim's children (Reaper), the lifecycle
// as one event loop over allow-listed transitions (lifecycle.go, Machine),
// the boot as an ordered list of steps (boot.go), the restart policy, the
// server side of the control socket, the run directory's repair, and
// sd_notify. What a shim shares with its clients (the run directory's
// files, the control protocol, the client, cleanup after a dead shim) is
// package shimctl, so that lxc-initd does not link the boot engine.
//
// A shim is idle while its container runs: every wake-up comes from a
// signal (SIGCHLD, SIGTERM), a control connection or a timer that belongs
// to a stop or a backoff. There is no polling loop.
package supervise
