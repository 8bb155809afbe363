package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// cmdCleanup removes what a dead run of NAME left behind (processes and
// cgroup, host network devices, control socket, state directory) and says
// what it removed. It refuses a running container.
func cmdCleanup(e *env, args []string) error {
	fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	pos, _, err := parseArgs(fs, args)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(pos) != 1 {
		return &exitError{code: 2, err: errors.New("usage: cleanup NAME")}
	}
	name := pos[0]
	if err := config.ValidName(name); err != nil {
		return err
	}
	cfg, err := loadConfig(e, name)
	if err != nil {
		// Without its config the cgroup is looked for at its default
		// place and the devices come from the state directory's record.
		fmt.Fprintf(e.stderr, "warning: %s: config not usable (%v); cleaning up by name\n", name, err)
		cfg = &config.Config{Name: name}
	}
	if shimctl.WaitStarting(e.rundir, name, startWait) {
		return fmt.Errorf("cleanup %s: a start is under way and its shim did not take the container's lock within %s; try again", name, startWait)
	}
	done, err := shimctl.Cleanup(cfg, e.rundir, nil)
	for _, d := range done {
		fmt.Fprintf(e.stdout, "removed %s\n", d)
	}
	if err != nil {
		return err
	}
	if len(done) == 0 {
		fmt.Fprintf(e.stdout, "%s: nothing to clean up\n", name)
	}
	return nil
}
