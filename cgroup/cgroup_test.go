package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// Every cgroup these tests make is named "tg" + random hex, under the
// default parent lxc-shim/, so parallel helpers never collide with them.

// newTestCgroup makes a Cgroup object for a fresh "tg" name and registers a
// cleanup that kills and removes it and fails the test if anything of it
// is left.
func newTestCgroup(t *testing.T, c config.Cgroup) *Cgroup {
	t.Helper()
	testutil.RequireRoot(t)
	name := testutil.Name("tg")
	g, err := New(name, c)
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	t.Cleanup(func() { cleanupCgroup(t, g) })
	return g
}

// cleanupCgroup kills and removes g, and fails the test when a directory
// or a process of it survives.
func cleanupCgroup(t *testing.T, g *Cgroup) {
	t.Helper()
	if err := g.Kill(); err != nil {
		t.Errorf("cleanup: kill: %v", err)
	}
	if err := g.Remove(); err != nil {
		t.Errorf("cleanup: remove: %v", err)
	}
	for key, dir := range g.Paths() {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("cleanup: %s cgroup %s still exists", key, dir)
		}
	}
}

// proc is a shell started outside the cgroup, moved in by the test, and
// held on "read" until released, so that it forks only once inside.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bytes.Buffer
	waited bool
}

// startProc starts sh -c script with stdin on a pipe. With capture, stdout
// is collected (the script must not leave children holding it).
func startProc(t *testing.T, script string, capture bool, env ...string) *proc {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = append(os.Environ(), env...)
	p := &proc{cmd: cmd}
	if capture {
		p.out = &bytes.Buffer{}
		cmd.Stdout = p.out
		cmd.Stderr = p.out
	}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %q: %v", script, err)
	}
	t.Cleanup(func() {
		if !p.waited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// release lets the script go past its first "read".
func (p *proc) release(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, "go\n"); err != nil {
		t.Fatalf("release pid %d: %v", p.pid(), err)
	}
}

func (p *proc) wait() error {
	p.waited = true
	return p.cmd.Wait()
}

// gone reports whether pid has exited (no such process, or a zombie that
// its parent has not reaped yet).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return true
	}
	return s[i+2] == 'Z' || s[i+2] == 'X'
}

// waitFor polls cond for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func pos(line int, key string) config.Pos {
	return config.Pos{File: "/tmp/tg/config", Line: line, Key: key}
}

func v1(ctrl, file, value string, line int) config.CgroupSetting {
	return config.CgroupSetting{Controller: ctrl, File: file, Value: value, Pos: pos(line, "lxc.cgroup."+file)}
}

func v2(ctrl, file, value string, line int) config.CgroupSetting {
	return config.CgroupSetting{Controller: ctrl, File: file, Value: value, Translated: true, Pos: pos(line, "lxc.cgroup."+file)}
}

// seedDevices are the seed config's device lines (funtoo write-up).
func seedDevices() []config.DeviceRule {
	r := func(allow bool, typ rune, major, minor int64, access string, line int) config.DeviceRule {
		key := "lxc.cgroup.devices.deny"
		if allow {
			key = "lxc.cgroup.devices.allow"
		}
		return config.DeviceRule{Allow: allow, Type: typ, Major: major, Minor: minor, Access: access, Pos: pos(line, key)}
	}
	return []config.DeviceRule{
		r(false, 'a', -1, -1, "rwm", 184),
		r(true, 'c', -1, -1, "m", 187),
		r(true, 'b', -1, -1, "m", 188),
		r(true, 'c', 1, 3, "rwm", 190),
		r(true, 'c', 1, 5, "rwm", 191),
		r(true, 'c', 1, 7, "rwm", 192),
		r(true, 'c', 1, 8, "rwm", 193),
		r(true, 'c', 1, 9, "rwm", 194),
		r(true, 'c', 5, 0, "rwm", 199),
		r(true, 'c', 5, 1, "rwm", 200),
		r(true, 'c', 5, 2, "rwm", 201),
		r(true, 'c', 10, 229, "rwm", 202),
		r(true, 'c', 136, -1, "rwm", 203),
		r(true, 'c', 254, 0, "rwm", 204),
	}
}

