package kconfig

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
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

// ReadCgroupLayout reads a mountinfo file (/proc/self/mountinfo). readFile
// reads a v2 hierarchy's cgroup.controllers; it may be nil.
func ReadCgroupLayout(mountinfo io.Reader, readFile func(string) ([]byte, error)) (CgroupLayout, error) {
	var l CgroupLayout
	sc := bufio.NewScanner(mountinfo)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
		f := strings.Fields(sc.Text())
		sep := -1
		for i, x := range f {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+1 >= len(f) {
			continue
		}
		fstype, mnt := f[sep+1], unescapeMount(f[4])
		var super string
		if sep+3 < len(f) {
			super = f[sep+3]
		}
		switch fstype {
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(super, ",") {
				switch {
				case o == "rw" || o == "ro" || strings.HasPrefix(o, "release_agent=") || o == "clone_children" ||
					o == "noprefix" || o == "xattr" || o == "cpuset_v2_mode" || o == "favordynmods":
				default:
					ctrls = append(ctrls, o)
				}
			}
			l.V1 = append(l.V1, Hierarchy{Mount: mnt, Controllers: ctrls})
		case "cgroup2":
			if l.V2 != nil {
				continue
			}
			h := Hierarchy{Mount: mnt}
			if readFile != nil {
				if b, err := readFile(filepath.Join(mnt, "cgroup.controllers")); err == nil {
					h.Controllers = strings.Fields(string(b))
				}
			}
			l.V2 = &h
		}
	}
	if err := sc.Err(); err != nil {
		return l, fmt.Errorf("read mountinfo: %w", err)
	}
	sort.Slice(l.V1, func(i, j int) bool { return l.V1[i].Mount < l.V1[j].Mount })
	// Any v1 hierarchy beside cgroup2 is hybrid, even one that only names
	// a hierarchy (name=systemd): that is what systemd calls hybrid too.
	switch {
	case len(l.V1) > 0 && l.V2 != nil:
		l.Kind = "hybrid"
	case len(l.V1) > 0:
		l.Kind = "v1"
	case l.V2 != nil:
		l.Kind = "v2"
	default:
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

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			o := s[i+1 : i+4]
			if o[0] >= '0' && o[0] <= '3' && o[1] >= '0' && o[1] <= '7' && o[2] >= '0' && o[2] <= '7' {
				b.WriteByte((o[0]-'0')<<6 | (o[1]-'0')<<3 | (o[2] - '0'))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
