package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// lxcConfigDir is where lxc-templates (and lxc, for oci) install the
// include files that `lxc-create -t download` configs name.
const lxcConfigDir = "/usr/share/lxc/config"

// lxcCommonConfs are the 19 *.common.conf files LXC 5 ships: 18 of
// lxc-templates and oci's.
func lxcCommonConfs(t *testing.T) []string {
	t.Helper()
	confs, err := filepath.Glob(filepath.Join(lxcConfigDir, "*.common.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(confs) != 19 {
		t.Fatalf("%d *.common.conf in %s, want LXC 5's 19 (apt-get install lxc lxc-templates): %v", len(confs), lxcConfigDir, confs)
	}
	return confs
}

// busyboxOver wraps an LXC include file around the busybox root file
// system, as a downloaded container's config does: the include first, then
// what the busybox init needs (it halts on SIGUSR1, whatever the include
// said for its distribution's init).
func busyboxOver(include string) string {
	return fmt.Sprintf("lxc.include = %s\nlxc.signal.halt = SIGUSR1\n", include)
}

// TestLXCCommonConfs: each of the 19 include files LXC 5 ships, wrapped
// around the busybox root file system, passes `check`, starts, answers
// `attach`, stops gracefully and leaves nothing on the host, with lxcfs
// running (common.conf.d/00-lxcfs.conf's hooks use it).
func TestLXCCommonConfs(t *testing.T) {
	testutil.RequireRoot(t)
	confs := lxcCommonConfs(t)
	testutil.StartLxcfs(t)
	for _, conf := range confs {
		distro := strings.TrimSuffix(filepath.Base(conf), ".common.conf")
		t.Run(distro, func(t *testing.T) {
			e := newLC(t, rootBusybox, busyboxOver(conf))
			out, errOut, code := e.initd("check", e.name)
			if code != 0 {
				t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
			}
			e.mustInitd(0, "start", e.name)
			st := e.state()
			e.waitEvent(30*time.Second, "rcS", 1)
			word := "lsm-" + distro
			out = e.mustInitd(0, "attach", e.name, "--", "/bin/busybox", "echo", word)
			if strings.TrimSpace(out) != word {
				t.Errorf("attach said %q, want %q", out, word)
			}
			start := time.Now()
			out = e.mustInitd(0, "stop", e.name, "-t", "30")
			if !strings.Contains(out, "graceful") || time.Since(start) > 25*time.Second {
				t.Errorf("stop said %q after %v", out, time.Since(start))
			}
			e.waitGone(st.ShimPid, "shim")
			testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
		})
	}
}

// TestGentooDeviceLists: Gentoo's include adds four rules to common.conf's
// lxc.cgroup.devices list and none to its lxc.cgroup2.devices list. The
// container starts, and the list of the hierarchy that holds the devices
// controller applies: on a host with the v1 devices controller /dev/net/tun
// (10:200, Gentoo's) opens; with cgroup2's list it is refused. Gentoo's and
// common.conf's lines are used as LXC ships them, without common.conf's
// seccomp policy and hook directory.
func TestGentooDeviceLists(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	common := copyConf(t, filepath.Join(lxcConfigDir, "common.conf"), dir, func(line string) bool {
		return !strings.HasPrefix(line, "lxc.seccomp.profile") && !strings.HasPrefix(line, "lxc.include")
	})
	gentoo := copyConf(t, filepath.Join(lxcConfigDir, "gentoo.common.conf"), dir, nil)
	b, err := os.ReadFile(gentoo)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gentoo, []byte(strings.ReplaceAll(string(b), filepath.Join(lxcConfigDir, "common.conf"), common)), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newLC(t, rootBusybox, busyboxOver(gentoo))
	_, errOut, code := e.initd("check", e.name)
	if code != 0 {
		t.Fatalf("check: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "lxc.cgroup2.devices rules differ from the lxc.cgroup.devices rules") {
		t.Errorf("check gave no warning about the lists:\n%s", errOut)
	}
	e.mustInitd(0, "start", e.name)
	st := e.state()
	e.waitEvent(30*time.Second, "rcS", 1)
	// EPERM is the devices controller's no; anything else (tun's "File
	// descriptor in bad state" without an interface) is past it.
	out, errOut, _ := e.initd(append([]string{"attach", e.name, "--"}, tunProbe...)...)
	v1 := hostHasV1Devices(t)
	denied := strings.Contains(out+errOut, "Operation not permitted")
	if !strings.Contains(out, "done") {
		t.Fatalf("attach: %s%s", out, errOut)
	}
	if v1 && denied {
		t.Errorf("v1 devices controller: /dev/net/tun (Gentoo's lxc.cgroup.devices rule) refused: %s%s", out, errOut)
	}
	if !v1 && !denied {
		t.Errorf("cgroup2: /dev/net/tun (in no lxc.cgroup2.devices rule) opened: %s%s", out, errOut)
	}
	e.mustInitd(0, "stop", e.name, "-t", "30")
	e.waitGone(st.ShimPid, "shim")
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")

	// Side by side: LXC 5 itself, with Gentoo's include as shipped (its
	// seccomp policy and lxcfs hooks too), gives the same verdict.
	lxcOut := underLXC(t, filepath.Join(lxcConfigDir, "gentoo.common.conf"), tunProbe)
	if lxcDenied := strings.Contains(lxcOut, "Operation not permitted"); lxcDenied != denied || !strings.Contains(lxcOut, "done") {
		t.Errorf("LXC 5 said %q, lxc-shim %q", lxcOut, out+errOut)
	}
}

// tunProbe makes a /dev/net/tun node (10:200) in the container's /dev and
// opens it.
var tunProbe = []string{"/bin/busybox", "sh", "-c", "/bin/busybox mknod /dev/lsmtun c 10 200 && /bin/busybox cat /dev/lsmtun; echo done"}

// underLXC starts a busybox container with the include under LXC 5
// (lxc-start with a lxc path of its own, no network), runs argv in it with
// lxc-attach, stops it and returns what argv printed (stdout and stderr).
func underLXC(t *testing.T, include string, argv []string) string {
	t.Helper()
	dir := t.TempDir()
	name := testutil.Name("lsx")
	rootfs := filepath.Join(dir, "rootfs")
	testutil.BusyboxRootfs(t, rootfs)
	testutil.WriteConfig(t, dir, name, fmt.Sprintf("%slxc.uts.name = %s\nlxc.rootfs.path = dir:%s\nlxc.net.0.type = empty\n", busyboxOver(include), name, rootfs))
	logf := filepath.Join(dir, "lxc.log")
	t.Cleanup(func() {
		_ = exec.Command("lxc-stop", "-P", dir, "-n", name, "-k").Run()
		testutil.CheckNoLeaks(t, name, rootfs, "")
	})
	if out, err := exec.Command("lxc-start", "-P", dir, "-n", name, "-d", "-o", logf, "-l", "INFO").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(logf)
		t.Fatalf("lxc-start: %v\n%s\n%s", err, out, log)
	}
	if out, err := exec.Command("lxc-wait", "-P", dir, "-n", name, "-s", "RUNNING", "-t", "30").CombinedOutput(); err != nil {
		t.Fatalf("lxc-wait: %v\n%s", err, out)
	}
	out, err := exec.Command("lxc-attach", append([]string{"-P", dir, "-n", name, "--"}, argv...)...).CombinedOutput()
	if err != nil {
		t.Errorf("lxc-attach: %v\n%s", err, out)
	}
	if out, err := exec.Command("lxc-stop", "-P", dir, "-n", name, "-t", "30").CombinedOutput(); err != nil {
		t.Errorf("lxc-stop: %v\n%s", err, out)
	}
	return string(out)
}

// copyConf copies an LXC include into dir, keeping the lines keep accepts
// (nil: all), and returns the copy's path.
func copyConf(t *testing.T, src, dir string, keep func(string) bool) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if keep == nil || keep(strings.TrimSpace(line)) {
			out = append(out, line)
		}
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// hostHasV1Devices reports whether the devices controller is mounted as a
// cgroup v1 hierarchy here.
func hostHasV1Devices(t *testing.T) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`(?m) - cgroup \S+ \S*\bdevices\b`).Match(b)
}

