package tests

// End-to-end tests of the OpenRC runscript (init.d/lxc) driven by Debian's
// real OpenRC: the script installed as /etc/init.d/lxc, one lxc.NAME
// symlink per container, runlevels the test creates, `openrc RUNLEVEL`
// and `rc-service`. The machine runs no init system as PID 1, so the test
// marks OpenRC as booted itself (/run/openrc/softlevel) and undoes every
// change to the host on cleanup. Names carry the prefix "to".

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

const (
	orcInitd   = "/etc/init.d"
	orcConfd   = "/etc/conf.d"
	orcRcConfd = "/etc/rc.conf.d"
	orcLevels  = "/etc/runlevels"
	orcSvcdir  = "/run/openrc"
)

// orcHost is OpenRC set up for one test.
type orcHost struct {
	t       *testing.T
	bins    testutil.Bins
	lxcpath string
	rundir  string
	logdir  string
	// level is the runlevel the test boots, empty one with no service.
	level, empty string
	services     []string
}

// orcCT is one container with its lxc.NAME service.
type orcCT struct {
	name, rootfs, config string
}

func (c *orcCT) svc() string { return "lxc." + c.name }

// newOrcHost installs the runscript and prepares OpenRC. Everything added
// is removed, everything replaced restored, when the test ends.
func newOrcHost(t *testing.T) *orcHost {
	t.Helper()
	testutil.RequireRoot(t)
	for _, p := range []string{"/sbin/openrc-run", "openrc", "rc-service", "rc-update"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("OpenRC is not installed (%s: %v); `make deps` installs Debian's openrc", p, err)
		}
	}
	// One OpenRC test at a time on this host, also across test
	// processes: each saves and restores host files that another would
	// change meanwhile. The lock is on /etc/init.d itself, so nothing is
	// left behind.
	lockf, err := os.Open(orcInitd)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lockf.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", orcInitd, err)
	}
	t.Cleanup(func() { lockf.Close() })

	dir := t.TempDir()
	suffix := testutil.Name("")
	o := &orcHost{
		t: t, bins: testutil.Binaries(t),
		lxcpath: filepath.Join(dir, "lxc"), rundir: filepath.Join(dir, "run"), logdir: filepath.Join(dir, "log"),
		level: "to-boot-" + suffix, empty: "to-empty-" + suffix,
	}
	var undo []func()
	t.Cleanup(func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	})

	// A host that OpenRC did not boot has no /run/openrc (or one without
	// softlevel): openrc-run refuses to start services there.
	if _, err := os.Stat(orcSvcdir); errors.Is(err, os.ErrNotExist) {
		for _, d := range []string{"", "daemons", "exclusive", "failed", "hotplugged", "inactive", "options", "scheduled", "started", "starting", "stopping", "tmp", "wasinactive"} {
			if err := os.MkdirAll(filepath.Join(orcSvcdir, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		undo = append(undo, func() { os.RemoveAll(orcSvcdir) })
	} else {
		// Leave OpenRC's state as it was: what OpenRC added at the top
		// (depconfig, an rc.stopping of an interrupted run) goes, the
		// dependency cache that knew our services is dropped, and so is
		// the state of our services.
		before := map[string]bool{}
		ents, _ := os.ReadDir(orcSvcdir)
		for _, e := range ents {
			before[e.Name()] = true
		}
		undo = append(undo, func() {
			for _, s := range o.services {
				removeSvcState(s)
			}
			removeSvcState("lxc")
			os.Remove(filepath.Join(orcSvcdir, "deptree"))
			ents, _ := os.ReadDir(orcSvcdir)
			for _, e := range ents {
				if !before[e.Name()] {
					os.RemoveAll(filepath.Join(orcSvcdir, e.Name()))
				}
			}
		})
	}
	undo = append(undo, restoreFile(t, filepath.Join(orcSvcdir, "softlevel")))
	if err := os.WriteFile(filepath.Join(orcSvcdir, "softlevel"), []byte(o.empty+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, l := range []string{o.level, o.empty} {
		p := filepath.Join(orcLevels, l)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		undo = append(undo, func() { os.RemoveAll(p) })
	}

	// The runscript, as make install writes it.
	src, err := os.ReadFile(filepath.Join(moduleRoot(t), "init.d", "lxc"))
	if err != nil {
		t.Fatal(err)
	}
	undo = append(undo, restoreFile(t, filepath.Join(orcInitd, "lxc")))
	script := strings.ReplaceAll(string(src), "@SBINDIR@", o.bins.Dir)
	if err := os.WriteFile(filepath.Join(orcInitd, "lxc"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	undo = append(undo, mkdirUndo(t, orcConfd))
	// OpenRC's cgroup support makes one cgroup per service (the bare
	// "lxc" service's too, and leaves it when the start fails); remove
	// those of this test's services, and the bare one's if it is new.
	cgDirs := func(svc string) []string {
		return []string{"/sys/fs/cgroup/unified/" + svc, "/sys/fs/cgroup/openrc/" + svc, "/sys/fs/cgroup/" + svc}
	}
	var bareNew []string
	for _, d := range cgDirs("lxc") {
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			bareNew = append(bareNew, d)
		}
	}
	undo = append(undo, func() {
		var dirs []string
		for _, s := range o.services {
			dirs = append(dirs, cgDirs(s)...)
		}
		for _, d := range append(dirs, bareNew...) {
			removeCgroup(t, d)
		}
	})
	return o
}

// moduleRoot is the repository's root.
func moduleRoot(t *testing.T) string {
	t.Helper()
	r, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// restoreFile returns what puts path back as it is now (absent or with
// its current content).
func restoreFile(t *testing.T, path string) func() {
	t.Helper()
	old, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return func() { os.Remove(path) }
	}
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	return func() { os.WriteFile(path, old, st.Mode().Perm()) }
}

// mkdirUndo creates dir if it is missing and returns what removes it again
// (only if the test created it; it must be empty by then).
func mkdirUndo(t *testing.T, dir string) func() {
	t.Helper()
	if _, err := os.Stat(dir); err == nil {
		return func() {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return func() { os.Remove(dir) }
}

// removeCgroup removes a cgroup OpenRC made for one of the test's
// services. After a failed test, openrc-run processes of an interrupted
// runlevel change may still be in it: they are the test's own, and are
// killed if they do not end by themselves.
func removeCgroup(t *testing.T, dir string) {
	if _, err := os.Stat(dir); err != nil {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("cgroup %s left behind: %v", dir, err)
			return
		}
		if time.Until(deadline) < 5*time.Second {
			b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// removeSvcState removes OpenRC's state of service svc (started/svc,
// options/svc, ...).
func removeSvcState(svc string) {
	ents, _ := os.ReadDir(orcSvcdir)
	for _, e := range ents {
		if e.IsDir() {
			os.RemoveAll(filepath.Join(orcSvcdir, e.Name(), svc))
		}
	}
}

// parallel makes OpenRC start and stop services in parallel
// (rc_parallel="YES", from /etc/rc.conf.d, which librc reads too).
func (o *orcHost) parallel() {
	o.t.Helper()
	o.t.Cleanup(mkdirUndo(o.t, orcRcConfd))
	p := filepath.Join(orcRcConfd, o.level+".conf")
	if err := os.WriteFile(p, []byte("rc_parallel=\"YES\"\n"), 0o644); err != nil {
		o.t.Fatal(err)
	}
	o.t.Cleanup(func() { os.Remove(p) })
}

// busybox makes a busybox container with its lxc.NAME service; rcK is the
// container's shutdown script (it runs when busybox init halts or reboots).
func (o *orcHost) busybox(rcK string) *orcCT {
	t := o.t
	t.Helper()
	c := &orcCT{name: testutil.Name("to")}
	c.rootfs = filepath.Join(t.TempDir(), "rootfs")
	testutil.BusyboxRootfs(t, c.rootfs)
	if rcK != "" {
		if err := os.WriteFile(filepath.Join(c.rootfs, "etc/init.d/rcK"), []byte("#!/bin/sh\n"+rcK), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c.config = testutil.WriteConfig(t, o.lxcpath, c.name, fmt.Sprintf(
		"lxc.uts.name = %s\nlxc.rootfs.path = dir:%s\n"+
			"# busybox init halts on SIGUSR1 and reboots on SIGTERM\n"+
			"lxc.signal.halt = SIGUSR1\nlxc.signal.reboot = SIGTERM\n", c.name, c.rootfs))
	o.service(c)
	return c
}

// service makes /etc/init.d/lxc.NAME and /etc/conf.d/lxc.NAME.
func (o *orcHost) service(c *orcCT) {
	t := o.t
	t.Helper()
	svc := c.svc()
	o.services = append(o.services, svc)
	link := filepath.Join(orcInitd, svc)
	if err := os.Symlink("lxc", link); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(orcConfd, svc)
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(
		"lxc_path=%q\nlxc_rundir=%q\nlxc_logdir=%q\nlxc_stop_timeout=20\n",
		o.lxcpath, o.rundir, o.logdir)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(o.logdir, c.name+".log")); err == nil {
				t.Logf("shim log of %s:\n%s", c.name, b)
			}
		}
		o.initd("stop", "--kill", c.name)
		o.initd("cleanup", c.name)
		exec.Command("rc-update", "del", svc, o.level).Run()
		os.Remove(link)
		os.Remove(conf)
		testutil.CheckNoLeaks(t, c.name, c.rootfs, "")
	})
}

// initd runs lxc-initd on the test's directories.
func (o *orcHost) initd(args ...string) (string, int) {
	full := append([]string{"-P", o.lxcpath, "--rundir", o.rundir, "--logdir", o.logdir}, args...)
	return orcRun(o.bins.Initd, full...)
}

// orcRun runs a command and returns its combined output and exit code.
func orcRun(name string, args ...string) (string, int) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "EINFO_COLOR=NO")
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return b.String(), ee.ExitCode()
	}
	if err != nil {
		return fmt.Sprintf("%s: %v", name, err), -1
	}
	return b.String(), 0
}

// must runs a command and fails the test unless it exits want.
func (o *orcHost) must(want int, name string, args ...string) string {
	o.t.Helper()
	out, code := orcRun(name, args...)
	if code != want {
		o.t.Fatalf("%s %s: exit %d, want %d\n%s", name, strings.Join(args, " "), code, want, out)
	}
	return out
}

func (o *orcHost) state(c *orcCT) *shimctl.Status {
	st, err := shimctl.ReadState(shimctl.PathsFor(o.rundir, c.name).State)
	if err != nil {
		return nil
	}
	return st
}

func (o *orcHost) waitState(c *orcCT, what string, cond func(*shimctl.Status) bool) *shimctl.Status {
	o.t.Helper()
	var st *shimctl.Status
	testutil.WaitFor(o.t, 30*time.Second, c.name+": "+what, func() error {
		if st = o.state(c); st == nil || !cond(st) {
			return fmt.Errorf("state %+v", st)
		}
		return nil
	})
	return st
}

func (c *orcCT) events() string {
	b, _ := os.ReadFile(filepath.Join(c.rootfs, "testinit", "events.log"))
	return string(b)
}

func (o *orcHost) waitEvents(c *orcCT, needle string, n int) {
	o.t.Helper()
	testutil.WaitFor(o.t, 30*time.Second, fmt.Sprintf("%s: %d× %q in events.log", c.name, n, needle), func() error {
		if got := strings.Count(c.events(), needle); got < n {
			return fmt.Errorf("%d so far:\n%s", got, c.events())
		}
		return nil
	})
}

func running(st *shimctl.Status) bool {
	return st.State == shimctl.StateRunning && st.Pid > 0
}

func TestOpenRCBareServiceExplainsTheSymlink(t *testing.T) {
	o := newOrcHost(t)
	// A service whose container has no config says so.
	ghost := &orcCT{name: testutil.Name("to")}
	o.service(ghost)
	if out, code := orcRun("rc-service", ghost.svc(), "status"); code != 3 || !strings.Contains(out, "no container "+ghost.name) {
		t.Errorf("status of a container without config: exit %d, want 3 and 'no container'\n%s", code, out)
	}
	if out, code := orcRun("rc-service", ghost.svc(), "start"); code == 0 || !strings.Contains(out, ghost.name) {
		t.Errorf("start of a container without config: exit %d\n%s", code, out)
	}

	out, code := orcRun("rc-service", "lxc", "start")
	if code == 0 {
		t.Fatalf("rc-service lxc start succeeded:\n%s", out)
	}
	if !strings.Contains(out, "ln -s lxc /etc/init.d/lxc.NAME") || !strings.Contains(out, "rc-update add lxc.NAME default") {
		t.Errorf("the failure does not say how to make a container's service:\n%s", out)
	}
}

func TestOpenRCDependsOnTheConfigsNetworkLinks(t *testing.T) {
	o := newOrcHost(t)
	c := &orcCT{name: testutil.Name("to")}
	inc := filepath.Join(t.TempDir(), "nets.conf")
	os.WriteFile(inc, []byte(
		"# legacy keys, as the seed write-up writes them\n"+
			"lxc.network.type = macvlan\n"+
			"lxc.network.link = toMv0\n"+
			"lxc.network.type = empty\n"+
			"lxc.network.link = toNoNet\n"), 0o644)
	c.config = testutil.WriteConfig(t, o.lxcpath, c.name, ""+
		"lxc.net.0.type = veth\n"+
		"lxc.net.0.link = toBr0   # the host bridge\n"+
		"#lxc.net.1.link = toCommented\n"+
		"  # lxc.net.3.link = toCommented2\n"+
		"lxc.net.1.type = phys\n"+
		"lxc.net.1.link = toPhys0\n"+
		"lxc.net.2.type = vlan\n"+
		"lxc.net.2.link = toNoSvc\n"+
		"lxc.include = "+inc+"\n")
	o.service(c)
	// The host manages toBr0 with a netifrc-style service; no other link
	// has one.
	netSvc := filepath.Join(orcInitd, "net.toBr0")
	t.Cleanup(restoreFile(t, netSvc))
	if err := os.WriteFile(netSvc, []byte("#!/sbin/openrc-run\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	out := o.must(0, filepath.Join(orcInitd, c.svc()), "depend")
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 {
			deps[f[0]] = append(deps[f[0]], f[1:]...)
		}
	}
	for _, l := range deps {
		sort.Strings(l)
	}
	want := map[string][]string{
		"need":    {"net.toBr0"},
		"use":     {"net.toMv0", "net.toNoSvc", "net.toPhys0"},
		"after":   {"firewall", "net"},
		"keyword": {"-timeout"},
		"config":  {c.config},
	}
	for k, v := range want {
		if strings.Join(deps[k], " ") != strings.Join(v, " ") {
			t.Errorf("%s = %v, want %v\nfull output:\n%s", k, deps[k], v, out)
		}
	}
	if strings.Contains(out, "toCommented") || strings.Contains(out, "toNoNet") {
		t.Errorf("a commented link or an empty network became a dependency:\n%s", out)
	}
}

// TestOpenRCBootStatusRebootStopAndHalt drives one busybox container
// through OpenRC: booted by a runlevel, rebooted and stopped with
// rc-service, then halted from inside, which OpenRC must see as stopped.
func TestOpenRCBootStatusRebootStopAndHalt(t *testing.T) {
	o := newOrcHost(t)
	c := o.busybox("")
	o.must(0, "rc-update", "add", c.svc(), o.level)

	boot := o.must(0, "openrc", o.level)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("openrc %s said:\n%s", o.level, boot)
		}
	})
	st := o.waitState(c, "running after openrc "+o.level, running)
	o.waitEvents(c, "rcS", 1)
	if out := o.must(0, "rc-service", c.svc(), "status"); !strings.Contains(out, "status: started") {
		t.Errorf("status of a running container:\n%s", out)
	}

	o.must(0, "rc-service", c.svc(), "reboot")
	o.waitEvents(c, "rcS", 2)
	st2 := o.waitState(c, "running again after reboot", func(s *shimctl.Status) bool { return running(s) && s.BootCount == 2 })
	if st2.Pid == st.Pid {
		t.Errorf("reboot kept init pid %d", st.Pid)
	}
	if !strings.Contains(c.events(), "shutdown") {
		t.Errorf("busybox's shutdown actions did not run on reboot:\n%s", c.events())
	}

	// freeze and unfreeze, the runscript's extra commands; a frozen
	// container is still started for OpenRC.
	o.must(0, "rc-service", c.svc(), "freeze")
	if st := o.state(c); st == nil || st.State != shimctl.StateFrozen {
		t.Errorf("after rc-service freeze: %+v", st)
	}
	if out := o.must(0, "rc-service", c.svc(), "status"); !strings.Contains(out, "status: started") {
		t.Errorf("status of a frozen container:\n%s", out)
	}
	o.must(0, "rc-service", c.svc(), "unfreeze")
	if st := o.state(c); st == nil || st.State != shimctl.StateRunning {
		t.Errorf("after rc-service unfreeze: %+v", st)
	}

	o.must(0, "rc-service", c.svc(), "stop")
	if n := strings.Count(c.events(), "shutdown"); n != 2 {
		t.Errorf("%d shutdown runs after reboot and stop, want 2 (graceful stop reaches the init):\n%s", n, c.events())
	}
	if st := o.state(c); st != nil && st.StopResult != "" && st.StopResult != shimctl.StopGraceful {
		t.Errorf("stop result %q, want graceful", st.StopResult)
	}
	if out, code := orcRun("rc-service", c.svc(), "status"); code != 3 || !strings.Contains(out, "status: stopped") {
		t.Errorf("status after stop: exit %d, want 3\n%s", code, out)
	}
	testutil.CheckNoLeaks(t, c.name, c.rootfs, "")

	// Halted from inside: busybox halt sends the init SIGUSR1.
	o.must(0, "rc-service", c.svc(), "start")
	st = o.waitState(c, "running after rc-service start", running)
	// busybox init runs rcS once its signal handlers are set up.
	o.waitEvents(c, "rcS", 3)
	if err := syscall.Kill(st.Pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	o.waitState(c, "halted from inside", func(s *shimctl.Status) bool { return s.State == shimctl.StateHalted })
	out, code := orcRun("rc-service", c.svc(), "status")
	if code != 3 || !strings.Contains(out, "status: stopped") {
		t.Errorf("status of a container halted from inside: exit %d, want 3\n%s", code, out)
	}
	// OpenRC now knows it stopped: start boots it again.
	if out := o.must(0, "rc-service", c.svc(), "start"); strings.Contains(out, "already started") {
		t.Errorf("start after a halt from inside did nothing:\n%s", out)
	}
	o.waitState(c, "running after the halt and a new start", running)
	o.waitEvents(c, "rcS", 4)
	o.must(0, "rc-service", c.svc(), "stop")
	if n := strings.Count(c.events(), "shutdown"); n != 4 {
		t.Errorf("%d shutdown runs, want 4 (reboot, stop, halt, stop):\n%s", n, c.events())
	}
}

// TestOpenRCShimDeathIsCrashed kills a container's shim: the init runs on
// without it, OpenRC's status says crashed, and stop still stops it.
func TestOpenRCShimDeathIsCrashed(t *testing.T) {
	o := newOrcHost(t)
	c := o.busybox("")
	// conf.d settings reach the shim.
	f, err := os.OpenFile(filepath.Join(orcConfd, c.svc()), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, `lxc_restart="no"`)
	f.Close()
	o.must(0, "rc-service", c.svc(), "start")
	st := o.waitState(c, "running", running)
	o.waitEvents(c, "rcS", 1)
	if st.ShimPid <= 0 {
		t.Fatalf("state.json has no shim pid: %+v", st)
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.ShimPid))
	args := strings.Join(strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"), " ")
	for _, want := range []string{"--restart no", "--stop-timeout 20s", "-P " + o.lxcpath, "--rundir " + o.rundir} {
		if !strings.Contains(args, want) {
			t.Errorf("shim started as %q: no %q from conf.d", args, want)
		}
	}
	if err := syscall.Kill(st.ShimPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "shim gone", func() error {
		if shimctl.LockHeld(shimctl.PathsFor(o.rundir, c.name).Lock) {
			return errors.New("lock still held")
		}
		return nil
	})
	out, code := orcRun("rc-service", c.svc(), "status")
	if code != 32 || !strings.Contains(out, "crashed") {
		t.Errorf("status after the shim died: exit %d, want 32 (crashed)\n%s", code, out)
	}
	before := strings.Count(c.events(), "shutdown")
	o.must(0, "rc-service", c.svc(), "stop")
	if strings.Count(c.events(), "shutdown") != before+1 {
		t.Errorf("stop without the shim did not halt the init gracefully:\n%s", c.events())
	}
	testutil.CheckNoLeaks(t, c.name, c.rootfs, "")
}

// TestOpenRCParallelRunlevelChangeStopsAllAtOnce boots three containers
// with one runlevel and switches to an empty one with rc_parallel="YES".
// Each container's shutdown script announces itself, then waits for the
// test's go-ahead: the go-ahead is only given once all three announced,
// which sequential stops could never do (the first would wait for ever).
// Each then finishes its shutdown by itself: the halt signal reached its
// init and nothing needed a kill.
func TestOpenRCParallelRunlevelChangeStopsAllAtOnce(t *testing.T) {
	o := newOrcHost(t)
	o.parallel()
	rcK := "touch /testinit/stopping\n" +
		"while [ ! -e /testinit/go ]; do usleep 20000; done\n" +
		"echo shutdown >> /testinit/events.log\n" +
		"touch /testinit/shutdown-marker\n"
	cts := []*orcCT{o.busybox(rcK), o.busybox(rcK), o.busybox(rcK)}
	for _, c := range cts {
		o.must(0, "rc-update", "add", c.svc(), o.level)
	}
	boot := o.must(0, "openrc", o.level)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("openrc %s said:\n%s", o.level, boot)
		}
	})
	for _, c := range cts {
		o.waitState(c, "running", running)
		o.waitEvents(c, "rcS", 1)
	}

	cmd := exec.Command("openrc", o.empty)
	cmd.Env = append(os.Environ(), "EINFO_COLOR=NO")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := startCmd(t, cmd)

	for _, c := range cts {
		testutil.WaitFor(t, 15*time.Second, c.name+" stopping alongside the others", func() error {
			_, err := os.Stat(filepath.Join(c.rootfs, "testinit", "stopping"))
			return err
		})
	}
	for _, c := range cts {
		if err := os.WriteFile(filepath.Join(c.rootfs, "testinit", "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("openrc %s: %v\n%s", o.empty, err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("openrc %s did not finish\n%s", o.empty, out.String())
	}
	for _, c := range cts {
		if _, err := os.Stat(filepath.Join(c.rootfs, "testinit", "shutdown-marker")); err != nil {
			t.Errorf("%s: no shutdown marker, its init never ran its shutdown: %v", c.name, err)
		}
		if st := o.state(c); st != nil && (st.State.Active() || (st.StopResult != "" && st.StopResult != shimctl.StopGraceful)) {
			t.Errorf("%s: state %s, stop result %q; want stopped gracefully", c.name, st.State, st.StopResult)
		}
		if out, code := orcRun("rc-service", c.svc(), "status"); code != 3 {
			t.Errorf("%s: status exit %d after the runlevel change, want 3\n%s", c.name, code, out)
		}
		testutil.CheckNoLeaks(t, c.name, c.rootfs, "")
	}
}

// TestOpenRCConsole: `rc-service lxc.NAME console` attaches the caller's
// terminal to the container's console, and Ctrl-a q detaches, leaving the
// container running.
func TestOpenRCConsole(t *testing.T) {
	o := newOrcHost(t)
	c := o.busybox("")
	o.must(0, "rc-service", c.svc(), "start")
	o.waitState(c, "running", running)
	o.waitEvents(c, "rcS", 1)

	tm := startOnTerm(t, 24, 80, "rc-service", c.svc(), "console")
	pos := tm.expect("Connected to "+c.name+"'s console", 0)
	tm.typ("\r")
	tm.typ("echo to-$((6*7))-console\r")
	tm.expect(`to-42-console`, pos)
	tm.typ("\x01q")
	if code := tm.wait(); code != 0 {
		t.Errorf("rc-service console after Ctrl-a q: exit %d; screen:\n%q", code, tm.text())
	}
	if st := o.state(c); st == nil || !running(st) {
		t.Errorf("the container stopped after the console detached: %+v", st)
	}
	o.must(0, "rc-service", c.svc(), "stop")
}
