package container

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/netcleanup"
)

// The network tests' host devices all start with "tni" (this package's part
// of the networking helper's "tn" prefix).
const netTestPrefix = "tni"

// TestInsideTwoContainersPing: two stand-in containers on one test bridge,
// set up by netcleanup and configured by configureInside exactly as the
// stage does it, reach each other by IPv4 ping from inside, with the
// configured MACs; gateways "auto" (the bridge's address), an address
// outside the subnet (reached through a device route) and "dev" each end up
// as the default route.
func TestInsideTwoContainersPing(t *testing.T) {
	testutil.RequireRoot(t)
	t.Cleanup(func() { checkNoTestLinks(t) })
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Fatalf("needs /bin/busybox for ping (apt-get install busybox-static): %v", err)
	}
	sfx := linkSuffix()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "tnibr" + sfx}}
	if err := netlink.LinkAdd(br); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netlink.LinkDel(br) })
	brl, _ := netlink.LinkByName("tnibr" + sfx)
	if err := netlink.AddrAdd(brl, &netlink.Addr{IPNet: mustCIDR(t, "10.251.0.1/24")}); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(brl); err != nil {
		t.Fatal(err)
	}
	type ctr struct {
		name, pair, addr, gw, wantGW string
		pid                          int
		nets                         []config.Network
	}
	ctrs := []*ctr{
		{name: "tnica", pair: "tnia" + sfx, addr: "10.251.0.2/24", gw: "auto", wantGW: "10.251.0.1"},
		{name: "tnicb", pair: "tnib" + sfx, addr: "10.251.0.3/24", gw: "10.251.9.1", wantGW: "10.251.9.1"},
	}
	for _, c := range ctrs {
		c.pid = testNetns(t)
		mac := netcleanup.HWAddrFromIPv4(netip.MustParsePrefix(c.addr).Addr())
		nets := []config.Network{
			{Index: 0, Type: "veth", Link: "tnibr" + sfx, VethPair: c.pair, Up: true, HWAddr: mac,
				IPv4: []netip.Prefix{netip.MustParsePrefix(c.addr)}, IPv4Gateway: c.gw},
			{Index: 1, Type: "empty"},
		}
		// What supervise does: resolve before Spawn (the stage gets these),
		// Setup once the stage exists.
		res, err := netcleanup.Resolve(c.name, nets)
		if err != nil {
			t.Fatal(err)
		}
		if res[0].IPv4Gateway != c.wantGW {
			t.Errorf("%s: gateway resolved to %q, want %q", c.name, res[0].IPv4Gateway, c.wantGW)
		}
		c.nets = res
		h, err := netcleanup.Setup(c.name, res, c.pid, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Teardown() })
		if err := inNetns(c.pid, func() error { return configureInside(res) }); err != nil {
			t.Fatalf("%s: configureInside: %v", c.name, err)
		}
		in := testHandle(t, c.pid)
		lo, err := in.LinkByName("lo")
		if err != nil || lo.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("%s: lo not up (%v)", c.name, err)
		}
		routes, err := in.RouteList(nil, netlink.FAMILY_V4)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range routes {
			if (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && r.Gw.String() == c.wantGW {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no default route via %s in %v", c.name, c.wantGW, routes)
		}
	}
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(ctrs[0].pid), "-n", "/bin/busybox", "ping", "-c", "2", "-W", "3", "10.251.0.3").CombinedOutput()
	if err != nil {
		t.Fatalf("ping from tnica to tnicb: %v\n%s", err, out)
	}
	// tnicb learnt tnica's configured MAC.
	neighs, err := testHandle(t, ctrs[1].pid).NeighList(0, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	want := ctrs[0].nets[0].HWAddr
	seen := false
	for _, n := range neighs {
		if n.IP.String() == "10.251.0.2" && n.HardwareAddr.String() == want {
			seen = true
		}
	}
	if !seen || want != "02:00:0a:fb:00:02" {
		t.Errorf("tnicb's neighbours %v lack 10.251.0.2 at %s", neighs, want)
	}
}

