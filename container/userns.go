package container

// User namespaces (lxc.idmap): the shim's side and the stage's side.
//
// The stage is cloned with CLONE_NEWUSER together with the other
// namespaces, so every one of them is owned by the container's user
// namespace. The shim (host root) writes uid_map and gid_map before the
// cloned child goes on (Go's ForkExec does this between clone and exec,
// while the child waits on a pipe), and the child then becomes uid 0/gid 0
// of the namespace, so the stage runs as the mapped host root with a full
// set of capabilities in the namespace and none outside it.
//
// What only host root can do is done by the shim and handed over:
//   - idmapped mounts (mount_setattr MOUNT_ATTR_IDMAP needs CAP_SYS_ADMIN
//     over the file system's own user namespace): the shim clones the
//     rootfs and the idmap=container bind sources with open_tree, maps
//     them to the stage's user namespace and sends the detached mounts
//     over a socket; the stage attaches them with move_mount.
//   - the terminals: the pty slaves are chowned to the mapped root, as
//     LXC's lxc_terminal_map_ids does;
//   - the cgroup is delegated by the caller (cgroup.Cgroup.Chown).

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/lxc-shim/lxc-shim/config"
	"golang.org/x/sys/unix"
)

// usernsAttr adds the user namespace and its maps to sys. LXC, started by
// root, leaves setgroups allowed (it writes "deny" only where an
// unprivileged caller maps its own gid without newgidmap): the init may
// set its groups, like any root.
func usernsAttr(cfg *config.Config, sys *syscall.SysProcAttr) {
	sys.Cloneflags |= unix.CLONE_NEWUSER
	for _, m := range cfg.Security.IDMap {
		e := syscall.SysProcIDMap{ContainerID: int(m.Container), HostID: int(m.Host), Size: int(m.Count)}
		if m.Kind == 'u' {
			sys.UidMappings = append(sys.UidMappings, e)
		} else {
			sys.GidMappings = append(sys.GidMappings, e)
		}
	}
	sys.GidMappingsEnableSetgroups = true
	// Without this the child keeps host uid 0, unmapped in the namespace,
	// and exec would drop its capabilities there.
	sys.Credential = &syscall.Credential{Uid: 0, Gid: 0}
}

// mappedRoot is the host uid and gid of the container's root.
func mappedRoot(cfg *config.Config) (uid, gid int, err error) {
	u, ok := cfg.HostID('u', 0)
	g, ok2 := cfg.HostID('g', 0)
	if !ok || !ok2 {
		return 0, 0, errors.New("lxc.idmap maps no host id to container root")
	}
	return int(u), int(g), nil
}

// chownTerminals gives the pty slaves to the container's root: the init
// must be able to reopen its console and set it up (LXC does the same).
func chownTerminals(cfg *config.Config, ttys ...*os.File) error {
	uid, gid, err := mappedRoot(cfg)
	if err != nil {
		return err
	}
	return ownTerminals(uid, gid, ttys...)
}

// reclaimTerminals gives back to host root the pty slaves an earlier,
// unprivileged boot gave its root (the ptys live as long as the shim, and
// the config may drop lxc.idmap at a reboot): host uid 100000 must not
// keep a privileged container's console. Its group goes to root too (the
// host's tty group it had before is not known any more).
func reclaimTerminals(ttys ...*os.File) error {
	var mine []*os.File
	for _, f := range ttys {
		var st unix.Stat_t
		if f != nil && unix.Fstat(int(f.Fd()), &st) == nil && st.Uid != 0 {
			mine = append(mine, f)
		}
	}
	return ownTerminals(0, 0, mine...)
}

func ownTerminals(uid, gid int, ttys ...*os.File) error {
	for _, f := range ttys {
		if f == nil {
			continue
		}
		if err := unix.Fchown(int(f.Fd()), uid, gid); err != nil {
			return fmt.Errorf("chown terminal %s to %d:%d: %w", f.Name(), uid, gid, err)
		}
	}
	return nil
}

// maxIDMapped bounds the idmapped mounts of one container (one message).
const maxIDMapped = 250

// idmappedHeader tells the stage which detached mounts follow, in order:
// "rootfs" and "mount.N" (N indexes cfg.Mounts).
type idmappedHeader struct {
	Names []string `json:"names"`
}

// sendIDMapped makes the idmapped mounts the config asks for, mapped to
// the user namespace of process pid, and sends them over sock. The shim
// keeps no copy.
func sendIDMapped(cfg *config.Config, pid int, sock *os.File) error {
	var names []string
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	if cfg.Rootfs.IDMapped || anyIDMappedMount(cfg) {
		userns, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open the stage's user namespace: %w", err)
		}
		defer unix.Close(userns)
		if cfg.Rootfs.IDMapped {
			fd, err := idmappedTree(cfg.Rootfs.Path, userns, true)
			if err != nil {
				return &StageError{Step: "rootfs", Key: "lxc.rootfs.options", Value: "idmap=container", Pos: cfg.Rootfs.OptionsPos, Err: err.Error()}
			}
			names, fds = append(names, "rootfs"), append(fds, fd)
		}
		for i, m := range cfg.Mounts {
			if !m.IDMapped || m.SourceRelative {
				continue
			}
			fd, err := idmappedTree(m.Source, userns, m.Flags&unix.MS_REC != 0)
			if errors.Is(err, unix.ENOENT) && m.Optional {
				continue
			}
			if err != nil {
				return &StageError{Step: "mount", Key: "lxc.mount.entry", Value: entryText(m), Pos: m.Pos, Err: err.Error()}
			}
			names, fds = append(names, "mount."+strconv.Itoa(i)), append(fds, fd)
		}
	}
	if len(fds) > maxIDMapped {
		return fmt.Errorf("%d idmapped mounts: at most %d", len(fds), maxIDMapped)
	}
	hdr, err := json.Marshal(idmappedHeader{Names: names})
	if err != nil {
		return err
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(int(sock.Fd()), hdr, oob, nil, 0); err != nil {
		return fmt.Errorf("send idmapped mounts to the stage: %w", err)
	}
	return nil
}

