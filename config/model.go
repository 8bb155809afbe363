// Package config reads LXC container configuration files (the legacy keys of
// LXC 1.x/2.x and the keys of LXC 3+), follows lxc.include, validates every
// value and produces one model, Config, that the rest of lxc-shim consumes.
//
// The model holds values in LXC 3+ terms only: legacy keys are mapped on
// reading, exactly as lxc-update-config maps them, so no other package ever
// sees a legacy key name. Every value remembers where it was read (Pos), so
// that a later failure (a missing rootfs, a mount source that does not exist)
// can name the file, line and key that asked for it.
package config

import (
	"fmt"
	"net/netip"
	"syscall"

	"github.com/lxc-shim/lxc-shim/seccomp"
)

// Pos is where a value was read: the file, the 1-based line, and the key as
// LXC 3+ names it (a legacy key is reported under its new name, with the
// original in Legacy).
type Pos struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Key    string `json:"key,omitempty"`
	Legacy string `json:"legacy,omitempty"`
}

func (p Pos) String() string {
	if p.File == "" {
		return p.KeyName()
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.KeyName())
}

// KeyName is the key as the file wrote it: a legacy key with its LXC 3+
// name in parentheses ("lxc.network.link (lxc.net.0.link)"), so that a
// message names what the user can find in the file.
func (p Pos) KeyName() string {
	if p.Legacy != "" && p.Legacy != p.Key {
		return p.Legacy + " (" + p.Key + ")"
	}
	return p.Key
}

// Diagnostic is one warning or error about a config file, printed as
// "FILE:LINE: KEY: message".
type Diagnostic struct {
	Pos     Pos    `json:"pos"`
	Message string `json:"message"`
}

func (d Diagnostic) String() string {
	if d.Pos.Line == 0 && d.Pos.Key == "" {
		// About the file as a whole (it cannot be read).
		return fmt.Sprintf("%s: %s", d.Pos.File, d.Message)
	}
	if d.Pos.Key == "" {
		return fmt.Sprintf("%s:%d: %s", d.Pos.File, d.Pos.Line, d.Message)
	}
	return fmt.Sprintf("%s: %s", d.Pos, d.Message)
}

// Config is one container's validated configuration.
//
// Zero values mean "LXC's default" unless a field says otherwise; the reader
// fills defaults that other packages would otherwise have to know
// (Init.Cmd = /sbin/init, Signals.Halt = SIGPWR, TTY.Max = 0, Autodev = true).
type Config struct {
	// Name is the container's name (the directory the config was found in,
	// or the name given on the command line), not lxc.uts.name.
	Name string `json:"name"`
	// File is the top-level config file that was read.
	File string `json:"file"`

	UTSName string `json:"uts_name,omitempty"`
	UTSPos  Pos    `json:"-"`
	// Arch is lxc.arch normalised to "x86_64", "i686", "aarch64", "armv7l", ...
	// Personality is the personality(2) value that arch needs (0: none).
	Arch        string `json:"arch,omitempty"`
	Personality uint64 `json:"personality,omitempty"`

	Rootfs  Rootfs  `json:"rootfs"`
	Init    Init    `json:"init"`
	Console Console `json:"console"`
	TTY     TTY     `json:"tty"`
	// PTYMax is lxc.pty.max: the devpts instance's max (0: no limit given).
	PTYMax int `json:"pty_max,omitempty"`
	// Autodev is lxc.autodev (default true as in LXC 3+): mount a tmpfs on
	// /dev and populate it with the standard nodes.
	Autodev bool `json:"autodev"`
	// AutodevTmpfsSizeMB is lxc.autodev.tmpfs.size (MiB of the /dev tmpfs;
	// 0: LXC's default of 500000 bytes).
	AutodevTmpfsSizeMB int `json:"autodev_tmpfs_size_mb,omitempty"`

	Mounts []Mount `json:"mounts,omitempty"`
	// MountFstab is lxc.mount.fstab; its entries are read into Mounts (in
	// order, before the lxc.mount.entry lines, as LXC does) by the reader.
	MountFstab string    `json:"mount_fstab,omitempty"`
	MountAuto  MountAuto `json:"mount_auto"`

	Caps Caps `json:"caps"`

	// Cgroup holds the resource limits, one per controller file, as written,
	// and their translation for the other hierarchy where one exists.
	Cgroup Cgroup `json:"cgroup"`

	Net []Network `json:"net,omitempty"`

	Signals  Signals    `json:"signals"`
	Prlimits []Prlimit  `json:"prlimits,omitempty"`
	Sysctls  []KeyValue `json:"sysctls,omitempty"`
	// Proc is lxc.proc.*: files under /proc/PID/ of the init written
	// before it runs ("oom_score_adj" = "-100").
	Proc      []KeyValue       `json:"proc,omitempty"`
	Namespace NamespaceOptions `json:"namespace"`
	Start     StartOptions     `json:"start"`
	Groups    []string         `json:"groups,omitempty"`
	// Environment is lxc.environment, "KEY=VALUE" each, in order.
	Environment []string `json:"environment,omitempty"`

	Log Log `json:"log"`
	// Hooks are the lxc.hook.* lines of every type, in config order
	// (HooksOf picks one type); HookVersion is lxc.hook.version.
	Hooks       []Hook `json:"hooks,omitempty"`
	HookVersion int    `json:"hook_version,omitempty"`
	// Security keys that were read; the launcher refuses what it cannot apply.
	Security Security `json:"security"`

	// Warnings are what the reader noticed but accepted.
	Warnings []Diagnostic `json:"warnings,omitempty"`
	// HasLegacyKeys is true when any legacy (LXC 1.x/2.x) key was read.
	HasLegacyKeys bool `json:"has_legacy_keys,omitempty"`
}

