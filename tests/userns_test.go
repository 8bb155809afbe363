package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// usernsMap is the map of the tests: container 0-65535 as host 100000-165535.
const usernsMap = "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n"

// newUserns is a busybox container with usernsMap on an unshifted
// (root-owned) rootfs seen through an idmapped mount, and a root-owned
// host directory bind-mounted, idmapped too, on /mnt/shared.
func newUserns(t *testing.T, extra string) (*lcEnv, string) {
	t.Helper()
	shared := t.TempDir()
	e := newLC(t, rootBusybox, usernsMap+
		"lxc.rootfs.options = idmap=container\n"+
		"lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed\n"+
		"lxc.mount.entry = "+shared+" mnt/shared none bind,create=dir,idmap=container 0 0\n"+
		"lxc.signal.reboot = SIGTERM\n"+
		// The device list LXC's common.conf gives: what is not in it
		// cannot be opened even where a node for it exists.
		"lxc.cgroup.devices.deny = a\n"+
		"lxc.cgroup.devices.allow = c 1:3 rwm\nlxc.cgroup.devices.allow = c 1:8 rwm\nlxc.cgroup.devices.allow = c 1:9 rwm\n"+
		"lxc.cgroup.devices.allow = c 5:* rwm\nlxc.cgroup.devices.allow = c 136:* rwm\n"+extra)
	// The container's root (host uid 100000) must reach its rootfs and
	// the bind source: the test's temporary directories are 0700.
	for _, d := range []string{filepath.Dir(e.rootfs), filepath.Dir(filepath.Dir(e.rootfs)), shared, filepath.Dir(shared)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return e, shared
}

// statusID is the first (real) id of the Uid: or Gid: line of pid.
func statusID(t *testing.T, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == field+":" {
			return f[1]
		}
	}
	t.Fatalf("/proc/%d/status has no %s: line", pid, field)
	return ""
}

// usernsInode is the inode of process pid's user namespace.
func usernsInode(t *testing.T, pid int) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// holdersOf lists the processes of container name (in its cgroup, or
// naming it on their command line: the shim, lxc-initd) that are in, or
// hold a descriptor of, the user namespace ns ("user:[N]"). Only those:
// the kernel reuses a freed namespace's inode number, so another
// container's namespace may carry it.
func holdersOf(ns, name string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		cg, _ := os.ReadFile(p + "/cgroup")
		cmd, _ := os.ReadFile(p + "/cmdline")
		if !strings.Contains(string(cg), "/lxc-shim/"+name+"\n") && !strings.Contains(string(cmd), "\x00"+name+"\x00") &&
			!strings.HasSuffix(string(cmd), "\x00"+name) {
			continue
		}
		if l, _ := os.Readlink(p + "/ns/user"); l == ns {
			stat, _ := os.ReadFile(p + "/stat")
			out = append(out, p+" is in it: "+strings.TrimSpace(string(stat)))
		}
		fds, _ := filepath.Glob(p + "/fd/*")
		for _, fd := range fds {
			if l, _ := os.Readlink(fd); l == ns {
				out = append(out, fd+" holds it")
			}
		}
	}
	return out
}

