package tests

// End-to-end tests of issue 20 ("first-day friction"): each one is a
// surprise an admin moving over from LXC met, shown fixed through the real
// binaries.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/distro"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// The MAC "hwaddr IPV4" prints is zero-padded, passes check and start, and
// is the MAC of the interface inside; the seed's unpadded form
// (hwaddr.sh's "02:00:a:4d:0:15") is accepted as LXC accepts it and gives
// the padded MAC too.
func TestFrictionHwaddrRoundTrip(t *testing.T) {
	h := newTW(t)
	br := h.bridge()
	mac := strings.TrimSpace(h.must(0, "hwaddr", "10.77.0.20"))
	if mac != "02:00:0a:4d:00:14" {
		t.Fatalf("hwaddr 10.77.0.20 printed %q, want 02:00:0a:4d:00:14", mac)
	}
	a := h.add(rootBusybox, func(c *twCT) string {
		return c.head(twBusyboxBase) + c.vethNet(br, mac, "10.77.0.20/24")
	})
	b := h.add(rootBusybox, func(c *twCT) string {
		return c.head(twBusyboxBase) + c.vethNet(br, "02:00:a:4d:0:15", "10.77.0.21/24")
	})
	for c, want := range map[*twCT]string{a: mac, b: "02:00:0a:4d:00:15"} {
		out := h.must(0, "check", c.name)
		if !strings.Contains(out, "valid") {
			t.Errorf("check %s: %q", c.name, out)
		}
		c.start()
		if got := c.insideMAC("eth0"); got != want {
			t.Errorf("%s: eth0 MAC %s, want %s", c.name, got, want)
		}
		// Running, its own veth is no problem for check.
		if out := h.must(0, "check", c.name); !strings.Contains(out, "valid") {
			t.Errorf("check of running %s: %q", c.name, out)
		}
	}
	a.ping("10.77.0.21")
	a.stop()
	b.stop()
	h.must(0, "cleanup", a.name)
	h.must(0, "cleanup", b.name)
	h.finish()
}

