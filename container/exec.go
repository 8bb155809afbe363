package container

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
)

// defaultPath is the PATH the init gets unless lxc.environment sets one.
const defaultPath = config.DefaultPath

// initEnv is the init's environment: LXC's container=lxc and
// container_ttys, a default PATH, then lxc.environment in order.
func (s *stager) initEnv() []string {
	env := []string{"container=lxc", "PATH=" + defaultPath}
	if n := len(s.p.TTYFDs); n > 0 {
		var ttys []string
		for i := 1; i <= n; i++ {
			ttys = append(ttys, path.Join(s.cfg.TTY.Dir, "tty"+strconv.Itoa(i)))
		}
		env = append(env, "container_ttys="+strings.Join(ttys, " "))
	}
	return config.OverrideEnv(env, s.cfg.Environment)
}

// execInit sets the init's identity, stdio, capabilities and signal state
// and execs it. It returns only on failure.
// have is the stage's permitted set (read before the mounts).
func (s *stager) execInit(report *os.File, lastCap int, have uint64) error {
	cfg := s.cfg
	argv := cfg.Init.Cmd
	if len(argv) == 0 {
		argv = []string{"/sbin/init"}
	}
	initFail := func(step string, err error) error {
		return s.fail(step, "init", "lxc.init.cmd", strings.Join(argv, " "), err)
	}
	env := s.initEnv()
	bin, err := findExecutable(argv[0], env)
	if err != nil {
		return initFail("exec", err)
	}
	stdio := s.stdioFD()
	for fd := 0; fd <= 2; fd++ {
		if fd == stdio {
			continue
		}
		if err := unix.Dup3(stdio, fd, 0); err != nil {
			return initFail("stdio", err)
		}
	}
	keep := capsToKeep(cfg.Caps, lastCap) & have
	if err := dropBounding(keep, lastCap); err != nil {
		return s.fail("capabilities", "caps", "lxc.cap.drop", "", err)
	}
	if !cfg.Security.NoKeyringSession {
		if err := s.labels.setKeyring(); err != nil {
			return s.fail("selinux keyring context", "", s.labels.keyKey, s.labels.keyValue, err)
		}
		if err := s.newSessionKeyring(); err != nil {
			return s.fail("session keyring", "", "lxc.keyring.session", "1", err)
		}
	}
	// The seccomp filter goes on while this thread is still root with
	// CAP_SYS_ADMIN effective, as LXC loads it before its uid switch: the
	// kernel then needs no no_new_privs (which would break setuid programs
	// in the container). What runs after it (the start hooks, setgroups,
	// setresuid, capset, prctl, execve) goes through the filter, as under
	// LXC, which loads it before the start hooks.
	if s.cfg.Security.Seccomp != nil {
		// A coverage run's counters are written now: after the filter
		// an allowlist policy may refuse (or kill on) the writes.
		s.flushCoverage()
	}
	if err := s.installSeccomp(); err != nil {
		return err
	}
	// LXC runs the start hooks here: inside, after the pivot, with the
	// container's bounding set, keyring and seccomp filter, resolved in
	// its root file system; then the shim's start-host hooks while the
	// stage waits.
	if err := s.hooks("start"); err != nil {
		return err
	}
	if err := s.startHost(report); err != nil {
		return err
	}
	uid, gid := cfg.Init.UID, cfg.Init.GID
	if err := setIDs(uid, gid); err != nil {
		return s.fail("set uid/gid", "init", "lxc.init.uid", fmt.Sprintf("%d:%d", uid, gid), err)
	}
	cwd := cfg.Init.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := unix.Chdir(cwd); err != nil {
		return s.fail("chdir", "init", "lxc.init.cwd", cwd, err)
	}
	if err := applyCaps(keep, lastCap, uid != 0); err != nil {
		return s.fail("capabilities", "caps", "lxc.cap.drop", "", err)
	}
	// The labels take effect at exec, set before no_new_privs as LXC
	// sets them (a transition under no_new_privs is restricted).
	if err := s.labels.setExec(); err != nil {
		return s.fail("security label", "", s.labels.key, s.labels.value, err)
	}
	if cfg.Security.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return s.fail("no_new_privs", "", "lxc.no_new_privs", "1", err)
		}
	}
	unix.Umask(s.umask)
	// SIG_IGN and the signal mask survive exec: the init starts with every
	// signal at its default and none blocked, as after a kernel boot.
	resetSignals()
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &unix.Sigset_t{}, nil); err != nil {
		return initFail("unblock signals", err)
	}
	if _, err := report.Write([]byte(execMarker)); err != nil {
		return initFail("report", err)
	}
	s.flushCoverage()
	err = unix.Exec(bin, argv, env)
	return initFail("exec", err)
}