// Rootfs is lxc.rootfs.path / .options / .mount.
type Rootfs struct {
	// Storage is the kind of storage (Storage* constants; the reader
	// fills it in, "dir" for a bare path).
	Storage string `json:"storage,omitempty"`
	// Path is the directory of dir and btrfs (the prefix removed), the
	// top lower layer of overlay, the image of loop, the device of lvm or
	// a block device, the dataset of zfs. Empty means the container shares
	// the host's root, which the launcher refuses.
	Path string `json:"path"`
	// Lowers and Upper are overlay's layers (Lowers[0] on top).
	Lowers []string `json:"lowers,omitempty"`
	Upper  string   `json:"upper,omitempty"`
	// Options is lxc.rootfs.options as written; Flags, Data and
	// Propagation what they mean for mount(2).
	Options     []string `json:"options,omitempty"`
	Flags       uintptr  `json:"flags,omitempty"`
	Data        string   `json:"data,omitempty"`
	Propagation uintptr  `json:"propagation,omitempty"`
	OptionsPos  Pos      `json:"-"`
	// Mount is lxc.rootfs.mount: the directory the rootfs is mounted on
	// in the container's mount namespace before the pivot (the stage
	// chooses one when unset).
	Mount    string `json:"mount,omitempty"`
	MountPos Pos    `json:"-"`
	// IDMapped is lxc.rootfs.options idmap=container: the rootfs is not
	// shifted and is mounted through an idmapped mount of the container's
	// user namespace (the reader refuses it without lxc.idmap).
	IDMapped bool `json:"idmapped,omitempty"`
	Pos      Pos  `json:"-"`
}

// Rootfs storage kinds, LXC's names.
const (
	StorageDir     = "dir"
	StorageBtrfs   = "btrfs" // a subvolume, used as a directory
	StorageOverlay = "overlay"
	StorageLoop    = "loop"
	StorageLVM     = "lvm"
	StorageZFS     = "zfs"
)

// Init is what becomes the container's PID 1.
type Init struct {
	Cmd []string `json:"cmd"` // lxc.init.cmd, split on white space; default ["/sbin/init"]
	Cwd string   `json:"cwd,omitempty"`
	UID int      `json:"uid"`
	GID int      `json:"gid"`
	// Groups is lxc.init.groups: supplementary group ids of the init.
	Groups []int `json:"groups,omitempty"`
	Pos    Pos   `json:"-"` // where lxc.init.cmd was set (zero when defaulted)
}

// Console is lxc.console.*.
type Console struct {
	// Path is lxc.console.path: "" (default: a pty held by the shim), "none"
	// (no console), or a host device path.
	Path string `json:"path,omitempty"`
	// Logfile is lxc.console.logfile: where the shim writes what the
	// console prints.
	Logfile string `json:"logfile,omitempty"`
	// Size is lxc.console.size in bytes (0: unbounded log file); with
	// Rotate, the log is rotated to Logfile+".1" when it reaches Size.
	Size   int64 `json:"size,omitempty"`
	Rotate bool  `json:"rotate,omitempty"`
	// BufferSize is lxc.console.buffer.size in bytes (in-memory ring).
	BufferSize int64 `json:"buffer_size,omitempty"`
	Pos        Pos   `json:"-"`
}

