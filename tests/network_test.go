package tests

// End-to-end tests of container networking (issue 5), through the real
// lxc-initd and lxc-shim. Every bridge, veth and container a test makes is
// named after the test's own prefix "twXXXX"; the containers of one test
// share one lxc path and run directory (so a second container can see the
// first); each test ends by removing its own host devices and checking
// that no container left a process, mount, cgroup, network namespace or
// link with the test's prefix behind.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// twPrefix starts every name these tests give a host device or container.
const twPrefix = "tw"

// twBusyboxBase is the config of the busybox containers: busybox init halts
// on SIGUSR1 and reboots on SIGTERM.
const twBusyboxBase = "lxc.cap.drop = sys_resource\nlxc.signal.halt = SIGUSR1\nlxc.signal.reboot = SIGTERM\n"

// twHost is one network test: its directories, containers and the host
// devices it made itself.
type twHost struct {
	t       *testing.T
	bins    testutil.Bins
	dir     string
	lxcpath string
	rundir  string
	logdir  string
	// prefix ("tw" and four hex digits) starts every name this test
	// gives: runs of the package in parallel (other sessions run it too)
	// cannot take each other's devices for leaks.
	prefix   string
	cts      []*twCT
	links    []string // host devices the test made, removed by finish
	finished bool
}

// twCT is one container of a twHost.
type twCT struct {
	h      *twHost
	name   string
	rootfs string
	pair   string // the host veth name its config sets, if any
	root   string // rootBusybox or rootTestinit
	// netns are the network namespaces its boots had ("net:[INODE]"),
	// which nothing may hold once it is stopped.
	netns map[string]bool
}

func newTW(t *testing.T) *twHost {
	t.Helper()
	testutil.RequireRoot(t)
	dir := t.TempDir()
	h := &twHost{
		t:       t,
		bins:    testutil.Binaries(t),
		dir:     dir,
		lxcpath: filepath.Join(dir, "lxc"),
		rundir:  filepath.Join(dir, "run"),
		logdir:  filepath.Join(dir, "log"),
		prefix:  testutil.Name(twPrefix)[:len(twPrefix)+4],
	}
	// Whatever happened: stop and clean up every container, remove the
	// test's devices, then say what was left.
	t.Cleanup(func() {
		if h.finished {
			return
		}
		if t.Failed() {
			for _, c := range h.cts {
				if b, err := os.ReadFile(filepath.Join(h.logdir, c.name+".log")); err == nil {
					t.Logf("shim log of %s:\n%s", c.name, b)
				}
			}
		}
		for _, c := range h.cts {
			h.initd("stop", "--kill", c.name)
			h.initd("cleanup", c.name)
		}
		h.finish()
	})
	return h
}

// finish removes the host devices the test made, checks they are gone,
// and checks that no container left anything on the host. It is how every
// test ends; the stop and cleanup of the containers is the test's own job.
func (h *twHost) finish() {
	h.t.Helper()
	h.finished = true
	for i := len(h.links) - 1; i >= 0; i-- {
		if l, err := netlink.LinkByName(h.links[i]); err == nil {
			if err := netlink.LinkDel(l); err != nil {
				h.t.Errorf("remove test device %s: %v", h.links[i], err)
			}
		}
	}
	for _, name := range h.links {
		if _, err := netlink.LinkByName(name); err == nil {
			h.t.Errorf("test device %s is still on the host", name)
		}
	}
	for _, c := range h.cts {
		testutil.CheckNoLeaks(h.t, c.name, c.rootfs, h.prefix)
		for ns := range c.netns {
			testutil.WaitFor(h.t, 5*time.Second, c.name+"'s network namespace "+ns+" released", func() error {
				if who := netnsHolders(ns); len(who) > 0 {
					return fmt.Errorf("held by %s", strings.Join(who, ", "))
				}
				return nil
			})
		}
	}
}

// netnsHolders lists what keeps network namespace ns ("net:[INODE]") alive
// on the host: a process in it, an open descriptor of it, a bind mount.
func netnsHolders(ns string) []string {
	var out []string
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if p.Name()[0] < '0' || p.Name()[0] > '9' {
			continue
		}
		dir := filepath.Join("/proc", p.Name())
		if l, _ := os.Readlink(filepath.Join(dir, "ns", "net")); l == ns {
			out = append(out, "process "+p.Name())
			continue
		}
		fds, _ := os.ReadDir(filepath.Join(dir, "fd"))
		for _, fd := range fds {
			if l, _ := os.Readlink(filepath.Join(dir, "fd", fd.Name())); l == ns {
				out = append(out, "fd "+fd.Name()+" of process "+p.Name())
			}
		}
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 4 && f[3] == ns {
				out = append(out, "mount "+f[4])
			}
		}
	}
	return out
}

// noteNetns records the network namespace of the container's init.
func (c *twCT) noteNetns(pid int) {
	c.h.t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		c.h.t.Fatalf("%s: network namespace of init %d: %v", c.name, pid, err)
	}
	if c.netns == nil {
		c.netns = map[string]bool{}
	}
	c.netns[l] = true
}

