package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/lxc-shim/lxc-shim/cgroupfs"
	"github.com/lxc-shim/lxc-shim/kconfig"
)

const checkconfigHelp = `usage: lxc-initd checkconfig [--config FILE] [--mountinfo FILE]

Check a kernel configuration for what lxc-shim needs, like lxc-checkconfig:
namespaces, cgroups and their controllers, veth, macvlan, vlan, bridges,
devpts multiple instances, and more. The configuration is read from
--config FILE, else from the CONFIG environment variable, else from the
first of /proc/config.gz, /boot/config-$(uname -r) and
/lib/modules/$(uname -r)/build/.config that exists; gzipped files are read
as such. The host's cgroup layout (v1, hybrid, v2) is printed from
/proc/self/mountinfo (or --mountinfo FILE).

Each option prints as enabled, enabled as module (loaded or not, for the
running kernel), or missing; a missing option that some feature needs says
which (lxc.net.N.type = vlan ...). Exit status: 0 when every required option
is present, 1 when one is missing or no configuration could be read.
`

// cmdCheckconfig checks the kernel configuration (see checkconfigHelp).
func cmdCheckconfig(e *env, args []string) error {
	fs := flag.NewFlagSet("checkconfig", flag.ContinueOnError)
	file := fs.String("config", "", "kernel config file (default: $CONFIG, /proc/config.gz, /boot/config-RELEASE)")
	mountinfo := fs.String("mountinfo", cgroupfs.SelfMountinfo, "mountinfo file to read the cgroup layout from")
	pos, _, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(e.stdout, checkconfigHelp)
		return nil
	}
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(pos) > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q (use --config FILE or CONFIG=FILE)", pos[0])}
	}

	var uts unix.Utsname
	release := ""
	if err := unix.Uname(&uts); err == nil {
		release = unix.ByteSliceToString(uts.Release[:])
	}
	running := kconfig.ParseVersion(release)

	path, ofRunning := *file, false
	if path == "" {
		path = os.Getenv("CONFIG")
	}
	if path == "" {
		cands := kconfig.Candidates(release)
		for _, c := range cands {
			if _, err := os.Stat(c); err == nil {
				path, ofRunning = c, true
				break
			}
		}
		if path == "" {
			return fmt.Errorf("no kernel config found (tried %s); give one with CONFIG=FILE or --config FILE", strings.Join(cands, ", "))
		}
	}
	k, err := kconfig.Load(path, running)
	if err != nil {
		return err
	}

	var loaded func(string) bool
	if ofRunning {
		loaded = func(mod string) bool {
			_, err := os.Stat("/sys/module/" + mod)
			return err == nil
		}
	}
	var col kconfig.Colors
	if f, ok := e.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		col = kconfig.TerminalColors()
	}

	fmt.Fprintf(e.stdout, "Kernel configuration: %s (Linux %s)\n\n", path, k.Version)
	sections := kconfig.Checks()
	missing := kconfig.Report(e.stdout, sections, kconfig.Evaluate(k, sections, loaded), col)
	fmt.Fprintln(e.stdout)

	if mi, err := os.Open(*mountinfo); err != nil {
		fmt.Fprintf(e.stdout, "--- Cgroup layout ---\ncannot read %s: %v\n", *mountinfo, err)
	} else {
		l, err := kconfig.ReadCgroupLayout(mi, readControllers)
		mi.Close()
		if err != nil {
			fmt.Fprintf(e.stdout, "--- Cgroup layout ---\n%v\n", err)
		} else {
			l.Print(e.stdout)
		}
	}

	if len(missing) > 0 {
		return fmt.Errorf("%s: required kernel option(s) missing: %s", path, strings.Join(missing, ", "))
	}
	return nil
}

// readControllers reads a v2 hierarchy's cgroup.controllers; a missing
// file reads as no controllers.
func readControllers(p string) ([]byte, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