// TestInsideGatewayDevAndErrors: "dev" makes a device default route; an
// unresolved "auto" and a gateway on a device that is not up are errors
// naming the key.
func TestInsideGatewayDevAndErrors(t *testing.T) {
	testutil.RequireRoot(t)
	t.Cleanup(func() { checkNoTestLinks(t) })
	sfx := linkSuffix()
	pid := testNetns(t)
	base := config.Network{Index: 0, Type: "veth", VethPair: "tnid" + sfx, Name: "eth0", Up: true,
		IPv4: []netip.Prefix{netip.MustParsePrefix("10.251.1.2/24")}, IPv4Gateway: "dev",
		IPv6: []netip.Prefix{netip.MustParsePrefix("fd42:251::2/64")}, IPv6Gateway: "fd42:251::1"}
	h, err := netcleanup.Setup("tnicd", []config.Network{base}, pid, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Teardown() })
	if err := inNetns(pid, func() error { return configureInside(h.Nets) }); err != nil {
		t.Fatalf("configureInside: %v", err)
	}
	in := testHandle(t, pid)
	eth0, err := in.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	r4, _ := in.RouteList(eth0, netlink.FAMILY_V4)
	r6, _ := in.RouteList(eth0, netlink.FAMILY_V6)
	var dev4, gw6 bool
	for _, r := range r4 {
		dev4 = dev4 || (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && r.Gw == nil && r.Scope == netlink.SCOPE_LINK
	}
	for _, r := range r6 {
		gw6 = gw6 || r.Gw.String() == "fd42:251::1"
	}
	if !dev4 || !gw6 {
		t.Errorf("routes: v4 %v v6 %v", r4, r6)
	}
	addrs, _ := in.AddrList(eth0, netlink.FAMILY_ALL)
	if len(addrs) < 2 {
		t.Errorf("addresses %v", addrs)
	}
	for _, c := range []struct {
		mod  func(*config.Network)
		want string
	}{
		{func(n *config.Network) { n.IPv4Gateway = "auto" }, "lxc.net.0.ipv4.gateway auto"},
		{func(n *config.Network) { n.Up = false }, "lxc.net.0.flags"},
		{func(n *config.Network) { n.Name = "tninone" }, "lxc.net.0.name"},
	} {
		n := base
		n.IPv4, n.IPv6, n.IPv6Gateway = nil, nil, ""
		c.mod(&n)
		err := inNetns(pid, func() error { return configureInside([]config.Network{n}) })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v", c.want, err)
		}
	}
}

// inNetns runs fn on a locked thread in the network namespace of pid, as the
// stage's thread is; the thread is discarded afterwards.
func inNetns(pid int, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread goes back to the pool only once it is back in its
		// own netns. Letting it die with the goroutine instead is not
		// enough: when the goroutine happens to run on the main thread,
		// Go wedges that thread rather than ending it, and /proc/PID/ns
		// then shows the test's netns for the rest of the process.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer func() {
			if netns.Set(orig) == nil {
				runtime.UnlockOSThread()
			}
			orig.Close()
		}()
		ns, err := netns.GetFromPid(pid)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func testNetns(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("unshare", "-n", "sleep", "3600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Compare with a pool thread's netns, which is the host's (see
	// threadNSInode); never hand back a process still in the host's.
	host, err := threadNSInode("net")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+strconv.Itoa(cmd.Process.Pid)+"/ns/net", &st) == nil && st.Ino != host {
			return cmd.Process.Pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("unshare -n never entered a new network namespace")
	return 0
}

func testHandle(t *testing.T, pid int) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func checkNoTestLinks(t *testing.T) {
	links, _ := netlink.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, netTestPrefix) {
			t.Errorf("left on the host: %s", l.Attrs().Name)
			netlink.LinkDel(l)
		}
	}
}

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	n.IP = ip
	return n
}

// linkSuffix makes this run's device names unique: the kernel removes a
// dead netns's veths asynchronously, so fixed names would collide when a
// test runs again right away.
func linkSuffix() string { return testutil.Name("")[:4] }
