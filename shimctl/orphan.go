package shimctl

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/signals"
)

// StopOrphan stops a container whose shim is dead, from its state
// directory: the recorded init is signalled only if its pid still has the
// recorded start time, is PID 1 of a PID namespace of its own and is in the
// container's cgroup, which is provably the container's (a state.json that
// names any other process is refused: nothing is signalled); after timeout (or at once with kill) every process
// of the cgroup is killed; then the cgroup and the recorded host devices
// are removed and state.json says stopped. It takes the shim's lock for
// the duration, so no shim can start meanwhile. The result is graceful,
// forced or not running.
func StopOrphan(cfg *config.Config, rundir string, timeout time.Duration, kill bool, log *slog.Logger) (string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := cfg.Name
	p := PathsFor(rundir, name)
	st, err := ReadState(p.State)
	if errors.Is(err, fs.ErrNotExist) {
		return StopNotRunning, nil
	}
	if err != nil {
		return "", err
	}
	lock, err := AcquireLock(p.Lock)
	if err != nil {
		return "", fmt.Errorf("stop %s: %w", name, err)
	}
	defer lock.Close()

	result := StopNotRunning
	meaning := ""
	if st.Pid > 0 && SameProcess(st.Pid, st.PidStart) {
		result, meaning, err = stopPid(cfg, p, st.Pid, st.PidStart, timeout, kill, log)
		if err != nil {
			return "", err
		}
	}
	return result, finishStop(cfg, rundir, st, result, meaning, "stopped without its shim", log)
}

// finishStop removes what the stopped run left on the host and records
// the stop in state.json. The caller holds the shim's lock.
func finishStop(cfg *config.Config, rundir string, st *Status, result, meaning, reason string, log *slog.Logger) error {
	if _, err := cleanupHost(cfg, rundir, log); err != nil {
		return err
	}
	st.State = StateStopped
	if meaning != "" {
		st.LastExit = &LastExit{Meaning: meaning, Pid: st.Pid, At: time.Now().UTC(), Boot: st.BootCount}
	}
	st.Pid, st.PidStart = 0, 0
	st.Reason = reason
	st.StopResult = result
	st.ShimAlive, st.InitAlive, st.ShimNotResponding = false, false, false
	return WriteState(PathsFor(rundir, cfg.Name).State, st)
}

// stopPid asks the orphaned init to halt and kills the container's cgroup
// after timeout. A pidfd pins the process before it is checked (checkInit),
// so no signal can reach a pid that was reused meanwhile, and tells when it
// is gone without polling.
func stopPid(cfg *config.Config, p Paths, pid int, start uint64, timeout time.Duration, kill bool, log *slog.Logger) (result, meaning string, err error) {
	name := cfg.Name
	cg, err := newCgroup(cfg, p)
	if err != nil {
		return "", "", err
	}
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return StopNotRunning, "", nil
		}
		return "", "", fmt.Errorf("stop %s: pidfd_open %d: %w", name, pid, err)
	}
	defer unix.Close(pfd)
	if !SameProcess(pid, start) {
		return StopNotRunning, "", nil
	}
	if err := checkInit(cg, pid, start); err != nil {
		return "", "", fmt.Errorf("stop %s: %s names %w; it was not signalled (if the container is not running, lxc-initd cleanup %s removes what is left of it)", name, p.State, err, name)
	}
	// The shim may have died with the container frozen (lxc-initd
	// freeze): a frozen init cannot halt.
	if cg.Exists() {
		if err := cg.Thaw(); err != nil {
			log.Warn("thaw before the stop", "err", err)
		}
	}
	if !kill && timeout > 0 {
		sig := signals.HaltSignalFor(cfg.Signals.Halt, cfg.Signals.HaltSet, pid)
		if err := unix.PidfdSendSignal(pfd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			return "", "", fmt.Errorf("stop %s: signal %s to %d: %w", name, signals.Name(sig), pid, err)
		}
		log.Info("signal sent", "signal", signals.Name(sig), "pid", pid, "shim", "dead")
		if pidfdWait(pfd, timeout) {
			return StopGraceful, "ended after halt signal (no shim)", nil
		}
		log.Warn("stop timeout reached, escalating", "pid", pid)
	}
	stop := cfg.Signals.Stop
	if stop == 0 {
		stop = syscall.SIGKILL
	}
	_ = unix.PidfdSendSignal(pfd, stop, nil, 0)
	if cg.Exists() {
		if err := cg.Kill(); err != nil {
			return "", "", fmt.Errorf("stop %s: %w", name, err)
		}
	}
	if !pidfdWait(pfd, 10*time.Second) {
		return "", "", fmt.Errorf("stop %s: init %d still alive after SIGKILL", name, pid)
	}
	return StopForced, "killed after timeout", nil
}

// pidfdWait waits up to d for the process behind pfd to end.
func pidfdWait(pfd int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if n > 0 {
			return true
		}
		return false
	}
}

// cleanupHost removes what a dead run provably left on the host: the
// cgroup (its processes killed first) and the recorded host network
// devices. It returns a line for each thing removed.
func cleanupHost(cfg *config.Config, rundir string, log *slog.Logger) ([]string, error) {
	_, left, err := RemoveLeftovers(cfg, rundir)
	var done []string
	for _, r := range left.Cgroups {
		done = append(done, "cgroup "+r)
		log.Info("removed cgroup", "cgroup", r)
	}
	for _, r := range left.Loops {
		done = append(done, "loop device "+r)
		log.Info("detached loop device", "device", r)
	}
	for _, r := range left.Devices {
		done = append(done, "network device "+r)
		log.Info("removed network device", "device", r)
	}
	return done, err
}

// Cleanup removes what a dead container left behind: processes and cgroup,
// host network devices, the control socket and the state directory. It
// refuses a container that runs (with or without its shim). It returns a
// line for each thing removed.
func Cleanup(cfg *config.Config, rundir string, log *slog.Logger) ([]string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := cfg.Name
	p := PathsFor(rundir, name)
	if st, err := Inspect(rundir, name); err == nil {
		switch {
		case st.Running():
			return nil, fmt.Errorf("cleanup %s: the container is running (pid %d); stop it first", name, st.Pid)
		case st.ShimNotResponding:
			return nil, fmt.Errorf("cleanup %s: its shim (pid %d) holds it but does not respond; lxc-initd stop %s ends the shim and cleans up", name, st.ShimPid, name)
		}
	}
	var done []string
	var lock *os.File
	if _, err := os.Stat(p.Dir); err == nil {
		if lock, err = AcquireLock(p.Lock); err != nil {
			return nil, fmt.Errorf("cleanup %s: %w", name, err)
		}
		defer lock.Close()
	}
	removed, err := cleanupHost(cfg, rundir, log)
	done = append(done, removed...)
	if err != nil {
		return done, fmt.Errorf("cleanup %s: %w", name, err)
	}
	if _, err := os.Stat(p.Socket); err == nil {
		if err := os.Remove(p.Socket); err == nil {
			done = append(done, "control socket "+p.Socket)
		}
	}
	if lock != nil {
		if err := os.RemoveAll(p.Dir); err != nil {
			return done, fmt.Errorf("cleanup %s: %w", name, err)
		}
		done = append(done, "state directory "+p.Dir)
	}
	return done, nil
}
