package tests

// Fault injection for issue 19 (no command ever hangs) and the ordered
// shutdown of issue 20: a SIGSTOPped shim, a full log file system, a full
// run directory, lxc-initd killed halfway. Every lxc-initd call here runs
// under a hard limit (bounded), so that a command that hangs fails the
// test instead of hanging it. Container names carry the prefix "ts".

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// hangLimit is how long bounded lets a command run before it kills it:
// far beyond every bound the tests assert, so a kill means a hang.
const hangLimit = 40 * time.Second

// bounded runs lxc-initd for e's directories, killed after hangLimit
// (code -1 then), and says how long it took.
func bounded(e *lcEnv, args ...string) (stdout, stderr string, code int, took time.Duration) {
	e.t.Helper()
	return boundedCLI(e.t, e.cli(), args...)
}

// boundedCLI is bounded for any test's directories.
func boundedCLI(t *testing.T, cli initdCLI, args ...string) (stdout, stderr string, code int, took time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli.bin, cli.args(args...)...)
	var o, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &se
	start := time.Now()
	err := cmd.Run()
	took = time.Since(start)
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		code = -1
		t.Errorf("lxc-initd %v hung: killed after %v", args, took)
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("lxc-initd %v: %v", args, err)
	}
	return o.String(), se.String(), code, took
}

// freezeShim SIGSTOPs the shim of st (a stand-in for a deadlocked shim or
// one stuck in the kernel). Whatever happens, the cleanup lets it go on
// (SIGCONT) if it is still that process, before the container's cleanup.
func freezeShim(t *testing.T, st *shimctl.Status) {
	t.Helper()
	if st.ShimPid <= 0 || !shimctl.SameProcess(st.ShimPid, st.ShimStart) {
		t.Fatalf("no live shim in %+v", st)
	}
	t.Cleanup(func() {
		if shimctl.SameProcess(st.ShimPid, st.ShimStart) {
			_ = unix.Kill(st.ShimPid, unix.SIGCONT)
		}
	})
	if err := unix.Kill(st.ShimPid, unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "shim stopped", func() error {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", st.ShimPid))
		if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) == 0 || f[0] != "T" {
			return fmt.Errorf("state %v", f)
		}
		return nil
	})
}

// statusJSON is status --json of e, decoded.
func statusJSON(e *lcEnv) (map[string]any, int) {
	e.t.Helper()
	out, errOut, code, _ := bounded(e, "status", e.name, "--json")
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		e.t.Fatalf("status --json: %v\n%s%s", err, out, errOut)
	}
	return m, code
}

