package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// LXC's own policy, which every distribution's common.conf includes.
const lxcCommonSeccomp = "/usr/share/lxc/config/common.seccomp"

// seccompProbe runs tests/attacker's syscall probe attached to e's
// container and returns its answers by name ("Seccomp:" for the status
// line).
func seccompProbe(t *testing.T, e *tkEnv) map[string]string {
	t.Helper()
	out := e.must(0, "attach", e.name, "--", "/bin/attacker", "syscalls")
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, " "); ok {
			got[k] = v
		}
	}
	return got
}

// initSeccomp is the Seccomp field of the container init's
// /proc/PID/status, read from the host.
func initSeccomp(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Seccomp:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Seccomp line in /proc/%d/status", pid)
	return ""
}

func wantAnswers(t *testing.T, got map[string]string, want map[string]int) {
	t.Helper()
	for k, v := range want {
		if got[k] != fmt.Sprint(v) {
			t.Errorf("%s answered errno %s, want %d (%s)", k, got[k], v, unix.ErrnoName(unix.Errno(v)))
		}
	}
}

// TestSeccompLXCCommon: with LXC's common.seccomp the init and an
// attached process are under a filter (Seccomp: 2) that answers module
// loading with EPERM and a forced umount with EACCES, and lets the rest
// through.
func TestSeccompLXCCommon(t *testing.T) {
	testutil.RequireRoot(t)
	if _, err := os.Stat(lxcCommonSeccomp); err != nil {
		t.Fatalf("%s: %v (the lxc package ships it)", lxcCommonSeccomp, err)
	}
	e := withAttacker(t, "lxc.mount.auto = proc:rw\nlxc.seccomp.profile = "+lxcCommonSeccomp+"\n")
	if s := initSeccomp(t, e.start().Pid); s != "2" {
		t.Errorf("init: Seccomp: %s, want 2 (filter)", s)
	}
	got := seccompProbe(t, e)
	if got["Seccomp:"] != "2" {
		t.Errorf("attached process: Seccomp: %q, want 2", got["Seccomp:"])
	}
	wantAnswers(t, got, map[string]int{
		"init_module":    int(unix.EPERM),
		"finit_module":   int(unix.EPERM),
		"umount2_force":  int(unix.EACCES),
		"umount2_detach": int(unix.ENOENT), // no MNT_FORCE: the kernel's answer
		"syncfs":         int(unix.EBADF),
		"getpgid_0":      0,
	})
}

