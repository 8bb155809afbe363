package supervise

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/container"
	"github.com/lxc-shim/lxc-shim/netcleanup"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// Devices handed to a running container (lxc-initd device add|del), as
// lxc-device does: a host device node (a rule in the container's cgroup,
// a node in its /dev) or a host network interface (moved into its network
// namespace). They belong to the run: a reboot's new cgroup, /dev and
// network namespace have only what the config gives, and the run's
// teardown moves handed interfaces back to the host.

// handedNode is a device node made inside.
type handedNode struct {
	host, dest string
	st         unix.Stat_t
	rule       config.DeviceRule
	dirs       []string // directories made for it inside
}

// Device implements Live.
func (r *run) Device(req shimctl.Request, initStart uint64) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.Path == "" {
		return "", errors.New("no device given")
	}
	isNode := strings.HasPrefix(req.Path, "/")
	switch {
	case req.Action == "add" && isNode:
		return r.addNode(req.Path, req.Dest, initStart)
	case req.Action == "add":
		return r.addNetdev(req.Path, req.Dest, initStart)
	case req.Action == "del" && isNode:
		return r.delNode(req.Path, initStart)
	case req.Action == "del":
		return r.delNetdev(req.Path)
	}
	return "", fmt.Errorf("unknown action %q (add or del)", req.Action)
}

// openOfInit opens /proc/PID/what of the run's init, proven to be it: a
// pidfd pins the process, its start time must be the init's, and it must
// still live once the file is open (then the pid was not reused between).
func (r *run) openOfInit(what string, flags int, initStart uint64) (int, error) {
	pidfd, err := unix.PidfdOpen(r.pid, 0)
	if err != nil {
		return -1, fmt.Errorf("init %d: %w", r.pid, err)
	}
	defer unix.Close(pidfd)
	if st, err := shimctl.ProcStartTime(r.pid); err != nil || st != initStart {
		return -1, fmt.Errorf("init %d: not the container's init any more", r.pid)
	}
	p := fmt.Sprintf("/proc/%d/%s", r.pid, what)
	fd, err := unix.Open(p, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", p, err)
	}
	if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("init %d ended: %w", r.pid, err)
	}
	return fd, nil
}

func (r *run) addNode(host, dest string, initStart uint64) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(host, &st); err != nil {
		return "", fmt.Errorf("%s: %w", host, err)
	}
	kind := byte('c')
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
	case unix.S_IFBLK:
		kind = 'b'
	default:
		return "", fmt.Errorf("%s: not a character or block device", host)
	}
	if dest == "" {
		dest = host
	}
	if err := container.NodeDest(dest); err != nil {
		return "", err
	}
	for _, n := range r.nodes {
		if n.dest == dest {
			return "", fmt.Errorf("%s: already handed in as %s", n.host, dest)
		}
	}
	rule := config.DeviceRule{Allow: true, Type: rune(kind), Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)), Access: "rwm",
		Pos: config.Pos{Key: "lxc-initd device add " + host}}
	rfd, err := r.openOfInit("root", unix.O_PATH|unix.O_DIRECTORY, initStart)
	if err != nil {
		return "", err
	}
	defer unix.Close(rfd)
	// The rule first: the node is usable the moment it appears.
	if err := r.cg.AllowDevice(rule); err != nil {
		return "", err
	}
	dirs, err := container.MakeNode(rfd, dest, &st)
	if err != nil {
		if rerr := r.cg.RevokeDevice(rule); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return "", err
	}
	r.nodes = append(r.nodes, handedNode{host: host, dest: dest, st: st, rule: rule, dirs: dirs})
	return fmt.Sprintf("%s (%c %d:%d) is %s inside", host, kind, rule.Major, rule.Minor, dest), nil
}

// delNode undoes addNode; p is the host path or the path inside.
func (r *run) delNode(p string, initStart uint64) (string, error) {
	p = path.Clean(p)
	i := -1
	for j, n := range r.nodes {
		if n.dest == p || n.host == p {
			i = j
		}
	}
	if i < 0 {
		return "", fmt.Errorf("%s: not handed in by device add", p)
	}
	n := r.nodes[i]
	rfd, err := r.openOfInit("root", unix.O_PATH|unix.O_DIRECTORY, initStart)
	if err != nil {
		return "", err
	}
	defer unix.Close(rfd)
	if err := container.RemoveNode(rfd, n.dest, &n.st, n.dirs); err != nil {
		return "", err
	}
	if err := r.cg.RevokeDevice(n.rule); err != nil {
		return "", err
	}
	r.nodes = append(r.nodes[:i], r.nodes[i+1:]...)
	return fmt.Sprintf("%s removed from inside, access revoked", n.dest), nil
}

func (r *run) addNetdev(host, inner string, initStart uint64) (string, error) {
	if inner == "" {
		inner = host
	}
	if strings.ContainsAny(host+inner, "/ \t\n:") || len(inner) >= unix.IFNAMSIZ {
		return "", fmt.Errorf("%q, %q: not network interface names", host, inner)
	}
	fd, err := r.openOfInit("ns/net", unix.O_RDONLY, initStart)
	if err != nil {
		return "", err
	}
	var in, own unix.Stat_t
	if err := errors.Join(unix.Fstat(fd, &in), unix.Stat("/proc/self/ns/net", &own)); err != nil || (in.Dev == own.Dev && in.Ino == own.Ino) {
		unix.Close(fd)
		return "", fmt.Errorf("%s: the container shares the host's network namespace (lxc.net type none): nothing to move", host)
	}
	h, err := netcleanup.MoveIn(netns.NsHandle(fd), host, inner)
	if err != nil {
		return "", err
	}
	r.netdevs = append(r.netdevs, h)
	return fmt.Sprintf("network interface %s is %s inside", host, inner), nil
}

// delNetdev undoes addNetdev; name is the host name or the name inside.
func (r *run) delNetdev(name string) (string, error) {
	for i, h := range r.netdevs {
		if h.Host == name || h.Inner == name {
			r.netdevs = append(r.netdevs[:i], r.netdevs[i+1:]...)
			if err := h.MoveOut(); err != nil {
				return "", err
			}
			return fmt.Sprintf("network interface %s is back on the host", h.Host), nil
		}
	}
	return "", fmt.Errorf("%s: not handed in by device add", name)
}

// returnNetdevs moves every handed interface back to the host (teardown).
func (r *run) returnNetdevs() error {
	var errs []error
	for _, h := range r.netdevs {
		if err := h.MoveOut(); err != nil {
			errs = append(errs, err)
		}
	}
	r.netdevs = nil
	return errors.Join(errs...)
}
