package kconfig

import (
	"fmt"
	"io"
	"strings"
)

// Check is one feature to look for.
type Check struct {
	Title string
	// Names are the option's names without CONFIG_, the current one first
	// and then the names older kernels used (MEMCG was
	// CGROUP_MEM_RES_CTLR before 3.6). Empty for a feature that has no
	// option of its own.
	Names []string
	// Required means no container can boot without it; lxc-initd
	// checkconfig exits non-zero when one is missing.
	Required bool
	// NeededBy says what needs the feature when it is not required.
	NeededBy string
	// Module is the module's name, to tell whether it is loaded.
	Module string
	// Since is the version from which the kernel has the feature without
	// the option (the option was removed), provided that every option of
	// SinceWith is enabled. The zero Version: no such version.
	Since     Version
	SinceWith []string
}

// Section is a titled group of checks, printed as "--- Title ---".
type Section struct {
	Title  string
	Checks []Check
}

// Checks returns the options lxc-shim looks for: those the seed write-up
// lists (namespaces, cgroups and their controllers, veth, macvlan, vlan,
// devpts multiple instances) and what the launcher relies on besides.
func Checks() []Section {
	return []Section{
		{"Namespaces", []Check{
			{Title: "Namespaces", Names: []string{"NAMESPACES"}, Required: true},
			{Title: "Utsname namespace", Names: []string{"UTS_NS"}, Required: true},
			{Title: "Ipc namespace", Names: []string{"IPC_NS"}, Required: true},
			{Title: "Pid namespace", Names: []string{"PID_NS"}, Required: true},
			{Title: "Network namespace", Names: []string{"NET_NS"}, Required: true},
			{Title: "User namespace", Names: []string{"USER_NS"}, NeededBy: "lxc.idmap (unprivileged containers)"},
		}},
		{"Control groups", []Check{
			{Title: "Cgroups", Names: []string{"CGROUPS"}, Required: true},
			{Title: "Cgroup namespace", Since: Version{4, 6, 0}, SinceWith: []string{"CGROUPS"},
				NeededBy: "a private cgroup view inside the container (used when the kernel has it)"},
			{Title: "Cgroup device", Names: []string{"CGROUP_DEVICE"}, NeededBy: "lxc.cgroup.devices.* on cgroup v1"},
			{Title: "Cgroup BPF", Names: []string{"CGROUP_BPF"}, NeededBy: "lxc.cgroup2.devices.* (device rules on cgroup v2)"},
			{Title: "Cgroup sched", Names: []string{"CGROUP_SCHED"}, NeededBy: "lxc.cgroup.cpu.* / lxc.cgroup2.cpu.*"},
			{Title: "Cgroup cpu account", Names: []string{"CGROUP_CPUACCT"}, NeededBy: "lxc.cgroup.cpuacct.*"},
			{Title: "Cgroup memory controller", Names: []string{"MEMCG", "CGROUP_MEM_RES_CTLR"}, NeededBy: "lxc.cgroup.memory.* / lxc.cgroup2.memory.*"},
			{Title: "Cgroup memory swap accounting", Names: []string{"MEMCG_SWAP", "CGROUP_MEM_RES_CTLR_SWAP"},
				Since: Version{6, 1, 0}, SinceWith: []string{"MEMCG", "SWAP"},
				NeededBy: "lxc.cgroup.memory.memsw.* / lxc.cgroup2.memory.swap.max"},
			{Title: "Cgroup cpuset", Names: []string{"CPUSETS"}, NeededBy: "lxc.cgroup.cpuset.*"},
			{Title: "Cgroup pids", Names: []string{"CGROUP_PIDS"}, NeededBy: "lxc.cgroup.pids.*"},
			{Title: "Cgroup freezer", Names: []string{"CGROUP_FREEZER"}, NeededBy: "escape-proof kill of a container's processes on cgroup v1"},
			{Title: "Block I/O controller", Names: []string{"BLK_CGROUP"}, NeededBy: "lxc.cgroup.blkio.* / lxc.cgroup2.io.*"},
		}},
		{"Networking", []Check{
			{Title: "Veth pair device", Names: []string{"VETH"}, Module: "veth", NeededBy: "lxc.net.N.type = veth"},
			{Title: "Macvlan", Names: []string{"MACVLAN"}, Module: "macvlan", NeededBy: "lxc.net.N.type = macvlan"},
			{Title: "Vlan", Names: []string{"VLAN_8021Q"}, Module: "8021q", NeededBy: "lxc.net.N.type = vlan"},
			{Title: "Bridges", Names: []string{"BRIDGE"}, Module: "bridge", NeededBy: "the host bridges that veth networks link to"},
		}},
		{"Devices and file systems", []Check{
			{Title: "Unix98 PTY", Names: []string{"UNIX98_PTYS"}, Required: true},
			{Title: "Multiple /dev/pts instances", Names: []string{"DEVPTS_MULTIPLE_INSTANCES"},
				Since: Version{4, 7, 0}, SinceWith: []string{"UNIX98_PTYS"}, Required: true},
			{Title: "proc file system", Names: []string{"PROC_FS"}, Required: true},
			{Title: "tmpfs", Names: []string{"TMPFS"}, Required: true},
			{Title: "POSIX message queues", Names: []string{"POSIX_MQUEUE"}, NeededBy: "mqueue inside the container's ipc namespace"},
			{Title: "Seccomp filter", Names: []string{"SECCOMP_FILTER"}, NeededBy: "lxc.seccomp.profile"},
			{Title: "FUSE", Names: []string{"FUSE_FS"}, Module: "fuse", NeededBy: "/dev/fuse inside containers"},
		}},
	}
}

