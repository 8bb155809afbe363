package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// comm is /proc/PID/comm, "" when the process is gone.
func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// statusField returns a field of /proc/PID/status ("PPid", "NSpid"...).
func statusField(pid int, key string) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == key {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("/proc/%d/status: no %s", pid, key)
}

func ppid(pid int) int {
	v, err := statusField(pid, "PPid")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(v)
	return n
}

// isInit says whether pid is a container's init that has exec'd: PID 1 in
// its own PID namespace and named "init" (/sbin/init -> busybox). Before
// the exec, LXC's child is still "lxc-start" and the shim's stage is
// "lxc-shim", so the name tells the exec happened.
func isInit(pid int) bool { return isInitNamed(pid, "init") }

// isInitNamed is isInit for an init whose comm is name ("systemd").
func isInitNamed(pid int, name string) bool {
	if comm(pid) != name {
		return false
	}
	ns, err := statusField(pid, "NSpid")
	if err != nil {
		return false
	}
	f := strings.Fields(ns)
	return len(f) >= 2 && f[len(f)-1] == "1"
}

// cgroupProcs reads the pids of a cgroup.procs file; an error when the
// cgroup does not exist (between two boots, for instance).
func cgroupProcs(dir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids, nil
}

// cgroupOf returns the path of pid's cgroup in the pids hierarchy
// (/sys/fs/cgroup/pids/...), falling back to the unified one.
func cgroupOf(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	var unified string
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "pids" {
				return filepath.Join("/sys/fs/cgroup/pids", parts[2]), nil
			}
		}
		if parts[0] == "0" && parts[1] == "" {
			unified = parts[2]
		}
	}
	if unified != "" {
		for _, root := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
			d := filepath.Join(root, unified)
			if _, err := os.Stat(filepath.Join(d, "cgroup.procs")); err == nil {
				return d, nil
			}
		}
	}
	return "", fmt.Errorf("pid %d: no pids or unified cgroup in /proc/%d/cgroup", pid, pid)
}

// initIn returns the exec'd init in a cgroup directory other than not,
// or 0.
func initIn(dir string, not int) int { return initInNamed(dir, not, "init") }

// initInNamed is initIn for an init whose comm is name.
func initInNamed(dir string, not int, name string) int {
	pids, err := cgroupProcs(dir)
	if err != nil {
		return 0
	}
	for _, p := range pids {
		if p != not && isInitNamed(p, name) {
			return p
		}
	}
	return 0
}

// childInit scans /proc for an exec'd init whose parent is sup: the
// fallback when the cgroup of a container is unknown.
func childInit(sup, not int) int { return childInitNamed(sup, not, "init") }

// childInitNamed is childInit for an init whose comm is name.
func childInitNamed(sup, not int, name string) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == not {
			continue
		}
		if ppid(p) == sup && isInitNamed(p, name) {
			return p
		}
	}
	return 0
}

// pidfd is an open pidfd of a process, to learn the moment it exits
// without being its parent.
type pidfd struct {
	fd  int
	pid int
}

func openPidfd(pid int) (*pidfd, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	return &pidfd{fd: fd, pid: pid}, nil
}

// wait blocks until the process has exited (pidfd readable) or timeout,
// and returns the moment it saw the exit.
func (p *pidfd) wait(timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		ms := int(time.Until(deadline) / time.Millisecond)
		if ms <= 0 {
			return time.Time{}, fmt.Errorf("pid %d still alive after %s", p.pid, timeout)
		}
		fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("poll pidfd %d: %w", p.pid, err)
		}
		if n > 0 {
			return time.Now(), nil
		}
	}
}

// exited says whether the process has exited, without blocking.
func (p *pidfd) exited() bool {
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	n, _ := unix.Poll(fds, 0)
	return n > 0
}

func (p *pidfd) close() { unix.Close(p.fd) }

// memInfo is what /proc tells of one supervisor process's memory.
type memInfo struct {
	RSS, PSS, Private, Anon, File int // kB
	Threads                       int
}

func readMem(pid int) (memInfo, error) {
	var m memInfo
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return m, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "Rss:":
			m.RSS = v
		case "Pss:":
			m.PSS = v
		case "Private_Clean:", "Private_Dirty:":
			m.Private += v
		}
	}
	for key, dst := range map[string]*int{"RssAnon": &m.Anon, "RssFile": &m.File, "Threads": &m.Threads} {
		s, err := statusField(pid, key)
		if err != nil {
			return m, err
		}
		*dst, _ = strconv.Atoi(strings.Fields(s)[0])
	}
	return m, nil
}

// activity is a process's CPU time and context switches (all threads), to
// diff over an idle window.
type activity struct {
	CPUTicks int // utime+stime, in clock ticks
	Switches int // voluntary+nonvoluntary, summed over /proc/PID/task/*
	Threads  int
}

func readActivity(pid int) (activity, error) {
	var a activity
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return a, err
	}
	// comm may hold spaces and parentheses: fields start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return a, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return a, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	ut, _ := strconv.Atoi(f[11]) // field 14
	st, _ := strconv.Atoi(f[12]) // field 15
	a.CPUTicks = ut + st
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return a, err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		a.Threads++
		for _, key := range []string{"voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"} {
			v, err := taskStatus(pid, tid, key)
			if err == nil {
				a.Switches += v
			}
		}
	}
	return a, nil
}

func taskStatus(pid, tid int, key string) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && k == key {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("task %d/%d: no %s", pid, tid, key)
}

// mapping is the resident memory of one kind of mapping of a process:
// a file (by base name) or "[anon]", "[heap]", "[stack]".
type mapping struct {
	name     string
	rss, pss int // kB
}

// smapsByFile sums /proc/PID/smaps by what is mapped, largest RSS first.
func smapsByFile(pid int) ([]mapping, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return nil, err
	}
	sums := map[string]*mapping{}
	var cur *mapping
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !strings.HasSuffix(f[0], ":") { // a mapping's header line
			name := "[anon]"
			if len(f) >= 6 {
				name = filepath.Base(f[5])
			}
			if sums[name] == nil {
				sums[name] = &mapping{name: name}
			}
			cur = sums[name]
			continue
		}
		if cur == nil || len(f) < 2 {
			continue
		}
		v, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "Rss:":
			cur.rss += v
		case "Pss:":
			cur.pss += v
		}
	}
	out := make([]mapping, 0, len(sums))
	for _, m := range sums {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rss > out[j].rss })
	return out, nil
}
