package container

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestBootMixedAutomountsKeepCaps boots the test init as a non-root user
// with lxc.cap.keep, lxc.tty.dir, proc:mixed, sys:mixed and an i686 arch.
func TestBootMixedAutomountsKeepCaps(t *testing.T) {
	name, rootfs, _ := testinitContainer(t)
	// The init runs as uid 1000 and must write its report.
	if err := os.Chmod(filepath.Join(rootfs, "testinit"), 0o777); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(name, rootfs)
	cfg.Init.UID, cfg.Init.GID = 1000, 1000
	cfg.Init.Cmd = []string{"init", "tbarg1", "tb arg2"} // found through PATH
	cfg.Caps.Keep = []int{unix.CAP_SYS_BOOT, unix.CAP_KILL, unix.CAP_CHOWN, unix.CAP_NET_ADMIN}
	cfg.TTY = config.TTY{Max: 1, Dir: "lxc"}
	cfg.MountAuto.Proc, cfg.MountAuto.Sys = "mixed", "mixed"
	cfg.Arch, cfg.Personality = "i686", 0x0008 // PER_LINUX32
	cfg.Security.NoNewPrivs = true
	b := newBox(t, cfg)
	b.start()
	r := b.bootReport()

	if !slices.Equal(r.Args, []string{"init", "tbarg1", "tb arg2"}) {
		t.Errorf("init args = %q", r.Args)
	}
	if r.PID != 1 || r.UID != 1000 || r.GID != 1000 || r.Cwd != "/" {
		t.Errorf("pid/uid/gid/cwd = %d/%d/%d/%s, want 1/1000/1000//", r.PID, r.UID, r.GID, r.Cwd)
	}
	checkCaps(t, r, 1<<unix.CAP_SYS_BOOT|1<<unix.CAP_KILL|1<<unix.CAP_CHOWN|1<<unix.CAP_NET_ADMIN, true)
	if r.Status["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs = %q, want 1 (lxc.no_new_privs)", r.Status["NoNewPrivs"])
	}
	if r.Personality != 0x0008 {
		t.Errorf("personality = %#x, want PER_LINUX32", r.Personality)
	}
	for _, want := range []string{"container=lxc", "PATH=" + defaultPath, "container_ttys=lxc/tty1"} {
		if !slices.Contains(r.Env, want) {
			t.Errorf("init environment %q lacks %q", r.Env, want)
		}
	}
	want := []string{"/", "/dev", "/proc", "/proc/sys", bootIDPath, "/proc/sys/net",
		"/sys", "/sys/devices/virtual/net", "/dev/pts", "/dev/console", "/dev/lxc/tty1"}
	ro := map[string]string{"/proc": "rw", "/proc/sys": "ro", "/proc/sys/net": "rw",
		"/sys": "ro", "/sys/devices/virtual/net": "rw"}
	if _, err := os.Stat("/proc/sysrq-trigger"); err == nil { // a kernel with magic SysRq
		want = append(want, "/proc/sysrq-trigger")
		ro["/proc/sysrq-trigger"] = "ro"
	}
	got := mountPoints(r.Mountinfo)
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("mount points inside:\n got %q\nwant %q", got, want)
	}
	for mp, opt := range ro {
		if o := mountOpts(r.Mountinfo, mp); !strings.HasPrefix(o, opt+",") {
			t.Errorf("%s mounted %s, want %s", mp, o, opt)
		}
	}
	checkDev(t, r, map[string]string{
		mockBootIDPath: "-r--r--r--",
		"/dev/console": ptyID(t, b.slave), "/dev/lxc": "dir", "/dev/lxc/tty1": ptyID(t, b.slaves[0]), "/dev/tty1": "-> lxc/tty1",
		"/dev/null": "c 1:3", "/dev/zero": "c 1:5", "/dev/full": "c 1:7",
		"/dev/random": "c 1:8", "/dev/urandom": "c 1:9", "/dev/tty": "c 5:0",
		"/dev/ptmx": "-> pts/ptmx", "/dev/fd": "-> /proc/self/fd", "/dev/stdin": "-> /proc/self/fd/0",
		"/dev/stdout": "-> /proc/self/fd/1", "/dev/stderr": "-> /proc/self/fd/2",
		"/dev/pts": "dir", "/dev/pts/ptmx": "c 5:2", "/dev/shm": "dir",
	})
	if o := devptsOpts(r.Mountinfo); strings.Contains(o, "max=") {
		t.Errorf("/dev/pts %q has a max without lxc.pty.max", o)
	}
	checkConsole(t, b)
}

