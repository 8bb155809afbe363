package netcleanup

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// Every host device these tests create starts with testPrefix ("tn" is this
// helper's prefix; "tnn" this package's), so the leak check can see them all
// and other packages' tests cannot collide with them.
const testPrefix = "tnn"

// setupTest requires root and, once the test and all its cleanups are done,
// fails if any tnn* device is left on the host.
func setupTest(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	t.Cleanup(func() {
		if left := hostLinks(t, testPrefix); len(left) > 0 {
			t.Errorf("left on the host: %v", left)
			for _, n := range left {
				if l, err := netlink.LinkByName(n); err == nil {
					netlink.LinkDel(l)
				}
			}
		}
	})
}

func hostLinks(t *testing.T, prefix string) []string {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatalf("list links: %v", err)
	}
	var out []string
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, prefix) {
			out = append(out, l.Attrs().Name)
		}
	}
	return out
}

// newNetns starts a sleeping process in a new, unnamed network namespace
// (a stand-in for a container's stage) and kills it at cleanup; the
// namespace dies with it. It returns the process's pid.
func newNetns(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("unshare", "-n", "sleep", "3600")
	if err := cmd.Start(); err != nil {
		t.Fatalf("unshare -n: %v", err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	host, err := nsID("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if id, err := nsID("/proc/" + strconv.Itoa(pid) + "/ns/net"); err == nil && id != host {
			return pid
		}
		if i > 500 {
			t.Fatalf("pid %d never entered a new network namespace", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// killNetns kills the process of newNetns early (its cleanup then no-ops).
func killNetns(t *testing.T, pid int) {
	t.Helper()
	syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 500; i++ {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/ns/net"); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nsHandle is a netlink handle in the network namespace of pid.
func nsHandle(t *testing.T, pid int) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		t.Fatalf("netns of %d: %v", pid, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("netlink handle in netns of %d: %v", pid, err)
	}
	t.Cleanup(h.Close)
	return h
}

func newBridge(t *testing.T, name string, mtu int) netlink.Link {
	t.Helper()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := netlink.LinkAdd(br); err != nil {
		t.Fatalf("create bridge %s: %v", name, err)
	}
	t.Cleanup(func() { netlink.LinkDel(br) })
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if mtu > 0 { // set after creation: the bridge keeps an MTU the user set
		if err := netlink.LinkSetMTU(l, mtu); err != nil {
			t.Fatal(err)
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	return l
}

// newVeth makes a veth pair on the host (both ends here), deleted at cleanup.
func newVeth(t *testing.T, name, peer string) netlink.Link {
	t.Helper()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}
	if err := netlink.LinkAdd(v); err != nil {
		t.Fatalf("create veth %s: %v", name, err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(l)
		}
	})
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func linkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	return !errors.As(err, &nf)
}

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readDevices(t *testing.T, stateDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, DevicesFile))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// netnsOfSelf is the test's (host) network namespace, closed at cleanup.
func netnsOfSelf(t *testing.T) netns.NsHandle {
	t.Helper()
	h, err := netns.GetFromPath("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// netnsIno is the inode of the network namespace of pid.
func netnsIno(t *testing.T, pid int) uint64 {
	t.Helper()
	id, err := nsID("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return id.ino
}
