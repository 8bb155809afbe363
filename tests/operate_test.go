package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// busyboxOperate is the config of the busybox containers of these tests:
// busybox halts on SIGUSR1 and reboots on SIGTERM.
const busyboxOperate = "lxc.signal.halt = SIGUSR1\nlxc.signal.reboot = SIGTERM\n"

// counterRcS makes the busybox boot start a counter that writes its
// value to /testinit/counter ten times a second.
func (e *lcEnv) counterRcS() {
	e.t.Helper()
	rcS := filepath.Join(e.rootfs, "etc/init.d/rcS")
	f, err := os.OpenFile(rcS, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("(i=0; while :; do i=$((i+1)); echo $i > /testinit/counter.tmp; mv /testinit/counter.tmp /testinit/counter; usleep 100000; done) &\n"); err != nil {
		e.t.Fatal(err)
	}
}

func (e *lcEnv) counter() int {
	b, _ := os.ReadFile(filepath.Join(e.rootfs, "testinit", "counter"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// waitCmd runs `lxc-initd wait` in the background and returns its exit
// code channel, once it watches the run directory (and, with subscribed,
// follows the running shim's events), so that no change it is meant to
// see happens before.
func (e *lcEnv) waitCmd(subscribed bool, args ...string) <-chan int {
	e.t.Helper()
	cmd := exec.Command(e.bins.Initd, e.cli().args(append([]string{"wait", e.name}, args...)...)...)
	done := make(chan int, 1)
	waited := startCmd(e.t, cmd)
	want := []string{"anon_inode:inotify"}
	if subscribed {
		want = append(want, "socket:")
	}
	waitFds(e.t, cmd.Process.Pid, want...)
	go func() {
		err := <-waited
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			code = -1
		}
		done <- code
	}()
	return done
}

// waitFds waits until process pid holds a descriptor of each kind (a
// prefix of its /proc/PID/fd link: "anon_inode:inotify", "socket:").
func waitFds(t testing.TB, pid int, kinds ...string) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("pid %d holds %v", pid, kinds), func() error {
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, k := range kinds {
			found := false
			for _, ent := range ents {
				l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, ent.Name()))
				found = found || strings.HasPrefix(l, k)
			}
			if !found {
				return fmt.Errorf("no %s descriptor", k)
			}
		}
		return nil
	})
	// The subscription's socket is connected just before the shim
	// registers it.
	time.Sleep(100 * time.Millisecond)
}

func waitExit(t *testing.T, ch <-chan int, what string, want int) {
	t.Helper()
	select {
	case code := <-ch:
		if code != want {
			t.Errorf("%s: exit %d, want %d", what, code, want)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("%s: still waiting after 30 s", what)
	}
}

// procState is the state letter of /proc/PID/stat.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return ""
}

// freezerState is what the kernel says of the container's freezer.
func freezerState(name string) string {
	for _, dir := range testutil.CgroupDirs(name) {
		if b, err := os.ReadFile(filepath.Join(dir, "freezer.state")); err == nil {
			return strings.TrimSpace(string(b))
		}
		if v, err := os.ReadFile(filepath.Join(dir, "cgroup.events")); err == nil && strings.Contains(string(v), "frozen 1") {
			return "FROZEN"
		}
	}
	return "THAWED"
}