// TestStuckShimStatusRebootStop: with the shim SIGSTOPped, status and list
// answer within about 2 s from state.json and /proc (running, shim not
// responding, LSB 0); reboot, console and cleanup fail within a few seconds and
// change nothing (a reboot request the shim reads later is dropped); stop
// -t 3 stops the container itself within its timeout plus a grace, kills
// the shim, and leaves nothing.
func TestStuckShimStatusRebootStop(t *testing.T) {
	e := newTS(t, newTSDirs(t), rootTestinit)
	writeTSConfig(e, "")
	e.testinitConfig("SIGPWR slowhalt 1s\n")
	e.mustInitd(0, "start", e.name)
	e.waitReport()
	st := e.state()
	freezeShim(t, st)

	out, errOut, code, took := bounded(e, "status", e.name)
	t.Logf("status with a stopped shim (%v): %s%s", took, out, errOut)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("running, shim not responding (pid %d", st.ShimPid)) {
		t.Errorf("status: exit %d, %q; want 0 and running, shim not responding (pid %d)", code, out, st.ShimPid)
	}
	if took > 2500*time.Millisecond {
		t.Errorf("status took %v, want about 2 s at most", took)
	}
	m, code := statusJSON(e)
	if code != 0 || m["shim_not_responding"] != true || m["init_alive"] != true || m["shim_alive"] != true {
		t.Errorf("status --json: exit %d, %v", code, m)
	}
	out, _, code, took = bounded(e, "list")
	if code != 0 || !strings.Contains(out, e.name) || !strings.Contains(out, "STUCK") || took > 2500*time.Millisecond {
		t.Errorf("list: exit %d in %v:\n%s", code, took, out)
	}

	_, errOut, code, took = bounded(e, "reboot", e.name)
	if code == 0 || !strings.Contains(errOut, "not responding") || took > 5*time.Second {
		t.Errorf("reboot: exit %d in %v, %q; want a failure naming the stuck shim within a few seconds", code, took, errOut)
	}
	_, errOut, code, took = bounded(e, "cleanup", e.name)
	if code == 0 || took > 5*time.Second {
		t.Errorf("cleanup: exit %d in %v, %q; want a refusal within a few seconds", code, took, errOut)
	}
	_, errOut, code, took = bounded(e, "console", e.name)
	if code == 0 || !strings.Contains(errOut, "not responding") || took > 5*time.Second {
		t.Errorf("console: exit %d in %v, %q; want a failure naming the stuck shim within a few seconds", code, took, errOut)
	}
	// The shim wakes up: the reboot it finds in its socket expired, and
	// it does nothing of it.
	if err := unix.Kill(st.ShimPid, unix.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if ev := e.events(); strings.Contains(ev, "signal SIGINT") {
		t.Errorf("the shim acted on a reboot request after its client gave up:\n%s", ev)
	}
	if m, code := statusJSON(e); code != 0 || m["boot_count"] != float64(1) || m["shim_not_responding"] != nil {
		t.Errorf("status after SIGCONT: exit %d, %v; want running boot 1, from the shim", code, m)
	}
	freezeShim(t, st)

	out, errOut, code, took = bounded(e, "stop", e.name, "-t", "3")
	t.Logf("stop -t 3 with a stopped shim (%v): %s%s", took, out, errOut)
	if code != 0 || !strings.Contains(out, "graceful") || !strings.Contains(out, fmt.Sprintf("shim (pid %d) did not respond", st.ShimPid)) {
		t.Errorf("stop: exit %d, %q %q", code, out, errOut)
	}
	if took > 3*time.Second+5*time.Second {
		t.Errorf("stop -t 3 took %v, want at most its 3 s plus a 5 s grace", took)
	}
	e.waitGone(st.ShimPid, "stuck shim")
	e.waitGone(st.Pid, "init")
	if fin := e.state(); fin.State != shimctl.StateStopped || fin.StopResult != shimctl.StopGraceful {
		t.Errorf("state after the stop: %+v", fin)
	}
	if !strings.Contains(e.events(), "action slowhalt") {
		t.Errorf("the init was not asked to halt:\n%s", e.events())
	}
	if _, _, code, _ := bounded(e, "status", e.name); code != 3 {
		t.Errorf("status after the stop: exit %d, want 3", code)
	}
	if d := testutil.CgroupDirs(e.name); len(d) != 0 {
		t.Errorf("cgroups left: %v", d)
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// TestStuckShimNetworkStop: the stop of a container with a veth on a
// bridge whose shim is SIGSTOPped removes, once the shim is killed, what
// the run made on the host as for a dead shim: the veth, the cgroup, the
// network namespace.
func TestStuckShimNetworkStop(t *testing.T) {
	h := newTW(t)
	br := h.bridge()
	c := h.add(rootBusybox, func(c *twCT) string {
		return c.head(twBusyboxBase) + c.vethNet(br, "02:00:0a:ed:13:02", "10.237.19.2/24")
	})
	st := c.start()
	if _, err := netlink.LinkByName(c.pair); err != nil {
		t.Fatalf("%s not made: %v", c.pair, err)
	}
	freezeShim(t, st)
	cli := initdCLI{bin: h.bins.Initd, lxcpath: h.lxcpath, rundir: h.rundir, logdir: h.logdir}
	out, errOut, code, took := boundedCLI(t, cli, "stop", c.name, "-t", "10")
	t.Logf("stop -t 10 with a stopped shim (%v): %s%s", took, out, errOut)
	if code != 0 || !strings.Contains(out, "did not respond") || took > 10*time.Second+5*time.Second {
		t.Errorf("stop: exit %d in %v", code, took)
	}
	waitDead(t, st.ShimPid, "stuck shim")
	waitDead(t, st.Pid, "init")
	if _, err := netlink.LinkByName(c.pair); err == nil {
		t.Errorf("%s left after the stop", c.pair)
	}
	if d := testutil.CgroupDirs(c.name); len(d) > 0 {
		t.Errorf("cgroup left after the stop: %v", d)
	}
	if out := h.must(0, "cleanup", c.name); strings.Contains(out, "veth") || strings.Contains(out, "cgroup ") {
		t.Errorf("the stop left something for cleanup: %s", out)
	}
	h.finish()
}

// TestShutdownWithStuckShim: shutdown of three containers, one of whose
// shims is SIGSTOPped, ends within its --deadline with every container
// stopped gracefully and nothing left.
func TestShutdownWithStuckShim(t *testing.T) {
	dirs := newTSDirs(t)
	var cts []*lcEnv
	for range 3 {
		e := newTS(t, dirs, rootTestinit)
		writeTSConfig(e, "")
		e.testinitConfig("SIGPWR slowhalt 1s\n")
		cts = append(cts, e)
	}
	for _, e := range cts {
		e.mustInitd(0, "start", e.name)
	}
	sts := map[string]*shimctl.Status{}
	for _, e := range cts {
		e.waitReport()
		sts[e.name] = e.state()
	}
	freezeShim(t, sts[cts[1].name])

	out, errOut, code, took := bounded(cts[0], "shutdown", "-t", "8")
	t.Logf("shutdown -t 8 (%v):\n%s%s", took, out, errOut)
	if code != 0 {
		t.Errorf("shutdown: exit %d, want 0 (all shut down by themselves)", code)
	}
	if took > 8*time.Second {
		t.Errorf("shutdown took %v, beyond its 8 s", took)
	}
	if !strings.Contains(out, cts[1].name+": its shim") {
		t.Errorf("shutdown did not say what it did about the stuck shim:\n%s", out)
	}
	for _, e := range cts {
		if !strings.Contains(out, e.name+": stopped") {
			t.Errorf("%s not reported stopped", e.name)
		}
		e.waitGone(sts[e.name].ShimPid, "shim of "+e.name)
		e.waitGone(sts[e.name].Pid, "init of "+e.name)
		if st := e.state(); st.State != shimctl.StateStopped || st.StopResult != shimctl.StopGraceful {
			t.Errorf("%s: %+v", e.name, st)
		}
		testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
	}
}

// TestShutdownHungHigherOrder (issue 20): with -t 4, a container of order
// 20 that ignores its halt signal is killed after its 4 s, and the one of
// order 10 that takes 3 s to shut down still gets its own full 4 s from
// its own halt signal: it stops gracefully.
func TestShutdownHungHigherOrder(t *testing.T) {
	hung, slow := orderedPair(t)
	hs, ss := hung.state(), slow.state()

	out, errOut, code, took := bounded(hung, "shutdown", "-t", "4")
	t.Logf("shutdown -t 4 (%v):\n%s%s", took, out, errOut)
	if code != 1 || !strings.Contains(out, hung.name+": killed") {
		t.Errorf("shutdown: exit %d; want 1 with %s killed", code, hung.name)
	}
	if !strings.Contains(out, slow.name+": stopped") {
		t.Errorf("%s was not stopped gracefully", slow.name)
	}
	// The order-10 container got its halt signal after the order-20 one
	// was down, not before.
	if took < 7*time.Second {
		t.Errorf("shutdown took %v: the orders did not go one after the other (4 s + 3 s)", took)
	}
	hung.waitGone(hs.ShimPid, "shim of "+hung.name)
	slow.waitGone(ss.ShimPid, "shim of "+slow.name)
	if st := slow.state(); st.StopResult != shimctl.StopGraceful || st.LastExit == nil || st.LastExit.Meaning != "halt" {
		t.Errorf("%s: stop %q, last exit %+v; want graceful, halt", slow.name, st.StopResult, st.LastExit)
	}
	if st := hung.state(); st.StopResult != shimctl.StopForced {
		t.Errorf("%s: stop %q, want forced", hung.name, st.StopResult)
	}
	for _, e := range []*lcEnv{hung, slow} {
		testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
	}
}

// orderedPair starts two test-init containers: one of order 20 that
// ignores its halt signal, one of order 10 that takes 3 s to halt.
func orderedPair(t *testing.T) (hung, slow *lcEnv) {
	t.Helper()
	dirs := newTSDirs(t)
	hung = newTS(t, dirs, rootTestinit)
	writeTSConfig(hung, "lxc.start.order = 20\n")
	hung.testinitConfig("SIGPWR ignore\n")
	slow = newTS(t, dirs, rootTestinit)
	writeTSConfig(slow, "lxc.start.order = 10\n")
	slow.testinitConfig("SIGPWR slowhalt 3s\n")
	for _, e := range []*lcEnv{hung, slow} {
		e.mustInitd(0, "start", e.name)
	}
	for _, e := range []*lcEnv{hung, slow} {
		e.waitReport()
	}
	return hung, slow
}

// TestShutdownDeadline: --deadline bounds the whole shutdown. The hung
// order-20 container is killed at the deadline instead of after its -t,
// and the order-10 one, whose turn comes after the deadline, is killed at
// once.
func TestShutdownDeadline(t *testing.T) {
	hung, slow := orderedPair(t)
	hs, ss := hung.state(), slow.state()
	out, errOut, code, took := bounded(hung, "shutdown", "-t", "30", "--deadline", "3")
	t.Logf("shutdown -t 30 --deadline 3 (%v):\n%s%s", took, out, errOut)
	if code != 1 || !strings.Contains(out, hung.name+": killed") || !strings.Contains(out, slow.name+": killed") {
		t.Errorf("shutdown: exit %d; want 1 with both killed", code)
	}
	if took < 3*time.Second || took > 3*time.Second+4*time.Second {
		t.Errorf("shutdown took %v, want its 3 s deadline and the kills", took)
	}
	hung.waitGone(hs.ShimPid, "shim of "+hung.name)
	slow.waitGone(ss.ShimPid, "shim of "+slow.name)
	if ev := slow.events(); strings.Contains(ev, "action slowhalt") {
		t.Errorf("%s was asked to halt after the deadline instead of killed:\n%s", slow.name, ev)
	}
	for _, e := range []*lcEnv{hung, slow} {
		testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
	}
}

// fullTmpfs mounts a small tmpfs at dir and fills it; the returned
// function frees the space. The cleanup unmounts it (register it before
// the containers' cleanups, which must run first).
func fullTmpfs(t *testing.T, dir string) (free func()) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=512k,mode=0755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	filler := filepath.Join(dir, "filler")
	fill := func() {
		f, err := os.OpenFile(filler, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, 4096)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				return
			}
		}
	}
	fill()
	return func() { os.Remove(filler) }
}

