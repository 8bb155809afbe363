package shimctl

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/lxc-shim/lxc-shim/cgroup"
	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/netcleanup"
	"github.com/lxc-shim/lxc-shim/storage"
)

// What a dead run left on the host, and whose it is. Packages cgroup and
// netcleanup prove ownership from their own records in the state directory;
// this file gives them what only supervise knows: which other containers run
// (from their state files, checked against /proc) and which processes are
// this container's (its cgroup, wherever lxc.cgroup.dir put it).

// newCgroup is the container's cgroup with its ownership record in its
// state directory.
func newCgroup(cfg *config.Config, p Paths) (*cgroup.Cgroup, error) {
	return cgroup.NewRecorded(cfg.Name, cfg.Cgroup, p.Dir)
}

// otherContainers lists the containers of rundir other than self whose
// recorded init still runs as the init of a PID namespace of its own.
func otherContainers(rundir, self string) []netcleanup.Other {
	ents, err := os.ReadDir(rundir)
	if err != nil {
		return nil
	}
	var out []netcleanup.Other
	for _, e := range ents {
		if !e.IsDir() || e.Name() == self {
			continue
		}
		p := PathsFor(rundir, e.Name())
		st, err := ReadState(p.State)
		if err != nil || st.Pid <= 0 || !SameProcess(st.Pid, st.PidStart) || !initOfOwnPidns(st.Pid) {
			continue
		}
		out = append(out, netcleanup.Other{Name: e.Name(), Pid: st.Pid, StateDir: p.Dir})
	}
	return out
}

// netScope is what netcleanup needs for container name.
func netScope(rundir, name string) netcleanup.Scope {
	return netcleanup.Scope{StateDir: PathsFor(rundir, name).Dir, Others: func() []netcleanup.Other { return otherContainers(rundir, name) }}
}

// CheckNetworks is netcleanup.Check with this host's scope.
func CheckNetworks(cfg *config.Config, rundir string) error {
	return netcleanup.Check(cfg.Name, cfg.Net, netScope(rundir, cfg.Name))
}

// Leftovers is what RemoveLeftovers removed.
type Leftovers struct {
	Cgroups []string // directories
	Devices []string // "veth NAME", "phys NAME (renamed back from X)"
	Loops   []string // "/dev/loopN (IMAGE)"
}

// RemoveLeftovers removes what a dead run of the container provably left:
// first its cgroup (its processes die, and their mount and network
// namespaces with them), then its loop device, then its host network
// devices. It returns the container's cgroup
// for the next run. Anything not provably the container's is refused with
// an error that names it; nothing of it is touched. The caller holds the
// container's lock.
func RemoveLeftovers(cfg *config.Config, rundir string) (*cgroup.Cgroup, Leftovers, error) {
	var done Leftovers
	p := PathsFor(rundir, cfg.Name)
	cg, err := newCgroup(cfg, p)
	if err != nil {
		return nil, done, err
	}
	done.Cgroups, err = cg.RemoveStale()
	if err != nil {
		// The network of a run whose cgroup could not go may still be
		// in use: leave it for the next attempt.
		return cg, done, err
	}
	// The container's mount namespace went with its processes: a loop
	// device it mounted has detached itself (autoclear), unless the shim
	// died before handing it over.
	done.Loops, err = storage.RemoveStale(p.Dir)
	if err != nil {
		return cg, done, fmt.Errorf("%s: %w", cfg.Name, err)
	}
	done.Devices, err = netcleanup.RemoveStale(cfg.Name, cfg.Net, netScope(rundir, cfg.Name))
	return cg, done, err
}

// initOfOwnPidns reports whether pid is PID 1 of a PID namespace below
// this process's: what a container's init is, and a host process is not.
func initOfOwnPidns(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(v)
			return len(f) >= 2 && f[len(f)-1] == "1"
		}
	}
	return false
}

// errNotInit: the state names a pid that is not the container's init.
var errNotInit = errors.New("not the container's init")

// checkInit verifies that pid (which the caller holds a pidfd of) is the
// container's init recorded at start: the same process, PID 1 of a PID
// namespace of its own, in the container's cgroup, which is provably the
// container's. A forged or stale state.json must never make lxc-initd
// signal a host process.
func checkInit(cg *cgroup.Cgroup, pid int, start uint64) error {
	comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	what := fmt.Sprintf("pid %d (%s)", pid, strings.TrimSpace(string(comm)))
	switch {
	case !SameProcess(pid, start):
		return fmt.Errorf("%s: %w: it is not the process that started at the recorded time", what, errNotInit)
	case !initOfOwnPidns(pid):
		return fmt.Errorf("%s: %w: it is not PID 1 of a PID namespace of its own", what, errNotInit)
	case !cg.Contains(pid):
		return fmt.Errorf("%s: %w: it is not in the container's cgroup", what, errNotInit)
	}
	if ok, err := cg.Owned(); !ok {
		if err == nil {
			err = errors.New("the cgroup does not exist")
		}
		return fmt.Errorf("%s: %w: %v", what, errNotInit, err)
	}
	return nil
}
