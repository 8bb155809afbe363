package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"syscall"

	"github.com/lxc-shim/lxc-shim/signals"
	"golang.org/x/sys/unix"
)

// maxNetIndex bounds lxc.net.N (LXC has no limit; nobody needs more).
const maxNetIndex = 1023

// netState is one lxc.net.N while reading: the network and where each of
// its sub-keys was set, for checks that need the whole network.
type netState struct {
	n     Network
	set   map[string]Pos
	type_ Pos
	// badType: the type line was an error already; no "has no type" too.
	badType bool
}

// builder applies entries, in order, to a Config.
type builder struct {
	cfg  *Config
	opts Options
	d    *diags

	nets     map[int]*netState
	entries  []Mount // lxc.mount.entry, targets not yet resolved
	fstab    Pos     // where lxc.mount.fstab was set
	v1, v2   []CgroupSetting
	devices  []DeviceRule // lxc.cgroup.devices.*
	devices2 []DeviceRule // lxc.cgroup2.devices.*
	dropPos  Pos
	keepPos  Pos
	autoCg   string // "cgroup" or "cgroup-full" given without a mode
	autoCgAt Pos
}

func newBuilder(name, path string, opts Options, d *diags) *builder {
	c := &Config{Name: name, File: path}
	defaults(c)
	return &builder{cfg: c, opts: opts, d: d, nets: map[int]*netState{}}
}

func (b *builder) errorf(p Pos, format string, args ...any) { b.d.errorf(p, format, args...) }
func (b *builder) warnf(p Pos, format string, args ...any)  { b.d.warnf(p, format, args...) }

func (b *builder) notSupported(p Pos, why string) {
	if why == "" {
		b.errorf(p, "not supported by lxc-shim")
		return
	}
	b.errorf(p, "not supported by lxc-shim: %s", why)
}

