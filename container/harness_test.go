package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestMain lets this test binary be the stage: Spawn re-executes
// /proc/self/exe, which here is the test binary.
func TestMain(m *testing.M) {
	testutil.CoverChildren()
	MaybeStage()
	os.Exit(m.Run())
}

// forker starts the stage with syscall.ForkExec; the tests wait for it.
type forker struct{}

func (forker) ForkExec(argv0 string, argv []string, attr *syscall.ProcAttr) (int, error) {
	return syscall.ForkExec(argv0, argv, attr)
}

// box is one container a test started, with what it must clean up.
type box struct {
	t       *testing.T
	name    string
	rootfs  string
	cfg     *config.Config
	st      *Stage
	pid     int
	pidNS   uint64 // inode of the container's pid namespace
	console *os.File
	slave   *os.File
	ttys    []*os.File // masters
	slaves  []*os.File
	out     *syncBuffer
	reaped  bool
	status  unix.WaitStatus
	// apparmor is SpawnOptions.AppArmorLabel.
	apparmor string
	// exeScratch is SpawnOptions.ExeScratch ("": the stage runs from a
	// sealed copy).
	exeScratch string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// baseConfig is a container config as config.Load would give it, with the
// defaults the reader fills.
func baseConfig(name, rootfs string) *config.Config {
	return &config.Config{
		Name:    name,
		File:    "/tb/" + name + "/config",
		UTSName: name,
		Rootfs:  config.Rootfs{Path: rootfs, Pos: config.Pos{File: "/tb/" + name + "/config", Line: 2, Key: "lxc.rootfs.path"}},
		Init:    config.Init{Cmd: []string{"/sbin/init"}},
		Autodev: true,
	}
}

// newBox allocates the console and ttys for cfg and registers the
// cleanup: kill the init, reap it, close the ptys and check that no
// process, mount or pty of the container is left on the host.
func newBox(t *testing.T, cfg *config.Config) *box {
	t.Helper()
	b := &box{t: t, name: cfg.Name, rootfs: cfg.Rootfs.Path, cfg: cfg, out: &syncBuffer{}}
	if cfg.Console.Path != "none" {
		m, s, err := pty.Open()
		if err != nil {
			t.Fatalf("pty: %v", err)
		}
		b.console, b.slave = m, s
		go func() { _, _ = ioCopy(b.out, m) }()
	}
	for i := 0; i < cfg.TTY.Max; i++ {
		m, s, err := pty.Open()
		if err != nil {
			t.Fatalf("pty: %v", err)
		}
		b.ttys = append(b.ttys, m)
		b.slaves = append(b.slaves, s)
	}
	t.Cleanup(b.cleanup)
	return b
}

func ioCopy(dst *syncBuffer, src *os.File) (int64, error) {
	var n int64
	buf := make([]byte, 4096)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			dst.Write(buf[:k])
			n += int64(k)
		}
		if err != nil {
			return n, err
		}
	}
}

// spawn clones the stage; release must follow.
func (b *box) spawn() error {
	opts := SpawnOptions{Fork: forker{}, TTYs: b.slaves, LogFile: os.Stderr, AppArmorLabel: b.apparmor, ExeScratch: b.exeScratch}
	if b.slave != nil {
		opts.Console = b.slave
	}
	st, err := Spawn(b.cfg, opts)
	if err != nil {
		return err
	}
	b.st, b.pid = st, st.Pid()
	if ino, err := nsInode(b.pid, "pid"); err == nil {
		b.pidNS = ino
	}
	return nil
}

// start spawns and releases, failing the test on error.
func (b *box) start() {
	b.t.Helper()
	if err := b.spawn(); err != nil {
		b.t.Fatalf("spawn: %v", err)
	}
	if err := b.st.Release(); err != nil {
		b.t.Fatalf("release: %v", err)
	}
}

func nsInode(pid int, ns string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, ns), &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// reap waits for the stage/init.
func (b *box) reap() unix.WaitStatus {
	if b.reaped || b.pid == 0 {
		return b.status
	}
	for {
		_, err := unix.Wait4(b.pid, &b.status, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			b.t.Errorf("wait4 %d: %v", b.pid, err)
		}
		break
	}
	b.reaped = true
	return b.status
}

