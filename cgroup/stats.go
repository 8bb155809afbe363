package cgroup

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Stats is a cheap snapshot of the container's resource use, for status
// output. A field is zero when the host does not account it (its controller
// is not mounted, or on cgroup2 not enabled for the cgroup).
type Stats struct {
	MemoryUsage uint64 // bytes in use now (v1 memory.usage_in_bytes, v2 memory.current)
	MemoryPeak  uint64 // highest use seen (v1 memory.max_usage_in_bytes, v2 memory.peak)
	MemoryLimit uint64 // the limit in bytes; 0: unlimited
	CPU         time.Duration
	Pids        uint64 // tasks counted by the pids controller
}

// Stats reads the container's memory, CPU and task counters from whichever
// hierarchy hosts each controller. The files are read directly rather than
// through containerd's Stat, which fills a large protobuf structure per
// call and knows nothing of the hybrid layout.
func (g *Cgroup) Stats() (Stats, error) {
	var s Stats
	if h := g.statHier("memory"); h != nil {
		if h.v2 {
			s.MemoryUsage = readUint(h.dir, "memory.current")
			s.MemoryPeak = readUint(h.dir, "memory.peak")
			s.MemoryLimit = readUint(h.dir, "memory.max")
		} else {
			s.MemoryUsage = readUint(h.dir, "memory.usage_in_bytes")
			s.MemoryPeak = readUint(h.dir, "memory.max_usage_in_bytes")
			s.MemoryLimit = readUint(h.dir, "memory.limit_in_bytes")
		}
		// v1 reports "no limit" as the largest page-aligned value.
		if s.MemoryLimit >= 1<<62 {
			s.MemoryLimit = 0
		}
	}
	if h := g.statHier("cpuacct"); h != nil {
		s.CPU = time.Duration(readUint(h.dir, "cpuacct.usage"))
	} else if i := g.v2Index(); i >= 0 {
		// cpu.stat's usage_usec is there even without the cpu controller.
		if v, err := readKey(filepath.Join(g.hiers[i].dir, "cpu.stat"), "usage_usec"); err == nil {
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				s.CPU = time.Duration(n) * time.Microsecond
			}
		}
	}
	if h := g.statHier("pids"); h != nil {
		s.Pids = readUint(h.dir, "pids.current")
	}
	if !g.Exists() {
		return s, fmt.Errorf("cgroup %s: stats: %w", g.name, fs.ErrNotExist)
	}
	return s, nil
}

// statHier is the hierarchy hosting ctrl, v1 first.
func (g *Cgroup) statHier(ctrl string) *hier {
	if i := g.hostOf(ctrl, false); i >= 0 {
		return &g.hiers[i]
	}
	if i := g.hostOf(ctrl, true); i >= 0 {
		return &g.hiers[i]
	}
	return nil
}

// readUint reads a single-number cgroup file; "max" and errors read as 0.
func readUint(dir, file string) uint64 {
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0
	}
	return n
}