// An unprivileged busybox container on an idmapped rootfs: root inside is
// host uid 100000, what it writes lands on disk as root's (the idmapped
// mount shifts it back), mknod and a device the rules do not give are
// refused, its cgroup is its own to subdivide; reboot from inside, attach,
// console and a stop that has to escalate work, and nothing is left,
// not even a descriptor holding its user namespace.
func TestUsernsBusybox(t *testing.T) {
	// busybox init has no SIGPWR handler: the stop must escalate.
	e, shared := newUserns(t, "lxc.signal.halt = SIGPWR\nlxc.tty.max = 1\n"+
		// An optional idmapped entry whose source is missing is skipped.
		"lxc.mount.entry = /nonexistent/tusrc mnt/tusrc none bind,optional,idmap=container 0 0\n")
	// A node for /dev/zero placed in the rootfs by the host: the device
	// rules do not give it, so the container cannot open it.
	if err := syscall.Mknod(filepath.Join(e.rootfs, "hostzero"), syscall.S_IFCHR|0o666, 1<<8|5); err != nil {
		t.Fatal(err)
	}
	e.mustInitd(0, "start", e.name)
	st := e.state()
	e.waitEvent(15*time.Second, "rcS", 1)
	if uid, gid := statusID(t, st.Pid, "Uid"), statusID(t, st.Pid, "Gid"); uid != "100000" || gid != "100000" {
		t.Errorf("the init runs as host uid %s gid %s, want 100000", uid, gid)
	}
	var js shimctl.Status
	if err := json.Unmarshal([]byte(e.mustInitd(0, "status", e.name, "--json")), &js); err != nil ||
		!js.Unprivileged || strings.Join(js.IDMap, ",") != "u 0 100000 65536,g 0 100000 65536" {
		t.Errorf("status --json: %v: unprivileged %v idmap %q", err, js.Unprivileged, js.IDMap)
	}
	if out := e.mustInitd(0, "status", e.name); !strings.Contains(out, "unprivileged") {
		t.Errorf("status says %q, want unprivileged", out)
	}
	ns := usernsInode(t, st.Pid)
	if own := usernsInode(t, os.Getpid()); ns == own {
		t.Fatalf("the init shares the host's user namespace %s", ns)
	}
	// rcS wrote events.log as container root: on disk, through the
	// idmapped mount, that is host root.
	var fi syscall.Stat_t
	if err := syscall.Stat(filepath.Join(e.rootfs, "testinit", "events.log"), &fi); err != nil || fi.Uid != 0 || fi.Gid != 0 {
		t.Errorf("events.log: %v, owner %d:%d, want 0:0 (idmapped rootfs)", err, fi.Uid, fi.Gid)
	}

	out := e.mustInitd(0, "attach", e.name, "--", "sh", "-c",
		`id -u; id -g; cat /proc/self/uid_map
mknod /tmp/sda b 8 0 2>/dev/null && echo MKNOD-OK || echo mknod-refused
head -c1 /hostzero >/dev/null 2>&1 && echo HOSTZERO-OK || echo hostzero-refused
echo data > /mnt/shared/made-inside && echo wrote-shared
d=/sys/fs/cgroup/unified; [ -d $d ] || d=/sys/fs/cgroup
mkdir $d/sub && echo $$ > $d/sub/cgroup.procs && echo delegated`)
	for _, want := range []string{"0\n0\n", " 0     100000      65536", "mknod-refused", "hostzero-refused", "wrote-shared", "delegated"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " ")+"\n", strings.Join(strings.Fields(want), " ")) {
			t.Errorf("attach output lacks %q:\n%s", want, out)
		}
	}
	if err := syscall.Stat(filepath.Join(shared, "made-inside"), &fi); err != nil || fi.Uid != 0 {
		t.Errorf("file made in the idmapped bind mount: %v, owner %d, want 0", err, fi.Uid)
	}
	// Attach on a terminal: the pty (of the container's devpts) belongs
	// to the container's root, not to nobody.
	tm := startOnTerm(t, 30, 100, e.bins.Initd, e.cli().args("attach", e.name)...)
	tm.typ("stat -c tu-%u-%U $(tty)\r")
	tm.expect(`tu-0-root`, 0)
	tm.typ("exit 3\r")
	if code := tm.wait(); code != 3 {
		t.Errorf("attach with a terminal, shell exit 3: exit %d", code)
	}

	// Reboot from inside: busybox's reboot signals its init, which calls
	// reboot(2); the shim boots it again, in a new user namespace.
	// busybox init sends SIGTERM to every process before it reboots: the
	// reboot command may die of it (143) before it exits.
	if _, stderr, code := e.initd("attach", e.name, "--", "reboot"); code != 0 && code != 143 {
		t.Fatalf("reboot inside: exit %d %s", code, stderr)
	}
	st2 := e.waitState(30*time.Second, "boot 2", func(s *shimctl.Status) bool {
		return s.BootCount == 2 && s.State == shimctl.StateRunning
	})
	if st2.LastExit == nil || st2.LastExit.Meaning != "reboot" {
		t.Errorf("after reboot: %+v last %+v", st2, st2.LastExit)
	}
	e.waitEvent(15*time.Second, "rcS", 2)
	if uid := statusID(t, st2.Pid, "Uid"); uid != "100000" {
		t.Errorf("after reboot the init runs as host uid %s", uid)
	}
	ns2 := usernsInode(t, st2.Pid)
	if h := holdersOf(ns, e.name); ns != ns2 && len(h) > 0 {
		t.Errorf("the first boot's user namespace %s is still held: %v", ns, h)
	}

	// The console: the shell busybox runs on it answers as root.
	c := shimctl.NewClient(e.rundir, e.name)
	con, err := c.Console(context.Background(), 0, 30, 100)
	if err != nil {
		t.Fatalf("console: %v", err)
	}
	con.Write([]byte("echo tl-$((6*7))-$(id -u)\n"))
	var got bytes.Buffer
	con.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), "tl-42-0") {
		n, err := con.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	con.Close()
	if !strings.Contains(got.String(), "tl-42-0") {
		t.Errorf("console output %q: want tl-42-0", got.String())
	}

	// The leak check below sees what it looks for: the running init.
	if len(holdersOf(ns2, e.name)) == 0 {
		t.Errorf("holdersOf does not see the running init in %s", ns2)
	}
	// SIGPWR is ignored: after the timeout the shim kills the cgroup.
	out = e.mustInitd(0, "stop", e.name, "-t", "1")
	if !strings.Contains(out, "forced") {
		t.Errorf("stop said %q, want forced", out)
	}
	e.waitGone(st2.ShimPid, "shim")
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
	testutil.CheckNoLeaks(t, e.name, shared, "")
	testutil.WaitFor(t, 5*time.Second, "user namespace released", func() error {
		if h := holdersOf(ns2, e.name); len(h) > 0 {
			return fmt.Errorf("%s still held: %v", ns2, h)
		}
		return nil
	})
}

