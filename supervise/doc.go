// Package supervise is the heart of lxc-shim: the per-container supervisor
// that is the direct parent of the container's init.
//
// It holds the one reaper of the shim's children (Reaper), the lifecycle as
// a state machine with allow-listed transitions (Machine), the restart
// policy, the state files under RUNDIR/NAME (state.json, lock, control
// socket), sd_notify, and the client side that lxc-initd uses to talk to a
// running shim (Client) or to clean up after a dead one (StopOrphan,
// Cleanup).
//
// A shim is idle while its container runs: every wake-up comes from a
// signal (SIGCHLD, SIGTERM), a control connection or a timer that belongs
// to a stop or a backoff. There is no polling loop.
package supervise
