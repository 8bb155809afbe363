package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/container"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// cmdShift chowns a stopped container's rootfs to its lxc.idmap once:
// `shift NAME --to-map`. (An unshifted rootfs can instead run as it is
// with lxc.rootfs.options = idmap=container.)
func cmdShift(e *env, args []string) error {
	fs := flag.NewFlagSet("shift", flag.ContinueOnError)
	toMap := fs.Bool("to-map", false, "chown the rootfs from container ids to the host ids of lxc.idmap")
	pos, _, err := parseArgs(fs, args)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(pos) != 1 || !*toMap {
		return &exitError{code: 2, err: errors.New("usage: shift NAME --to-map")}
	}
	name := pos[0]
	path, err := config.Find(name, e.lxcpath)
	if err != nil {
		return err
	}
	// The rootfs does not fit the map yet: that is what is being fixed.
	cfg, err := config.LoadWith(path, name, config.Options{SkipRootfsOwners: true})
	if err != nil {
		return err
	}
	if st, err := shimctl.Inspect(e.rundir, name); err == nil && st.Running() {
		return fmt.Errorf("shift %s: the container is running; stop it first", name)
	}
	n, err := container.ShiftRootfs(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %d files of %s shifted to lxc.idmap\n", name, n, cfg.Rootfs.Path)
	return nil
}