func TestTGLayoutAndPaths(t *testing.T) {
	testutil.RequireRoot(t)
	g, err := New("tgpaths", config.Cgroup{})
	if err != nil {
		t.Fatal(err)
	}
	if Layout() != g.layout {
		t.Errorf("Layout() = %q, New's layout = %q", Layout(), g.layout)
	}
	mounts, err := readMounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Paths()) != len(mounts) || len(mounts) == 0 {
		t.Fatalf("Paths %v: want one per mounted hierarchy (%d)", g.Paths(), len(mounts))
	}
	for key, dir := range g.Paths() {
		if !strings.HasSuffix(dir, "/lxc-shim/tgpaths") {
			t.Errorf("Paths[%s] = %s: want .../lxc-shim/tgpaths", key, dir)
		}
	}
	// This project's machine is hybrid: v1 controllers at
	// /sys/fs/cgroup/<ctrl> and cgroup2 at /sys/fs/cgroup/unified.
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.controllers"); err == nil {
		if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
			if g.layout != LayoutHybrid {
				t.Errorf("Layout = %q on a host with v1 memory and cgroup2 at unified: want hybrid", g.layout)
			}
			want := map[string]string{
				"memory":       "/sys/fs/cgroup/memory/lxc-shim/tgpaths",
				"name=systemd": "/sys/fs/cgroup/systemd/lxc-shim/tgpaths",
				"unified":      "/sys/fs/cgroup/unified/lxc-shim/tgpaths",
			}
			for k, v := range want {
				if g.Paths()[k] != v {
					t.Errorf("Paths[%s] = %q, want %q", k, g.Paths()[k], v)
				}
			}
		}
	}
	if g.Exists() {
		t.Errorf("New created %v", g.Paths())
	}
}

func TestTGNewRejects(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b"} {
		if _, err := New(name, config.Cgroup{}); err == nil {
			t.Errorf("New(%q) accepted", name)
		}
	}
	// Outside lxc-shim's own subtree too: a service's cgroup is not the
	// container's to kill.
	for _, dir := range []string{"..", "a/../b", "/", "a//b", "tgcustom/x", "system.slice/tg.service", "lxc-shim"} {
		if _, err := New("tgx", config.Cgroup{Dir: dir}); err == nil {
			t.Errorf("New with lxc.cgroup.dir %q accepted", dir)
		}
	}
	g, err := New("tgx", config.Cgroup{Dir: "lxc-shim/tgcustom/x"})
	if err != nil {
		t.Fatal(err)
	}
	for k, d := range g.Paths() {
		if !strings.HasSuffix(d, "/lxc-shim/tgcustom/x") {
			t.Errorf("lxc.cgroup.dir: Paths[%s] = %s", k, d)
		}
	}
}

