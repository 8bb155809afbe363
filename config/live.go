package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// CgroupKey splits a cgroup key as `lxc-initd cgroup` takes it: the
// config's forms lxc.cgroup.FILE (version 1) and lxc.cgroup2.FILE
// (version 2), or a bare controller FILE, for which bare says which
// hierarchy's name it is read as (the caller knows which one the host
// has that file in).
func CgroupKey(key string, bare int) (version int, file string) {
	switch {
	case strings.HasPrefix(key, "lxc.cgroup2."):
		return 2, strings.TrimPrefix(key, "lxc.cgroup2.")
	case strings.HasPrefix(key, "lxc.cgroup."):
		return 1, strings.TrimPrefix(key, "lxc.cgroup.")
	}
	return bare, key
}

// CgroupLive is one cgroup setting given on the command line, checked and
// translated exactly as the same config line would be: the result holds
// the setting for its own hierarchy and its translation for the other
// (or NoEquivalent), so package cgroup places it as it places the
// config's. key is as CgroupKey takes it; an error names the key.
// Device rules are not settings: they are refused here.
func CgroupLive(key, value string, bare int) (Cgroup, error) {
	version, file := CgroupKey(key, bare)
	if strings.ContainsFunc(key+value, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return Cgroup{}, fmt.Errorf("%q: control characters in the key or value", key)
	}
	if value == "" {
		return Cgroup{}, errors.New(key + ": no value")
	}
	if file == "devices.allow" || file == "devices.deny" {
		return Cgroup{}, errors.New(key + ": device rules are changed with lxc-initd device, not as a setting")
	}
	// A controller neither hierarchy knows: say so, rather than suggest
	// the other hierarchy's key.
	if ctrl, _, _ := strings.Cut(file, "."); !slices.Contains(v1Controllers, ctrl) && !slices.Contains(v2Controllers, ctrl) {
		known := append(slices.Clone(v1Controllers), v2Controllers...)
		slices.Sort(known)
		return Cgroup{}, fmt.Errorf("%s: unknown cgroup controller %q (one of %s)", key, ctrl, strings.Join(slices.Compact(known), ", "))
	}
	d := &diags{}
	b := newBuilder("", "", Options{}, d)
	prefix := "lxc.cgroup."
	if version == 2 {
		prefix = "lxc.cgroup2."
	}
	p := Pos{Key: prefix + file}
	b.cgroupKey(p, version, file, value)
	if len(d.errs) == 0 {
		b.finishCgroup()
	}
	if len(d.errs) > 0 {
		return Cgroup{}, errors.New(d.errs[0].String())
	}
	return b.cfg.Cgroup, nil
}
