// Package testutil is the end-to-end test harness shared by lxc-shim's
// packages: it builds the real binaries once per test process, makes root
// file systems (busybox, and the project's test init), and checks that a
// container left nothing behind on the host.
//
// Tests that need root call RequireRoot: they skip for a developer without
// root, and fail when CI sets LXC_SHIM_REQUIRE_ROOT=1, so a CI run can never
// pass by skipping what it was meant to prove.
package testutil

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
)

// RequireRoot skips the test when not root, or fails it when
// LXC_SHIM_REQUIRE_ROOT=1 says that this run must exercise root paths.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("LXC_SHIM_REQUIRE_ROOT") == "1" {
		t.Fatal("this test needs root and LXC_SHIM_REQUIRE_ROOT=1 forbids skipping it")
	}
	t.Skip("needs root (set LXC_SHIM_REQUIRE_ROOT=1 to make this a failure)")
}

// RequireInstalled skips t when what it needs from the host is missing
// (err, from looking for it), but fails it under LXC_SHIM_REQUIRE_ROOT=1:
// CI installs every package the tests need (scripts/deps.sh), so a
// missing one there is a broken set-up, not a reason to test less.
func RequireInstalled(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("LXC_SHIM_REQUIRE_ROOT") == "1" {
		t.Fatalf("%s: %v (scripts/deps.sh installs it; LXC_SHIM_REQUIRE_ROOT=1 forbids skipping)", what, err)
	}
	t.Skipf("%s: %v", what, err)
}

// Bins are the project's binaries built for this test process.
type Bins struct {
	Dir      string
	Shim     string // lxc-shim
	Initd    string // lxc-initd
	TestInit string // static test init
}

// binsOnce builds the binaries at most once per test process. It is the one
// piece of package state here, and it is write-once: tests in one process
// share the build instead of paying for it each time.
var binsOnce = sync.OnceValues(buildBins)

// Binaries builds lxc-shim, lxc-initd and the test init (once per test
// process) and returns their paths. LXC_SHIM_BIN_DIR, when set, names a
// directory that already holds them (make test builds them first).
func Binaries(t testing.TB) Bins {
	t.Helper()
	b, err := binsOnce()
	if err != nil {
		t.Fatalf("build binaries: %v", err)
	}
	return b
}

func buildBins() (Bins, error) {
	if d := os.Getenv("LXC_SHIM_BIN_DIR"); d != "" {
		b := Bins{Dir: d, Shim: filepath.Join(d, "lxc-shim"), Initd: filepath.Join(d, "lxc-initd"), TestInit: filepath.Join(d, "testinit")}
		for _, p := range []string{b.Shim, b.Initd, b.TestInit} {
			if _, err := os.Stat(p); err != nil {
				return Bins{}, fmt.Errorf("LXC_SHIM_BIN_DIR=%s: %w", d, err)
			}
		}
		return b, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return Bins{}, err
	}
	// The directory outlives any one test: it is removed with the OS temp
	// dir, and holds nothing but three binaries.
	dir, err := os.MkdirTemp("", "lxc-shim-bins-")
	if err != nil {
		return Bins{}, err
	}
	b := Bins{Dir: dir, Shim: filepath.Join(dir, "lxc-shim"), Initd: filepath.Join(dir, "lxc-initd"), TestInit: filepath.Join(dir, "testinit")}
	builds := []struct {
		out, pkg string
		static   bool
	}{
		{b.Shim, "./cmd/lxc-shim", true}, // static: the shim needs no cgo, and libc costs ~1.5 MB RSS per container
		{b.Initd, "./cmd/lxc-initd", false},
		{b.TestInit, "./tests/testinit", true},
	}
	for _, bd := range builds {
		cmd := exec.Command("go", "build", "-o", bd.out, bd.pkg)
		cmd.Dir = root
		cmd.Env = os.Environ()
		if bd.static {
			cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return Bins{}, fmt.Errorf("go build %s: %v\n%s", bd.pkg, err, out)
		}
	}
	return b, nil
}

// ModuleRoot is the directory holding go.mod.
func ModuleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the module root")
	}
	return filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Name returns a container name unique to this test: prefix and six random
// hex digits, short enough that names derived from it (veth names) fit the
// kernel's 15 bytes.
func Name(prefix string) string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%s%x", prefix, b)
}

// Busybox is where Debian's busybox-static installs its binary.
const Busybox = "/bin/busybox"

// BusyboxRootfs makes a busybox root file system in dir: busybox and its
// applet links, an inittab whose console runs a shell, /etc/init.d/rcS,
// passwd/group, and the directories an init expects. busybox init halts on
// SIGUSR1 and SIGUSR2 (poweroff), reboots on SIGTERM; configs for it set
// lxc.signal.halt = SIGUSR1.
func BusyboxRootfs(t testing.TB, dir string) {
	t.Helper()
	bb := Busybox
	if _, err := os.Stat(bb); err != nil {
		t.Fatalf("busybox rootfs: %s missing (apt-get install busybox-static): %v", bb, err)
	}
	if err := busyboxRootfs(dir, bb); err != nil {
		t.Fatalf("busybox rootfs %s: %v", dir, err)
	}
}