// freeze stops every process of the container (a counter inside stops
// advancing, the kernel reports the cgroup frozen, status says frozen);
// unfreeze resumes it; a stop of a frozen container thaws it first and
// is graceful; wait returns on frozen and on stopped, and times out with
// exit 1. Bad input: exit 4 for an unknown container, 1 for one that is
// not running or not frozen.
func TestOperateFreeze(t *testing.T) {
	e := newLC(t, rootBusybox, busyboxOperate)
	e.counterRcS()
	e.mustInitd(4, "freeze", "nosuch"+e.name)
	e.mustInitd(1, "freeze", e.name) // not running yet
	e.mustInitd(0, "wait", e.name, "--state", "stopped", "-t", "5")
	running := e.waitCmd(false, "--state", "running", "-t", "30")
	e.mustInitd(0, "start", e.name)
	waitExit(t, running, "wait --state running", 0)
	testutil.WaitFor(t, 15*time.Second, "the counter runs", func() error {
		if n := e.counter(); n < 3 {
			return fmt.Errorf("counter %d", n)
		}
		return nil
	})
	e.mustInitd(1, "unfreeze", e.name) // not frozen
	e.mustInitd(1, "wait", e.name, "--state", "frozen", "-t", "0.5")

	frozen := e.waitCmd(true, "--state", "FROZEN", "-t", "30")
	e.mustInitd(0, "freeze", e.name)
	waitExit(t, frozen, "wait --state FROZEN", 0)
	if s := freezerState(e.name); s != "FROZEN" {
		t.Errorf("kernel says %s after freeze", s)
	}
	if out := e.mustInitd(0, "status", e.name); !strings.HasPrefix(out, e.name+": frozen") {
		t.Errorf("status of a frozen container: %q", out)
	}
	// Every process of the container is stopped by the freezer: the
	// kernel shows a frozen task as D (TASK_FROZEN).
	pids := e.cgroupPids()
	if len(pids) < 3 {
		t.Errorf("processes in the cgroup: %v", pids)
	}
	for _, pid := range pids {
		if st := procState(pid); st != "D" {
			t.Errorf("pid %d is %q while frozen, want D", pid, st)
		}
	}
	before := e.counter()
	time.Sleep(1500 * time.Millisecond)
	if after := e.counter(); after != before {
		t.Errorf("counter went from %d to %d while frozen", before, after)
	}
	e.mustInitd(1, "reboot", e.name) // refused while frozen
	e.mustInitd(0, "unfreeze", e.name)
	testutil.WaitFor(t, 10*time.Second, "the counter resumes", func() error {
		if n := e.counter(); n <= before+2 {
			return fmt.Errorf("counter %d (was %d when frozen)", n, before)
		}
		return nil
	})
	if s := freezerState(e.name); s != "THAWED" {
		t.Errorf("kernel says %s after unfreeze", s)
	}

	// A stop of a frozen container thaws it, then halts it gracefully:
	// busybox's shutdown (rcK) runs.
	e.mustInitd(0, "freeze", e.name)
	st := e.state()
	stopped := e.waitCmd(true, "--state", "stopped")
	out := e.mustInitd(0, "stop", e.name, "-t", "20")
	if !strings.Contains(out, "graceful") {
		t.Errorf("stop of a frozen container: %q", out)
	}
	waitExit(t, stopped, "wait --state stopped", 0)
	e.waitEvent(5*time.Second, "shutdown", 1)
	e.waitGone(st.ShimPid, "shim")
	e.mustInitd(1, "unfreeze", e.name)
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// cgroup NAME KEY VALUE changes a limit of the running container in any
// of the config's key forms, translated to this host's hierarchy; a bad
// key or value is refused and changes nothing; --persist appends the line
// to the config (the rest kept byte for byte) and the next boot, a reboot
// from inside, has it. wait returns on the reboot.
func TestOperateCgroupLive(t *testing.T) {
	e := newLC(t, rootBusybox, busyboxOperate+"lxc.cgroup.memory.limit_in_bytes = 512M\n")
	e.mustInitd(0, "start", e.name)
	e.waitEvent(15*time.Second, "rcS", 1)
	limitFile := func() string {
		for _, dir := range testutil.CgroupDirs(e.name) {
			for _, f := range []string{"memory.limit_in_bytes", "memory.max"} {
				if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
					return strings.TrimSpace(string(b))
				}
			}
		}
		t.Fatal("no memory limit file in the container's cgroup")
		return ""
	}
	if got := limitFile(); got != "536870912" {
		t.Fatalf("limit from the config: %s", got)
	}
	if out := strings.TrimSpace(e.mustInitd(0, "cgroup", e.name, "lxc.cgroup.memory.limit_in_bytes")); out != "536870912" && out != "max" {
		if out != "536870912" {
			t.Errorf("cgroup read: %q", out)
		}
	}
	for _, c := range []struct{ key, value, want string }{
		{"lxc.cgroup2.memory.max", "300M", "314572800"},
		{"memory.limit_in_bytes", "310M", "325058560"},
		{"lxc.cgroup.memory.limit_in_bytes", "320M", "335544320"},
		{"memory.max", "330M", "346030080"},
	} {
		_, errOut, code := e.initd("cgroup", e.name, c.key, c.value)
		if code != 0 {
			t.Errorf("cgroup %s %s: exit %d: %s", c.key, c.value, code, errOut)
			continue
		}
		if got := limitFile(); got != c.want {
			t.Errorf("after cgroup %s %s: the cgroup's limit is %s, want %s", c.key, c.value, got, c.want)
		}
	}
	cfgPath := filepath.Join(e.lxcpath, e.name, "config")
	orig, _ := os.ReadFile(cfgPath)
	for _, bad := range [][]string{
		{"memory.limit_in_bytes", "lots"},
		{"memory.nosuchfile", "1"},
		{"nosuchctrl.limit", "1"},
		{"lxc.cgroup.memory.limit_in_bytes", "-5"},
	} {
		_, errOut, code := e.initd(append([]string{"cgroup", e.name}, append(bad, "--persist")...)...)
		if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, bad[0]) {
			t.Errorf("cgroup %v: exit %d, stderr %q: want 1 and one line naming the key", bad, code, errOut)
		}
		if got := limitFile(); got != "346030080" {
			t.Errorf("cgroup %v changed the limit to %s", bad, got)
		}
		if now, _ := os.ReadFile(cfgPath); string(now) != string(orig) {
			t.Errorf("cgroup %v changed the config:\n%s", bad, now)
		}
	}
	e.mustInitd(4, "cgroup", "nosuch"+e.name, "memory.limit_in_bytes", "1G")

	e.mustInitd(0, "cgroup", e.name, "memory.limit_in_bytes", "200M", "--persist")
	if got := limitFile(); got != "209715200" {
		t.Errorf("live limit after --persist: %s", got)
	}
	now, _ := os.ReadFile(cfgPath)
	if !strings.HasPrefix(string(now), string(orig)) || string(now[len(orig):]) != "lxc.cgroup.memory.limit_in_bytes = 200M\n" {
		t.Errorf("config after --persist:\n%s\nwas:\n%s", now, orig)
	}
	e.mustInitd(0, "check", e.name)

	// Reboot from inside (busybox reboots on SIGTERM): wait sees the
	// passing rebooting state, and the new boot keeps the persisted limit.
	rebooting := e.waitCmd(true, "--state", "rebooting", "-t", "30")
	e.mustInitd(0, "reboot", e.name)
	waitExit(t, rebooting, "wait --state rebooting", 0)
	e.waitState(30*time.Second, "boot 2", func(s *shimctl.Status) bool {
		return s.BootCount == 2 && s.State == shimctl.StateRunning
	})
	if got := limitFile(); got != "209715200" {
		t.Errorf("limit after the reboot: %s, want the persisted 209715200", got)
	}
	e.mustInitd(0, "stop", e.name, "-t", "20")
	e.mustInitd(1, "cgroup", e.name, "memory.limit_in_bytes")
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// info --json gives numbers that agree with the cgroup files it names,
// the container's address, and the traffic of the host end of its veth.
func TestOperateInfo(t *testing.T) {
	testutil.RequireRoot(t)
	br := testBridge(t, "tobr")
	e := newLC(t, rootBusybox, "")
	pair := e.name + "h"
	testutil.WriteConfig(t, e.lxcpath, e.name, fmt.Sprintf("lxc.uts.name = %s\nlxc.rootfs.path = dir:%s\n%s"+
		"lxc.cgroup.memory.limit_in_bytes = 256M\n"+
		"lxc.net.0.type = veth\nlxc.net.0.link = %s\nlxc.net.0.veth.pair = %s\nlxc.net.0.flags = up\nlxc.net.0.ipv4.address = 10.231.9.2/24\n",
		e.name, e.rootfs, busyboxOperate, br, pair))
	e.mustInitd(4, "info", "nosuch"+e.name)
	e.mustInitd(1, "info", e.name)
	e.mustInitd(0, "start", e.name)
	e.waitEvent(15*time.Second, "rcS", 1)
	// Some traffic both ways: the host pings the container... or tries:
	// what counts is that the counters the info gives are the host end's.
	_ = exec.Command("ip", "addr", "add", "10.231.9.1/24", "dev", br).Run()
	_ = exec.Command("ping", "-c", "2", "-W", "1", "10.231.9.2").Run()

	var info shimctl.Info
	if err := json.Unmarshal([]byte(e.mustInitd(0, "info", e.name, "--json")), &info); err != nil {
		t.Fatal(err)
	}
	st := e.state()
	if info.Name != e.name || info.State != shimctl.StateRunning || info.Pid != st.Pid || info.BootCount != 1 || info.ShimPid != st.ShimPid {
		t.Errorf("info %+v, state %+v", info, st)
	}
	fileNum := func(field string) uint64 {
		t.Helper()
		f := info.CgroupFiles[field]
		if !strings.HasPrefix(f, "/sys/fs/cgroup/") || !strings.Contains(f, e.name) {
			t.Fatalf("%s read from %q, not the container's cgroup", field, f)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if strings.HasSuffix(f, "cpu.stat") {
			for _, l := range strings.Split(s, "\n") {
				if v, ok := strings.CutPrefix(l, "usage_usec "); ok {
					n, _ := strconv.ParseUint(v, 10, 64)
					return n * 1000
				}
			}
		}
		if strings.HasSuffix(f, "io_service_bytes") {
			for _, l := range strings.Split(s, "\n") {
				if v, ok := strings.CutPrefix(l, "Total "); ok {
					n, _ := strconv.ParseUint(v, 10, 64)
					return n
				}
			}
		}
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			t.Fatalf("%s: %q", f, s)
		}
		return n
	}
	if info.MemoryLimitBytes == nil || *info.MemoryLimitBytes != 256<<20 || fileNum("memory_limit_bytes") != 256<<20 {
		t.Errorf("memory limit %v, want 256 MiB as in the config", info.MemoryLimitBytes)
	}
	if info.Pids == nil || *info.Pids != fileNum("pids") || *info.Pids < 2 {
		t.Errorf("pids %v: want pids.current (init, sh, ...)", info.Pids)
	}
	// Counters only grow: what info read is at most what the file says now.
	for field, v := range map[string]*uint64{"memory_bytes": info.MemoryBytes, "cpu_ns": info.CPUNanoseconds} {
		if v == nil || *v == 0 {
			t.Errorf("%s missing or zero", field)
			continue
		}
		if now := fileNum(field); field == "cpu_ns" && *v > now || field == "memory_bytes" && (*v > 2*now || now > 2**v) {
			t.Errorf("%s %d, the file says %d", field, *v, now)
		}
	}
	if ips := info.IPs["eth0"]; len(ips) == 0 || ips[0] != "10.231.9.2" {
		t.Errorf("IPs %v, want eth0 10.231.9.2", info.IPs)
	}
	if len(info.Net) != 1 || info.Net[0].Host != pair || info.Net[0].Name != "eth0" {
		t.Fatalf("net %+v, want the host end %s of eth0", info.Net, pair)
	}
	stat := func(f string) uint64 {
		b, _ := os.ReadFile(filepath.Join("/sys/class/net", pair, "statistics", f))
		n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		return n
	}
	if n := info.Net[0]; n.RxBytes == 0 || n.RxBytes > stat("tx_bytes") || n.TxBytes > stat("rx_bytes") {
		t.Errorf("traffic %+v; host end tx %d rx %d", n, stat("tx_bytes"), stat("rx_bytes"))
	}
	out := e.mustInitd(0, "info", e.name)
	for _, want := range []string{"State:", "RUNNING", "PID:", "IP:", "10.231.9.2", "Memory use:", "CPU use:", "Link:", pair, "TX bytes:"} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	// list --fancy / --json: the columns of lxc-ls -f.
	lout := e.mustInitd(0, "list", "--fancy")
	if !strings.Contains(lout, "AUTOSTART") || !strings.Contains(lout, "10.231.9.2") {
		t.Errorf("list --fancy:\n%s", lout)
	}
	var entries []map[string]any
	if err := json.Unmarshal([]byte(e.mustInitd(0, "list", "--json")), &entries); err != nil || len(entries) != 1 {
		t.Fatalf("list --json: %v %v", entries, err)
	}
	if ip, _ := entries[0]["ipv4"].([]any); len(ip) != 1 || ip[0] != "10.231.9.2" || entries[0]["unprivileged"] != false || entries[0]["autostart"] != false {
		t.Errorf("list --json: %v", entries[0])
	}
	st0 := e.state()
	e.mustInitd(0, "stop", e.name, "-t", "20")
	e.waitGone(st0.ShimPid, "shim")
	testutil.CheckNoLeaks(t, e.name, e.rootfs, e.name)
}