// initd runs lxc-initd with the test's directories.
func (h *twHost) initd(args ...string) (stdout, stderr string, code int) {
	h.t.Helper()
	full := append([]string{"-P", h.lxcpath, "--rundir", h.rundir, "--logdir", h.logdir}, args...)
	cmd := exec.Command(h.bins.Initd, full...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("lxc-initd %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// must runs lxc-initd and fails the test unless it exits want.
func (h *twHost) must(want int, args ...string) string {
	h.t.Helper()
	out, errOut, code := h.initd(args...)
	if code != want {
		h.t.Fatalf("lxc-initd %v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, want, out, errOut)
	}
	return out
}

// bridge makes an up bridge PREFIXbr.
func (h *twHost) bridge() string {
	h.t.Helper()
	br := h.prefix + "br"
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: br}}); err != nil {
		h.t.Fatalf("bridge %s: %v", br, err)
	}
	h.links = append(h.links, br)
	h.up(br)
	return br
}

// veth makes an up veth pair a/b on the host.
func (h *twHost) veth(a, b string) {
	h.t.Helper()
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a}, PeerName: b}); err != nil {
		h.t.Fatalf("veth %s/%s: %v", a, b, err)
	}
	h.links = append(h.links, a, b)
	h.up(a)
	h.up(b)
}

func (h *twHost) up(name string) {
	h.t.Helper()
	l, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkSetUp(l)
	}
	if err != nil {
		h.t.Fatalf("%s up: %v", name, err)
	}
}

// add makes a container on a busybox or test-init root file system whose
// config is what cfg returns for it.
func (h *twHost) add(root string, cfg func(c *twCT) string) *twCT {
	h.t.Helper()
	name := testutil.Name(h.prefix) // 12 bytes: NAMEh0 fits in 15
	c := &twCT{h: h, name: name, rootfs: filepath.Join(h.dir, name), pair: name + "h0", root: root}
	if root == rootBusybox {
		testutil.BusyboxRootfs(h.t, c.rootfs)
	} else {
		testutil.TestinitRootfs(h.t, c.rootfs, h.bins)
	}
	h.cts = append(h.cts, c)
	testutil.WriteConfig(h.t, h.lxcpath, name, cfg(c))
	return c
}

// head is the config's first lines in LXC 3+ keys, with base.
func (c *twCT) head(base string) string {
	return fmt.Sprintf("lxc.uts.name = %s\nlxc.rootfs.path = dir:%s\n%s", c.name, c.rootfs, base)
}

// vethNet is a veth network in LXC 3+ keys, with the container's pair name.
func (c *twCT) vethNet(bridge, hwaddr, ipv4 string) string {
	return fmt.Sprintf("lxc.net.0.type = veth\nlxc.net.0.link = %s\nlxc.net.0.flags = up\n"+
		"lxc.net.0.name = eth0\nlxc.net.0.veth.pair = %s\nlxc.net.0.hwaddr = %s\nlxc.net.0.ipv4.address = %s\n",
		bridge, c.pair, hwaddr, ipv4)
}

func (c *twCT) state() *shimctl.Status {
	c.h.t.Helper()
	st, err := shimctl.ReadState(shimctl.PathsFor(c.h.rundir, c.name).State)
	if err != nil {
		c.h.t.Fatalf("%s: state.json: %v", c.name, err)
	}
	return st
}

func (c *twCT) waitState(timeout time.Duration, what string, cond func(*shimctl.Status) bool) *shimctl.Status {
	c.h.t.Helper()
	var st *shimctl.Status
	testutil.WaitFor(c.h.t, timeout, c.name+": "+what, func() error {
		var err error
		if st, err = shimctl.ReadState(shimctl.PathsFor(c.h.rundir, c.name).State); err != nil {
			return err
		}
		if !cond(st) {
			return fmt.Errorf("state %s boot %d pid %d", st.State, st.BootCount, st.Pid)
		}
		return nil
	})
	return st
}

// start starts the container (extra: start flags) and, for busybox, waits
// until attach can run a command in it.
func (c *twCT) start(extra ...string) *shimctl.Status {
	c.h.t.Helper()
	c.h.must(0, append(append([]string{"start"}, extra...), c.name)...)
	st := c.state()
	c.noteNetns(st.Pid)
	if c.root == rootTestinit {
		// The test init writes boot.json once its signal handlers are
		// in place; a halt signal before that would be ignored.
		testutil.WaitFor(c.h.t, 10*time.Second, c.name+"'s boot.json", func() error {
			_, err := os.Stat(filepath.Join(c.rootfs, "testinit", "boot.json"))
			return err
		})
	}
	return st
}

// stop stops the container gracefully and waits for its shim to end.
func (c *twCT) stop() {
	c.h.t.Helper()
	st := c.state()
	c.h.must(0, "stop", c.name, "-t", "20")
	waitDead(c.h.t, st.ShimPid, c.name+"'s shim")
}

func waitDead(t *testing.T, pid int, what string) {
	t.Helper()
	testutil.WaitFor(t, 15*time.Second, what+" gone", func() error {
		if alive(pid) {
			return fmt.Errorf("pid %d alive", pid)
		}
		return nil
	})
}

// attach runs a command in the (busybox) container.
func (c *twCT) attach(args ...string) (string, int) {
	c.h.t.Helper()
	out, errOut, code := c.h.initd(append([]string{"attach", c.name, "--"}, args...)...)
	return out + errOut, code
}

// ping pings addr from inside the container until it answers (the bridge
// and ARP need a moment after a boot).
func (c *twCT) ping(addr string) {
	c.h.t.Helper()
	testutil.WaitFor(c.h.t, 20*time.Second, c.name+" pings "+addr, func() error {
		out, code := c.attach("ping", "-c", "1", "-W", "2", addr)
		if code != 0 {
			return fmt.Errorf("exit %d: %s", code, out)
		}
		return nil
	})
}

var etherRe = regexp.MustCompile(`link/ether ([0-9a-f:]{17})`)

