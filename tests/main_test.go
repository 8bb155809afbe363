package tests

import (
	"os"
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
	if os.Geteuid() == 0 && os.Getenv("LXC_SHIM_NO_PREBUILD") == "" {
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
