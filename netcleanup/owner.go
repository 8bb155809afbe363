package netcleanup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// liveContainer is another container of the same RUNDIR whose init is alive
// in a network namespace of its own.
type liveContainer struct {
	name    string
	pid     int
	devices []record
}

// liveContainers lists the containers of rundir other than self that are
// live: their state.json names a pid that exists and whose network namespace
// is not the host's (a pid reused by a host process is not a container).
func liveContainers(rundir, self string) ([]liveContainer, error) {
	ents, err := os.ReadDir(rundir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list containers in %s: %w", rundir, err)
	}
	hostNS, err := nsID("/proc/self/ns/net")
	if err != nil {
		return nil, err
	}
	var out []liveContainer
	for _, e := range ents {
		if !e.IsDir() || e.Name() == self {
			continue
		}
		dir := filepath.Join(rundir, e.Name())
		var st struct {
			Name string `json:"name"`
			Pid  int    `json:"pid"`
		}
		b, err := os.ReadFile(filepath.Join(dir, "state.json"))
		if err != nil || json.Unmarshal(b, &st) != nil || st.Pid <= 0 {
			continue
		}
		ns, err := nsID("/proc/" + strconv.Itoa(st.Pid) + "/ns/net")
		if err != nil || ns == hostNS {
			continue
		}
		name := st.Name
		if name == "" {
			name = e.Name()
		}
		if name == self {
			continue
		}
		devs, _ := readRecords(filepath.Join(dir, DevicesFile))
		out = append(out, liveContainer{name: name, pid: st.Pid, devices: devs})
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

// peerHolder names a live process, outside container self's own cgroup,
// whose network namespace holds the peer of veth link: a container that
// lxc-shim does not know (LXC's, or anything that made a netns), whose
// network a stale-device cleanup must not cut. It returns "" when no process
// is in that namespace (a dead run's namespace kept only by a mount or a
// descriptor) or when every one belongs to self's cgroup (the dead run's own
// leftovers, which its cgroup cleanup kills).
func peerHolder(self string, link netlink.Link) string {
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
		if id != want || inContainerCgroup(pid, self) {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
		return fmt.Sprintf("process %d (%s)", pid, strings.TrimSpace(string(comm)))
	}
	return ""
}

// inContainerCgroup reports whether pid is in cgroup lxc-shim/NAME (or
// below) in any hierarchy.
func inContainerCgroup(pid int, name string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	needle := "/lxc-shim/" + name
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && (parts[2] == needle || strings.HasPrefix(parts[2], needle+"/")) {
			return true
		}
	}
	return false
}
