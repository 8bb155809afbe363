package netcleanup

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/lxc-shim/lxc-shim/config"
)

// TestSetupVethOnBridge: two veths into a stand-in container: the inside
// ends carry their final names, MACs (configured with wildcards, and
// derived) and MTUs (configured, and the bridge's), the host ends are up on
// the bridge and recorded; Teardown removes everything and the record, and a
// second Setup gives the same MACs.
func TestSetupVethOnBridge(t *testing.T) {
	setupTest(t)
	br := newBridge(t, "tnnbr0", 1450)
	pid := newNetns(t)
	state := t.TempDir()
	nets := []config.Network{
		{Index: 0, Type: "veth", Link: "tnnbr0", VethPair: "tnnv0", Name: "eth0", HWAddr: "02:11:22:33:xx:xx", MTU: 1300, Up: true},
		{Index: 1, Type: "veth", Link: "tnnbr0", VethPair: "tnnv1"},
	}
	h, err := Setup("tnnc1", nets, pid, state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Teardown() })
	in := nsHandle(t, pid)
	var macs []string
	for i, w := range []struct {
		name string
		mtu  int
	}{{"eth0", 1300}, {"eth1", 1450}} {
		l, err := in.LinkByName(w.name)
		if err != nil {
			t.Fatalf("inside: %s: %v", w.name, err)
		}
		if l.Attrs().MTU != w.mtu {
			t.Errorf("inside %s: mtu %d, want %d", w.name, l.Attrs().MTU, w.mtu)
		}
		if l.Attrs().HardwareAddr.String() != h.Nets[i].HWAddr {
			t.Errorf("inside %s: mac %s, Host.Nets says %s", w.name, l.Attrs().HardwareAddr, h.Nets[i].HWAddr)
		}
		macs = append(macs, l.Attrs().HardwareAddr.String())
	}
	if !strings.HasPrefix(macs[0], "02:11:22:33:") || macs[1] != HWAddr("tnnc1", 1) {
		t.Errorf("inside macs %v", macs)
	}
	for _, name := range []string{"tnnv0", "tnnv1"} {
		l, err := netlink.LinkByName(name)
		if err != nil {
			t.Fatalf("host end %s: %v", name, err)
		}
		if l.Attrs().MasterIndex != br.Attrs().Index {
			t.Errorf("%s: master %d, want bridge %d", name, l.Attrs().MasterIndex, br.Attrs().Index)
		}
		if l.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("%s is not up", name)
		}
		if l.Attrs().HardwareAddr[0] != 0xfe {
			t.Errorf("%s: host end mac %s, want fe:...", name, l.Attrs().HardwareAddr)
		}
	}
	want := ""
	for _, name := range []string{"tnnv0", "tnnv1"} {
		want += fmt.Sprintf("%s veth ifindex=%d netns=%d\n", name, mustLink(t, name).Attrs().Index, netnsIno(t, pid))
	}
	if got := readDevices(t, state); got != want {
		t.Errorf("devices file %q, want %q", got, want)
	}
	if err := h.Teardown(); err != nil {
		t.Fatal(err)
	}
	if linkExists("tnnv0") || linkExists("tnnv1") {
		t.Error("host ends left after Teardown")
	}
	if _, err := in.LinkByName("eth0"); err == nil {
		t.Error("eth0 left inside after Teardown")
	}
	if got := readDevices(t, state); got != "" {
		t.Errorf("devices file after Teardown: %q", got)
	}
	if err := h.Teardown(); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
	// A restart (new namespace) gets the same MACs.
	pid2 := newNetns(t)
	h2, err := Setup("tnnc1", nets, pid2, state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h2.Teardown() })
	in2 := nsHandle(t, pid2)
	for i, name := range []string{"eth0", "eth1"} {
		l, err := in2.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if l.Attrs().HardwareAddr.String() != macs[i] {
			t.Errorf("restart: %s mac %s, first run %s", name, l.Attrs().HardwareAddr, macs[i])
		}
	}
	if err := h2.Teardown(); err != nil {
		t.Fatal(err)
	}
}

