package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lxc-shim/lxc-shim/internal/distro"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// lcEnv is one lifecycle test's container: its own lxc path, run and log
// directories, root file system and name (prefix "tl").
type lcEnv struct {
	t       *testing.T
	bins    testutil.Bins
	name    string
	lxcpath string
	rundir  string
	logdir  string
	rootfs  string
}

// Root file systems of newLC.
const (
	rootTestinit = "testinit"
	rootBusybox  = "busybox"
)

// newLC makes a container whose config is base (lxc.rootfs.path and
// lxc.uts.name are added) on a root file system of kind root: rootTestinit,
// rootBusybox or a distro.Init.
func newLC(t *testing.T, root, base string) *lcEnv {
	t.Helper()
	testutil.RequireRoot(t)
	dir := t.TempDir()
	e := &lcEnv{
		t:       t,
		bins:    testutil.Binaries(t),
		name:    testutil.Name("tl"),
		lxcpath: filepath.Join(dir, "lxc"),
		rundir:  filepath.Join(dir, "run"),
		logdir:  filepath.Join(dir, "log"),
		rootfs:  filepath.Join(dir, "rootfs"),
	}
	switch root {
	case rootBusybox:
		testutil.BusyboxRootfs(t, e.rootfs)
	case rootTestinit:
		testutil.TestinitRootfs(t, e.rootfs, e.bins)
	default:
		// A real distribution's (internal/distro): a copy of the cached
		// tree, which the init writes to.
		src, err := distro.Rootfs(distro.Init(root))
		if err != nil {
			t.Fatal(err)
		}
		if err := distro.Copy(src, e.rootfs); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WriteConfig(t, e.lxcpath, e.name, fmt.Sprintf("lxc.uts.name = %s\nlxc.rootfs.path = dir:%s\n%s", e.name, e.rootfs, base))
	// Whatever happened, leave nothing behind; then say if anything was.
	t.Cleanup(func() {
		if st, err := shimctl.ReadState(shimctl.PathsFor(e.rundir, e.name).State); err == nil && st.ShimPid > 0 && t.Failed() {
			if b, err := os.ReadFile(filepath.Join(e.logdir, e.name+".log")); err == nil {
				t.Logf("shim log:\n%s", b)
			}
		}
		e.initd("stop", "--kill", e.name)
		e.initd("cleanup", e.name)
		testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
	})
	return e
}

// testinitConfig writes the test init's behaviour (/testinit/config).
func (e *lcEnv) testinitConfig(lines string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.rootfs, "testinit", "config"), []byte(lines), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// initd runs lxc-initd with this container's directories.
func (e *lcEnv) initd(args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	return e.cli().run(e.t, nil, args...)
}

// mustInitd runs lxc-initd and fails the test unless it exits want.
func (e *lcEnv) mustInitd(want int, args ...string) string {
	e.t.Helper()
	return e.cli().must(e.t, want, args...)
}

func (e *lcEnv) cli() initdCLI {
	return initdCLI{bin: e.bins.Initd, lxcpath: e.lxcpath, rundir: e.rundir, logdir: e.logdir}
}

func (e *lcEnv) state() *shimctl.Status {
	e.t.Helper()
	st, err := shimctl.ReadState(shimctl.PathsFor(e.rundir, e.name).State)
	if err != nil {
		e.t.Fatalf("state.json: %v", err)
	}
	return st
}

// waitState waits for state.json to satisfy cond.
func (e *lcEnv) waitState(timeout time.Duration, what string, cond func(*shimctl.Status) bool) *shimctl.Status {
	e.t.Helper()
	var st *shimctl.Status
	testutil.WaitFor(e.t, timeout, what, func() error {
		var err error
		st, err = shimctl.ReadState(shimctl.PathsFor(e.rundir, e.name).State)
		if err != nil {
			return err
		}
		if !cond(st) {
			return fmt.Errorf("state %s boot %d pid %d", st.State, st.BootCount, st.Pid)
		}
		return nil
	})
	return st
}

// events is the test init's (or busybox rcS's) /testinit/events.log.
func (e *lcEnv) events() string {
	b, _ := os.ReadFile(filepath.Join(e.rootfs, "testinit", "events.log"))
	return string(b)
}

func (e *lcEnv) waitEvent(timeout time.Duration, needle string, count int) {
	e.t.Helper()
	testutil.WaitFor(e.t, timeout, fmt.Sprintf("%d× %q in events.log", count, needle), func() error {
		if n := strings.Count(e.events(), needle); n < count {
			return fmt.Errorf("%d so far; events:\n%s", n, e.events())
		}
		return nil
	})
}

// waitReport waits for the test init's boot.json, which it writes after
// its signal handlers are in place (the "boot" event comes before them).
func (e *lcEnv) waitReport() {
	e.t.Helper()
	testutil.WaitFor(e.t, 10*time.Second, "boot.json", func() error {
		_, err := os.Stat(filepath.Join(e.rootfs, "testinit", "boot.json"))
		return err
	})
}

// bootReport decodes the test init's boot.json into v.
func (e *lcEnv) bootReport(v any) {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.rootfs, "testinit", "boot.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		e.t.Fatalf("boot.json: %v", err)
	}
}

// bootHostname is the hostname the test init reported.
func (e *lcEnv) bootHostname() string {
	e.t.Helper()
	var r struct {
		Hostname string `json:"hostname"`
	}
	e.bootReport(&r)
	return r.Hostname
}

