package treecheck

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxc-shim/lxc-shim/config"
)

// repoRoot is the directory holding go.mod, above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// The shipped OpenRC script and its conf.d, and the systemd units, repeat
// the defaults in shell and unit syntax; they must say what config says.
func TestShippedDefaultsMatchConfig(t *testing.T) {
	root := repoRoot(t)
	secs := fmt.Sprintf("%g", config.DefaultStopTimeout.Seconds())
	for _, c := range []struct{ file, want string }{
		{"init.d/lxc", `: "${lxc_path:=` + config.DefaultLXCPath + `}"`},
		{"init.d/lxc", `: "${lxc_stop_timeout:=` + secs + `}"`},
		{"init.d/lxc", `${lxc_logdir:-` + config.DefaultLogDir + `}`},
		{"init.d/conf.d/lxc", `#lxc_path="` + config.DefaultLXCPath + `"`},
		{"init.d/conf.d/lxc", `#lxc_stop_timeout=` + secs},
		{"init.d/conf.d/lxc", `#lxc_rundir="` + config.DefaultRunDir + `"`},
		{"init.d/conf.d/lxc", `#lxc_logdir="` + config.DefaultLogDir + `"`},
		{"systemd/lxc-shim@.service", `along ` + config.DefaultLXCPath + `)`},
		{"systemd/lxc-shim@.service", `(` + secs + ` s by default)`},
	} {
		b, err := os.ReadFile(filepath.Join(root, c.file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), c.want) {
			t.Errorf("%s does not say %q (package config's default)", c.file, c.want)
		}
	}
}