// TestBootBusybox boots busybox init from a busybox root file system with
// the seed's mounts and caps, and checks from its console shell.
func TestBootBusybox(t *testing.T) {
	testutil.RequireRoot(t)
	name := testutil.Name("tb")
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	testutil.BusyboxRootfs(t, rootfs)
	cfg := baseConfig(name, rootfs)
	cfg.Mounts = seedMounts()
	cfg.Caps.Drop = seedDrop()
	cfg.PTYMax = 1024
	b := newBox(t, cfg)
	b.start()
	events := filepath.Join(rootfs, "testinit", "events.log")
	testutil.WaitFor(t, 10*time.Second, "busybox rcS", func() error {
		buf, err := os.ReadFile(events)
		if err != nil || !strings.Contains(string(buf), "rcS") {
			return os.ErrNotExist
		}
		return nil
	})
	// The console shell answers: write the checks through the console pty.
	out := filepath.Join(rootfs, "testinit")
	script := "hostname > /testinit/hn; cat /proc/1/status > /testinit/st; readlink /proc/1/exe > /testinit/exe; " +
		"cat /proc/self/mountinfo > /testinit/mi; tty > /testinit/tty; touch /testinit/done\n"
	testutil.WaitFor(t, 10*time.Second, "the console shell to run the checks", func() error {
		if _, err := os.Stat(filepath.Join(out, "done")); err == nil {
			return nil
		}
		_, _ = b.console.Write([]byte(script))
		time.Sleep(200 * time.Millisecond)
		_, err := os.Stat(filepath.Join(out, "done"))
		return err
	})
	read := func(n string) string {
		buf, err := os.ReadFile(filepath.Join(out, n))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(buf))
	}
	if hn := read("hn"); hn != name {
		t.Errorf("hostname in busybox = %q, want %q", hn, name)
	}
	if exe := read("exe"); exe != "/bin/busybox" {
		t.Errorf("PID 1 runs %q, want /bin/busybox (/sbin/init)", exe)
	}
	if tty := read("tty"); tty != "/dev/console" {
		t.Errorf("console shell's tty = %q, want /dev/console", tty)
	}
	st := map[string]string{}
	for _, l := range strings.Split(read("st"), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			st[k] = strings.TrimSpace(v)
		}
	}
	r := &bootReport{Status: st}
	if st["Name"] != "init" {
		t.Errorf("PID 1 is %q, want busybox init", st["Name"])
	}
	checkCaps(t, r, capsToKeepFor(t, cfg.Caps), false)
	got := mountPoints(strings.Split(read("mi"), "\n"))
	want := []string{"/", "/dev", "/proc", bootIDPath, "/sys", "/dev/shm", "/run", "/tmp", "/dev/pts", "/dev/console"}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("mount points inside busybox:\n got %q\nwant %q", got, want)
	}
	if m := testutil.MountsUnder(rootfs); len(m) > 0 {
		t.Errorf("container mounts visible on the host: %v", m)
	}
	// No descriptor of the shim's side (the stage's pipes, its log) reached
	// the init: busybox init holds only the console.
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", b.pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", b.pid, fd.Name()))
		if strings.HasPrefix(l, "pipe:") || strings.HasPrefix(l, "socket:") || l == "/dev/null" {
			t.Errorf("init inherited fd %s -> %s", fd.Name(), l)
		}
	}
}

