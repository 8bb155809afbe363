package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// TestIncludeCycle: a file including itself through another is reported
// with the chain, and reading stops instead of looping.
func TestIncludeCycle(t *testing.T) {
	_, err, dir := loadText(t, "lxc.include = a.conf\nlxc.uts.name = c1\n", map[string]string{
		"a.conf":     "lxc.tty.max = 1\nlxc.include = sub/b.conf\n",
		"sub/b.conf": "lxc.include = ../config\n",
	}, hostNoLSM)
	if err == nil {
		t.Fatal("no error for an include cycle")
	}
	equalLines(t, "errors", errLines(t, err, dir), []string{
		"sub/b.conf:1: lxc.include: include cycle: config -> a.conf -> sub/b.conf -> config",
	})
}

// TestIncludeSelf: the shortest cycle.
func TestIncludeSelf(t *testing.T) {
	_, err, dir := loadText(t, "lxc.include = config\n", nil, hostNoLSM)
	equalLines(t, "errors", errLines(t, err, dir), []string{
		"config:1: lxc.include: include cycle: config -> config",
	})
}

// TestIncludeNested: nested includes, a directory read in name order
// (only *.conf), and later lines overriding earlier ones in reading order.
func TestIncludeNested(t *testing.T) {
	c, err, _ := loadText(t, "lxc.tty.max = 1\nlxc.include = d/\nlxc.group = last\n", map[string]string{
		"d/20-b.conf":   "lxc.group = b\nlxc.include = ../deep/x.conf\n",
		"d/10-a.conf":   "lxc.group = a\nlxc.tty.max = 2\n",
		"d/30-c.txt":    "lxc.group = not-read\n",
		"d/sub.conf/ok": "lxc.group = not-read-either\n",
		"deep/x.conf":   "lxc.group = deep\n",
	}, hostNoLSM)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Groups, []string{"a", "b", "deep", "last"}) || c.TTY.Max != 2 {
		t.Errorf("groups %v tty %d", c.Groups, c.TTY.Max)
	}
}

// TestIncludeNotRegular: an include of a device or FIFO fails rather
// than hangs.
func TestIncludeNotRegular(t *testing.T) {
	_, err, dir := loadText(t, "lxc.include = /dev/null\n", nil, hostNoLSM)
	equalLines(t, "errors", errLines(t, err, dir), []string{
		"config:1: lxc.include: read included file /dev/null: not a regular file",
	})
}

// TestErrorsListEveryProblem: Load reports all errors of a file, in order,
// and its warnings, instead of stopping at the first.
func TestErrorsListEveryProblem(t *testing.T) {
	_, err, dir := loadText(t, "lxc.tty.max = x # c\nlxc.frobnicate = 1\nlxc.net.0.type = veth\nlxc.net.0.mtu = 1\n", nil, hostNoLSM)
	var errs *Errors
	lines := errLines(t, err, dir)
	equalLines(t, "errors", lines, []string{
		`config:1: lxc.tty.max: invalid number "x"`,
		`config:2: lxc.frobnicate: unknown key`,
		`config:4: lxc.net.0.mtu: invalid MTU: 1 out of range 68-65535`,
	})
	if ok := asErrors(err, &errs); !ok || len(errs.Warnings) != 1 {
		t.Errorf("warnings %v", errs)
	}
}

func asErrors(err error, dst **Errors) bool {
	e, ok := err.(*Errors)
	*dst = e
	return ok
}