// apply handles one key. Empty values reset a key to its default (or clear
// a list), as in LXC.
func (b *builder) apply(e entry) {
	c, p, v := b.cfg, e.Pos, e.Value
	key := p.Key
	switch {
	case strings.HasPrefix(key, "lxc.net."):
		b.net(e)
		return
	case strings.HasPrefix(key, "lxc.cgroup2."):
		b.cgroupKey(p, 2, strings.TrimPrefix(key, "lxc.cgroup2."), v)
		return
	case strings.HasPrefix(key, "lxc.cgroup.") && !strings.HasPrefix(key, "lxc.cgroup.dir") && key != "lxc.cgroup.relative":
		b.cgroupKey(p, 1, strings.TrimPrefix(key, "lxc.cgroup."), v)
		return
	case strings.HasPrefix(key, "lxc.prlimit."):
		b.prlimit(p, strings.TrimPrefix(key, "lxc.prlimit."), v)
		return
	case strings.HasPrefix(key, "lxc.sysctl.") || key == "lxc.sysctl":
		c.Sysctls = b.keyValue(p, c.Sysctls, "lxc.sysctl", v)
		return
	case strings.HasPrefix(key, "lxc.proc.") || key == "lxc.proc":
		c.Proc = b.keyValue(p, c.Proc, "lxc.proc", v)
		return
	case strings.HasPrefix(key, "lxc.namespace.share."):
		b.nsShare(p, strings.TrimPrefix(key, "lxc.namespace.share."), v)
		return
	case strings.HasPrefix(key, "lxc.hook.") || key == "lxc.hook":
		b.hook(p, v)
		return
	}

	switch key {
	case "lxc.arch":
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
	case "lxc.uts.name":
		if len(v) > 64 || strings.ContainsAny(v, " \t/") {
			b.errorf(p, "invalid host name %q: at most 64 bytes, no white space or '/'", v)
			return
		}
		c.UTSName, c.UTSPos = v, p
	case "lxc.rootfs.path":
		b.rootfs(p, v)
	case "lxc.rootfs.options":
		c.Rootfs.Options = nil
		if v != "" {
			c.Rootfs.Options = strings.Split(v, ",")
		}
	case "lxc.rootfs.mount":
		if v != "" && !filepath.IsAbs(v) {
			b.errorf(p, "path %q must be absolute", v)
			return
		}
		c.Rootfs.Mount = v
	case "lxc.rootfs.managed":
		b.boolKey(p, v, nil)

	case "lxc.init.cmd":
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
	case "lxc.init.cwd":
		if v != "" && !filepath.IsAbs(v) {
			b.errorf(p, "path %q must be absolute", v)
			return
		}
		c.Init.Cwd = v
	case "lxc.init.uid":
		b.intKey(p, v, 0, 1<<32-2, &c.Init.UID)
	case "lxc.init.gid":
		b.intKey(p, v, 0, 1<<32-2, &c.Init.GID)
	case "lxc.init.groups":
		if v == "" {
			c.Init.Groups = nil
			return
		}
		for _, g := range strings.Split(v, ",") {
			n, err := parseRange(strings.TrimSpace(g), 0, 1<<32-2)
			if err != nil {
				b.errorf(p, "invalid group id: %v", err)
				return
			}
			c.Init.Groups = append(c.Init.Groups, int(n))
		}
	case "lxc.execute.cmd":
		if v != "" {
			b.warnf(p, "used by lxc-execute only; ignored")
		}

	case "lxc.console.path":
		if v != "" && v != "none" && !filepath.IsAbs(v) {
			b.errorf(p, "console path %q must be \"none\" or an absolute path", v)
			return
		}
		c.Console.Path, c.Console.Pos = v, p
	case "lxc.console.logfile":
		if v != "" && !filepath.IsAbs(v) {
			b.errorf(p, "path %q must be absolute", v)
			return
		}
		c.Console.Logfile = v
	case "lxc.console.size":
		b.consoleSize(p, v, &c.Console.Size, false)
	case "lxc.console.buffer.size":
		b.consoleSize(p, v, &c.Console.BufferSize, true)
	case "lxc.console.rotate":
		b.boolKey(p, v, &c.Console.Rotate)
	case "lxc.tty.max":
		b.intKey(p, v, 0, 1024, &c.TTY.Max)
	case "lxc.tty.dir":
		if v != "" && (strings.ContainsAny(v, "/ \t") || v == "." || v == "..") {
			b.errorf(p, "invalid directory name %q: one path component under /dev", v)
			return
		}
		c.TTY.Dir = v
	case "lxc.pty.max":
		b.intKey(p, v, 0, 1<<20, &c.PTYMax)
	case "lxc.autodev":
		if v == "" {
			c.Autodev = true
			return
		}
		b.boolKey(p, v, &c.Autodev)
	case "lxc.autodev.tmpfs.size":
		b.intKey(p, v, 0, 1<<20, &c.AutodevTmpfsSizeMB)

	case "lxc.mount.entry":
		if v == "" {
			b.entries = nil
			return
		}
		m, err := parseMount(v)
		if err != nil {
			b.errorf(p, "%v", err)
			return
		}
		m.Pos = p
		b.entries = append(b.entries, m)
	case "lxc.mount.fstab":
		c.MountFstab, b.fstab = v, p
	case "lxc.mount.auto":
		b.mountAuto(p, v)

	case "lxc.cap.drop":
		if v == "" {
			c.Caps.Drop = nil
			return
		}
		for _, name := range strings.Fields(v) {
			n, err := parseCap(name)
			if err != nil {
				b.errorf(p, "%v", err)
				continue
			}
			c.Caps.Drop = appendUnique(c.Caps.Drop, n)
		}
		b.dropPos = p
	case "lxc.cap.keep":
		if v == "" {
			c.Caps.Keep, c.Caps.KeepNone = nil, false
			return
		}
		for _, name := range strings.Fields(v) {
			if name == "none" {
				c.Caps.Keep, c.Caps.KeepNone = nil, true
				continue
			}
			n, err := parseCap(name)
			if err != nil {
				b.errorf(p, "%v", err)
				continue
			}
			c.Caps.Keep = appendUnique(c.Caps.Keep, n)
		}
		b.keepPos = p

	case "lxc.cgroup.dir", "lxc.cgroup.dir.container":
		if v != "" && (filepath.IsAbs(v) || slices.Contains(strings.Split(v, "/"), "..")) {
			b.errorf(p, "cgroup directory %q must be relative and stay inside the cgroup tree", v)
			return
		}
		// lxc-shim kills and removes what is in the container's cgroup:
		// only its own subtree may hold one, never a service's cgroup
		// (system.slice/...) nor the root of a hierarchy.
		if parts := strings.FieldsFunc(v, func(r rune) bool { return r == '/' }); v != "" && (len(parts) < 2 || parts[0] != CgroupParent) {
			b.errorf(p, "cgroup directory %q is outside lxc-shim's own subtree: use %s/NAME or %s/GROUP/NAME", v, CgroupParent, CgroupParent)
			return
		}
		c.Cgroup.Dir = v
	case "lxc.cgroup.dir.monitor", "lxc.cgroup.dir.monitor.pivot":
		if v != "" {
			b.warnf(p, "ignored: the supervisor (lxc-shim) has no separate monitor cgroup")
		}
	case "lxc.cgroup.dir.container.inner":
		if v != "" {
			b.notSupported(p, "no inner cgroup is created")
		}
	case "lxc.cgroup.relative":
		b.boolKey(p, v, &c.Cgroup.Relative)

	case "lxc.net":
		if v != "" {
			b.errorf(p, "lxc.net takes no value (an empty value removes every network)")
			return
		}
		b.nets = map[int]*netState{}

	case "lxc.signal.halt":
		if v == "" {
			c.Signals.Halt, c.Signals.HaltSet = 0, false
			return
		}
		if s, ok := b.signal(p, v); ok {
			c.Signals.Halt, c.Signals.HaltSet = s, true
		}
	case "lxc.signal.reboot":
		if v == "" {
			c.Signals.Reboot = 0
			return
		}
		if s, ok := b.signal(p, v); ok {
			c.Signals.Reboot = s
		}
	case "lxc.signal.stop":
		if v == "" {
			c.Signals.Stop = 0
			return
		}
		if s, ok := b.signal(p, v); ok {
			c.Signals.Stop = s
		}

	case "lxc.namespace.clone", "lxc.namespace.keep":
		var list []string
		for _, ns := range strings.Fields(v) {
			if !slices.Contains(namespaceNames, ns) {
				b.errorf(p, "unknown namespace %q (one of %s)", ns, strings.Join(namespaceNames, ", "))
				return
			}
			list = append(list, ns)
		}
		if key == "lxc.namespace.clone" {
			c.Namespace.Clone = list
		} else {
			c.Namespace.Keep = list
		}
		c.Namespace.Pos = p

	case "lxc.start.auto":
		b.boolKey(p, v, &c.Start.Auto)
	case "lxc.start.delay":
		b.intKey(p, v, 0, 1<<31-1, &c.Start.Delay)
	case "lxc.start.order":
		b.intKey(p, v, -(1 << 31), 1<<31-1, &c.Start.Order)
	case "lxc.group":
		if v == "" {
			c.Groups = nil
			return
		}
		for _, g := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			if !slices.Contains(c.Groups, g) {
				c.Groups = append(c.Groups, g)
			}
		}
	case "lxc.environment":
		b.environment(p, v)
	case "lxc.ephemeral":
		var on bool
		if b.boolKey(p, v, &on) && on {
			b.notSupported(p, "ephemeral containers (deleted when stopped)")
		}

	case "lxc.log.file":
		if v != "" && !filepath.IsAbs(v) {
			b.errorf(p, "path %q must be absolute", v)
			return
		}
		c.Log.File = v
	case "lxc.log.level":
		if v == "" {
			c.Log.Level = ""
			return
		}
		lvl, err := parseLogLevel(v)
		if err != nil {
			b.errorf(p, "%v", err)
			return
		}
		c.Log.Level = lvl
	case "lxc.log.syslog":
		if v != "" && !slices.Contains(syslogFacilities, v) {
			b.errorf(p, "unknown syslog facility %q", v)
			return
		}
		c.Log.Syslog = v
	case "lxc.monitor.unshare":
		var on bool
		if b.boolKey(p, v, &on) && on {
			b.warnf(p, "ignored: lxc-shim has no separate monitor process to unshare")
		}
	case "lxc.monitor.signal.pdeath":
		if v == "" {
			return
		}
		if _, ok := b.signal(p, v); ok {
			b.warnf(p, "ignored: a container outlives its supervisor by design (lxc-initd stop/cleanup still work)")
		}

	case "lxc.idmap":
		if v == "" {
			c.Security.IDMap = nil
			return
		}
		m, err := parseIDMap(v)
		if err != nil {
			b.errorf(p, "%v", err)
			return
		}
		c.Security.IDMap = append(c.Security.IDMap, m)
	case "lxc.keyring.session":
		var on bool
		if b.boolKey(p, v, &on) {
			c.Security.NoKeyringSession = v != "" && !on
		}
	case "lxc.no_new_privs":
		b.boolKey(p, v, &c.Security.NoNewPrivs)

	case "lxc.apparmor.profile", "lxc.apparmor.allow_incomplete",
		"lxc.apparmor.allow_nesting", "lxc.apparmor.raw":
		b.apparmor(p, v)
	case "lxc.selinux.context", "lxc.selinux.context.keyring":
		if v == "" {
			return
		}
		if !b.opts.SELinux() {
			b.warnf(p, "skipped: SELinux is not enabled on this host (LXC does the same)")
			return
		}
		if key == "lxc.selinux.context" {
			c.Security.SELinuxContext = v
		} else {
			c.Security.SELinuxKeyringContext = v
		}
	case "lxc.seccomp.profile":
		if v != "" && !filepath.IsAbs(v) {
			b.errorf(p, "path %q must be absolute", v)
			return
		}
		c.Security.SeccompProfile = v
	case "lxc.seccomp.allow_nesting":
		b.boolKey(p, v, &c.Security.SeccompAllowNesting)
	case "lxc.seccomp.notify.proxy", "lxc.seccomp.notify.cookie":
		if v != "" {
			b.notSupported(p, "seccomp notification proxy")
		}
	case "lxc.time.offset.boot", "lxc.time.offset.monotonic":
		if v != "" && strings.TrimRight(strings.TrimLeft(v, "+-0"), "hmsun") != "" {
			b.notSupported(p, "time namespace offsets")
		}

	default:
		if s := suggestKey(key); s != "" {
			b.errorf(p, "unknown key (did you mean %q?)", s)
		} else {
			b.errorf(p, "unknown key")
		}
	}
}

