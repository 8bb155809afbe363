package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// TestShimValidatesName: lxc-shim, started directly (systemd runs it with
// the unit's instance name), refuses a name lxc-initd would refuse, and a
// name whose control socket would not fit under its --rundir, before it
// creates its state or log.
func TestShimValidatesName(t *testing.T) {
	bins := testutil.Binaries(t)
	root := t.TempDir()
	lxcpath, logdir := filepath.Join(root, "lxc"), filepath.Join(root, "log")
	longRun := filepath.Join(root, strings.Repeat("r", 60))
	cases := []struct{ rundir, name, says string }{
		{filepath.Join(root, "run"), "../x", `invalid container name "../x"`},
		{filepath.Join(root, "run"), strings.Repeat("n", 100), "100 bytes, at most 80"},
		{longRun, strings.Repeat("n", config.MaxNameLen), "use a shorter name or run directory"},
	}
	for _, tc := range cases {
		testutil.WriteConfig(t, lxcpath, filepath.Base(tc.name), "lxc.rootfs.path = /nonexistent\n")
		cmd := exec.Command(bins.Shim, "-P", lxcpath, "--rundir", tc.rundir, "--logdir", logdir, tc.name, "--foreground")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.says) {
			t.Errorf("lxc-shim %.20s…: %v, output %q; want a failure saying %s", tc.name, err, out, tc.says)
		}
		for _, d := range []string{tc.rundir, logdir} {
			if ents, _ := os.ReadDir(d); len(ents) > 0 {
				t.Errorf("lxc-shim %.20s… created %s/%s", tc.name, d, ents[0].Name())
			}
		}
	}
}
