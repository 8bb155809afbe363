package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLegacyMapping: every row of lxc-update-config's table. For each, the
// rewritten text is exactly as expected, the legacy file warns once with a
// suggestion of update-config, and both read to the same model.
func TestLegacyMapping(t *testing.T) {
	tests := []struct{ legacy, updated string }{
		{"lxc.utsname = c1", "lxc.uts.name = c1"},
		{"lxc.rootfs = /srv/c1/rootfs", "lxc.rootfs.path = /srv/c1/rootfs"},
		{"lxc.tty = 4", "lxc.tty.max = 4"},
		{"lxc.pts = 10", "lxc.pty.max = 10"},
		{"lxc.devttydir = lxc", "lxc.tty.dir = lxc"},
		{"lxc.mount = fstab", "lxc.mount.fstab = fstab"},
		{"lxc.console = none", "lxc.console.path = none"},
		{"lxc.haltsignal = SIGUSR1", "lxc.signal.halt = SIGUSR1"},
		{"lxc.rebootsignal = SIGTERM", "lxc.signal.reboot = SIGTERM"},
		{"lxc.stopsignal = 9", "lxc.signal.stop = 9"},
		{"lxc.init_cmd = /sbin/init splash", "lxc.init.cmd = /sbin/init splash"},
		{"lxc.init_uid = 1000", "lxc.init.uid = 1000"},
		{"lxc.init_gid = 1000", "lxc.init.gid = 1000"},
		{"lxc.limit.nofile = 1024:4096", "lxc.prlimit.nofile = 1024:4096"},
		{"lxc.id_map = u 0 100000 65536\nlxc.id_map = g 0 100000 65536", "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536"},
		{"lxc.aa_profile = lxc-container-default", "lxc.apparmor.profile = lxc-container-default"},
		{"lxc.aa_allow_incomplete = 1", "lxc.apparmor.allow_incomplete = 1"},
		{"lxc.se_context = system_u:system_r:lxc_t:s0", "lxc.selinux.context = system_u:system_r:lxc_t:s0"},
		{"lxc.seccomp = /usr/share/lxc/config/common.seccomp", "lxc.seccomp.profile = /usr/share/lxc/config/common.seccomp"},
		{"lxc.syslog = daemon", "lxc.log.syslog = daemon"},
		{"lxc.loglevel = 3", "lxc.log.level = 3"},
		{"lxc.logfile = /var/log/c1.log", "lxc.log.file = /var/log/c1.log"},
		{"lxc.network.0.type = veth\nlxc.network.0.link = br0", "lxc.net.0.type = veth\nlxc.net.0.link = br0"},
		{"lxc.network.2.type = veth\nlxc.network.2.ipv4 = 10.0.0.2/24\nlxc.network.2.ipv6 = fd00::2/64",
			"lxc.net.2.type = veth\nlxc.net.2.ipv4.address = 10.0.0.2/24\nlxc.net.2.ipv6.address = fd00::2/64"},
		// Unindexed keys: the index starts at 0 and grows at each type line.
		{"lxc.network.type = veth\nlxc.network.link = br0\nlxc.network.flags = up\n" +
			"lxc.network.type = macvlan\nlxc.network.link = eth0\nlxc.network.macvlan.mode = bridge\n" +
			"lxc.network.type = empty",
			"lxc.net.0.type = veth\nlxc.net.0.link = br0\nlxc.net.0.flags = up\n" +
				"lxc.net.1.type = macvlan\nlxc.net.1.link = eth0\nlxc.net.1.macvlan.mode = bridge\n" +
				"lxc.net.2.type = empty"},
		{"lxc.network.type = veth\nlxc.network.ipv4 = 10.0.0.2/24 10.0.0.255\nlxc.network.ipv4.gateway = 10.0.0.1\n" +
			"lxc.network.ipv6 = fd00::2\nlxc.network.ipv6.gateway = auto\nlxc.network.hwaddr = 00:16:3e:00:00:01\n" +
			"lxc.network.veth.pair = vethc1\nlxc.network.name = eth0\nlxc.network.mtu = 1400\n" +
			"lxc.network.script.up = /bin/true\nlxc.network.script.down = /bin/true",
			"lxc.net.0.type = veth\nlxc.net.0.ipv4.address = 10.0.0.2/24 10.0.0.255\nlxc.net.0.ipv4.gateway = 10.0.0.1\n" +
				"lxc.net.0.ipv6.address = fd00::2\nlxc.net.0.ipv6.gateway = auto\nlxc.net.0.hwaddr = 00:16:3e:00:00:01\n" +
				"lxc.net.0.veth.pair = vethc1\nlxc.net.0.name = eth0\nlxc.net.0.mtu = 1400\n" +
				"lxc.net.0.script.up = /bin/true\nlxc.net.0.script.down = /bin/true"},
		{"lxc.network.type = vlan\nlxc.network.link = eth0\nlxc.network.vlan.id = 7",
			"lxc.net.0.type = vlan\nlxc.net.0.link = eth0\nlxc.net.0.vlan.id = 7"},
		{"lxc.network.type = veth\nlxc.network =", "lxc.net.0.type = veth\nlxc.net ="},
		// Mixed: LXC 3+ keys stay, legacy ones are renamed.
		{"lxc.uts.name = a\nlxc.tty = 2\nlxc.net.0.type = veth", "lxc.uts.name = a\nlxc.tty.max = 2\nlxc.net.0.type = veth"},
		// Commented-out legacy lines are renamed too (and start no network).
		{"#lxc.network.type = veth\nlxc.network.type = veth\n#lxc.network.link = br0\n# lxc.tty = 4",
			"#lxc.net.0.type = veth\nlxc.net.0.type = veth\n#lxc.net.0.link = br0\n# lxc.tty.max = 4"},
	}
	for _, tc := range tests {
		t.Run(strings.SplitN(tc.legacy, "\n", 2)[0], func(t *testing.T) {
			extra := map[string]string{"fstab": "proc proc proc defaults 0 0\n"}
			dir := writeFiles(t, extra)
			lf := filepath.Join(dir, "legacy")
			nf := filepath.Join(dir, "updated")
			if err := os.WriteFile(lf, []byte(tc.legacy+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := Update(lf)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.updated+"\n" {
				t.Fatalf("update-config:\ngot:\n%s\nwant:\n%s", out, tc.updated)
			}
			if err := os.WriteFile(nf, out, 0o644); err != nil {
				t.Fatal(err)
			}
			a, errA := LoadWith(lf, "c1", hostLSM)
			b, errB := LoadWith(nf, "c1", hostLSM)
			var ea, eb *Errors
			if asErrors(errA, &ea) && asErrors(errB, &eb) {
				// What lxc-shim refuses (seccomp, id maps) it refuses
				// under either name, on the same line, for the same reason.
				if len(ea.List) != len(eb.List) {
					t.Fatalf("legacy: %v\nupdated: %v", errA, errB)
				}
				for i := range ea.List {
					x, y := ea.List[i], eb.List[i]
					if x.Message != y.Message || x.Pos.Line != y.Pos.Line || x.Pos.Key != y.Pos.Key {
						t.Errorf("legacy: %s\nupdated: %s", x, y)
					}
				}
				return
			}
			if errA != nil {
				t.Fatalf("legacy: %v", errA)
			}
			if errB != nil {
				t.Fatalf("updated: %v", errB)
			}
			if modelJSON(t, a) != modelJSON(t, b) {
				t.Errorf("models differ:\nlegacy:  %s\nupdated: %s", modelJSON(t, a), modelJSON(t, b))
			}
			if b.HasLegacyKeys || len(b.Warnings) != 0 {
				t.Errorf("updated config: legacy %v, warnings %v", b.HasLegacyKeys, b.Warnings)
			}
			// Every row has an active legacy key: exactly one warning.
			n := 0
			for _, w := range a.Warnings {
				if strings.Contains(w.Message, "update-config") {
					n++
				}
			}
			if !a.HasLegacyKeys || n != 1 {
				t.Errorf("legacy config: HasLegacyKeys %v, %d update-config warnings (%v)", a.HasLegacyKeys, n, a.Warnings)
			}
		})
	}
}

// TestLegacyDropped: lxc.rootfs.backend, lxc.pivotdir and lxc.kmsg are
// dropped with a warning each; update-config comments them out.
func TestLegacyDropped(t *testing.T) {
	text := "lxc.rootfs.backend = dir\nlxc.pivotdir = lxc_putold\nlxc.kmsg = 0\nlxc.uts.name = c1\n"
	c, err, dir := loadText(t, text, nil, hostNoLSM)
	if err != nil {
		t.Fatal(err)
	}
	equalLines(t, "warnings", diagLines(c.Warnings, dir), []string{
		"config:1: lxc.rootfs.backend: legacy (LXC 1.x/2.x) keys in use; `lxc-initd update-config config` rewrites them to LXC 3+ keys",
		"config:1: lxc.rootfs.backend: legacy key dropped: LXC 3+ has no such setting",
		"config:2: lxc.pivotdir: legacy key dropped: LXC 3+ has no such setting",
		"config:3: lxc.kmsg: legacy key dropped: LXC 3+ has no such setting",
	})
	out, err := Update(filepath.Join(dir, "config"))
	if err != nil {
		t.Fatal(err)
	}
	want := "# lxc.rootfs.backend = dir  # dropped: LXC 3+ has no such key\n" +
		"# lxc.pivotdir = lxc_putold  # dropped: LXC 3+ has no such key\n" +
		"# lxc.kmsg = 0  # dropped: LXC 3+ has no such key\nlxc.uts.name = c1\n"
	if string(out) != want {
		t.Errorf("update-config:\n%s\nwant:\n%s", out, want)
	}
}

// TestLegacyPos: a legacy key's diagnostics use the new key name and keep
// the old one in Pos.Legacy.
func TestLegacyPos(t *testing.T) {
	c, err, _ := loadText(t, "lxc.network.type = veth\nlxc.network.link = br0\n", nil, hostNoLSM)
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Net[0].Pos; p.Key != "lxc.net.0.type" || p.Legacy != "lxc.network.type" || p.Line != 1 {
		t.Errorf("pos %+v", p)
	}
}