// "console NAME" without --tty reaches the login prompt of a Debian
// (sysvinit) root file system, whose getty runs on tty1 as in LXC's
// templates: with lxc.tty.max > 0 console picks tty1, as lxc-console does,
// and the banner says so; "--tty 0" is still /dev/console.
func TestFrictionConsoleDefaultsToTTY1(t *testing.T) {
	e := newLC(t, string(distro.SysVinit), distro.Config)
	e.mustInitd(0, "start", e.name)
	con := startOnTerm(t, 24, 80, e.bins.Initd, e.cli().args("console", e.name)...)
	from := con.expect(`Connected to `+e.name+`'s tty1 \(lxc.tty.max = 1; --tty 0 for /dev/console\)`, 0)
	testutil.WaitFor(t, 90*time.Second, "a login prompt on the default console", func() error {
		con.typ("\r")
		if !strings.Contains(con.text()[from:], "login:") {
			return fmt.Errorf("console shows %q", con.text()[from:])
		}
		return nil
	})
	con.typ("\x01q")
	if code := con.wait(); code != 0 {
		t.Errorf("console client exited %d", code)
	}
	con0 := startOnTerm(t, 24, 80, e.bins.Initd, e.cli().args("console", "--tty", "0", e.name)...)
	con0.expect(`Connected to `+e.name+`'s console\.`, 0)
	con0.typ("\x01q")
	if code := con0.wait(); code != 0 {
		t.Errorf("console --tty 0 client exited %d", code)
	}
	e.mustInitd(0, "stop", e.name, "-t", "60")
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// "stop --kill" answers "killed (--kill)", not a timeout that never ran.
func TestFrictionStopKillSaysKill(t *testing.T) {
	e := newLC(t, rootBusybox, "lxc.signal.halt = SIGUSR1\n")
	e.mustInitd(0, "start", e.name)
	st := e.state()
	out := e.mustInitd(0, "stop", "--kill", e.name)
	if strings.TrimSpace(out) != e.name+" killed (--kill)" {
		t.Errorf("stop --kill said %q, want %q", out, e.name+" killed (--kill)")
	}
	e.waitGone(st.ShimPid, "shim")
	e.mustInitd(0, "cleanup", e.name)
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// autostart prints each container's result once: one line naming it.
func TestFrictionAutostartReportsOnce(t *testing.T) {
	h := newHostWide(t)
	a := h.add("lxc.start.auto = 1\n")
	b := h.add("lxc.start.auto = 1\nlxc.start.order = 1\n")
	out, code := h.initd("autostart")
	if code != 0 {
		t.Fatalf("autostart: exit %d\n%s", code, out)
	}
	for _, c := range []*hostCT{a, b} {
		if n := strings.Count(out, c.name); n != 1 || !strings.Contains(out, c.name+": started (pid ") {
			t.Errorf("autostart names %s %d time(s), want once as %q:\n%s", c.name, n, c.name+": started (pid …)", out)
		}
		h.waitBooted(c)
	}
	for _, c := range []*hostCT{a, b} {
		if out, code := h.initd("stop", c.name, "-t", "20"); code != 0 {
			t.Errorf("stop %s: exit %d %s", c.name, code, out)
		}
		st := h.state(c)
		if st != nil {
			testutil.WaitFor(t, 15*time.Second, c.name+"'s shim gone", func() error {
				if alive(st.ShimPid) {
					return fmt.Errorf("pid %d alive", st.ShimPid)
				}
				return nil
			})
		}
	}
}

// check NAME fails on a missing rootfs and a bridge that does not exist,
// as start then fails on them, with the same errors naming file, line and
// key, and the start leaves nothing behind; --offline checks the file
// alone.
func TestFrictionCheckSeesTheHost(t *testing.T) {
	h := newTW(t)
	var gone string
	c := h.add(rootBusybox, func(c *twCT) string {
		gone = c.rootfs + "-gone"
		return fmt.Sprintf("lxc.uts.name = %s\nlxc.rootfs.path = dir:%s\n%s", c.name, gone, twBusyboxBase) +
			c.vethNet(h.prefix+"nobr", "02:00:0a:4d:00:16", "10.77.0.22/24")
	})
	wants := []string{
		":2: lxc.rootfs.path: " + gone + ": no such file or directory",
		`:7: lxc.net.0.link: bridge "` + h.prefix + `nobr" does not exist on the host`,
	}
	out, errOut, code := h.initd("check", c.name)
	if code != 1 || strings.Contains(out, "valid") {
		t.Errorf("check: exit %d, stdout %q; want 1", code, out)
	}
	_, startErr, startCode := h.initd("start", c.name)
	if startCode != 1 {
		t.Errorf("start: exit %d; want 1", startCode)
	}
	for _, w := range wants {
		if !strings.Contains(errOut, w) {
			t.Errorf("check does not say %q:\n%s", w, errOut)
		}
		if !strings.Contains(startErr, w) {
			t.Errorf("start does not say %q:\n%s", w, startErr)
		}
	}
	if out := h.must(0, "check", "--offline", c.name); !strings.Contains(out, "valid") {
		t.Errorf("check --offline: %q", out)
	}
	h.finish()
}

// lxcRun runs an LXC tool, returning its combined output and exit code.
func lxcRun(t *testing.T, tool string, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(tool, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", tool, args, err)
	}
	return string(out), 0
}

// A container that LXC 5 runs (lxc-start -P on a temporary lxcpath, no
// network) is refused by lxc-initd start under the same lxcpath and name,
// with a message naming it, LXC's lxcpath and how to hand it over; list
// marks it; once LXC stopped it, lxc-initd starts it.
func TestFrictionStartRefusesContainerLXCRuns(t *testing.T) {
	testutil.RequireRoot(t)
	for _, tool := range []string{"lxc-start", "lxc-stop", "lxc-wait", "lxc-info"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s: %v (apt-get install lxc)", tool, err)
		}
	}
	e := newLC(t, rootBusybox, "lxc.signal.halt = SIGUSR1\nlxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n")
	lxcLog := filepath.Join(t.TempDir(), "lxc.log")
	lxcpath := e.lxcpath
	t.Cleanup(func() {
		// Whatever happened: LXC's container goes (its cgroup and monitor
		// with it) before newLC's cleanup checks for leaks.
		lxcRun(t, "lxc-stop", "-P", lxcpath, "-n", e.name, "-k")
		if t.Failed() {
			if b, err := os.ReadFile(lxcLog); err == nil {
				t.Logf("LXC's log:\n%s", b)
			}
		}
	})
	if out, code := lxcRun(t, "lxc-start", "-P", lxcpath, "-n", e.name, "-d", "-o", lxcLog, "-l", "INFO"); code != 0 {
		t.Fatalf("lxc-start: exit %d: %s", code, out)
	}
	if out, code := lxcRun(t, "lxc-wait", "-P", lxcpath, "-n", e.name, "-s", "RUNNING", "-t", "30"); code != 0 {
		t.Fatalf("lxc-wait RUNNING: exit %d: %s", code, out)
	}
	info, _ := lxcRun(t, "lxc-info", "-P", lxcpath, "-n", e.name, "-p")
	lxcPid := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(info), "PID:"))

	out, errOut, code := e.initd("start", e.name)
	want := "LXC is running container " + e.name + " (lxcpath " + lxcpath + ", init pid " + lxcPid + ": its command socket @" + lxcpath + "/" + e.name + "/command answers); stop it with `lxc-stop -P " + lxcpath + " -n " + e.name + "` first"
	if code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("lxc-initd start of a container LXC runs: exit %d, stdout %q, stderr %q; want exit 1 saying %q", code, out, errOut, want)
	}
	if _, err := os.Stat(filepath.Join(e.rundir, e.name)); err == nil {
		t.Errorf("the refused start left a state directory")
	}
	list := e.mustInitd(0, "list")
	if !strings.Contains(list, "RUNNING "+lxcpath+" (pid "+lxcPid+")") {
		t.Errorf("list does not mark %s as run by LXC:\n%s", e.name, list)
	}
	var entries []struct {
		Name string
		LXC  *struct {
			LXCPath string
			Pid     int
		}
	}
	if err := json.Unmarshal([]byte(e.mustInitd(0, "list", "--json")), &entries); err != nil || len(entries) != 1 || entries[0].LXC == nil || entries[0].LXC.LXCPath != lxcpath || fmt.Sprint(entries[0].LXC.Pid) != lxcPid {
		t.Errorf("list --json: %+v (%v)", entries, err)
	}

	// lxc-shim started by a supervisor (systemd's lxc-shim@NAME) refuses
	// it too, before it creates anything.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shimOut, err := exec.CommandContext(ctx, e.bins.Shim, "-P", lxcpath, "--rundir", e.rundir, "--logdir", e.logdir, e.name, "--foreground").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(shimOut), "LXC is running container "+e.name+" (lxcpath "+lxcpath) {
		t.Errorf("lxc-shim --foreground of a container LXC runs: %v, output %q; want exit 1 naming it", err, shimOut)
	}
	if _, err := os.Stat(filepath.Join(e.rundir, e.name)); err == nil {
		t.Errorf("the refused lxc-shim left its state directory")
	}

	if out, code := lxcRun(t, "lxc-stop", "-P", lxcpath, "-n", e.name, "-k"); code != 0 {
		t.Fatalf("lxc-stop: exit %d: %s", code, out)
	}
	lxcRun(t, "lxc-wait", "-P", lxcpath, "-n", e.name, "-s", "STOPPED", "-t", "30")

	// An lxcpath too long for LXC's socket name: LXC hashes it
	// ("@lxc/HASH/command"), and lxc-initd finds it there too.
	longPath := filepath.Join(t.TempDir(), strings.Repeat("l", 100))
	cfg, err := os.ReadFile(filepath.Join(lxcpath, e.name, "config"))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteConfig(t, longPath, e.name, string(cfg))
	t.Cleanup(func() { lxcRun(t, "lxc-stop", "-P", longPath, "-n", e.name, "-k") })
	if out, code := lxcRun(t, "lxc-start", "-P", longPath, "-n", e.name, "-d", "-o", lxcLog, "-l", "INFO"); code != 0 {
		t.Fatalf("lxc-start (long lxcpath): exit %d: %s", code, out)
	}
	if out, code := lxcRun(t, "lxc-wait", "-P", longPath, "-n", e.name, "-s", "RUNNING", "-t", "30"); code != 0 {
		t.Fatalf("lxc-wait RUNNING (long lxcpath): exit %d: %s", code, out)
	}
	longCLI := initdCLI{bin: e.bins.Initd, lxcpath: longPath, rundir: e.rundir, logdir: e.logdir}
	_, errOut, code = longCLI.run(t, nil, "start", e.name)
	if code != 1 || !strings.Contains(errOut, "LXC is running container "+e.name+" (lxcpath "+longPath) || !strings.Contains(errOut, "its command socket @lxc/") {
		t.Errorf("lxc-initd start under a long lxcpath LXC runs it in: exit %d, stderr %q", code, errOut)
	}
	if out, code := lxcRun(t, "lxc-stop", "-P", longPath, "-n", e.name, "-k"); code != 0 {
		t.Fatalf("lxc-stop (long lxcpath): exit %d: %s", code, out)
	}
	lxcRun(t, "lxc-wait", "-P", longPath, "-n", e.name, "-s", "STOPPED", "-t", "30")

	// Handed back: LXC stopped it, lxc-initd runs it.
	e.mustInitd(0, "start", e.name)
	if list := e.mustInitd(0, "list"); strings.Contains(list, "RUNNING") {
		t.Errorf("list still marks it as LXC's:\n%s", list)
	}
	st := e.state()
	e.mustInitd(0, "stop", "--kill", e.name)
	e.waitGone(st.ShimPid, "shim")
	e.mustInitd(0, "cleanup", e.name)
}

