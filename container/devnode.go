package container

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Device nodes handed to a running container (lxc-initd device add). The
// shim makes them from the host, without entering the container's mount
// namespace (a Go process must not setns into one): the container's root
// is reached as /proc/PID/root of its init, and every path below it is
// resolved with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS|
// RESOLVE_NO_MAGICLINKS), so that a symlink root in the container planted
// in its /dev can neither lead the node, nor a chmod or an unlink, outside
// the container's /dev.

// inRoot is the resolution of every path inside the container.
const inRoot = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// NodeDest checks dest, the path of a node inside the container: absolute,
// clean, below /dev.
func NodeDest(dest string) error {
	if !strings.HasPrefix(dest, "/dev/") || path.Clean(dest) != dest || dest == "/dev/" {
		return fmt.Errorf("%q: a device node goes below /dev inside (an absolute, clean path)", dest)
	}
	return nil
}

// MakeNode creates the device node dest (NodeDest) in the container whose
// root rfd is (an O_PATH descriptor of /proc/PID/root of its init, which
// the caller proved the init's), with the type, number, permissions and owner of the host's
// node st; missing directories below /dev are made (0755). It refuses a
// dest that exists. It returns the directories it made, innermost last,
// for RemoveNode.
func MakeNode(rfd int, dest string, st *unix.Stat_t) (made []string, err error) {
	if err := NodeDest(dest); err != nil {
		return nil, err
	}
	kind := st.Mode & unix.S_IFMT
	if kind != unix.S_IFCHR && kind != unix.S_IFBLK {
		return nil, errors.New("not a character or block device")
	}
	dir, base := path.Split(dest)
	// /dev itself must exist; what is below it is made as needed.
	dfd, err := unix.Openat2(rfd, "dev", &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: inRoot})
	if err != nil {
		return nil, fmt.Errorf("/dev inside: %w", err)
	}
	defer func() {
		if err != nil {
			removeDirs(rfd, made)
			made = nil
		}
	}()
	cur := "/dev"
	for _, part := range strings.Split(strings.Trim(strings.TrimPrefix(dir, "/dev/"), "/"), "/") {
		if part == "" {
			continue
		}
		cur += "/" + part
		if err := unix.Mkdirat(dfd, part, 0o755); err == nil {
			made = append(made, cur)
		} else if !errors.Is(err, unix.EEXIST) {
			unix.Close(dfd)
			return made, fmt.Errorf("mkdir %s inside: %w", cur, err)
		}
		next, err := unix.Openat2(dfd, part, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: inRoot})
		unix.Close(dfd)
		if err != nil {
			return made, fmt.Errorf("%s inside: %w", cur, err)
		}
		dfd = next
	}
	defer unix.Close(dfd)
	if err := unix.Mknodat(dfd, base, kind|0o600, int(st.Rdev)); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return made, fmt.Errorf("%s exists inside", dest)
		}
		return made, fmt.Errorf("mknod %s inside: %w", dest, err)
	}
	// Permissions and owner as the host's node, set on the node just made
	// (opened without following anything: root inside may have swapped
	// it meanwhile, and then nothing is changed).
	nfd, err := unix.Openat2(dfd, base, &unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: inRoot})
	if err == nil {
		defer unix.Close(nfd)
		err = sameNode(nfd, st)
	}
	if err == nil {
		proc := fmt.Sprintf("/proc/self/fd/%d", nfd)
		err = errors.Join(unix.Chmod(proc, st.Mode&0o7777), unix.Fchownat(nfd, "", int(st.Uid), int(st.Gid), unix.AT_EMPTY_PATH))
	}
	if err != nil {
		_ = unix.Unlinkat(dfd, base, 0)
		return made, fmt.Errorf("%s inside: %w", dest, err)
	}
	return made, nil
}

// sameNode checks that fd is a device node of st's type and number.
func sameNode(fd int, st *unix.Stat_t) error {
	var got unix.Stat_t
	if err := unix.Fstat(fd, &got); err != nil {
		return err
	}
	if got.Mode&unix.S_IFMT != st.Mode&unix.S_IFMT || got.Rdev != st.Rdev {
		return errors.New("is not the device node that was made (replaced inside)")
	}
	return nil
}

// RemoveNode removes the node dest that MakeNode made from st in the
// container whose root rfd is, only if it
// still is that device, then the directories MakeNode made for it when
// they are empty. A dest already gone is not an error.
func RemoveNode(rfd int, dest string, st *unix.Stat_t, made []string) error {
	if err := NodeDest(dest); err != nil {
		return err
	}
	dir, base := path.Split(dest)
	dfd, err := unix.Openat2(rfd, strings.TrimPrefix(dir, "/"), &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: inRoot})
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s inside: %w", dir, err)
	}
	defer unix.Close(dfd)
	nfd, err := unix.Openat2(dfd, base, &unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: inRoot})
	switch {
	case errors.Is(err, unix.ENOENT):
	case err != nil:
		return fmt.Errorf("%s inside: %w", dest, err)
	default:
		err = sameNode(nfd, st)
		unix.Close(nfd)
		if err != nil {
			return fmt.Errorf("%s inside %w: left in place", dest, err)
		}
		if err := unix.Unlinkat(dfd, base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove %s inside: %w", dest, err)
		}
	}
	removeDirs(rfd, made)
	return nil
}

// removeDirs removes the directories made, innermost first, while they
// are empty.
func removeDirs(rfd int, made []string) {
	for i := len(made) - 1; i >= 0; i-- {
		parent, name := path.Split(made[i])
		pfd, err := unix.Openat2(rfd, strings.TrimPrefix(parent, "/"), &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: inRoot})
		if err != nil {
			return
		}
		err = unix.Unlinkat(pfd, name, unix.AT_REMOVEDIR)
		unix.Close(pfd)
		if err != nil {
			return
		}
	}
}
