package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// envDevProbe makes the test binary a device prober (TestMain): it waits
// for a line on stdin (the test has moved it into a cgroup by then), then
// tries every access of every node listed in the variable and prints one
// "NAME ACCESS ok|denied" line each.
const envDevProbe = "LXC_SHIM_DEVPROBE"

func TestMain(m *testing.M) {
	testutil.CoverChildren()
	if spec := os.Getenv(envDevProbe); spec != "" {
		os.Exit(devProbe(spec))
	}
	os.Exit(m.Run())
}

// probeDev is one device of the fixed probe list: a node of its number is
// made in the test's directory (outside any restriction) for the opens,
// and mknod is tried inside the cgroup.
type probeDev struct {
	name         string
	typ          rune
	major, minor uint32
}

// Numbers whose open has no effect beyond the check (no terminals, no
// disks that exist here): what matters is EPERM (the devices controller
// said no) against anything else (it said yes; the driver may then fail).
var probeDevs = []probeDev{
	{"null", 'c', 1, 3}, {"zero", 'c', 1, 5}, {"full", 'c', 1, 7}, {"urandom", 'c', 1, 9},
	{"fuse", 'c', 10, 229}, {"pts9999", 'c', 136, 9999}, {"c99", 'c', 99, 99}, {"c240", 'c', 240, 1},
	{"loop200", 'b', 7, 200}, {"b8", 'b', 8, 240}, {"b250", 'b', 250, 3},
}

var probeAccesses = []string{"r", "w", "rw", "m"}

// devProbe is the prober's main (see envDevProbe). spec is the directory
// holding the nodes.
func devProbe(dir string) int {
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "probe: no go:", err)
		return 2
	}
	for _, d := range probeDevs {
		node := filepath.Join(dir, d.name)
		for _, a := range probeAccesses {
			var err error
			switch a {
			case "m":
				made := filepath.Join(dir, "m-"+d.name)
				mode := uint32(unix.S_IFCHR)
				if d.typ == 'b' {
					mode = unix.S_IFBLK
				}
				if err = unix.Mknod(made, mode|0o600, int(unix.Mkdev(d.major, d.minor))); err == nil {
					os.Remove(made)
				}
			default:
				flags := map[string]int{"r": unix.O_RDONLY, "w": unix.O_WRONLY, "rw": unix.O_RDWR}[a]
				var fd int
				if fd, err = unix.Open(node, flags|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0); err == nil {
					unix.Close(fd)
				}
			}
			verdict := "ok"
			if errors.Is(err, unix.EPERM) {
				verdict = "denied"
			}
			fmt.Printf("%s %s %s\n", d.name, a, verdict)
		}
	}
	return 0
}

// v1Verdicts applies rules to a fresh v1 devices cgroup (the package's own
// Create, which writes them in order to devices.allow/deny) and probes
// from a process inside it.
func v1Verdicts(t *testing.T, rules []config.DeviceRule, nodes string) map[string]bool {
	t.Helper()
	g := newTestCgroup(t, config.Cgroup{Devices: rules})
	if g.hostOf("devices", false) < 0 {
		t.Skip("no v1 devices hierarchy on this host: the differential test needs one")
	}
	if err := g.Create(); err != nil {
		t.Fatal(err)
	}
	return probeIn(t, g, nodes)
}

// v2Verdicts attaches the cgroup2 filter built from rules (attachDeviceFilter,
// what Create uses where cgroup2 has the devices) to the unified directory of
// a fresh cgroup, and probes from a process inside it. The kernel runs the
// attached program: the verdicts are the filter's as loaded, not a model of
// it. The cgroup's v1 devices directory, if any, is left unrestricted.
func v2Verdicts(t *testing.T, rules []config.DeviceRule, nodes string) map[string]bool {
	t.Helper()
	g := newTestCgroup(t, config.Cgroup{})
	u := g.v2Index()
	if u < 0 {
		t.Skip("no cgroup2 hierarchy on this host: the differential test needs one")
	}
	if err := g.Create(); err != nil {
		t.Fatal(err)
	}
	if err := attachDeviceFilter(g.hiers[u].dir, rules); err != nil {
		t.Fatal(err)
	}
	return probeIn(t, g, nodes)
}

