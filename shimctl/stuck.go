package shimctl

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
)

// A stuck shim (SIGSTOPped, deadlocked, blocked in the kernel) still holds
// the container's lock and socket but answers nothing. A stop must not
// wait for it: StopStuck stops the container as for a dead shim, then
// ends the shim, then removes what the run left, as for a dead shim.

// shimExitWait is how long StopStuck waits for a SIGKILLed shim to be gone
// (its lock released); a shim blocked in the kernel may take longer, and
// then its leftovers stay for cleanup.
const shimExitWait = 3 * time.Second

// StuckResult is what StopStuck did.
type StuckResult struct {
	Result  string // graceful, forced or not running
	ShimPid int    // the shim that did not answer
	// ShimKilled: the shim was SIGKILLed and is gone; Cleaned: the run's
	// cgroup and host devices were removed and state.json says stopped.
	ShimKilled, Cleaned bool
}

// StopStuck stops a container whose shim holds its lock but does not
// answer. The container first, as StopOrphan does (the halt signal to the
// verified init, timeout for it to end, then the kill of the cgroup), so
// that a shim that cannot even be killed does not keep the container
// running; then the shim, SIGKILLed through a pidfd once it is proven the
// process state.json records (pid and start time) and the holder of the
// lock file; then, with the lock, the cgroup and host devices of the run,
// and state.json says stopped.
func StopStuck(cfg *config.Config, rundir string, timeout time.Duration, kill bool, log *slog.Logger) (StuckResult, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := cfg.Name
	p := PathsFor(rundir, name)
	var out StuckResult
	st, err := ReadState(p.State)
	if err != nil {
		return out, fmt.Errorf("stop %s: the shim does not answer and its state cannot be read: %w", name, err)
	}
	out.ShimPid = st.ShimPid
	// Pin the shim before anything: its pid cannot be reused under us.
	spfd, err := unix.PidfdOpen(st.ShimPid, 0)
	if err != nil {
		return out, fmt.Errorf("stop %s: shim pid %d: %w", name, st.ShimPid, err)
	}
	defer unix.Close(spfd)
	if err := checkShim(p, st.ShimPid, st.ShimStart); err != nil {
		return out, fmt.Errorf("stop %s: %s names %w; nothing was signalled", name, p.State, err)
	}
	out.Result = StopNotRunning
	meaning := ""
	if st.Pid > 0 && SameProcess(st.Pid, st.PidStart) {
		out.Result, meaning, err = stopPid(cfg, p, st.Pid, st.PidStart, timeout, kill, log)
		if err != nil {
			return out, err
		}
	}
	if err := unix.PidfdSendSignal(spfd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return out, fmt.Errorf("stop %s: SIGKILL to the shim %d: %w", name, st.ShimPid, err)
	}
	if !pidfdWait(spfd, shimExitWait) {
		return out, fmt.Errorf("stop %s: the container is stopped, but its shim %d did not die within %s of SIGKILL (stuck in the kernel?); lxc-initd cleanup %s removes the rest once it is gone", name, st.ShimPid, shimExitWait, name)
	}
	out.ShimKilled = true
	lock, err := acquireSoon(p.Lock, time.Second)
	if err != nil {
		return out, fmt.Errorf("stop %s: %w", name, err)
	}
	defer lock.Close()
	reason := fmt.Sprintf("stopped by lxc-initd: the shim (pid %d) did not respond and was killed", st.ShimPid)
	if err := finishStop(cfg, rundir, st, out.Result, meaning, reason, log); err != nil {
		return out, fmt.Errorf("stop %s: %w", name, err)
	}
	out.Cleaned = true
	return out, nil
}

// acquireSoon takes the lock, retrying for up to d: a killed holder's
// lock goes with its last descriptor, which may lag its death a little.
func acquireSoon(path string, d time.Duration) (*os.File, error) {
	end := time.Now().Add(d)
	for {
		f, err := AcquireLock(path)
		if err == nil || !errors.Is(err, ErrLocked) || time.Now().After(end) {
			return f, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// errNotShim: the state names a pid that is not the container's shim.
var errNotShim = errors.New("not the container's shim")

// checkShim verifies that pid is the shim state.json recorded: the process
// that started at start, holding the container's lock file open. A stale
// or forged state.json must never make lxc-initd kill another process.
func checkShim(p Paths, pid int, start uint64) error {
	what := fmt.Sprintf("shim pid %d", pid)
	if pid <= 0 || !SameProcess(pid, start) {
		return fmt.Errorf("%s: %w: it is not the process that started at the recorded time", what, errNotShim)
	}
	var lock unix.Stat_t
	if err := unix.Stat(p.Lock, &lock); err != nil {
		return fmt.Errorf("%s: %w: %v", what, errNotShim, err)
	}
	fdDir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return fmt.Errorf("%s: %w: %v", what, errNotShim, err)
	}
	for _, e := range ents {
		var fst unix.Stat_t
		if unix.Stat(filepath.Join(fdDir, e.Name()), &fst) == nil && fst.Dev == lock.Dev && fst.Ino == lock.Ino {
			return nil
		}
	}
	return fmt.Errorf("%s: %w: it does not hold %s open", what, errNotShim, p.Lock)
}

// StopTimeoutOf is the grace period a stop without -t gives the container
// of st: its shim's --stop-timeout as recorded, else the default.
func StopTimeoutOf(st *Status) time.Duration {
	if st != nil && st.StopTimeout > 0 {
		return time.Duration(st.StopTimeout * float64(time.Second))
	}
	return config.DefaultStopTimeout
}
