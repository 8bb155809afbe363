package console

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// NewPty allocates a pseudo-terminal pair from the host's /dev/ptmx.
//
// The master is non-blocking and registered with Go's poller, so that
// Close and read deadlines interrupt a blocked Read (the Mux relies on
// this). The slave is an ordinary blocking file opened without becoming
// the caller's controlling terminal; it is what the launcher binds onto
// the container's /dev/console or /dev/ttyN. Both are close-on-exec.
func NewPty() (master, slave *os.File, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	master = os.NewFile(uintptr(mfd), "/dev/ptmx")
	slave, err = openPeer(master)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// openPeer unlocks the master's slave and opens it. TIOCGPTPEER opens the
// slave through the master itself, so it works even when the slave's
// /dev/pts is not the devpts instance the master came from (a container's).
func openPeer(master *os.File) (*os.File, error) {
	var slave *os.File
	var err error
	ctlErr := withFd(master, func(fd int) {
		if err = unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
			err = fmt.Errorf("unlock pty %s: %w", master.Name(), err)
			return
		}
		n, nerr := unix.IoctlGetInt(fd, unix.TIOCGPTN)
		if nerr != nil {
			err = fmt.Errorf("pty number of %s: %w", master.Name(), nerr)
			return
		}
		name := fmt.Sprintf("/dev/pts/%d", n)
		sfd, perr := peerFd(fd)
		if perr != nil {
			// Kernels before 4.13: open the slave by name.
			sfd, perr = unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		}
		if perr != nil {
			err = fmt.Errorf("open pty slave %s: %w", name, perr)
			return
		}
		slave = os.NewFile(uintptr(sfd), name)
	})
	if ctlErr != nil {
		return nil, ctlErr
	}
	return slave, err
}

// withFd runs fn with f's descriptor, keeping f alive (and, for a pollable
// file, not closed underneath fn) for the duration.
func withFd(f *os.File, fn func(fd int)) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	return rc.Control(func(fd uintptr) { fn(int(fd)) })
}

// SetSize sets the window size of the terminal f (a pty master or slave);
// on a master the kernel sends SIGWINCH to the slave's foreground group.
func SetSize(f *os.File, rows, cols int) error {
	if rows <= 0 || cols <= 0 || rows > 0xffff || cols > 0xffff {
		return fmt.Errorf("resize %s: invalid size %dx%d", f.Name(), rows, cols)
	}
	var err error
	cerr := withFd(f, func(fd int) {
		err = unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)})
	})
	if cerr != nil {
		return cerr
	}
	if err != nil {
		return fmt.Errorf("resize %s: %w", f.Name(), err)
	}
	return nil
}

// Size returns the window size of the terminal f.
func Size(f *os.File) (rows, cols int, err error) {
	var ws *unix.Winsize
	cerr := withFd(f, func(fd int) { ws, err = unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ) })
	if cerr != nil {
		return 0, 0, cerr
	}
	if err != nil {
		return 0, 0, fmt.Errorf("window size of %s: %w", f.Name(), err)
	}
	return int(ws.Row), int(ws.Col), nil
}

// peerFd opens the slave of the master fd with TIOCGPTPEER.
func peerFd(fd int) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.TIOCGPTPEER),
		uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// OpenSlave unlocks and opens the slave of a pty master obtained elsewhere
// (e.g. a container's /dev/pts/ptmx, so that the slave belongs to the
// container's devpts instance). The slave is close-on-exec and not made
// the caller's controlling terminal.
func OpenSlave(master *os.File) (*os.File, error) { return openPeer(master) }

// resetTerminal gives the terminal of f (a fresh slave descriptor) the
// settings t, unlocks every setting (a process with CAP_SYS_ADMIN may have
// locked them with TIOCSLCKTRMIOS) and discards pending input and output.
func resetTerminal(f *os.File, t *unix.Termios) error {
	fd := int(f.Fd())
	if err := unix.IoctlSetTermios(fd, unix.TIOCSLCKTRMIOS, &unix.Termios{}); err != nil && !errors.Is(err, unix.EPERM) {
		// EPERM: not ours to unlock (no CAP_SYS_ADMIN, as in tests run
		// by a user); nothing can have locked them with more rights.
		return fmt.Errorf("unlock settings of %s: %w", f.Name(), err)
	}
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("reset settings of %s: %w", f.Name(), err)
	}
	if err := unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIOFLUSH); err != nil {
		return fmt.Errorf("flush %s: %w", f.Name(), err)
	}
	return nil
}
