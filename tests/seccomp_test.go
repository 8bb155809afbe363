package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
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