func anyIDMappedMount(cfg *config.Config) bool {
	for _, m := range cfg.Mounts {
		if m.IDMapped {
			return true
		}
	}
	return false
}

// idmappedTree clones the mount at path (with its submounts when rec) as
// a detached tree and maps it to the user namespace userns: a file owned
// by host uid 0 is seen as owned by the container's root, and what the
// container creates lands on disk as uid 0.
func idmappedTree(path string, userns int, rec bool) (int, error) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	at := uint(unix.AT_EMPTY_PATH)
	if rec {
		flags |= unix.AT_RECURSIVE
		at |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, path, flags)
	if err != nil {
		return -1, fmt.Errorf("open_tree %s: %w", path, err)
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns)}
	if err := unix.MountSetattr(fd, "", at, attr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			return -1, fmt.Errorf("idmapped mount of %s: %w (the file system, or this kernel, does not support idmapped mounts: Linux 5.12+, and a file system that allows them)", path, err)
		}
		return -1, fmt.Errorf("idmapped mount of %s: %w", path, err)
	}
	return fd, nil
}

// recvIDMapped is the stage's side of sendIDMapped: the detached mounts
// by name ("rootfs", "mount.N").
func recvIDMapped(fd int) (map[string]*os.File, error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*maxIDMapped))
	n, oobn, flags, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receive idmapped mounts: %w", err)
	}
	if flags&(unix.MSG_CTRUNC|unix.MSG_TRUNC) != 0 {
		// The kernel closed what did not fit; the names no longer match.
		return nil, errors.New("receive idmapped mounts: truncated message")
	}
	var fds []int
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			got, err := unix.ParseUnixRights(&m)
			if err != nil {
				return nil, err
			}
			fds = append(fds, got...)
		}
	}
	var h idmappedHeader
	if err := json.Unmarshal(buf[:n], &h); err != nil {
		return nil, fmt.Errorf("receive idmapped mounts: %w", err)
	}
	if len(h.Names) != len(fds) {
		for _, f := range fds {
			unix.Close(f)
		}
		return nil, fmt.Errorf("receive idmapped mounts: %d names for %d descriptors", len(h.Names), len(fds))
	}
	out := make(map[string]*os.File, len(fds))
	for i, name := range h.Names {
		out[name] = os.NewFile(uintptr(fds[i]), "idmapped:"+name)
	}
	return out, nil
}

// attachTree moves the detached mount f onto the already resolved
// target t (both descriptors; nothing is looked up by path).
func attachTree(f, t *os.File) error {
	return unix.MoveMount(int(f.Fd()), "", int(t.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
}

// attachIDMapped puts the idmapped tree the shim made for mount entry i
// on its target, then applies the entry's per-mount flags.
func (s *stager) attachIDMapped(i int, m config.Mount) error {
	f := s.idmapped["mount."+strconv.Itoa(i)]
	if f == nil {
		return errors.New("no idmapped mount was received for this entry")
	}
	defer f.Close()
	t, err := s.root.open(m.Target)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := attachTree(f, t); err != nil {
		return fmt.Errorf("attach idmapped %s on /%s: %w", m.Source, clean(m.Target), err)
	}
	return s.applyBindFlags(m, m.Source)
}

// devptsGID is the gid= option of the container's devpts: the tty group
// (5), unless the user namespace does not map it, where the kernel would
// refuse it (LXC then leaves it out too).
func (s *stager) devptsGID() string {
	if s.cfg.Unprivileged() {
		if _, ok := s.cfg.HostID('g', 5); !ok {
			return ""
		}
	}
	return ",gid=5"
}

// usernsPrepare sets up what the stage of an unprivileged container needs
// from the shim before it is cloned: the user namespace in sys, the
// terminals' owner, and the socket pair the idmapped mounts go over (the
// shim's end first; the caller passes the other to the stage).
func usernsPrepare(cfg *config.Config, sys *syscall.SysProcAttr, opts SpawnOptions) (*os.File, *os.File, error) {
	usernsAttr(cfg, sys)
	if err := chownTerminals(cfg, append([]*os.File{opts.Console}, opts.TTYs...)...); err != nil {
		return nil, nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socket pair for idmapped mounts: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "idmap-shim"), os.NewFile(uintptr(fds[1]), "idmap-stage"), nil
}

// attachIDMappedRootfs attaches the idmapped tree of the rootfs the shim
// sent (f) on target, the rootfs's mount point.
func attachIDMappedRootfs(f *os.File, target string) error {
	defer f.Close()
	t, err := os.OpenFile(target, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return unwrapPath(err)
	}
	defer t.Close()
	if err := attachTree(f, t); err != nil {
		return fmt.Errorf("attach the idmapped rootfs: %w", err)
	}
	return nil
}

// rootfsAccessHint explains an EACCES on the rootfs path of an
// unprivileged container: its root is an unprivileged host uid, which
// must be able to reach the directory (LXC requires the same).
func (s *stager) rootfsAccessHint(err error) error {
	if !s.cfg.Unprivileged() || !errors.Is(err, unix.EACCES) {
		return err
	}
	uid, _, _ := mappedRoot(s.cfg)
	return fmt.Errorf("%w: the container's root (host uid %d) cannot reach it; every directory above it must be searchable by that uid (chmod o+x)", err, uid)
}
