package tests

// End-to-end tests of issue 4's stop semantics through lxc-initd: shutdown
// stops many containers in parallel, stop of a stopped container and
// status of an unknown one, and start of a bad config. Container names
// carry the prefix "ts".

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// writeTSConfig writes a test-init container's config: its name, rootfs
// and testinitBase, then extra.
func writeTSConfig(e *lcEnv, extra string) {
	e.t.Helper()
	testutil.WriteConfig(e.t, e.lxcpath, e.name, fmt.Sprintf("lxc.uts.name = %s\nlxc.rootfs.path = dir:%s\n%s%s", e.name, e.rootfs, testinitBase, extra))
}

// TestShutdownTenInParallel: ten test-init containers whose inits take
// 1 s (one of them 2 s) to halt after SIGPWR are all stopped gracefully by
// one `lxc-initd shutdown -t 10`, in about the time of the slowest: one
// by one would take 11 s, the bound is 2 s + 1.5 s.
func TestShutdownTenInParallel(t *testing.T) {
	dirs := newTSDirs(t)
	var cts []*lcEnv
	for i := range 10 {
		e := newTS(t, dirs, rootTestinit)
		writeTSConfig(e, "")
		halt := "1s"
		if i == 0 {
			halt = "2s"
		}
		e.testinitConfig("SIGPWR slowhalt " + halt + "\n")
		cts = append(cts, e)
	}
	for _, e := range cts {
		e.mustInitd(0, "start", e.name)
	}
	// boot.json is written once the init's handlers are in place: a
	// SIGPWR sent before would be lost.
	for _, e := range cts {
		e.waitReport()
	}
	shims := map[string]int{}
	for _, e := range cts {
		shims[e.name] = e.state().ShimPid
	}

	h := &hostWide{t: t, bins: cts[0].bins, lxcpath: dirs.lxcpath, rundir: dirs.rundir, logdir: dirs.logdir}
	start := time.Now()
	out, code := h.initd("shutdown", "-t", "10")
	took := time.Since(start)
	t.Logf("lxc-initd shutdown -t 10 took %v:\n%s", took, out)
	if code != 0 {
		t.Errorf("shutdown: exit %d, want 0 (every container shut down by itself)\n%s", code, out)
	}
	// At least the slowest halt (it waited for it), at most that plus a
	// generous 1.5 s: the containers were stopped at the same time.
	if took < 2*time.Second || took > 3500*time.Millisecond {
		t.Errorf("shutdown took %v, want 2-3.5 s (the slowest init's 2 s halt; one by one takes 11 s)", took)
	}
	for _, e := range cts {
		if !strings.Contains(out, e.name+": stopped") {
			t.Errorf("shutdown did not report %s stopped", e.name)
		}
		st := e.state()
		if st.State != shimctl.StateStopped || st.StopResult != shimctl.StopGraceful || st.LastExit == nil || st.LastExit.Meaning != "halt" {
			t.Errorf("%s: state %s stop %q last exit %+v, want stopped, graceful, halt", e.name, st.State, st.StopResult, st.LastExit)
		}
		ev := e.events()
		if !strings.Contains(ev, "signal SIGPWR") || !strings.Contains(ev, "action slowhalt") {
			t.Errorf("%s: the init did not get SIGPWR and halt slowly:\n%s", e.name, ev)
		}
		e.mustInitd(3, "status", e.name)
		e.waitGone(shims[e.name], "shim of "+e.name)
		testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
	}
	// Nothing is left running: a second shutdown has nothing to do.
	if out, code := h.initd("shutdown", "-t", "10"); code != 0 || !strings.Contains(out, "no container is running") {
		t.Errorf("second shutdown: exit %d, %q", code, out)
	}
}

