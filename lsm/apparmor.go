// Package lsm applies the Linux security module labels LXC applies to a
// container: the AppArmor profile (lxc.apparmor.*), generated and loaded
// as LXC 5 generates it where the config asks for "generated", and the
// SELinux context (lxc.selinux.context*). The host side (Prepare) works
// out the label and loads a generated profile; the stage and attached
// processes write it to their own /proc attr files right before exec
// (attr.go), so the kernel switches at exec as it does for runc.
//
// Every path is below injectable roots (Host.Sys, Host.Proc), so that the
// profile generation and the attr writes are tested against a fake /proc
// and /sys on a host without AppArmor.
package lsm

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"

	"github.com/lxc-shim/lxc-shim/config"
)

// The rule blocks of LXC 5's generated profile (src/lxc/lsm/apparmor.c,
// AA_PROFILE_*), verbatim: a container gets the same rules as under LXC.
var (
	//go:embed apparmor/base.rules
	rulesBase string
	//go:embed apparmor/unix.rules
	rulesUnix string
	//go:embed apparmor/cgns.rules
	rulesCgroupNS string
	//go:embed apparmor/stacking.rules
	rulesStacking string
	//go:embed apparmor/nostacking.rules
	rulesNoStacking string
	//go:embed apparmor/nesting.rules
	rulesNesting string
	//go:embed apparmor/unprivileged.rules
	rulesUnprivileged string
)

// Profile names LXC uses.
const (
	// DefaultProfile and DefaultProfileCgroupNS are what a container gets
	// without lxc.apparmor.profile (the lxc package loads them from
	// /etc/apparmor.d/lxc-containers); the second where the kernel has
	// cgroup namespaces.
	DefaultProfile         = "lxc-container-default"
	DefaultProfileCgroupNS = "lxc-container-default-cgns"
	// Unconfined, Generated and Unchanged are the special values of
	// lxc.apparmor.profile.
	Unconfined = "unconfined"
	Generated  = "generated"
	Unchanged  = "unchanged"
)

// Host is where the LSM files of the host are: Sys and Proc are the roots
// of /sys and /proc ("" means the real ones), CacheDir apparmor_parser's
// binary cache, and Run runs a host command (apparmor_parser) to its end,
// returning its combined output: the shim passes one that goes through
// its reaper.
type Host struct {
	Sys, Proc string
	CacheDir  string
	Run       func(argv []string) ([]byte, error)
}

func (h Host) sys(p string) string {
	if h.Sys == "" {
		return filepath.Join("/sys", p)
	}
	return filepath.Join(h.Sys, p)
}

func (h Host) proc(p string) string {
	if h.Proc == "" {
		return filepath.Join("/proc", p)
	}
	return filepath.Join(h.Proc, p)
}

// AppArmorEnabled reports whether the host enforces AppArmor, as LXC
// reads it.
func (h Host) AppArmorEnabled() bool {
	b, err := os.ReadFile(h.sys("module/apparmor/parameters/enabled"))
	return err == nil && len(b) > 0 && b[0] == 'Y'
}

// SELinuxEnabled reports whether the host has SELinux.
func (h Host) SELinuxEnabled() bool {
	_, err := os.Stat(h.sys("fs/selinux/enforce"))
	return err == nil
}

func (h Host) isYes(p string) bool {
	b, err := os.ReadFile(h.sys(p))
	return err == nil && bytes.HasPrefix(b, []byte("yes\n"))
}

// Features are the host facts the generated profile depends on.
type Features struct {
	// Unix: apparmor_parser knows unix rules (2.10.95 and later).
	Unix bool
	// CgroupNS: the kernel has cgroup namespaces.
	CgroupNS bool
	// CanStack: the kernel stacks profiles (domain/stack, version 1.2+);
	// IsStacked: this host is itself inside a stacked namespace.
	CanStack, IsStacked bool
	// Mount: the kernel mediates mounts (without it a confined container
	// needs lxc.apparmor.allow_incomplete).
	Mount bool
}

// Features reads the host's AppArmor features; the parser's version is
// asked through h.Run.
func (h Host) Features() Features {
	f := Features{
		CgroupNS: exists(h.proc("self/ns/cgroup")),
		Mount:    exists(h.sys("kernel/security/apparmor/features/mount/mask")),
	}
	if h.isYes("kernel/security/apparmor/features/domain/stack") {
		var major, minor int
		b, err := os.ReadFile(h.sys("kernel/security/apparmor/features/domain/version"))
		if n, _ := fmt.Sscanf(string(b), "%d.%d", &major, &minor); err == nil && n == 2 {
			f.CanStack = major > 1 || major == 1 && minor >= 2
		}
	}
	if f.CanStack {
		f.IsStacked = h.isYes("kernel/security/apparmor/.ns_stacked")
	}
	if h.Run != nil {
		if out, err := h.Run([]string{"apparmor_parser", "--version"}); err == nil {
			f.Unix = parserHasUnix(string(out))
		}
	}
	return f
}