var namespaceNames = []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}

var syslogFacilities = []string{
	"auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news",
	"syslog", "user", "uucp", "local0", "local1", "local2", "local3", "local4",
	"local5", "local6", "local7",
}

var logLevels = []string{"trace", "debug", "info", "notice", "warn", "error", "crit", "alert", "fatal"}

func parseLogLevel(v string) (string, error) {
	l := strings.ToLower(v)
	if n, err := strconv.Atoi(l); err == nil && n >= 0 && n < len(logLevels) {
		return logLevels[n], nil
	}
	if l == "warning" {
		l = "warn"
	}
	if slices.Contains(logLevels, l) {
		return l, nil
	}
	return "", fmt.Errorf("unknown log level %q (one of %s, or 0-8)", v, strings.Join(logLevels, ", "))
}

// parseArch normalises lxc.arch and gives the personality a 32-bit
// userland needs on a 64-bit host.
func parseArch(v string) (string, uint64, error) {
	const linux32 = 0x0008 // PER_LINUX32 from <linux/personality.h>
	switch strings.ToLower(v) {
	case "x86", "i386", "i486", "i586", "i686":
		return "i686", linux32, nil
	case "x86_64", "amd64":
		return "x86_64", 0, nil
	case "arm64", "aarch64":
		return "aarch64", 0, nil
	case "arm", "armel", "armhf", "armv7l", "armv7", "armv6l", "armv5tel":
		return "armv7l", linux32, nil
	case "ppc", "powerpc":
		return "ppc", linux32, nil
	case "ppc64", "powerpc64":
		return "ppc64", 0, nil
	case "ppc64le", "ppc64el", "powerpc64le":
		return "ppc64le", 0, nil
	case "s390x":
		return "s390x", 0, nil
	case "riscv64":
		return "riscv64", 0, nil
	case "mips", "mipsel":
		return strings.ToLower(v), linux32, nil
	case "mips64", "mips64el":
		return strings.ToLower(v), 0, nil
	}
	return "", 0, fmt.Errorf("unknown architecture %q", v)
}

