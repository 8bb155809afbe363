package supervise

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Reaper is the only code in the shim that waits for children. The shim is a
// child subreaper, so orphans of the container (when its init dies before
// them, or the stage's helpers) are reparented to the shim and must be
// reaped here too.
//
// os/exec's Wait must not be used for children of the shim: the reaper's
// Wait4(-1) may collect their status first. Start every child with
// ForkExec and wait with Wait.
type Reaper struct {
	mu sync.Mutex
	// waiters are the pids started through ForkExec (or registered with
	// Watch) until their status was both delivered and asked for.
	waiters map[int]*waiter
	// exited holds statuses reaped before anybody asked (a pid registered
	// through Watch after it already died).
	exited map[int]unix.WaitStatus
	sigc   chan os.Signal
	done   chan struct{}
	// reaped counts every child collected, for tests and logs.
	reaped int
}

// waiter is one registered child's mailbox: the status is sent on ch (of
// capacity one) and ch is closed; taken says Wait handed ch out.
type waiter struct {
	ch        chan unix.WaitStatus
	delivered bool
	taken     bool
}

// NewReaper makes the calling process a child subreaper and starts reaping.
// SIGCHLD is registered before this returns, so call it before any child is
// started.
func NewReaper() (*Reaper, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("reaper: PR_SET_CHILD_SUBREAPER: %w", err)
	}
	r := &Reaper{
		waiters: map[int]*waiter{},
		exited:  map[int]unix.WaitStatus{},
		// SIGCHLD does not queue: one pending notification is enough
		// because every wake-up reaps until nothing is left.
		sigc: make(chan os.Signal, 1),
		done: make(chan struct{}),
	}
	signal.Notify(r.sigc, unix.SIGCHLD)
	go r.loop()
	// A child may have died before Notify (children started by a caller
	// that ignored this rule): reap once now.
	r.reap()
	return r, nil
}

// Close stops the reaper's goroutine. Children that exit afterwards are
// not reaped.
func (r *Reaper) Close() {
	signal.Stop(r.sigc)
	close(r.done)
}

func (r *Reaper) loop() {
	for {
		select {
		case <-r.sigc:
			r.reap()
		case <-r.done:
			return
		}
	}
}

// reap collects every exited child without blocking.
func (r *Reaper) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			// ECHILD: no children at all; 0: none has exited.
			return
		}
		r.deliver(pid, ws)
	}
}

func (r *Reaper) deliver(pid int, ws unix.WaitStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reaped++
	if w, ok := r.waiters[pid]; ok && !w.delivered {
		w.ch <- ws
		close(w.ch)
		w.delivered = true
		if w.taken {
			delete(r.waiters, pid)
		}
		return
	}
	// Only keep the status of pids somebody might still ask about; the
	// container's orphans are not, and must not grow the map for ever.
	if len(r.exited) < 1024 {
		r.exited[pid] = ws
	}
}

// ForkExec starts a child with syscall.ForkExec and registers it under the
// reaper's lock, so its exit cannot be collected before Wait knows the pid.
func (r *Reaper) ForkExec(argv0 string, argv []string, attr *syscall.ProcAttr) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := syscall.ForkExec(argv0, argv, attr)
	if err != nil {
		return 0, err
	}
	delete(r.exited, pid) // a recycled pid's old status is not this child's
	r.waiters[pid] = &waiter{ch: make(chan unix.WaitStatus, 1)}
	return pid, nil
}

// Wait returns a channel that receives the wait status of pid once and is
// then closed. pid must have been started through ForkExec (or Watch). A
// pid that is unknown gets a closed channel.
func (r *Reaper) Wait(pid int) <-chan unix.WaitStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ch := r.takeLocked(pid); ch != nil {
		return ch
	}
	ch := make(chan unix.WaitStatus, 1)
	close(ch)
	return ch
}

// Watch registers a child that was started by other means while the
// caller held no other reference to it (a grandchild reparented to the
// shim). If it already died, the status comes at once.
func (r *Reaper) Watch(pid int) <-chan unix.WaitStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ch := r.takeLocked(pid); ch != nil {
		return ch
	}
	ch := make(chan unix.WaitStatus, 1)
	r.waiters[pid] = &waiter{ch: ch, taken: true}
	return ch
}

// takeLocked hands out the channel of a registered pid (marking it taken),
// or a closed channel holding the status of a child that was collected
// before anyone asked; nil when the reaper knows nothing of pid. r.mu is
// held.
func (r *Reaper) takeLocked(pid int) <-chan unix.WaitStatus {
	if w, ok := r.waiters[pid]; ok {
		w.taken = true
		if w.delivered {
			delete(r.waiters, pid)
		}
		return w.ch
	}
	if ws, ok := r.exited[pid]; ok {
		delete(r.exited, pid)
		ch := make(chan unix.WaitStatus, 1)
		ch <- ws
		close(ch)
		return ch
	}
	return nil
}

// Reaped is how many children the reaper has collected.
func (r *Reaper) Reaped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reaped
}
