package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lxc-shim/lxc-shim/config"
)

// Settings of a running container (lxc-initd cgroup NAME KEY [VALUE]):
// the key in any form the config takes, checked and translated by package
// config as the same config line would be, placed by the same plan as
// Create's. A bare file name ("memory.max") is read as the hierarchy's
// that has the file in the container's cgroup, cgroup2 first; when
// neither has it (memory.max on a host whose memory controller is on v1),
// as the one whose setting, or its translation, this host can take.

// versions are the hierarchies (1, 2) a key may be read as, in order of
// preference: one for a key of the config's forms.
func (g *Cgroup) versions(key string) []int {
	if v, _ := config.CgroupKey(key, 0); v != 0 {
		return []int{v}
	}
	if strings.ContainsAny(key, "/\x00") || key == "." || key == ".." {
		return []int{1}
	}
	has := func(v2 bool) bool {
		ctrl, _, _ := strings.Cut(key, ".")
		for _, h := range g.hiers {
			if h.v2 == v2 && (hasController(h.mount, ctrl) || v2) {
				if _, err := os.Stat(filepath.Join(h.dir, key)); err == nil {
					return true
				}
			}
		}
		return false
	}
	switch {
	case has(true):
		return []int{2}
	case has(false):
		return []int{1}
	}
	return []int{1, 2}
}

// ConfigKey is key in the form a config line takes, for the hierarchy
// Get reads it from.
func (g *Cgroup) ConfigKey(key string) string {
	return configKey(key, g.versions(key)[0])
}

func configKey(key string, ver int) string {
	_, file := config.CgroupKey(key, ver)
	if ver == 2 {
		return "lxc.cgroup2." + file
	}
	return "lxc.cgroup." + file
}

// Get reads one setting of the running container from the hierarchy that
// hosts its controller: its value and the file read.
func (g *Cgroup) Get(key string) (value, file string, err error) {
	ver, name := config.CgroupKey(key, g.versions(key)[0])
	ctrl, _, ok := strings.Cut(name, ".")
	if !ok || name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return "", "", fmt.Errorf("%s: not a controller file (CONTROLLER.FILE)", key)
	}
	i := g.hostOf(ctrl, ver == 2)
	if i < 0 {
		return "", "", fmt.Errorf("%s: this %s host has no cgroup %s hierarchy with the %s controller", key, g.layout, version(ver == 2), ctrl)
	}
	file = filepath.Join(g.hiers[i].dir, name)
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", "", fmt.Errorf("%s: no such file on this host: %s", key, file)
		}
		return "", "", fmt.Errorf("%s: read %s: %w", key, file, err)
	}
	return strings.TrimRight(string(b), "\n"), file, nil
}

// Set writes one setting (and, where this host runs its controller on the
// other hierarchy, its translation) into the running container's cgroup.
// Everything is checked before the first write: the key and value as the
// config would, the controller on this host, the files' existence. If a
// write fails, the files already written get their old values back, so a
// refused setting changes nothing. It returns the key in the config's
// form (what --persist appends) and the files written.
func (g *Cgroup) Set(key, value string) (string, []string, error) {
	var first error
	for _, ver := range g.versions(key) {
		files, err := g.set(key, value, ver)
		if err == nil {
			return configKey(key, ver), files, nil
		}
		if first == nil {
			first = err
		}
	}
	return "", nil, first
}

func (g *Cgroup) set(key, value string, ver int) ([]string, error) {
	c, err := config.CgroupLive(key, value, ver)
	if err != nil {
		return nil, err
	}
	live := *g
	live.cfg = c
	p, err := live.plan()
	if err != nil {
		return nil, err
	}
	if len(p.writes) == 0 {
		return nil, fmt.Errorf("%s: nothing to write on this %s host", key, g.layout)
	}
	old := make([]string, len(p.writes))
	for i, w := range p.writes {
		b, err := os.ReadFile(w.path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s: cannot be applied: this host's kernel has no %s", w.label, w.path)
			}
			return nil, fmt.Errorf("%s: read %s: %w", w.label, w.path, err)
		}
		old[i] = strings.TrimSpace(string(b))
	}
	var files []string
	for i, w := range p.writes {
		if err := writeSetting(w); err != nil {
			for j := i - 1; j >= 0; j-- {
				_ = writeFile(p.writes[j].path, old[j])
			}
			return nil, err
		}
		files = append(files, w.path)
	}
	return files, nil
}

