// Package shimctl is what a shim (package supervise) shares with the
// commands that talk to it (lxc-initd): the files of RUNDIR/NAME (Paths,
// the lock, state.json and the Status it holds, the states), the control
// protocol (Request, Response) and its Client, the abstract-socket second
// way in, and what is done without a shim: Inspect (status from the files
// and /proc), StopOrphan and Cleanup (a dead shim's container and
// leftovers, touching only what the records prove the container's).
//
// It imports cgroup and netcleanup for those proofs, never the launcher
// (package container): lxc-initd links no boot engine to read a status.
package shimctl