func TestTGRelativePaths(t *testing.T) {
	// lxc.cgroup.relative puts the cgroup under this process's own cgroup
	// in each hierarchy. Only the paths are checked: creating it would
	// touch the cgroup of whoever runs the tests.
	own, err := ownCgroups()
	if err != nil {
		t.Fatal(err)
	}
	g, err := New("tgrel", config.Cgroup{Relative: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range g.hiers {
		want := filepath.Join(own[h.key], "lxc-shim", "tgrel")
		if h.rel != want {
			t.Errorf("%s: relative path %s, want %s", h.key, h.rel, want)
		}
	}
}

func TestTGCreateSeedLimits(t *testing.T) {
	c := config.Cgroup{
		V1: []config.CgroupSetting{
			// memsw first on purpose: Create must still write it after
			// the memory limit, or the kernel refuses it.
			v1("memory", "memory.memsw.limit_in_bytes", "1073741824", 210),
			v1("cpu", "cpu.shares", "1024", 207),
			v1("cpuset", "cpuset.cpus", "0", 208),
			v1("memory", "memory.limit_in_bytes", "536870912", 209),
		},
		// What the reader adds as translations; a hybrid or v1 host
		// applies the v1 originals instead.
		V2: []config.CgroupSetting{
			v2("cpu", "cpu.weight", "100", 207),
			v2("cpuset", "cpuset.cpus", "0", 208),
			v2("memory", "memory.max", "536870912", 209),
			v2("memory", "memory.swap.max", "536870912", 210),
		},
	}
	// The root cgroup lacks the weight files, so ask a fresh cgroup
	// whether this host's blkio has blkio.weight.
	probe := newTestCgroup(t, config.Cgroup{})
	if err := probe.Create(); err != nil {
		t.Fatal(err)
	}
	blkio := false
	if probe.hostOf("blkio", false) >= 0 {
		_, err := os.Stat(filepath.Join(dirFor(t, probe, "blkio"), "blkio.weight"))
		blkio = err == nil
	}
	if err := probe.Remove(); err != nil {
		t.Fatal(err)
	}
	if blkio {
		c.V1 = append(c.V1, v1("blkio", "blkio.weight", "500", 211))
		c.V2 = append(c.V2, v2("io", "io.weight", "default 500", 211))
	} else {
		t.Logf("blkio.weight = 500 not tested: this host's v1 blkio has no blkio.weight (no CFQ; BFQ offers blkio.bfq.weight); the other seed limits are")
	}
	g := newTestCgroup(t, c)
	if err := g.Create(); err != nil {
		t.Fatal(err)
	}
	p := g.Paths()
	if g.layout == LayoutV2 {
		// A pure cgroup2 host takes the translations.
		for file, want := range map[string]string{"memory.max": "536870912", "memory.swap.max": "536870912", "cpuset.cpus": "0", "cpu.weight": "100"} {
			if got := readTrim(t, filepath.Join(p[unifiedKey], file)); got != want {
				t.Errorf("%s = %q, want %q", file, got, want)
			}
		}
		return
	}
	checks := []struct{ key, file, want string }{
		{"memory", "memory.limit_in_bytes", "536870912"},
		{"memory", "memory.memsw.limit_in_bytes", "1073741824"},
		{"cpu", "cpu.shares", "1024"},
		{"cpuset", "cpuset.cpus", "0"},
	}
	if blkio {
		checks = append(checks, struct{ key, file, want string }{"blkio", "blkio.weight", "500"})
	}
	for _, c := range checks {
		dir := dirFor(t, g, c.key)
		if got := readTrim(t, filepath.Join(dir, c.file)); got != c.want {
			t.Errorf("%s/%s = %q, want %q", dir, c.file, got, c.want)
		}
	}
	if mems := readTrim(t, filepath.Join(dirFor(t, g, "cpuset"), "cpuset.mems")); mems == "" {
		t.Errorf("cpuset.mems left empty: no task could join")
	}
	// A cgroup the container makes below its own inherits its cpus
	// (cgroup.clone_children), and Remove takes it along.
	sub := filepath.Join(dirFor(t, g, "cpuset"), "tgsub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(sub, "cpuset.cpus")); got != "0" {
		t.Errorf("a child cgroup's cpuset.cpus = %q, want the container's 0", got)
	}
	for key, dir := range p {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("hierarchy %s: %v", key, err)
		}
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if g.Exists() {
		t.Errorf("Remove left %v", p)
	}
}

func mustMounts(t *testing.T) []mount {
	t.Helper()
	m, err := readMounts()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dirFor is the container's directory in the hierarchy with controller key.
func dirFor(t *testing.T, g *Cgroup, ctrl string) string {
	t.Helper()
	for _, h := range g.hiers {
		if hasController(h.mount, ctrl) || h.key == ctrl {
			return h.dir
		}
	}
	t.Skipf("no hierarchy with %s on this host", ctrl)
	return ""
}

func TestTGDevicesV1(t *testing.T) {
	g := newTestCgroup(t, config.Cgroup{Devices: seedDevices()})
	if g.hostOf("devices", false) < 0 {
		t.Skip("no v1 devices hierarchy (the cgroup2 filter is tested by TestTGDevicesV2Filter)")
	}
	if err := g.Create(); err != nil {
		t.Fatal(err)
	}
	got := readTrim(t, filepath.Join(dirFor(t, g, "devices"), "devices.list"))
	want := strings.Join([]string{
		"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
		"c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 10:229 rwm", "c 136:* rwm", "c 254:0 rwm",
	}, "\n")
	if got != want {
		t.Errorf("devices.list:\n%s\nwant:\n%s", got, want)
	}
	checkDeviceAccess(t, g)
}

// checkDeviceAccess runs a shell in g that makes a node for /dev/kmsg's
// number (c 1:11: "m" is allowed by "c *:* m"), fails to open it, and opens
// a node for /dev/null (c 1:3 rwm).
func checkDeviceAccess(t *testing.T, g *Cgroup) {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mknod(filepath.Join(dir, "null"), syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Fatal(err)
	}
	script := `read x
mknod "$D/made" c 1 11 && echo mknod:ok || echo mknod:denied
if (exec 3<"$D/made") 2>/dev/null; then echo open-denied-dev:ok; else echo open-denied-dev:denied; fi
if (exec 3<"$D/null"); then echo open-null:ok; else echo open-null:denied; fi`
	p := startProc(t, script, true, "D="+dir)
	if err := g.Add(p.pid()); err != nil {
		t.Fatal(err)
	}
	p.release(t)
	if err := p.wait(); err != nil {
		t.Fatalf("script: %v\n%s", err, p.out)
	}
	out := p.out.String()
	for _, w := range []string{"mknod:ok", "open-denied-dev:denied", "open-null:ok"} {
		if !strings.Contains(out, w) {
			t.Errorf("device access inside the cgroup: want %q in:\n%s", w, out)
		}
	}
}

func TestTGDevicesV2Filter(t *testing.T) {
	// This host's devices controller is v1, so Create never picks the
	// eBPF filter; the filter is attached by hand to the container's
	// directory in the unified hierarchy, where the kernel enforces it on
	// top of the (unrestricted) v1 devices cgroup.
	g := newTestCgroup(t, config.Cgroup{})
	u := g.v2Index()
	if u < 0 {
		t.Skip("no cgroup2 hierarchy")
	}
	if err := g.Create(); err != nil {
		t.Fatal(err)
	}
	if err := attachDeviceFilter(g.hiers[u].dir, seedDevices()); err != nil {
		t.Fatal(err)
	}
	checkDeviceAccess(t, g)

	// A config of denies alone stays a blacklist, as on v1.
	g2 := newTestCgroup(t, config.Cgroup{})
	if err := g2.Create(); err != nil {
		t.Fatal(err)
	}
	deny := []config.DeviceRule{{Allow: false, Type: 'c', Major: 1, Minor: 3, Access: "rwm"}}
	if err := attachDeviceFilter(g2.hiers[u].dir, deny); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, `read x
if (exec 3</dev/zero); then echo zero:ok; else echo zero:denied; fi
if (exec 3</dev/null) 2>&-; then echo null:ok; else echo null:denied; fi`, true)
	if err := g2.Add(p.pid()); err != nil {
		t.Fatal(err)
	}
	p.release(t)
	if err := p.wait(); err != nil {
		t.Fatalf("script: %v\n%s", err, p.out)
	}
	for _, w := range []string{"zero:ok", "null:denied"} {
		if !strings.Contains(p.out.String(), w) {
			t.Errorf("blacklist filter: want %q in:\n%s", w, p.out)
		}
	}
}

func TestTGAddPids(t *testing.T) {
	g := newTestCgroup(t, config.Cgroup{V1: []config.CgroupSetting{v1("memory", "memory.limit_in_bytes", "536870912", 1)}})
	if err := g.Create(); err != nil {
		t.Fatal(err)
	}
	sleep := exec.Command("sleep", "1000")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })
	if err := g.Add(sleep.Process.Pid); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", sleep.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	own := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		own[parts[1]] = parts[2]
	}
	for _, h := range g.hiers {
		k := h.key
		if h.v2 {
			k = ""
		}
		procs := readTrim(t, filepath.Join(h.dir, "cgroup.procs"))
		if procs != strconv.Itoa(sleep.Process.Pid) {
			t.Errorf("%s/cgroup.procs = %q, want the sleep's pid %d", h.dir, procs, sleep.Process.Pid)
		}
		if !strings.HasSuffix(own[k], h.rel) && own[k] != h.rel {
			t.Errorf("/proc/PID/cgroup for %q: %q, want %q", k, own[k], h.rel)
		}
	}
	if err := g.Add(1 << 30); err == nil || !strings.Contains(err.Error(), "add pid 1073741824 to /sys/fs/cgroup/") {
		t.Errorf("Add of a pid that does not exist: %v, want an error naming the pid and the file", err)
	}
	pids, err := g.pids()
	if err != nil || !slices.Equal(pids, []int{sleep.Process.Pid}) {
		t.Errorf("pids = %v, %v; want [%d]", pids, err, sleep.Process.Pid)
	}
	if i := g.hostOf("memory", false); i >= 0 {
		if lim := readTrim(t, filepath.Join(g.hiers[i].dir, "memory.limit_in_bytes")); lim != "536870912" {
			t.Errorf("memory.limit_in_bytes = %s, want 536870912", lim)
		}
	}
	if i := g.hostOf("pids", false); i >= 0 {
		if n := readTrim(t, filepath.Join(g.hiers[i].dir, "pids.current")); n != "1" {
			t.Errorf("pids.current = %s, want 1", n)
		}
	}
	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := sleep.Process.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if g.Exists() {
		t.Errorf("Remove left %v", g.Paths())
	}
}

