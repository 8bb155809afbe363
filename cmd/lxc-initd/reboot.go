package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/lxc-shim/lxc-shim/shimctl"
)

// cmdReboot sends lxc.signal.reboot (default SIGINT) to the container's
// init through its shim; the container reboots itself, and the shim boots
// it again when the init reports the reboot.
func cmdReboot(e *env, args []string) error {
	fs := flag.NewFlagSet("reboot", flag.ContinueOnError)
	pos, _, err := parseArgs(fs, args)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(pos) != 1 {
		return &exitError{code: 2, err: errors.New("usage: reboot NAME")}
	}
	name := pos[0]
	resp, err := shimctl.NewClient(e.rundir, name).Reboot(context.Background())
	if errors.Is(err, shimctl.ErrNotResponding) {
		// The request carried its deadline: a shim that wakes up later
		// drops it instead of rebooting behind our back.
		return fmt.Errorf("reboot %s: %w; the container was not rebooted (lxc-initd stop %s stops it without the shim)", name, err, name)
	}
	if errors.Is(err, shimctl.ErrNoShim) {
		if st, ierr := shimctl.Inspect(e.rundir, name); ierr == nil && st.Running() {
			return fmt.Errorf("reboot %s: the container runs without its shim, which alone can boot it again; stop and start it", name)
		}
		return fmt.Errorf("reboot %s: not running", name)
	}
	if err != nil {
		return fmt.Errorf("reboot %s: %w", name, err)
	}
	fmt.Fprintf(e.stdout, "%s: sent %s to the init; it reboots\n", name, resp.Signal)
	return nil
}
