package netcleanup

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// fakeRunning makes a running container (the Other it returns) whose init
// is a process in its own network namespace, with a veth pair whose
// container end is in that namespace, and (if record) the host end in its
// devices file under RUNDIR/name.
func fakeRunning(t *testing.T, rundir, name, pair string, recorded bool) Other {
	t.Helper()
	pid := newNetns(t)
	dir := filepath.Join(rundir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: pair}, PeerName: "eth0", PeerNamespace: netlink.NsPid(pid)}
	if err := netlink.LinkAdd(v); err != nil {
		t.Fatalf("veth %s into %s: %v", pair, name, err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(pair); err == nil {
			netlink.LinkDel(l)
		}
	})
	if recorded {
		recordLink(t, dir, pair)
	}
	return Other{Name: name, Pid: pid, StateDir: dir}
}

// TestPairOfRunningContainer: a second container configured with the
// veth.pair of a running one is refused by Check with an error naming the
// running one, and RemoveStale leaves that veth alone — whether the owner
// recorded the name or only holds the peer in its namespace.
func TestPairOfRunningContainer(t *testing.T) {
	setupTest(t)
	for _, record := range []bool{true, false} {
		rundir := t.TempDir()
		first := fakeRunning(t, rundir, "tnnfirst", "tnnshared0", record)
		pos := config.Pos{File: "/lxc/tnnsecond/config", Line: 4, Key: "lxc.net.0.type"}
		nets := []config.Network{{Index: 0, Type: "veth", VethPair: "tnnshared0", Pos: pos}}
		listed := 0
		second := Scope{StateDir: filepath.Join(rundir, "tnnsecond"), Others: func() []Other { listed++; return []Other{first} }}
		err := Check("tnnsecond", nets, second)
		if err == nil {
			t.Fatalf("record=%v: Check accepted the pair of a running container", record)
		}
		for _, want := range []string{"running container tnnfirst", "lxc.net.0.veth.pair", "tnnshared0", "/lxc/tnnsecond/config"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("record=%v: error %q does not say %q", record, err, want)
			}
		}
		removed, err := RemoveStale("tnnsecond", nets, second)
		if err != nil || len(removed) != 0 {
			t.Errorf("record=%v: RemoveStale: %v, %v", record, removed, err)
		}
		if !linkExists("tnnshared0") {
			t.Fatalf("record=%v: the running container's veth was removed", record)
		}
		// The taken name made each of Check and RemoveStale list the
		// other containers, once.
		if listed != 2 {
			t.Errorf("record=%v: the other containers were listed %d times, want 2 (once per call)", record, listed)
		}
		// The owner itself is not refused by its own records.
		if err := Check("tnnfirst", nets, Scope{StateDir: first.StateDir, Others: OthersOf(first)}); err != nil && record {
			t.Errorf("record=%v: Check of the owner: %v", record, err)
		}
		netlink.LinkDel(mustLink(t, "tnnshared0"))
	}
}