// TTY is lxc.tty.max and lxc.tty.dir.
type TTY struct {
	Max int    `json:"max"`
	Dir string `json:"dir,omitempty"` // ttys live in /dev/DIR/ttyN, with /dev/ttyN links
}

// Mount is one fstab-style line from lxc.mount.entry or lxc.mount.fstab.
type Mount struct {
	Source string `json:"source"`
	// Target is relative to the rootfs. The reader turns an absolute target
	// under the rootfs path into a relative one, as LXC does; an absolute
	// target that is not under the rootfs is taken as relative to it.
	Target string `json:"target"`
	FSType string `json:"fstype"`
	// Flags are the mount(2) flags the options name (MS_BIND, MS_RDONLY, ...)
	// and Data the options left for the file system ("mode=1777,size=1g").
	// A bind mount takes no Data and no file system flags (sync, dirsync,
	// mand, lazytime): the reader refuses them there.
	Flags uintptr `json:"flags"`
	// ClearFlags are the flags an option turned off ("rw", "suid", "dev",
	// "exec", "atime", ...) and no later option turned on again. A bind
	// mount keeps its source's per-mount flags (nosuid, nodev, noexec, ro,
	// atime) except those the options set or clear.
	ClearFlags uintptr `json:"clear_flags,omitempty"`
	Data       string  `json:"data,omitempty"`
	Options    string  `json:"options"` // as written, for messages
	CreateDir  bool    `json:"create_dir,omitempty"`
	CreateFil  bool    `json:"create_file,omitempty"`
	Optional   bool    `json:"optional,omitempty"`
	// Propagation is MS_PRIVATE, MS_SLAVE, MS_SHARED (with MS_REC) or 0.
	Propagation uintptr `json:"propagation,omitempty"`
	// SourceRelative is LXC's "relative" option: Source is a path inside
	// the rootfs rather than on the host. The launcher resolves it in the
	// rootfs as the container would see it: a symlink or ".." in it never
	// leads out of the rootfs.
	SourceRelative bool `json:"source_relative,omitempty"`
	// IDMapped is the option idmap=container: a bind mount seen through
	// the container's user namespace (the reader refuses it without
	// lxc.idmap, or on anything but a bind mount).
	IDMapped bool `json:"idmapped,omitempty"`
	Pos      Pos  `json:"-"`
}

// MountAuto is lxc.mount.auto. Empty strings mean "not asked for".
type MountAuto struct {
	Proc   string `json:"proc,omitempty"`   // "mixed" or "rw"
	Sys    string `json:"sys,omitempty"`    // "ro", "mixed" or "rw"
	Cgroup string `json:"cgroup,omitempty"` // "mixed", "ro", "rw", with Full for cgroup-full:*
	// CgroupFull is true for the cgroup-full:* forms (the host's whole tree).
	CgroupFull bool `json:"cgroup_full,omitempty"`
	// CgroupForce is true for the :force suffix.
	CgroupForce bool   `json:"cgroup_force,omitempty"`
	Shmounts    string `json:"shmounts,omitempty"` // "shmounts:HOST:CONTAINER" as written
	Pos         Pos    `json:"-"`
}

// Caps is lxc.cap.drop / lxc.cap.keep. At most one of them is non-empty
// (the reader rejects both, as LXC does). Names are lower case without the
// "cap_" prefix ("sys_admin"); Drop and Keep hold capability numbers.
type Caps struct {
	Drop     []int `json:"drop,omitempty"`
	Keep     []int `json:"keep,omitempty"`
	KeepNone bool  `json:"keep_none,omitempty"` // lxc.cap.keep = none
	Pos      Pos   `json:"-"`
}

