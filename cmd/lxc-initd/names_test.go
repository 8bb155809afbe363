package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// nameDirs is a test's own lxc path, run and log directories.
type nameDirs struct{ root, lxcpath, rundir, logdir string }

func newNameDirs(t *testing.T) nameDirs {
	root := t.TempDir()
	return nameDirs{root, filepath.Join(root, "lxc"), filepath.Join(root, "rundir"), filepath.Join(root, "logdir")}
}

func (d nameDirs) run(args ...string) (int, string, string) {
	return runCmd(append([]string{"-P", d.lxcpath, "--rundir", d.rundir, "--logdir", d.logdir}, args...)...)
}

// entries lists what exists under dir (nothing when it does not exist).
func entries(dir string) []string {
	var out []string
	_ = filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil && p != dir {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// argsFor is the command line of command for container name.
func argsFor(command, name string) []string {
	switch command {
	case "attach":
		return []string{command, name, "--", "/bin/true"}
	case "stop", "restart":
		return []string{command, name, "-t", "0"}
	}
	return []string{command, name}
}

// TestEveryCommandValidatesName: every command that takes NAME refuses a
// name with a slash (issue 11: "status ../run/x" reported the container
// whose state is in RUNDIR/../run/x) and a name too long for its control
// socket (a 100-character one passed check and failed at start with "bind:
// invalid argument"), with one message, exit 2, before anything is read
// or created.
func TestEveryCommandValidatesName(t *testing.T) {
	long := strings.Repeat("n", 100)
	var withName []string
	for c := range commands() {
		if takesName(c) {
			withName = append(withName, c)
		}
	}
	if len(withName) < 9 {
		t.Fatalf("commands taking NAME: %v", withName)
	}
	for _, c := range withName {
		t.Run(c, func(t *testing.T) {
			d := newNameDirs(t)
			// Another container's state, where "../run/x" leads from the
			// run directory; and a config for both names.
			if err := os.MkdirAll(filepath.Join(d.root, "run", "x"), 0o700); err != nil {
				t.Fatal(err)
			}
			st := &shimctl.Status{Name: "x", State: shimctl.StateHalted, Reason: "decoy of another container"}
			if err := shimctl.WriteState(filepath.Join(d.root, "run", "x", "state.json"), st); err != nil {
				t.Fatal(err)
			}
			checkWrite(t, filepath.Join(d.lxcpath, "run", "x", "config"), "lxc.rootfs.path = /nonexistent\n")
			checkWrite(t, filepath.Join(d.lxcpath, long, "config"), "lxc.rootfs.path = /nonexistent\n")
			for _, tc := range []struct{ name, says string }{
				{"../run/x", `invalid container name "../run/x": no '/'`},
				{long, "invalid container name \"" + long + "\": 100 bytes, at most 80"},
			} {
				code, out, errb := d.run(argsFor(c, tc.name)...)
				if code != 2 || !strings.Contains(errb, tc.says) {
					t.Errorf("%s %.20s…: exit %d, stderr %q; want exit 2 saying %s", c, tc.name, code, errb, tc.says)
				}
				if strings.Contains(out+errb, "decoy") {
					t.Errorf("%s %s reported another container: %q", c, tc.name, out)
				}
			}
			if e := append(entries(d.rundir), entries(d.logdir)...); len(e) > 0 {
				t.Errorf("%s created %v for a refused name", c, e)
			}
		})
	}
}

// TestCheckConfigNameFromPath: check --config takes the container name from
// the file's path, and refuses it as start would.
func TestCheckConfigNameFromPath(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, strings.Repeat("n", config.MaxNameLen+1), "config")
	checkWrite(t, long, "lxc.uts.name = c1\n")
	code, _, errb := runCmd("check", "--config", long)
	if code != 1 || !strings.Contains(errb, "the name from its path: invalid container name") {
		t.Errorf("check --config %s: exit %d, stderr %q", long, code, errb)
	}
	ok := filepath.Join(dir, strings.Repeat("n", config.MaxNameLen), "config")
	checkWrite(t, ok, "lxc.uts.name = c1\n")
	if code, _, errb := runCmd("check", "--offline", "--config", ok); code != 0 {
		t.Errorf("check a %d-byte name: exit %d, %s", config.MaxNameLen, code, errb)
	}
}

// TestNameLimitFitsSocket: MaxNameLen is what the kernel allows: the
// control socket of the longest name under the default run directory is
// the longest path a unix socket binds to, one byte more does not bind.
func TestNameLimitFitsSocket(t *testing.T) {
	sock := shimctl.PathsFor(config.DefaultRunDir, strings.Repeat("n", config.MaxNameLen)).Socket
	if len(sock) != config.MaxSocketPath {
		t.Errorf("control socket of a %d-byte name is %d bytes, want %d", config.MaxNameLen, len(sock), config.MaxSocketPath)
	}
	dir := t.TempDir()
	pad := config.MaxSocketPath - len(dir) - 1
	if pad < 1 {
		t.Skipf("temporary directory %s too long to test", dir)
	}
	fits := filepath.Join(dir, strings.Repeat("s", pad))
	l, err := net.Listen("unix", fits)
	if err != nil {
		t.Errorf("bind a %d-byte socket path: %v", len(fits), err)
	} else {
		l.Close()
	}
	if l, err := net.Listen("unix", fits+"s"); err == nil {
		l.Close()
		t.Errorf("a %d-byte socket path bound: MaxSocketPath is too small", len(fits)+1)
	}
}

// TestStartRefusesLongRunDir: under a run directory longer than the
// default, a name within MaxNameLen can still overflow the socket path:
// start refuses it before creating anything.
func TestStartRefusesLongRunDir(t *testing.T) {
	d := newNameDirs(t)
	d.rundir = filepath.Join(d.root, strings.Repeat("r", 60))
	name := strings.Repeat("n", config.MaxNameLen)
	checkWrite(t, filepath.Join(d.lxcpath, name, "config"), "lxc.rootfs.path = /nonexistent\n")
	code, _, errb := d.run("start", name)
	if code != 1 || !strings.Contains(errb, "control socket") || !strings.Contains(errb, "use a shorter name or run directory") {
		t.Errorf("start: exit %d, stderr %q", code, errb)
	}
	if e := append(entries(d.rundir), entries(d.logdir)...); len(e) > 0 {
		t.Errorf("start created %v", e)
	}
}