// Result is one check's outcome.
type Result struct {
	Check
	State State
	// Option is the name that matched (an older alias, maybe), without
	// CONFIG_; empty when the feature is implied by the version.
	Option string
	// Note qualifies State: "always since Linux 4.7", "loaded".
	Note string
}

// MissingRequired reports whether a required option is absent.
func (r Result) MissingRequired() bool { return r.Required && r.State == Missing }

// Evaluate runs every check of sections against k. loaded, when not nil,
// tells whether a module is loaded in the running kernel (only meaningful
// when k is the running kernel's configuration).
func Evaluate(k *Kernel, sections []Section, loaded func(module string) bool) [][]Result {
	out := make([][]Result, len(sections))
	for i, s := range sections {
		for _, c := range s.Checks {
			out[i] = append(out[i], evaluate(k, c, loaded))
		}
	}
	return out
}

func evaluate(k *Kernel, c Check, loaded func(string) bool) Result {
	r := Result{Check: c}
	for _, n := range c.Names {
		if st := k.State(n); st != Missing {
			r.State, r.Option = st, n
			if n != c.Names[0] {
				r.Note = "as CONFIG_" + n
			}
			if st == Module && c.Module != "" && loaded != nil {
				if loaded(c.Module) {
					r.Note = join(r.Note, "loaded")
				} else {
					r.Note = join(r.Note, "not loaded")
				}
			}
			return r
		}
	}
	if c.Since.Known() && k.Version.AtLeast(c.Since.Major, c.Since.Minor) {
		for _, n := range c.SinceWith {
			if k.State(n) == Missing {
				r.Note = fmt.Sprintf("needs CONFIG_%s", n)
				return r
			}
		}
		r.State = BuiltIn
		r.Note = fmt.Sprintf("always since Linux %d.%d", c.Since.Major, c.Since.Minor)
	}
	return r
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + ", " + b
}

// Colors are the escape sequences Report uses; the zero value prints
// plain text.
type Colors struct{ Good, Warn, Bad, Reset string }

// TerminalColors are lxc-checkconfig's colours.
func TerminalColors() Colors {
	return Colors{Good: "\033[1;32m", Warn: "\033[1;33m", Bad: "\033[1;31m", Reset: "\033[0m"}
}

// Report prints results like lxc-checkconfig does, one "Title: state"
// line per check under "--- Section ---" headers, and returns the names of
// the required options that are missing.
func Report(w io.Writer, sections []Section, results [][]Result, col Colors) (missing []string) {
	for i, s := range sections {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "--- %s ---\n", s.Title)
		for _, r := range results[i] {
			color, word := col.Good, r.State.String()
			switch {
			case r.MissingRequired():
				color, word = col.Bad, "missing, required"
				missing = append(missing, r.label())
			case r.State == Missing:
				color = col.Warn
				if r.NeededBy != "" {
					word = "missing (needed for " + r.NeededBy + ")"
				}
			case r.State == Module && strings.Contains(r.Note, "not loaded"):
				color = col.Warn
			}
			line := fmt.Sprintf("%s: %s%s%s", r.Title, color, word, col.Reset)
			if r.Note != "" {
				line += " (" + r.Note + ")"
			}
			if r.State == Missing && len(r.Names) > 0 {
				line += " [CONFIG_" + r.Names[0] + "]"
			}
			fmt.Fprintln(w, line)
		}
	}
	return missing
}

func (r Result) label() string {
	if len(r.Names) > 0 {
		return "CONFIG_" + r.Names[0]
	}
	return r.Title
}
