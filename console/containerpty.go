package console

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ContainerPty allocates a pty from the devpts instance of the container
// whose init is pid (its /dev/pts/ptmx, resolved inside the container's
// root so that no symlink of the container leads outside), so that a
// command attached to the container sees a terminal that exists in its
// /dev/pts. Without one it falls back to a host pty (NewPty).
func ContainerPty(pid int) (master, slave *os.File, err error) {
	root := fmt.Sprintf("/proc/%d/root", pid)
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", root, err)
	}
	defer unix.Close(rfd)
	// Opened as a path first: a device node is opened for real only once
	// it is proven the container's own ptmx (char 5:2 on a devpts). Root
	// in the container chooses what dev/pts/ptmx is, and an open runs the
	// device's open in this host process, outside the container's device
	// cgroup (a watchdog node would arm the host's watchdog).
	pfd, err := unix.Openat2(rfd, "dev/pts/ptmx", &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	mfd := -1
	if err == nil {
		err = checkPtmx(pfd)
		if err == nil {
			mfd, err = unix.Open(fmt.Sprintf("/proc/self/fd/%d", pfd), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		}
		unix.Close(pfd)
	}
	if err != nil {
		return NewPty()
	}
	master = os.NewFile(uintptr(mfd), root+"/dev/pts/ptmx")
	if slave, err = OpenSlave(master); err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// checkPtmx accepts fd (an O_PATH descriptor) only if it is the ptmx
// character device (5:2) of a devpts file system.
func checkPtmx(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 5 || unix.Minor(st.Rdev) != 2 {
		return errors.New("not the ptmx device")
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return err
	}
	if fs.Type != unix.DEVPTS_SUPER_MAGIC {
		return errors.New("ptmx not on a devpts")
	}
	return nil
}