// probeIn runs the prober (envDevProbe) in g and returns its verdicts:
// "NAME ACCESS" -> allowed.
func probeIn(t *testing.T, g *Cgroup, nodes string) map[string]bool {
	t.Helper()
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = []string{envDevProbe + "=" + nodes}
	if d := os.Getenv("GOCOVERDIR"); d != "" {
		// A coverage run (make cover): the prober is this test binary.
		cmd.Env = append(cmd.Env, "GOCOVERDIR="+d)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := g.Add(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal(err)
	}
	in.Write([]byte("go\n"))
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("prober: %v\n%s", err, out.String())
	}
	got := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("prober said %q", line)
		}
		got[f[0]+" "+f[1]] = f[2] == "ok"
	}
	if len(got) != len(probeDevs)*len(probeAccesses) {
		t.Fatalf("prober answered %d probes, want %d:\n%s", len(got), len(probeDevs)*len(probeAccesses), out.String())
	}
	return got
}

// makeProbeNodes makes the nodes of probeDevs in a new directory and
// returns it.
func makeProbeNodes(t *testing.T) string {
	t.Helper()
	nodes := t.TempDir()
	for _, d := range probeDevs {
		mode := uint32(syscall.S_IFCHR)
		if d.typ == 'b' {
			mode = syscall.S_IFBLK
		}
		if err := unix.Mknod(filepath.Join(nodes, d.name), mode|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
			t.Fatal(err)
		}
	}
	return nodes
}

// parseRules reads "deny c 1:* rwm; allow a" lists.
func parseRules(t *testing.T, s string) []config.DeviceRule {
	t.Helper()
	var out []config.DeviceRule
	for _, part := range strings.Split(s, ";") {
		f := strings.Fields(part)
		if len(f) < 2 {
			t.Fatalf("rule %q", part)
		}
		r := config.DeviceRule{Allow: f[0] == "allow", Type: rune(f[1][0]), Major: -1, Minor: -1}
		if len(f) >= 3 {
			maj, min, _ := strings.Cut(f[2], ":")
			fmt.Sscan(maj, &r.Major)
			fmt.Sscan(min, &r.Minor)
		}
		if len(f) >= 4 {
			r.Access = f[3]
		}
		out = append(out, r)
	}
	return out
}

func permutations(rules []config.DeviceRule) [][]config.DeviceRule {
	if len(rules) <= 1 {
		return [][]config.DeviceRule{rules}
	}
	var out [][]config.DeviceRule
	for i := range rules {
		rest := append(append([]config.DeviceRule{}, rules[:i]...), rules[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]config.DeviceRule{rules[i]}, p...))
		}
	}
	return out
}

