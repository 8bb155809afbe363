package config

import (
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// keyHandler applies one line of a key to the builder: p.Key is the key as
// LXC 3+ names it, v the value. An empty value resets the key to its
// default (or clears a list), as in LXC.
type keyHandler func(b *builder, p Pos, v string)

// familyHandler applies one line of a key of a family: sub is what follows
// the family's prefix ("memory.max" of lxc.cgroup2.memory.max).
type familyHandler func(b *builder, p Pos, sub, v string)

// keyEntry is one key of the table and what it does.
type keyEntry struct {
	key string
	set keyHandler
}

// familyEntry is a family of keys PREFIX.SUB.
type familyEntry struct {
	prefix string // with its trailing "."
	// open: any SUB is a key of the family (set checks it) and KnownKeys
	// lists the family by its prefix ("lxc.cgroup2."). Otherwise the
	// family's keys are listed one by one (lxc.hook.X in the table,
	// lxc.net.N.X in netKeys) and the prefix only gives an unknown one a
	// better error than "unknown key".
	open bool
	// bare: the prefix without its "." is a key of the family too, with an
	// empty sub-key (LXC: "lxc.sysctl =" clears every lxc.sysctl.X).
	bare bool
	// except: keys under the prefix that are none of the family's (the
	// lxc.cgroup.dir* keys are no cgroup v1 files; a misspelt one is an
	// unknown key).
	except string
	set    familyHandler
}

// keyTable is every key the reader recognises and what each does: the one
// list behind apply, KnownKeys and the did-you-mean suggestions.
type keyTable struct {
	// keys are in the order of LXC 5's lxc.container.conf(5); suggestions
	// take the first of equally near keys.
	keys []keyEntry
	// families are in the same order, for the same reason.
	families []familyEntry
	index    map[string]keyHandler
}

// lookup is the handler of key: its own entry, else its family's (with the
// sub-key), else neither. A key's own entry comes first: lxc.cgroup.relative
// and lxc.hook.start are keys of their own under a family's prefix.
func (t *keyTable) lookup(key string) (keyHandler, familyHandler, string) {
	if set, ok := t.index[key]; ok {
		return set, nil, ""
	}
	for _, f := range t.families {
		if f.except != "" && strings.HasPrefix(key, f.except) {
			continue
		}
		if sub, ok := strings.CutPrefix(key, f.prefix); ok {
			return nil, f.set, sub
		}
		if f.bare && key == strings.TrimSuffix(f.prefix, ".") {
			return nil, f.set, ""
		}
	}
	return nil, nil, ""
}

// newKeyTable builds the table of LXC 5's keys (lxc.container.conf(5) and
// the config jump table of src/lxc/confile.c).
func newKeyTable() *keyTable {
	t := &keyTable{
		keys: []keyEntry{
			{"lxc.arch", func(b *builder, p Pos, v string) {
				c := b.cfg
				if v == "" {
					c.Arch, c.Personality = "", 0
					return
				}
				arch, pers, err := parseArch(v)
				if err != nil {
					b.errorf(p, "%v", err)
					return
				}
				c.Arch, c.Personality = arch, pers
			}},
			{"lxc.apparmor.profile", (*builder).apparmor},
			{"lxc.apparmor.allow_incomplete", (*builder).apparmor},
			{"lxc.apparmor.allow_nesting", (*builder).apparmor},
			{"lxc.apparmor.raw", (*builder).apparmor},
			{"lxc.autodev.tmpfs.size", intField(0, 1<<20, func(c *Config) *int { return &c.AutodevTmpfsSizeMB })},
			{"lxc.autodev", func(b *builder, p Pos, v string) {
				if v == "" {
					b.cfg.Autodev = true
					return
				}
				b.boolKey(p, v, &b.cfg.Autodev)
			}},
			{"lxc.cap.drop", (*builder).capDrop},
			{"lxc.cap.keep", (*builder).capKeep},
			{"lxc.cgroup.dir.monitor.pivot", ignored(noMonitorCgroup)},
			{"lxc.cgroup.dir.monitor", ignored(noMonitorCgroup)},
			{"lxc.cgroup.dir.container.inner", refused("no inner cgroup is created")},
			{"lxc.cgroup.dir.container", (*builder).cgroupDir},
			{"lxc.cgroup.dir", (*builder).cgroupDir},
			{"lxc.cgroup.relative", boolField(func(c *Config) *bool { return &c.Cgroup.Relative })},
			{"lxc.console.buffer.size", func(b *builder, p Pos, v string) {
				b.consoleSize(p, v, &b.cfg.Console.BufferSize, true)
			}},
			{"lxc.console.logfile", absPath(func(c *Config) *string { return &c.Console.Logfile })},
			{"lxc.console.path", func(b *builder, p Pos, v string) {
				if v != "" && v != "none" && !filepath.IsAbs(v) {
					b.errorf(p, "console path %q must be \"none\" or an absolute path", v)
					return
				}
				b.cfg.Console.Path, b.cfg.Console.Pos = v, p
			}},
			{"lxc.console.rotate", boolField(func(c *Config) *bool { return &c.Console.Rotate })},
			{"lxc.console.size", func(b *builder, p Pos, v string) {
				b.consoleSize(p, v, &b.cfg.Console.Size, false)
			}},
			{"lxc.environment", (*builder).environment},
			{"lxc.ephemeral", func(b *builder, p Pos, v string) {
				var on bool
				if b.boolKey(p, v, &on) && on {
					b.notSupported(p, "ephemeral containers (deleted when stopped)")
				}
			}},
			{"lxc.execute.cmd", ignored("used by lxc-execute only; ignored")},
			{"lxc.group", (*builder).group},
			{"lxc.hook.autodev", (*builder).hook},
			{"lxc.hook.clone", ignored(copyDestroyHook)},
			{"lxc.hook.destroy", ignored(copyDestroyHook)},
			{"lxc.hook.mount", (*builder).hook},
			{"lxc.hook.post-stop", (*builder).hook},
			{"lxc.hook.pre-mount", (*builder).hook},
			{"lxc.hook.pre-start", (*builder).hook},
			{"lxc.hook.start", (*builder).hook},
			{"lxc.hook.start-host", (*builder).hook},
			{"lxc.hook.stop", (*builder).hook},
			{"lxc.hook.version", func(b *builder, p Pos, v string) {
				switch v {
				case "", "0":
					b.cfg.HookVersion = 0
				case "1":
					b.cfg.HookVersion = 1
				default:
					b.errorf(p, "invalid hook version %q: 0 (arguments) or 1 (environment)", v)
				}
			}},
			{"lxc.hook", func(b *builder, p Pos, v string) {
				if v != "" {
					b.errorf(p, "lxc.hook takes no value (an empty value clears every hook)")
					return
				}
				b.cfg.Hooks = nil
			}},
			{"lxc.idmap", func(b *builder, p Pos, v string) {
				c := b.cfg
				if v == "" {
					c.Security.IDMap = nil
					return
				}
				m, err := parseIDMap(v)
				if err != nil {
					b.errorf(p, "%v", err)
					return
				}
				m.Pos = p
				c.Security.IDMap = append(c.Security.IDMap, m)
				c.Security.IDMapPos = p
			}},
			// The reader follows lxc.include where it reads it (read.go):
			// no line of it reaches the builder.
			{"lxc.include", func(*builder, Pos, string) {}},
			{"lxc.init.cmd", func(b *builder, p Pos, v string) {
				c := b.cfg
				if v == "" {
					c.Init.Cmd, c.Init.Pos = []string{"/sbin/init"}, Pos{}
					return
				}
				args, err := splitQuoted(v)
				if err != nil {
					b.errorf(p, "%v", err)
					return
				}
				c.Init.Cmd, c.Init.Pos = args, p
			}},
			{"lxc.init.gid", intField(0, 1<<32-2, func(c *Config) *int { return &c.Init.GID })},
			{"lxc.init.groups", (*builder).initGroups},
			{"lxc.init.uid", intField(0, 1<<32-2, func(c *Config) *int { return &c.Init.UID })},
			{"lxc.init.cwd", absPath(func(c *Config) *string { return &c.Init.Cwd })},
			{"lxc.keyring.session", func(b *builder, p Pos, v string) {
				var on bool
				if b.boolKey(p, v, &on) {
					b.cfg.Security.NoKeyringSession = v != "" && !on
				}
			}},
			{"lxc.log.file", absPath(func(c *Config) *string { return &c.Log.File })},
			{"lxc.log.level", func(b *builder, p Pos, v string) {
				if v == "" {
					b.cfg.Log.Level = ""
					return
				}
				lvl, err := parseLogLevel(v)
				if err != nil {
					b.errorf(p, "%v", err)
					return
				}
				b.cfg.Log.Level = lvl
			}},
			{"lxc.log.syslog", (*builder).logSyslog},
			{"lxc.monitor.unshare", func(b *builder, p Pos, v string) {
				var on bool
				if b.boolKey(p, v, &on) && on {
					b.warnf(p, "ignored: lxc-shim has no separate monitor process to unshare")
				}
			}},
			{"lxc.monitor.signal.pdeath", func(b *builder, p Pos, v string) {
				if v == "" {
					return
				}
				if _, ok := b.signal(p, v); ok {
					b.warnf(p, "ignored: a container outlives its supervisor by design (lxc-initd stop/cleanup still work)")
				}
			}},
			{"lxc.mount.auto", (*builder).mountAuto},
			{"lxc.mount.entry", (*builder).mountEntry},
			{"lxc.mount.fstab", func(b *builder, p Pos, v string) {
				b.cfg.MountFstab, b.fstab = v, p
			}},
			{"lxc.namespace.clone", (*builder).namespaces},
			{"lxc.namespace.keep", (*builder).namespaces},
			{"lxc.time.offset.boot", timeOffset},
			{"lxc.time.offset.monotonic", timeOffset},
			{"lxc.net", func(b *builder, p Pos, v string) {
				if v != "" {
					b.errorf(p, "lxc.net takes no value (an empty value removes every network)")
					return
				}
				b.nets = map[int]*netState{}
			}},
			{"lxc.no_new_privs", boolField(func(c *Config) *bool { return &c.Security.NoNewPrivs })},
			{"lxc.pty.max", intField(0, 1<<20, func(c *Config) *int { return &c.PTYMax })},
			{"lxc.rootfs.managed", func(b *builder, p Pos, v string) { b.boolKey(p, v, nil) }},
			{"lxc.rootfs.mount", func(b *builder, p Pos, v string) {
				absPath(func(c *Config) *string { return &c.Rootfs.Mount })(b, p, v)
				b.cfg.Rootfs.MountPos = p
			}},
			{"lxc.rootfs.options", (*builder).rootfsOptions},
			{"lxc.rootfs.path", (*builder).rootfs},
			{"lxc.seccomp.allow_nesting", boolField(func(c *Config) *bool { return &c.Security.SeccompAllowNesting })},
			{"lxc.seccomp.notify.cookie", refused("seccomp notification proxy")},
			{"lxc.seccomp.notify.proxy", refused("seccomp notification proxy")},
			{"lxc.seccomp.profile", func(b *builder, p Pos, v string) {
				absPath(func(c *Config) *string { return &c.Security.SeccompProfile })(b, p, v)
				b.cfg.Security.SeccompPos = p
			}},
			{"lxc.selinux.context.keyring", selinux(func(c *Config) *string { return &c.Security.SELinuxKeyringContext })},
			{"lxc.selinux.context", selinux(func(c *Config) *string { return &c.Security.SELinuxContext })},
			{"lxc.signal.halt", func(b *builder, p Pos, v string) {
				s := &b.cfg.Signals
				if v == "" {
					s.Halt, s.HaltSet = 0, false
					return
				}
				if sig, ok := b.signal(p, v); ok {
					s.Halt, s.HaltSet = sig, true
				}
			}},
			{"lxc.signal.reboot", signalField(func(c *Config) *syscall.Signal { return &c.Signals.Reboot })},
			{"lxc.signal.stop", signalField(func(c *Config) *syscall.Signal { return &c.Signals.Stop })},
			{"lxc.start.auto", boolField(func(c *Config) *bool { return &c.Start.Auto })},
			{"lxc.start.delay", intField(0, 1<<31-1, func(c *Config) *int { return &c.Start.Delay })},
			{"lxc.start.order", intField(-(1 << 31), 1<<31-1, func(c *Config) *int { return &c.Start.Order })},
			{"lxc.tty.dir", func(b *builder, p Pos, v string) {
				if v != "" && (strings.ContainsAny(v, "/ \t") || v == "." || v == "..") {
					b.errorf(p, "invalid directory name %q: one path component under /dev", v)
					return
				}
				b.cfg.TTY.Dir = v
			}},
			{"lxc.tty.max", intField(0, 1024, func(c *Config) *int { return &c.TTY.Max })},
			{"lxc.uts.name", func(b *builder, p Pos, v string) {
				if len(v) > 64 || strings.ContainsAny(v, " \t/") {
					b.errorf(p, "invalid host name %q: at most 64 bytes, no white space or '/'", v)
					return
				}
				b.cfg.UTSName, b.cfg.UTSPos = v, p
			}},
		},
		families: []familyEntry{
			{prefix: "lxc.cgroup2.", open: true, set: func(b *builder, p Pos, sub, v string) {
				b.cgroupKey(p, 2, sub, v)
			}},
			{prefix: "lxc.cgroup.", open: true, except: "lxc.cgroup.dir", set: func(b *builder, p Pos, sub, v string) {
				b.cgroupKey(p, 1, sub, v)
			}},
			{prefix: "lxc.namespace.share.", open: true, set: (*builder).nsShare},
			{prefix: "lxc.net.", set: (*builder).net},
			{prefix: "lxc.prlimit.", open: true, set: (*builder).prlimit},
			{prefix: "lxc.sysctl.", open: true, bare: true, set: func(b *builder, p Pos, _, v string) {
				b.cfg.Sysctls = b.keyValue(p, b.cfg.Sysctls, "lxc.sysctl", v)
			}},
			{prefix: "lxc.proc.", open: true, bare: true, set: func(b *builder, p Pos, _, v string) {
				b.cfg.Proc = b.keyValue(p, b.cfg.Proc, "lxc.proc", v)
			}},
			{prefix: "lxc.hook.", set: func(b *builder, p Pos, _, v string) {
				if v != "" {
					b.errorf(p, "unknown hook (did you mean %q?)", suggestKey(p.Key))
				}
			}},
		},
	}
	t.index = make(map[string]keyHandler, len(t.keys))
	for _, k := range t.keys {
		t.index[k.key] = k.set
	}
	return t
}

// Handlers shared by several keys of the table.

// Messages of keys that share a handler.
const (
	noMonitorCgroup = "ignored: the supervisor (lxc-shim) has no separate monitor cgroup"
	copyDestroyHook = "used by lxc-copy/lxc-destroy only; ignored"
)

// refused refuses a key unless it is empty (LXC's default).
func refused(why string) keyHandler {
	return func(b *builder, p Pos, v string) {
		if v != "" {
			b.notSupported(p, why)
		}
	}
}

// ignored takes a key lxc-shim has no use for, with a warning unless it is
// empty.
func ignored(why string) keyHandler {
	return func(b *builder, p Pos, v string) {
		if v != "" {
			b.warnf(p, "%s", why)
		}
	}
}

func timeOffset(b *builder, p Pos, v string) {
	if v != "" && strings.TrimRight(strings.TrimLeft(v, "+-0"), "hmsun") != "" {
		b.notSupported(p, "time namespace offsets")
	}
}

// selinux sets an SELinux context, or warns that the host has no SELinux.
func selinux(field func(*Config) *string) keyHandler {
	return func(b *builder, p Pos, v string) {
		if v == "" {
			return
		}
		if !b.opts.SELinux() {
			b.warnf(p, "skipped: SELinux is not enabled on this host (LXC does the same)")
			return
		}
		*field(b.cfg) = v
	}
}

// absPath sets a path that must be absolute (or empty).
func absPath(field func(*Config) *string) keyHandler {
	return func(b *builder, p Pos, v string) {
		if v != "" && !filepath.IsAbs(v) {
			b.errorf(p, "path %q must be absolute", v)
			return
		}
		*field(b.cfg) = v
	}
}

// signalField sets a signal; empty is 0, which finish makes LXC's default.
func signalField(field func(*Config) *syscall.Signal) keyHandler {
	return func(b *builder, p Pos, v string) {
		if v == "" {
			*field(b.cfg) = 0
			return
		}
		if s, ok := b.signal(p, v); ok {
			*field(b.cfg) = s
		}
	}
}

func boolField(field func(*Config) *bool) keyHandler {
	return func(b *builder, p Pos, v string) { b.boolKey(p, v, field(b.cfg)) }
}

func intField(lo, hi int64, field func(*Config) *int) keyHandler {
	return func(b *builder, p Pos, v string) { b.intKey(p, v, lo, hi, field(b.cfg)) }
}

// KnownKeys lists every key the reader recognises, as LXC 5 documents them:
// "lxc.net.N.type" stands for every network index, a trailing "." for a
// key that takes a sub-key (lxc.cgroup.memory.max).
func KnownKeys() []string {
	t := newKeyTable()
	var out []string
	for _, k := range t.keys {
		out = append(out, k.key)
	}
	for _, f := range t.families {
		if f.open {
			out = append(out, f.prefix)
		}
	}
	for _, k := range netKeys() {
		out = append(out, "lxc.net.N."+k.sub)
	}
	sort.Strings(out)
	return out
}

// suggestKey proposes the known key nearest to an unknown one.
func suggestKey(key string) string {
	t := newKeyTable()
	var cands []string
	for _, k := range t.keys {
		cands = append(cands, k.key)
	}
	for k := range legacyKeys {
		cands = append(cands, k)
	}
	// A sub-key family: suggest on the family's prefix.
	for _, f := range t.families {
		if f.open {
			cands = append(cands, strings.TrimSuffix(f.prefix, "."))
		}
	}
	if best := closest(key, cands); best != "" {
		return best
	}
	// Compare a longer key's head with the families ("lxc.sysctls.x").
	for _, f := range t.families {
		if f.open {
			if head := headLike(key, f.prefix); head != "" {
				return f.prefix + head
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