// rootfsBackends are storage prefixes of lxc.rootfs.path. "dir" and
// "btrfs" name a directory lxc-shim can use as it is.
var rootfsBackends = map[string]bool{
	"dir": true, "btrfs": true,
	"overlay": false, "overlayfs": false, "aufs": false, "lvm": false,
	"zfs": false, "loop": false, "nbd": false, "rbd": false,
}

func (b *builder) rootfs(p Pos, v string) {
	c := b.cfg
	if v == "" {
		c.Rootfs.Path, c.Rootfs.Pos = "", p
		return
	}
	if prefix, rest, ok := strings.Cut(v, ":"); ok {
		if usable, known := rootfsBackends[prefix]; known {
			if !usable {
				b.notSupported(p, fmt.Sprintf("rootfs storage %q (only a directory: dir:PATH or PATH)", prefix))
				return
			}
			v = rest
		}
	}
	if !filepath.IsAbs(v) {
		b.errorf(p, "rootfs path %q must be absolute", v)
		return
	}
	c.Rootfs.Path, c.Rootfs.Pos = filepath.Clean(v), p
}

// splitQuoted splits a command line on white space, honouring double and
// single quotes and backslash escapes (LXC splits lxc.init.cmd the same way).
func splitQuoted(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inArg := false
	var quote byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			} else if ch == '\\' && quote == '"' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else {
				cur.WriteByte(ch)
			}
		case ch == '"' || ch == '\'':
			quote, inArg = ch, true
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inArg = true
		case ch == ' ' || ch == '\t':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(ch)
			inArg = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inArg {
		args = append(args, cur.String())
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	return args, nil
}

func (b *builder) boolKey(p Pos, v string, dst *bool) bool {
	if v == "" {
		if dst != nil {
			*dst = false
		}
		return true
	}
	on, err := parseBool(v)
	if err != nil {
		b.errorf(p, "%v", err)
		return false
	}
	if dst != nil {
		*dst = on
	}
	return true
}

func (b *builder) intKey(p Pos, v string, lo, hi int64, dst *int) {
	if v == "" {
		*dst = 0
		return
	}
	n, err := parseRange(v, lo, hi)
	if err != nil {
		b.errorf(p, "%v", err)
		return
	}
	*dst = int(n)
}

func (b *builder) signal(p Pos, v string) (syscall.Signal, bool) {
	s, err := signals.Parse(v)
	if err != nil {
		b.errorf(p, "%v", err)
		return 0, false
	}
	return s, true
}

// consoleSize reads lxc.console.size / buffer.size: a size, "auto" (128
// KiB, LXC's automatic size) or 0.
func (b *builder) consoleSize(p Pos, v string, dst *int64, ring bool) {
	switch v {
	case "", "0":
		*dst = 0
		return
	case "auto":
		*dst = 128 << 10
		return
	}
	n, err := parseSize(v)
	if err != nil {
		b.errorf(p, "%v", err)
		return
	}
	if ring {
		// LXC rounds the ring buffer up to whole pages.
		n = (n + 4095) &^ 4095
	}
	*dst = n
}

func (b *builder) keyValue(p Pos, list []KeyValue, family, v string) []KeyValue {
	sub := strings.TrimPrefix(strings.TrimPrefix(p.Key, family), ".")
	if sub == "" {
		if v != "" {
			b.errorf(p, "%s needs a sub-key (%s.NAME = VALUE); alone it only takes an empty value, which clears them", family, family)
			return list
		}
		return nil
	}
	for _, r := range sub {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/", r)) {
			b.errorf(p, "invalid name %q", sub)
			return list
		}
	}
	if strings.Contains(sub, "..") || strings.HasPrefix(sub, "/") {
		b.errorf(p, "invalid name %q", sub)
		return list
	}
	out := list[:0:0]
	for _, kv := range list {
		if kv.Key != sub {
			out = append(out, kv)
		}
	}
	if v == "" {
		return out
	}
	return append(out, KeyValue{Key: sub, Value: v, Pos: p})
}