// TestSymlinkTargetsStayInRootfs: mount targets that are symlinks in the
// rootfs pointing at host paths (absolute, relative escaping "..", and a
// file) land inside the rootfs, never on the host.
func TestSymlinkTargetsStayInRootfs(t *testing.T) {
	testutil.RequireRoot(t)
	bins := testutil.Binaries(t)
	name := testutil.Name("tb")
	tmp := t.TempDir()
	rootfs := filepath.Join(tmp, "rootfs")
	testutil.TestinitRootfs(t, rootfs, bins)
	hostDir := filepath.Join(tmp, "tbhostdir")
	hostDir2 := filepath.Join(tmp, "tbhostdir2")
	hostFile := filepath.Join(tmp, "tbhostfile")
	src := filepath.Join(tmp, "tbsrc")
	srcFile := filepath.Join(tmp, "tbsrcfile")
	for _, d := range []string{hostDir, hostDir2, src} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{hostFile, srcFile} {
		if err := os.WriteFile(f, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"mnt/evil":     hostDir, // absolute
		"mnt/evil2":    strings.Repeat("../", 12) + strings.TrimPrefix(hostDir2, "/"),
		"etc/evilfile": hostFile,
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(rootfs, l)); err != nil {
			t.Fatal(err)
		}
	}
	// What the symlinks name, inside the rootfs: the mounts must land here.
	for _, d := range []string{hostDir, hostDir2} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(rootfs, hostFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A dangling one with create=dir: refused (optional here, so the boot
	// goes on), and nothing is created on the host either.
	hostDir3 := filepath.Join(tmp, "tbhostdir3")
	if err := os.Symlink(hostDir3, filepath.Join(rootfs, "mnt/evil3")); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(name, rootfs)
	cfg.Mounts = []config.Mount{
		mount(19, "proc", "proc", "proc", "defaults", 0, ""),
		mount(23, "tmpfs", "mnt/evil3", "tmpfs", "create=dir,optional", 0, ""),
		mount(20, "tmpfs", "mnt/evil", "tmpfs", "create=dir", 0, ""),
		mount(21, src, "mnt/evil2", "none", "bind,create=dir", unix.MS_BIND, ""),
		mount(22, srcFile, "/etc/evilfile", "none", "bind,ro,create=file", unix.MS_BIND|unix.MS_RDONLY, ""),
	}
	b := newBox(t, cfg)
	b.start()
	r := b.bootReport()

	for _, p := range []string{hostDir, hostDir2, hostFile} {
		if m := testutil.MountsUnder(p); len(m) > 0 {
			t.Errorf("a container mount landed on the host at %v", m)
		}
	}
	if buf, _ := os.ReadFile(hostFile); string(buf) != hostFile {
		t.Errorf("host file %s now reads %q", hostFile, buf)
	}
	if _, err := os.Lstat(hostDir3); err == nil {
		t.Errorf("create=dir through a dangling symlink created %s on the host", hostDir3)
	}
	// Inside, the mounts are where the symlinks point within the rootfs.
	got := mountPoints(r.Mountinfo)
	for _, p := range []string{hostDir, hostDir2, hostFile} {
		if !slices.Contains(got, p) {
			t.Errorf("no mount at %s inside the container: %q", p, got)
		}
		if _, err := os.Lstat(filepath.Join(rootfs, p)); err != nil {
			t.Errorf("mount target %s was not created inside the rootfs: %v", p, err)
		}
	}
	if o := mountOpts(r.Mountinfo, hostFile); !strings.HasPrefix(o, "ro,") {
		t.Errorf("bind,ro file mount has options %q, want ro", o)
	}
}

// TestBootNoConsole: lxc.console.path = none: no /dev/console, and the
// init's stdio is /dev/null; the rootfs is given in its "dir:" form.
func TestBootNoConsole(t *testing.T) {
	name, rootfs, _ := testinitContainer(t)
	cfg := baseConfig(name, rootfs)
	cfg.Console.Path = "none"
	cfg.MountAuto.Proc = "rw"
	cfg.Rootfs.Path = "dir:" + rootfs // the "dir:" form
	b := newBox(t, cfg)
	b.rootfs = rootfs
	b.start()
	r := b.bootReport()
	for _, e := range r.Dev {
		if e.Path == "/dev/console" {
			t.Errorf("/dev/console exists without a console")
		}
	}
	for fd := 0; fd <= 2; fd++ {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", b.pid, fd)); err != nil || l != "/dev/null" {
			t.Errorf("init fd %d -> %q (%v), want /dev/null", fd, l, err)
		}
	}
	if mountOpts(r.Mountinfo, "/proc") == "" {
		t.Errorf("proc:rw did not mount /proc")
	}
}

// TestCgroupNamespaceRootedAfterJoin: the shim moves the stage into the
// container's cgroup between Spawn and Release; the cgroup namespace the
// init gets is rooted there, and cgroup:ro mounts the hierarchies
// read-only showing that cgroup as their root.
func TestCgroupNamespaceRootedAfterJoin(t *testing.T) {
	testutil.RequireRoot(t)
	if !fileExists("/proc/self/ns/cgroup") {
		t.Skip("no cgroup namespaces on this kernel")
	}
	bins := testutil.Binaries(t)
	name := testutil.Name("tb")
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	testutil.TestinitRootfs(t, rootfs, bins)
	var hier, cgdir string
	for _, h := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(h, "cgroup.procs")); err == nil {
			hier = h
			break
		}
	}
	if hier == "" {
		t.Skip("no cgroup hierarchy found")
	}
	cgdir = filepath.Join(hier, name)
	if err := os.Mkdir(cgdir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the box's cleanup killed the init.
	t.Cleanup(func() {
		if err := os.Remove(cgdir); err != nil {
			t.Errorf("remove %s: %v", cgdir, err)
		}
	})
	cfg := baseConfig(name, rootfs)
	cfg.MountAuto.Proc = "rw"
	cfg.MountAuto.Sys = "ro"
	cfg.MountAuto.Cgroup = "ro"
	b := newBox(t, cfg)
	if err := b.spawn(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cgdir, "cgroup.procs"), []byte(fmt.Sprint(b.pid)), 0); err != nil {
		t.Fatal(err)
	}
	if err := b.st.Release(); err != nil {
		t.Fatal(err)
	}
	r := b.bootReport()
	rel := "/" + name
	host, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", b.pid))
	if err != nil {
		t.Fatal(err)
	}
	ctrl := filepath.Base(hier)
	if hier == "/sys/fs/cgroup" || ctrl == "unified" {
		ctrl = ""
	}
	found := false
	for _, l := range strings.Split(strings.TrimSpace(string(host)), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) == 3 && parts[1] == ctrl && parts[2] == rel {
			found = true
		}
	}
	if !found {
		t.Fatalf("host view of the init's cgroups %q lacks %s in %s", host, rel, hier)
	}
	for _, l := range r.Cgroup {
		if !strings.HasSuffix(l, ":/") {
			t.Errorf("inside, cgroup line %q is not the namespace root", l)
		}
	}
	// Host view of the container's cgroup mounts: their root is our cgroup.
	mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", b.pid))
	if err != nil {
		t.Fatal(err)
	}
	mp := "/sys/fs/cgroup/" + filepath.Base(hier)
	var line string
	for _, l := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[4] == mp {
			line = l
		}
	}
	if f := strings.Fields(line); len(f) < 6 || f[3] != rel || !strings.HasPrefix(f[5], "ro,") {
		t.Errorf("container's %s mount %q: want root %s, read-only", mp, line, rel)
	}
	if o := mountOpts(r.Mountinfo, "/sys/fs/cgroup"); !strings.HasPrefix(o, "ro,") {
		t.Errorf("/sys/fs/cgroup tmpfs mounted %q, want ro", o)
	}
}

