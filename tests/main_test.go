package tests

import (
	"flag"
	"os"
	"regexp"
	"testing"

	"github.com/lxc-shim/lxc-shim/internal/distro"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// TestMain starts building the real distributions' root file systems
// (internal/distro) in the background as the package starts, so that a
// first run on a fresh machine builds them while the other end-to-end
// tests run. The distribution tests run last (go test runs files in name
// order: zz_distro_test.go) and find them ready, or wait on the build's
// lock. A build error is reported by the test that needs the tree, which
// calls distro.Rootfs again.
func TestMain(m *testing.M) {
	testutil.CoverChildren()
	flag.Parse()
	built := make(chan struct{})
	inits := selectedInits()
	if os.Geteuid() != 0 {
		inits = nil
	}
	go func() {
		defer close(built)
		for _, i := range inits {
			if _, err := distro.Rootfs(i); err != nil {
				return
			}
		}
	}()
	code := m.Run()
	// Never exit in the middle of a build (it would leave a half-made
	// tree and its debootstrap behind); the selected tests waited for
	// these trees anyway, unless they failed before.
	<-built
	os.Exit(code)
}

// distroTests names the test of each init.
var distroTests = map[distro.Init]string{
	distro.Systemd: "TestDistroSystemd", distro.SysVinit: "TestDistroSysVinit", distro.OpenRC: "TestDistroOpenRC",
}

// selectedInits are the inits whose distribution test -run and -skip
// select: only their trees are built ahead.
func selectedInits() []distro.Init {
	match := func(flagName string, empty bool) func(string) bool {
		f := flag.Lookup(flagName)
		if f == nil || f.Value.String() == "" {
			return func(string) bool { return empty }
		}
		re, err := regexp.Compile(f.Value.String())
		if err != nil {
			return func(string) bool { return false }
		}
		return re.MatchString
	}
	run, skip := match("test.run", true), match("test.skip", false)
	var out []distro.Init
	for _, i := range distro.Inits {
		if name := distroTests[i]; run(name) && !skip(name) {
			out = append(out, i)
		}
	}
	return out
}