// TestLogOnFullTmpfs: with the log directory on a full file system, start,
// reboot and stop work as ever; the dropped log lines are counted in
// status --json and reported in the log once it can be written again.
func TestLogOnFullTmpfs(t *testing.T) {
	dirs := newTSDirs(t)
	free := fullTmpfs(t, dirs.logdir)
	e := newTS(t, dirs, rootTestinit)
	writeTSConfig(e, "")
	e.testinitConfig("SIGPWR slowhalt 1s\nSIGINT reboot\n")
	if _, errOut, code, took := bounded(e, "start", e.name); code != 0 || took > 15*time.Second {
		t.Fatalf("start with a full log file system: exit %d in %v: %s", code, took, errOut)
	}
	e.waitReport()
	e.forgetReport()
	if _, errOut, code, _ := bounded(e, "reboot", e.name); code != 0 {
		t.Fatalf("reboot: exit %d: %s", code, errOut)
	}
	e.waitState(15*time.Second, "boot 2 running", func(st *shimctl.Status) bool {
		return st.BootCount == 2 && st.State == shimctl.StateRunning
	})
	e.waitReport()
	m, code := statusJSON(e)
	dropped, _ := m["log_dropped"].(float64)
	if code != 0 || dropped < 3 {
		t.Errorf("status --json: exit %d, log_dropped %v; want running with the dropped lines counted: %v", code, m["log_dropped"], m)
	}
	st := e.state()
	free()
	out, errOut, code, took := bounded(e, "stop", e.name, "-t", "10")
	if code != 0 || !strings.Contains(out, "graceful") || took > 10*time.Second {
		t.Errorf("stop: exit %d in %v: %s%s", code, took, out, errOut)
	}
	e.waitGone(st.ShimPid, "shim")
	if log := e.shimLog(); !strings.Contains(log, `msg="log lines dropped"`) || !strings.Contains(log, "shim exits") {
		t.Errorf("the log does not report the dropped lines once writable:\n%s", log)
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// TestRundirOnFullTmpfs: with the run directory on a full file system, a
// start fails cleanly (exit 1, nothing left: no shim, no cgroup, no state
// directory); once there is room it starts, and when the file system
// fills while it runs, status still says running and stop still stops it,
// leaving nothing on the host.
func TestRundirOnFullTmpfs(t *testing.T) {
	dirs := newTSDirs(t)
	free := fullTmpfs(t, dirs.rundir)
	e := newTS(t, dirs, rootTestinit)
	writeTSConfig(e, "")
	e.testinitConfig("SIGPWR slowhalt 1s\n")

	out, errOut, code, took := bounded(e, "start", e.name)
	t.Logf("start on a full rundir (%v): %s%s", took, out, errOut)
	if code != 1 || !strings.Contains(errOut, "state") || took > 15*time.Second {
		t.Errorf("start: exit %d in %v, %q; want 1 naming the state that cannot be written", code, took, errOut)
	}
	if s := e.shims(); len(s) != 0 {
		t.Errorf("shims left: %v", s)
	}
	if d := testutil.CgroupDirs(e.name); len(d) != 0 {
		t.Errorf("cgroups left: %v", d)
	}
	if _, err := os.Stat(filepath.Join(dirs.rundir, e.name)); err == nil {
		t.Errorf("the failed start left its state directory")
	}
	if _, _, code, _ := bounded(e, "status", e.name); code != 3 {
		t.Errorf("status after the failed start: exit %d, want 3", code)
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")

	free()
	e.mustInitd(0, "start", e.name)
	e.waitReport()
	st := e.state()
	fullTmpfsAgain(t, dirs.rundir)
	if out, _, code, took := bounded(e, "status", e.name); code != 0 || !strings.Contains(out, "running") || took > 2500*time.Millisecond {
		t.Errorf("status with /run full: exit %d in %v: %s", code, took, out)
	}
	// A state.json write that fails is reported by the live shim: its
	// run-directory repair writes state.json again when it is removed
	// (after 100 ms of quiet), which fails once the freed room is taken.
	if err := os.Remove(shimctl.PathsFor(e.rundir, e.name).State); err != nil {
		t.Fatal(err)
	}
	fullTmpfsAgain(t, dirs.rundir)
	testutil.WaitFor(t, 5*time.Second, "state_write_error in status --json", func() error {
		if m, code := statusJSON(e); code != 0 || m["state_write_error"] == nil {
			return fmt.Errorf("exit %d, %v", code, m)
		}
		return nil
	})
	if out, _, _, _ := bounded(e, "status", e.name); !strings.Contains(out, "state.json not written") {
		t.Errorf("status does not report the failed state write: %s", out)
	}
	if !alive(st.Pid) {
		t.Errorf("the container stopped when /run filled")
	}
	out, errOut, code, took = bounded(e, "stop", e.name, "-t", "5")
	if code != 0 || took > 10*time.Second {
		t.Errorf("stop with /run full: exit %d in %v: %s%s", code, took, out, errOut)
	}
	e.waitGone(st.ShimPid, "shim")
	e.waitGone(st.Pid, "init")
	if d := testutil.CgroupDirs(e.name); len(d) != 0 {
		t.Errorf("cgroups left: %v", d)
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// fullTmpfsAgain fills the file system of dir (mounted by fullTmpfs) again.
func fullTmpfsAgain(t *testing.T, dir string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "filler2"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			return
		}
	}
}

// TestInitdKilledAtPoints: lxc-initd SIGKILLed at several points of start,
// stop and reboot leaves a state that status, stop and cleanup handle:
// afterwards nothing of the container is left on the host.
func TestInitdKilledAtPoints(t *testing.T) {
	dirs := newTSDirs(t)
	for _, c := range []struct {
		verb  string
		after time.Duration
		// stuck: the shim is SIGSTOPped first, so that stop kills
		// lxc-initd while it stops the container itself.
		stuck bool
	}{
		{"start", 5 * time.Millisecond, false}, {"start", 60 * time.Millisecond, false}, {"start", 250 * time.Millisecond, false},
		{"stop", 30 * time.Millisecond, false}, {"stop", 600 * time.Millisecond, false},
		{"reboot", 10 * time.Millisecond, false},
		// Before the halt signal, while the init halts, after it.
		{"stop", 500 * time.Millisecond, true}, {"stop", 2000 * time.Millisecond, true}, {"stop", 3000 * time.Millisecond, true},
	} {
		t.Run(fmt.Sprintf("%s-%v-stuck=%v", c.verb, c.after, c.stuck), func(t *testing.T) {
			e := newTS(t, dirs, rootTestinit)
			writeTSConfig(e, "")
			e.testinitConfig("SIGPWR slowhalt 1s\nSIGINT reboot\n")
			if c.verb != "start" {
				e.mustInitd(0, "start", e.name)
				e.waitReport()
			}
			if c.stuck {
				freezeShim(t, e.state())
			}
			cmd := exec.Command(e.bins.Initd, e.cli().args(c.verb, e.name)...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(c.after)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()

			// Whatever it was doing goes on or was never begun; status
			// answers, stop stops, cleanup leaves nothing.
			out, errOut, code, _ := bounded(e, "status", e.name)
			t.Logf("status after lxc-initd %s was killed at %v: exit %d %s%s", c.verb, c.after, code, out, errOut)
			if code != 0 && code != 1 && code != 3 {
				t.Errorf("status: exit %d", code)
			}
			if _, errOut, code, _ := bounded(e, "stop", e.name, "-t", "5"); code != 0 {
				t.Errorf("stop: exit %d: %s", code, errOut)
			}
			if _, errOut, code, _ := bounded(e, "cleanup", e.name); code != 0 {
				t.Errorf("cleanup: exit %d: %s", code, errOut)
			}
			if _, _, code, _ := bounded(e, "status", e.name); code != 3 {
				t.Errorf("status after stop and cleanup: exit %d, want 3", code)
			}
			// A stopped shim exits right after it let its clients go.
			testutil.WaitFor(t, 10*time.Second, "no shim left", func() error {
				if s := e.shims(); len(s) != 0 {
					return fmt.Errorf("shims %v", s)
				}
				return nil
			})
			testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
		})
	}
}