func busyboxRootfs(dir, bb string) error {
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc/init.d", "proc", "sys", "dev", "dev/pts", "dev/shm", "tmp", "run", "root", "var/log", "mnt", "testinit"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := copyFile(bb, filepath.Join(dir, "bin/busybox"), 0o755); err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("busybox --list-full: %w", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		p := filepath.Join(dir, applet)
		if applet == "bin/busybox" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(p), filepath.Join(dir, "bin/busybox"))
		_ = os.Remove(p)
		if err := os.Symlink(rel, p); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/inittab": "::sysinit:/etc/init.d/rcS\n" +
			"::respawn:-/bin/sh\n" +
			"::shutdown:/etc/init.d/rcK\n",
		"etc/init.d/rcS": "#!/bin/sh\n" +
			"mkdir -p /testinit\n" +
			"echo \"rcS $(date +%s)\" >> /testinit/events.log\n",
		"etc/init.d/rcK": "#!/bin/sh\n" +
			"echo \"shutdown $(date +%s)\" >> /testinit/events.log\n" +
			"touch /testinit/shutdown-marker\n",
		"etc/passwd":   "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":    "root:x:0:\n",
		"etc/hostname": "busybox\n",
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "etc/init.d/") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			return err
		}
	}
	return nil
}

// TestinitRootfs makes a minimal root file system in dir whose /sbin/init is
// the project's static test init (tests/testinit), with the directories the
// launcher mounts on.
func TestinitRootfs(t testing.TB, dir string, b Bins) {
	t.Helper()
	for _, d := range []string{"sbin", "proc", "sys", "dev", "tmp", "run", "etc", "testinit", "mnt"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyFile(b.TestInit, filepath.Join(dir, "sbin/init"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/hostname"), []byte("testinit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	_ = os.Remove(dst)
	return os.WriteFile(dst, b, mode)
}

// WriteConfig writes an LXC config for container name under lxcpath
// (lxcpath/name/config) and returns its path.
func WriteConfig(t testing.TB, lxcpath, name, content string) string {
	t.Helper()
	p := filepath.Join(lxcpath, name, "config")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// WaitFor polls cond every 20 ms until it is true or timeout passes, and
// fails the test with what (and cond's last error) if it never is. Polling
// here is for tests observing a container from outside; the product itself
// never polls.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Leaks lists what a container left on the host: processes in its cgroup,
// mounts under its rootfs, network links with the given prefix, and cgroup
// directories lxc-shim/NAME in any hierarchy. Empty means clean.
func Leaks(name, rootfs, linkPrefix string) []string {
	var leaks []string
	cgdirs := CgroupDirs(name)
	for _, d := range cgdirs {
		leaks = append(leaks, "cgroup dir "+d)
		for _, pid := range cgroupProcs(d) {
			leaks = append(leaks, fmt.Sprintf("process %d (%s) in %s", pid, comm(pid), d))
		}
	}
	if rootfs != "" {
		for _, m := range MountsUnder(rootfs) {
			leaks = append(leaks, "mount "+m)
		}
	}
	if linkPrefix != "" {
		ents, _ := os.ReadDir("/sys/class/net")
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), linkPrefix) {
				leaks = append(leaks, "link "+e.Name())
			}
		}
	}
	leaks = append(leaks, processesOf(name)...)
	return leaks
}

// CheckNoLeaks fails the test if anything of the container is left on the
// host (see Leaks). It waits up to two seconds for the kernel to finish
// tearing down what was already asked to go (a dying cgroup, a veth whose
// namespace is being destroyed).
func CheckNoLeaks(t testing.TB, name, rootfs, linkPrefix string) {
	t.Helper()
	var leaks []string
	for i := 0; i < 100; i++ {
		if leaks = Leaks(name, rootfs, linkPrefix); len(leaks) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("container %s left on the host:\n  %s", name, strings.Join(leaks, "\n  "))
}

// CgroupDirs lists the directories of cgroup lxc-shim/NAME that exist in any
// mounted hierarchy.
func CgroupDirs(name string) []string {
	var out []string
	for _, mnt := range cgroupMounts() {
		d := filepath.Join(mnt, "lxc-shim", name)
		if _, err := os.Stat(d); err == nil {
			out = append(out, d)
		}
	}
	return out
}

func cgroupMounts() []string {
	return mountPoints(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
}

// mountPoints lists the mount points of this mount namespace that filter
// keeps (none if the table cannot be read).
func mountPoints(filter mountinfo.FilterFunc) []string {
	infos, err := mountinfo.GetMounts(filter)
	if err != nil {
		return nil
	}
	var out []string
	for _, mi := range infos {
		out = append(out, mi.Mountpoint)
	}
	return out
}

func cgroupProcs(dir string) []int {
	var pids []int
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// processesOf finds processes whose cgroup (any hierarchy) is under
// lxc-shim/NAME, in case the directory is gone but a process was moved.
func processesOf(name string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	needle := "/lxc-shim/" + name
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) == 3 && (parts[2] == needle || strings.HasPrefix(parts[2], needle+"/")) {
				out = append(out, fmt.Sprintf("process %d (%s) in cgroup %s", pid, comm(pid), parts[2]))
				break
			}
		}
	}
	return out
}

func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// MountsUnder lists the host's mount points at or under dir.
func MountsUnder(dir string) []string {
	return mountPoints(mountinfo.PrefixFilter(filepath.Clean(dir)))
}

// CoverChildren points the coverage data of the binaries a test starts
// (lxc-shim, lxc-initd, the stage: built with -cover by `make cover`) at
// $LXC_SHIM_COVERDIR. `go test -cover` gives the test binary a GOCOVERDIR
// of its own, a temporary directory it removes, which children would
// otherwise inherit. TestMain calls it before the tests run.
func CoverChildren() {
	if d := os.Getenv("LXC_SHIM_COVERDIR"); d != "" {
		os.Setenv("GOCOVERDIR", d)
	}
}