// make install DESTDIR=… installs lxc-initd(8) and lxc-shim(8), which
// the other pages point at, beside lxc-shim-services(7); each page renders
// without a roff warning where groff is there.
func TestFrictionInstallManPages(t *testing.T) {
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	out, err := exec.Command("make", "-C", root, "install", "DESTDIR="+dest).CombinedOutput()
	if err != nil {
		t.Fatalf("make install DESTDIR=%s: %v\n%s", dest, err, out)
	}
	for _, page := range []string{"man8/lxc-initd.8", "man8/lxc-shim.8", "man7/lxc-shim-services.7"} {
		p := filepath.Join(dest, "usr/local/share/man", page)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("make install did not install %s: %v", page, err)
			continue
		}
		if !strings.HasPrefix(string(b), ".TH ") {
			t.Errorf("%s is not a man page", p)
		}
		if groff, err := exec.LookPath("groff"); err == nil {
			if w, _ := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z", p).CombinedOutput(); len(w) > 0 {
				t.Errorf("%s: groff warns:\n%s", page, w)
			}
		}
	}
}

// A CPU weight given for the other cgroup version follows the 2025
// runc/crun conversion, which keeps the defaults equal: on this host's
// cgroup v1 cpu controller, lxc.cgroup2.cpu.weight = 100 (the v2 default)
// is cpu.shares 1024 (the v1 default), where the old linear formula gave
// 2597; on a v2 cpu controller, lxc.cgroup.cpu.shares = 1024 is weight 100.
func TestFrictionCPUWeightDefaultsEqual(t *testing.T) {
	// Only the other version's key, so that the value is translated.
	limit := "lxc.cgroup.cpu.shares = 1024\n"
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.shares"); err == nil {
		limit = "lxc.cgroup2.cpu.weight = 100\n"
	}
	e := newLC(t, rootBusybox, "lxc.signal.halt = SIGUSR1\n"+limit)
	e.mustInitd(0, "start", e.name)
	st := e.state()
	checked := 0
	for _, d := range testutil.CgroupDirs(e.name) {
		for file, want := range map[string]string{"cpu.shares": "1024", "cpu.weight": "100"} {
			b, err := os.ReadFile(filepath.Join(d, file))
			if err != nil {
				continue
			}
			checked++
			if got := strings.TrimSpace(string(b)); got != want {
				t.Errorf("%s/%s = %s, want %s", d, file, got, want)
			}
		}
	}
	if checked == 0 {
		t.Errorf("no cpu.shares or cpu.weight in %v", testutil.CgroupDirs(e.name))
	}
	e.mustInitd(0, "stop", "--kill", e.name)
	e.waitGone(st.ShimPid, "shim")
	e.mustInitd(0, "cleanup", e.name)
}

// --version: both programs answer on stdout, exit 0, and name the same
// build (they are installed and upgraded together; a shim of another build
// than lxc-initd is what an admin checks for first).
func TestFrictionVersion(t *testing.T) {
	bins := testutil.Binaries(t)
	var builds []string
	for _, c := range []struct{ prog, path string }{{"lxc-initd", bins.Initd}, {"lxc-shim", bins.Shim}} {
		out, err := exec.Command(c.path, "--version").Output()
		if err != nil {
			t.Fatalf("%s --version: %v", c.prog, err)
		}
		line := strings.TrimSpace(string(out))
		build, ok := strings.CutPrefix(line, c.prog+" ")
		if !ok || !strings.Contains(build, "(go") || strings.Contains(line, "\n") {
			t.Errorf("%s --version = %q, want one line %q", c.prog, line, c.prog+" BUILD (goVERSION)")
		}
		builds = append(builds, build)
	}
	if builds[0] != builds[1] {
		t.Errorf("lxc-initd is %q, lxc-shim %q: not one build", builds[0], builds[1])
	}
}