// Cgroup holds the container's resource limits.
type Cgroup struct {
	// V1 and V2 are the settings for each hierarchy: what the config wrote
	// for it, plus what was translated from the other one. A setting with no
	// equivalent on the other hierarchy is absent there and listed in
	// Untranslatable, so the cgroup package can fail clearly on a host that
	// only has that other hierarchy.
	V1 []CgroupSetting `json:"v1,omitempty"`
	V2 []CgroupSetting `json:"v2,omitempty"`
	// Devices is lxc.cgroup.devices.* and Devices2 lxc.cgroup2.devices.*,
	// each in order as written. Which one applies depends on where the
	// host runs the devices controller: DeviceRules chooses.
	Devices  []DeviceRule `json:"devices,omitempty"`
	Devices2 []DeviceRule `json:"devices2,omitempty"`
	// Dir is lxc.cgroup.dir, always below CgroupParent (the reader
	// refuses anything else); the default CgroupParent/NAME is applied by
	// package cgroup when empty.
	Dir string `json:"dir,omitempty"`
	// Relative is lxc.cgroup.relative.
	Relative bool `json:"relative,omitempty"`
}

// CgroupParent is the directory, in every cgroup hierarchy, that is
// lxc-shim's own: every container's cgroup is below it (lxc-shim/NAME, or
// the lxc.cgroup.dir given, which must start with it).
const CgroupParent = "lxc-shim"

// CgroupSetting is one controller file and the value to write to it.
type CgroupSetting struct {
	Controller string `json:"controller"` // "memory", "cpu", "cpuset", "blkio", "io", "pids", ...
	File       string `json:"file"`       // "memory.limit_in_bytes", "memory.max", ...
	Value      string `json:"value"`      // normalised: sizes in bytes, "max" for unlimited on v2, "-1" on v1
	// Translated is true when the config wrote this for the other hierarchy.
	Translated bool `json:"translated,omitempty"`
	// NoEquivalent is true when the setting exists only on its own hierarchy.
	NoEquivalent bool `json:"no_equivalent,omitempty"`
	Pos          Pos  `json:"-"`
}

// DeviceRule is one lxc.cgroup.devices.allow/deny or lxc.cgroup2.devices.* line.
type DeviceRule struct {
	Allow bool `json:"allow"`
	// Type is 'a' (all), 'c' or 'b'.
	Type rune `json:"type"`
	// Major and Minor are -1 for '*'.
	Major  int64  `json:"major"`
	Minor  int64  `json:"minor"`
	Access string `json:"access"` // subset of "rwm", in that order
	Pos    Pos    `json:"-"`
}

// Network is one lxc.net.N.
type Network struct {
	Index int    `json:"index"`
	Type  string `json:"type"` // veth, macvlan, vlan, phys, empty, none
	Link  string `json:"link,omitempty"`
	Name  string `json:"name,omitempty"` // name inside; default ethN for veth/macvlan/vlan, Link for phys
	Up    bool   `json:"up,omitempty"`   // flags = up
	// HWAddr is as written, LXC's 'x' wildcards still in it; empty: derive
	// a stable one (see HWAddr helpers in package netcleanup).
	HWAddr string `json:"hwaddr,omitempty"`
	MTU    int    `json:"mtu,omitempty"`

	VethPair string `json:"veth_pair,omitempty"` // host-side name
	VethMode string `json:"veth_mode,omitempty"` // bridge (default) or router
	// MacvlanMode is private, vepa, bridge or passthru (default private).
	MacvlanMode string `json:"macvlan_mode,omitempty"`
	VlanID      int    `json:"vlan_id,omitempty"`

	IPv4 []netip.Prefix `json:"ipv4,omitempty"`
	IPv6 []netip.Prefix `json:"ipv6,omitempty"`
	// IPv4Gateway / IPv6Gateway: an address, "auto" (the first address of
	// the network's first ipv4/ipv6 prefix's host bridge... as LXC: the
	// link's address), "dev" (route via the device), or "".
	IPv4Gateway string `json:"ipv4_gateway,omitempty"`
	IPv6Gateway string `json:"ipv6_gateway,omitempty"`

	// L2Proxy is lxc.net.N.l2proxy (proxy ARP/NDP entries on the link).
	L2Proxy bool `json:"l2proxy,omitempty"`
	// VethIPv4Routes / VethIPv6Routes are lxc.net.N.veth.ipv4.route /
	// ipv6.route: host-side routes to the container (router mode).
	VethIPv4Routes []netip.Prefix `json:"veth_ipv4_routes,omitempty"`
	VethIPv6Routes []netip.Prefix `json:"veth_ipv6_routes,omitempty"`

	ScriptUp   string `json:"script_up,omitempty"`
	ScriptDown string `json:"script_down,omitempty"`
	Pos        Pos    `json:"-"` // where lxc.net.N.type was set
	// Where is where each key of the network was last set, by its part
	// after lxc.net.N. ("link"), so host-side errors name its line.
	Where map[string]Pos `json:"-"`
}

