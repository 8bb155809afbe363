package config

import (
	"sort"
	"strings"
)

// lxcKeys are the keys of LXC 5's lxc.container.conf(5) and its config
// jump table (src/lxc/confile.c). A key ending in "." takes a sub-key
// (lxc.cgroup.memory.max, lxc.prlimit.nofile); "lxc.net.N." keys are in
// netKeys.
var lxcKeys = []string{
	"lxc.arch",
	"lxc.apparmor.profile", "lxc.apparmor.allow_incomplete",
	"lxc.apparmor.allow_nesting", "lxc.apparmor.raw",
	"lxc.autodev.tmpfs.size", "lxc.autodev",
	"lxc.cap.drop", "lxc.cap.keep",
	"lxc.cgroup2.",
	"lxc.cgroup.dir.monitor.pivot", "lxc.cgroup.dir.monitor",
	"lxc.cgroup.dir.container.inner", "lxc.cgroup.dir.container",
	"lxc.cgroup.dir", "lxc.cgroup.relative", "lxc.cgroup.",
	"lxc.console.buffer.size", "lxc.console.logfile", "lxc.console.path",
	"lxc.console.rotate", "lxc.console.size",
	"lxc.environment", "lxc.ephemeral", "lxc.execute.cmd", "lxc.group",
	"lxc.hook.autodev", "lxc.hook.clone", "lxc.hook.destroy", "lxc.hook.mount",
	"lxc.hook.post-stop", "lxc.hook.pre-mount", "lxc.hook.pre-start",
	"lxc.hook.start", "lxc.hook.start-host", "lxc.hook.stop",
	"lxc.hook.version", "lxc.hook",
	"lxc.idmap", "lxc.include",
	"lxc.init.cmd", "lxc.init.gid", "lxc.init.groups", "lxc.init.uid", "lxc.init.cwd",
	"lxc.keyring.session",
	"lxc.log.file", "lxc.log.level", "lxc.log.syslog",
	"lxc.monitor.unshare", "lxc.monitor.signal.pdeath",
	"lxc.mount.auto", "lxc.mount.entry", "lxc.mount.fstab",
	"lxc.namespace.clone", "lxc.namespace.keep", "lxc.namespace.share.",
	"lxc.time.offset.boot", "lxc.time.offset.monotonic",
	"lxc.net.", "lxc.net",
	"lxc.no_new_privs", "lxc.prlimit.", "lxc.pty.max",
	"lxc.rootfs.managed", "lxc.rootfs.mount", "lxc.rootfs.options", "lxc.rootfs.path",
	"lxc.seccomp.allow_nesting", "lxc.seccomp.notify.cookie",
	"lxc.seccomp.notify.proxy", "lxc.seccomp.profile",
	"lxc.selinux.context.keyring", "lxc.selinux.context",
	"lxc.signal.halt", "lxc.signal.reboot", "lxc.signal.stop",
	"lxc.start.auto", "lxc.start.delay", "lxc.start.order",
	"lxc.tty.dir", "lxc.tty.max", "lxc.uts.name",
	"lxc.sysctl.", "lxc.proc.",
}

// netKeys are the sub-keys of lxc.net.N.
var netKeys = []string{
	"flags", "hwaddr", "ipv4.address", "ipv4.gateway", "ipv6.address",
	"ipv6.gateway", "link", "l2proxy", "macvlan.mode", "ipvlan.mode",
	"ipvlan.isolation", "mtu", "name", "script.down", "script.up", "type",
	"vlan.id", "veth.mode", "veth.pair", "veth.ipv4.route", "veth.ipv6.route",
	"veth.vlan.id", "veth.vlan.tagged.id",
}

// KnownKeys lists every key the reader recognises, as LXC 5 documents them:
// "lxc.net.N.type" stands for every network index, a trailing "." for a
// key that takes a sub-key (lxc.cgroup.memory.max).
func KnownKeys() []string {
	var out []string
	for _, k := range lxcKeys {
		if k != "lxc.net." {
			out = append(out, k)
		}
	}
	for _, k := range netKeys {
		out = append(out, "lxc.net.N."+k)
	}
	sort.Strings(out)
	return out
}

// suggestKey proposes the known key nearest to an unknown one.
func suggestKey(key string) string {
	var cands []string
	for _, k := range lxcKeys {
		if !strings.HasSuffix(k, ".") {
			cands = append(cands, k)
		}
	}
	for k := range legacyKeys {
		cands = append(cands, k)
	}
	// A sub-key family: suggest on the family's prefix.
	for _, k := range lxcKeys {
		if strings.HasSuffix(k, ".") && k != "lxc.net." {
			cands = append(cands, strings.TrimSuffix(k, "."))
		}
	}
	if best := closest(key, cands); best != "" {
		return best
	}
	// Compare a longer key's head with the families ("lxc.sysctls.x").
	for _, k := range lxcKeys {
		if strings.HasSuffix(k, ".") && k != "lxc.net." {
			if head := headLike(key, k); head != "" {
				return k + head
			}
		}
	}
	return ""
}

// headLike checks whether key looks like family (a key taking a sub-key)
// with a typo in the family part, returning the sub-key part if so.
func headLike(key, family string) string {
	fam := strings.TrimSuffix(family, ".")
	n := strings.Count(fam, ".") + 1
	parts := strings.SplitN(key, ".", n+1)
	if len(parts) <= n {
		return ""
	}
	head := strings.Join(parts[:n], ".")
	if head != fam && editDistance(head, fam) <= 2 {
		return parts[n]
	}
	return ""
}