func (b *box) cleanup() {
	t := b.t
	if b.pid > 0 && !b.reaped {
		_ = unix.Kill(b.pid, unix.SIGKILL)
		b.reap()
	}
	slaves := b.slaves
	if b.slave != nil {
		slaves = append([]*os.File{b.slave}, slaves...)
	}
	// While this process still holds the ptys their numbers cannot be
	// reused: no other process may hold one.
	if holders := ptyHolders(slaves); len(holders) > 0 {
		t.Errorf("ptys still open after the container died: %v", holders)
	}
	for _, f := range append(append([]*os.File{b.console, b.slave}, b.ttys...), b.slaves...) {
		if f != nil {
			f.Close()
		}
	}
	testutil.CheckNoLeaks(t, b.name, b.rootfs, "")
	// Nothing may be left in the container's pid namespace, and nothing on
	// the host may hold one of its ptys.
	if b.pidNS != 0 {
		testutil.WaitFor(t, 2*time.Second, "the container's pid namespace to be empty", func() error {
			if p := pidsInNS(b.pidNS); len(p) > 0 {
				return fmt.Errorf("processes left: %v", p)
			}
			return nil
		})
	}
}

func pidsInNS(ino uint64) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if i, err := nsInode(pid, "pid"); err == nil && i == ino {
			out = append(out, pid)
		}
	}
	return out
}

// ptyHolders lists processes other than this one with an fd open on one
// of the ptys. A pty is known by its device and inode, not its name: a
// process in another devpts instance (another engineer's container, say)
// may hold a /dev/pts/1 of its own.
func ptyHolders(ptys []*os.File) []string {
	type id struct{ dev, ino uint64 }
	want := map[id]string{}
	for _, f := range ptys {
		var st unix.Stat_t
		if unix.Fstat(int(f.Fd()), &st) == nil {
			want[id{st.Dev, st.Ino}] = f.Name()
		}
	}
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err != nil || pid == os.Getpid() {
			continue
		}
		fds, _ := os.ReadDir("/proc/" + e.Name() + "/fd")
		for _, fd := range fds {
			var st unix.Stat_t
			p := "/proc/" + e.Name() + "/fd/" + fd.Name()
			if unix.Stat(p, &st) != nil {
				continue
			}
			if name, ok := want[id{st.Dev, st.Ino}]; ok {
				out = append(out, fmt.Sprintf("pid %s fd %s -> %s", e.Name(), fd.Name(), name))
			}
		}
	}
	return out
}

// bootReport is what the test init writes to /testinit/boot.json.
type bootReport struct {
	PID       int               `json:"pid"`
	PPID      int               `json:"ppid"`
	Hostname  string            `json:"hostname"`
	UID       int               `json:"uid"`
	GID       int               `json:"gid"`
	Cwd       string            `json:"cwd"`
	Args      []string          `json:"args"`
	Env       []string          `json:"env"`
	Status    map[string]string `json:"status"`
	Mountinfo []string          `json:"mountinfo"`
	Dev       []struct {
		Path  string `json:"path"`
		Mode  string `json:"mode"`
		Major uint32 `json:"rdev_major"`
		Minor uint32 `json:"rdev_minor"`
		Link  string `json:"link"`
	} `json:"dev"`
	Cgroup      []string             `json:"cgroup"`
	Rlimits     map[string][2]uint64 `json:"rlimits"`
	Personality int                  `json:"personality"`
	// SessionKeyring and Keys: see tests/testinit.
	SessionKeyring int               `json:"session_keyring"`
	Keys           map[string]string `json:"keys"`
}

func (b *box) bootReport() *bootReport {
	b.t.Helper()
	p := filepath.Join(b.rootfs, "testinit", "boot.json")
	var r bootReport
	testutil.WaitFor(b.t, 10*time.Second, "boot.json", func() error {
		buf, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return json.Unmarshal(buf, &r)
	})
	return &r
}