// newSessionKeyring gives the init a new, empty session keyring, as LXC
// does unless lxc.keyring.session = 0: otherwise the init and everything
// in the container could read and use the keys of whoever started the
// shim (keys grant their possessor access through the session keyring).
// Credentials are per thread; this is the thread that execs the init, and
// it is still root here, before the capabilities are dropped. Where keyctl
// is missing or denied (ENOSYS, EACCES, EPERM: a seccomp filter, a nested
// container) the container cannot reach the caller's keys through it
// either, so the boot goes on, as LXC's; any other failure stops the boot
// rather than hand the caller's keys on (LXC only warns).
func (s *stager) newSessionKeyring() error {
	// A NULL name: a new anonymous keyring (an empty name is EINVAL).
	_, _, e := unix.RawSyscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0)
	switch e {
	case 0:
		return nil
	case unix.ENOSYS, unix.EACCES, unix.EPERM:
		s.log.Info("no new session keyring; going on as LXC does", "err", e)
		return nil
	}
	return fmt.Errorf("keyctl join session keyring: %w (lxc.keyring.session = 0 keeps the caller's)", e)
}

// setIDs drops supplementary groups and switches to uid/gid, keeping the
// permitted capabilities across a switch away from root (applyCaps then
// raises what the config keeps).
func setIDs(uid, gid int) error {
	// The syscall package applies these to every thread of the process.
	if err := setgroupsNone(); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if gid != 0 {
		if err := unix.Setresgid(gid, gid, gid); err != nil {
			return fmt.Errorf("setresgid %d: %w", gid, err)
		}
	}
	if uid != 0 {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("keepcaps: %w", err)
		}
		if err := unix.Setresuid(uid, uid, uid); err != nil {
			return fmt.Errorf("setresuid %d: %w", uid, err)
		}
	}
	return nil
}

func setgroupsNone() error { return unix.Setgroups([]int{}) }

// kernelSigaction is the kernel's struct sigaction; all zero is SIG_DFL
// with no flags and an empty mask on every architecture.
type kernelSigaction struct {
	handler  uintptr
	flags    uintptr
	restorer uintptr
	mask     uint64
}

// resetSignals sets every catchable signal to SIG_DFL on the raw syscall:
// the Go runtime's handlers must not be reinstated, the process execs next.
func resetSignals() {
	var act kernelSigaction
	for sig := 1; sig <= 64; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	}
}

// installSeccomp loads the filter the shim compiled from
// lxc.seccomp.profile when it read the config (never one from the
// container). Under a filter already, it loads none unless
// lxc.seccomp.allow_nesting = 1, as LXC.
func (s *stager) installSeccomp() error {
	sec := s.cfg.Security
	if sec.Seccomp == nil {
		if sec.SeccompProfile != "" {
			return s.fail("seccomp", "seccomp", "lxc.seccomp.profile", sec.SeccompProfile, errors.New("profile not compiled"))
		}
		return nil
	}
	ok, err := sec.Seccomp.Install(sec.SeccompAllowNesting)
	if err != nil {
		return s.fail("seccomp", "seccomp", "lxc.seccomp.profile", sec.SeccompProfile, err)
	}
	if !ok {
		s.log.Info("already under a seccomp filter: loading no policy, as LXC (lxc.seccomp.allow_nesting = 1 stacks it)", "profile", sec.SeccompProfile)
		return nil
	}
	s.log.Info("seccomp filter loaded", "profile", sec.SeccompProfile, "instructions", sec.Seccomp.Len())
	return nil
}

// flushCoverage writes a coverage run's counters (make cover), once.
func (s *stager) flushCoverage() {
	if err := s.cov.Flush(); err != nil {
		s.log.Warn("coverage data", "err", err)
	}
	s.cov = nil
}
