package seccomp

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const installHelperEnv = "LXC_SHIM_SECCOMP_INSTALL_HELPER"

// TestInstall loads filters in a child process (a filter never leaves a
// process): the first answers syncfs with errno 7; a second one is loaded
// only with allow_nesting, as LXC does.
func TestInstall(t *testing.T) {
	if os.Getenv(installHelperEnv) != "" {
		t.Skip("helper")
	}
	for _, nesting := range []string{"0", "1"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestInstallHelper$", "-test.v")
		cmd.Env = append(os.Environ(), installHelperEnv+"="+nesting)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "helper ok") {
			t.Errorf("allow_nesting=%s: %v\n%s", nesting, err, out)
		}
	}
}

func TestInstallHelper(t *testing.T) {
	nesting := os.Getenv(installHelperEnv)
	if nesting == "" {
		t.Skip("run by TestInstall")
	}
	runtime.LockOSThread() // the filter is this thread's; the thread dies with the test process
	first := compileFor(t, "2\ndenylist\nsyncfs errno 7\n")
	if ok, err := first.Install(false); !ok || err != nil {
		t.Fatalf("first filter: %v, %v", ok, err)
	}
	if _, _, e := unix.Syscall(unix.SYS_SYNCFS, ^uintptr(0), 0, 0); e != 7 {
		t.Fatalf("syncfs under the filter: %v, want errno 7", e)
	}
	second := compileFor(t, "2\ndenylist\ngetpgid errno 9 [0,0x3fffffff,==]\n")
	ok, err := second.Install(nesting == "1")
	if err != nil || ok != (nesting == "1") {
		t.Fatalf("second filter with allow_nesting=%s: loaded %v, %v", nesting, ok, err)
	}
	_, _, e := unix.Syscall(unix.SYS_GETPGID, 0x3fffffff, 0, 0)
	if want := map[string]unix.Errno{"0": unix.ESRCH, "1": 9}[nesting]; e != want {
		t.Fatalf("getpgid(0x3fffffff): %v, want %v", e, want)
	}
	t.Log("helper ok")
}

func compileFor(t *testing.T, text string) *Filter {
	t.Helper()
	f, _, err := Compile(parse(t, text), Machine())
	if err != nil {
		t.Fatal(err)
	}
	return f
}
