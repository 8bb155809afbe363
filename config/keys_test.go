package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// keySamples is one valid-looking line for every key LXC 5 knows (the
// key as KnownKeys spells it -> the config text that exercises it).
var keySamples = map[string]string{
	"lxc.arch":                       "lxc.arch = x86_64",
	"lxc.apparmor.profile":           "lxc.apparmor.profile = generated",
	"lxc.apparmor.allow_incomplete":  "lxc.apparmor.allow_incomplete = 1",
	"lxc.apparmor.allow_nesting":     "lxc.apparmor.allow_nesting = 1",
	"lxc.apparmor.raw":               "lxc.apparmor.raw = mount,",
	"lxc.autodev.tmpfs.size":         "lxc.autodev.tmpfs.size = 10",
	"lxc.autodev":                    "lxc.autodev = 0",
	"lxc.cap.drop":                   "lxc.cap.drop = sys_admin sys_module",
	"lxc.cap.keep":                   "lxc.cap.keep = chown setuid",
	"lxc.cgroup2.":                   "lxc.cgroup2.memory.max = 1G",
	"lxc.cgroup.dir.monitor.pivot":   "lxc.cgroup.dir.monitor.pivot = pivot",
	"lxc.cgroup.dir.monitor":         "lxc.cgroup.dir.monitor = mon",
	"lxc.cgroup.dir.container.inner": "lxc.cgroup.dir.container.inner = inner",
	"lxc.cgroup.dir.container":       "lxc.cgroup.dir.container = lxc-shim/ct/c1",
	"lxc.cgroup.dir":                 "lxc.cgroup.dir = lxc-shim/ct/c1",
	"lxc.cgroup.relative":            "lxc.cgroup.relative = 1",
	"lxc.cgroup.":                    "lxc.cgroup.memory.limit_in_bytes = 1G",
	"lxc.console.buffer.size":        "lxc.console.buffer.size = auto",
	"lxc.console.logfile":            "lxc.console.logfile = /var/log/c1.console",
	"lxc.console.path":               "lxc.console.path = none",
	"lxc.console.rotate":             "lxc.console.rotate = 1",
	"lxc.console.size":               "lxc.console.size = 1M",
	"lxc.environment":                "lxc.environment = TERM=linux",
	"lxc.ephemeral":                  "lxc.ephemeral = 1",
	"lxc.execute.cmd":                "lxc.execute.cmd = /bin/sh",
	"lxc.group":                      "lxc.group = onboot",
	"lxc.hook.autodev":               "lxc.hook.autodev = /bin/true",
	"lxc.hook.clone":                 "lxc.hook.clone = /bin/true",
	"lxc.hook.destroy":               "lxc.hook.destroy = /bin/true",
	"lxc.hook.mount":                 "lxc.hook.mount = /bin/true",
	"lxc.hook.post-stop":             "lxc.hook.post-stop = /bin/true",
	"lxc.hook.pre-mount":             "lxc.hook.pre-mount = /bin/true",
	"lxc.hook.pre-start":             "lxc.hook.pre-start = /bin/true",
	"lxc.hook.start":                 "lxc.hook.start = /bin/true",
	"lxc.hook.start-host":            "lxc.hook.start-host = /bin/true",
	"lxc.hook.stop":                  "lxc.hook.stop = /bin/true",
	"lxc.hook.version":               "lxc.hook.version = 1",
	"lxc.hook":                       "lxc.hook =",
	"lxc.idmap":                      "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536",
	"lxc.include":                    "lxc.include = fstab.conf",
	"lxc.init.cmd":                   "lxc.init.cmd = /sbin/init splash",
	"lxc.init.gid":                   "lxc.init.gid = 10",
	"lxc.init.groups":                "lxc.init.groups = 1,2",
	"lxc.init.uid":                   "lxc.init.uid = 10",
	"lxc.init.cwd":                   "lxc.init.cwd = /root",
	"lxc.keyring.session":            "lxc.keyring.session = 0",
	"lxc.log.file":                   "lxc.log.file = /var/log/c1.log",
	"lxc.log.level":                  "lxc.log.level = info",
	"lxc.log.syslog":                 "lxc.log.syslog = daemon",
	"lxc.monitor.unshare":            "lxc.monitor.unshare = 1",
	"lxc.monitor.signal.pdeath":      "lxc.monitor.signal.pdeath = SIGKILL",
	"lxc.mount.auto":                 "lxc.mount.auto = proc:mixed sys:ro cgroup:mixed:force",
	"lxc.mount.entry":                "lxc.mount.entry = proc proc proc defaults 0 0",
	"lxc.mount.fstab":                "lxc.mount.fstab = fstab",
	"lxc.namespace.clone":            "lxc.namespace.clone = mnt pid net",
	"lxc.namespace.keep":             "lxc.namespace.keep = user",
	"lxc.namespace.share.":           "lxc.namespace.share.net = other",
	"lxc.time.offset.boot":           "lxc.time.offset.boot = 1h",
	"lxc.time.offset.monotonic":      "lxc.time.offset.monotonic = 5s",
	"lxc.net":                        "lxc.net =",
	"lxc.no_new_privs":               "lxc.no_new_privs = 1",
	"lxc.prlimit.":                   "lxc.prlimit.nofile = 1024:unlimited",
	"lxc.pty.max":                    "lxc.pty.max = 16",
	"lxc.rootfs.managed":             "lxc.rootfs.managed = 0",
	"lxc.rootfs.mount":               "lxc.rootfs.mount = /usr/lib/lxc/rootfs",
	"lxc.rootfs.options":             "lxc.rootfs.options = ro",
	"lxc.rootfs.path":                "lxc.rootfs.path = dir:/srv/c1/rootfs",
	"lxc.seccomp.allow_nesting":      "lxc.seccomp.allow_nesting = 1",
	"lxc.seccomp.notify.cookie":      "lxc.seccomp.notify.cookie = abc",
	"lxc.seccomp.notify.proxy":       "lxc.seccomp.notify.proxy = unix:/run/proxy",
	"lxc.seccomp.profile":            "lxc.seccomp.profile = /usr/share/lxc/config/common.seccomp",
	"lxc.selinux.context.keyring":    "lxc.selinux.context.keyring = system_u:object_r:x:s0",
	"lxc.selinux.context":            "lxc.selinux.context = system_u:system_r:lxc_t:s0",
	"lxc.signal.halt":                "lxc.signal.halt = SIGRTMIN+3",
	"lxc.signal.reboot":              "lxc.signal.reboot = SIGTERM",
	"lxc.signal.stop":                "lxc.signal.stop = SIGKILL",
	"lxc.start.auto":                 "lxc.start.auto = 1",
	"lxc.start.delay":                "lxc.start.delay = 5",
	"lxc.start.order":                "lxc.start.order = -1",
	"lxc.tty.dir":                    "lxc.tty.dir = lxc",
	"lxc.tty.max":                    "lxc.tty.max = 4",
	"lxc.uts.name":                   "lxc.uts.name = c1",
	"lxc.sysctl.":                    "lxc.sysctl.net.ipv4.ip_forward = 1",
	"lxc.proc.":                      "lxc.proc.oom_score_adj = 10",
	"lxc.net.N.flags":                "lxc.net.0.type = veth\nlxc.net.0.flags = up",
	"lxc.net.N.hwaddr":               "lxc.net.0.type = veth\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx",
	"lxc.net.N.ipv4.address":         "lxc.net.0.type = veth\nlxc.net.0.ipv4.address = 10.0.0.2/24",
	"lxc.net.N.ipv4.gateway":         "lxc.net.0.type = veth\nlxc.net.0.ipv4.gateway = 10.0.0.1",
	"lxc.net.N.ipv6.address":         "lxc.net.0.type = veth\nlxc.net.0.ipv6.address = fd00::2/64",
	"lxc.net.N.ipv6.gateway":         "lxc.net.0.type = veth\nlxc.net.0.ipv6.gateway = dev",
	"lxc.net.N.link":                 "lxc.net.0.type = veth\nlxc.net.0.link = br0",
	"lxc.net.N.l2proxy":              "lxc.net.0.type = veth\nlxc.net.0.l2proxy = 1",
	"lxc.net.N.macvlan.mode":         "lxc.net.0.type = macvlan\nlxc.net.0.link = eth0\nlxc.net.0.macvlan.mode = bridge",
	"lxc.net.N.ipvlan.mode":          "lxc.net.0.type = empty\nlxc.net.0.ipvlan.mode = l3",
	"lxc.net.N.ipvlan.isolation":     "lxc.net.0.type = empty\nlxc.net.0.ipvlan.isolation = bridge",
	"lxc.net.N.mtu":                  "lxc.net.0.type = veth\nlxc.net.0.mtu = 1400",
	"lxc.net.N.name":                 "lxc.net.0.type = veth\nlxc.net.0.name = eth5",
	"lxc.net.N.script.down":          "lxc.net.0.type = veth\nlxc.net.0.script.down = /bin/true",
	"lxc.net.N.script.up":            "lxc.net.0.type = veth\nlxc.net.0.script.up = /bin/true",
	"lxc.net.N.type":                 "lxc.net.0.type = phys\nlxc.net.0.link = dummy0",
	"lxc.net.N.vlan.id":              "lxc.net.0.type = vlan\nlxc.net.0.link = eth0\nlxc.net.0.vlan.id = 10",
	"lxc.net.N.veth.mode":            "lxc.net.0.type = veth\nlxc.net.0.veth.mode = router",
	"lxc.net.N.veth.pair":            "lxc.net.0.type = veth\nlxc.net.0.veth.pair = vethc1",
	"lxc.net.N.veth.ipv4.route":      "lxc.net.0.type = veth\nlxc.net.0.veth.ipv4.route = 10.1.0.0/16",
	"lxc.net.N.veth.ipv6.route":      "lxc.net.0.type = veth\nlxc.net.0.veth.ipv6.route = fd01::/64",
	"lxc.net.N.veth.vlan.id":         "lxc.net.0.type = veth\nlxc.net.0.veth.vlan.id = 10",
	"lxc.net.N.veth.vlan.tagged.id":  "lxc.net.0.type = veth\nlxc.net.0.veth.vlan.tagged.id = 10",
}