// TestStopStatusOfStoppedAndUnknown: stop of a container that is not
// running (never started, and again after a stop) returns 0; status says
// 3 for it and 4 for a container that does not exist.
func TestStopStatusOfStoppedAndUnknown(t *testing.T) {
	e := newTS(t, newTSDirs(t), rootTestinit)
	writeTSConfig(e, "")
	if out := e.mustInitd(0, "stop", e.name); !strings.Contains(out, "not running") {
		t.Errorf("stop of a never started container said %q", out)
	}
	e.mustInitd(3, "status", e.name)
	if _, err := os.Stat(filepath.Join(e.rundir, e.name)); err == nil {
		t.Errorf("stop of a never started container made its state directory")
	}

	e.mustInitd(0, "start", e.name)
	st := e.state()
	e.waitReport()
	e.mustInitd(0, "status", e.name)
	if out := e.mustInitd(0, "stop", e.name, "-t", "10"); !strings.Contains(out, "graceful") {
		t.Errorf("stop said %q", out)
	}
	e.waitGone(st.ShimPid, "shim")
	if out := e.mustInitd(0, "stop", e.name); !strings.Contains(out, "not running") {
		t.Errorf("second stop said %q", out)
	}
	if out := e.mustInitd(0, "stop", e.name, "--kill"); !strings.Contains(out, "not running") {
		t.Errorf("stop --kill of a stopped container said %q", out)
	}
	e.mustInitd(3, "status", e.name)
	if fin := e.state(); fin.StopResult != shimctl.StopGraceful {
		t.Errorf("a stop of the stopped container changed its state: %+v", fin)
	}

	unknown := testutil.Name("ts")
	out, errOut, code := e.initd("status", unknown)
	if code != 4 {
		t.Errorf("status of unknown %s: exit %d, want 4\n%s%s", unknown, code, out, errOut)
	}
	if !strings.Contains(errOut, "no such container") {
		t.Errorf("status of an unknown container said %q", errOut)
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// TestStartBadConfigLeavesNothing: a config error found when reading the
// file (lxc-initd's check) and one found only when the shim applies it
// (a cgroup file this kernel lacks) both make start exit 1 with
// FILE:LINE: KEY, and leave no live shim, no cgroup and no process.
func TestStartBadConfigLeavesNothing(t *testing.T) {
	dirs := newTSDirs(t)
	cases := []struct {
		what, extra, key string
		line             int
	}{
		// Lines 1-3 are the name, the rootfs and testinitBase.
		{"syntax", "lxc.cgroup.memory.limit_in_bytes = lots\n", "lxc.cgroup.memory.limit_in_bytes", 4},
		{"host", "lxc.cgroup.memory.ts_no_such_knob = 5\n", "lxc.cgroup.memory.ts_no_such_knob", 4},
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			e := newTS(t, dirs, rootTestinit)
			writeTSConfig(e, c.extra)
			cfgPath := filepath.Join(e.lxcpath, e.name, "config")
			out, errOut, code := e.initd("start", e.name)
			if code != 1 {
				t.Fatalf("start: exit %d, want 1\n%s%s", code, out, errOut)
			}
			if want := fmt.Sprintf("%s:%d: %s", cfgPath, c.line, c.key); !strings.Contains(errOut, want) {
				t.Errorf("start error %q does not say %q", errOut, want)
			}
			// Read first: no shim, no state directory. Found by the
			// shim: its state says failed, with the same error.
			st, err := shimctl.ReadState(shimctl.PathsFor(e.rundir, e.name).State)
			switch {
			case c.what == "syntax":
				if _, err := os.Stat(filepath.Join(e.rundir, e.name)); err == nil {
					t.Errorf("a config that does not read made a state directory")
				}
			case err != nil:
				t.Errorf("state.json: %v", err)
			default:
				e.waitGone(st.ShimPid, "shim")
				if st.State != shimctl.StateFailed || !strings.Contains(st.Reason, c.key) {
					t.Errorf("state after a failed start: %+v", st)
				}
			}
			if live := shimctl.LockHeld(shimctl.PathsFor(e.rundir, e.name).Lock); live {
				t.Errorf("a shim still holds %s's lock", e.name)
			}
			if s := e.shims(); len(s) != 0 {
				t.Errorf("shim processes left: %v", s)
			}
			if d := testutil.CgroupDirs(e.name); len(d) != 0 {
				t.Errorf("cgroups left: %v", d)
			}
			if _, err := os.Stat(filepath.Join(e.rootfs, "testinit", "events.log")); err == nil {
				t.Errorf("the init ran")
			}
			if _, _, code := e.initd("status", e.name); code == 0 {
				t.Errorf("status of the failed container says running")
			}
			testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
		})
	}
}

// TestRelativeDirectories: -P, --rundir and --logdir relative to the
// caller's working directory name the same places for the shim (which
// runs in /): start, status and stop work with them.
func TestRelativeDirectories(t *testing.T) {
	dirs := newTSDirs(t)
	e := newTS(t, dirs, rootTestinit)
	writeTSConfig(e, "")
	base := filepath.Dir(dirs.lxcpath)
	run := func(want int, args ...string) string {
		t.Helper()
		full := append([]string{"-P", "lxc", "--rundir", "run", "--logdir", "log"}, args...)
		cmd := exec.Command(e.bins.Initd, full...)
		cmd.Dir = base
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("lxc-initd %v in %s: exit %d, want %d\n%s", full, base, code, want, out)
		}
		return string(out)
	}
	run(0, "start", e.name)
	st := e.state() // read through the absolute rundir: the same place
	if !alive(st.Pid) {
		t.Fatalf("state %+v", st)
	}
	if _, err := os.Stat(filepath.Join(dirs.logdir, e.name+".log")); err != nil {
		t.Errorf("shim log not in the relative --logdir: %v", err)
	}
	e.waitReport()
	run(0, "status", e.name)
	if out := run(0, "stop", e.name, "-t", "10"); !strings.Contains(out, "graceful") {
		t.Errorf("stop said %q", out)
	}
	e.waitGone(st.ShimPid, "shim")
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}
