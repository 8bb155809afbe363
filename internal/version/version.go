// Package version says which build of lxc-shim is running
// (`lxc-initd --version`, `lxc-shim --version`): the git description
// `make build` links in, else what the Go toolchain recorded in the
// binary (module version, VCS revision).
package version

import (
	"runtime/debug"
	"strings"
)

// stamp is what `make build` sets with -ldflags -X (`git describe
// --always --dirty` of the tree it built); empty in other builds.
var stamp string

// String is "STAMP (GO-VERSION)" for a build by make, else "VERSION (git
// REVISION[, modified]; GO-VERSION)" with what the toolchain recorded: the
// module's version ("(devel)" for a build from a checkout) and, when it
// stamped the build from git (-buildvcs), the commit and whether the tree
// had changes.
func String() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build information)"
	}
	if stamp != "" {
		return stamp + " (" + bi.GoVersion + ")"
	}
	var rev string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	var details []string
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		d := "git " + rev
		if modified {
			d += ", modified"
		}
		details = append(details, d)
	}
	details = append(details, bi.GoVersion)
	return bi.Main.Version + " (" + strings.Join(details, "; ") + ")"
}