var prlimitNames = map[string]int{
	"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU,
	"data": unix.RLIMIT_DATA, "fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS,
	"memlock": unix.RLIMIT_MEMLOCK, "msgqueue": unix.RLIMIT_MSGQUEUE,
	"nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE, "nproc": unix.RLIMIT_NPROC,
	"rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO, "rttime": unix.RLIMIT_RTTIME,
	"sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
}

func (b *builder) prlimit(p Pos, name, v string) {
	c := b.cfg
	res, ok := prlimitNames[strings.ToLower(name)]
	if !ok {
		names := make([]string, 0, len(prlimitNames))
		for n := range prlimitNames {
			names = append(names, n)
		}
		sort.Strings(names)
		if s := closest(strings.ToLower(name), names); s != "" {
			b.errorf(p, "unknown resource %q (did you mean %q?)", name, s)
		} else {
			b.errorf(p, "unknown resource %q (one of %s)", name, strings.Join(names, ", "))
		}
		return
	}
	name = strings.ToLower(name)
	kept := c.Prlimits[:0:0]
	for _, l := range c.Prlimits {
		if l.Name != name {
			kept = append(kept, l)
		}
	}
	c.Prlimits = kept
	if v == "" {
		return
	}
	soft, hard, isPair := strings.Cut(v, ":")
	if !isPair {
		hard = soft
	}
	s, err1 := parseLimit(soft)
	h, err2 := parseLimit(hard)
	if err := firstErr(err1, err2); err != nil {
		b.errorf(p, "%v", err)
		return
	}
	if s > h {
		b.errorf(p, "soft limit %s above hard limit %s", soft, hard)
		return
	}
	c.Prlimits = append(c.Prlimits, Prlimit{Name: name, Resource: res, Soft: s, Hard: h, Pos: p})
}

func parseLimit(s string) (uint64, error) {
	if s == "unlimited" || s == "infinity" {
		return unix.RLIM_INFINITY, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid limit %q: want a number or \"unlimited\"", s)
	}
	return n, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func (b *builder) nsShare(p Pos, ns, v string) {
	c := b.cfg
	if !slices.Contains(namespaceNames, ns) || ns == "mnt" {
		b.errorf(p, "namespace %q cannot be shared (one of cgroup, ipc, net, pid, time, user, uts)", ns)
		return
	}
	if v == "" {
		delete(c.Namespace.Share, ns)
		return
	}
	if strings.HasPrefix(v, "/") {
		if !strings.HasPrefix(v, "/proc/") {
			b.errorf(p, "share target %q: want a container name or /proc/PID/ns/NS", v)
			return
		}
	} else if err := ValidName(v); err != nil {
		b.errorf(p, "%v", err)
		return
	}
	if c.Namespace.Share == nil {
		c.Namespace.Share = map[string]string{}
	}
	c.Namespace.Share[ns] = v
}

func (b *builder) hook(p Pos, v string) {
	if v == "" {
		return
	}
	switch p.Key {
	case "lxc.hook.version":
		b.boolKey(p, v, nil)
	case "lxc.hook.clone", "lxc.hook.destroy":
		b.warnf(p, "used by lxc-copy/lxc-destroy only; ignored")
	case "lxc.hook":
		b.errorf(p, "lxc.hook takes no value (an empty value clears every hook)")
	default:
		if !slices.Contains(lxcKeys, p.Key) {
			b.errorf(p, "unknown hook (did you mean %q?)", suggestKey(p.Key))
			return
		}
		b.notSupported(p, "lxc-shim runs no hook scripts")
	}
}

func (b *builder) environment(p Pos, v string) {
	c := b.cfg
	if v == "" {
		c.Environment = nil
		return
	}
	k, val, hasVal := strings.Cut(v, "=")
	if k == "" || strings.ContainsAny(k, " \t") {
		b.errorf(p, "invalid environment variable %q: want NAME=VALUE or NAME", v)
		return
	}
	if !hasVal {
		hv, ok := b.opts.Getenv(k)
		if !ok {
			b.warnf(p, "%s is not set in the host environment; not passed", k)
			return
		}
		val = hv
	}
	c.Environment = append(c.Environment, k+"="+val)
}

func parseIDMap(v string) (IDMap, error) {
	f := strings.Fields(v)
	if len(f) != 4 || (f[0] != "u" && f[0] != "g") {
		return IDMap{}, fmt.Errorf("invalid id map %q: want \"u|g CONTAINERID HOSTID COUNT\"", v)
	}
	var n [3]int64
	for i, s := range f[1:] {
		x, err := strconv.ParseInt(s, 10, 64)
		if err != nil || x < 0 || x > 1<<32-1 {
			return IDMap{}, fmt.Errorf("invalid id map %q: %q is not an id", v, s)
		}
		n[i] = x
	}
	if n[2] == 0 {
		return IDMap{}, fmt.Errorf("invalid id map %q: count is 0", v)
	}
	return IDMap{Kind: rune(f[0][0]), Container: n[0], Host: n[1], Count: n[2]}, nil
}