// TestFind: NAME/config, then NAME.conf, in lxcpath order.
func TestFind(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(b, "c1"), 0o755))
	must(os.WriteFile(filepath.Join(b, "c1", "config"), nil, 0o644))
	must(os.WriteFile(filepath.Join(a, "c2.conf"), nil, 0o644))
	if p, err := Find("c1", []string{a, b}); err != nil || p != filepath.Join(b, "c1", "config") {
		t.Errorf("Find c1 = %q, %v", p, err)
	}
	if p, err := Find("c2", []string{a, b}); err != nil || p != filepath.Join(a, "c2.conf") {
		t.Errorf("Find c2 = %q, %v", p, err)
	}
	if _, err := Find("c3", []string{a, b}); !os.IsNotExist(err) && !errorsIsNotExist(err) {
		t.Errorf("Find c3: %v, want not-exist", err)
	}
	if _, err := Find("../etc", []string{a}); err == nil {
		t.Error("Find accepted a name with a slash")
	}
	// LXC's own files beside the configs in /etc/lxc are no containers;
	// a directory of that name is.
	must(os.WriteFile(filepath.Join(a, "default.conf"), []byte("lxc.net.0.type = veth\n"), 0o644))
	must(os.WriteFile(filepath.Join(a, "lxc.conf"), nil, 0o644))
	for _, n := range []string{"default", "lxc"} {
		if p, err := Find(n, []string{a}); !errorsIsNotExist(err) {
			t.Errorf("Find %s = %q, %v; want not-exist (LXC's own %s.conf)", n, p, err, n)
		}
	}
	must(os.MkdirAll(filepath.Join(b, "default"), 0o755))
	must(os.WriteFile(filepath.Join(b, "default", "config"), nil, 0o644))
	if p, err := Find("default", []string{a, b}); err != nil || p != filepath.Join(b, "default", "config") {
		t.Errorf("Find default = %q, %v; want its directory's config", p, err)
	}
}

// TestMissingConfig: an unreadable top-level file is one error naming it.
func TestMissingConfig(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadWith(filepath.Join(dir, "nope"), "c1", hostNoLSM)
	equalLines(t, "errors", errLines(t, err, dir), []string{
		"nope: read config: no such file or directory",
	})
}

// TestIncludeMissingDirectory: an include of a directory path (a trailing
// '/') that does not exist is skipped with a warning, as LXC skips it:
// every *.userns.conf includes userns.conf.d/, which Debian does not ship.
// A missing file stays an error.
func TestIncludeMissingDirectory(t *testing.T) {
	c, err, dir := loadText(t, "lxc.include = userns.conf\nlxc.tty.max = 2\n", map[string]string{
		"userns.conf": "lxc.group = u\nlxc.include = userns.conf.d/\n",
	}, hostNoLSM)
	if err != nil {
		t.Fatal(err)
	}
	if c.TTY.Max != 2 || !slices.Equal(c.Groups, []string{"u"}) {
		t.Errorf("tty %d groups %v", c.TTY.Max, c.Groups)
	}
	equalLines(t, "warnings", diagLines(c.Warnings, dir), []string{
		"userns.conf:2: lxc.include: include directory userns.conf.d does not exist; skipped (as LXC does)",
	})

	_, err, dir = loadText(t, "lxc.include = missing.conf\n", nil, hostNoLSM)
	equalLines(t, "errors", errLines(t, err, dir), []string{
		"config:1: lxc.include: include: stat missing.conf: no such file or directory",
	})
}

// TestIncludeUserns: LXC's own userns.conf (which includes the missing
// userns.conf.d/) reads without an error where lxc-templates is installed.
func TestIncludeUserns(t *testing.T) {
	const userns = "/usr/share/lxc/config/userns.conf"
	_, err := os.Stat(userns)
	testutil.RequireInstalled(t, "lxc (userns.conf)", err)
	if _, err := os.Stat("/usr/share/lxc/config/userns.conf.d"); err == nil {
		t.Skip("this host ships userns.conf.d/")
	}
	_, err, _ = loadText(t, "lxc.include = "+userns+"\n", nil, hostNoLSM)
	var errs *Errors
	if asErrors(err, &errs) {
		for _, e := range errs.List {
			if strings.Contains(e.String(), "userns.conf.d") {
				t.Errorf("error for the missing userns.conf.d/: %s", e)
			}
		}
	}
}