// TestEveryKeyRecognised: every key of LXC 5's lxc.container.conf(5) is
// either taken (maybe with a warning) or refused as not supported, never
// "unknown". The outcome of each is logged (go test -v) as the coverage
// table.
func TestEveryKeyRecognised(t *testing.T) {
	keys := KnownKeys()
	if len(keys) != 107 {
		t.Errorf("%d keys, want the 84 top-level and 23 network keys of LXC 5", len(keys))
	}
	for _, k := range keys {
		text, ok := keySamples[k]
		if !ok {
			t.Errorf("no sample for %s", k)
			continue
		}
		for _, opts := range []struct {
			name string
			o    Options
		}{{"no-lsm", hostNoLSM}, {"lsm", hostLSM}} {
			c, err, dir := loadText(t, text, map[string]string{
				"fstab":      "proc proc proc defaults 0 0\n",
				"fstab.conf": "lxc.mount.fstab = fstab\n",
			}, opts.o)
			outcome := "accepted"
			if err != nil {
				var errs *Errors
				if !errors.As(err, &errs) {
					t.Fatalf("%s: %v", k, err)
				}
				lines := diagLines(errs.List, dir)
				for _, l := range lines {
					if !strings.Contains(l, "not supported") {
						t.Errorf("%s (%s): %s", k, opts.name, l)
					}
				}
				outcome = "not supported"
			} else if len(c.Warnings) > 0 {
				outcome = "warning: " + c.Warnings[0].Message
			}
			t.Logf("%-32s %-7s %s", k, opts.name, outcome)
		}
	}
}