// insideMAC is the MAC of dev inside the (busybox) container, by its ip.
func (c *twCT) insideMAC(dev string) string {
	c.h.t.Helper()
	out, code := c.attach("ip", "-o", "link", "show", dev)
	m := etherRe.FindStringSubmatch(out)
	if code != 0 || m == nil {
		c.h.t.Fatalf("%s: ip link show %s: exit %d: %s", c.name, dev, code, out)
	}
	if !strings.Contains(out, "UP") {
		c.h.t.Errorf("%s: %s is not up: %s", c.name, dev, out)
	}
	return m[1]
}

// insideLink looks dev up in the network namespace of the container's init
// (for test-init containers, which have no ip of their own).
func (c *twCT) insideLink(dev string) (netlink.Link, error) {
	c.h.t.Helper()
	ns, err := netns.GetFromPid(c.state().Pid)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, err
	}
	defer nh.Close()
	return nh.LinkByName(dev)
}

// dieUncleanly leaves the unclean death the seed's bug list is about: kill
// -9 of the shim, then of the init, with the dead run's network namespace
// held open (as a straggler would) so that its veth and its cgroup stay
// behind. whileShimless, if not nil, runs between the two kills. The
// namespace is let go by closing the returned file, or at cleanup.
func (c *twCT) dieUncleanly(st *shimctl.Status, whileShimless func()) *os.File {
	t := c.h.t
	t.Helper()
	nsf, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nsf.Close() })
	if err := syscall.Kill(st.ShimPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDead(t, st.ShimPid, "shim")
	if whileShimless != nil {
		whileShimless()
	}
	if err := syscall.Kill(st.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDead(t, st.Pid, "init")
	hostLink(t, c.pair) // the dead run's veth, left behind
	if len(testutil.CgroupDirs(c.name)) == 0 {
		t.Fatal("the dead run left no cgroup")
	}
	return nsf
}

func (c *twCT) shimLog() string {
	b, _ := os.ReadFile(filepath.Join(c.h.logdir, c.name+".log"))
	return string(b)
}

// hostLink is the host device name, or fails the test.
func hostLink(t *testing.T, name string) netlink.Link {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatalf("host device %s: %v", name, err)
	}
	return l
}

// twPair starts two busybox containers on a new bridge, the first with the
// seed's legacy keys, the second with LXC 3+ keys, and returns them with
// the bridge. Their addresses are 10.237.N.2 and .3, their MACs the seed's
// hwaddr.sh MACs of those addresses.
func twPair(h *twHost, subnet int) (a, b *twCT, br string) {
	h.t.Helper()
	br = h.bridge()
	a = h.add(rootBusybox, func(c *twCT) string {
		// The seed's config, unindexed lxc.network.* keys and all.
		return fmt.Sprintf("lxc.utsname = %s\nlxc.rootfs = %s\n%s"+
			"lxc.network.type = veth\nlxc.network.flags = up\nlxc.network.hwaddr = 02:00:0a:ed:%02x:02\n"+
			"lxc.network.link = %s\nlxc.network.name = eth0\nlxc.network.veth.pair = %s\nlxc.network.ipv4 = 10.237.%d.2/24\n",
			c.name, c.rootfs, twBusyboxBase, subnet, br, c.pair, subnet)
	})
	b = h.add(rootBusybox, func(c *twCT) string {
		return c.head(twBusyboxBase) + c.vethNet(br, fmt.Sprintf("02:00:0a:ed:%02x:03", subnet), fmt.Sprintf("10.237.%d.3/24", subnet))
	})
	a.start()
	b.start()
	return a, b, br
}

// Two containers on one bridge reach each other by IPv4 from inside, with
// the MACs their configs give (one in the seed's legacy keys, one in LXC 3+
// keys): ip link inside shows them, the neighbour entry learnt by the ping
// carries the peer's, and the host ends have the configured pair names, on
// the bridge. A stop removes the host ends.
func TestNetworkTwoContainersOnABridge(t *testing.T) {
	h := newTW(t)
	a, b, br := twPair(h, 1)
	macA, macB := "02:00:0a:ed:01:02", "02:00:0a:ed:01:03"
	bl := hostLink(t, br)
	for _, c := range []*twCT{a, b} {
		if l := hostLink(t, c.pair); l.Type() != "veth" || l.Attrs().MasterIndex != bl.Attrs().Index || l.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("host end %s: type %s master %d up %v; want an up veth on %s (%d)", c.pair, l.Type(), l.Attrs().MasterIndex, l.Attrs().Flags&net.FlagUp != 0, br, bl.Attrs().Index)
		}
	}
	if got := a.insideMAC("eth0"); got != macA {
		t.Errorf("%s (legacy keys): eth0 MAC %s, want %s", a.name, got, macA)
	}
	if got := b.insideMAC("eth0"); got != macB {
		t.Errorf("%s: eth0 MAC %s, want %s", b.name, got, macB)
	}
	a.ping("10.237.1.3")
	b.ping("10.237.1.2")
	for _, x := range []struct {
		c        *twCT
		peer, mc string
	}{{a, "10.237.1.3", macB}, {b, "10.237.1.2", macA}} {
		out, code := x.c.attach("ip", "neigh", "show", x.peer)
		if code != 0 || !strings.Contains(out, "lladdr "+x.mc) {
			t.Errorf("%s: neighbour %s: exit %d %q; want lladdr %s", x.c.name, x.peer, code, out, x.mc)
		}
	}
	// Loopback is up inside too.
	if out, code := a.attach("ping", "-c", "1", "-W", "2", "127.0.0.1"); code != 0 {
		t.Errorf("%s: ping 127.0.0.1: exit %d %s", a.name, code, out)
	}
	a.stop()
	b.stop()
	for _, c := range []*twCT{a, b} {
		if _, err := netlink.LinkByName(c.pair); err == nil {
			t.Errorf("host end %s left after the stop", c.pair)
		}
		h.must(0, "cleanup", c.name)
	}
	h.finish()
}

