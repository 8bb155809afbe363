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
	mfd, err := unix.Openat2(rfd, "dev/pts/ptmx", &unix.OpenHow{
		Flags:   unix.O_RDWR | unix.O_NOCTTY | unix.O_CLOEXEC | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err == nil {
		var st unix.Stat_t
		if serr := unix.Fstat(mfd, &st); serr != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 5 || unix.Minor(st.Rdev) != 2 {
			unix.Close(mfd)
			err = errors.New("not the ptmx device")
		}
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