// forkers starts, in g, a shell that double-forks an escaper (the subshell
// exits, its sleep is orphaned), runs two sleeps and then keeps forking
// orphans until pids.max stops it; one orphan is moved into a child
// cgroup of g, as a container's own init would. It returns once at least
// min processes are in g.
func forkers(t *testing.T, g *Cgroup, min int, loop bool) *proc {
	t.Helper()
	script := `read x; (sleep 1000 &); sleep 1000 & sleep 1000 & while :; do (sleep 1000 &); done`
	if !loop {
		// Without a pids limit to stop it, no endless fork loop.
		script = `read x; (sleep 1000 &); sleep 1000 & sleep 1000 & wait`
	}
	p := startProc(t, script, false)
	if err := g.Add(p.pid()); err != nil {
		t.Fatal(err)
	}
	p.release(t)
	waitFor(t, fmt.Sprintf("%d processes in the cgroup", min), func() bool {
		pids, err := g.pids()
		return err == nil && len(pids) >= min
	})
	pids, _ := g.pids()
	victim := pids[len(pids)-1]
	for _, h := range g.hiers {
		if !h.v2 && !hasController(h.mount, "pids") {
			continue
		}
		sub := filepath.Join(h.dir, "sub")
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := writeFile(filepath.Join(sub, "cgroup.procs"), strconv.Itoa(victim)); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Fatalf("move %d to %s: %v", victim, sub, err)
		}
	}
	return p
}

