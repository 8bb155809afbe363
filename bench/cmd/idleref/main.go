// Command idleref is the benchmark's reference point for memory: the
// smallest useful Go daemon, one that only waits for a signal. Its RSS and
// PSS, measured beside the shim's, say how much of the shim's memory is the
// Go runtime's floor and how much is what the shim links and runs.
//
// Build tags with_net, with_netlink, with_securejoin,
// with_systemd and with_shim link more packages (unused, but their init
// functions run), so the harness can measure what each one costs, in
// memory and in start time (IDLEREF_EXIT=1).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// IDLEREF_EXIT=1: exit at once, to time a start of the process
	// (exec, runtime and package init) for each build.
	if os.Getenv("IDLEREF_EXIT") == "1" {
		return
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