// Stats is what the container's cgroup accounts (lxc-initd info). A
// number the host does not account is nil; Files names the file each was
// read from, under the Stats field's JSON name.
type Stats struct {
	Memory, MemoryLimit, Swap, CPU, BlkIO, Pids *uint64
	Files                                       map[string]string
}

// Stats reads the container's usage: memory and its limit, swap, CPU time
// (nanoseconds), block I/O bytes, and the number of tasks, from whichever
// hierarchy hosts each controller.
func (g *Cgroup) Stats() Stats {
	st := Stats{Files: map[string]string{}}
	read := func(field string, dst **uint64, file string, parse func(string) (uint64, bool)) {
		b, err := os.ReadFile(file)
		if err != nil {
			return
		}
		if n, ok := parse(string(b)); ok {
			*dst = &n
			st.Files[field] = file
		}
	}
	num := func(s string) (uint64, bool) {
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		return n, err == nil
	}
	// A v1 "unlimited" is a huge page-rounded number; v2 says max.
	limit := func(s string) (uint64, bool) {
		n, ok := num(s)
		return n, ok && n < 1<<62
	}
	dir := func(ctrl string, v2 bool) string {
		if i := g.hostOf(ctrl, v2); i >= 0 {
			return g.hiers[i].dir
		}
		return ""
	}
	if d := dir("memory", false); d != "" {
		read("memory_bytes", &st.Memory, filepath.Join(d, "memory.usage_in_bytes"), num)
		read("memory_limit_bytes", &st.MemoryLimit, filepath.Join(d, "memory.limit_in_bytes"), limit)
		// v1 accounts memory+swap together.
		var memsw *uint64
		if read("swap_bytes", &memsw, filepath.Join(d, "memory.memsw.usage_in_bytes"), num); memsw != nil && st.Memory != nil {
			s := *memsw - min(*memsw, *st.Memory)
			st.Swap = &s
		}
	} else if d := dir("memory", true); d != "" {
		read("memory_bytes", &st.Memory, filepath.Join(d, "memory.current"), num)
		read("memory_limit_bytes", &st.MemoryLimit, filepath.Join(d, "memory.max"), num)
		read("swap_bytes", &st.Swap, filepath.Join(d, "memory.swap.current"), num)
	}
	if d := dir("cpuacct", false); d != "" {
		read("cpu_ns", &st.CPU, filepath.Join(d, "cpuacct.usage"), num)
	} else if i := g.v2Index(); i >= 0 {
		// cpu.stat is in every cgroup2 directory, with or without the cpu
		// controller enabled.
		read("cpu_ns", &st.CPU, filepath.Join(g.hiers[i].dir, "cpu.stat"), func(s string) (uint64, bool) {
			us, ok := keyed(s, "usage_usec")
			return us * 1000, ok
		})
	}
	if d := dir("blkio", false); d != "" {
		read("blkio_bytes", &st.BlkIO, filepath.Join(d, "blkio.throttle.io_service_bytes"), func(s string) (uint64, bool) {
			// "MAJ:MIN Read N" ... lines, and "Total N" at the end.
			for _, line := range strings.Split(s, "\n") {
				if f := strings.Fields(line); len(f) == 2 && f[0] == "Total" {
					return num(f[1])
				}
			}
			return 0, false
		})
	} else if d := dir("io", true); d != "" {
		read("blkio_bytes", &st.BlkIO, filepath.Join(d, "io.stat"), func(s string) (uint64, bool) {
			// One line per device: "MAJ:MIN rbytes=N wbytes=N ...".
			var total uint64
			for _, line := range strings.Split(s, "\n") {
				for _, f := range strings.Fields(line) {
					if k, v, ok := strings.Cut(f, "="); ok && (k == "rbytes" || k == "wbytes") {
						n, _ := strconv.ParseUint(v, 10, 64)
						total += n
					}
				}
			}
			return total, true
		})
	}
	if d := dir("pids", false); d != "" {
		read("pids", &st.Pids, filepath.Join(d, "pids.current"), num)
	} else if d := dir("pids", true); d != "" {
		read("pids", &st.Pids, filepath.Join(d, "pids.current"), num)
	}
	return st
}

// keyed is the number of key in a flat-keyed file ("key N" lines).
func keyed(s, key string) (uint64, bool) {
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