// forgetReport removes boot.json so that waitReport waits for the next boot.
func (e *lcEnv) forgetReport() {
	_ = os.Remove(filepath.Join(e.rootfs, "testinit", "boot.json"))
}

// command asks the test init to do action (it polls /testinit/cmd).
func (e *lcEnv) command(action string) {
	e.t.Helper()
	// Written aside and renamed: the init polls the file and must never
	// see it half-written.
	p := filepath.Join(e.rootfs, "testinit", "cmd")
	if err := os.WriteFile(p+".tmp", []byte(action+"\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		e.t.Fatal(err)
	}
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func (e *lcEnv) waitGone(pid int, what string) {
	e.t.Helper()
	testutil.WaitFor(e.t, 10*time.Second, what+" gone", func() error {
		if alive(pid) {
			return fmt.Errorf("pid %d alive", pid)
		}
		return nil
	})
}

// wakeups is the number of voluntary context switches of all threads of
// pid: how often it went to sleep after waking up.
func wakeups(pid int) int {
	n := 0
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				c, _ := strconv.Atoi(strings.TrimSpace(v))
				n += c
			}
		}
	}
	return n
}

// cgroupPids lists the processes in the container's cgroup (any hierarchy).
func (e *lcEnv) cgroupPids() []int {
	seen := map[int]bool{}
	var out []int
	for _, d := range testutil.CgroupDirs(e.name) {
		_ = filepath.Walk(d, func(p string, fi os.FileInfo, err error) error {
			if err != nil || !fi.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
					seen[pid] = true
					out = append(out, pid)
				}
			}
			return nil
		})
	}
	return out
}