// Bad maps are refused by start (and check) with FILE:LINE: KEY, before
// anything is made.
func TestUsernsBadMap(t *testing.T) {
	e, _ := newUserns(t, "")
	cfg := filepath.Join(e.lxcpath, e.name, "config")
	orig, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ line, want string }{
		{"lxc.idmap = u 0 0 65536", "contains host uid 0"},
		{"lxc.idmap = g 100 300000 10", "overlaps"},
	} {
		if err := os.WriteFile(cfg, append(append([]byte{}, orig...), tc.line+"\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		n := strconv.Itoa(strings.Count(string(orig), "\n") + 1)
		for _, verb := range []string{"check", "start"} {
			_, stderr, code := e.initd(verb, e.name)
			if code == 0 || !strings.Contains(stderr, cfg+":"+n+": lxc.idmap: ") || !strings.Contains(stderr, tc.want) {
				t.Errorf("%s with %q: exit %d, stderr %q; want %s:%s: lxc.idmap: ...%s", verb, tc.line, code, stderr, cfg, n, tc.want)
			}
		}
		if _, err := os.Stat(filepath.Join(e.rundir, e.name, "state.json")); err == nil {
			t.Errorf("%q: start left a state file", tc.line)
		}
		testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
	}
}

// A root-owned rootfs without idmap=container does not fit the map:
// check says so, naming the directory and its owner; `shift --to-map`
// chowns it once, and the container then runs on it as it is, writing
// files as host uid 100000.
func TestUsernsShiftedRootfs(t *testing.T) {
	e := newLC(t, rootBusybox, usernsMap+"lxc.signal.halt = SIGUSR1\nlxc.signal.reboot = SIGTERM\n")
	for _, d := range []string{filepath.Dir(e.rootfs), filepath.Dir(filepath.Dir(e.rootfs))} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Chmod(filepath.Join(e.rootfs, "bin", "busybox"), 0o4755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(e.lxcpath, e.name, "config")
	for _, verb := range []string{"check", "start"} {
		_, stderr, code := e.initd(verb, e.name)
		want := cfg + ":2: lxc.rootfs.path: " + e.rootfs + " is owned by host uid 0, which lxc.idmap does not map"
		if code == 0 || !strings.Contains(stderr, want) {
			t.Fatalf("%s on an unshifted rootfs: exit %d, stderr %q; want %q", verb, code, stderr, want)
		}
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
	out := e.mustInitd(0, "shift", e.name, "--to-map")
	if !strings.Contains(out, "shifted") {
		t.Errorf("shift said %q", out)
	}
	var fi syscall.Stat_t
	if err := syscall.Stat(filepath.Join(e.rootfs, "bin", "busybox"), &fi); err != nil || fi.Uid != 100000 || fi.Gid != 100000 || fi.Mode&syscall.S_ISUID == 0 {
		t.Errorf("bin/busybox after shift: %v, %d:%d mode %o; want 100000:100000, setuid kept", err, fi.Uid, fi.Gid, fi.Mode)
	}
	if _, _, code := e.initd("shift", e.name, "--to-map"); code == 0 {
		t.Error("a second shift was accepted")
	}
	e.mustInitd(0, "check", e.name)
	e.mustInitd(0, "start", e.name)
	st := e.state()
	e.waitEvent(15*time.Second, "rcS", 1)
	if uid := statusID(t, st.Pid, "Uid"); uid != "100000" {
		t.Errorf("the init runs as host uid %s, want 100000", uid)
	}
	out = e.mustInitd(0, "attach", e.name, "--", "sh", "-c", "id -u; touch /root/made-inside")
	if strings.TrimSpace(out) != "0" {
		t.Errorf("attach: id -u said %q", out)
	}
	if err := syscall.Stat(filepath.Join(e.rootfs, "root", "made-inside"), &fi); err != nil || fi.Uid != 100000 {
		t.Errorf("file made inside: %v, owner %d, want 100000 (shifted rootfs)", err, fi.Uid)
	}
	// The console (the init's stdin) is the container root's.
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/fd/0", st.Pid), &fi); err != nil || fi.Uid != 100000 {
		t.Errorf("console: %v, owner %d, want 100000", err, fi.Uid)
	}
	// The config drops lxc.idmap; the reboot reads it again and the
	// container comes back privileged: the console, which lives as long
	// as the shim, is host root's again.
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(string(b), "lxc.idmap", "#lxc.idmap")), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustInitd(0, "reboot", e.name)
	st2 := e.waitState(30*time.Second, "boot 2", func(s *shimctl.Status) bool {
		return s.BootCount == 2 && s.State == shimctl.StateRunning
	})
	if uid := statusID(t, st2.Pid, "Uid"); uid != "0" || st2.Unprivileged {
		t.Errorf("after dropping lxc.idmap the init runs as host uid %s (unprivileged %v), want 0", uid, st2.Unprivileged)
	}
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/fd/0", st2.Pid), &fi); err != nil || fi.Uid != 0 || fi.Gid != 0 {
		t.Errorf("console after the privileged reboot: %v, owner %d:%d, want 0:0", err, fi.Uid, fi.Gid)
	}
	out = e.mustInitd(0, "stop", e.name, "-t", "20")
	if !strings.Contains(out, "graceful") {
		t.Errorf("stop said %q", out)
	}
	e.waitGone(st.ShimPid, "shim")
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// Two unprivileged containers with disjoint maps on one bridge: the host
// makes their veths and moves one end into each network namespace (owned
// by the container's user namespace); they ping each other, also after
// one rebooted from inside, and nothing of either is left after the stop.
func TestUsernsNetwork(t *testing.T) {
	h := newTW(t)
	for _, d := range []string{h.dir, filepath.Dir(h.dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	br := h.bridge()
	var cts []*twCT
	for i, host := range []int{100000, 200000} {
		m := fmt.Sprintf("lxc.idmap = u 0 %d 65536\nlxc.idmap = g 0 %d 65536\nlxc.rootfs.options = idmap=container\n", host, host)
		cts = append(cts, h.add(rootBusybox, func(c *twCT) string {
			return c.head(m+"lxc.signal.halt = SIGUSR1\nlxc.signal.reboot = SIGTERM\n") +
				c.vethNet(br, fmt.Sprintf("02:00:0a:ee:01:%02x", i+2), fmt.Sprintf("10.238.1.%d/24", i+2))
		}))
	}
	a, b := cts[0], cts[1]
	stA, stB := a.start(), b.start()
	if ua, ub := statusID(t, stA.Pid, "Uid"), statusID(t, stB.Pid, "Uid"); ua != "100000" || ub != "200000" {
		t.Errorf("inits run as host uids %s and %s, want 100000 and 200000", ua, ub)
	}
	a.ping("10.238.1.3")
	b.ping("10.238.1.2")
	// busybox init sends SIGTERM to every process before it reboots: the
	// reboot command may die of it (143) before it exits.
	if out, code := a.attach("reboot"); code != 0 && code != 143 {
		t.Fatalf("reboot inside %s: exit %d %s", a.name, code, out)
	}
	st := a.waitState(30*time.Second, "boot 2", func(s *shimctl.Status) bool {
		return s.BootCount == 2 && s.State == shimctl.StateRunning
	})
	a.noteNetns(st.Pid)
	a.ping("10.238.1.3")
	a.stop()
	b.stop()
	for _, c := range cts {
		h.must(0, "cleanup", c.name)
	}
	h.finish()
}

// Every *.userns.conf LXC ships, around the busybox rootfs with the test
// map: it starts, its init is host uid 100000, attach runs as its root,
// and it stops leaving nothing. The shipped files themselves are included:
// userns.conf's include of userns.conf.d/, which Debian does not ship, is
// skipped as LXC skips a missing include directory.
func TestUsernsShippedConfigs(t *testing.T) {
	testutil.RequireRoot(t)
	const shipped = "/usr/share/lxc/config/"
	files, err := filepath.Glob(shipped + "*.userns.conf")
	if err != nil || len(files) < 10 {
		t.Fatalf("%s*.userns.conf: %d files, %v (lxc-templates installed?)", shipped, len(files), err)
	}
	e := newLC(t, rootBusybox, "")
	for _, d := range []string{filepath.Dir(e.rootfs), filepath.Dir(filepath.Dir(e.rootfs))} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(e.lxcpath, e.name, "config")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			text := fmt.Sprintf("lxc.include = %s\nlxc.uts.name = %s\nlxc.rootfs.path = dir:%s\nlxc.rootfs.options = idmap=container\n%slxc.signal.halt = SIGUSR1\n",
				f, e.name, e.rootfs, usernsMap)
			if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			e.mustInitd(0, "start", e.name)
			st := e.state()
			if uid := statusID(t, st.Pid, "Uid"); uid != "100000" {
				t.Errorf("the init runs as host uid %s, want 100000", uid)
			}
			if out := e.mustInitd(0, "attach", e.name, "--", "id", "-u"); strings.TrimSpace(out) != "0" {
				t.Errorf("attach: id -u said %q", out)
			}
			e.mustInitd(0, "stop", e.name, "-t", "20")
			e.waitGone(st.ShimPid, "shim")
			testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
		})
	}
}