// knownKeysBefore is KnownKeys() as it was when keys.go still listed the
// keys a second time beside build.go's switch (lxcKeys, netKeys): turning
// that switch into the key table changed no key.
var knownKeysBefore = []string{
	"lxc.apparmor.allow_incomplete",
	"lxc.apparmor.allow_nesting",
	"lxc.apparmor.profile",
	"lxc.apparmor.raw",
	"lxc.arch",
	"lxc.autodev",
	"lxc.autodev.tmpfs.size",
	"lxc.cap.drop",
	"lxc.cap.keep",
	"lxc.cgroup.",
	"lxc.cgroup.dir",
	"lxc.cgroup.dir.container",
	"lxc.cgroup.dir.container.inner",
	"lxc.cgroup.dir.monitor",
	"lxc.cgroup.dir.monitor.pivot",
	"lxc.cgroup.relative",
	"lxc.cgroup2.",
	"lxc.console.buffer.size",
	"lxc.console.logfile",
	"lxc.console.path",
	"lxc.console.rotate",
	"lxc.console.size",
	"lxc.environment",
	"lxc.ephemeral",
	"lxc.execute.cmd",
	"lxc.group",
	"lxc.hook",
	"lxc.hook.autodev",
	"lxc.hook.clone",
	"lxc.hook.destroy",
	"lxc.hook.mount",
	"lxc.hook.post-stop",
	"lxc.hook.pre-mount",
	"lxc.hook.pre-start",
	"lxc.hook.start",
	"lxc.hook.start-host",
	"lxc.hook.stop",
	"lxc.hook.version",
	"lxc.idmap",
	"lxc.include",
	"lxc.init.cmd",
	"lxc.init.cwd",
	"lxc.init.gid",
	"lxc.init.groups",
	"lxc.init.uid",
	"lxc.keyring.session",
	"lxc.log.file",
	"lxc.log.level",
	"lxc.log.syslog",
	"lxc.monitor.signal.pdeath",
	"lxc.monitor.unshare",
	"lxc.mount.auto",
	"lxc.mount.entry",
	"lxc.mount.fstab",
	"lxc.namespace.clone",
	"lxc.namespace.keep",
	"lxc.namespace.share.",
	"lxc.net",
	"lxc.net.N.flags",
	"lxc.net.N.hwaddr",
	"lxc.net.N.ipv4.address",
	"lxc.net.N.ipv4.gateway",
	"lxc.net.N.ipv6.address",
	"lxc.net.N.ipv6.gateway",
	"lxc.net.N.ipvlan.isolation",
	"lxc.net.N.ipvlan.mode",
	"lxc.net.N.l2proxy",
	"lxc.net.N.link",
	"lxc.net.N.macvlan.mode",
	"lxc.net.N.mtu",
	"lxc.net.N.name",
	"lxc.net.N.script.down",
	"lxc.net.N.script.up",
	"lxc.net.N.type",
	"lxc.net.N.veth.ipv4.route",
	"lxc.net.N.veth.ipv6.route",
	"lxc.net.N.veth.mode",
	"lxc.net.N.veth.pair",
	"lxc.net.N.veth.vlan.id",
	"lxc.net.N.veth.vlan.tagged.id",
	"lxc.net.N.vlan.id",
	"lxc.no_new_privs",
	"lxc.prlimit.",
	"lxc.proc.",
	"lxc.pty.max",
	"lxc.rootfs.managed",
	"lxc.rootfs.mount",
	"lxc.rootfs.options",
	"lxc.rootfs.path",
	"lxc.seccomp.allow_nesting",
	"lxc.seccomp.notify.cookie",
	"lxc.seccomp.notify.proxy",
	"lxc.seccomp.profile",
	"lxc.selinux.context",
	"lxc.selinux.context.keyring",
	"lxc.signal.halt",
	"lxc.signal.reboot",
	"lxc.signal.stop",
	"lxc.start.auto",
	"lxc.start.delay",
	"lxc.start.order",
	"lxc.sysctl.",
	"lxc.time.offset.boot",
	"lxc.time.offset.monotonic",
	"lxc.tty.dir",
	"lxc.tty.max",
	"lxc.uts.name",
}

