package config

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mountFlags are the fstab options that are mount(2) flags: set (true) or
// cleared (false).
var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"defaults":      {false, 0},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"nosuid":        {false, unix.MS_NOSUID},
	"suid":          {true, unix.MS_NOSUID},
	"nodev":         {false, unix.MS_NODEV},
	"dev":           {true, unix.MS_NODEV},
	"noexec":        {false, unix.MS_NOEXEC},
	"exec":          {true, unix.MS_NOEXEC},
	"sync":          {false, unix.MS_SYNCHRONOUS},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"remount":       {false, unix.MS_REMOUNT},
	"mand":          {false, unix.MS_MANDLOCK},
	"nomand":        {true, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"atime":         {true, unix.MS_NOATIME},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"diratime":      {true, unix.MS_NODIRATIME},
	"relatime":      {false, unix.MS_RELATIME},
	"norelatime":    {true, unix.MS_RELATIME},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"bind":          {false, unix.MS_BIND},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"silent":        {false, unix.MS_SILENT},
	"loud":          {true, unix.MS_SILENT},
	// fstab words that state mount(8)'s defaults: nothing to do. Their
	// opposites ("noauto": do not mount; "user": let users mount, with
	// noexec,nosuid,nodev) have no mount(2) meaning and are refused.
	"auto":   {false, 0},
	"nouser": {false, 0},
}

// refusedOptions are fstab words lxc-shim cannot honour: dropping them
// would mount something other than what the line asks for.
var refusedOptions = map[string]string{
	"noauto": "lxc-shim mounts every entry (remove the line instead)",
	"user":   "it lets users mount from fstab; give noexec,nosuid,nodev instead",
	"users":  "it lets users mount from fstab; give noexec,nosuid,nodev instead",
	"owner":  "it lets users mount from fstab; give noexec,nosuid,nodev instead",
	"group":  "it lets users mount from fstab; give noexec,nosuid,nodev instead",
	"move":   "moving a mount is not a mount entry",
}

// superblockFlags belong to the file system, not to one mount of it: a
// bind mount cannot set or clear them (it would have to change the
// source's file system for the host too), so a bind entry naming one
// (sync, async, dirsync, mand, nomand, lazytime, nolazytime) is refused.
const superblockFlags = unix.MS_SYNCHRONOUS | unix.MS_DIRSYNC | unix.MS_MANDLOCK | unix.MS_LAZYTIME

var propagationFlags = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// unescapeFstab decodes the octal escapes fstab uses for white space in
// paths ("\040" is a space).
func unescapeFstab(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseMount reads one fstab line ("SOURCE TARGET FSTYPE [OPTIONS [DUMP
// [PASS]]]"). The target is kept as written; resolveTarget makes it relative
// to the rootfs once the rootfs is known.
func parseMount(line string) (Mount, error) {
	f := strings.Fields(line)
	var m Mount
	if len(f) < 3 {
		return m, fmt.Errorf("invalid mount entry %q: want \"SOURCE TARGET FSTYPE [OPTIONS [DUMP [PASS]]]\"", line)
	}
	if len(f) > 6 {
		return m, fmt.Errorf("invalid mount entry %q: more than six fields", line)
	}
	for i := 4; i < len(f); i++ {
		n := f[i]
		if _, err := strconv.Atoi(n); err != nil {
			return m, fmt.Errorf("invalid mount entry %q: field %d (%s) must be a number", line, i+1, []string{"dump", "pass"}[i-4])
		}
	}
	m.Source, m.Target, m.FSType = unescapeFstab(f[0]), unescapeFstab(f[1]), f[2]
	m.Options = "defaults"
	if len(f) > 3 {
		m.Options = f[3]
	}
	var data []string
	var propagation string
	var superblock []string // options naming superblockFlags
	for _, o := range strings.Split(m.Options, ",") {
		switch {
		case o == "":
			return m, fmt.Errorf("invalid mount options %q: empty option", m.Options)
		case o == "create=dir":
			m.CreateDir = true
		case o == "create=file":
			m.CreateFil = true
		case strings.HasPrefix(o, "create="):
			return m, fmt.Errorf("invalid mount option %q: want create=dir or create=file", o)
		case o == "optional":
			m.Optional = true
		case o == "relative":
			// LXC's "relative": the source is relative to the rootfs.
			m.SourceRelative = true
		case o == "idmap=container":
			m.IDMapped = true
		case strings.HasPrefix(o, "idmap="):
			return m, fmt.Errorf("mount option %q is not supported: only idmap=container (the container's own user namespace)", o)
		case refusedOptions[o] != "":
			return m, fmt.Errorf("mount option %q is not supported: %s", o, refusedOptions[o])
		default:
			if fl, ok := mountFlags[o]; ok {
				if fl.flag&superblockFlags != 0 {
					superblock = append(superblock, o)
				}
				// The last of "ro" and "rw" wins; ClearFlags keeps what was
				// asked to be off, so a bind can clear it on its source.
				if fl.clear {
					m.Flags &^= fl.flag
					m.ClearFlags |= fl.flag
				} else {
					m.Flags |= fl.flag
					m.ClearFlags &^= fl.flag
				}
			} else if p, ok := propagationFlags[o]; ok {
				if propagation != "" && propagation != o {
					return m, fmt.Errorf("invalid mount options %q: two propagation options (%s and %s); give one", m.Options, propagation, o)
				}
				propagation, m.Propagation = o, p
			} else {
				data = append(data, o)
			}
		}
	}
	if m.CreateDir && m.CreateFil {
		return m, fmt.Errorf("invalid mount options %q: both create=dir and create=file", m.Options)
	}
	m.Data = strings.Join(data, ",")
	if m.Flags&unix.MS_BIND != 0 {
		// A bind mount takes no file system options and only per-mount
		// flags; refuse what it would silently ignore.
		if m.Data != "" {
			return m, fmt.Errorf("invalid mount options %q: %q: a bind mount takes no file system options (unknown option, or one for a file system)", m.Options, m.Data)
		}
		if len(superblock) > 0 {
			return m, fmt.Errorf("invalid mount options %q: %s: file system flags, which a bind mount cannot change", m.Options, strings.Join(superblock, ","))
		}
	}
	if m.Target == "" {
		return m, fmt.Errorf("invalid mount entry %q: empty target", line)
	}
	return m, nil
}

// resolveTarget makes a mount target relative to the rootfs, as LXC does:
// an absolute target under the rootfs path loses that prefix; any other
// absolute target is taken as relative to the rootfs. A target that climbs
// out of the rootfs with ".." is refused.
func resolveTarget(target, rootfs string) (string, error) {
	t := path.Clean(target)
	if path.IsAbs(t) {
		if r := path.Clean(rootfs); rootfs != "" && r != "/" {
			if rel, ok := strings.CutPrefix(t, r+"/"); ok {
				t = rel
			} else if t == r {
				t = "."
			}
		}
		t = strings.TrimLeft(t, "/")
		if t == "" {
			t = "."
		}
	}
	if t == ".." || strings.HasPrefix(t, "../") {
		return "", fmt.Errorf("mount target %q is outside the rootfs", target)
	}
	return t, nil
}