// vlanSupported tries to load 8021q and to make a vlan on lower.
func vlanSupported(t *testing.T, lower string) (bool, error) {
	if out, err := exec.Command("modprobe", "8021q").CombinedOutput(); err != nil {
		t.Logf("modprobe 8021q: %v %s", err, out)
	}
	probe := lower + "v"
	err := netlink.LinkAdd(&netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: probe, ParentIndex: hostLink(t, lower).Attrs().Index}, VlanId: 7})
	if err != nil {
		return false, err
	}
	if l, err := netlink.LinkByName(probe); err == nil {
		netlink.LinkDel(l)
	}
	return true, nil
}

// macvlan in bridge mode: two containers with macvlans on the same lower
// device (one end of a veth pair the test makes) ping each other with
// their configured MACs. vlan: where the kernel has 8021q, two containers
// with vlan 7 on the two ends of the pair ping each other; where it has
// not (this host), start fails with an error naming lxc.net.0.vlan.id and
// leaves nothing behind.
func TestNetworkMacvlanAndVlan(t *testing.T) {
	h := newTW(t)
	base := h.prefix
	lowerA, lowerB := base+"a", base+"b"
	h.veth(lowerA, lowerB)
	mv := func(mac, addr string) func(c *twCT) string {
		return func(c *twCT) string {
			return c.head(twBusyboxBase) + fmt.Sprintf("lxc.net.0.type = macvlan\nlxc.net.0.link = %s\nlxc.net.0.macvlan.mode = bridge\n"+
				"lxc.net.0.flags = up\nlxc.net.0.name = eth0\nlxc.net.0.hwaddr = %s\nlxc.net.0.ipv4.address = %s\n", lowerA, mac, addr)
		}
	}
	a := h.add(rootBusybox, mv("02:00:0a:ed:02:02", "10.237.2.2/24"))
	b := h.add(rootBusybox, mv("02:00:0a:ed:02:03", "10.237.2.3/24"))
	a.start()
	b.start()
	for c, want := range map[*twCT]string{a: "02:00:0a:ed:02:02", b: "02:00:0a:ed:02:03"} {
		if got := c.insideMAC("eth0"); got != want {
			t.Errorf("%s: macvlan eth0 MAC %s, want %s", c.name, got, want)
		}
		// busybox's ip shows no link details: ask the namespace.
		l, err := c.insideLink("eth0")
		if mv, ok := l.(*netlink.Macvlan); err != nil || !ok || mv.Mode != netlink.MACVLAN_MODE_BRIDGE || mv.Attrs().ParentIndex != hostLink(t, lowerA).Attrs().Index {
			t.Errorf("%s: eth0 is not a bridge-mode macvlan on %s: %#v %v", c.name, lowerA, l, err)
		}
	}
	a.ping("10.237.2.3")
	b.ping("10.237.2.2")
	a.stop()
	b.stop()
	h.must(0, "cleanup", a.name)
	h.must(0, "cleanup", b.name)

	vl := func(lower, addr string) func(c *twCT) string {
		return func(c *twCT) string {
			return c.head(twBusyboxBase) + fmt.Sprintf("lxc.net.0.type = vlan\nlxc.net.0.link = %s\nlxc.net.0.vlan.id = 7\n"+
				"lxc.net.0.flags = up\nlxc.net.0.name = eth0\nlxc.net.0.ipv4.address = %s\n", lower, addr)
		}
	}
	va := h.add(rootBusybox, vl(lowerA, "10.237.3.2/24"))
	if ok, err := vlanSupported(t, lowerA); ok {
		vb := h.add(rootBusybox, vl(lowerB, "10.237.3.3/24"))
		va.start()
		vb.start()
		va.ping("10.237.3.3")
		va.stop()
		vb.stop()
		h.must(0, "cleanup", vb.name)
	} else {
		t.Logf("this kernel cannot make a vlan (%v): checking that start says so", err)
		out, errOut, code := h.initd("start", va.name)
		t.Logf("start of the vlan container: exit %d: %s", code, errOut)
		if code != 1 {
			t.Fatalf("start of a vlan container without kernel vlan support: exit %d\n%s%s", code, out, errOut)
		}
		for _, want := range []string{va.name, "lxc.net.0.vlan.id", "vlan", lowerA} {
			if !strings.Contains(errOut, want) {
				t.Errorf("start error %q does not say %q", errOut, want)
			}
		}
		if st := va.state(); st.ShimPid > 0 {
			waitDead(t, st.ShimPid, "the failed shim")
		}
		// Nothing of the container is left; the lower device is untouched.
		testutil.CheckNoLeaks(t, va.name, va.rootfs, va.name)
		if l := hostLink(t, lowerA); l.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("lower device %s went down", lowerA)
		}
	}
	h.must(0, "cleanup", va.name)
	h.finish()
}