// The same rule list gives the same access on v1 (a real devices cgroup
// of this host) and on v2 (the filter lxc-shim builds, attached to a real
// cgroup2 directory of this host), in every order of the short lists.
// The first two are issue 12's: read "last match
// wins", the v2 filter allowed 1:5 in the first and denied 1:3 in the
// second, where v1 does the opposite.
func TestTGDevicesV1V2Differential(t *testing.T) {
	nodes := makeProbeNodes(t)
	lists := []struct {
		rules   string
		permute bool
	}{
		{"deny c 1:* rwm; allow c 1:5 rw", true},
		{"deny a; allow c *:* rwm; deny c 1:3 rwm", true},
		{"deny a; allow c 1:* r; allow c 1:5 w", true},
		{"deny a; allow c 1:5 r; allow c 1:5 w", false},
		{"allow a; deny b *:* m; allow b *:* m", true},
		{"deny a; allow c 1:* rwm; deny c 1:* w", true},
		{"deny c 1:3 w", false},
		{"deny c 1:3 rwm; allow a", true},
		{"allow c 1:3 rwm", false},
		{"deny a; deny c 1:3 rwm", false},
		{"deny a; allow c 1:3; deny c 1:3 r; allow c 1:3 m", false},
		{"deny c *:* m; deny b *:* rw; allow c 10:229 m", true},
		// LXC's common.conf (and the seed's list).
		{"deny a; allow c *:* m; allow b *:* m; allow c 1:3 rwm; allow c 1:5 rwm; allow c 1:7 rwm; " +
			"allow c 1:8 rwm; allow c 1:9 rwm; allow c 5:0 rwm; allow c 5:1 rwm; allow c 5:2 rwm; " +
			"allow c 136:* rwm; allow c 10:229 rwm", false},
	}
	cases := 0
	for _, l := range lists {
		orders := [][]config.DeviceRule{parseRules(t, l.rules)}
		if l.permute {
			orders = permutations(orders[0])
		}
		for _, rules := range orders {
			cases++
			label := describe(rules)
			v1 := v1Verdicts(t, rules, nodes)
			v2 := v2Verdicts(t, rules, nodes)
			for _, d := range probeDevs {
				for _, a := range probeAccesses {
					k := d.name + " " + a
					if v1[k] != v2[k] {
						t.Errorf("[%s] %c %d:%d %s: v1 allows %v, the v2 filter %v", label, d.typ, d.major, d.minor, a, v1[k], v2[k])
					}
				}
			}
		}
	}
	t.Logf("%d rule lists, %d probes each, agree on v1 and v2", cases, len(probeDevs)*len(probeAccesses))
}

func describe(rules []config.DeviceRule) string {
	var parts []string
	for _, r := range rules {
		verb := "deny"
		if r.Allow {
			verb = "allow"
		}
		if r.Type == 'a' {
			parts = append(parts, verb+" a")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %c %s:%s %s", verb, r.Type, devNum(r.Major), devNum(r.Minor), r.Access))
	}
	return strings.Join(parts, "; ")
}

// TestTGDeviceListPerHierarchy: with lxc.cgroup.devices and
// lxc.cgroup2.devices lists that differ, Create applies the v1 list where
// the devices controller is on v1 (this hybrid host) and the cgroup2 list
// where cgroup2 takes the device rules (the unified hierarchy alone, as a
// pure cgroup2 host sees it), as LXC chooses. The kernel's verdicts, probed
// from inside, tell which list was applied.
func TestTGDeviceListPerHierarchy(t *testing.T) {
	v1 := parseRules(t, "deny a; allow c 1:3 rwm")                  // only null
	v2 := parseRules(t, "deny a; allow c 1:3 rwm; allow c 1:5 rwm") // null and zero
	c := config.Cgroup{Devices: v1, Devices2: v2}
	nodes := makeProbeNodes(t)

	g := newTestCgroup(t, c)
	if g.hostOf("devices", false) < 0 {
		t.Skip("no v1 devices hierarchy on this host")
	}
	if err := g.Create(); err != nil {
		t.Fatal(err)
	}
	got := probeIn(t, g, nodes)
	if !got["null rw"] || got["zero r"] {
		t.Errorf("v1 devices controller: null rw %v, zero r %v: want the lxc.cgroup.devices list (null only)", got["null rw"], got["zero r"])
	}

	var v2only []mount
	for _, m := range mustMounts(t) {
		if m.v2 {
			v2only = append(v2only, m)
		}
	}
	if len(v2only) == 0 {
		t.Fatal("no cgroup2 hierarchy on this hybrid host")
	}
	name := testutil.Name("tg")
	g2, err := newFromMounts(name, c, filepath.Join(DefaultParent, name), v2only)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupCgroup(t, g2) })
	if err := g2.Create(); err != nil {
		t.Fatal(err)
	}
	got = probeIn(t, g2, nodes)
	if !got["null rw"] || !got["zero r"] || got["full r"] {
		t.Errorf("cgroup2: null rw %v, zero r %v, full r %v: want the lxc.cgroup2.devices list (null and zero)", got["null rw"], got["zero r"], got["full r"])
	}
}
