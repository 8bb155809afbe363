package container

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestBootTestinitSeed boots the test init with the seed's config (its
// mount entries, capability drops, pty.max, six ttys) plus cgroup:mixed, and
// checks what the init sees from inside.
func TestBootTestinitSeed(t *testing.T) {
	name, rootfs, _ := testinitContainer(t)

	cfg := baseConfig(name, rootfs)
	cfg.Mounts = seedMounts()
	cfg.Caps.Drop = seedDrop()
	cfg.PTYMax = 1024
	cfg.TTY.Max = 2
	cfg.MountAuto.Cgroup = "mixed"
	cfg.Environment = []string{"FOO=bar baz", "PATH=/sbin:/bin"}
	// Not nofile: the Go runtime of the test init raises its soft limit.
	cfg.Prlimits = []config.Prlimit{{Name: "core", Resource: unix.RLIMIT_CORE, Soft: 1000, Hard: 2000}}
	cfg.Sysctls = []config.KeyValue{{Key: "net.ipv4.ip_forward", Value: "1"}}
	cfg.Init.Cwd = "/tmp"
	b := newBox(t, cfg)
	// A disposition of SIG_IGN and a blocked signal survive fork and exec:
	// the stage must reset both, so start it from a thread that has them.
	signal.Ignore(unix.SIGHUP)
	runtime.LockOSThread()
	var set unix.Sigset_t
	set.Val[0] = 1 << (unix.SIGUSR2 - 1)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
		t.Fatal(err)
	}
	b.start()
	_ = unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil)
	runtime.UnlockOSThread()
	signal.Reset(unix.SIGHUP)
	r := b.bootReport()

	// Nothing of the container's mounts is visible on the host.
	if m := testutil.MountsUnder(rootfs); len(m) > 0 {
		t.Errorf("container mounts visible on the host: %v", m)
	}
	if r.PID != 1 || r.PPID != 0 {
		t.Errorf("init pid/ppid = %d/%d, want 1/0", r.PID, r.PPID)
	}
	if !slices.Equal(r.Args, []string{"/sbin/init"}) {
		t.Errorf("init args = %q", r.Args)
	}
	if r.Hostname != name {
		t.Errorf("hostname = %q, want %q", r.Hostname, name)
	}
	if r.UID != 0 || r.GID != 0 || r.Cwd != "/tmp" {
		t.Errorf("uid/gid/cwd = %d/%d/%s, want 0/0//tmp", r.UID, r.GID, r.Cwd)
	}
	checkCaps(t, r, capsToKeepFor(t, cfg.Caps), false)
	checkSignals(t, b.pid)
	if r.Status["NoNewPrivs"] != "0" {
		t.Errorf("NoNewPrivs = %q without lxc.no_new_privs", r.Status["NoNewPrivs"])
	}
	for _, want := range []string{"container=lxc", "PATH=/sbin:/bin", "FOO=bar baz", "container_ttys=tty1 tty2"} {
		if !slices.Contains(r.Env, want) {
			t.Errorf("init environment %q lacks %q", r.Env, want)
		}
	}
	if len(r.Env) != 4 {
		t.Errorf("init environment = %q, want exactly 4 variables", r.Env)
	}
	if got := r.Rlimits["core"]; got != [2]uint64{1000, 2000} {
		t.Errorf("core = %v, want [1000 2000]", got)
	}
	if got := sysctlIn(t, b.pid, "net/ipv4/ip_forward"); got != "1" {
		t.Errorf("net.ipv4.ip_forward in the container = %q, want 1", got)
	}
	if host, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(string(host)) == "1" {
		t.Logf("note: the host's ip_forward is 1 too; the in-container check still read the container's netns")
	}
	// The cgroup namespace is rooted at the stage's cgroup.
	for _, l := range r.Cgroup {
		if !strings.HasSuffix(l, ":/") {
			t.Errorf("init's cgroup line %q: want the namespace root \"/\"", l)
		}
	}

	// The mount table: exactly the config's, nothing of the host's.
	cgMounts, cgLinks := hostCgroupRels(t)
	want := []string{"/", "/dev", "/proc", bootIDPath, "/sys", "/dev/shm", "/run", "/tmp", "/sys/fs/cgroup"}
	want = append(want, cgMounts...)
	want = append(want, "/dev/pts", "/dev/console", "/dev/tty1", "/dev/tty2")
	got := mountPoints(r.Mountinfo)
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("mount points inside:\n got %q\nwant %q\nmountinfo:\n%s", got, want, strings.Join(r.Mountinfo, "\n"))
	}
	for mp, opt := range map[string]string{"/sys": "ro", "/sys/fs/cgroup": "ro", "/proc": "rw", "/tmp": "rw"} {
		if o := mountOpts(r.Mountinfo, mp); !strings.HasPrefix(o, opt+",") {
			t.Errorf("%s mounted %s, want %s", mp, o, opt)
		}
	}
	for _, mp := range cgMounts {
		if o := mountOpts(r.Mountinfo, mp); !strings.HasPrefix(o, "rw,") {
			t.Errorf("%s mounted %s, want rw (cgroup:mixed, own cgroup)", mp, o)
		}
	}
	if o := devptsOpts(r.Mountinfo); !strings.Contains(o, "ptmxmode=666") || !strings.Contains(o, "max=1024") {
		t.Errorf("/dev/pts super options %q: want ptmxmode=666 and max=1024", o)
	}

	// /dev: exactly what autodev makes, plus the ttys.
	wantDev := map[string]string{
		mockBootIDPath: "-r--r--r--",
		"/dev/console": ptyID(t, b.slave), "/dev/tty1": ptyID(t, b.slaves[0]), "/dev/tty2": ptyID(t, b.slaves[1]),
		"/dev/null": "c 1:3", "/dev/zero": "c 1:5", "/dev/full": "c 1:7",
		"/dev/random": "c 1:8", "/dev/urandom": "c 1:9", "/dev/tty": "c 5:0",
		"/dev/ptmx": "-> pts/ptmx", "/dev/fd": "-> /proc/self/fd", "/dev/stdin": "-> /proc/self/fd/0",
		"/dev/stdout": "-> /proc/self/fd/1", "/dev/stderr": "-> /proc/self/fd/2",
		"/dev/pts": "dir", "/dev/pts/ptmx": "c 5:2", "/dev/shm": "dir",
	}
	checkDev(t, r, wantDev)
	for _, l := range cgLinks {
		if _, err := os.Lstat(filepath.Join("/proc", fmt.Sprint(b.pid), "root", l)); err != nil {
			t.Errorf("comount link %s missing in the container: %v", l, err)
		}
	}
	checkConsole(t, b)
}