// TestSetupUndoesOnFailure: the second network fails (its bridge vanished
// between Check and Setup); the first network's veth is removed and the
// devices file is empty.
func TestSetupUndoesOnFailure(t *testing.T) {
	setupTest(t)
	newBridge(t, "tnnbr1", 0)
	pid := newNetns(t)
	state := t.TempDir()
	nets := []config.Network{
		{Index: 0, Type: "veth", Link: "tnnbr1", VethPair: "tnnu0"},
		{Index: 1, Type: "veth", Link: "tnnnobridge", VethPair: "tnnu1", Pos: config.Pos{File: "/lxc/c/config", Line: 9, Key: "lxc.net.1.type"}},
	}
	_, err := Setup("tnnc2", nets, pid, state)
	if err == nil {
		t.Fatal("Setup succeeded with a missing bridge")
	}
	for _, want := range []string{"tnnc2", "/lxc/c/config", "lxc.net.1.link", "tnnnobridge"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if linkExists("tnnu0") || linkExists("tnnu1") {
		t.Error("veth left after a failed Setup")
	}
	if got := readDevices(t, state); got != "" {
		t.Errorf("devices file after failed Setup: %q", got)
	}
}

// TestSetupMacvlanVlan: macvlan (bridge mode) and vlan 42 on a host device
// of the test, created directly inside. This kernel may lack both drivers.
func TestSetupMacvlanVlan(t *testing.T) {
	setupTest(t)
	newVeth(t, "tnnlow0", "tnnlow1")
	for _, typ := range []string{"macvlan", "vlan"} {
		t.Run(typ, func(t *testing.T) {
			pid := newNetns(t)
			n := config.Network{Index: 0, Type: typ, Link: "tnnlow0", Name: "tnnin0", MacvlanMode: "bridge", VlanID: 42, MTU: 1400}
			h, err := Setup("tnnc3", []config.Network{n}, pid, t.TempDir())
			if err != nil && strings.Contains(err.Error(), "kernel has no "+typ) {
				t.Skipf("%v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { h.Teardown() })
			in := nsHandle(t, pid)
			l, err := in.LinkByName("tnnin0")
			if err != nil {
				t.Fatalf("inside: %v", err)
			}
			switch l := l.(type) {
			case *netlink.Macvlan:
				if l.Mode != netlink.MACVLAN_MODE_BRIDGE {
					t.Errorf("macvlan mode %v", l.Mode)
				}
				if l.Attrs().HardwareAddr.String() != HWAddr("tnnc3", 0) {
					t.Errorf("macvlan mac %s", l.Attrs().HardwareAddr)
				}
			case *netlink.Vlan:
				if l.VlanId != 42 {
					t.Errorf("vlan id %d", l.VlanId)
				}
			default:
				t.Fatalf("inside: %s is a %s", l.Attrs().Name, l.Type())
			}
			if l.Attrs().MTU != 1400 {
				t.Errorf("mtu %d", l.Attrs().MTU)
			}
			if err := h.Teardown(); err != nil {
				t.Fatal(err)
			}
			if _, err := in.LinkByName("tnnin0"); err == nil {
				t.Error("left inside after Teardown")
			}
		})
	}
}

// TestSetupPhysTeardown: a host device of the test moves in, renamed, with
// a new MAC and MTU, and comes back under its own name, MAC, MTU and up
// state on Teardown.
func TestSetupPhysTeardown(t *testing.T) {
	setupTest(t)
	l := newVeth(t, "tnnph0", "tnnph1")
	netlink.LinkSetMTU(l, 1234)
	netlink.LinkSetHardwareAddr(l, mustMAC(t, "02:de:ad:be:ef:01"))
	netlink.LinkSetUp(l)
	pid := newNetns(t)
	state := t.TempDir()
	nets := []config.Network{{Index: 0, Type: "phys", Link: "tnnph0", Name: "tnnin5", HWAddr: "02:de:ad:be:ef:99", MTU: 1300}}
	h, err := Setup("tnnc4", nets, pid, state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Teardown() })
	if linkExists("tnnph0") {
		t.Error("tnnph0 still on the host")
	}
	in := nsHandle(t, pid)
	il, err := in.LinkByName("tnnin5")
	if err != nil {
		t.Fatalf("inside: %v", err)
	}
	if il.Attrs().HardwareAddr.String() != "02:de:ad:be:ef:99" || il.Attrs().MTU != 1300 {
		t.Errorf("inside: mac %s mtu %d", il.Attrs().HardwareAddr, il.Attrs().MTU)
	}
	if got := readDevices(t, state); !strings.HasPrefix(got, "tnnph0 phys ifindex=") || !strings.Contains(got, "inner=tnnin5") {
		t.Errorf("devices file %q", got)
	}
	if err := h.Teardown(); err != nil {
		t.Fatal(err)
	}
	checkPhysBack(t, "tnnph0", "02:de:ad:be:ef:01", 1234)
	if got := readDevices(t, state); got != "" {
		t.Errorf("devices file after Teardown: %q", got)
	}
}

func checkPhysBack(t *testing.T, name, mac string, mtu int) {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatalf("%s is not back on the host: %v", name, err)
	}
	a := l.Attrs()
	if a.HardwareAddr.String() != mac || a.MTU != mtu || a.Flags&net.FlagUp == 0 {
		t.Errorf("%s back: mac %s mtu %d up %v; want %s %d up", name, a.HardwareAddr, a.MTU, a.Flags&net.FlagUp != 0, mac, mtu)
	}
}

// TestPhysAfterCrash: the shim dies (its handles close, no Teardown) and the
// device returns to the host still carrying its inside name, as the kernel
// returns a physical NIC when the namespace dies; RemoveStale renames it
// back and restores MAC and MTU. (Virtual devices are destroyed rather than
// returned, so the return itself is done by the test, under the inside name.)
func TestPhysAfterCrash(t *testing.T) {
	setupTest(t)
	l := newVeth(t, "tnnph2", "tnnph3")
	netlink.LinkSetMTU(l, 1222)
	netlink.LinkSetHardwareAddr(l, mustMAC(t, "02:de:ad:be:ef:02"))
	netlink.LinkSetUp(l)
	t.Cleanup(func() {
		if l, err := netlink.LinkByName("tnnin6"); err == nil {
			netlink.LinkDel(l)
		}
	})
	pid := newNetns(t)
	rundir := t.TempDir()
	state := filepath.Join(rundir, "tnnc5")
	nets := []config.Network{{Index: 0, Type: "phys", Link: "tnnph2", Name: "tnnin6", HWAddr: "02:de:ad:be:ef:98"}}
	h, err := Setup("tnnc5", nets, pid, state)
	if err != nil {
		t.Fatal(err)
	}
	h.nh.Close() // the shim's crash: its handles go, Teardown never runs
	h.closeNS()
	in := nsHandle(t, pid)
	il, err := in.LinkByName("tnnin6")
	if err != nil {
		t.Fatal(err)
	}
	host := netnsOfSelf(t)
	if err := in.LinkSetNsFd(il, int(host)); err != nil {
		t.Fatalf("return tnnin6 to the host: %v", err)
	}
	killNetns(t, pid)
	if !linkExists("tnnin6") {
		t.Fatal("tnnin6 did not come back")
	}
	// Check runs before RemoveStale: the device missing under its own name
	// is fine when this container's record says it is coming back.
	if err := Check("tnnc5", nets, Scope{StateDir: state}); err != nil {
		t.Errorf("Check with the phys device recorded: %v", err)
	}
	if err := Check("tnnc5", nets, Scope{StateDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), `"tnnph2" does not exist`) {
		t.Errorf("Check with no record: %v", err)
	}
	removed, err := RemoveStale("tnnc5", nets, Scope{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != "phys tnnph2 (renamed back from tnnin6)" {
		t.Errorf("RemoveStale said %q", removed)
	}
	checkPhysBack(t, "tnnph2", "02:de:ad:be:ef:02", 1222)
	if got := readDevices(t, state); got != "" {
		t.Errorf("devices file after RemoveStale: %q", got)
	}
}

// TestSetupRefusesHostNamespace: a pid in the host's network namespace
// (the stage kept it) gets an error, and nothing is created.
func TestSetupRefusesHostNamespace(t *testing.T) {
	setupTest(t)
	state := t.TempDir()
	_, err := Setup("tnnc8", []config.Network{{Index: 0, Type: "veth", VethPair: "tnnh0"}}, os.Getpid(), state)
	if err == nil || !strings.Contains(err.Error(), "host's network namespace") {
		t.Fatalf("Setup with the host's namespace: %v", err)
	}
	if linkExists("tnnh0") || readDevices(t, state) != "" {
		t.Error("Setup created something")
	}
	// empty and none need no namespace of their own.
	if h, err := Setup("tnnc8", []config.Network{{Index: 0, Type: "none"}}, os.Getpid(), state); err != nil || h.Teardown() != nil {
		t.Errorf("none: %v", err)
	}
}
