package kconfig

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lxc-shim/lxc-shim/cgroupfs"
)

// Hierarchy is one mounted cgroup hierarchy.
type Hierarchy struct {
	Mount string
	// Controllers are a v1 hierarchy's controllers ("cpu", "name=systemd"),
	// or the controllers a v2 hierarchy offers (its cgroup.controllers).
	Controllers []string
}

// CgroupLayout is how the host mounts cgroups.
type CgroupLayout struct {
	// Kind is "v1" (only v1 hierarchies), "hybrid" (v1 controllers and a
	// cgroup2 mount beside them), "v2" (cgroup2 only) or "none".
	Kind string
	V1   []Hierarchy
	// V2 is the cgroup2 mount, if any (the first one).
	V2 *Hierarchy
}

// ReadCgroupLayout reads a mountinfo file (/proc/self/mountinfo) from r
// (package cgroupfs parses it). readFile reads a v2 hierarchy's
// cgroup.controllers; it may be nil.
func ReadCgroupLayout(r io.Reader, readFile func(string) ([]byte, error)) (CgroupLayout, error) {
	var l CgroupLayout
	mounts, err := cgroupfs.ReadMounts(r)
	if err != nil {
		return l, err
	}
	var kept []cgroupfs.Mount
	for _, m := range mounts {
		if !m.V2 {
			ctrls := append([]string(nil), m.Controllers...)
			if m.Name != "" {
				ctrls = append(ctrls, m.Name)
			}
			l.V1 = append(l.V1, Hierarchy{Mount: m.Point, Controllers: ctrls})
			kept = append(kept, m)
			continue
		}
		if l.V2 != nil {
			continue
		}
		h := Hierarchy{Mount: m.Point}
		if readFile != nil {
			if b, err := readFile(filepath.Join(m.Point, "cgroup.controllers")); err == nil {
				h.Controllers = strings.Fields(string(b))
			}
		}
		l.V2 = &h
		kept = append(kept, m)
	}
	sort.Slice(l.V1, func(i, j int) bool { return l.V1[i].Mount < l.V1[j].Mount })
	l.Kind = cgroupfs.LayoutOf(kept)
	if l.Kind == "" {
		l.Kind = "none"
	}
	return l, nil
}

// Print writes the layout under a "--- Cgroup layout ---" header.
func (l CgroupLayout) Print(w io.Writer) {
	fmt.Fprintln(w, "--- Cgroup layout ---")
	fmt.Fprintf(w, "Layout: %s\n", l.Kind)
	for _, h := range l.V1 {
		fmt.Fprintf(w, "cgroup v1: %s (%s)\n", h.Mount, strings.Join(h.Controllers, ","))
	}
	if l.V2 != nil {
		ctrls := strings.Join(l.V2.Controllers, ",")
		if ctrls == "" {
			ctrls = "no controllers"
		}
		fmt.Fprintf(w, "cgroup v2: %s (%s)\n", l.V2.Mount, ctrls)
	}
	if l.Kind == "none" {
		fmt.Fprintln(w, "no cgroup file system is mounted: containers cannot start")
	}
}