// capsToKeepFor is the set the test expects the init to hold.
func capsToKeepFor(t *testing.T, c config.Caps) uint64 {
	last, err := readLastCap()
	if err != nil {
		t.Fatal(err)
	}
	have, err := permittedNow()
	if err != nil {
		t.Fatal(err)
	}
	return capsToKeep(c, last) & have
}

func checkCaps(t *testing.T, r *bootReport, keep uint64, nonRoot bool) {
	t.Helper()
	hex := fmt.Sprintf("%016x", keep)
	inh := "0000000000000000"
	if nonRoot {
		inh = hex
	}
	want := map[string]string{"CapBnd": hex, "CapPrm": hex, "CapEff": hex, "CapInh": inh, "CapAmb": inh}
	for k, v := range want {
		if r.Status[k] != v {
			t.Errorf("%s = %s, want %s", k, r.Status[k], v)
		}
	}
	if keep&(1<<unix.CAP_SYS_ADMIN) != 0 || keep&(1<<unix.CAP_SYS_BOOT) == 0 {
		t.Errorf("kept set %s: sys_admin must be dropped, sys_boot kept", hex)
	}
}

func devptsOpts(lines []string) string {
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 4 && f[4] == "/dev/pts" {
			return f[len(f)-1]
		}
	}
	return ""
}

