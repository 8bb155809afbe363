package config

import (
	"testing"
)

// TestMalformed: each bad input gives exactly one error, naming the file,
// line and key.
func TestMalformed(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"no equals", "lxc.tty.max", `config:1: not a "key = value" line: "lxc.tty.max"`},
		{"no key", "\n= 5", `config:2: no key before '='`},
		{"space in key", "lxc.tty max = 5", `config:1: invalid key "lxc.tty max"`},
		{"typo key", "lxc.uts.nme = x", `config:1: lxc.uts.nme: unknown key (did you mean "lxc.uts.name"?)`},
		{"unknown key", "lxc.frobnicate.everything = 1", `config:1: lxc.frobnicate.everything: unknown key`},
		{"typo family", "lxc.sysctls.net.ipv4.ip_forward = 1", `config:1: lxc.sysctls.net.ipv4.ip_forward: unknown key (did you mean "lxc.sysctl.net.ipv4.ip_forward"?)`},
		{"not a number", "lxc.tty.max = six", `config:1: lxc.tty.max: invalid number "six"`},
		{"out of range", "lxc.tty.max = -1", `config:1: lxc.tty.max: -1 out of range 0-1024`},
		{"bad signal", "lxc.signal.halt = SIGFOO", `config:1: lxc.signal.halt: unknown signal "SIGFOO"`},
		{"signal number", "lxc.signal.stop = 65", `config:1: lxc.signal.stop: signal number 65 out of range 1-64`},
		{"bad cap", "lxc.cap.drop = sys_admn", `config:1: lxc.cap.drop: unknown capability "sys_admn" (did you mean "sys_admin"?)`},
		{"drop and keep", "lxc.cap.drop = mknod\nlxc.cap.keep = chown", `config:2: lxc.cap.keep: lxc.cap.drop (config:1: lxc.cap.drop) and lxc.cap.keep cannot both be set`},
		{"device type", "lxc.cgroup.devices.allow = x 1:3 rwm", `config:1: lxc.cgroup.devices.allow: invalid device rule "x 1:3 rwm": type must be a, b or c`},
		{"device numbers", "lxc.cgroup.devices.allow = c 1 rwm", `config:1: lxc.cgroup.devices.allow: invalid device rule "c 1 rwm": want MAJOR:MINOR`},
		{"device access", "lxc.cgroup2.devices.deny = c 1:3 rwx", `config:1: lxc.cgroup2.devices.deny: invalid device rule "c 1:3 rwx": access must be a subset of rwm`},
		{"size unit", "lxc.cgroup.memory.limit_in_bytes = 512Q", `config:1: lxc.cgroup.memory.limit_in_bytes: invalid size "512Q": unknown unit "Q"`},
		{"controller typo", "lxc.cgroup.memroy.limit_in_bytes = 1G", `config:1: lxc.cgroup.memroy.limit_in_bytes: unknown cgroup controller "memroy" (did you mean "memory"?)`},
		{"cpu shares", "lxc.cgroup.cpu.shares = 1", `config:1: lxc.cgroup.cpu.shares: invalid cpu.shares: 1 out of range 2-262144`},
		{"cpuset", "lxc.cgroup2.cpuset.cpus = 0-", `config:1: lxc.cgroup2.cpuset.cpus: invalid cpu/node list "0-"`},
		{"memsw below memory", "lxc.cgroup.memory.limit_in_bytes = 1G\nlxc.cgroup.memory.memsw.limit_in_bytes = 512M", `config:2: lxc.cgroup.memory.memsw.limit_in_bytes: memory.memsw.limit_in_bytes (536870912) is below memory.limit_in_bytes (1073741824)`},
		{"mount fields", "lxc.mount.entry = proc proc", `config:1: lxc.mount.entry: invalid mount entry "proc proc": want "SOURCE TARGET FSTYPE [OPTIONS [DUMP [PASS]]]"`},
		{"mount too many", "lxc.mount.entry = a b c d 0 0 x", `config:1: lxc.mount.entry: invalid mount entry "a b c d 0 0 x": more than six fields`},
		{"mount create", "lxc.mount.entry = /x y none bind,create=link 0 0", `config:1: lxc.mount.entry: invalid mount option "create=link": want create=dir or create=file`},
		{"mount escape", "lxc.rootfs.path = /r\nlxc.mount.entry = /x ../../etc none bind 0 0", `config:2: lxc.mount.entry: mount target "../../etc" is outside the rootfs`},
		{"mount dump", "lxc.mount.entry = /x y none bind x 0", `config:1: lxc.mount.entry: invalid mount entry "/x y none bind x 0": field 5 (dump) must be a number`},
		{"net type", "lxc.net.0.type = vxlan", `config:1: lxc.net.0.type: unknown network type "vxlan" (veth, macvlan, vlan, phys, empty or none)`},
		{"mac", "lxc.net.0.type = veth\nlxc.net.0.hwaddr = 00:16:3e:zz:00:01", `config:2: lxc.net.0.hwaddr: invalid MAC address "00:16:3e:zz:00:01": octet 4 "zz": not a hex digit or 'x'`},
		{"mac octet", "lxc.net.0.type = veth\nlxc.net.0.hwaddr = 02:00:0a:4d:014:1", `config:2: lxc.net.0.hwaddr: invalid MAC address "02:00:0a:4d:014:1": octet 5 "014": want one or two hex digits`},
		{"multicast mac", "lxc.net.0.type = veth\nlxc.net.0.hwaddr = 01:16:3e:00:00:01", `config:2: lxc.net.0.hwaddr: invalid MAC address "01:16:3e:00:00:01": multicast bit set`},
		{"ipv4", "lxc.net.0.type = veth\nlxc.net.0.ipv4.address = 10.0.0.300/24", `config:2: lxc.net.0.ipv4.address: invalid IPv4 address "10.0.0.300/24"`},
		{"prefix", "lxc.net.0.type = veth\nlxc.net.0.ipv4.address = 10.0.0.3/33", `config:2: lxc.net.0.ipv4.address: invalid prefix length in "10.0.0.3/33"`},
		{"v6 in v4", "lxc.net.0.type = veth\nlxc.net.0.ipv4.address = fd00::1/64", `config:2: lxc.net.0.ipv4.address: invalid IPv4 address "fd00::1/64"`},
		{"gateway", "lxc.net.0.type = veth\nlxc.net.0.ipv4.gateway = 1.2.3", `config:2: lxc.net.0.ipv4.gateway: invalid IPv4 gateway "1.2.3": want an address, "auto" or "dev"`},
		{"macvlan mode", "lxc.net.0.type = macvlan\nlxc.net.0.link = eth0\nlxc.net.0.macvlan.mode = foo", `config:3: lxc.net.0.macvlan.mode: invalid macvlan mode "foo" (private, vepa, bridge or passthru)`},
		{"no type", "lxc.net.1.link = br0", `config:1: lxc.net.1.link: network 1 has no lxc.net.1.type`},
		{"macvlan link", "lxc.net.0.type = macvlan", `config:1: lxc.net.0.type: a macvlan network needs lxc.net.0.link`},
		{"mtu", "lxc.net.0.type = veth\nlxc.net.0.mtu = 10", `config:2: lxc.net.0.mtu: invalid MTU: 10 out of range 68-65535`},
		{"vlan id on veth", "lxc.net.0.type = veth\nlxc.net.0.vlan.id = 5", `config:2: lxc.net.0.vlan.id: only for vlan networks (lxc.net.0.type is veth)`},
		{"net subkey", "lxc.net.0.type = veth\nlxc.net.0.hwadr = 00:16:3e:00:00:01", `config:2: lxc.net.0.hwadr: unknown key (did you mean "lxc.net.0.hwaddr"?)`},
		{"ifname", "lxc.net.0.type = veth\nlxc.net.0.veth.pair = a-very-long-veth-name", `config:2: lxc.net.0.veth.pair: invalid interface name "a-very-long-veth-name": must be 1-15 bytes`},
		{"bool", "lxc.autodev = yes", `config:1: lxc.autodev: invalid boolean "yes": want 0 or 1`},
		{"rootfs nbd", "lxc.rootfs.path = nbd:/srv/img", `config:1: lxc.rootfs.path: not supported by lxc-shim: rootfs storage "nbd" (dir, btrfs, overlay, loop, lvm, zfs or a block device path)`},
		{"rootfs rbd", "lxc.rootfs.path = rbd:pool/img", `config:1: lxc.rootfs.path: not supported by lxc-shim: rootfs storage "rbd" (dir, btrfs, overlay, loop, lvm, zfs or a block device path)`},
		{"rootfs unknown", "lxc.rootfs.path = floppy:/a", `config:1: lxc.rootfs.path: unknown rootfs storage "floppy" in "floppy:/a" (dir, btrfs, overlay, overlayfs, loop, lvm, zfs, or an absolute path)`},
		{"overlay one layer", "lxc.rootfs.path = overlay:/a", `config:1: lxc.rootfs.path: overlay:/a: overlay needs LOWER:UPPER, both absolute paths`},
		{"overlay relative lower", "lxc.rootfs.path = overlay:a:/b", `config:1: lxc.rootfs.path: overlay:a:/b: overlay lower layer "a" must be an absolute path`},
		{"loop relative", "lxc.rootfs.path = loop:img", `config:1: lxc.rootfs.path: rootfs path "img" must be absolute`},
		{"zfs path", "lxc.rootfs.path = zfs:/tank", `config:1: lxc.rootfs.path: zfs:/tank: a ZFS dataset is POOL/NAME (zfs:POOL/NAME)`},
		{"rootfs relative", "lxc.rootfs.path = rootfs", `config:1: lxc.rootfs.path: rootfs path "rootfs" must be absolute`},
		{"hook relative", "lxc.hook.pre-start = bin/true arg", `config:1: lxc.hook.pre-start: hook path "bin/true" must be absolute`},
		{"hook version", "lxc.hook.version = 2", `config:1: lxc.hook.version: invalid hook version "2": 0 (arguments) or 1 (environment)`},
		{"prlimit name", "lxc.prlimit.nofle = 1024", `config:1: lxc.prlimit.nofle: unknown resource "nofle" (did you mean "nofile"?)`},
		{"prlimit order", "lxc.prlimit.nofile = 2048:1024", `config:1: lxc.prlimit.nofile: soft limit 2048 above hard limit 1024`},
		{"mount auto", "lxc.mount.auto = proc:ro", `config:1: lxc.mount.auto: invalid lxc.mount.auto "proc:ro": proc takes mixed or rw`},
		{"idmap", "lxc.idmap = u 0 100000", `config:1: lxc.idmap: invalid id map "u 0 100000": want "u|g CONTAINERID HOSTID COUNT"`},
		{"ipvlan", "lxc.net.0.type = ipvlan", `config:1: lxc.net.0.type: not supported by lxc-shim: ipvlan networks`},
		{"ephemeral", "lxc.ephemeral = 1", `config:1: lxc.ephemeral: not supported by lxc-shim: ephemeral containers (deleted when stopped)`},
		{"arch", "lxc.arch = sparc", `config:1: lxc.arch: unknown architecture "sparc"`},
		{"log level", "lxc.log.level = loud", `config:1: lxc.log.level: unknown log level "loud" (one of trace, debug, info, notice, warn, error, crit, alert, fatal, or 0-8)`},
		{"namespace", "lxc.namespace.clone = net foo", `config:1: lxc.namespace.clone: unknown namespace "foo" (one of cgroup, ipc, mnt, net, pid, time, user, uts)`},
		{"sysctl alone", "lxc.sysctl = 1", `config:1: lxc.sysctl: lxc.sysctl needs a sub-key (lxc.sysctl.NAME = VALUE); alone it only takes an empty value, which clears them`},
		{"tty dir", "lxc.tty.dir = a/b", `config:1: lxc.tty.dir: invalid directory name "a/b": one path component under /dev`},
		{"include missing", "lxc.include = missing.conf", `config:1: lxc.include: include: stat missing.conf: no such file or directory`},
		{"legacy bad value", "lxc.utsname = a b", `config:1: lxc.utsname (lxc.uts.name): invalid host name "a b": at most 64 bytes, no white space or '/'`},
		{"legacy net bad", "lxc.network.type = veth\nlxc.network.ipv4 = 10.1.1.1/40", `config:2: lxc.network.ipv4 (lxc.net.0.ipv4.address): invalid prefix length in "10.1.1.1/40"`},
		{"legacy pts", "lxc.pts = many", `config:1: lxc.pts (lxc.pty.max): invalid number "many"`},
		{"legacy link", "lxc.network.type = veth\nlxc.network.link = a/b", `config:2: lxc.network.link (lxc.net.0.link): invalid interface name "a/b"`},
		{"fstab line", "lxc.mount.fstab = fstab", `fstab:2: lxc.mount.fstab: invalid mount entry "none proc": want "SOURCE TARGET FSTYPE [OPTIONS [DUMP [PASS]]]"`},
		{"fstab missing", "lxc.mount.fstab = nofile", `config:1: lxc.mount.fstab: read fstab nofile: no such file or directory`},
		{"console path", "lxc.console.path = tty1", `config:1: lxc.console.path: console path "tty1" must be "none" or an absolute path`},
		{"time ns", "lxc.time.offset.boot = 10s", `config:1: lxc.time.offset.boot: not supported by lxc-shim: time namespace offsets`},
	}
	if len(tests) < 30 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			extra := map[string]string{"fstab": "proc proc proc defaults 0 0\nnone proc\n"}
			_, err, dir := loadText(t, tc.text, extra, hostNoLSM)
			if err == nil {
				t.Fatalf("no error for %q", tc.text)
			}
			got := errLines(t, err, dir)
			for i := range got {
				got[i] = replaceDir(got[i], dir)
			}
			equalLines(t, "errors", got, []string{tc.want})
		})
	}
}

func replaceDir(s, dir string) string {
	for {
		i := indexOf(s, dir)
		if i < 0 {
			return s
		}
		s = s[:i] + "DIR" + s[i+len(dir):]
	}
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