func mustLink(t *testing.T, name string) netlink.Link {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// recordLink records the existing host device name as a dead run of the
// container with state directory state would have: kind veth, its ifindex.
func recordLink(t *testing.T, state, name string) {
	t.Helper()
	if err := appendRecord(state, record{Name: name, Kind: typeVeth, Ifindex: mustLink(t, name).Attrs().Index}); err != nil {
		t.Fatal(err)
	}
}

// TestRemoveStale: the LXC failing case (a leftover veth with the configured
// pair name, left by a dead run that recorded it) and another recorded veth
// are removed, a recorded name that is now a bridge is not, the devices file
// is emptied, and Setup then succeeds, recording the ifindex it chose.
func TestRemoveStale(t *testing.T) {
	setupTest(t)
	rundir := t.TempDir()
	state := filepath.Join(rundir, "tnnc6")
	newVeth(t, "tnnstale0", "tnnstale1") // configured pair name
	newVeth(t, "tnnrec0", "tnnrec1")     // recorded by a dead run
	newBridge(t, "tnnbr6", 0)            // recorded, but not ours to delete
	recordLink(t, state, "tnnstale0")
	recordLink(t, state, "tnnrec0")
	for _, r := range []record{{Name: "tnnbr6"}, {Name: "tnngone0", Kind: typeVeth, Ifindex: 1 << 30}} {
		if err := appendRecord(state, r); err != nil {
			t.Fatal(err)
		}
	}
	scope := Scope{StateDir: state}
	nets := []config.Network{{Index: 0, Type: "veth", Link: "tnnbr6", VethPair: "tnnstale0", Up: true}}
	if err := Check("tnnc6", nets, scope); err != nil {
		t.Fatalf("Check with a stale veth of its own: %v", err)
	}
	removed, err := RemoveStale("tnnc6", nets, scope)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(removed, ",") != "veth tnnstale0,veth tnnrec0" {
		t.Errorf("removed %q", removed)
	}
	for name, want := range map[string]bool{"tnnstale0": false, "tnnstale1": false, "tnnrec0": false, "tnnbr6": true} {
		if linkExists(name) != want {
			t.Errorf("%s exists: %v, want %v", name, !want, want)
		}
	}
	if got := readDevices(t, state); got != "" {
		t.Errorf("devices file after RemoveStale: %q", got)
	}
	// Where LXC says "File exists - Failed to create veth pair":
	pid := newNetns(t)
	h, err := Setup("tnnc6", nets, pid, state)
	if err != nil {
		t.Fatal(err)
	}
	rec := readDevices(t, state)
	idx := mustLink(t, "tnnstale0").Attrs().Index
	if want := fmt.Sprintf("tnnstale0 veth ifindex=%d netns=", idx); !strings.HasPrefix(rec, want) || idx < 1<<30 {
		t.Errorf("devices file while running: %q, want %q... (ifindex chosen above 2^30)", rec, want)
	}
	if err := h.Teardown(); err != nil {
		t.Fatal(err)
	}
	if again, err := RemoveStale("tnnc6", nets, scope); err != nil || len(again) != 0 {
		t.Errorf("RemoveStale after a clean stop: %q, %v", again, err)
	}
}

// TestRemoveStaleRefusesWhatIsNotOurs: the attack of issue 11. A veth named
// like the configured veth.pair whose peer is eth0 of a named network
// namespace (ip netns add) that no process uses was deleted, with that
// namespace's eth0, although lxc-shim never made it. Now Check refuses it
// and RemoveStale leaves it, each naming it and saying how to remove it by
// hand; so too a recorded name now carried by a device with another
// ifindex (someone else's, made after the dead run's went away).
func TestRemoveStaleRefusesWhatIsNotOurs(t *testing.T) {
	setupTest(t)
	nsName := testutil.Name(testPrefix)
	if out, err := exec.Command("ip", "netns", "add", nsName).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v %s", nsName, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", nsName).Run() })
	nsf, err := os.Open("/run/netns/" + nsName)
	if err != nil {
		t.Fatal(err)
	}
	defer nsf.Close()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "tnnpair0"}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(nsf.Fd()))}
	if err := netlink.LinkAdd(v); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName("tnnpair0"); err == nil {
			netlink.LinkDel(l)
		}
	})
	newVeth(t, "tnnelse0", "tnnelse1")
	state := filepath.Join(t.TempDir(), "tnnc8")
	// A dead run recorded tnnelse0 with an ifindex the device now by that
	// name does not have.
	if err := appendRecord(state, record{Name: "tnnelse0", Kind: typeVeth, Ifindex: mustLink(t, "tnnelse0").Attrs().Index + 1}); err != nil {
		t.Fatal(err)
	}
	scope := Scope{StateDir: state}
	nets := []config.Network{{Index: 0, Type: "veth", VethPair: "tnnpair0", Up: true, Pos: config.Pos{File: "/lxc/tnnc8/config", Line: 3}}}
	err = Check("tnnc8", nets, scope)
	if err == nil {
		t.Fatal("Check accepted a veth.pair that exists and is not the container's")
	}
	for _, want := range []string{"lxc.net.0.veth.pair", "/lxc/tnnc8/config", "tnnpair0", "not created by lxc-shim for tnnc8", "ip link delete tnnpair0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check error %q lacks %q", err, want)
		}
	}
	removed, err := RemoveStale("tnnc8", nets, scope)
	if err == nil || len(removed) != 0 {
		t.Fatalf("RemoveStale: removed %q, err %v; want a refusal", removed, err)
	}
	for _, want := range []string{"veth tnnpair0", "veth tnnelse0", "not created by lxc-shim for tnnc8", "ip link delete tnnpair0", "ip link delete tnnelse0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("RemoveStale error %q lacks %q", err, want)
		}
	}
	for _, name := range []string{"tnnpair0", "tnnelse0", "tnnelse1"} {
		if !linkExists(name) {
			t.Errorf("%s was removed", name)
		}
	}
	if out, err := exec.Command("ip", "-n", nsName, "link", "show", "eth0").CombinedOutput(); err != nil {
		t.Errorf("eth0 of netns %s is gone: %v %s", nsName, err, out)
	}
}