// shims counts the lxc-shim processes serving this container.
func (e *lcEnv) shims() []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || !alive(pid) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) == 0 || filepath.Base(args[0]) != "lxc-shim" {
			continue
		}
		for _, a := range args[1:] {
			if a == e.name {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

func (e *lcEnv) shimLog() string {
	b, _ := os.ReadFile(filepath.Join(e.logdir, e.name+".log"))
	return string(b)
}

// testinitBase is the config of the test-init containers. It must not
// drop sys_boot (halt and reboot need it). It drops sys_resource because
// this host's root lacks it (CapPrm 1fffeffffff) and the launcher does
// not yet intersect the kept set with what the shim holds.
const testinitBase = "lxc.cap.drop = sys_resource\n"

// Reboot from inside (reboot(2) RESTART in the test init: the kernel kills
// it with SIGHUP) tears the container down and boots it again under the
// same shim: boot count 2, a new init pid, a second "boot" event; then a
// graceful stop through lxc-initd.
func TestLifecycleRebootFromInside(t *testing.T) {
	e := newLC(t, rootTestinit, testinitBase)
	out := e.mustInitd(0, "start", e.name)
	if !strings.Contains(out, "started") {
		t.Errorf("start said %q", out)
	}
	st1 := e.state()
	if st1.State != shimctl.StateRunning || st1.BootCount != 1 || !alive(st1.Pid) {
		t.Fatalf("after start: %+v", st1)
	}
	if out := e.mustInitd(0, "status", e.name); !strings.Contains(out, "running") {
		t.Errorf("status said %q", out)
	}
	e.waitReport()
	if h := e.bootHostname(); h != e.name {
		t.Errorf("boot 1 hostname %q, want %q", h, e.name)
	}
	// A config changed while the container runs applies at its reboot,
	// as with lxc-start.
	testutil.WriteConfig(t, e.lxcpath, e.name, fmt.Sprintf("lxc.uts.name = %s-2\nlxc.rootfs.path = dir:%s\n%s", e.name, e.rootfs, testinitBase))
	e.forgetReport()
	e.command("reboot")
	st2 := e.waitState(15*time.Second, "boot 2 running", func(s *shimctl.Status) bool {
		return s.BootCount == 2 && s.State == shimctl.StateRunning
	})
	if st2.Pid == st1.Pid || !alive(st2.Pid) {
		t.Errorf("boot 2 pid %d (boot 1 was %d)", st2.Pid, st1.Pid)
	}
	if st2.ShimPid != st1.ShimPid {
		t.Errorf("reboot changed the shim: %d -> %d", st1.ShimPid, st2.ShimPid)
	}
	if st2.LastExit == nil || st2.LastExit.Meaning != "reboot" {
		t.Errorf("last exit %+v, want reboot", st2.LastExit)
	}
	if alive(st1.Pid) {
		t.Errorf("boot 1's init %d still alive", st1.Pid)
	}
	e.waitEvent(10*time.Second, "boot ", 2)
	e.waitReport()
	if h := e.bootHostname(); h != e.name+"-2" {
		t.Errorf("boot 2 hostname %q, want the reloaded config's %q", h, e.name+"-2")
	}
	// The shim is idle while the container runs: no polling, so its
	// threads hardly wake up (a few for the Go runtime at most).
	before := wakeups(st2.ShimPid)
	time.Sleep(2 * time.Second)
	if n := wakeups(st2.ShimPid) - before; n > 10 {
		t.Errorf("the shim woke up %d times in 2 s while nothing happened", n)
	}

	start := time.Now()
	out = e.mustInitd(0, "stop", e.name, "-t", "20")
	if !strings.Contains(out, "graceful") {
		t.Errorf("stop said %q, want graceful", out)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("graceful stop took %v", took)
	}
	fin := e.state()
	if fin.State != shimctl.StateStopped || fin.StopResult != shimctl.StopGraceful {
		t.Errorf("final state %+v", fin)
	}
	if !strings.Contains(e.events(), "signal SIGPWR") {
		t.Errorf("the init never got SIGPWR:\n%s", e.events())
	}
	e.waitGone(st2.ShimPid, "shim")
	if _, err := os.Stat(shimctl.PathsFor(e.rundir, e.name).Socket); err == nil {
		t.Error("control socket left after the shim exited")
	}
	e.mustInitd(3, "status", e.name)
	log := e.shimLog()
	for _, want := range []string{"boot started", "reboot seen", "stop requested", "signal sent", "cleanup done"} {
		if !strings.Contains(log, want) {
			t.Errorf("shim log lacks %q", want)
		}
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// Halt from inside (reboot(2) POWER_OFF: SIGINT) ends a --foreground shim
// with exit 0 and state halted.
func TestLifecycleHaltFromInsideForeground(t *testing.T) {
	e := newLC(t, rootTestinit, testinitBase)
	cmd := exec.Command(e.bins.Shim, "-P", e.lxcpath, "--rundir", e.rundir, "--logdir", e.logdir, e.name, "--foreground")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	e.waitState(15*time.Second, "running", func(s *shimctl.Status) bool { return s.State == shimctl.StateRunning })
	e.waitReport()
	e.command("halt")
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Fatalf("shim ended with %v, want exit 0\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("shim did not exit after the halt")
	}
	st := e.state()
	if st.State != shimctl.StateHalted || st.LastExit == nil || st.LastExit.Meaning != "halt" {
		t.Errorf("state %+v last %+v", st, st.LastExit)
	}
	if !strings.Contains(stderr.String(), "halt seen") {
		t.Errorf("--foreground did not log to stderr:\n%s", stderr.String())
	}
	e.mustInitd(3, "status", e.name)
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// startWithEscaper starts a test-init container whose init follows
// initConfig (tests make it ignore its halt signal) and makes it leave a
// double-forked process in its own session. It returns the environment,
// the state at start and the pids of the container's processes other than
// the init (at least one: the escaped one).
func startWithEscaper(t *testing.T, initConfig string) (*lcEnv, *shimctl.Status, []int) {
	t.Helper()
	// The escaper re-executes the test init through /proc/self/exe.
	e := newLC(t, rootTestinit, testinitBase+"lxc.mount.entry = proc proc proc nodev,noexec,nosuid,create=dir 0 0\n")
	e.testinitConfig(initConfig)
	e.mustInitd(0, "start", e.name)
	st := e.state()
	e.waitReport()
	e.command("escape")
	e.waitEvent(10*time.Second, "action escape", 1)
	var escaped []int
	for _, p := range e.cgroupPids() {
		if p != st.Pid {
			escaped = append(escaped, p)
		}
	}
	if len(escaped) == 0 {
		t.Fatalf("no escaped process in the cgroup (pids %v, init %d)", e.cgroupPids(), st.Pid)
	}
	return e, st, escaped
}

// An init that ignores the halt signal is killed at the timeout (1 s, so
// within 1-3 s), together with a double-forked process that escaped into
// its own session.
func TestLifecycleStopTimeoutKillsEscaped(t *testing.T) {
	e, st, escaped := startWithEscaper(t, "SIGPWR ignore\nSIGRTMIN+3 ignore\n")
	start := time.Now()
	out := e.mustInitd(0, "stop", e.name, "-t", "1")
	took := time.Since(start)
	if took < time.Second || took > 3*time.Second {
		t.Errorf("stop with -t 1 took %v, want 1-3 s", took)
	}
	if !strings.Contains(out, "forced") {
		t.Errorf("stop said %q, want forced", out)
	}
	fin := e.state()
	if fin.StopResult != shimctl.StopForced || fin.LastExit == nil || fin.LastExit.Meaning != "killed after timeout" {
		t.Errorf("final %+v last %+v", fin, fin.LastExit)
	}
	for _, p := range append(escaped, st.Pid) {
		if alive(p) {
			t.Errorf("pid %d survived the stop", p)
		}
	}
	if !strings.Contains(e.events(), "signal SIGPWR") {
		t.Errorf("the halt signal never reached the init:\n%s", e.events())
	}
	if log := e.shimLog(); !strings.Contains(log, "escalat") {
		t.Errorf("shim log has no escalation:\n%s", log)
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// A crash loop (the init exits 3 each boot) backs off and gives up after
// --restart-max restarts, with the reason in state.json.
func TestLifecycleCrashLoopGivesUp(t *testing.T) {
	e := newLC(t, rootTestinit, testinitBase)
	e.testinitConfig("after 50ms exit 3\n")
	start := time.Now()
	e.mustInitd(0, "start", e.name, "--restart-max", "3", "--restart-window", "60s")
	st := e.waitState(30*time.Second, "failed", func(s *shimctl.Status) bool { return s.State == shimctl.StateFailed })
	took := time.Since(start)
	if st.RestartCount != 3 || st.BootCount != 4 {
		t.Errorf("restarts %d boots %d, want 3 and 4", st.RestartCount, st.BootCount)
	}
	if !strings.Contains(st.Reason, "gave up after 3 restarts") || !strings.Contains(st.Reason, "exit 3") {
		t.Errorf("reason %q", st.Reason)
	}
	if st.LastExit == nil || st.LastExit.Meaning != "exit 3" {
		t.Errorf("last exit %+v", st.LastExit)
	}
	// Backoff 100 + 200 + 400 ms at least.
	if took < 700*time.Millisecond {
		t.Errorf("the crash loop took %v: no backoff", took)
	}
	e.waitGone(st.ShimPid, "shim")
	if _, _, code := e.initd("status", e.name); code != 1 {
		t.Errorf("status of a failed container exits %d, want 1", code)
	}
	if n := strings.Count(e.shimLog(), "crash seen"); n != 4 {
		t.Errorf("%d crashes logged, want 4", n)
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// Two concurrent starts give one shim; both succeed.
func TestLifecycleConcurrentStarts(t *testing.T) {
	e := newLC(t, rootTestinit, testinitBase)
	var wg sync.WaitGroup
	outs := make([]string, 2)
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, se, c := e.initd("start", e.name)
			outs[i], codes[i] = o+se, c
		}()
	}
	wg.Wait()
	for i := range 2 {
		if codes[i] != 0 {
			t.Errorf("start %d: exit %d: %s", i, codes[i], outs[i])
		}
	}
	if !strings.Contains(outs[0]+outs[1], "already running") {
		t.Errorf("neither start said already running: %q", outs)
	}
	if shims := e.shims(); len(shims) != 1 {
		t.Errorf("%d shims for %s: %v", len(shims), e.name, shims)
	}
	st := e.state()
	// restart: a graceful stop, then a new shim and a new init.
	e.mustInitd(0, "restart", e.name, "-t", "10")
	st2 := e.state()
	if st2.State != shimctl.StateRunning || st2.ShimPid == st.ShimPid || st2.Pid == st.Pid || !alive(st2.ShimPid) {
		t.Errorf("after restart: %+v (before: shim %d init %d)", st2, st.ShimPid, st.Pid)
	}
	if alive(st.ShimPid) {
		t.Errorf("old shim %d alive after restart", st.ShimPid)
	}
	out := e.mustInitd(0, "stop", e.name, "--kill")
	if !strings.Contains(out, "killed (--kill)") {
		t.Errorf("stop --kill said %q", out)
	}
	e.waitGone(st2.ShimPid, "shim")
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// kill -9 of the shim leaves the container running; status says so, and
// stop and cleanup work from the state directory.
func TestLifecycleShimKilled(t *testing.T) {
	e := newLC(t, rootTestinit, testinitBase)
	// The shim's death closes the console's pty master, and the kernel
	// hangs up the console: SIGHUP to its session. Real inits handle
	// SIGHUP (sysvinit, busybox, systemd); the test init must be told to.
	e.testinitConfig("SIGHUP ignore\n")
	e.mustInitd(0, "start", e.name)
	st := e.state()
	e.waitReport()
	if err := syscall.Kill(st.ShimPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitGone(st.ShimPid, "shim")
	time.Sleep(100 * time.Millisecond)
	if !alive(st.Pid) {
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", st.Pid))
		t.Fatalf("init %d died with its shim (stat %q); events:\n%s", st.Pid, stat, e.events())
	}
	out := e.mustInitd(0, "status", e.name)
	if !strings.Contains(out, "no shim") {
		t.Errorf("status said %q", out)
	}
	if _, _, code := e.initd("cleanup", e.name); code == 0 {
		t.Error("cleanup of a running container succeeded")
	}
	if _, _, code := e.initd("start", e.name); code != 0 {
		t.Error("start of an orphaned running container failed")
	}
	if len(e.shims()) != 0 {
		t.Error("start made a second shim for an orphaned container")
	}
	out = e.mustInitd(0, "stop", e.name, "-t", "10")
	if !strings.Contains(out, "graceful") {
		t.Errorf("stop said %q", out)
	}
	if alive(st.Pid) {
		t.Errorf("init %d alive after stop", st.Pid)
	}
	if !strings.Contains(e.events(), "signal SIGPWR") {
		t.Errorf("no halt signal reached the orphaned init:\n%s", e.events())
	}
	fin := e.state()
	if fin.State != shimctl.StateStopped {
		t.Errorf("state %+v", fin)
	}
	e.mustInitd(3, "status", e.name)
	out = e.mustInitd(0, "cleanup", e.name)
	if !strings.Contains(out, "removed state directory") {
		t.Errorf("cleanup said %q", out)
	}
	e.mustInitd(3, "status", e.name)
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// busybox init: lxc.signal.halt = SIGUSR1 (busybox halts on it),
// lxc.signal.reboot = SIGTERM (busybox reboots on it). lxc-initd reboot
// makes busybox run its shutdown and call reboot(2); the shim boots it
// again (boot 2, new pid, rcS twice). A stop then halts it gracefully (its
// rcK ran) and poweroff from inside halts a second run.
func TestLifecycleBusybox(t *testing.T) {
	e := newLC(t, rootBusybox, "lxc.cap.drop = sys_resource\nlxc.signal.halt = SIGUSR1\nlxc.signal.reboot = SIGTERM\n")
	e.mustInitd(0, "start", e.name)
	st1 := e.state()
	e.waitEvent(15*time.Second, "rcS", 1)
	out := e.mustInitd(0, "reboot", e.name)
	if !strings.Contains(out, "SIGTERM") {
		t.Errorf("reboot said %q", out)
	}
	st2 := e.waitState(30*time.Second, "boot 2", func(s *shimctl.Status) bool {
		return s.BootCount == 2 && s.State == shimctl.StateRunning
	})
	if st2.Pid == st1.Pid || st2.LastExit == nil || st2.LastExit.Meaning != "reboot" {
		t.Errorf("after reboot: %+v last %+v (boot 1 pid %d)", st2, st2.LastExit, st1.Pid)
	}
	e.waitEvent(15*time.Second, "rcS", 2)
	e.waitEvent(5*time.Second, "shutdown", 1)

	// The console op hands the control connection to the console: the
	// shell busybox runs on /dev/console answers, in boot 2 on the pty
	// allocated once for the shim's life.
	c := shimctl.NewClient(e.rundir, e.name)
	con, err := c.Console(context.Background(), 0, 30, 100)
	if err != nil {
		t.Fatalf("console: %v", err)
	}
	if _, err := c.Console(context.Background(), 0, 30, 100); err == nil {
		t.Error("a second console client on the same tty was accepted")
	}
	if err := c.Resize(context.Background(), 0, 40, 120); err != nil {
		t.Errorf("resize: %v", err)
	}
	con.Write([]byte("echo tl-$((6*7)); stty size\n"))
	var got bytes.Buffer
	con.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), "40 120") {
		n, err := con.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	con.Close()
	if !strings.Contains(got.String(), "tl-42") || !strings.Contains(got.String(), "40 120") {
		t.Errorf("console output %q: want tl-42 and the resized 40 120", got.String())
	}

	start := time.Now()
	out = e.mustInitd(0, "stop", e.name, "-t", "30")
	if !strings.Contains(out, "graceful") || time.Since(start) > 25*time.Second {
		t.Errorf("stop said %q after %v", out, time.Since(start))
	}
	if n := strings.Count(e.events(), "shutdown"); n != 2 {
		t.Errorf("%d shutdowns ran (rcK), want 2:\n%s", n, e.events())
	}
	e.waitGone(st2.ShimPid, "shim")
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")

	// Halt from inside: busybox powers off on SIGUSR2 from its own
	// console's poweroff; the shim ends with state halted.
	e.mustInitd(0, "start", e.name)
	st3 := e.state()
	e.waitEvent(15*time.Second, "rcS", 3)
	if err := syscall.Kill(st3.Pid, syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	fin := e.waitState(30*time.Second, "halted", func(s *shimctl.Status) bool { return s.State.Final() })
	if fin.State != shimctl.StateHalted || fin.LastExit.Meaning != "halt" {
		t.Errorf("state %+v last %+v", fin, fin.LastExit)
	}
	e.waitGone(st3.ShimPid, "shim")
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// SIGTERM to a --foreground shim (what systemd sends) is a graceful stop
// with the halt signal, never forwarded: the init sees SIGPWR, not
// SIGTERM. The shim speaks sd_notify on NOTIFY_SOCKET: READY=1 once the
// init runs, STOPPING=1 with EXTEND_TIMEOUT_USEC on the stop.
func TestLifecycleSIGTERMToForegroundShim(t *testing.T) {
	e := newLC(t, rootTestinit, testinitBase)
	e.testinitConfig("SIGTERM ignore\nSIGPWR slowhalt 300ms\n")
	notify := testutil.ListenNotify(t)
	next := func(want string) string {
		t.Helper()
		return notify.Next(t, want, 15*time.Second)
	}
	cmd := exec.Command(e.bins.Shim, "-P", e.lxcpath, "--rundir", e.rundir, "--logdir", e.logdir, e.name, "--foreground", "--stop-timeout", "20")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify.Path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	ready := next("READY=1")
	st := e.state()
	if st.State != shimctl.StateRunning || !alive(st.Pid) || !strings.Contains(ready, fmt.Sprintf("init pid %d", st.Pid)) {
		t.Errorf("READY=1 (%q) but state %+v", ready, st)
	}
	e.waitReport()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopping := next("STOPPING=1")
	if !strings.Contains(stopping, "EXTEND_TIMEOUT_USEC=50000000") {
		t.Errorf("stopping message %q: want EXTEND_TIMEOUT_USEC of the 20 s timeout plus 30 s", stopping)
	}
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Fatalf("shim ended with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("shim did not stop on SIGTERM")
	}
	ev := e.events()
	if !strings.Contains(ev, "signal SIGPWR") || strings.Contains(ev, "signal SIGTERM") {
		t.Errorf("the init got the wrong signals:\n%s", ev)
	}
	fin := e.state()
	if fin.State != shimctl.StateStopped || fin.StopResult != shimctl.StopGraceful {
		t.Errorf("final %+v", fin)
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// A container with a veth on a bridge: the host end exists while it runs,
// is made afresh by a reboot (new namespaces, a new pair), and is gone
// after the stop.
func TestLifecycleRebootWithNetwork(t *testing.T) {
	testutil.RequireRoot(t)
	br := testBridge(t, "tlbr")
	// newLC's config is replaced by one with the network.
	e := newLC(t, rootTestinit, "")
	pair := e.name + "h"
	testutil.WriteConfig(t, e.lxcpath, e.name, fmt.Sprintf("lxc.uts.name = %s\nlxc.rootfs.path = dir:%s\n%s"+
		"lxc.net.0.type = veth\nlxc.net.0.link = %s\nlxc.net.0.veth.pair = %s\nlxc.net.0.flags = up\nlxc.net.0.ipv4.address = 10.231.7.2/24\n",
		e.name, e.rootfs, testinitBase, br, pair))
	e.mustInitd(0, "start", e.name)
	link, err := netlink.LinkByName(br)
	if err != nil {
		t.Fatal(err)
	}
	hostEnd := func() (netlink.Link, error) { return netlink.LinkByName(pair) }
	l1, err := hostEnd()
	if err != nil {
		t.Fatalf("host end %s: %v", pair, err)
	}
	if l1.Attrs().MasterIndex != link.Attrs().Index {
		t.Errorf("%s not on bridge %s", pair, br)
	}
	e.waitReport()
	e.forgetReport()
	e.command("reboot")
	e.waitState(15*time.Second, "boot 2", func(s *shimctl.Status) bool {
		return s.BootCount == 2 && s.State == shimctl.StateRunning
	})
	l2, err := hostEnd()
	if err != nil {
		t.Fatalf("host end after reboot: %v", err)
	}
	if l2.Attrs().Index == l1.Attrs().Index {
		t.Errorf("reboot kept the old pair (ifindex %d)", l1.Attrs().Index)
	}
	if l2.Attrs().MasterIndex != link.Attrs().Index {
		t.Errorf("%s not on bridge %s after reboot", pair, br)
	}
	e.waitReport()
	st := e.state()
	e.mustInitd(0, "stop", e.name, "-t", "10")
	e.waitGone(st.ShimPid, "shim")
	if _, err := hostEnd(); err == nil {
		t.Errorf("host end %s left after the stop", pair)
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, e.name)
}

// A boot that fails (the init does not exist) makes start exit 1 with the
// launcher's error, naming the key; the shim ends failed and nothing is
// left on the host.
func TestLifecycleStartFailureReported(t *testing.T) {
	e := newLC(t, rootTestinit, testinitBase+"lxc.init.cmd = /sbin/tl-no-such-init\n")
	out, errOut, code := e.initd("start", e.name)
	if code != 1 {
		t.Fatalf("start exit %d, want 1\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "lxc.init.cmd") || !strings.Contains(errOut, "/sbin/tl-no-such-init") {
		t.Errorf("start error %q does not name the key and the path", errOut)
	}
	st := e.state()
	if st.State != shimctl.StateFailed || !strings.Contains(st.Reason, "tl-no-such-init") {
		t.Errorf("state %+v", st)
	}
	e.waitGone(st.ShimPid, "shim")
	if _, _, code := e.initd("status", e.name); code != 1 {
		t.Errorf("status exit %d, want 1 (dead, state left)", code)
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// Without its shim, a container whose init ignores the halt signal is
// still stopped: killed through its cgroup after -t, escaped process
// included.
func TestLifecycleShimKilledForcedStop(t *testing.T) {
	e, st, escaped := startWithEscaper(t, "SIGHUP ignore\nSIGPWR ignore\nSIGRTMIN+3 ignore\n")
	pids := append(escaped, st.Pid)
	if err := syscall.Kill(st.ShimPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitGone(st.ShimPid, "shim")
	start := time.Now()
	out := e.mustInitd(0, "stop", e.name, "-t", "1")
	if took := time.Since(start); took < time.Second || took > 3*time.Second {
		t.Errorf("stop -t 1 without a shim took %v, want 1-3 s", took)
	}
	if !strings.Contains(out, "forced") {
		t.Errorf("stop said %q", out)
	}
	for _, p := range pids {
		if alive(p) {
			t.Errorf("pid %d survived", p)
		}
	}
	if fin := e.state(); fin.State != shimctl.StateStopped || fin.StopResult != shimctl.StopForced {
		t.Errorf("state %+v", fin)
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// Issue 11: with lxc.cgroup.dir naming someone else's cgroup (a service
// with a process in it), cleanup of a container that never ran killed that
// process and removed the cgroup. Now such an lxc.cgroup.dir is a config
// error (start names file, line and key; cleanup touches nothing of it),
// and below lxc-shim's own subtree a cgroup lxc-shim did not make is
// refused by cleanup and left with its process.
func TestLifecycleCleanupForeignCgroupDir(t *testing.T) {
	e := newLC(t, rootTestinit, testinitBase)
	cfgPath := filepath.Join(e.lxcpath, e.name, "config")
	head := fmt.Sprintf("lxc.uts.name = %s\nlxc.rootfs.path = dir:%s\n%s", e.name, e.rootfs, testinitBase)

	// A service's cgroup, outside lxc-shim's subtree.
	svc := e.name + "svc/other/svc"
	sleep, waited := foreignCgroup(t, svc)
	testutil.WriteConfig(t, e.lxcpath, e.name, head+"lxc.cgroup.dir = "+svc+"\n")
	out, errOut, code := e.initd("cleanup", e.name)
	t.Logf("cleanup with lxc.cgroup.dir = %s: exit %d\n%s%s", svc, code, out, errOut)
	survives(t, waited, fmt.Sprintf("the service's process %d, by cleanup", sleep.Process.Pid))
	for _, mnt := range cgroupHierarchies(t) {
		if _, err := os.Stat(filepath.Join(mnt, svc)); err != nil {
			t.Errorf("the service's cgroup was removed from %s: %v", mnt, err)
		}
	}
	out, errOut, code = e.initd("start", e.name)
	if code != 1 || !strings.Contains(errOut, cfgPath+":4: lxc.cgroup.dir") || !strings.Contains(errOut, "outside lxc-shim's own subtree") {
		t.Errorf("start with lxc.cgroup.dir = %s: exit %d\n%s%s", svc, code, out, errOut)
	}
	survives(t, waited, fmt.Sprintf("the service's process %d, by start", sleep.Process.Pid))

	// Below lxc-shim/, but not made by lxc-shim for this container.
	grp := "lxc-shim/" + e.name + "grp/svc"
	sleep2, waited2 := foreignCgroup(t, grp)
	testutil.WriteConfig(t, e.lxcpath, e.name, head+"lxc.cgroup.dir = "+grp+"\n")
	out, errOut, code = e.initd("cleanup", e.name)
	if code == 0 || !strings.Contains(errOut, "not created by lxc-shim for "+e.name) || !strings.Contains(errOut, grp) {
		t.Errorf("cleanup with lxc.cgroup.dir = %s: exit %d\n%s%s", grp, code, out, errOut)
	}
	survives(t, waited2, fmt.Sprintf("the foreign process %d in %s, by cleanup", sleep2.Process.Pid, grp))
}

// Issue 11: after rm -rf RUNDIR/NAME under a running container, status said
// stopped, start launched a second shim whose stale cleanup killed the
// first container, and stop could not end it. Now the shim still answers
// (through its abstract socket): status and list say running, start says
// already running and makes no second shim, a second lxc-shim started by hand
// refuses before touching anything, the init lives on, and stop ends it.
func TestLifecycleRunDirRemoved(t *testing.T) {
	e := newLC(t, rootTestinit, testinitBase)
	e.mustInitd(0, "start", e.name)
	st := e.state()
	e.waitReport()
	if err := os.RemoveAll(filepath.Join(e.rundir, e.name)); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := e.initd("status", e.name)
	if code != 0 || !strings.Contains(out, "running") {
		t.Errorf("status after rm -rf of the run directory: exit %d\n%s%s", code, out, errOut)
	}
	if out := e.mustInitd(0, "list"); !strings.Contains(out, e.name) || !strings.Contains(out, "running") {
		t.Errorf("list after rm -rf of the run directory:\n%s", out)
	}
	out, errOut, code = e.initd("start", e.name)
	if code != 0 || !strings.Contains(out, "already running") {
		t.Errorf("start after rm -rf of the run directory: exit %d\n%s%s", code, out, errOut)
	}
	second := exec.Command(e.bins.Shim, "-P", e.lxcpath, "--rundir", e.rundir, "--logdir", e.logdir, e.name, "--foreground")
	b, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "already running") {
		t.Errorf("a second lxc-shim for a running container: %v\n%s", err, b)
	}
	if shims := e.shims(); len(shims) != 1 || shims[0] != st.ShimPid {
		t.Errorf("shims %v, want only %d", shims, st.ShimPid)
	}
	time.Sleep(200 * time.Millisecond)
	if !alive(st.Pid) || !slices.Contains(e.cgroupPids(), st.Pid) {
		t.Fatalf("the first init %d died or left its cgroup (pids %v); events:\n%s", st.Pid, e.cgroupPids(), e.events())
	}
	if n := strings.Count(e.events(), "boot"); n != 1 {
		t.Errorf("%d boots, want 1:\n%s", n, e.events())
	}
	out = e.mustInitd(0, "stop", e.name, "-t", "10")
	if !strings.Contains(out, "graceful") {
		t.Errorf("stop said %q", out)
	}
	e.waitGone(st.Pid, "init")
	e.waitGone(st.ShimPid, "shim")
	e.mustInitd(3, "status", e.name)
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// The shim makes its run directory again when someone removes it: the
// lock (held), the control socket and state.json are back within a moment,
// whether the whole directory or one file went.
func TestLifecycleRunDirRecreated(t *testing.T) {
	e := newLC(t, rootTestinit, testinitBase)
	e.mustInitd(0, "start", e.name)
	st := e.state()
	p := shimctl.PathsFor(e.rundir, e.name)
	back := func(what string) {
		t.Helper()
		testutil.WaitFor(t, 5*time.Second, what, func() error {
			if !shimctl.LockHeld(p.Lock) {
				return fmt.Errorf("lock %s not held", p.Lock)
			}
			if _, err := os.Stat(p.Socket); err != nil {
				return err
			}
			got, err := shimctl.ReadState(p.State)
			if err != nil {
				return err
			}
			if got.ShimPid != st.ShimPid || got.Pid != st.Pid {
				return fmt.Errorf("state.json says shim %d init %d", got.ShimPid, got.Pid)
			}
			return nil
		})
	}
	if err := os.RemoveAll(p.Dir); err != nil {
		t.Fatal(err)
	}
	back("the run directory to come back")
	for _, f := range []string{p.Lock, p.Socket, p.State} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
		back(filepath.Base(f) + " to come back")
	}
	if out := e.mustInitd(0, "status", e.name); !strings.Contains(out, "running") {
		t.Errorf("status said %q", out)
	}
	// Repaired, the shim is idle again (its repairs do not wake it), once
	// the Go runtime has settled after the requests.
	time.Sleep(time.Second)
	before := wakeups(st.ShimPid)
	time.Sleep(2 * time.Second)
	if n := wakeups(st.ShimPid) - before; n > 10 {
		t.Errorf("the shim woke up %d times in 2 s after the repair", n)
	}
	e.mustInitd(0, "stop", e.name, "-t", "10")
	e.waitGone(st.ShimPid, "shim")
	if _, err := os.Stat(p.Socket); err == nil {
		t.Errorf("control socket %s left after the stop", p.Socket)
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// Issue 11: a forged state.json (a host process's pid and start time,
// state running, no shim) made stop signal that process. Now stop checks
// that the pid is the container's init (PID 1 of its own PID namespace, in
// the container's cgroup) before any signal, and refuses; status does not
// call it running. So too for PID 1 of another PID namespace (another
// container's init) that is not in the container's cgroup.
func TestLifecycleForgedStateNotSignalled(t *testing.T) {
	e := newLC(t, rootTestinit, testinitBase)
	p := shimctl.PathsFor(e.rundir, e.name)
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	host := exec.Command("sleep", "1000")
	startCmd(t, host)
	nsinit := exec.Command("unshare", "--pid", "--fork", "--kill-child", "sleep", "1000")
	startCmd(t, nsinit)
	var child int
	testutil.WaitFor(t, 5*time.Second, "the sleep in its own PID namespace", func() error {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", nsinit.Process.Pid, nsinit.Process.Pid))
		f := strings.Fields(string(b))
		if len(f) != 1 {
			return fmt.Errorf("children %q", b)
		}
		child, _ = strconv.Atoi(f[0])
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", child))
		if !strings.Contains(string(st), fmt.Sprintf("\nNSpid:\t%d\t1\n", child)) {
			return fmt.Errorf("pid %d is not PID 1 of its namespace yet", child)
		}
		return nil
	})
	for _, pid := range []int{host.Process.Pid, child} {
		start, err := shimctl.ProcStartTime(pid)
		if err != nil {
			t.Fatal(err)
		}
		if err := shimctl.WriteState(p.State, &shimctl.Status{Name: e.name, State: shimctl.StateRunning, Pid: pid, PidStart: start, BootCount: 1}); err != nil {
			t.Fatal(err)
		}
		if out, errOut, code := e.initd("status", e.name); code == 0 {
			t.Errorf("status with a forged state naming pid %d calls it running: %s%s", pid, out, errOut)
		}
		for _, args := range [][]string{{"stop", e.name, "-t", "1"}, {"stop", e.name, "--kill"}} {
			out, errOut, code := e.initd(args...)
			t.Logf("pid %d, %v: exit %d\n%s%s", pid, args, code, out, errOut)
			time.Sleep(300 * time.Millisecond)
			if !alive(pid) {
				t.Fatalf("process %d named by a forged state.json was killed by %v", pid, args)
			}
			if code != 0 && !strings.Contains(errOut, fmt.Sprintf("pid %d", pid)) {
				t.Errorf("%v: exit %d without naming pid %d: %s", args, code, pid, errOut)
			}
		}
	}
}

// Issue 11: the long-lived shim kept the descriptors of whoever ran
// lxc-initd start (an init script's lock file, a pipe of its shell), for
// the container's life. Now it holds none of them, and neither does the
// container's init: the pipe's reader sees EOF once lxc-initd is done.
func TestLifecycleShimGetsNoCallerFDs(t *testing.T) {
	e := newLC(t, rootTestinit, testinitBase)
	lockPath := filepath.Join(t.TempDir(), "caller.lock")
	lock, err := os.Create(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	var pipeStat syscall.Stat_t
	if err := syscall.Fstat(int(pr.Fd()), &pipeStat); err != nil {
		t.Fatal(err)
	}
	pipeLink := fmt.Sprintf("pipe:[%d]", pipeStat.Ino)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	// fd 3 is where lxc-initd hands the shim its ready pipe: the
	// caller's own descriptors are 4 (lock), 5 and 6 (pipe).
	cmd := exec.Command(e.bins.Initd, e.cli().args("start", e.name)...)
	cmd.ExtraFiles = []*os.File{devnull, lock, pr, pw}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	pw.Close()
	st := e.state()
	for _, pid := range []int{st.ShimPid, st.Pid} {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, fd := range fds {
			l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			all = append(all, fd.Name()+"->"+l)
			if l == lockPath || l == pipeLink {
				t.Errorf("pid %d (shim %d) holds the caller's %s as fd %s", pid, st.ShimPid, l, fd.Name())
			}
		}
		t.Logf("fds of %d: %v", pid, all)
	}
	pr.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := pr.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("the caller's pipe: read %d, %v; want EOF (no writer left)", n, err)
	}
	e.mustInitd(0, "stop", e.name, "--kill")
	e.waitGone(st.ShimPid, "shim")
}

// testBridge makes an up bridge named prefix and six random hex digits,
// removed when the test ends.
func testBridge(t *testing.T, prefix string) string {
	t.Helper()
	br := testutil.Name(prefix)
	link := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: br}}
	if err := netlink.LinkAdd(link); err != nil {
		t.Fatalf("bridge %s: %v", br, err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(link) })
	if err := netlink.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
	return br
}