// TestSeccompCustomPolicy: a policy's errno 7 rule answers 7, and a rule
// with an argument condition only for that argument.
func TestSeccompCustomPolicy(t *testing.T) {
	testutil.RequireRoot(t)
	prof := filepath.Join(t.TempDir(), "tl.seccomp")
	if err := os.WriteFile(prof, []byte("2\ndenylist\n[all]\nsyncfs errno 7\ngetpgid errno 7 [0,4242,SCMP_CMP_EQ]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := withAttacker(t, "lxc.mount.auto = proc:rw\nlxc.seccomp.profile = "+prof+"\n")
	got := seccompProbe(t, e)
	wantAnswers(t, got, map[string]int{
		"syncfs":        7,
		"getpgid_4242":  7,
		"getpgid_0":     0,
		"init_module":   int(unix.ENOSYS), // not in this policy: the kernel's answer
		"umount2_force": int(unix.ENOENT),
	})
	if got["init_module"] == "" {
		t.Errorf("probe: %v", got)
	}
}

// TestSeccompCheckNamesProfileLine: a syntax error in the profile fails
// check and start alike, naming the config's FILE:LINE: KEY and the
// profile's FILE:LINE; nothing is left behind.
func TestSeccompCheckNamesProfileLine(t *testing.T) {
	testutil.RequireRoot(t)
	prof := filepath.Join(t.TempDir(), "bad.seccomp")
	if err := os.WriteFile(prof, []byte("2\ndenylist\nsyncfs errno 7 [0,1,=~]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newTK(t, "lxc.seccomp.profile = "+prof+"\n")
	cfg := filepath.Join(e.lxcpath, e.name, "config")
	want := fmt.Sprintf("%s:5: lxc.seccomp.profile: %s:3: rule", cfg, prof)
	for _, cmd := range [][]string{{"check", e.name}, {"start", e.name}} {
		_, stderr, code := e.initd(nil, cmd...)
		if code == 0 || !strings.Contains(stderr, want) || !strings.Contains(stderr, `unknown operator "=~"`) {
			t.Errorf("%s: exit %d, stderr %q; want non-zero and %q", cmd[0], code, stderr, want)
		}
	}
	if e.running() {
		t.Error("started with a broken profile")
	}
}

// TestSeccompSideBySideLXC: the same config and profile under lxc-shim and
// under LXC 5 (lxc-start) give the container's init the same answers, for
// LXC's common.seccomp and for a policy with errno and argument rules.
func TestSeccompSideBySideLXC(t *testing.T) {
	testutil.RequireRoot(t)
	if _, err := exec.LookPath("lxc-start"); err != nil {
		t.Fatalf("lxc-start: %v (the tests install lxc)", err)
	}
	custom := filepath.Join(t.TempDir(), "tl.seccomp")
	policy := "2\nblacklist\nreject_force_umount\nkexec_load\n[x86_64]\nsyncfs errno 7\ngetpgid errno 7 [0,4242,SCMP_CMP_EQ]\n[arm64]\nfinit_module kill\n[all]\ninit_module errno 1\n"
	if err := os.WriteFile(custom, []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	// Which rule wins when several name one syscall (libseccomp's rules).
	precedence := filepath.Join(t.TempDir(), "tl-precedence.seccomp")
	if err := os.WriteFile(precedence, []byte("2\ndenylist\ninit_module errno 1\nsyncfs errno 5\nsyncfs errno 7\n"+
		"getpgid errno 5 [0,4242,==]\ngetpgid errno 6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, prof := range []string{lxcCommonSeccomp, custom, precedence} {
		shim := probeInit(t, "lxc-shim", prof)
		lxc := probeInit(t, "lxc", prof)
		if shim != lxc {
			t.Errorf("%s: answers differ\nlxc-shim:\n%s\nLXC 5:\n%s", prof, shim, lxc)
		}
		if !strings.Contains(shim, "Seccomp: 2") || !strings.Contains(shim, "init_module 1\n") {
			t.Errorf("%s: the init is not under the policy:\n%s", prof, shim)
		}
	}
}

// probeInit boots a busybox container whose init runs tests/attacker's
// syscall probe, under lxc-shim or LXC ("lxc"), and returns what it printed.
func probeInit(t *testing.T, side, profile string) string {
	t.Helper()
	dir := t.TempDir()
	name := testutil.Name("tl")
	lxcpath, rootfs := filepath.Join(dir, "lxc"), filepath.Join(dir, "rootfs")
	testutil.BusyboxRootfs(t, rootfs)
	copyExe(t, attackerBin(t), filepath.Join(rootfs, "bin/attacker"))
	probe := "#!/bin/sh\n/bin/attacker syscalls > /tmp/probe.new 2>&1\nmv /tmp/probe.new /tmp/probe.out\nexec sleep 1000\n"
	if err := os.MkdirAll(filepath.Join(rootfs, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin/probe"), []byte(probe), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteConfig(t, lxcpath, name, fmt.Sprintf("lxc.uts.name = %s\nlxc.rootfs.path = dir:%s\nlxc.net.0.type = empty\n"+
		"lxc.mount.auto = proc:rw\nlxc.apparmor.profile = unconfined\nlxc.init.cmd = /bin/probe\nlxc.seccomp.profile = %s\n",
		name, rootfs, profile))
	cli := initdCLI{bin: testutil.Binaries(t).Initd, lxcpath: lxcpath, rundir: filepath.Join(dir, "run"), logdir: filepath.Join(dir, "log")}
	var stop func()
	switch side {
	case "lxc-shim":
		if err := os.MkdirAll(cli.logdir, 0o755); err != nil {
			t.Fatal(err)
		}
		stop = func() {
			cli.run(t, nil, "stop", "--kill", name)
			cli.run(t, nil, "cleanup", name)
		}
		t.Cleanup(stop)
		cli.must(t, 0, "start", name)
	default:
		stop = func() { _ = exec.Command("lxc-stop", "-P", lxcpath, "-n", name, "-k").Run() }
		t.Cleanup(stop)
		if out, err := exec.Command("lxc-start", "-P", lxcpath, "-n", name, "-d", "-o", filepath.Join(dir, "lxc.log")).CombinedOutput(); err != nil {
			b, _ := os.ReadFile(filepath.Join(dir, "lxc.log"))
			t.Fatalf("lxc-start: %v\n%s\n%s", err, out, b)
		}
	}
	out := filepath.Join(rootfs, "tmp/probe.out")
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(out)
		if err == nil {
			stop()
			noLXCLeaks(t, name, rootfs, false)
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no probe output after 30s", side)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSeccompPolicyStopsStage: a policy that denies the calls the stage
// makes after loading it fails the start with a message that says so, and
// leaves nothing (newTK's cleanup checks).
func TestSeccompPolicyStopsStage(t *testing.T) {
	testutil.RequireRoot(t)
	prof := filepath.Join(t.TempDir(), "tight.seccomp")
	if err := os.WriteFile(prof, []byte("2\nallowlist errno 38\nread\nexit_group\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newTK(t, "lxc.seccomp.profile = "+prof+"\n")
	_, stderr, code := e.initd(nil, "start", e.name)
	if code == 0 || !strings.Contains(stderr, "lxc.seccomp.profile "+prof+" is loaded before the stage's last calls") {
		t.Errorf("start: exit %d, stderr %q", code, stderr)
	}
	if e.running() {
		t.Error("running under a policy that denies execve")
	}
}

// TestSeccompVerdictsAsLXC: lxc-initd check accepts the profiles LXC 5's
// lxc-start starts with and refuses those it refuses, but for the actions
// trace and log, which lxc-shim adds (the kernel has them; LXC 5 does not
// read them).
func TestSeccompVerdictsAsLXC(t *testing.T) {
	testutil.RequireRoot(t)
	if _, err := exec.LookPath("lxc-start"); err != nil {
		t.Fatalf("lxc-start: %v (the tests install lxc)", err)
	}
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	testutil.BusyboxRootfs(t, rootfs)
	bins := testutil.Binaries(t)
	for i, tc := range []struct {
		profile   string
		lxc, shim bool // started / passed check
	}{
		{"2\ndenylist\n[i386]\nkexec_load errno 1\n", false, false},
		{"2\ndenylist\nkexec_load errno 1 [0,1,==] \n", false, false},
		{"2\ndenylist\nkexec_load errno 1 [0,1,=~]\n", false, false},
		{"2\ndenylist\nkexec_load errno 1 [7,1,==]\n", false, false},
		{"2\ndenylist\n  kexec_load errno 1\n", false, false},
		{"2\ndenylist # comment\nkexec_load errno 1\n", false, false},
		{"2\ndenylist\nkexec_load allow\n", false, false},
		{"2\ndenylist\nkexec_load errno 1\nkexec_load errno 2\n", true, true},
		{"2\ndenylist\nkexec_load errno 1 [0,1,==]\nkexec_load errno 2 [0,1,==]\n", false, false},
		{"2\ndenylist\nkexec_load errno 99999\n", false, false},
		{"1\nallowlist\n# comment\n", false, false},
		{"3\ndenylist\n", false, false},
		{"2\ndenylist\n[X86_64]\nkexec_load errno 1\n[x86_64] \n", false, false},
		{"2 denylist\nkexec_load errno 1\n", true, true},
		{"2\nblacklist\n\nkexec_load errno 1 [0,1,SCMP_CMP_EQ]\n", true, true},
		{"2\ndenylist\nkexec_load errno 1 [0,0x10,>=][1,010,<=,5]\n", true, true},
		{"2\ndenylist\nno_such_call errno 1\n[ARM64]\nfoo\n", true, true},
		{"2\ndenylist\nkexec_load trace 3\n", false, true},
		{"2\ndenylist\nkexec_load log\n", false, true},
	} {
		name := testutil.Name("tl")
		lxcpath := filepath.Join(dir, fmt.Sprint("lxc", i))
		prof := filepath.Join(dir, fmt.Sprint("p", i))
		if err := os.WriteFile(prof, []byte(tc.profile), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := testutil.WriteConfig(t, lxcpath, name, fmt.Sprintf("lxc.uts.name = %s\nlxc.rootfs.path = dir:%s\nlxc.net.0.type = empty\n"+
			"lxc.apparmor.profile = unconfined\nlxc.init.cmd = /bin/sleep 1000\nlxc.seccomp.profile = %s\n", name, rootfs, prof))
		shim := exec.Command(bins.Initd, "check", "--config", cfg).Run() == nil
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		lxc := exec.CommandContext(ctx, "lxc-start", "-P", lxcpath, "-n", name, "-d", "-o", filepath.Join(dir, fmt.Sprint("lxc", i, ".log"))).Run() == nil
		cancel()
		_ = exec.Command("lxc-stop", "-P", lxcpath, "-n", name, "-k").Run()
		if lxc != tc.lxc || shim != tc.shim {
			t.Errorf("%q: LXC started %v (want %v), lxc-initd check passed %v (want %v)", tc.profile, lxc, tc.lxc, shim, tc.shim)
		}
		noLXCLeaks(t, name, rootfs, !lxc)
	}
}

// noLXCLeaks checks that LXC's run of container name left nothing: no
// process in rootfs, no lxc.payload.NAME or lxc.monitor.NAME cgroup. LXC 5
// leaves the empty lxc.monitor.NAME cgroup of a start that failed
// (failed): the test removes it, as it made it.
func noLXCLeaks(t *testing.T, name, rootfs string, failed bool) {
	t.Helper()
	testutil.CheckNoLeaks(t, name, rootfs, "")
	for _, pat := range []string{"/sys/fs/cgroup/lxc.*." + name, "/sys/fs/cgroup/*/lxc.*." + name} {
		left, _ := filepath.Glob(pat)
		for _, d := range left {
			if failed && strings.Contains(d, "/lxc.monitor."+name) && os.Remove(d) == nil {
				continue
			}
			t.Errorf("LXC left %s", d)
		}
	}
}

// TestSeccompAfterReboot: the test init reports Seccomp: 2 (and no
// no_new_privs: LXC sets none for the filter) in its first boot and, the
// profile compiled again, after a reboot from inside.
func TestSeccompAfterReboot(t *testing.T) {
	e := newLC(t, rootTestinit, "lxc.mount.auto = proc:rw\nlxc.seccomp.profile = "+lxcCommonSeccomp+"\n")
	e.mustInitd(0, "start", e.name)
	status := func(boot int) {
		t.Helper()
		e.waitReport()
		var r struct {
			Status map[string]string `json:"status"`
		}
		e.bootReport(&r)
		if r.Status["Seccomp"] != "2" || r.Status["NoNewPrivs"] != "0" {
			t.Errorf("boot %d: the init reports Seccomp %q, NoNewPrivs %q; want 2 and 0", boot, r.Status["Seccomp"], r.Status["NoNewPrivs"])
		}
	}
	status(1)
	e.forgetReport()
	e.command("reboot")
	e.waitState(15*time.Second, "boot 2 running", func(s *shimctl.Status) bool {
		return s.BootCount == 2 && s.State == shimctl.StateRunning
	})
	status(2)
}
