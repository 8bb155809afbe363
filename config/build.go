package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lxc-shim/lxc-shim/seccomp"

	"golang.org/x/sys/unix"
)

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

	keys *keyTable // what each key does (keys.go)
}

func newBuilder(name, path string, opts Options, d *diags) *builder {
	c := &Config{Name: name, File: path}
	defaults(c)
	return &builder{cfg: c, opts: opts, d: d, nets: map[int]*netState{}, keys: newKeyTable()}
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

// apply handles one key through the key table (keys.go). Empty values
// reset a key to its default (or clear a list), as in LXC.
func (b *builder) apply(e entry) {
	p, v := e.Pos, e.Value
	set, family, sub := b.keys.lookup(p.Key)
	switch {
	case set != nil:
		set(b, p, v)
	case family != nil:
		family(b, p, sub, v)
	default:
		if s := suggestKey(p.Key); s != "" {
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

// cgroupDir reads lxc.cgroup.dir and lxc.cgroup.dir.container.
func (b *builder) cgroupDir(p Pos, v string) {
	c := b.cfg
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
}

func (b *builder) capDrop(p Pos, v string) {
	c := b.cfg
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
}

func (b *builder) capKeep(p Pos, v string) {
	c := b.cfg
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
}

func (b *builder) initGroups(p Pos, v string) {
	c := b.cfg
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
}

// group reads lxc.group; it adds to what earlier lines named.
func (b *builder) group(p Pos, v string) {
	c := b.cfg
	if v == "" {
		c.Groups = nil
		return
	}
	for _, g := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if !slices.Contains(c.Groups, g) {
			c.Groups = append(c.Groups, g)
		}
	}
}

// namespaces reads lxc.namespace.clone and lxc.namespace.keep.
func (b *builder) namespaces(p Pos, v string) {
	c := b.cfg
	var list []string
	for _, ns := range strings.Fields(v) {
		if !slices.Contains(namespaceNames, ns) {
			b.errorf(p, "unknown namespace %q (one of %s)", ns, strings.Join(namespaceNames, ", "))
			return
		}
		list = append(list, ns)
	}
	if p.Key == "lxc.namespace.clone" {
		c.Namespace.Clone = list
	} else {
		c.Namespace.Keep = list
	}
	c.Namespace.Pos = p
}

func (b *builder) logSyslog(p Pos, v string) {
	if v != "" && !slices.Contains(syslogFacilities, v) {
		b.errorf(p, "unknown syslog facility %q", v)
		return
	}
	b.cfg.Log.Syslog = v
}

// mountEntry reads lxc.mount.entry; targets are resolved by finishMounts,
// once the rootfs is known.
func (b *builder) mountEntry(p Pos, v string) {
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
}

// rootfs reads lxc.rootfs.path: a storage prefix (LXC's names) and what
// it needs, every path absolute. A bare absolute path is a directory, or a
// block device (told apart when the container starts). nbd and rbd need
// host daemons lxc-shim does not drive; aufs is gone from the kernel.
func (b *builder) rootfs(p Pos, v string) {
	c := b.cfg
	c.Rootfs.Storage, c.Rootfs.Lowers, c.Rootfs.Upper = "", nil, ""
	if v == "" {
		c.Rootfs.Path, c.Rootfs.Pos = "", p
		return
	}
	storage, rest := StorageDir, v
	if prefix, after, ok := strings.Cut(v, ":"); ok && !strings.HasPrefix(v, "/") {
		storage, rest = prefix, after
	}
	switch storage {
	case StorageDir, StorageBtrfs, StorageLoop, StorageLVM:
	case StorageOverlay, "overlayfs":
		storage = StorageOverlay
		lowers, upper, err := splitOverlay(rest)
		if err != nil {
			b.errorf(p, "%s: %v", v, err)
			return
		}
		c.Rootfs.Lowers, c.Rootfs.Upper = lowers, upper
		rest = lowers[0]
	case StorageZFS:
		if rest == "" || strings.HasPrefix(rest, "/") || strings.Contains(rest, "..") {
			b.errorf(p, "%s: a ZFS dataset is POOL/NAME (zfs:POOL/NAME)", v)
			return
		}
		c.Rootfs.Storage, c.Rootfs.Path, c.Rootfs.Pos = storage, rest, p
		return
	case "nbd", "rbd", "aufs":
		b.notSupported(p, fmt.Sprintf("rootfs storage %q (dir, btrfs, overlay, loop, lvm, zfs or a block device path)", storage))
		return
	default:
		b.errorf(p, "unknown rootfs storage %q in %q (dir, btrfs, overlay, overlayfs, loop, lvm, zfs, or an absolute path)", storage, v)
		return
	}
	if !filepath.IsAbs(rest) {
		b.errorf(p, "rootfs path %q must be absolute", rest)
		return
	}
	c.Rootfs.Storage, c.Rootfs.Path, c.Rootfs.Pos = storage, filepath.Clean(rest), p
}

// rootfsOptions reads lxc.rootfs.options: mount options as in an fstab
// line, applied to the rootfs mount (flags) and, for a file system the
// launcher mounts itself (overlay, loop, block, zfs), passed to it (data).
func (b *builder) rootfsOptions(p Pos, v string) {
	r := &b.cfg.Rootfs
	r.Options, r.Flags, r.Data, r.Propagation, r.IDMapped = nil, 0, "", 0, false
	r.OptionsPos = p
	if v == "" {
		return
	}
	m, err := parseMount("rootfs / none " + v)
	switch {
	case err != nil:
		b.errorf(p, "%v", err)
		return
	case m.Flags&(unix.MS_BIND|unix.MS_REMOUNT) != 0 || m.CreateDir || m.CreateFil || m.Optional || m.SourceRelative:
		b.errorf(p, "invalid rootfs options %q: bind, rbind, remount, create=, optional and relative are mount entry options", v)
		return
	}
	r.Options, r.Flags, r.Data, r.Propagation = strings.Split(v, ","), m.Flags, m.Data, m.Propagation
	r.IDMapped = m.IDMapped
}

// splitOverlay splits LXC's "LOWER[:LOWER...]:UPPER" as LXC's overlay
// driver does: the upper directory is what follows the last ":/", the
// lowers the rest, split on ":" (the first lower is the top one, as in
// overlayfs' lowerdir).
func splitOverlay(v string) (lowers []string, upper string, err error) {
	i := strings.LastIndex(v, ":/")
	if i < 0 {
		return nil, "", errors.New("overlay needs LOWER:UPPER, both absolute paths")
	}
	upper = v[i+1:]
	for _, l := range strings.Split(v[:i], ":") {
		if !filepath.IsAbs(l) {
			return nil, "", fmt.Errorf("overlay lower layer %q must be an absolute path", l)
		}
		if strings.ContainsAny(l, ",") {
			return nil, "", fmt.Errorf("overlay lower layer %q: a comma cannot be passed to overlayfs", l)
		}
		lowers = append(lowers, filepath.Clean(l))
	}
	if strings.ContainsAny(upper, ",") || filepath.Clean(upper) == "/" {
		return nil, "", fmt.Errorf("overlay upper directory %q is not usable", upper)
	}
	return lowers, filepath.Clean(upper), nil
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
	if c.Namespace.SharePos == nil {
		c.Namespace.SharePos = map[string]Pos{}
	}
	c.Namespace.SharePos[ns] = p
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
	b.finishIDMap()
	b.finishNets()
	b.finishCgroup()
	b.finishSeccomp()
	for _, d := range c.Refusals() {
		b.errorf(d.Pos, "%s", d.Message)
	}
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

// finishSeccomp reads and compiles lxc.seccomp.profile for this host, so
// that check gives the verdict start gives and the boot compiles it once:
// a syntax error names the profile's FILE:LINE after the key's own.
func (b *builder) finishSeccomp() {
	sec := &b.cfg.Security
	if sec.SeccompProfile == "" {
		return
	}
	machine := b.opts.Machine
	if machine == "" {
		machine = seccomp.Machine()
	}
	f, warns, err := seccomp.Load(sec.SeccompProfile, machine)
	for _, w := range warns {
		b.warnf(sec.SeccompPos, "%s", w)
	}
	if err != nil {
		b.errorf(sec.SeccompPos, "%v", err)
		return
	}
	sec.Seccomp = f
}