// monitor --json prints, as the shims push them, the state changes of two
// containers: start, reboot from inside, freeze, stop.
func TestOperateMonitor(t *testing.T) {
	a := newLC(t, rootBusybox, busyboxOperate)
	// The second container shares a's lxc path and run directory, so one
	// monitor sees both.
	b := &lcEnv{t: t, bins: a.bins, name: testutil.Name("tl"), lxcpath: a.lxcpath, rundir: a.rundir, logdir: a.logdir, rootfs: filepath.Join(t.TempDir(), "rootfs")}
	testutil.BusyboxRootfs(t, b.rootfs)
	testutil.WriteConfig(t, b.lxcpath, b.name, fmt.Sprintf("lxc.uts.name = %s\nlxc.rootfs.path = dir:%s\n%s", b.name, b.rootfs, busyboxOperate))
	t.Cleanup(func() {
		b.initd("stop", "--kill", b.name)
		b.initd("cleanup", b.name)
		testutil.CheckNoLeaks(t, b.name, b.rootfs, "")
	})

	mon := exec.Command(a.bins.Initd, a.cli().args("monitor", "--json")...)
	stdout, err := mon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	waited := startCmd(t, mon)
	waitFds(t, mon.Process.Pid, "anon_inode:inotify")
	lines := make(chan monitorJSON, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l monitorJSON
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Errorf("monitor printed %q: %v", sc.Text(), err)
				continue
			}
			lines <- l
		}
		close(lines)
	}()

	a.mustInitd(0, "start", a.name)
	b.mustInitd(0, "start", b.name)
	a.waitEvent(15*time.Second, "rcS", 1)
	b.waitEvent(15*time.Second, "rcS", 1)
	a.mustInitd(0, "reboot", a.name)
	a.waitState(30*time.Second, "boot 2", func(s *shimctl.Status) bool {
		return s.BootCount == 2 && s.State == shimctl.StateRunning
	})
	b.mustInitd(0, "freeze", b.name)
	sa, sb := a.state(), b.state()
	a.mustInitd(0, "stop", a.name, "-t", "20")
	b.mustInitd(0, "stop", b.name, "-t", "20")
	a.waitGone(sa.ShimPid, "shim a")
	b.waitGone(sb.ShimPid, "shim b")

	got := map[string][]string{}
	deadline := time.After(10 * time.Second)