func TestKnownKeysUnchanged(t *testing.T) {
	got := KnownKeys()
	for _, k := range got {
		if !slices.Contains(knownKeysBefore, k) {
			t.Errorf("KnownKeys() lists %s, a new key", k)
		}
	}
	for _, k := range knownKeysBefore {
		if !slices.Contains(got, k) {
			t.Errorf("KnownKeys() no longer lists %s", k)
		}
	}
	if !slices.Equal(got, knownKeysBefore) && !t.Failed() {
		t.Errorf("KnownKeys() lists the same keys, but not once each in sorted order:\n got %q\nwant %q", got, knownKeysBefore)
	}
}

// TestKeyTableIsTheOnlyList: KnownKeys is derived from the key table, so
// every key it lists reaches a handler through the same lookup apply uses,
// and every handler's key is listed; nothing is listed twice.
func TestKeyTableIsTheOnlyList(t *testing.T) {
	tab := newKeyTable()
	known := KnownKeys()
	seen := map[string]bool{}
	listed := func(k string) {
		t.Helper()
		if seen[k] {
			t.Errorf("%s is in the table twice", k)
		}
		seen[k] = true
		if !slices.Contains(known, k) {
			t.Errorf("%s has a handler but is not in KnownKeys()", k)
		}
	}
	for _, k := range tab.keys {
		if k.set == nil {
			t.Errorf("%s has no handler", k.key)
		}
		listed(k.key)
	}
	for _, f := range tab.families {
		if f.set == nil {
			t.Errorf("family %s has no handler", f.prefix)
		}
		if f.open {
			listed(f.prefix)
		}
	}
	for _, k := range netKeys() {
		if k.set == nil {
			t.Errorf("lxc.net.N.%s has no handler", k.sub)
		}
		listed("lxc.net.N." + k.sub)
	}
	for _, k := range known {
		if !seen[k] {
			t.Errorf("KnownKeys() lists %s, which has no handler", k)
			continue
		}
		// The lookup apply does reaches a handler for the key as a
		// config spells it.
		key := strings.Replace(k, "lxc.net.N.", "lxc.net.0.", 1)
		if strings.HasSuffix(key, ".") {
			key += "x"
		}
		if set, family, _ := tab.lookup(key); set == nil && family == nil {
			t.Errorf("%s (as %s) reaches no handler", k, key)
		}
	}
}