// TestUsernsLXCDownloadConfig: the config `lxc-create -t download` writes
// for an unprivileged Debian container (debian.common.conf, so common.conf
// with its seccomp policy, device lists and lxcfs hooks, and
// debian.userns.conf) runs in its user namespace: the init is host uid
// 100000 under seccomp, lxcfs's mount hook gives it a /proc/meminfo of its
// memory limit, an attached command is under the same filter, and a stop
// leaves nothing.
func TestUsernsLXCDownloadConfig(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.StartLxcfs(t)
	e, _ := newUserns(t, "lxc.include = "+lxcConfigDir+"/debian.common.conf\n"+
		"lxc.include = "+lxcConfigDir+"/debian.userns.conf\n"+
		"lxc.cgroup.memory.limit_in_bytes = 256M\nlxc.signal.halt = SIGUSR1\n")
	if out, errOut, code := e.initd("check", e.name); code != 0 {
		t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
	}
	e.mustInitd(0, "start", e.name)
	st := e.state()
	if uid := statusID(t, st.Pid, "Uid"); uid != "100000" {
		t.Errorf("the init runs as host uid %s, want 100000", uid)
	}
	if s := statusID(t, st.Pid, "Seccomp"); s != "2" {
		t.Errorf("the init's Seccomp: %s, want 2 (common.seccomp)", s)
	}
	out := e.mustInitd(0, "attach", e.name, "--", "/bin/busybox", "sh", "-c",
		"grep -E '^(Uid|Seccomp):' /proc/self/status; grep MemTotal /proc/meminfo")
	for _, want := range []string{"Seccomp:\t2", "MemTotal:         262144 kB"} {
		if !strings.Contains(out, want) {
			t.Errorf("attach: want %q in:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^Uid:\s+0\s`).MatchString(out) {
		t.Errorf("attach: not root inside:\n%s", out)
	}
	e.mustInitd(0, "stop", e.name, "-t", "30")
	e.waitGone(st.ShimPid, "shim")
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}