func forkerConfig() config.Cgroup {
	return config.Cgroup{
		V1: []config.CgroupSetting{v1("pids", "pids.max", "64", 1)},
		V2: []config.CgroupSetting{{Controller: "pids", File: "pids.max", Value: "64", Translated: true}},
	}
}

func TestTGKill(t *testing.T) {
	for _, tc := range []struct {
		name       string
		noKillFile bool
	}{{"cgroup.kill", false}, {"freeze-kill-thaw", true}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestCgroup(t, forkerConfig())
			g.noKillFile = tc.noKillFile
			if !tc.noKillFile {
				i := g.v2Index()
				if i < 0 {
					t.Skip("no cgroup2 hierarchy")
				}
			}
			if err := g.Create(); err != nil {
				t.Fatal(err)
			}
			p := forkers(t, g, 20, true)
			before, err := g.pids()
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Kill(); err != nil {
				t.Fatal(err)
			}
			after, err := g.pids()
			if err != nil || len(after) != 0 {
				t.Fatalf("after Kill: Pids = %v, %v", after, err)
			}
			_ = p.wait()
			for _, pid := range before {
				waitFor(t, fmt.Sprintf("pid %d to die", pid), func() bool { return gone(pid) })
			}
			// The freezer must be left thawed.
			if i := g.hostOf("freezer", false); i >= 0 {
				if s := readTrim(t, filepath.Join(g.hiers[i].dir, "freezer.state")); s != "THAWED" {
					t.Errorf("freezer.state = %s after Kill", s)
				}
			}
			if err := g.Remove(); err != nil {
				t.Fatal(err)
			}
			if g.Exists() {
				t.Errorf("Remove left %v", g.Paths())
			}
			t.Logf("killed %d processes", len(before))
		})
	}
}

// cpuTicks is utime+stime of pid in clock ticks.
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}

func TestTGFreezeThaw(t *testing.T) {
	for _, tc := range []struct {
		name string
		v2   bool
	}{{"v1-freezer", false}, {"cgroup.freeze", true}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestCgroup(t, config.Cgroup{})
			g.v2Freezer = tc.v2
			h, err := g.freezer()
			if err != nil {
				t.Skip(err)
			}
			if h.v2 != tc.v2 {
				t.Skipf("no %s on this host", tc.name)
			}
			if err := g.Create(); err != nil {
				t.Fatal(err)
			}
			p := startProc(t, "read x; while :; do :; done", false)
			if err := g.Add(p.pid()); err != nil {
				t.Fatal(err)
			}
			p.release(t)
			start := cpuTicks(t, p.pid())
			waitFor(t, "the spinner to use CPU", func() bool { return cpuTicks(t, p.pid()) > start })
			if err := g.Freeze(); err != nil {
				t.Fatal(err)
			}
			if tc.v2 {
				if v, _ := readKey(filepath.Join(h.dir, "cgroup.events"), "frozen"); v != "1" {
					t.Errorf("cgroup.events frozen = %q after Freeze", v)
				}
			} else if s := readTrim(t, filepath.Join(h.dir, "freezer.state")); s != "FROZEN" {
				t.Errorf("freezer.state = %s after Freeze", s)
			}
			frozen := cpuTicks(t, p.pid())
			time.Sleep(300 * time.Millisecond)
			if now := cpuTicks(t, p.pid()); now != frozen {
				t.Errorf("a frozen spinner used CPU: %d -> %d ticks", frozen, now)
			}
			if err := g.Thaw(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the thawed spinner to use CPU", func() bool { return cpuTicks(t, p.pid()) > frozen })
			if err := g.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = p.wait()
		})
	}
}