collect:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break collect
			}
			got[l.Name] = append(got[l.Name], string(l.State))
			if l.Name == b.name && l.State == "stopped" && len(got[a.name]) > 0 && got[a.name][len(got[a.name])-1] == "stopped" {
				break collect
			}
		case <-deadline:
			break collect
		}
	}
	_ = mon.Process.Signal(os.Interrupt)
	<-waited
	// The first state a new shim is seen in is booting, or running when
	// the boot was quicker than the subscription.
	check := func(name string, want []string) {
		seq := got[name]
		if len(seq) > 0 && seq[0] == "booting" {
			seq = seq[1:]
		}
		if strings.Join(seq, " ") != strings.Join(want, " ") {
			t.Errorf("monitor for %s: %v, want [booting] %v", name, got[name], want)
		}
	}
	check(a.name, []string{"running", "rebooting", "booting", "running", "stopping", "stopped"})
	check(b.name, []string{"running", "frozen", "stopping", "stopped"})
}

type monitorJSON struct {
	Name  string `json:"name"`
	State string `json:"state"`
	Boot  int    `json:"boot"`
}

// devicesLikeLXC is the device list of LXC's common.conf: everything
// denied but mknod and the usual character devices.
const devicesLikeLXC = `lxc.cgroup.devices.deny = a
lxc.cgroup.devices.allow = c *:* m
lxc.cgroup.devices.allow = b *:* m
lxc.cgroup.devices.allow = c 1:3 rwm
lxc.cgroup.devices.allow = c 1:5 rwm
lxc.cgroup.devices.allow = c 1:7 rwm
lxc.cgroup.devices.allow = c 1:8 rwm
lxc.cgroup.devices.allow = c 1:9 rwm
lxc.cgroup.devices.allow = c 5:0 rwm
lxc.cgroup.devices.allow = c 5:1 rwm
lxc.cgroup.devices.allow = c 5:2 rwm
lxc.cgroup.devices.allow = c 136:* rwm
`