// TestCheckErrors: each problem Check must report before anything is
// created, with the file, line and key.
func TestCheckErrors(t *testing.T) {
	setupTest(t)
	newBridge(t, "tnnbr7", 0)
	newVeth(t, "tnnnotbr0", "tnnnotbr1")
	pos := config.Pos{File: "/lxc/tnnc7/config", Line: 12, Key: "lxc.net.0.type"}
	veth := func(mod func(*config.Network)) []config.Network {
		n := config.Network{Index: 0, Type: "veth", Link: "tnnbr7", Pos: pos}
		mod(&n)
		return []config.Network{n}
	}
	cases := []struct {
		what string
		nets []config.Network
		want []string
	}{
		{"missing bridge", veth(func(n *config.Network) { n.Link = "tnnnobr" }), []string{`bridge "tnnnobr" does not exist`, "lxc.net.0.link"}},
		{"link not a bridge", veth(func(n *config.Network) { n.Link = "tnnnotbr0" }), []string{"is a veth, not a bridge"}},
		{"long pair", veth(func(n *config.Network) { n.VethPair = "tnnaaaaaaaaaaaaaa" }), []string{"lxc.net.0.veth.pair", "17 bytes", "15"}},
		{"long name", veth(func(n *config.Network) { n.Name = "tnn0123456789abcd" }), []string{"lxc.net.0.name", "15"}},
		{"bad hwaddr", veth(func(n *config.Network) { n.HWAddr = "03:00:00:00:00:01" }), []string{"lxc.net.0.hwaddr", "multicast"}},
		{"gateway not up", veth(func(n *config.Network) { n.IPv4Gateway = "10.251.0.1" }), []string{"lxc.net.0.flags"}},
		{"auto without address", veth(func(n *config.Network) { n.Up = true; n.IPv4Gateway = "auto" }), []string{"lxc.net.0.ipv4.gateway", "no IPv4 address"}},
		{"unknown type", []config.Network{{Index: 0, Type: "ovs", Pos: pos}}, []string{`"ovs"`}},
		{"none with others", []config.Network{{Index: 0, Type: "none", Pos: pos}, {Index: 1, Type: "empty"}}, []string{"none"}},
		{"macvlan mode", []config.Network{{Index: 0, Type: "macvlan", Link: "tnnbr7", MacvlanMode: "loud", Pos: pos}}, []string{"lxc.net.0.macvlan.mode"}},
		{"phys missing", []config.Network{{Index: 0, Type: "phys", Link: "tnnnophys", Pos: pos}}, []string{`"tnnnophys" does not exist`}},
		{"same pair twice", []config.Network{
			{Index: 0, Type: "veth", VethPair: "tnnpp0", Pos: pos},
			{Index: 1, Type: "veth", VethPair: "tnnpp0", Pos: pos}}, []string{"lxc.net.1.veth.pair", "also the host name of lxc.net.0"}},
		{"same name twice", []config.Network{
			{Index: 0, Type: "veth", Name: "eth0", Pos: pos},
			{Index: 1, Type: "veth", Name: "eth0", Pos: pos}}, []string{"lxc.net.1.name"}},
		{"pair is a bridge", veth(func(n *config.Network) { n.VethPair = "tnnbr7" }), []string{"is a bridge, not a veth"}},
		{"pair not ours", veth(func(n *config.Network) { n.VethPair = "tnnnotbr0" }), []string{"lxc.net.0.veth.pair", "not created by lxc-shim for tnnc7", "ip link delete tnnnotbr0"}},
	}
	for _, c := range cases {
		err := Check("tnnc7", c.nets, Scope{StateDir: t.TempDir()})
		if err == nil {
			t.Errorf("%s: no error", c.what)
			continue
		}
		for _, w := range append(c.want, "/lxc/tnnc7/config", "tnnc7") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.what, err, w)
			}
		}
	}
	good := []config.Network{
		{Index: 0, Type: "veth", Link: "tnnbr7", VethPair: "tnnok0", HWAddr: "02:00:c0:a8:1:a", MTU: 1400, Up: true, IPv4Gateway: "dev"},
		{Index: 1, Type: "empty"},
	}
	if err := Check("tnnc7", good, Scope{StateDir: t.TempDir()}); err != nil {
		t.Errorf("good config: %v", err)
	}
	if err := Check("tnnc7", nil, Scope{StateDir: t.TempDir()}); err != nil {
		t.Errorf("no networks: %v", err)
	}
}