func (b *builder) apparmor(p Pos, v string) {
	c := b.cfg
	if v == "" {
		return
	}
	if !b.opts.AppArmor() {
		if p.Key == "lxc.apparmor.profile" && v == "unconfined" {
			return
		}
		b.warnf(p, "skipped: AppArmor is not enabled on this host (LXC does the same)")
		return
	}
	switch p.Key {
	case "lxc.apparmor.profile":
		c.Security.AppArmorProfile = v
	case "lxc.apparmor.allow_incomplete":
		b.boolKey(p, v, &c.Security.AppArmorAllowIncomplete)
	case "lxc.apparmor.allow_nesting":
		b.boolKey(p, v, &c.Security.AppArmorAllowNesting)
	case "lxc.apparmor.raw":
		c.Security.AppArmorRaw = append(c.Security.AppArmorRaw, v)
	}
}

// mountAuto reads lxc.mount.auto; it adds to what earlier lines asked
// (an empty value clears it).
func (b *builder) mountAuto(p Pos, v string) {
	a := &b.cfg.MountAuto
	if v == "" {
		*a = MountAuto{}
		b.autoCg = ""
		return
	}
	a.Pos = p
	for _, tok := range strings.Fields(v) {
		kind, mode, _ := strings.Cut(tok, ":")
		switch kind {
		case "proc":
			switch mode {
			case "", "mixed":
				a.Proc = "mixed"
			case "rw":
				a.Proc = "rw"
			default:
				b.errorf(p, "invalid lxc.mount.auto %q: proc takes mixed or rw", tok)
			}
		case "sys":
			switch mode {
			case "", "mixed":
				a.Sys = "mixed"
			case "ro", "rw":
				a.Sys = mode
			default:
				b.errorf(p, "invalid lxc.mount.auto %q: sys takes ro, mixed or rw", tok)
			}
		case "cgroup", "cgroup-full":
			m, force, _ := strings.Cut(mode, ":")
			if force != "" && force != "force" || m == "force" && force == "" {
				if m == "force" {
					m, force = "", "force"
				} else {
					b.errorf(p, "invalid lxc.mount.auto %q", tok)
					continue
				}
			}
			switch m {
			case "":
				b.autoCg, b.autoCgAt = kind, p
			case "mixed", "ro", "rw":
				b.autoCg = ""
			default:
				b.errorf(p, "invalid lxc.mount.auto %q: cgroup takes mixed, ro or rw", tok)
				continue
			}
			a.Cgroup, a.CgroupFull, a.CgroupForce = m, kind == "cgroup-full", force == "force"
		case "shmounts":
			if mode == "" {
				b.errorf(p, "invalid lxc.mount.auto %q: want shmounts:HOSTPATH[:CONTAINERPATH]", tok)
				continue
			}
			a.Shmounts = tok
		default:
			b.errorf(p, "invalid lxc.mount.auto %q: want proc, sys, cgroup, cgroup-full or shmounts", tok)
		}
	}
}

func appendUnique(list []int, n int) []int {
	if slices.Contains(list, n) {
		return list
	}
	return append(list, n)
}