// TestKeepNamespaces: lxc.namespace.keep = net uts shares the host's
// network and UTS namespaces (and then leaves the host's hostname alone);
// the others are still new. Also lxc.rootfs.options = ro.
func TestKeepNamespaces(t *testing.T) {
	name, rootfs, _ := testinitContainer(t)
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(name, rootfs)
	cfg.Namespace.Keep = []string{"net", "uts"}
	// A read-only root (lxc.rootfs.options = ro) with a writable bind for
	// the test init's reports.
	cfg.Rootfs.Options, cfg.Rootfs.Flags = []string{"ro"}, unix.MS_RDONLY
	cfg.Mounts = []config.Mount{
		mount(10, filepath.Join(rootfs, "testinit"), "testinit", "none", "bind", unix.MS_BIND, ""),
		mount(11, "proc", "proc", "proc", "defaults", 0, ""),
	}
	b := newBox(t, cfg)
	b.start()
	r := b.bootReport()
	if o := mountOpts(r.Mountinfo, "/"); !strings.HasPrefix(o, "ro,") {
		t.Errorf("/ mounted %q, want ro (lxc.rootfs.options)", o)
	}
	if o := mountOpts(r.Mountinfo, "/testinit"); !strings.HasPrefix(o, "rw,") {
		t.Errorf("/testinit mounted %q, want rw", o)
	}
	if r.Hostname != hostname {
		t.Errorf("hostname inside = %q, want the host's %q", r.Hostname, hostname)
	}
	if h, _ := os.Hostname(); h != hostname {
		t.Errorf("the host's hostname changed to %q", h)
	}
	for ns, shared := range map[string]bool{"net": true, "uts": true, "ipc": false, "mnt": false, "pid": false} {
		// A pool thread's namespaces, not /proc/PID/ns: that shows the main
		// thread's, and a parallel test (netinside_test.go) may leave a
		// locked thread, possibly the main one, wedged in a test netns. Go
		// never hands a wedged thread to another goroutine.
		self, err1 := threadNSInode(ns)
		their, err2 := nsInode(b.pid, ns)
		if err1 != nil || err2 != nil {
			t.Fatalf("ns %s: %v %v", ns, err1, err2)
		}
		if (self == their) != shared {
			t.Errorf("namespace %s shared with the host = %v, want %v", ns, self == their, shared)
		}
	}
}