// mountPoints are the mount points of a mountinfo listing, in order.
func mountPoints(lines []string) []string {
	var out []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 4 {
			out = append(out, f[4])
		}
	}
	return out
}

// mountOpts returns the per-mount options of mount point mp (last one wins).
func mountOpts(lines []string, mp string) string {
	opts := ""
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 5 && f[4] == mp {
			opts = f[5]
		}
	}
	return opts
}

// hostCgroupRels lists the host's hierarchies under /sys/fs/cgroup and its
// comount links, as the container should see them.
func hostCgroupRels(t *testing.T) (mounts []string, links []string) {
	hs, err := hostCgroupMounts()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		mounts = append(mounts, "/sys/fs/cgroup/"+h.Rel)
	}
	ls, err := hostCgroupLinks()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		links = append(links, "/sys/fs/cgroup/"+l[0])
	}
	return mounts, links
}

// seedCaps are the capabilities the seed config drops (sys_boot is not
// among them: halt and reboot need it).
var seedCaps = map[string]int{
	"audit_control": unix.CAP_AUDIT_CONTROL, "audit_write": unix.CAP_AUDIT_WRITE,
	"mac_admin": unix.CAP_MAC_ADMIN, "mac_override": unix.CAP_MAC_OVERRIDE,
	"mknod": unix.CAP_MKNOD, "setfcap": unix.CAP_SETFCAP, "setpcap": unix.CAP_SETPCAP,
	"sys_admin": unix.CAP_SYS_ADMIN, "sys_module": unix.CAP_SYS_MODULE,
	"sys_pacct": unix.CAP_SYS_PACCT, "sys_rawio": unix.CAP_SYS_RAWIO,
	"sys_resource": unix.CAP_SYS_RESOURCE, "sys_time": unix.CAP_SYS_TIME,
}

func seedDrop() []int {
	var out []int
	for _, c := range seedCaps {
		out = append(out, c)
	}
	return out
}

// mount builds a config.Mount the way the reader parses an entry.
func mount(line int, source, target, fstype, options string, flags uintptr, data string) config.Mount {
	m := config.Mount{Source: source, Target: target, FSType: fstype, Options: options, Flags: flags, Data: data,
		Pos: config.Pos{File: "/tb/config", Line: line, Key: "lxc.mount.entry"}}
	for _, o := range strings.Split(options, ",") {
		switch o {
		case "create=dir":
			m.CreateDir = true
		case "create=file":
			m.CreateFil = true
		case "optional":
			m.Optional = true
		}
	}
	return m
}

// seedMounts are the seed's lxc.mount.entry lines.
func seedMounts() []config.Mount {
	return []config.Mount{
		mount(10, "proc", "proc", "proc", "nosuid,nodev,noexec", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""),
		mount(11, "sysfs", "sys", "sysfs", "nosuid,nodev,noexec,ro", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY, ""),
		mount(12, "devpts", "dev/pts", "devpts", "nosuid,noexec,mode=0620,ptmxmode=000,newinstance", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0620,ptmxmode=000,newinstance"),
		mount(13, "tmpfs", "dev/shm", "tmpfs", "nosuid,nodev,mode=1777", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"),
		mount(14, "tmpfs", "run", "tmpfs", "nosuid,nodev,noexec,mode=0755,size=128m", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=128m"),
		mount(15, "tmpfs", "tmp", "tmpfs", "nosuid,nodev,noexec,mode=1777,size=1g", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=1g"),
	}
}

// testinitContainer is what most launcher tests start from (as root): a
// fresh container name with this package's prefix and a root file system
// whose init is the project's test init.
func testinitContainer(t *testing.T) (name, rootfs string, bins testutil.Bins) {
	t.Helper()
	testutil.RequireRoot(t)
	bins = testutil.Binaries(t)
	name = testutil.Name("tb")
	rootfs = filepath.Join(t.TempDir(), "rootfs")
	testutil.TestinitRootfs(t, rootfs, bins)
	return name, rootfs, bins
}