// attachOut runs a command in the container and returns its output and
// exit code.
func (e *lcEnv) attachOut(cmd ...string) (string, int) {
	e.t.Helper()
	out, errOut, code := e.initd(append([]string{"attach", e.name, "--"}, cmd...)...)
	return out + errOut, code
}

// device add hands a loop device of the host to a running container: the
// cgroup lets it read it, the node is made below /dev inside (with the
// directory it needs); device del removes the node and takes the access
// back (a node made by hand inside cannot be read any more). A symlink
// the container plants in its /dev never leads the node outside. A host
// network interface is moved in under a new name and back out, and a
// reboot returns it to the host. Bad input: exit 4 unknown, 1 not
// running, not a device, not handed in.
func TestOperateDevice(t *testing.T) {
	e := newLC(t, rootBusybox, busyboxOperate+devicesLikeLXC)
	img := filepath.Join(t.TempDir(), "disk.img")
	content := make([]byte, 1<<20)
	copy(content, "lxc-shim-device-test")
	if err := os.WriteFile(img, content, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	loop := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command("losetup", "-d", loop).Run() })
	var st syscall.Stat_t
	if err := syscall.Stat(loop, &st); err != nil {
		t.Fatal(err)
	}
	minor := st.Rdev&0xff | (st.Rdev>>12)&^0xff

	e.mustInitd(4, "device", "nosuch"+e.name, "add", loop)
	e.mustInitd(1, "device", e.name, "add", loop) // not running
	e.mustInitd(0, "start", e.name)
	e.waitEvent(15*time.Second, "rcS", 1)
	e.mustInitd(1, "device", e.name, "add", "/etc/passwd")
	e.mustInitd(1, "device", e.name, "add", "/nonexistent")
	e.mustInitd(1, "device", e.name, "add", loop, "/etc/disk")
	e.mustInitd(1, "device", e.name, "del", loop)

	// A node of the loop device made by hand inside cannot be read: the
	// config denies block devices but mknod.
	byHand := func(when string) {
		t.Helper()
		mk := fmt.Sprintf("rm -f /dev/byhand; mknod /dev/byhand b 7 %d || exit 9; head -c 20 /dev/byhand", minor)
		if out, code := e.attachOut("sh", "-c", mk); code == 0 || code == 9 || !strings.Contains(out, "Operation not permitted") {
			t.Errorf("%s: a node made by hand inside: exit %d %q, want the read refused", when, code, out)
		}
	}
	byHand("before device add")
	e.mustInitd(0, "device", e.name, "add", loop, "/dev/handed/disk")
	if out, code := e.attachOut("head", "-c", "20", "/dev/handed/disk"); code != 0 || out != "lxc-shim-device-test" {
		t.Errorf("read inside after device add: exit %d %q", code, out)
	}
	e.mustInitd(1, "device", e.name, "add", loop, "/dev/handed/disk") // already there
	e.mustInitd(0, "device", e.name, "del", loop)
	if _, err := os.Stat(filepath.Join(e.rootfs, "dev/handed")); err == nil {
		t.Error("rootfs /dev/handed exists: the node went to the rootfs, not the container's /dev")
	}
	if out, code := e.attachOut("ls", "/dev/handed"); code == 0 {
		t.Errorf("/dev/handed still inside after del: %q", out)
	}
	byHand("after device del")

	// A symlink inside /dev towards the root: the node is refused.
	if out, code := e.attachOut("ln", "-s", "/", "/dev/evil"); code != 0 {
		t.Fatalf("ln inside: %d %s", code, out)
	}
	e.mustInitd(1, "device", e.name, "add", loop, "/dev/evil/lxcshim-escaped")
	if out, code := e.attachOut("ls", "/lxcshim-escaped"); code == 0 {
		t.Errorf("device add followed the container's symlink: %q", out)
	}

	// A network interface (one end of a veth pair the test makes), moved
	// in under another name and back out.
	dummy := testutil.Name("tdd")
	link := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: dummy}, PeerName: dummy + "p"}
	if err := netlink.LinkAdd(link); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range []string{dummy, dummy + "p"} {
			if l, err := netlink.LinkByName(n); err == nil {
				_ = netlink.LinkDel(l)
			}
		}
	})
	e.mustInitd(1, "device", e.name, "add", "nosuchif0")
	e.mustInitd(0, "device", e.name, "add", dummy, "eth3")
	if _, err := netlink.LinkByName(dummy); err == nil {
		t.Errorf("%s still on the host after device add", dummy)
	}
	if out, code := e.attachOut("ip", "link", "show", "eth3"); code != 0 {
		t.Errorf("eth3 inside: exit %d %q", code, out)
	}
	e.mustInitd(0, "device", e.name, "del", "eth3")
	if _, err := netlink.LinkByName(dummy); err != nil {
		t.Errorf("%s not back on the host after del: %v", dummy, err)
	}
	// Handed in again, then the container reboots: nothing handed in
	// survives it (the interface comes back to the host, the node and
	// its rule go with the old /dev and cgroup).
	e.mustInitd(0, "device", e.name, "add", dummy)
	e.mustInitd(0, "device", e.name, "add", loop)
	e.mustInitd(0, "reboot", e.name)
	e.waitState(30*time.Second, "boot 2", func(s *shimctl.Status) bool {
		return s.BootCount == 2 && s.State == shimctl.StateRunning
	})
	e.waitEvent(15*time.Second, "rcS", 2)
	if _, err := netlink.LinkByName(dummy); err != nil {
		t.Errorf("%s not back on the host after the reboot: %v", dummy, err)
	}
	if out, code := e.attachOut("ls", loop); code == 0 {
		t.Errorf("%s inside after the reboot: %q", loop, out)
	}
	st0 := e.state()
	e.mustInitd(0, "stop", e.name, "-t", "20")
	e.waitGone(st0.ShimPid, "shim")
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}

// A container frozen when its shim dies is thawed by the stop from its
// state directory, so its init can still halt gracefully.
func TestOperateFrozenOrphanStop(t *testing.T) {
	e := newLC(t, rootTestinit, testinitBase)
	e.testinitConfig("SIGHUP ignore\n")
	e.mustInitd(0, "start", e.name)
	st := e.state()
	e.waitReport()
	e.mustInitd(0, "freeze", e.name)
	if err := syscall.Kill(st.ShimPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitGone(st.ShimPid, "shim")
	if s := freezerState(e.name); s != "FROZEN" {
		t.Fatalf("kernel says %s after the shim died", s)
	}
	e.mustInitd(1, "unfreeze", e.name) // no shim to ask
	start := time.Now()
	out := e.mustInitd(0, "stop", e.name, "-t", "20")
	if !strings.Contains(out, "graceful") || time.Since(start) > 15*time.Second {
		t.Errorf("stop of a frozen orphan said %q after %v", out, time.Since(start))
	}
	if alive(st.Pid) {
		t.Errorf("init %d alive after stop", st.Pid)
	}
	e.mustInitd(0, "cleanup", e.name)
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}