// phys: a veth end the test makes moves into the container under its
// configured name and MAC (again after a reboot from inside), and comes
// back to the host under its own name and MAC, up, after a stop, after the init is killed (kill -9, --restart no), and
// after the test init exits 3 (--restart no).
func TestNetworkPhysComesBack(t *testing.T) {
	h := newTW(t)
	base := h.prefix
	dev, peer := base+"p", base+"q"
	h.veth(dev, peer)
	mac := hostLink(t, dev).Attrs().HardwareAddr.String()
	// Inside it carries the configured MAC; back home its own again.
	setMAC := "02:00:0a:ed:04:02"
	physNet := fmt.Sprintf("lxc.net.0.type = phys\nlxc.net.0.link = %s\nlxc.net.0.name = eth5\nlxc.net.0.flags = up\n"+
		"lxc.net.0.hwaddr = %s\nlxc.net.0.ipv4.address = 10.237.4.2/24\n", dev, setMAC)
	back := func(when string) {
		t.Helper()
		var l netlink.Link
		testutil.WaitFor(t, 10*time.Second, dev+" back on the host "+when, func() error {
			var err error
			l, err = netlink.LinkByName(dev)
			return err
		})
		if got := l.Attrs().HardwareAddr.String(); got != mac {
			t.Errorf("%s %s: MAC %s, want its own %s", dev, when, got, mac)
		}
		if l.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("%s %s: not up as it was", dev, when)
		}
		if _, err := netlink.LinkByName("eth5"); err == nil {
			t.Errorf("an eth5 is on the host %s", when)
		}
	}
	inside := func(c *twCT) {
		t.Helper()
		if _, err := netlink.LinkByName(dev); err == nil {
			t.Errorf("%s is still on the host while %s runs", dev, c.name)
		}
	}

	bb := h.add(rootBusybox, func(c *twCT) string { return c.head(twBusyboxBase) + physNet })
	bb.start()
	inside(bb)
	if got := bb.insideMAC("eth5"); got != setMAC {
		t.Errorf("eth5 inside: MAC %s, want the configured %s", got, setMAC)
	}
	if out, _ := bb.attach("ip", "-o", "addr", "show", "eth5"); !strings.Contains(out, "10.237.4.2/24") {
		t.Errorf("eth5 inside has no 10.237.4.2/24: %s", out)
	}
	// A reboot from inside gives it back and takes it in again.
	st1 := bb.state()
	bb.attach("reboot")
	st2 := bb.waitState(30*time.Second, "boot 2", func(s *shimctl.Status) bool {
		return s.BootCount == 2 && s.State == shimctl.StateRunning
	})
	bb.noteNetns(st2.Pid)
	if st2.Pid == st1.Pid {
		t.Errorf("boot 2 has the init of boot 1 (%d)", st1.Pid)
	}
	inside(bb)
	testutil.WaitFor(t, 10*time.Second, "eth5 inside after the reboot", func() error {
		if out, code := bb.attach("ip", "-o", "addr", "show", "eth5"); code != 0 || !strings.Contains(out, "10.237.4.2/24") {
			return fmt.Errorf("exit %d: %s", code, out)
		}
		return nil
	})
	if got := bb.insideMAC("eth5"); got != setMAC {
		t.Errorf("eth5 inside after the reboot: MAC %s, want %s", got, setMAC)
	}
	bb.stop()
	back("after stop")

	// A crash: the init killed, no restart.
	st := bb.start("--restart", "no")
	inside(bb)
	if err := syscall.Kill(st.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDead(t, st.ShimPid, "shim after the init's kill -9")
	back("after kill -9 of the init")
	if fin := bb.state(); fin.State == shimctl.StateRunning {
		t.Errorf("state after the crash: %+v", fin)
	}
	h.must(0, "cleanup", bb.name)

	// The test init exits 3.
	ti := h.add(rootTestinit, func(c *twCT) string { return c.head(testinitBase) + physNet })
	st = ti.start("--restart", "no")
	inside(ti)
	l, err := ti.insideLink("eth5")
	if err != nil {
		t.Fatalf("eth5 in %s: %v", ti.name, err)
	}
	if l.Attrs().HardwareAddr.String() != setMAC || l.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("eth5 in %s: MAC %s up %v", ti.name, l.Attrs().HardwareAddr, l.Attrs().Flags&net.FlagUp != 0)
	}
	if err := os.WriteFile(filepath.Join(ti.rootfs, "testinit", "cmd"), []byte("exit 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitDead(t, st.ShimPid, "shim after exit 3")
	back("after the init's exit 3")
	if fin := ti.state(); fin.LastExit == nil || !strings.Contains(fin.LastExit.Meaning, "exit 3") {
		t.Errorf("state after exit 3: %+v last %+v", fin, fin.LastExit)
	}
	h.must(0, "cleanup", ti.name)
	h.finish()
}

// Issue 11: a veth named like the configured veth.pair whose peer is eth0
// of a named network namespace (ip netns add) that no process uses was
// taken for a leftover and deleted, with that namespace's eth0, although
// lxc-shim never made it. Now start refuses (exit 1, naming the device and
// how to remove it by hand), so does cleanup, and both devices stay; once
// the test removed it by hand, the container starts. (A leftover that a
// dead run recorded is still removed: TestNetworkStartAfterDeadRun.)
func TestNetworkForeignVethRefused(t *testing.T) {
	h := newTW(t)
	br := h.bridge()
	c := h.add(rootTestinit, func(c *twCT) string {
		return c.head(testinitBase) + c.vethNet(br, "02:00:0a:ed:05:02", "10.237.5.2/24")
	})
	ns := h.prefix + "ns"
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v %s", ns, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", ns).Run() })
	if out, err := exec.Command("ip", "link", "add", c.pair, "type", "veth", "peer", "name", "eth0", "netns", ns).CombinedOutput(); err != nil {
		t.Fatalf("veth %s into %s: %v %s", c.pair, ns, err, out)
	}
	h.links = append(h.links, c.pair)
	old := hostLink(t, c.pair).Attrs().Index
	stillThere := func(when string) {
		t.Helper()
		if l, err := netlink.LinkByName(c.pair); err != nil || l.Attrs().Index != old {
			t.Errorf("%s: the foreign veth %s was removed (%v)", when, c.pair, err)
		}
		if out, err := exec.Command("ip", "-n", ns, "link", "show", "eth0").CombinedOutput(); err != nil {
			t.Errorf("%s: eth0 of netns %s is gone: %v %s", when, ns, err, out)
		}
	}
	out, errOut, code := h.initd("start", c.name)
	if code != 1 {
		t.Fatalf("start with a foreign veth named like veth.pair: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{c.pair, "lxc.net.0.veth.pair", "not created by lxc-shim for " + c.name, "ip link delete " + c.pair} {
		if !strings.Contains(errOut, want) {
			t.Errorf("start error %q lacks %q", errOut, want)
		}
	}
	stillThere("after start")
	if st, err := shimctl.ReadState(shimctl.PathsFor(h.rundir, c.name).State); err == nil && st.ShimPid > 0 {
		waitDead(t, st.ShimPid, c.name+"'s shim")
	}
	out, errOut, code = h.initd("cleanup", c.name)
	if code == 0 || !strings.Contains(errOut, "ip link delete "+c.pair) {
		t.Errorf("cleanup with a foreign veth named like veth.pair: exit %d\n%s%s", code, out, errOut)
	}
	stillThere("after cleanup")
	// Removed by hand, as the message says: the container starts.
	if out, err := exec.Command("ip", "link", "delete", c.pair).CombinedOutput(); err != nil {
		t.Fatalf("ip link delete %s: %v %s", c.pair, err, out)
	}
	c.start()
	c.stop()
	h.must(0, "cleanup", c.name)
	h.finish()
}

