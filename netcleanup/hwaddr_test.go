package netcleanup

import (
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/lxc-shim/lxc-shim/config"
)

func TestHWAddrStableLocalUnicast(t *testing.T) {
	a := HWAddr("funtoo0", 0)
	if b := HWAddr("funtoo0", 0); a != b {
		t.Fatalf("HWAddr not stable: %s then %s", a, b)
	}
	seen := map[string]bool{}
	for _, c := range []struct {
		name string
		idx  int
	}{{"funtoo0", 0}, {"funtoo0", 1}, {"funtoo1", 0}, {"x", 0}} {
		s := HWAddr(c.name, c.idx)
		if seen[s] {
			t.Errorf("HWAddr(%s, %d) = %s repeats", c.name, c.idx, s)
		}
		seen[s] = true
		m, err := net.ParseMAC(s)
		if err != nil || len(m) != 6 {
			t.Fatalf("HWAddr(%s, %d) = %q: %v", c.name, c.idx, s, err)
		}
		if m[0]&1 != 0 || m[0]&2 == 0 {
			t.Errorf("HWAddr(%s, %d) = %s: want locally administered unicast", c.name, c.idx, s)
		}
	}
}

func TestFillHWAddr(t *testing.T) {
	for i := 0; i < 50; i++ {
		got, err := FillHWAddr("xx:16:3e:xx:Xx:0a")
		if err != nil {
			t.Fatal(err)
		}
		m := mustMAC(t, got)
		if m[0]&1 != 0 {
			t.Fatalf("FillHWAddr gave multicast %s", got)
		}
		if !strings.HasPrefix(got[2:], ":16:3e:") || !strings.HasSuffix(got, ":0a") {
			t.Fatalf("FillHWAddr changed fixed digits: %s", got)
		}
	}
	for in, want := range map[string]string{
		"02:00:c0:a8:1:a":   "02:00:c0:a8:01:0a", // what hwaddr.sh prints
		"02:AA:bb:CC:dd:EE": "02:aa:bb:cc:dd:ee",
	} {
		if got, err := FillHWAddr(in); err != nil || got != want {
			t.Errorf("FillHWAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "01:00:5e:00:00:01", "00:00:00:00:00:00", "02:00:00:00:00", "02:00:00:00:00:00:00", "02:00:zz:00:00:00", "02:00:123:00:00:00"} {
		if got, err := FillHWAddr(bad); err == nil {
			t.Errorf("FillHWAddr(%q) = %q, want an error", bad, got)
		}
	}
	// Setup fills wildcards stably, so the MAC survives restarts.
	a, _ := stableFillHWAddr("02:xx:xx:xx:xx:xx", "c1", 0)
	b, _ := stableFillHWAddr("02:xx:xx:xx:xx:xx", "c1", 0)
	c, _ := stableFillHWAddr("02:xx:xx:xx:xx:xx", "c2", 0)
	if a != b || a == c || !strings.HasPrefix(a, "02:") {
		t.Errorf("stable fill: %s %s %s", a, b, c)
	}
}

// HWAddrFromIPv4 prints zero-padded octets (issue 20: the unpadded form
// was rejected by check and start), the address the seed script means.
func TestHWAddrFromIPv4MatchesSeedScript(t *testing.T) {
	want := map[string]string{
		"192.168.1.10":    "02:00:c0:a8:01:0a",
		"10.0.0.1":        "02:00:0a:00:00:01",
		"10.77.0.20":      "02:00:0a:4d:00:14",
		"172.16.254.255":  "02:00:ac:10:fe:ff",
		"0.0.0.0":         "02:00:00:00:00:00",
		"::ffff:10.1.2.3": "02:00:0a:01:02:03",
	}
	for ip, w := range want {
		if got := HWAddrFromIPv4(netip.MustParseAddr(ip)); got != w {
			t.Errorf("HWAddrFromIPv4(%s) = %q, want %q", ip, got, w)
		}
	}
	if got := HWAddrFromIPv4(netip.MustParseAddr("fd00::1")); got != "" {
		t.Errorf("HWAddrFromIPv4(fd00::1) = %q, want empty", got)
	}
	// The seed's script itself (it needs bash for ${IP//./ }): its
	// unpadded octets are the same address.
	bash, err := exec.LookPath("bash")
	if err != nil {
		return
	}
	script := `IP=$*; HA=` + "`" + `printf "02:00:%x:%x:%x:%x" ${IP//./ }` + "`" + `; echo $HA`
	for _, ip := range []string{"192.168.1.10", "10.0.0.1", "172.16.254.255"} {
		out, err := exec.Command(bash, "-c", script, "hwaddr.sh", ip).Output()
		if err != nil {
			t.Fatalf("seed script: %v", err)
		}
		seed, err := FillHWAddr(strings.TrimSpace(string(out)))
		if got := HWAddrFromIPv4(netip.MustParseAddr(ip)); err != nil || got != seed {
			t.Errorf("%s: HWAddrFromIPv4 %q, seed script %q (%q, %v)", ip, got, out, seed, err)
		}
	}
}

func TestRandomHWAddr(t *testing.T) {
	a, err := RandomHWAddr()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := RandomHWAddr()
	m := mustMAC(t, a)
	if a == b || m[0]&1 != 0 || m[0]&2 == 0 {
		t.Errorf("RandomHWAddr: %s, %s", a, b)
	}
}

func TestHostVethName(t *testing.T) {
	for _, c := range []struct {
		name string
		idx  int
	}{{"funtoo0", 0}, {"a-very-long-container-name", 12}, {"x", 3}, {"ünï/cödé", 1}, {"c", 123456}} {
		n := HostVethName(c.name, c.idx)
		if why := validIfName(n); why != "" {
			t.Errorf("HostVethName(%q, %d) = %q: %s", c.name, c.idx, n, why)
		}
		if n != HostVethName(c.name, c.idx) {
			t.Errorf("HostVethName(%q, %d) not stable", c.name, c.idx)
		}
	}
	if HostVethName("web1", 0) == HostVethName("web2", 0) || HostVethName("web1", 0) == HostVethName("web1", 1) {
		t.Error("HostVethName collides")
	}
	if got := HostVethName("funtoo0", 0); !strings.HasPrefix(got, "vsfuntoo0") || len(got) != 14 {
		t.Errorf("HostVethName(funtoo0, 0) = %q", got)
	}
}

func TestResolveDefaults(t *testing.T) {
	nets := []config.Network{
		{Index: 0, Type: "veth", HWAddr: "02:00:c0:a8:1:a"},
		{Index: 1, Type: "veth", Name: "eth0", VethPair: "vp1"},
		{Index: 2, Type: "macvlan", Link: "x"},
		{Index: 3, Type: "phys", Link: "enp3s0"},
		{Index: 4, Type: "empty"},
	}
	res, err := Resolve("c1", nets)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ name, pair, mac string }{
		{"eth1", HostVethName("c1", 0), "02:00:c0:a8:01:0a"},
		{"eth0", "vp1", HWAddr("c1", 1)},
		{"eth2", "", HWAddr("c1", 2)},
		{"enp3s0", "", ""},
		{"", "", ""},
	}
	for i, w := range want {
		if res[i].Name != w.name || res[i].VethPair != w.pair || res[i].HWAddr != w.mac {
			t.Errorf("net %d: name %q pair %q mac %q; want %q %q %q", i, res[i].Name, res[i].VethPair, res[i].HWAddr, w.name, w.pair, w.mac)
		}
	}
	if nets[0].Name != "" || nets[0].HWAddr != "02:00:c0:a8:1:a" {
		t.Error("Resolve changed its input")
	}
	again, err := Resolve("c1", res)
	if err != nil {
		t.Fatal(err)
	}
	for i := range res {
		if again[i].Name != res[i].Name || again[i].HWAddr != res[i].HWAddr || again[i].VethPair != res[i].VethPair {
			t.Errorf("net %d: resolving twice changed it", i)
		}
	}
	if _, err := Resolve("c1", []config.Network{{Index: 0, Type: "veth", IPv4Gateway: "auto"}}); err == nil || !strings.Contains(err.Error(), "lxc.net.0.ipv4.gateway") {
		t.Errorf("gateway auto without link: %v", err)
	}
}