func TestRootfsStorage(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want Rootfs
	}{
		{"/srv/c/rootfs", Rootfs{Storage: StorageDir, Path: "/srv/c/rootfs"}},
		{"dir:/srv/c/rootfs/", Rootfs{Storage: StorageDir, Path: "/srv/c/rootfs"}},
		{"btrfs:/srv/c/rootfs", Rootfs{Storage: StorageBtrfs, Path: "/srv/c/rootfs"}},
		{"overlay:/var/lib/lxc/base/rootfs:/var/lib/lxc/c/delta0", Rootfs{Storage: StorageOverlay, Path: "/var/lib/lxc/base/rootfs",
			Lowers: []string{"/var/lib/lxc/base/rootfs"}, Upper: "/var/lib/lxc/c/delta0"}},
		{"overlayfs:/l1:/l2:/u", Rootfs{Storage: StorageOverlay, Path: "/l1", Lowers: []string{"/l1", "/l2"}, Upper: "/u"}},
		{"loop:/srv/c/rootdev", Rootfs{Storage: StorageLoop, Path: "/srv/c/rootdev"}},
		{"lvm:/dev/vg0/c", Rootfs{Storage: StorageLVM, Path: "/dev/vg0/c"}},
		{"zfs:tank/lxc/c", Rootfs{Storage: StorageZFS, Path: "tank/lxc/c"}},
	} {
		cfg, err, _ := loadText(t, "lxc.rootfs.path = "+tc.v+"\n", nil, Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.v, err)
		}
		got := cfg.Rootfs
		got.Pos = Pos{}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.v, got, tc.want)
		}
	}
}
