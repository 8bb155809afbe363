package tests

import (
	"flag"
	"os"
	"regexp"
	"testing"

	"github.com/lxc-shim/lxc-shim/internal/distro"
)

// TestMain starts building the real distributions' root file systems
// (internal/distro) in the background as the package starts, so that a
// first run on a fresh machine builds them while the other end-to-end
// tests run. The distribution tests run last (go test runs files in name
// order: zz_distro_test.go) and find them ready, or wait on the build's
// lock. A build error is reported by the test that needs the tree, which
// calls distro.Rootfs again.
func TestMain(m *testing.M) {
	flag.Parse()
	if os.Geteuid() == 0 && runsDistroTests() {
		go func() {
			for _, i := range distro.Inits {
				if _, err := distro.Rootfs(i); err != nil {
					return
				}
			}
		}()
	}
	os.Exit(m.Run())
}

// runsDistroTests says whether -run selects a distribution test: a run of
// other tests alone must not start a build it would cut short on exit.
func runsDistroTests() bool {
	f := flag.Lookup("test.run")
	if f == nil || f.Value.String() == "" {
		return true
	}
	re, err := regexp.Compile(f.Value.String())
	if err != nil {
		return false
	}
	for _, name := range []string{"TestDistroSystemd", "TestDistroSysVinit", "TestDistroOpenRC"} {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}
