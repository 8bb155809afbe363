package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/cgroup"
	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// status maps what a state directory says (and whether its shim and init
// live) to LSB codes: 0 running (also without a shim), 3 stopped/halted or
// never started, 1 dead with state left, 4 unknown.
func TestStatusLSBCodes(t *testing.T) {
	dir := t.TempDir()
	lxcpath := filepath.Join(dir, "lxc")
	rundir := filepath.Join(dir, "run")
	self := os.Getpid()
	selfStart, err := shimctl.ProcStartTime(self)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		config bool
		state  *shimctl.Status
		code   int
		says   string
	}{
		{name: "tlnone", code: 4, says: "no such container"},
		{name: "tlnever", config: true, code: 3, says: "stopped"},
		{name: "tlstopped", config: true, state: &shimctl.Status{State: shimctl.StateStopped, Reason: "stop requested"}, code: 3, says: "stopped: stop requested"},
		{name: "tlhalted", config: true, state: &shimctl.Status{State: shimctl.StateHalted, LastExit: &shimctl.LastExit{Meaning: "halt"}}, code: 3, says: "last exit: halt"},
		{name: "tlfailed", config: true, state: &shimctl.Status{State: shimctl.StateFailed, Reason: "gave up after 10 restarts within 1m0s"}, code: 1, says: "gave up"},
		// A pid that is no container's init (this process) is not one,
		// whatever state.json says (TestStatusOrphanedInit: a real one).
		{name: "tlforged", config: true, state: &shimctl.Status{State: shimctl.StateRunning, Pid: self, PidStart: selfStart, BootCount: 1}, code: 1, says: "dead"},
		// The shim died and the pid was reused by another process.
		{name: "tlreused", config: true, state: &shimctl.Status{State: shimctl.StateRunning, Pid: self, PidStart: selfStart + 1}, code: 1, says: "dead"},
		// State of a container whose config is gone is still reported.
		{name: "tlnoconf", state: &shimctl.Status{State: shimctl.StateStopped}, code: 3, says: "stopped"},
	}
	for _, c := range cases {
		if c.config {
			p := filepath.Join(lxcpath, c.name, "config")
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte("lxc.rootfs.path = dir:/nonexistent\n"), 0o644)
		}
		if c.state != nil {
			paths := shimctl.PathsFor(rundir, c.name)
			os.MkdirAll(paths.Dir, 0o700)
			c.state.Name = c.name
			if err := shimctl.WriteState(paths.State, c.state); err != nil {
				t.Fatal(err)
			}
		}
		var out, errOut bytes.Buffer
		code := run([]string{"-P", lxcpath, "--rundir", rundir, "status", c.name}, &out, &errOut)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d (%s%s)", c.name, code, c.code, out.String(), errOut.String())
		}
		if !strings.Contains(out.String()+errOut.String(), c.says) {
			t.Errorf("%s: said %q, want %q", c.name, out.String()+errOut.String(), c.says)
		}
	}
	var out bytes.Buffer
	if code := run([]string{"-P", lxcpath, "--rundir", rundir, "list", "--json"}, &out, &out); code != 0 {
		t.Fatalf("list: %d %s", code, out.String())
	}
	for _, n := range []string{"tlnever", "tlforged", "tlnoconf", "tlfailed"} {
		if !strings.Contains(out.String(), `"name": "`+n+`"`) {
			t.Errorf("list lacks %s:\n%s", n, out.String())
		}
	}
}

// An orphaned init (its shim died) is running, exit 0 "no shim", only if
// it is PID 1 of a PID namespace of its own in the cgroup that the run's
// record proves the container's: a sleep under unshare --pid stands in for
// it. The same kind of process outside that cgroup (another container's
// init, named by a forged or stale state.json) is not.
func TestStatusOrphanedInit(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	lxcpath := filepath.Join(dir, "lxc")
	rundir := filepath.Join(dir, "run")
	name := testutil.Name("tlorphan")
	p := filepath.Join(lxcpath, name, "config")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte("lxc.rootfs.path = dir:/nonexistent\n"), 0o644)
	paths := shimctl.PathsFor(rundir, name)
	cg, err := cgroup.NewRecorded(name, config.Cgroup{}, paths.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.Create(); err != nil {
		t.Fatal(err)
	}
	init, initStart := standInInit(t)
	other, otherStart := standInInit(t)
	t.Cleanup(func() {
		cg.Kill()
		cg.Remove()
	})
	if err := cg.Add(init); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pid   int
		start uint64
		code  int
		says  string
	}{{init, initStart, 0, "no shim"}, {other, otherStart, 1, "dead"}} {
		if err := shimctl.WriteState(paths.State, &shimctl.Status{Name: name, State: shimctl.StateRunning, Pid: c.pid, PidStart: c.start, BootCount: 1}); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		code := run([]string{"-P", lxcpath, "--rundir", rundir, "status", name}, &out, &out)
		if code != c.code || !strings.Contains(out.String(), c.says) {
			t.Errorf("pid %d: exit %d (%s), want %d and %q", c.pid, code, out.String(), c.code, c.says)
		}
	}
}

// standInInit starts a sleep as PID 1 of a new PID namespace and returns
// its host pid and start time; it is killed at cleanup.
func standInInit(t *testing.T) (int, uint64) {
	t.Helper()
	cmd := exec.Command("unshare", "--pid", "--fork", "--kill-child", "sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
		if f := strings.Fields(string(b)); len(f) == 1 {
			pid, _ := strconv.Atoi(f[0])
			st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if strings.Contains(string(st), "\nNSpid:\t"+f[0]+"\t1\n") {
				start, err := shimctl.ProcStartTime(pid)
				if err != nil {
					t.Fatal(err)
				}
				return pid, start
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("unshare --pid --fork: no child in a PID namespace of its own")
	return 0, 0
}