// net handles lxc.net.N.KEY.
func (b *builder) net(e entry) {
	p, v := e.Pos, e.Value
	rest := strings.TrimPrefix(p.Key, "lxc.net.")
	idxStr, sub, ok := strings.Cut(rest, ".")
	if !isDigits(idxStr) || !ok || sub == "" {
		if s := suggestKey(p.Key); s != "" {
			b.errorf(p, "unknown key (did you mean %q?)", s)
		} else {
			b.errorf(p, "unknown key: want lxc.net.N.KEY")
		}
		return
	}
	idx, err := strconv.Atoi(idxStr)
	if err != nil || idx > maxNetIndex {
		b.errorf(p, "network index %s out of range 0-%d", idxStr, maxNetIndex)
		return
	}
	if !slices.Contains(netKeys, sub) {
		if s := closest(sub, netKeys); s != "" {
			b.errorf(p, "unknown key (did you mean %q?)", "lxc.net."+idxStr+"."+s)
		} else {
			b.errorf(p, "unknown key (lxc.net.N takes %s)", strings.Join(netKeys, ", "))
		}
		return
	}
	ns := b.nets[idx]
	if ns == nil {
		ns = &netState{n: Network{Index: idx}, set: map[string]Pos{}}
		b.nets[idx] = ns
	}
	n := &ns.n
	if v == "" {
		delete(ns.set, sub)
	} else {
		ns.set[sub] = p
	}
	switch sub {
	case "type":
		switch v {
		case "veth", "macvlan", "vlan", "phys", "empty", "none", "":
			n.Type, ns.type_ = v, p
			n.Pos = p
		case "ipvlan":
			ns.badType = true
			b.notSupported(p, "ipvlan networks")
		default:
			ns.badType = true
			b.errorf(p, "unknown network type %q (veth, macvlan, vlan, phys, empty or none)", v)
		}
	case "flags":
		if v != "" && v != "up" {
			b.errorf(p, "invalid flags %q: only \"up\"", v)
			return
		}
		n.Up = v == "up"
	case "link":
		if v != "" {
			if err := parseIfName(v); err != nil {
				b.errorf(p, "%v", err)
				return
			}
		}
		n.Link = v
	case "name":
		if v != "" {
			if err := parseIfName(v); err != nil {
				b.errorf(p, "%v", err)
				return
			}
		}
		n.Name = v
	case "veth.pair":
		if v != "" {
			if err := parseIfName(v); err != nil {
				b.errorf(p, "%v", err)
				return
			}
		}
		n.VethPair = v
	case "hwaddr":
		if v == "" {
			n.HWAddr = ""
			return
		}
		m, err := parseMAC(v)
		if err != nil {
			b.errorf(p, "%v", err)
			return
		}
		n.HWAddr = m
	case "mtu":
		if v == "" {
			n.MTU = 0
			return
		}
		m, err := parseRange(v, 68, 65535)
		if err != nil {
			b.errorf(p, "invalid MTU: %v", err)
			return
		}
		n.MTU = int(m)
	case "ipv4.address", "ipv6.address":
		want6 := sub == "ipv6.address"
		if v == "" {
			if want6 {
				n.IPv6 = nil
			} else {
				n.IPv4 = nil
			}
			return
		}
		a, err := parseAddr(v, want6)
		if err != nil {
			b.errorf(p, "%v", err)
			return
		}
		if want6 {
			n.IPv6 = append(n.IPv6, a)
		} else {
			n.IPv4 = append(n.IPv4, a)
		}
	case "ipv4.gateway", "ipv6.gateway":
		want6 := sub == "ipv6.gateway"
		gw := ""
		if v != "" {
			g, err := parseGateway(v, want6)
			if err != nil {
				b.errorf(p, "%v", err)
				return
			}
			gw = g
		}
		if want6 {
			n.IPv6Gateway = gw
		} else {
			n.IPv4Gateway = gw
		}
	case "veth.ipv4.route", "veth.ipv6.route":
		want6 := sub == "veth.ipv6.route"
		if v == "" {
			if want6 {
				n.VethIPv6Routes = nil
			} else {
				n.VethIPv4Routes = nil
			}
			return
		}
		r, err := netip.ParsePrefix(v)
		if err != nil || r.Addr().Is6() != want6 || r.Masked() != r {
			b.errorf(p, "invalid route %q: want a network address with prefix (10.0.0.0/24)", v)
			return
		}
		if want6 {
			n.VethIPv6Routes = append(n.VethIPv6Routes, r)
		} else {
			n.VethIPv4Routes = append(n.VethIPv4Routes, r)
		}
	case "veth.mode":
		if v != "" && v != "bridge" && v != "router" {
			b.errorf(p, "invalid veth mode %q (bridge or router)", v)
			return
		}
		n.VethMode = v
	case "macvlan.mode":
		if v != "" && !slices.Contains([]string{"private", "vepa", "bridge", "passthru"}, v) {
			b.errorf(p, "invalid macvlan mode %q (private, vepa, bridge or passthru)", v)
			return
		}
		n.MacvlanMode = v
	case "vlan.id":
		if v == "" {
			n.VlanID = 0
			return
		}
		id, err := parseRange(v, 0, 4094)
		if err != nil {
			b.errorf(p, "invalid VLAN id: %v", err)
			return
		}
		n.VlanID = int(id)
	case "l2proxy":
		b.boolKey(p, v, &n.L2Proxy)
	case "script.up", "script.down":
		if v != "" && !filepath.IsAbs(v) {
			b.errorf(p, "script path %q must be absolute", v)
			return
		}
		if sub == "script.up" {
			n.ScriptUp = v
		} else {
			n.ScriptDown = v
		}
	case "ipvlan.mode", "ipvlan.isolation":
		if v != "" {
			b.notSupported(p, "ipvlan networks")
		}
	case "veth.vlan.id", "veth.vlan.tagged.id":
		if v != "" {
			b.notSupported(p, "VLAN filtering on the host's bridge port")
		}
	}
}

