package shimctl

import (
	"errors"
	"fmt"
	"os"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/storage"
)

// The host side of a config: what must exist on this host for a start to
// succeed, checked before anything is created, so that `lxc-initd check
// NAME` and `lxc-initd start` give the same verdict (a missing rootfs or
// bridge was "valid" for check, then failed the start).

// hostCheck checks one part of cfg against the host and returns every
// problem it finds, each naming its file, line and key.
type hostCheck func(cfg *config.Config, rundir string) []error

// hostChecks are the parts a start needs from the host, in boot order. A
// part that gains host-side inputs (the lower layers and images of other
// rootfs storage) is one more entry here; check and start then both run it.
func hostChecks() []hostCheck {
	return []hostCheck{checkRootfs, checkHooks, checkHostNetworks}
}

// CheckHost checks what a start of cfg needs from the host: the rootfs
// and its storage, the links and bridges of its networks (and that no
// other container uses its host device names). It returns every problem,
// one error each (nil when there is none).
func CheckHost(cfg *config.Config, rundir string) []error {
	var errs []error
	for _, c := range hostChecks() {
		errs = append(errs, c(cfg, rundir)...)
	}
	return errs
}

// checkRootfs: the rootfs and its storage as the boot's storage step will
// find them (storage.Check: a directory, the layers of an overlay, an
// image or device with a known file system, ZFS), without changing
// anything.
func checkRootfs(cfg *config.Config, _ string) []error {
	if _, err := storage.Check(cfg.Rootfs); err != nil {
		return []error{err}
	}
	return nil
}

// checkHooks: every hook and network script the host runs (all but the
// start hooks, which the container's init resolves inside its root, where
// a mount may still provide them) is an executable regular file. The
// pre-mount, mount and autodev hooks run in the container's mount
// namespace before the pivot, so they too are host paths.
func checkHooks(cfg *config.Config, _ string) []error {
	var errs []error
	for _, h := range cfg.HookPaths() {
		if h.Inside {
			continue
		}
		pos := h.Pos
		if pos.Key == "" {
			pos.Key = h.Key
		}
		st, err := os.Stat(h.Path)
		switch {
		case err != nil:
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			errs = append(errs, fmt.Errorf("%s: %s: %v", diagPos(pos), h.Path, err))
		case !st.Mode().IsRegular():
			errs = append(errs, fmt.Errorf("%s: %s is not a regular file", diagPos(pos), h.Path))
		case st.Mode().Perm()&0o111 == 0:
			errs = append(errs, fmt.Errorf("%s: %s is not executable", diagPos(pos), h.Path))
		}
	}
	return errs
}

// checkHostNetworks: the links and bridges exist, host names are free
// (netcleanup.Check), one error per problem.
func checkHostNetworks(cfg *config.Config, rundir string) []error {
	err := CheckNetworks(cfg, rundir)
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// diagPos is FILE:LINE: KEY, or FILE: KEY when the line is not known.
func diagPos(p config.Pos) string {
	if p.Line == 0 {
		return fmt.Sprintf("%s: %s", p.File, p.Key)
	}
	return p.String()
}