// TestCheckGivesStartsVerdict: a config lxc-shim refuses is refused by
// `check` and by `start` with the same FILE:LINE: KEY line, a legacy key
// named as written, and start leaves nothing behind.
func TestCheckGivesStartsVerdict(t *testing.T) {
	e := newLC(t, rootTestinit, "lxc.tty = 1\nlxc.namespace.keep = net pid\n")
	cfg := filepath.Join(e.lxcpath, e.name, "config")
	want := cfg + ":4: lxc.namespace.keep: the pid namespace cannot be kept"
	_, checkErr, code := e.initd("check", e.name)
	if code != 1 || !strings.Contains(checkErr, want) {
		t.Errorf("check: exit %d, stderr:\n%s\nwant a line with %q", code, checkErr, want)
	}
	if !strings.Contains(checkErr, cfg+":3: lxc.tty (lxc.tty.max)") {
		t.Errorf("check does not name the legacy key as written:\n%s", checkErr)
	}
	_, startErr, code := e.initd("start", e.name)
	if code != 1 || !strings.Contains(startErr, want) {
		t.Errorf("start: exit %d, stderr:\n%s\nwant a line with %q", code, startErr, want)
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// TestLegacyKeyNamedAsWritten: a host-side failure of a legacy network key
// names the key as the file writes it, its line, and the LXC 3+ name.
func TestLegacyKeyNamedAsWritten(t *testing.T) {
	e := newLC(t, rootTestinit, "lxc.network.type = veth\nlxc.network.link = lsmnobr0\n")
	cfg := filepath.Join(e.lxcpath, e.name, "config")
	want := cfg + ":4: lxc.network.link (lxc.net.0.link): bridge \"lsmnobr0\""
	_, errOut, code := e.initd("start", e.name)
	if code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("start: exit %d, stderr:\n%s\nwant a line with %q", code, errOut, want)
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}
