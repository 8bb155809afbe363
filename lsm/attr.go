package lsm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Label is the current label of process pid for lsm ("apparmor" or
// "selinux"), read from /proc/PID/attr/apparmor/current (falling back to
// the legacy attr/current) as LXC reads it: its first word, so AppArmor's
// " (enforce)" mode is left out. "" with an error where there is none.
func (h Host) Label(pid int, lsm string) (string, error) {
	dir := h.proc(filepath.Join(strconv.Itoa(pid), "attr"))
	var b []byte
	var err error
	if lsm == "apparmor" {
		b, err = os.ReadFile(filepath.Join(dir, "apparmor", "current"))
		if errors.Is(err, fs.ErrNotExist) {
			b, err = os.ReadFile(filepath.Join(dir, "current"))
		}
	} else {
		b, err = os.ReadFile(filepath.Join(dir, "current"))
	}
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(b), "\x00\n")
	if i := strings.IndexAny(s, " \t\n"); i >= 0 {
		s = s[:i]
	}
	return s, nil
}

// ExecLabel is a label to take at the next exec, opened by the thread that
// execs (OpenExecLabel) and written right before it (Set): the attr files
// of /proc are per thread, and only the thread itself may write them.
type ExecLabel struct {
	f    *os.File
	data string
	lsm  string
}

// OpenExecLabel opens this thread's exec attr file for label under lsm
// ("apparmor": /proc/thread-self/attr/apparmor/exec, else the legacy
// attr/exec; "selinux": attr/exec; "selinux-keyring": attr/keycreate, which
// labels the session keyring made next). The stage opens it while /proc is
// still the host's. checkProc refuses a file that is not on a proc file
// system: an attached process opens it in the container's /proc, which
// root inside could have replaced by a file that takes any write and
// applies none.
func (h Host) OpenExecLabel(lsm, label string, checkProc bool) (*ExecLabel, error) {
	base := h.proc("thread-self/attr")
	var paths []string
	data := label
	switch lsm {
	case "apparmor":
		paths = []string{filepath.Join(base, "apparmor", "exec"), filepath.Join(base, "exec")}
		data = "exec " + label
	case "selinux":
		paths = []string{filepath.Join(base, "exec")}
	case "selinux-keyring":
		paths = []string{filepath.Join(base, "keycreate")}
	default:
		return nil, fmt.Errorf("unknown security module %q", lsm)
	}
	var f *os.File
	var err error
	for _, p := range paths {
		f, err = os.OpenFile(p, os.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open the %s label file: %w", lsm, err)
	}
	if checkProc {
		var st unix.Statfs_t
		if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", f.Name(), err)
		}
		if st.Type != unix.PROC_SUPER_MAGIC {
			f.Close()
			return nil, fmt.Errorf("%s is not on a proc file system: refusing to run without the %s label %q", f.Name(), lsm, label)
		}
	}
	return &ExecLabel{f: f, data: data, lsm: lsm}, nil
}

// Set writes the label in one write, as the kernel wants it, and closes
// the file.
func (l *ExecLabel) Set() error {
	defer l.f.Close()
	if _, err := l.f.Write([]byte(l.data)); err != nil {
		return fmt.Errorf("set the %s label (%q to %s): %w", l.lsm, l.data, l.f.Name(), err)
	}
	return nil
}

// Close drops a label that was not set.
func (l *ExecLabel) Close() { l.f.Close() }
