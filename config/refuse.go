package config

import (
	"slices"
	"sort"
)

// Refusals lists what the config asks that lxc-shim cannot apply: the
// container would run less confined, or not as the file says. Load reports
// each as an error (so `lxc-initd check` gives the verdict `start` gives);
// the launcher calls it again before it clones anything, for a Config that
// did not come from Load.
//
// Host-dependent verdicts (a kernel without cgroup namespaces, a missing
// rootfs or bridge) are not here: they depend on the host, not the file.
func (c *Config) Refusals() []Diagnostic {
	var out []Diagnostic
	refuse := func(p Pos, msg string) { out = append(out, Diagnostic{Pos: p, Message: msg}) }
	sec := c.Security
	for _, k := range sec.Unsupported {
		refuse(Pos{Key: k}, "not supported by lxc-shim")
	}
	shared := make([]string, 0, len(c.Namespace.Share))
	for ns := range c.Namespace.Share {
		shared = append(shared, ns)
	}
	sort.Strings(shared)
	for _, ns := range shared {
		refuse(keyed(c.Namespace.SharePos[ns], "lxc.namespace.share."+ns), "sharing namespaces is not supported by lxc-shim")
	}
	if c.MountAuto.Shmounts != "" {
		refuse(keyed(c.MountAuto.Pos, "lxc.mount.auto"), "shmounts is not supported by lxc-shim")
	}
	if c.MountAuto.CgroupFull {
		refuse(keyed(c.MountAuto.Pos, "lxc.mount.auto"), "cgroup-full is not supported by lxc-shim (use cgroup:mixed|ro|rw)")
	}
	ns := c.Namespace.Names()
	p := keyed(c.Namespace.Pos, "lxc.namespace.keep")
	switch {
	case !slices.Contains(ns, "mnt"):
		refuse(p, "the mount namespace cannot be kept: lxc-shim needs its own to build the rootfs")
	case !slices.Contains(ns, "pid"):
		refuse(p, "the pid namespace cannot be kept: the init must be PID 1 of its own namespace")
	}
	switch {
	case slices.Contains(ns, "user") && !c.Unprivileged():
		refuse(p, "a user namespace needs lxc.idmap")
	case c.Unprivileged() && slices.Contains(c.Namespace.Keep, "user"):
		refuse(p, "the user namespace cannot be kept with lxc.idmap")
	}
	if slices.Contains(ns, "time") {
		refuse(p, "time namespaces are not supported by lxc-shim")
	}
	return out
}

// Names is the set of namespaces the container gets, sorted: Clone (or
// LXC's default set) without Keep.
func (n NamespaceOptions) Names() []string {
	set := n.Clone
	if len(set) == 0 {
		// LXC's default (cgroup only where the kernel has it: the
		// launcher checks).
		set = []string{"cgroup", "ipc", "mnt", "net", "pid", "uts"}
	}
	var out []string
	for _, ns := range set {
		if !slices.Contains(n.Keep, ns) && !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	return out
}

// keyed is p, or the bare key where p is unknown (a Config built without
// Load).
func keyed(p Pos, key string) Pos {
	if p.Key == "" {
		return Pos{Key: key}
	}
	return p
}