// finishNets checks each network as a whole and fills LXC's defaults.
func (b *builder) finishNets() {
	idxs := make([]int, 0, len(b.nets))
	for i := range b.nets {
		idxs = append(idxs, i)
	}
	sort.Ints(idxs)
	pairs := map[string]Pos{}
	names := map[string]Pos{}
	for _, i := range idxs {
		ns := b.nets[i]
		n := ns.n
		if n.Type == "" {
			first := Pos{}
			for _, p := range ns.set {
				if first.File == "" || p.Line < first.Line {
					first = p
				}
			}
			if first.File == "" || ns.badType {
				continue // every key was cleared again, or the type was wrong
			}
			b.errorf(first, "network %d has no lxc.net.%d.type", i, i)
			continue
		}
		only := func(sub, typ string) {
			if p, ok := ns.set[sub]; ok && n.Type != typ {
				b.errorf(p, "only for %s networks (lxc.net.%d.type is %s)", typ, i, n.Type)
			}
		}
		only("veth.pair", "veth")
		only("veth.mode", "veth")
		only("veth.ipv4.route", "veth")
		only("veth.ipv6.route", "veth")
		only("macvlan.mode", "macvlan")
		only("vlan.id", "vlan")
		switch n.Type {
		case "veth":
			if n.VethMode == "" {
				n.VethMode = "bridge"
			}
			if n.VethMode == "router" && n.Link != "" {
				b.errorf(ns.set["link"], "a router-mode veth has no bridge link")
			}
		case "macvlan":
			if n.MacvlanMode == "" {
				n.MacvlanMode = "private"
			}
		}
		switch n.Type {
		case "macvlan", "vlan", "phys":
			if n.Link == "" {
				b.errorf(ns.type_, "a %s network needs lxc.net.%d.link", n.Type, i)
			}
		}
		if n.Type == "vlan" {
			if _, ok := ns.set["vlan.id"]; !ok {
				b.errorf(ns.type_, "a vlan network needs lxc.net.%d.vlan.id", i)
			}
		}
		if n.Name == "" {
			switch n.Type {
			case "veth", "macvlan", "vlan":
				n.Name = "eth" + strconv.Itoa(i)
			case "phys":
				n.Name = n.Link
			}
		}
		if n.VethPair != "" {
			if p, dup := pairs[n.VethPair]; dup {
				b.errorf(ns.set["veth.pair"], "veth pair name %q already used by %s", n.VethPair, p.Key)
			}
			pairs[n.VethPair] = ns.set["veth.pair"]
		}
		if n.Name != "" && n.Type != "none" && n.Type != "empty" {
			if p, dup := names[n.Name]; dup {
				b.errorf(firstSet(ns, "name", "type"), "interface name %q already used by %s", n.Name, p.Key)
			}
			names[n.Name] = firstSet(ns, "name", "type")
		}
		b.cfg.Net = append(b.cfg.Net, n)
	}
}

func firstSet(ns *netState, subs ...string) Pos {
	for _, s := range subs {
		if p, ok := ns.set[s]; ok {
			return p
		}
	}
	return ns.type_
}

// finish runs the checks that need the whole file.
func (b *builder) finish() {
	c := b.cfg
	if len(c.Caps.Drop) > 0 && (len(c.Caps.Keep) > 0 || c.Caps.KeepNone) {
		b.errorf(b.keepPos, "lxc.cap.drop (%s) and lxc.cap.keep cannot both be set", b.dropPos)
	}
	switch {
	case b.keepPos.File != "":
		c.Caps.Pos = b.keepPos
	case b.dropPos.File != "":
		c.Caps.Pos = b.dropPos
	}
	if b.autoCg != "" {
		// LXC: cgroup without a mode is rw when the container keeps
		// CAP_SYS_ADMIN, mixed otherwise.
		c.MountAuto.Cgroup = "rw"
		if !c.keepsCap(unix.CAP_SYS_ADMIN) {
			c.MountAuto.Cgroup = "mixed"
		}
	}
	b.finishMounts()
	b.finishNets()
	b.finishCgroup()
	if c.Signals.Halt == 0 {
		c.Signals.Halt = unix.SIGPWR
	}
	if c.Signals.Reboot == 0 {
		c.Signals.Reboot = unix.SIGINT
	}
	if c.Signals.Stop == 0 {
		c.Signals.Stop = unix.SIGKILL
	}
}

// keepsCap reports whether the container's init keeps capability n.
func (c *Config) keepsCap(n int) bool {
	if c.Caps.KeepNone {
		return false
	}
	if len(c.Caps.Keep) > 0 {
		return slices.Contains(c.Caps.Keep, n)
	}
	return !slices.Contains(c.Caps.Drop, n)
}

// finishMounts reads lxc.mount.fstab (its entries come first, as in LXC)
// and makes every target relative to the rootfs.
func (b *builder) finishMounts() {
	c := b.cfg
	var all []Mount
	if c.MountFstab != "" {
		all = append(all, b.readFstab()...)
	}
	all = append(all, b.entries...)
	for _, m := range all {
		t, err := resolveTarget(m.Target, c.Rootfs.Path)
		if err != nil {
			b.errorf(m.Pos, "%v", err)
			continue
		}
		m.Target = t
		c.Mounts = append(c.Mounts, m)
	}
}

// HostExposure is the warning `lxc-initd check` gives a privileged
// container (no lxc.idmap) that keeps CAP_SYS_ADMIN and has no seccomp
// profile: nothing but the device rules and masked paths then stands
// between root inside and the host (mount, bpf, kernel keyrings, ...).
// It names lxc.cap.drop/keep when the file sets them, else the file.
func (c *Config) HostExposure() (Diagnostic, bool) {
	if len(c.Security.IDMap) > 0 || c.Security.SeccompProfile != "" || !c.keepsCap(unix.CAP_SYS_ADMIN) {
		return Diagnostic{}, false
	}
	p := c.Caps.Pos
	if p.File == "" {
		p = Pos{File: c.File}
	}
	return Diagnostic{Pos: p, Message: "privileged container keeps sys_admin and has no seccomp: root inside can reach the host where nothing else stops it (lxc.cap.drop = sys_admin unless it needs it)"}, true
}