// TestBootNoAutodev: lxc.autodev = 0 keeps the rootfs's own /dev (here
// one node) and adds only devpts, the ptmx link and the console.
func TestBootNoAutodev(t *testing.T) {
	name, rootfs, _ := testinitContainer(t)
	if err := unix.Mknod(filepath.Join(rootfs, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(name, rootfs)
	cfg.Autodev = false
	cfg.MountAuto.Proc = "rw"
	b := newBox(t, cfg)
	b.start()
	r := b.bootReport()
	checkDev(t, r, map[string]string{
		"/dev/null": "c 1:3", "/dev/console": ptyID(t, b.slave), "/dev/pts": "dir",
		"/dev/pts/ptmx": "c 5:2", "/dev/ptmx": "-> pts/ptmx", mockBootIDPath: "-r--r--r--",
	})
	want := []string{"/", "/proc", bootIDPath, "/dev/pts", "/dev/console"}
	got := mountPoints(r.Mountinfo)
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("mount points inside:\n got %q\nwant %q", got, want)
	}
}

// TestSharedParentDoesNotPropagate: the rootfs lives on a shared mount (as
// on a systemd host, where / is shared); nothing the stage mounts may
// propagate back to the host's side of that peer group.
func TestSharedParentDoesNotPropagate(t *testing.T) {
	testutil.RequireRoot(t)
	bins := testutil.Binaries(t)
	name := testutil.Name("tb")
	parent := filepath.Join(t.TempDir(), "tbshared")
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tbshared", parent, "tmpfs", 0, "size=64m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(parent, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", parent, err)
		}
	})
	if err := unix.Mount("", parent, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(parent, "rootfs")
	testutil.TestinitRootfs(t, rootfs, bins)
	cfg := baseConfig(name, rootfs)
	cfg.Mounts = seedMounts()
	cfg.MountAuto.Cgroup = "mixed"
	b := newBox(t, cfg)
	b.start()
	r := b.bootReport()
	if len(r.Mountinfo) < 5 {
		t.Fatalf("the container has too few mounts to prove anything: %q", r.Mountinfo)
	}
	if m := testutil.MountsUnder(parent); !slices.Equal(m, []string{parent}) {
		t.Errorf("mounts under the shared parent on the host: %q, want only %s", m, parent)
	}
}

// threadNSInode is the namespace of a thread from Go's pool, read through
// /proc/thread-self while the goroutine is locked to it.
func threadNSInode(ns string) (uint64, error) {
	type res struct {
		ino uint64
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var st unix.Stat_t
		err := unix.Stat("/proc/thread-self/ns/"+ns, &st)
		ch <- res{st.Ino, err}
	}()
	r := <-ch
	return r.ino, r.err
}