// parserHasUnix reads "AppArmor parser version X.Y.Z" as LXC does.
func parserHasUnix(out string) bool {
	var major, minor, micro int
	n, _ := fmt.Sscanf(out, "AppArmor parser version %d.%d.%d", &major, &minor, &micro)
	if n < 1 {
		return false
	}
	return major > 2 || major == 2 && minor > 10 || major == 2 && minor == 10 && micro >= 95
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// ProfileName is the name of a container's generated profile, LXC's
// "lxc-NAME_<LXCPATH>", replaced by a 64-bit FNV-1a hash in hex where it
// would pass AppArmor's limit.
func ProfileName(name, lxcpath string) string {
	full := "lxc-" + name + "_<" + lxcpath + ">"
	if len(full)+7 > 253 {
		h := fnv.New64a()
		h.Write([]byte(full))
		return fmt.Sprintf("%016x", h.Sum64())
	}
	return full
}

// Namespace is the profile name with '/' replaced by '-': the AppArmor
// policy namespace of the container and the file name of its profile.
func Namespace(name, lxcpath string) string {
	return strings.ReplaceAll(ProfileName(name, lxcpath), "/", "-")
}

// GenerateProfile is the profile LXC 5 generates for cfg (lxc.apparmor.
// profile = generated) on a host with features f: the base rules, the
// remount rules, unix sockets and cgroup namespaces where the host has
// them, stacking (or not), nesting for lxc.apparmor.allow_nesting, the
// unprivileged rules for a container with lxc.idmap, then every
// lxc.apparmor.raw line.
func GenerateProfile(cfg *config.Config, lxcpath string, f Features) string {
	full := ProfileName(cfg.Name, lxcpath)
	var b strings.Builder
	b.WriteString("#include <tunables/global>\n")
	b.WriteString("profile \"" + full + "\" flags=(attach_disconnected,mediate_deleted) {\n")
	b.WriteString(rulesBase)
	writeRemountRules(&b)
	if f.Unix {
		b.WriteString(rulesUnix)
	}
	if f.CgroupNS {
		b.WriteString(rulesCgroupNS)
	}
	if f.CanStack && !f.IsStacked {
		b.WriteString(rulesStacking)
		ns := Namespace(cfg.Name, lxcpath)
		b.WriteString("  change_profile -> \":" + ns + ":*\",\n")
		b.WriteString("  change_profile -> \":" + ns + "://*\",\n")
	} else {
		b.WriteString(rulesNoStacking)
	}
	if cfg.Security.AppArmorAllowNesting {
		b.WriteString(rulesNesting)
		if !f.CanStack || f.IsStacked {
			b.WriteString("  change_profile -> \"" + full + "\",\n")
		}
	}
	if len(cfg.Security.IDMap) > 0 {
		b.WriteString(rulesUnprivileged)
	}
	for _, raw := range cfg.Security.AppArmorRaw {
		b.WriteString(raw + "\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// remountDests are LXC's destinations of the read-only bind remount rules:
// everything but /dev/.lxc, /proc and /sys.
var remountDests = [...]string{
	"/[^spd]*{,/**}", "/d[^e]*{,/**}", "/de[^v]*{,/**}", "/dev/.[^l]*{,/**}",
	"/dev/.l[^x]*{,/**}", "/dev/.lx[^c]*{,/**}", "/dev/.lxc?*{,/**}", "/dev/[^.]*{,/**}",
	"/dev?*{,/**}", "/p[^r]*{,/**}", "/pr[^o]*{,/**}", "/pro[^c]*{,/**}",
	"/proc?*{,/**}", "/s[^y]*{,/**}", "/sy[^s]*{,/**}", "/sys?*{,/**}",
}

// writeRemountRules writes LXC's "ro,remount,bind" rules: every subset of
// nodev, nosuid, noexec (in LXC's order), each alone, with noatime and
// with strictatime, to every destination.
func writeRemountRules(b *strings.Builder) {
	b.WriteString("# allow various ro-bind-*re*mounts\n")
	opts := []string{",nodev", ",nosuid", ",noexec"}
	for bits := 0; bits < 1<<len(opts); bits++ {
		base := "  mount options=(ro,remount,bind"
		for i, o := range opts {
			if bits&(1<<i) != 0 {
				base += o
			}
		}
		for _, tail := range []string{")", ",noatime)", ",strictatime)"} {
			for _, d := range remountDests {
				b.WriteString(base + tail + " -> " + d + ",\n")
			}
		}
	}
}

// Prepared is the outcome of Prepare: the label the init is exec'd with
// ("" : none written), and how to unload a generated profile.
type Prepared struct {
	AppArmor string
	// Unload removes the generated profile and its namespace (nil: none
	// was loaded).
	Unload func() error
}

// Prepare works out the AppArmor label of cfg's init as LXC's
// apparmor_prepare does, and generates and loads the profile for
// "generated". lxcpath is the directory holding the container's config
// directory (it names the generated profile, as in LXC); stateDir is
// where the generated profile file is written. On a host without AppArmor
// it returns no label: the config reader has warned about the keys.
func (h Host) Prepare(cfg *config.Config, lxcpath, stateDir string) (Prepared, error) {
	if !h.AppArmorEnabled() {
		return Prepared{}, nil
	}
	sec := cfg.Security
	label := sec.AppArmorProfile
	if label == Unchanged {
		return Prepared{}, nil
	}
	f := h.Features()
	var p Prepared
	if label == Generated {
		if h.Run == nil {
			return Prepared{}, errors.New("lxc.apparmor.profile = generated: no way to run apparmor_parser")
		}
		if _, err := h.Run([]string{"apparmor_parser", "--version"}); err != nil {
			return Prepared{}, fmt.Errorf("lxc.apparmor.profile = generated: apparmor_parser is not available: %w", err)
		}
		unload, err := h.load(cfg, lxcpath, stateDir, f)
		if err != nil {
			return Prepared{}, err
		}
		p.Unload = unload
		label = ProfileName(cfg.Name, lxcpath)
		if f.CanStack && !f.IsStacked {
			label += "//&:" + Namespace(cfg.Name, lxcpath) + ":"
		}
	}
	fail := func(err error) (Prepared, error) {
		if p.Unload != nil {
			err = errors.Join(err, p.Unload())
		}
		return Prepared{}, err
	}
	cur, _ := h.Label(os.Getpid(), "apparmor")
	if !f.CanStack && cur != "" && cur != Unconfined {
		// Already confined and the kernel cannot stack a second profile.
		if label == "" || label == cur {
			return Prepared{}, nil
		}
		return fail(fmt.Errorf("lxc.apparmor.profile %q: lxc-shim runs confined by %q and this kernel cannot stack profiles", label, cur))
	}
	if label == "" {
		label = DefaultProfile
		if f.CgroupNS {
			label = DefaultProfileCgroupNS
		}
	}
	if !f.Mount && label != Unconfined && !sec.AppArmorAllowIncomplete {
		return fail(fmt.Errorf("AppArmor profile %q: this kernel's AppArmor does not mediate mounts (incomplete support); set lxc.apparmor.allow_incomplete = 1 to start the container anyway", label))
	}
	if label == Unconfined && (cur == "" || cur == Unconfined) {
		return Prepared{Unload: p.Unload}, nil
	}
	p.AppArmor = label
	return p, nil
}

// load writes the generated profile (only when it changed, so that the
// parser's cache stays valid), makes the container's policy namespace
// where the kernel stacks, and loads the profile. The undo unloads it and
// removes both.
func (h Host) load(cfg *config.Config, lxcpath, stateDir string, f Features) (func() error, error) {
	ns := Namespace(cfg.Name, lxcpath)
	dir := filepath.Join(stateDir, "apparmor")
	file := filepath.Join(dir, ns)
	nsDir := ""
	if f.CanStack && !f.IsStacked {
		nsDir = h.sys(filepath.Join("kernel/security/apparmor/policy/namespaces", ns))
		if err := os.Mkdir(nsDir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create AppArmor namespace %s: %w", nsDir, err)
		}
	}
	unload := func() error {
		var errs []error
		if nsDir != "" {
			if err := os.Remove(nsDir); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove AppArmor namespace %s: %w", nsDir, err))
			}
		}
		if out, err := h.Run(h.parserArgs("-RWL", file)); err != nil {
			errs = append(errs, fmt.Errorf("unload AppArmor profile %s: %w: %s", file, err, bytes.TrimSpace(out)))
		}
		_ = os.Remove(file)
		_ = os.Remove(dir)
		return errors.Join(errs...)
	}
	content := GenerateProfile(cfg, lxcpath, f)
	if old, err := os.ReadFile(file); err != nil || string(old) != content {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, errors.Join(fmt.Errorf("AppArmor profile directory: %w", err), removeNS(nsDir))
		}
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			return nil, errors.Join(fmt.Errorf("write AppArmor profile: %w", err), removeNS(nsDir))
		}
	}
	if err := os.MkdirAll(h.cacheDir(), 0o755); err != nil {
		return nil, errors.Join(fmt.Errorf("AppArmor cache directory: %w", err), removeNS(nsDir))
	}
	if out, err := h.Run(h.parserArgs("-rWL", file)); err != nil {
		_ = os.Remove(file)
		return nil, errors.Join(fmt.Errorf("load the generated AppArmor profile %s: apparmor_parser: %w: %s", file, err, bytes.TrimSpace(out)), removeNS(nsDir))
	}
	return unload, nil
}

func removeNS(dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (h Host) cacheDir() string {
	if h.CacheDir == "" {
		return "/var/cache/lxc-shim/apparmor"
	}
	return h.CacheDir
}

// parserArgs is LXC's "apparmor_parser -XWL CACHEDIR FILE".
func (h Host) parserArgs(cmd, file string) []string {
	return []string{"apparmor_parser", cmd, h.cacheDir(), file}
}