func TestTGRemoveStale(t *testing.T) {
	testutil.RequireRoot(t)
	name := testutil.Name("tg")
	state := t.TempDir()
	// A dead run: its shim made the cgroup, started processes (one in a
	// child cgroup, orphans among them) and died without cleaning up.
	dead, err := NewRecorded(name, forkerConfig(), state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupCgroup(t, dead) })
	if err := dead.Create(); err != nil {
		t.Fatal(err)
	}
	p := forkers(t, dead, 10, true)
	before, _ := dead.pids()

	// The next run finds it, and the record of the dead one.
	g, err := NewRecorded(name, forkerConfig(), state)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Create(); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("Create over a stale cgroup: %v, want an 'already exists' error", err)
	}
	if !g.Exists() {
		t.Fatal("a failed Create removed the stale cgroup it did not make")
	}
	removed, err := g.RemoveStale()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, d := range g.Paths() {
		want = append(want, d)
	}
	sort.Strings(want)
	sort.Strings(removed)
	if !slices.Equal(removed, want) {
		t.Errorf("RemoveStale returned %v, want %v", removed, want)
	}
	for _, d := range removed {
		if strings.HasSuffix(d, "-1") || strings.HasSuffix(d, "-2") {
			t.Errorf("suffixed path %s", d)
		}
	}
	if g.Exists() {
		t.Errorf("RemoveStale left %v", g.Paths())
	}
	_ = p.wait()
	for _, pid := range before {
		waitFor(t, fmt.Sprintf("stale pid %d to die", pid), func() bool { return gone(pid) })
	}
	// Nothing stale now: nothing to do, and no record left.
	if again, err := g.RemoveStale(); err != nil || len(again) != 0 {
		t.Errorf("second RemoveStale = %v, %v", again, err)
	}
	if _, err := os.Stat(filepath.Join(state, RecordFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ownership record after RemoveStale: %v", err)
	}
	// The same name is usable again, no suffix needed.
	if err := g.Create(); err != nil {
		t.Fatal(err)
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
}

func TestTGSettingHostCannotTake(t *testing.T) {
	testutil.RequireRoot(t)
	layout := Layout()
	cases := []struct {
		name    string
		c       config.Cgroup
		wantErr []string
	}{
		{
			// A cgroup2-only setting (no v1 equivalent) while memory is a
			// v1 controller here (v1 and hybrid hosts).
			name: "v2-only on a v1 memory controller",
			c: config.Cgroup{
				V1: []config.CgroupSetting{v1("memory", "memory.limit_in_bytes", "536870912", 3)},
				V2: []config.CgroupSetting{{Controller: "memory", File: "memory.high", Value: "400000000", NoEquivalent: true, Pos: pos(4, "lxc.cgroup2.memory.high")}},
			},
			wantErr: []string{"/tmp/tg/config:4: lxc.cgroup2.memory.high", "no cgroup v1 equivalent"},
		},
		{
			name:    "no such controller",
			c:       config.Cgroup{V1: []config.CgroupSetting{v1("tgnosuch", "tgnosuch.limit", "1", 5)}},
			wantErr: []string{"/tmp/tg/config:5: lxc.cgroup.tgnosuch.limit", "no hierarchy has the tgnosuch controller"},
		},
		{
			// Fails only when written, after the directories were made.
			name: "value the kernel refuses",
			c: config.Cgroup{V1: []config.CgroupSetting{
				v1("cpu", "cpu.shares", "1024", 6),
				v1("memory", "memory.limit_in_bytes", "tgbogus", 7),
			}},
			wantErr: []string{"/tmp/tg/config:7: lxc.cgroup.memory.limit_in_bytes", "tgbogus"},
		},
		{
			name:    "file the kernel does not have",
			c:       config.Cgroup{V1: []config.CgroupSetting{v1("memory", "memory.tgnosuch", "1", 8)}},
			wantErr: []string{"/tmp/tg/config:8: lxc.cgroup.memory.tgnosuch", "has no"},
		},
		{
			name: "bad device rule",
			c: config.Cgroup{Devices: []config.DeviceRule{
				{Allow: true, Type: 'x', Major: 1, Minor: 3, Access: "rwm", Pos: pos(9, "lxc.cgroup.devices.allow")},
			}},
			wantErr: []string{"/tmp/tg/config:9: lxc.cgroup.devices.allow", "invalid device type"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.name, "v1 memory") || strings.Contains(tc.name, "kernel") {
				if layout == LayoutV2 {
					t.Skip("these cases use the v1 memory controller")
				}
			}
			g := newTestCgroup(t, tc.c)
			err := g.Create()
			if err == nil {
				t.Fatal("Create succeeded")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if g.Exists() {
				t.Errorf("failed Create left %v", g.Paths())
			}
		})
	}
}

func TestTGV2SettingOnUnified(t *testing.T) {
	// On this hybrid host hugetlb is not mounted as v1, so the unified
	// hierarchy offers it: a cgroup2 setting for it goes there, with the
	// controller enabled in the parents' subtree_control (the v2 path).
	testutil.RequireRoot(t)
	var u *mount
	for _, m := range mustMounts(t) {
		if m.v2 && hasController(m, "hugetlb") {
			m := m
			u = &m
		}
	}
	if u == nil {
		t.Skip("the cgroup2 hierarchy offers no hugetlb controller here")
	}
	if _, err := os.Stat("/sys/kernel/mm/hugepages/hugepages-2048kB"); err != nil {
		t.Skip("no 2 MB huge pages")
	}
	rootCtl := filepath.Join(u.point, "cgroup.subtree_control")
	wasEnabled := strings.Contains(readTrim(t, rootCtl), "hugetlb")
	parentCtl := filepath.Join(u.point, DefaultParent, "cgroup.subtree_control")
	t.Cleanup(func() {
		// Leave the host's subtree_control as found (runs after the
		// cgroup's own cleanup).
		if !wasEnabled {
			_ = writeFile(parentCtl, "-hugetlb")
			_ = writeFile(rootCtl, "-hugetlb")
		}
	})
	g := newTestCgroup(t, config.Cgroup{
		V1: []config.CgroupSetting{{Controller: "hugetlb", File: "hugetlb.2MB.limit_in_bytes", Value: "4194304", Translated: true}},
		V2: []config.CgroupSetting{{Controller: "hugetlb", File: "hugetlb.2MB.max", Value: "4194304", Pos: pos(1, "lxc.cgroup2.hugetlb.2MB.max")}},
	})
	if err := g.Create(); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(g.Paths()[unifiedKey], "hugetlb.2MB.max")); got != "4194304" {
		t.Errorf("hugetlb.2MB.max = %s", got)
	}
	if !strings.Contains(readTrim(t, parentCtl), "hugetlb") {
		t.Errorf("%s does not enable hugetlb", parentCtl)
	}
}

