package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSeedConfig reads the funtoo0 config of the seed write-up (paths moved
// under /srv/lxc-shim-test) and checks every warning and the model.
func TestSeedConfig(t *testing.T) {
	const f = "testdata/seed-funtoo0.conf"
	c, err := LoadWith(f, "funtoo0", hostNoLSM)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	trailing := func(line, key, raw string) string {
		return f + ":" + line + ": " + key + `: trailing comment stripped; LXC would take "` + raw + `" as the value`
	}
	want := []string{
		f + ":2: lxc.utsname (lxc.uts.name): legacy (LXC 1.x/2.x) keys in use; `lxc-initd update-config " + f + "` rewrites them to LXC 3+ keys",
		trailing("6", "lxc.tty (lxc.tty.max)", "6  # if you plan to use container with physical terminals (eg F1..F6)"),
		trailing("32", "lxc.cgroup.devices.deny", "a # Deny access to all devices"),
		trailing("38", "lxc.cgroup.devices.allow", "c 1:3 rwm # /dev/null"),
		trailing("39", "lxc.cgroup.devices.allow", "c 1:5 rwm # /dev/zero"),
		trailing("40", "lxc.cgroup.devices.allow", "c 1:7 rwm # /dev/full"),
		trailing("41", "lxc.cgroup.devices.allow", "c 1:8 rwm # /dev/random"),
		trailing("42", "lxc.cgroup.devices.allow", "c 1:9 rwm # /dev/urandom"),
		trailing("47", "lxc.cgroup.devices.allow", "c 5:0 rwm # /dev/tty"),
		trailing("48", "lxc.cgroup.devices.allow", "c 5:1 rwm # /dev/console"),
		trailing("49", "lxc.cgroup.devices.allow", "c 5:2 rwm # /dev/ptmx"),
		trailing("50", "lxc.cgroup.devices.allow", "c 10:229 rwm # /dev/fuse"),
		trailing("51", "lxc.cgroup.devices.allow", "c 136:* rwm # /dev/pts/* devices with major number 136 are pts"),
		trailing("52", "lxc.cgroup.devices.allow", "c 254:0 rwm # /dev/rtc0"),
		trailing("56", "lxc.cgroup.cpuset.cpus", "0        # limits container to CPU0"),
		f + `:81: lxc.network.hwaddr (lxc.net.0.hwaddr): value is only a trailing comment; key left unset (LXC would take "#put your MAC address here, otherwise you will get a random one" as the value)`,
	}
	equalLines(t, "warnings", diagLines(c.Warnings, ""), want)
	if !c.HasLegacyKeys {
		t.Error("HasLegacyKeys is false")
	}

	if c.Name != "funtoo0" || c.UTSName != "funtoo0" || c.Arch != "x86_64" || c.Personality != 0 {
		t.Errorf("name/uts/arch: %q %q %q %d", c.Name, c.UTSName, c.Arch, c.Personality)
	}
	if c.UTSPos.Legacy != "lxc.utsname" || c.UTSPos.Line != 2 {
		t.Errorf("UTSPos = %+v, want line 2 legacy lxc.utsname", c.UTSPos)
	}
	if c.Rootfs.Path != "/srv/lxc-shim-test/funtoo0/rootfs" {
		t.Errorf("rootfs %q", c.Rootfs.Path)
	}
	if c.TTY.Max != 6 || c.PTYMax != 1024 || !c.Autodev {
		t.Errorf("tty %d pty %d autodev %v", c.TTY.Max, c.PTYMax, c.Autodev)
	}
	wantDrop := []int{unix.CAP_AUDIT_CONTROL, unix.CAP_AUDIT_WRITE, unix.CAP_MAC_ADMIN, unix.CAP_MAC_OVERRIDE,
		unix.CAP_MKNOD, unix.CAP_SETFCAP, unix.CAP_SETPCAP, unix.CAP_SYS_ADMIN, unix.CAP_SYS_MODULE,
		unix.CAP_SYS_PACCT, unix.CAP_SYS_RAWIO, unix.CAP_SYS_RESOURCE, unix.CAP_SYS_TIME}
	if !slices.Equal(c.Caps.Drop, wantDrop) || len(c.Caps.Keep) != 0 {
		t.Errorf("caps drop %v, want %v", c.Caps.Drop, wantDrop)
	}
	if slices.Contains(c.Caps.Drop, unix.CAP_SYS_BOOT) {
		t.Error("sys_boot dropped although its line is commented out")
	}
	// deny a, two mknod rules, 11 device rules.
	if len(c.Cgroup.Devices) != 14 {
		t.Fatalf("%d device rules, want 14", len(c.Cgroup.Devices))
	}
	if d := c.Cgroup.Devices[0]; d.Allow || d.Type != 'a' || d.Access != "rwm" {
		t.Errorf("first device rule %+v, want deny a", d)
	}
	if d := c.Cgroup.Devices[12]; !d.Allow || d.Type != 'c' || d.Major != 136 || d.Minor != -1 || d.Access != "rwm" {
		t.Errorf("pts rule %+v", d)
	}
	v1 := settings(c.Cgroup.V1)
	v2 := settings(c.Cgroup.V2)
	for file, val := range map[string]string{"cpu.shares": "1024", "cpuset.cpus": "0",
		"memory.limit_in_bytes": "536870912", "memory.memsw.limit_in_bytes": "1073741824"} {
		if v1[file] != val {
			t.Errorf("v1 %s = %q, want %q", file, v1[file], val)
		}
	}
	for file, val := range map[string]string{"cpu.weight": "100", "cpuset.cpus": "0",
		"memory.max": "536870912", "memory.swap.max": "536870912"} {
		if v2[file] != val {
			t.Errorf("v2 %s = %q, want %q", file, v2[file], val)
		}
	}
	if len(c.Mounts) != 6 || c.Mounts[0].Target != "proc" || c.Mounts[2].Target != "dev/pts" ||
		c.Mounts[2].Data != "mode=0620,ptmxmode=000,newinstance" ||
		c.Mounts[1].Flags != unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY {
		t.Errorf("mounts %+v", c.Mounts)
	}
	if len(c.Net) != 1 {
		t.Fatalf("%d networks, want 1", len(c.Net))
	}
	n := c.Net[0]
	if n.Type != "veth" || !n.Up || n.Link != "br0" || n.Name != "eth0" || n.HWAddr != "" || n.VethPair != "" || n.VethMode != "bridge" {
		t.Errorf("net %+v", n)
	}
	if n.Pos.Line != 79 || n.Pos.Key != "lxc.net.0.type" || n.Pos.Legacy != "lxc.network.type" {
		t.Errorf("net pos %+v", n.Pos)
	}
	if c.Signals != (Signals{Halt: syscall.SIGPWR, Reboot: syscall.SIGINT, Stop: syscall.SIGKILL}) {
		t.Errorf("signals %+v", c.Signals)
	}
	if !slices.Equal(c.Init.Cmd, []string{"/sbin/init"}) {
		t.Errorf("init %v", c.Init.Cmd)
	}
}

func settings(list []CgroupSetting) map[string]string {
	m := map[string]string{}
	for _, s := range list {
		m[s.File] = s.Value
	}
	return m
}

// TestSeedUpdateConfig: the seed rewritten by Update has no legacy key,
// the same line count, its comments, and reads to the same model.
func TestSeedUpdateConfig(t *testing.T) {
	const f = "testdata/seed-funtoo0.conf"
	orig, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Update(f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	nf := filepath.Join(dir, "config")
	if err := os.WriteFile(nf, out, 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := LoadWith(f, "funtoo0", hostNoLSM)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadWith(nf, "funtoo0", hostNoLSM)
	if err != nil {
		t.Fatal(err)
	}
	if b.HasLegacyKeys {
		t.Errorf("updated config still has legacy keys: %v", b.Warnings)
	}
	if modelJSON(t, a) != modelJSON(t, b) {
		t.Errorf("models differ:\n%s\n%s", modelJSON(t, a), modelJSON(t, b))
	}
	ol, nl := splitLines(string(orig)), splitLines(string(out))
	if len(ol) != len(nl) {
		t.Fatalf("line count %d -> %d", len(ol), len(nl))
	}
	wantChanged := map[int]string{
		2:  "lxc.uts.name                            = funtoo0",
		5:  "#lxc.console.path                       = /var/log/srv/lxc-shim-test/funtoo0.console  # uncomment if you want to log containers console",
		6:  "lxc.tty.max                             = 6  # if you plan to use container with physical terminals (eg F1..F6)",
		79: "lxc.net.0.type                          = veth",
		81: "lxc.net.0.hwaddr                        = #put your MAC address here, otherwise you will get a random one",
		84: "#lxc.net.0.veth.pair                     = veth-example",
	}
	for ln, want := range wantChanged {
		if nl[ln-1] != want {
			t.Errorf("line %d: got %q, want %q", ln, nl[ln-1], want)
		}
	}
	// The file's column alignment is kept: every '=' stays where it was.
	for i := range ol {
		if strings.Index(ol[i], "=") != strings.Index(nl[i], "=") && !strings.Contains(nl[i], "# dropped") {
			t.Errorf("line %d: '=' moved: %q -> %q", i+1, ol[i], nl[i])
		}
	}
	// Comment lines that are not keys are untouched.
	for i := range ol {
		if len(ol[i]) > 0 && ol[i][0] == '#' && len(ol[i]) > 1 && ol[i][1] == '#' && ol[i] != nl[i] {
			t.Errorf("comment line %d changed: %q -> %q", i+1, ol[i], nl[i])
		}
	}
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// TestBusyboxConfig reads a config laid out as `lxc-create -t busybox`
// writes it, with a common.conf include that includes a directory.
func TestBusyboxConfig(t *testing.T) {
	const f = "testdata/busybox/bb1/config"
	opts := hostNoLSM
	c, err := LoadWith(f, "bb1", opts)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	want := []string{
		f + ":13: lxc.apparmor.profile: skipped: AppArmor is not enabled on this host (LXC does the same)",
		f + ":14: lxc.apparmor.allow_nesting: skipped: AppArmor is not enabled on this host (LXC does the same)",
		"testdata/share/common.conf:14: lxc.hook.clone: used by lxc-copy/lxc-destroy only; ignored",
	}
	equalLines(t, "warnings", diagLines(c.Warnings, ""), want)
	if c.HasLegacyKeys {
		t.Error("HasLegacyKeys set for an LXC 3+ config")
	}
	if c.UTSName != "bb1" {
		t.Errorf("uts name %q (quotes must be removed)", c.UTSName)
	}
	if c.Rootfs.Path != "/var/lib/lxc/bb1/rootfs" {
		t.Errorf("rootfs %q (dir: prefix must be removed)", c.Rootfs.Path)
	}
	if c.Signals.Halt != syscall.SIGUSR1 || !c.Signals.HaltSet || c.Signals.Reboot != syscall.SIGTERM || c.Signals.Stop != syscall.SIGKILL {
		t.Errorf("signals %+v", c.Signals)
	}
	// common.conf sets pty.max 1024 before the template's 1: last wins.
	if c.TTY.Max != 1 || c.TTY.Dir != "lxc" || c.PTYMax != 1 {
		t.Errorf("tty %+v pty %d", c.TTY, c.PTYMax)
	}
	if c.MountAuto.Proc != "mixed" || c.MountAuto.Sys != "mixed" || c.MountAuto.Cgroup != "mixed" {
		t.Errorf("mount.auto %+v", c.MountAuto)
	}
	if !slices.Equal(c.Caps.Drop, []int{unix.CAP_SYS_MODULE, unix.CAP_MAC_ADMIN, unix.CAP_MAC_OVERRIDE, unix.CAP_SYS_TIME}) {
		t.Errorf("caps %v", c.Caps.Drop)
	}
	if len(c.Cgroup.Devices) != 13 {
		t.Errorf("%d device rules, want 13 (v1 and identical v2 lists merged)", len(c.Cgroup.Devices))
	}
	// The include directory's *.conf files in name order; README skipped.
	if !slices.Equal(c.Environment, []string{"container=lxc", "container_ttys=tty1"}) {
		t.Errorf("environment %v", c.Environment)
	}
	if len(c.Mounts) != 6 {
		t.Fatalf("%d mounts, want 6", len(c.Mounts))
	}
	fuse := c.Mounts[0]
	if fuse.Target != "sys/fs/fuse/connections" || !fuse.Optional || fuse.Flags != unix.MS_BIND {
		t.Errorf("fuse mount %+v", fuse)
	}
	if m := c.Mounts[1]; m.Target != "dev/shm" || m.FSType != "tmpfs" {
		t.Errorf("shm mount %+v (absolute target must become relative)", m)
	}
	if m := c.Mounts[2]; m.Source != "/lib" || m.Target != "lib" || m.Flags != unix.MS_BIND|unix.MS_RDONLY {
		t.Errorf("lib mount %+v", m)
	}
	if len(c.Net) != 1 || c.Net[0].HWAddr != "00:16:3e:xx:xx:xx" || c.Net[0].Link != "lxcbr0" || !c.Net[0].Up {
		t.Errorf("net %+v", c.Net)
	}
	if c.Security.AppArmorProfile != "" {
		t.Errorf("apparmor profile kept on a host without AppArmor")
	}

	// On a host with AppArmor, the profile reaches the model so the
	// launcher can apply it or refuse.
	c2, err := LoadWith(f, "bb1", hostLSM)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Security.AppArmorProfile != "generated" || !c2.Security.AppArmorAllowNesting {
		t.Errorf("security %+v", c2.Security)
	}
}

// TestNetworkDefaults: addresses, prefixes and the filled defaults.
func TestNetworkDefaults(t *testing.T) {
	c, err, _ := loadText(t, `
lxc.net.0.type = veth
lxc.net.0.ipv4.address = 10.0.3.5
lxc.net.0.ipv4.address = 192.168.1.2/24 192.168.1.255
lxc.net.0.ipv6.address = fd00::5
lxc.net.0.ipv4.gateway = auto
lxc.net.0.ipv6.gateway = fd00::1
lxc.net.2.type = macvlan
lxc.net.2.link = eth0
lxc.net.1.type = phys
lxc.net.1.link = dummy7
lxc.net.3.type = vlan
lxc.net.3.link = eth0
lxc.net.3.vlan.id = 42
lxc.net.4.type = veth
lxc.net.4.veth.mode = router
lxc.net.4.veth.ipv4.route = 10.9.0.0/16
`, nil, hostNoLSM)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Net) != 5 {
		t.Fatalf("%d nets", len(c.Net))
	}
	n0 := c.Net[0]
	if !slices.Equal(n0.IPv4, []netip.Prefix{netip.MustParsePrefix("10.0.3.5/8"), netip.MustParsePrefix("192.168.1.2/24")}) ||
		!slices.Equal(n0.IPv6, []netip.Prefix{netip.MustParsePrefix("fd00::5/64")}) ||
		n0.IPv4Gateway != "auto" || n0.IPv6Gateway != "fd00::1" || n0.Name != "eth0" {
		t.Errorf("net0 %+v", n0)
	}
	if c.Net[1].Index != 1 || c.Net[1].Name != "dummy7" {
		t.Errorf("phys name defaults to its link: %+v", c.Net[1])
	}
	if c.Net[2].MacvlanMode != "private" || c.Net[2].Name != "eth2" {
		t.Errorf("macvlan defaults: %+v", c.Net[2])
	}
	if c.Net[3].VlanID != 42 {
		t.Errorf("vlan %+v", c.Net[3])
	}
	if c.Net[4].VethMode != "router" || len(c.Net[4].VethIPv4Routes) != 1 {
		t.Errorf("router veth %+v", c.Net[4])
	}
}