// cgroupHierarchies are the mount points of the host's cgroup hierarchies:
// every v1 one (controllers and name=systemd), and the cgroup2 one a hybrid
// host has beside them.
func cgroupHierarchies(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		_, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(post)
		if !ok || len(f) < 1 || (f[0] != "cgroup" && f[0] != "cgroup2") {
			continue
		}
		out = append(out, strings.Fields(line)[4])
	}
	if len(out) == 0 {
		t.Fatal("no cgroup hierarchy on this host")
	}
	return out
}

// Issue 11: a process that someone else put in cgroup lxc-shim/NAME (on
// every hierarchy: each v1 controller, name=systemd, the hybrid cgroup2)
// was killed by start, and the directories removed, on the strength of
// the path alone. Now start refuses (exit 1) naming the directories and
// how to remove them by hand, so does cleanup, and the process lives on.
// (A dead run's own cgroup is still removed: TestNetworkStartAfterDeadRun.)
func TestNetworkForeignCgroupRefused(t *testing.T) {
	h := newTW(t)
	c := h.add(rootTestinit, func(c *twCT) string { return c.head(testinitBase) })
	sleep, waited := foreignCgroup(t, "lxc-shim/"+c.name)
	dirs := testutil.CgroupDirs(c.name)
	if len(dirs) == 0 {
		t.Fatal("no foreign cgroup made")
	}
	out, errOut, code := h.initd("start", c.name)
	if code != 1 {
		t.Fatalf("start over a foreign cgroup: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range append([]string{"not created by lxc-shim for " + c.name, "cgroup.procs", "rmdir"}, dirs...) {
		if !strings.Contains(errOut, want) {
			t.Errorf("start error %q lacks %q", errOut, want)
		}
	}
	survives(t, waited, fmt.Sprintf("the foreign sleep %d, by start", sleep.Process.Pid))
	if st, err := shimctl.ReadState(shimctl.PathsFor(h.rundir, c.name).State); err == nil && st.ShimPid > 0 {
		waitDead(t, st.ShimPid, c.name+"'s shim")
	}
	if out, errOut, code := h.initd("cleanup", c.name); code == 0 || !strings.Contains(errOut, "not created by lxc-shim") {
		t.Errorf("cleanup of a foreign cgroup: exit %d\n%s%s", code, out, errOut)
	}
	survives(t, waited, fmt.Sprintf("the foreign sleep %d, by cleanup", sleep.Process.Pid))
	if got := testutil.CgroupDirs(c.name); len(got) != len(dirs) {
		t.Errorf("foreign cgroup directories %v, after start and cleanup %v", dirs, got)
	}
	// Once the foreign process and its directories are gone, the
	// container starts.
	sleep.Process.Kill()
	<-waited
	for _, d := range dirs {
		testutil.WaitFor(t, 5*time.Second, "rmdir "+d, func() error { return os.Remove(d) })
	}
	c.start()
	c.stop()
	h.must(0, "cleanup", c.name)
	h.finish()
}

// A reboot from inside (busybox's reboot) brings the network back: boot
// count 2, the same host pair name on the bridge (a new device), the same
// MACs inside and on the host end, and the peer reachable again.
func TestNetworkRebootKeepsNamesAndMACs(t *testing.T) {
	h := newTW(t)
	a, b, br := twPair(h, 6)
	macA := "02:00:0a:ed:06:02"
	if got := a.insideMAC("eth0"); got != macA {
		t.Errorf("eth0 MAC %s, want %s", got, macA)
	}
	a.ping("10.237.6.3")
	host1 := hostLink(t, a.pair)
	st1 := a.state()
	// busybox reboot signals its init, which reboots(2); the attach
	// itself may die with the container.
	a.attach("reboot")
	st2 := a.waitState(30*time.Second, "boot 2", func(s *shimctl.Status) bool {
		return s.BootCount == 2 && s.State == shimctl.StateRunning
	})
	a.noteNetns(st2.Pid)
	if st2.Pid == st1.Pid || st2.ShimPid != st1.ShimPid {
		t.Errorf("boot 2: init %d shim %d; boot 1: init %d shim %d", st2.Pid, st2.ShimPid, st1.Pid, st1.ShimPid)
	}
	var host2 netlink.Link
	testutil.WaitFor(t, 10*time.Second, "host end after the reboot", func() error {
		var err error
		host2, err = netlink.LinkByName(a.pair)
		return err
	})
	if host2.Attrs().Index == host1.Attrs().Index {
		t.Errorf("%s is the first boot's device (ifindex %d)", a.pair, host1.Attrs().Index)
	}
	if host2.Attrs().HardwareAddr.String() != host1.Attrs().HardwareAddr.String() {
		t.Errorf("host end MAC %s after the reboot, %s before", host2.Attrs().HardwareAddr, host1.Attrs().HardwareAddr)
	}
	if host2.Attrs().MasterIndex != hostLink(t, br).Attrs().Index {
		t.Errorf("%s is not on %s after the reboot", a.pair, br)
	}
	if got := a.insideMAC("eth0"); got != macA {
		t.Errorf("eth0 MAC after the reboot %s, want %s", got, macA)
	}
	a.ping("10.237.6.3")
	a.stop()
	b.stop()
	h.must(0, "cleanup", a.name)
	h.must(0, "cleanup", b.name)
	h.finish()
}

// A second container configured with the veth.pair of a running one is
// refused (exit 1) with an error naming the running container, and the
// running one keeps its network: same host end, still pinging its peer.
// So too while the first runs without its shim; once it is stopped, the
// second starts with that pair.
func TestNetworkPairInUseRefused(t *testing.T) {
	h := newTW(t)
	a, b, br := twPair(h, 8)
	a.ping("10.237.8.3")
	before := hostLink(t, a.pair).Attrs().Index
	stA := a.state()
	c := h.add(rootBusybox, func(c *twCT) string {
		c.pair = a.pair
		return c.head(twBusyboxBase) + c.vethNet(br, "02:00:0a:ed:08:04", "10.237.8.4/24")
	})
	out, errOut, code := h.initd("start", c.name)
	if code != 1 {
		t.Fatalf("start with a running container's pair: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("refused: %s", errOut)
	for _, want := range []string{c.name, a.name, "veth.pair", a.pair} {
		if !strings.Contains(errOut, want) {
			t.Errorf("start error %q does not say %q", errOut, want)
		}
	}
	// lxc-initd refuses it before spawning a shim (the host check start
	// shares with check); a shim, if one ran, must be gone.
	if st, err := shimctl.ReadState(shimctl.PathsFor(h.rundir, c.name).State); err == nil && st.ShimPid > 0 {
		waitDead(t, st.ShimPid, "the refused container's shim")
	}
	testutil.CheckNoLeaks(t, c.name, c.rootfs, "")
	if l := hostLink(t, a.pair); l.Attrs().Index != before {
		t.Errorf("%s was replaced (ifindex %d, was %d)", a.pair, l.Attrs().Index, before)
	}
	if st := a.state(); st.State != shimctl.StateRunning || st.Pid != stA.Pid || st.BootCount != 1 {
		t.Errorf("the first container after the refusal: %+v", st)
	}
	a.ping("10.237.8.3")
	h.must(0, "cleanup", c.name)

	// Without its shim the first container still owns its pair.
	if err := syscall.Kill(stA.ShimPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDead(t, stA.ShimPid, a.name+"'s shim")
	if out, errOut, code := h.initd("start", c.name); code != 1 || !strings.Contains(errOut, a.name) {
		t.Errorf("start with the pair of a container running without its shim: exit %d\n%s%s", code, out, errOut)
	}
	if l := hostLink(t, a.pair); l.Attrs().Index != before {
		t.Errorf("%s was replaced (ifindex %d, was %d)", a.pair, l.Attrs().Index, before)
	}
	a.ping("10.237.8.3")
	h.must(0, "cleanup", c.name)
	// Once it is stopped, the pair is free for the second one.
	h.must(0, "stop", a.name, "-t", "20")
	c.start()
	if l := hostLink(t, a.pair); l.Attrs().Index == before {
		t.Errorf("%s is still the first container's device", a.pair)
	}
	c.ping("10.237.8.3")
	c.stop()
	b.stop()
	for _, x := range []*twCT{a, b, c} {
		h.must(0, "cleanup", x.name)
	}
	h.finish()
}

// lxc-initd cleanup refuses a running container (with or without its
// shim); after the shim and then the init are killed (the dead run's
// network namespace kept alive, as a straggler would), it removes the host
// veth and the cgroup, says so, and exits 0.
func TestNetworkCleanupAfterKill(t *testing.T) {
	h := newTW(t)
	br := h.bridge()
	c := h.add(rootBusybox, func(c *twCT) string {
		return c.head(twBusyboxBase) + c.vethNet(br, "02:00:0a:ed:09:02", "10.237.9.2/24")
	})
	st := c.start()
	if out, errOut, code := h.initd("cleanup", c.name); code == 0 || !strings.Contains(errOut, "running") {
		t.Errorf("cleanup of a running container: exit %d\n%s%s", code, out, errOut)
	}
	nsf := c.dieUncleanly(st, func() {
		if out, errOut, code := h.initd("cleanup", c.name); code == 0 || !strings.Contains(errOut, "running") {
			t.Errorf("cleanup of a container running without its shim: exit %d\n%s%s", code, out, errOut)
		}
	})
	out := h.must(0, "cleanup", c.name)
	t.Logf("cleanup after kill -9 of shim and init:\n%s", out)
	for _, want := range []string{"veth " + c.pair, "cgroup"} {
		if !strings.Contains(out, want) {
			t.Errorf("cleanup output does not say it removed %q:\n%s", want, out)
		}
	}
	if _, err := netlink.LinkByName(c.pair); err == nil {
		t.Errorf("%s left after cleanup", c.pair)
	}
	if d := testutil.CgroupDirs(c.name); len(d) > 0 {
		t.Errorf("cgroup left after cleanup: %v", d)
	}
	nsf.Close()
	if out := h.must(0, "cleanup", c.name); !strings.Contains(out, "nothing to clean up") {
		t.Errorf("second cleanup: %s", out)
	}
	h.finish()
}

// The records that prove a run's veth and cgroup its own live in the run
// directory. If someone removes it under a running container, the shim
// writes them again, so an unclean death afterwards still leaves a host
// that cleanup can clean: it removes the veth and the cgroup.
func TestNetworkRunDirRemovedThenDeadRun(t *testing.T) {
	h := newTW(t)
	br := h.bridge()
	c := h.add(rootBusybox, func(c *twCT) string {
		return c.head(twBusyboxBase) + c.vethNet(br, "02:00:0a:ed:0b:02", "10.237.11.2/24")
	})
	st := c.start()
	p := shimctl.PathsFor(h.rundir, c.name)
	if err := os.RemoveAll(p.Dir); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "the ownership records to come back", func() error {
		for _, f := range []string{"devices", "cgroup"} {
			b, err := os.ReadFile(filepath.Join(p.Dir, f))
			if err != nil {
				return err
			}
			if f == "devices" && !strings.Contains(string(b), c.pair+" veth ifindex=") {
				return fmt.Errorf("devices: %q", b)
			}
		}
		return nil
	})
	nsf := c.dieUncleanly(st, nil)
	out := h.must(0, "cleanup", c.name)
	for _, want := range []string{"veth " + c.pair, "cgroup"} {
		if !strings.Contains(out, want) {
			t.Errorf("cleanup output does not say it removed %q:\n%s", want, out)
		}
	}
	nsf.Close()
	h.finish()
}

// The seed's bug: a restart after an unclean death fails because the dead
// run's network is still there. After kill -9 of the shim and then the
// init (its network namespace kept alive, so its veth stays), a plain
// start removes the stale veth and cgroup, says so in the shim's log, and
// the container is back with the same pair name and MAC.
func TestNetworkStartAfterDeadRun(t *testing.T) {
	h := newTW(t)
	br := h.bridge()
	c := h.add(rootBusybox, func(c *twCT) string {
		return c.head(twBusyboxBase) + c.vethNet(br, "02:00:0a:ed:0a:02", "10.237.10.2/24")
	})
	st := c.start()
	old := hostLink(t, c.pair).Attrs().Index
	nsf := c.dieUncleanly(st, nil)
	st2 := c.start()
	if l := hostLink(t, c.pair); l.Attrs().Index == old || l.Attrs().MasterIndex != hostLink(t, br).Attrs().Index {
		t.Errorf("%s after the start: ifindex %d (dead run's %d), master %d", c.pair, l.Attrs().Index, old, l.Attrs().MasterIndex)
	}
	if got := c.insideMAC("eth0"); got != "02:00:0a:ed:0a:02" {
		t.Errorf("eth0 MAC %s", got)
	}
	log := c.shimLog()
	for _, want := range []string{"removed stale network device", "veth " + c.pair, "removed stale cgroup"} {
		if !strings.Contains(log, want) {
			t.Errorf("shim log does not say %q:\n%s", want, log)
		}
	}
	if st2.BootCount != 1 || st2.State != shimctl.StateRunning {
		t.Errorf("state %+v", st2)
	}
	nsf.Close()
	c.stop()
	h.must(0, "cleanup", c.name)
	h.finish()
}

// Errors found before anything is created: a bridge that does not exist,
// a pair name longer than the kernel's 15 bytes. start exits 1 naming the
// config file and key, and nothing is left on the host.
func TestNetworkConfigErrors(t *testing.T) {
	h := newTW(t)
	for _, x := range []struct {
		what, net string
		want      []string
	}{
		{"missing bridge", fmt.Sprintf("lxc.net.0.type = veth\nlxc.net.0.link = %snobr\nlxc.net.0.flags = up\n", h.prefix),
			[]string{"lxc.net.0.link", h.prefix + "nobr", "does not exist"}},
		{"long pair", fmt.Sprintf("lxc.net.0.type = veth\nlxc.net.0.veth.pair = %s0123456789\nlxc.net.0.flags = up\n", h.prefix),
			[]string{"lxc.net.0.veth.pair", "15"}},
	} {
		c := h.add(rootTestinit, func(c *twCT) string { return c.head(testinitBase) + x.net })
		out, errOut, code := h.initd("start", c.name)
		if code != 1 {
			t.Errorf("%s: start exit %d\n%s%s", x.what, code, out, errOut)
		}
		for _, w := range append(x.want, c.name, filepath.Join(h.lxcpath, c.name, "config")) {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: error %q does not say %q", x.what, errOut, w)
			}
		}
		if st, err := shimctl.ReadState(shimctl.PathsFor(h.rundir, c.name).State); err == nil && st.ShimPid > 0 {
			waitDead(t, st.ShimPid, c.name+"'s shim")
		}
		testutil.CheckNoLeaks(t, c.name, c.rootfs, h.prefix)
		h.initd("cleanup", c.name)
	}
	h.finish()
}