func TestTGPureV2View(t *testing.T) {
	// The cgroup2 code paths (eBPF devices chosen by Create, cgroup.freeze,
	// cgroup.kill, placement mirrored for v1 settings) on this host's
	// unified hierarchy alone, as a pure v2 host would see it. Controllers
	// it lacks here (memory, cpu, pids are v1) are not exercised.
	testutil.RequireRoot(t)
	var v2only []mount
	for _, m := range mustMounts(t) {
		if m.v2 {
			v2only = append(v2only, m)
		}
	}
	if len(v2only) == 0 {
		t.Skip("no cgroup2 hierarchy")
	}
	mk := func(c config.Cgroup) *Cgroup {
		name := testutil.Name("tg")
		g, err := newFromMounts(name, c, filepath.Join(DefaultParent, name), v2only)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cleanupCgroup(t, g) })
		return g
	}
	if hasController(v2only[0], "hugetlb") {
		g := mk(config.Cgroup{V1: []config.CgroupSetting{{Controller: "hugetlb", File: "hugetlb.2MB.limit_in_bytes", Value: "0", NoEquivalent: true, Pos: pos(2, "lxc.cgroup.hugetlb.2MB.limit_in_bytes")}}})
		err := g.Create()
		if err == nil || !strings.Contains(err.Error(), "/tmp/tg/config:2: lxc.cgroup.hugetlb.2MB.limit_in_bytes") || !strings.Contains(err.Error(), "no cgroup v2 equivalent") {
			t.Errorf("v1-only setting on a v2 controller: %v", err)
		}
		if g.Exists() {
			t.Errorf("failed Create left %v", g.Paths())
		}
	}
	g := mk(config.Cgroup{Devices: seedDevices()})
	if g.layout != LayoutV2 {
		t.Fatalf("Layout = %s", g.layout)
	}
	if err := g.Create(); err != nil {
		t.Fatal(err)
	}
	checkDeviceAccess(t, g)
	p := forkers(t, g, 4, false)
	if err := g.Freeze(); err != nil {
		t.Fatal(err)
	}
	// The kernel recomputes "frozen" when a task leaves the cgroup: a
	// forker's subshell still exiting (the "( sleep & )" above) can show
	// 0 for a moment after Freeze saw 1. It must settle frozen.
	var v string
	for i := 0; i < 50; i++ {
		if v, _ = readKey(filepath.Join(g.Paths()[unifiedKey], "cgroup.events"), "frozen"); v == "1" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v != "1" {
		t.Errorf("frozen = %q after Freeze", v)
	}
	if err := g.Thaw(); err != nil {
		t.Fatal(err)
	}
	before, _ := g.pids()
	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.wait()
	for _, pid := range before {
		waitFor(t, fmt.Sprintf("pid %d to die", pid), func() bool { return gone(pid) })
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if g.Exists() {
		t.Errorf("Remove left %v", g.Paths())
	}
}

// foreignCgroup makes the directories of g by hand, as someone other than
// lxc-shim would (no ownership mark), and puts a sleep in them; it returns
// the sleep. The test's cleanup kills it and removes the directories.
func foreignCgroup(t *testing.T, g *Cgroup) *exec.Cmd {
	t.Helper()
	sleep := exec.Command("sleep", "1000")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sleep.Process.Kill()
		sleep.Wait()
		for _, h := range g.hiers {
			removeTree(h.dir)
		}
	})
	for i := range g.hiers {
		h := &g.hiers[i]
		if err := os.MkdirAll(filepath.Dir(h.dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(h.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if !h.v2 && hasController(h.mount, "cpuset") {
			if err := initCpuset(h, h.dir); err != nil {
				t.Fatal(err)
			}
		}
		if err := writeFile(filepath.Join(h.dir, "cgroup.procs"), strconv.Itoa(sleep.Process.Pid)); err != nil {
			t.Fatal(err)
		}
	}
	return sleep
}

// TestTGForeignCgroupLeftAlone: lxc-shim/NAME made by someone else, with a
// process of theirs in it, is not the container's: RemoveStale (what start
// and cleanup run), Kill and Remove refuse it with an error that names the
// directories and says how to remove them by hand, and the process lives
// on. So too when the state directory holds the record of a real dead run
// whose directories were since replaced by someone else's.
func TestTGForeignCgroupLeftAlone(t *testing.T) {
	testutil.RequireRoot(t)
	for _, withRecord := range []bool{false, true} {
		name := testutil.Name("tg")
		state := t.TempDir()
		if withRecord {
			dead, err := NewRecorded(name, config.Cgroup{}, state)
			if err != nil {
				t.Fatal(err)
			}
			if err := dead.Create(); err != nil {
				t.Fatal(err)
			}
			if _, err := dead.remove(); err != nil { // gone without its record
				t.Fatal(err)
			}
			if err := dead.writeRecord(record{token: dead.token, dirs: slices.Collect(maps.Values(dead.Paths()))}); err != nil {
				t.Fatal(err)
			}
		}
		g, err := NewRecorded(name, config.Cgroup{}, state)
		if err != nil {
			t.Fatal(err)
		}
		sleep := foreignCgroup(t, g)
		removed, err := g.RemoveStale()
		var notOurs *NotOursError
		if !errors.As(err, &notOurs) {
			t.Fatalf("record=%v: RemoveStale of a foreign cgroup: removed %v, err %v; want a *NotOursError", withRecord, removed, err)
		}
		for _, d := range g.Paths() {
			for _, want := range []string{d, "not created by lxc-shim for " + name, "cgroup.procs", "rmdir"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("record=%v: error %q lacks %q", withRecord, err, want)
				}
			}
		}
		if err := g.Kill(); !errors.As(err, &notOurs) {
			t.Errorf("record=%v: Kill of a foreign cgroup: %v", withRecord, err)
		}
		if err := g.Remove(); !errors.As(err, &notOurs) {
			t.Errorf("record=%v: Remove of a foreign cgroup: %v", withRecord, err)
		}
		if ok, err := g.Owned(); ok || err == nil {
			t.Errorf("record=%v: Owned = %v, %v", withRecord, ok, err)
		}
		time.Sleep(100 * time.Millisecond)
		if gone(sleep.Process.Pid) {
			t.Fatalf("record=%v: the foreign process %d was killed", withRecord, sleep.Process.Pid)
		}
		for _, d := range g.Paths() {
			if _, err := os.Stat(d); err != nil {
				t.Errorf("record=%v: foreign %s removed: %v", withRecord, d, err)
			}
		}
		if !g.Contains(sleep.Process.Pid) || g.Contains(os.Getpid()) {
			t.Errorf("record=%v: Contains(sleep) = %v, Contains(self) = %v", withRecord, g.Contains(sleep.Process.Pid), g.Contains(os.Getpid()))
		}
	}
}

// A dead run's record names its cgroup; when the config now puts the
// cgroup elsewhere (lxc.cgroup.dir changed), RemoveStale must neither drop
// that record, the only proof left, nor touch the old cgroup: it refuses,
// naming where the old one is.
func TestTGRemoveStaleKeepsRecordOfMovedCgroup(t *testing.T) {
	testutil.RequireRoot(t)
	name := testutil.Name("tg")
	state := t.TempDir()
	dead, err := NewRecorded(name, config.Cgroup{Dir: DefaultParent + "/tgold/" + name}, state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cleanupCgroup(t, dead)
		for _, d := range dead.Paths() {
			os.Remove(filepath.Dir(d)) // tgold/, made by this test
		}
	})
	if err := dead.Create(); err != nil {
		t.Fatal(err)
	}
	g, err := NewRecorded(name, config.Cgroup{}, state)
	if err != nil {
		t.Fatal(err)
	}
	if g.Exists() {
		t.Fatal("the new path exists already")
	}
	_, err = g.RemoveStale()
	if err == nil || !strings.Contains(err.Error(), "tgold") {
		t.Fatalf("RemoveStale with the record naming another path: %v, want a refusal naming it", err)
	}
	if r, err := g.readRecord(); err != nil || len(r.dirs) == 0 {
		t.Errorf("the record was dropped (%+v, %v)", r, err)
	}
	if !dead.Exists() {
		t.Error("the old cgroup was removed")
	}
}