// checkDev compares the init's /dev listing with want: "c MAJ:MIN" for a
// device node, "-> TARGET" for a link, "dir", or "pty MAJ:MIN" for a bound
// pty slave (see ptyID).
func checkDev(t *testing.T, r *bootReport, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, e := range r.Dev {
		switch {
		case e.Link != "":
			got[e.Path] = "-> " + e.Link
		case strings.HasPrefix(e.Mode, "d"):
			got[e.Path] = "dir"
		case strings.HasPrefix(e.Mode, "Dc") || strings.HasPrefix(e.Mode, "c"):
			if e.Major >= 136 && e.Major <= 143 {
				got[e.Path] = fmt.Sprintf("pty %d:%d", e.Major, e.Minor) // a pty slave of the host's devpts
			} else {
				got[e.Path] = fmt.Sprintf("c %d:%d", e.Major, e.Minor)
			}
		default:
			got[e.Path] = e.Mode
		}
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("/dev entry %s = %q, want %q", p, got[p], w)
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected /dev entry %s (%s)", p, g)
		}
	}
}

// checkConsole: the init is a session leader whose stdio and controlling
// tty are the console pty.
func checkConsole(t *testing.T, b *box) {
	t.Helper()
	for fd := 0; fd <= 2; fd++ {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", b.pid, fd))
		if err != nil || l != b.slave.Name() {
			t.Errorf("init fd %d -> %q (%v), want the console %s", fd, l, err, b.slave.Name())
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", b.pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	var st unix.Stat_t
	if err := unix.Fstat(int(b.slave.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	// f[0] is state; f[3] session, f[4] tty_nr.
	if f[3] != fmt.Sprint(b.pid) || f[4] != fmt.Sprint(st.Rdev) {
		t.Errorf("init session %s tty %s, want session %d tty %d", f[3], f[4], b.pid, st.Rdev)
	}
}

// sysctlIn reads /proc/sys/KEY in the network namespace of pid (net
// sysctls answer for the reader's namespace).
func sysctlIn(t *testing.T, pid int, key string) string {
	t.Helper()
	out := make(chan string, 1)
	go func() {
		// The thread is unlocked only once back in its own namespace; if
		// that fails it stays locked and the runtime retires it.
		runtime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			out <- "open own ns: " + err.Error()
			return
		}
		defer unix.Close(self)
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			out <- "open ns: " + err.Error()
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			out <- "setns: " + err.Error()
			return
		}
		b, err := os.ReadFile("/proc/sys/" + key)
		if unix.Setns(self, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		if err != nil {
			out <- err.Error()
			return
		}
		out <- strings.TrimSpace(string(b))
	}()
	return <-out
}

// checkSignals: the init ignores no signal, and its threads' masks come
// from an exec with nothing blocked. A Go init blocks signals on the thread
// that serves signal.Notify, so at least one thread (the others keep the
// mask they were exec'ed with, minus what the runtime unblocks) must show
// an empty mask.
func checkSignals(t *testing.T, pid int) {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	var masks []string
	empty := false
	for _, task := range tasks {
		st := procStatus(t, fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if st["SigIgn"] != "0000000000000000" {
			t.Errorf("init ignores signals %s, want none", st["SigIgn"])
		}
		masks = append(masks, st["SigBlk"])
		if st["SigBlk"] == "0000000000000000" {
			empty = true
		}
	}
	if !empty {
		t.Errorf("no thread of the init has an empty signal mask: %v", masks)
	}
}

func procStatus(t *testing.T, p string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// ptyID is how checkDev shows the pty slave f once bound into the container.
func ptyID(t *testing.T, f *os.File) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("pty %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
}
