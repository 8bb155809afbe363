package netcleanup

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Scope is what the host side of one container must know beyond the
// host's devices: where its own records are, which other containers run
// (so that their devices are never taken for leftovers), and which
// processes are its own. The caller (package supervise, which owns the
// state files and the cgroup) fills it; this package reads no state of
// another package.
type Scope struct {
	// StateDir is this container's state directory (its DevicesFile).
	StateDir string
	// Others lists the live containers other than this one (nil: none).
	// Listing them reads every other container's state, so it is called
	// only when one of this container's device names is found on the
	// host, at most once per Check or RemoveStale: a boot's cost then
	// does not grow with the number of containers on the host.
	Others func() []Other
}

// OthersOf is a Scope.Others that lists os.
func OthersOf(os ...Other) func() []Other { return func() []Other { return os } }

// lazyLive is liveContainers of scope's others, worked out on its first
// call and remembered.
func lazyLive(self string, scope Scope) func() ([]liveContainer, error) {
	return sync.OnceValues(func() ([]liveContainer, error) {
		var others []Other
		if scope.Others != nil {
			others = scope.Others()
		}
		return liveContainers(self, others)
	})
}

// Other is another live container: its init's host pid (alive, checked by
// the caller) and its state directory, whose DevicesFile lists what it made.
type Other struct {
	Name     string
	Pid      int
	StateDir string
}

// liveContainer is an Other whose init is in a network namespace of its
// own, with its records.
type liveContainer struct {
	name    string
	pid     int
	devices []record
}

// liveContainers keeps the others whose pid is in a network namespace that
// is not the host's (a pid reused by a host process is not a container).
func liveContainers(self string, others []Other) ([]liveContainer, error) {
	hostNS, err := nsID("/proc/self/ns/net")
	if err != nil {
		return nil, err
	}
	var out []liveContainer
	for _, o := range others {
		if o.Name == self || o.Pid <= 0 {
			continue
		}
		ns, err := nsID("/proc/" + strconv.Itoa(o.Pid) + "/ns/net")
		if err != nil || ns == hostNS {
			continue
		}
		devs, _ := readRecords(filepath.Join(o.StateDir, DevicesFile))
		out = append(out, liveContainer{name: o.Name, pid: o.Pid, devices: devs})
	}
	return out, nil
}

type nsIdent struct{ dev, ino uint64 }

func nsID(path string) (nsIdent, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nsIdent{}, fmt.Errorf("stat %s: %w", path, err)
	}
	return nsIdent{uint64(st.Dev), st.Ino}, nil
}

// ownerOf names the live container that holds host device name (recorded in
// its devices file, or, for a veth, whose peer is in that container's network
// namespace), or "".
func ownerOf(others []liveContainer, name string, link netlink.Link) string {
	for _, o := range others {
		for _, r := range o.devices {
			if r.Name == name {
				return o.name
			}
		}
	}
	if _, ok := link.(*netlink.Veth); !ok || link.Attrs().NetNsID < 0 {
		return ""
	}
	for _, o := range others {
		h, err := netns.GetFromPid(o.pid)
		if err != nil {
			continue
		}
		id, err := netlink.GetNetNsIdByFd(int(h))
		h.Close()
		if err == nil && id >= 0 && id == link.Attrs().NetNsID {
			return o.name
		}
	}
	return ""
}

// recordOf is the record that proves link is this container's: same name,
// same kind, and the ifindex recorded before it was created. Nil if none.
func recordOf(recs []record, link netlink.Link) *record {
	a := link.Attrs()
	for i, r := range recs {
		if r.Name == a.Name && r.Kind == link.Type() && r.Ifindex > 0 && r.Ifindex == a.Index {
			return &recs[i]
		}
	}
	return nil
}

// notOurs is the refusal of a device that is not provably the container's.
func notOurs(name, kind, dev, stateDir string) error {
	return fmt.Errorf("container %s: %s %s exists on the host but was not created by lxc-shim for %s (no line with its name and ifindex in %s); it is left alone: if it is not in use, remove it by hand with `ip link delete %s`, or choose another lxc.net.N.veth.pair",
		name, kind, dev, name, filepath.Join(stateDir, DevicesFile), dev)
}

// peerHolder names a live process whose network namespace holds the peer
// of veth link: a container that lxc-shim does not know (LXC's, or anything
// that entered the dead run's namespace), whose network a stale-device
// cleanup must not cut. It returns "" when no process is in that namespace
// (a dead run's namespace kept only by a mount or a descriptor). The dead
// run's own processes are gone by then: its proven cgroup was killed
// first; a process in a cgroup remade at that path is nobody's to count
// as the container's.
func peerHolder(link netlink.Link) string {
	if _, ok := link.(*netlink.Veth); !ok || link.Attrs().NetNsID < 0 {
		return ""
	}
	want := link.Attrs().NetNsID
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return ""
	}
	// One netlink query per namespace, not per process.
	ids := map[nsIdent]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		nsPath := "/proc/" + e.Name() + "/ns/net"
		ident, err := nsID(nsPath)
		if err != nil {
			continue
		}
		id, known := ids[ident]
		if !known {
			id = -1
			if h, err := netns.GetFromPath(nsPath); err == nil {
				if v, err := netlink.GetNetNsIdByFd(int(h)); err == nil {
					id = v
				}
				h.Close()
			}
			ids[ident] = id
		}
		if id != want {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
		return fmt.Sprintf("process %d (%s)", pid, strings.TrimSpace(string(comm)))
	}
	return ""
}
