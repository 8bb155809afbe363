package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// cmdCheck validates a container's config: `check NAME | --config FILE
// [--offline] [--json]`. Exit 0 when valid (warnings on stderr), 1 with
// every error of the file, one "FILE:LINE: KEY: message" a line. Unless
// --offline, it then checks the host as start will (shimctl.CheckHost: the
// rootfs, the links and bridges), so that "valid" means start will not
// fail on them.
func cmdCheck(e *env, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	file := fs.String("config", "", "config file to check instead of NAME's")
	offline := fs.Bool("offline", false, "check the file alone, not the host (rootfs, links, bridges)")
	asJSON := fs.Bool("json", false, "print the model (or the errors) as JSON")
	pos, _, err := parseArgs(fs, args)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("%w (usage: check NAME | --config FILE [--offline] [--json])", err)}
	}
	var name, path string
	switch {
	case *file != "" && len(pos) == 0:
		path, name = *file, nameFromPath(*file)
		// The container would get this name: check it as start will.
		if err := config.ValidName(name); err != nil {
			return &exitError{code: 1, err: fmt.Errorf("%s: the name from its path: %w", path, err)}
		}
	case *file == "" && len(pos) == 1:
		name = pos[0]
		path, err = config.Find(name, e.lxcpath)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
	default:
		return &exitError{code: 2, err: errors.New("usage: check NAME | --config FILE [--offline] [--json]")}
	}
	cfg, err := config.Load(path, name)
	if err != nil {
		var errs *config.Errors
		if !errors.As(err, &errs) {
			return err
		}
		printWarnings(e, errs.Warnings)
		for _, d := range errs.List {
			fmt.Fprintln(e.stderr, d.String())
		}
		if *asJSON {
			out, _ := json.MarshalIndent(errs, "", "  ")
			fmt.Fprintf(e.stdout, "%s\n", out)
		}
		return &exitError{code: 1, err: fmt.Errorf("%s: %d error(s)", path, len(errs.List))}
	}
	warnings := cfg.Warnings
	if d, ok := cfg.HostExposure(); ok {
		warnings = append(warnings[:len(warnings):len(warnings)], d)
	}
	printWarnings(e, warnings)
	if !*offline {
		if host := shimctl.CheckHost(cfg, e.rundir); len(host) > 0 {
			for _, h := range host {
				fmt.Fprintln(e.stderr, h)
			}
			if *asJSON {
				errs := &config.Errors{Warnings: warnings}
				for _, h := range host {
					errs.List = append(errs.List, config.Diagnostic{Message: h.Error()})
				}
				out, _ := json.MarshalIndent(errs, "", "  ")
				fmt.Fprintf(e.stdout, "%s\n", out)
			}
			return &exitError{code: 1, err: fmt.Errorf("%s: %d error(s) on this host (--offline checks the file alone)", path, len(host))}
		}
	}
	if *asJSON {
		out, err := cfg.JSON()
		if err != nil {
			return err
		}
		_, err = e.stdout.Write(out)
		return err
	}
	fmt.Fprintf(e.stdout, "%s: valid (%d warning(s))\n", path, len(warnings))
	if cfg.Unprivileged() {
		uid, _ := cfg.HostID('u', 0)
		gid, _ := cfg.HostID('g', 0)
		fmt.Fprintf(e.stdout, "%s: unprivileged: root inside is host uid %d, gid %d (lxc.idmap)\n", path, uid, gid)
	}
	return nil
}

func printWarnings(e *env, ws []config.Diagnostic) {
	for _, w := range ws {
		fmt.Fprintf(e.stderr, "warning: %s\n", w.String())
	}
}

// nameFromPath guesses the container name of a config file given with
// --config: the directory of ".../NAME/config", or NAME of "NAME.conf".
func nameFromPath(path string) string {
	base := filepath.Base(path)
	if base == "config" {
		if abs, err := filepath.Abs(path); err == nil {
			return filepath.Base(filepath.Dir(abs))
		}
	}
	return strings.TrimSuffix(base, ".conf")
}