// Signals are lxc.signal.halt/reboot/stop.
type Signals struct {
	Halt    syscall.Signal `json:"halt"`     // default SIGPWR
	HaltSet bool           `json:"halt_set"` // false: the default applies and may be adapted to the init
	Reboot  syscall.Signal `json:"reboot"`   // default SIGINT
	Stop    syscall.Signal `json:"stop"`     // default SIGKILL
}

// Prlimit is one lxc.prlimit.NAME (RLIMIT_NAME); unix.RLIM_INFINITY for unlimited.
type Prlimit struct {
	Name     string `json:"name"` // "nofile"
	Resource int    `json:"resource"`
	Soft     uint64 `json:"soft"`
	Hard     uint64 `json:"hard"`
	Pos      Pos    `json:"-"`
}

// KeyValue is an ordered key/value pair (lxc.sysctl.*).
type KeyValue struct {
	Key   string `json:"key"` // "net.ipv4.ip_forward"
	Value string `json:"value"`
	Pos   Pos    `json:"-"`
}

// NamespaceOptions is lxc.namespace.clone / keep / share.*.
type NamespaceOptions struct {
	// Clone lists the namespaces to create; empty means LXC's default set
	// (cgroup where the kernel has it, ipc, mnt, net, pid, uts).
	Clone []string `json:"clone,omitempty"`
	// Keep lists namespaces to keep from the host.
	Keep []string `json:"keep,omitempty"`
	// Share maps a namespace to a container name or /proc/PID/ns path.
	Share map[string]string `json:"share,omitempty"`
	Pos   Pos               `json:"-"`
	// SharePos is where each lxc.namespace.share.NS was read.
	SharePos map[string]Pos `json:"-"`
}

// StartOptions are lxc.start.*.
type StartOptions struct {
	Auto  bool `json:"auto"`
	Delay int  `json:"delay"` // seconds
	Order int  `json:"order"`
}

// Log is lxc.log.* (the shim's own log settings).
type Log struct {
	File   string `json:"file,omitempty"`
	Level  string `json:"level,omitempty"`
	Syslog string `json:"syslog,omitempty"`
}

// Security holds the confinement keys. The launcher must refuse to start a
// container whose confinement it cannot apply rather than start it with less.
type Security struct {
	AppArmorProfile         string   `json:"apparmor_profile,omitempty"`
	AppArmorAllowIncomplete bool     `json:"apparmor_allow_incomplete,omitempty"`
	SELinuxContext          string   `json:"selinux_context,omitempty"`
	SeccompProfile          string   `json:"seccomp_profile,omitempty"`
	AppArmorAllowNesting    bool     `json:"apparmor_allow_nesting,omitempty"`
	AppArmorRaw             []string `json:"apparmor_raw,omitempty"`
	SELinuxKeyringContext   string   `json:"selinux_keyring_context,omitempty"`
	SeccompAllowNesting     bool     `json:"seccomp_allow_nesting,omitempty"`
	// SeccompPos is where lxc.seccomp.profile was set; Seccomp is that
	// profile compiled for this host when the config was loaded (the
	// launcher and attach install it; the container never supplies one).
	SeccompPos Pos             `json:"-"`
	Seccomp    *seccomp.Filter `json:"seccomp,omitempty"`
	// NoKeyringSession is lxc.keyring.session = 0 (LXC's default gives the
	// init a new session keyring).
	NoKeyringSession bool     `json:"no_keyring_session,omitempty"`
	NoNewPrivs       bool     `json:"no_new_privs,omitempty"`
	IDMap            []IDMap  `json:"idmap,omitempty"`
	Unsupported      []string `json:"unsupported,omitempty"`
	// Where the last lxc.idmap was read.
	IDMapPos Pos `json:"-"`
}

// IDMap is one lxc.idmap line: "u 0 100000 65536".
type IDMap struct {
	Kind      rune  `json:"kind"` // 'u' or 'g'
	Container int64 `json:"container"`
	Host      int64 `json:"host"`
	Count     int64 `json:"count"`
	Pos       Pos   `json:"-"`
}