// TestRemoveStaleSparesAForeignNamespace: a recorded veth of the container
// whose peer is in a namespace that a live process other than the
// container's own uses (something that entered the dead run's namespace)
// is not stale: RemoveStale refuses, naming that process, and leaves the
// device. Every live process counts: the dead run's own were killed with
// its proven cgroup before this runs, so one still there is nobody's to
// excuse. Once the process is gone the namespace dies with the veth, and
// nothing is left to remove.
func TestRemoveStaleSparesAForeignNamespace(t *testing.T) {
	setupTest(t)
	rundir := t.TempDir()
	state := filepath.Join(rundir, "tnnc7")
	pid := newNetns(t)
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "tnnfor0"}, PeerName: "eth0", PeerNamespace: netlink.NsPid(pid)}
	if err := netlink.LinkAdd(v); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName("tnnfor0"); err == nil {
			netlink.LinkDel(l)
		}
	})
	recordLink(t, state, "tnnfor0")
	nets := []config.Network{{Index: 0, Type: "veth", VethPair: "tnnfor0", Up: true}}
	if holder := peerHolder(mustLink(t, "tnnfor0")); !strings.Contains(holder, fmt.Sprintf("process %d", pid)) {
		t.Errorf("peerHolder = %q, want the namespace's process %d", holder, pid)
	}
	removed, err := RemoveStale("tnnc7", nets, Scope{StateDir: state})
	if err == nil {
		t.Fatalf("RemoveStale cut a live foreign namespace's veth (removed %q)", removed)
	}
	for _, want := range []string{"tnnfor0", "not stale", fmt.Sprintf("process %d", pid), "ip link delete tnnfor0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !linkExists("tnnfor0") {
		t.Fatal("the foreign veth was removed")
	}
	killNetns(t, pid)
	testutil.WaitFor(t, 5*time.Second, "the veth to die with its namespace", func() error {
		if linkExists("tnnfor0") {
			return fmt.Errorf("tnnfor0 still exists")
		}
		return nil
	})
	if removed, err := RemoveStale("tnnc7", nets, Scope{StateDir: state}); err != nil || len(removed) != 0 {
		t.Errorf("RemoveStale after the namespace died: %q, %v", removed, err)
	}
}

// The other containers' state is read only when one of the container's
// device names is taken on the host: a boot whose names are free costs
// the same with 1 or 500 containers on the host.
func TestOthersListedOnlyWhenANameIsTaken(t *testing.T) {
	calls := 0
	scope := Scope{StateDir: t.TempDir(), Others: func() []Other { calls++; return nil }}
	nets := []config.Network{{Index: 0, Type: "veth", VethPair: "tnnfree0", Pos: config.Pos{File: "c", Line: 1}}}
	if err := Check("tnnlazy", nets, scope); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if _, err := RemoveStale("tnnlazy", nets, scope); err != nil {
		t.Fatalf("RemoveStale: %v", err)
	}
	if calls != 0 {
		t.Errorf("the other containers were listed %d times for names that are free", calls)
	}
	// lo is taken (and not a veth): Check reaches the name's lookup and
	// refuses it, still with no owner to look for.
	nets[0].VethPair = "lo"
	if err := Check("tnnlazy", nets, scope); err == nil || !strings.Contains(err.Error(), `"lo" exists on the host and is a`) {
		t.Errorf("Check with veth.pair lo: %v, want the name refused as taken", err)
	}
	if calls != 0 {
		t.Errorf("listed %d times for a name taken by a device that is not a veth", calls)
	}
}
