package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// startWait bounds how long stop and cleanup wait for a start under way
// (shimctl.WaitStarting): a shim takes its lock within milliseconds of
// its exec.
const startWait = 3 * time.Second

// cmdStop stops NAME gracefully (the halt signal, then the kill after -t
// seconds) and returns 0 once it is gone, also when it was not running. A
// container whose shim died is stopped from its state directory; one whose
// shim does not answer is stopped the same way and the shim killed, so
// that stop returns within -t and a few seconds whatever the shim does.
func cmdStop(e *env, args []string) error {
	fs := flag.NewFlagSet("stop", flag.ContinueOnError)
	secs := fs.Float64("t", -1, fmt.Sprintf("seconds to wait after the halt signal before the kill (default: the shim's --stop-timeout, %g)", config.DefaultStopTimeout.Seconds()))
	kill := fs.Bool("kill", false, "no grace period: lxc.signal.stop and kill every process at once")
	pos, _, err := parseArgs(fs, args)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(pos) != 1 {
		return &exitError{code: 2, err: errors.New("usage: stop NAME [-t SECONDS] [--kill]")}
	}
	name := pos[0]
	timeout := time.Duration(-1)
	if *secs >= 0 {
		timeout = time.Duration(*secs * float64(time.Second))
	}
	// A start killed after it started the shim and before the shim took
	// its lock: the shim is about to boot the container; wait for it.
	if shimctl.WaitStarting(e.rundir, name, startWait) {
		return fmt.Errorf("stop %s: a start is under way and its shim did not take the container's lock within %s; try again", name, startWait)
	}
	st, err := shimctl.Inspect(e.rundir, name)
	if err != nil || !st.Running() {
		if _, cerr := loadConfig(e, name); cerr != nil && err != nil {
			return &exitError{code: 1, err: fmt.Errorf("%s: no such container: %v", name, cerr)}
		}
		// Not running, but a dead shim may have left its host side:
		// stopContainer cleans that up from the state directory.
		// A stuck shim is ended whatever its state says.
		if err == nil && (st.ShimNotResponding || !st.ShimAlive && st.State.Active()) {
			out, serr := stopContainer(e, name, st, timeout, *kill)
			if serr != nil {
				return serr
			}
			if out.Note != "" {
				fmt.Fprintf(e.stdout, "%s: %s\n", name, out.Note)
			}
		}
		fmt.Fprintf(e.stdout, "%s is not running\n", name)
		return nil
	}
	orphan := !st.ShimAlive
	if orphan && timeout < 0 {
		timeout = config.DefaultStopTimeout
	}
	out, err := stopContainer(e, name, st, timeout, *kill)
	if err != nil {
		return err
	}
	switch out.Result {
	case shimctl.StopNotRunning:
		fmt.Fprintf(e.stdout, "%s is not running\n", name)
	case shimctl.StopForced:
		// --kill asked for no grace period: "after the timeout" would
		// blame a timeout that never ran.
		if *kill {
			fmt.Fprintf(e.stdout, "%s killed (--kill)\n", name)
		} else {
			fmt.Fprintf(e.stdout, "%s stopped (forced: killed after the timeout)\n", name)
		}
	default:
		fmt.Fprintf(e.stdout, "%s stopped (%s)\n", name, out.Result)
	}
	if out.Note != "" {
		fmt.Fprintf(e.stdout, "%s: %s\n", name, out.Note)
	}
	if orphan {
		fmt.Fprintf(e.stdout, "%s had no shim; stopped from its state directory\n", name)
	}
	return nil
}
