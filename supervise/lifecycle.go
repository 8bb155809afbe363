package supervise

import (
	"errors"
	"fmt"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/lxc-shim/lxc-shim/shimctl"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/signals"
)

// The container's whole life under one shim, in one place: events come in
// (a boot finished, the init died, a control request, SIGTERM or SIGINT to
// the shim, a timer), and the handler of the current state says what each
// one means there. Every state change goes through Machine's allow-list
// (Shim.to); a refused one is logged as the bug it is and changes nothing.
//
//	booting   --boot done------------------> running
//	booting   --boot failed (boot 1, or the shim's own error)--> failed
//	booting   --boot failed (later boot)---> backoff | failed (policy)
//	booting   --stop, boot then fails------> stopped
//	booting   --stop, boot then done-------> running -> stopping (kill: no handlers yet)
//	running   --init killed by SIGHUP------> rebooting -> booting
//	running   --init killed by SIGINT------> halted
//	running   --init exit 0----------------> stopped | backoff (policy always)
//	running   --init crashed---------------> backoff | failed (policy)
//	running   --stop request, SIGTERM------> stopping (halt signal, timer)
//	running   --reboot request-------------> running (reboot signal sent)
//	running   --freeze request-------------> frozen (cgroup frozen)
//	frozen    --unfreeze request-----------> running (cgroup thawed)
//	frozen    --stop request, SIGTERM------> stopping (thawed first)
//	frozen    --init died (killed)---------> running, then as from running
//	stopping  --timer----------------------> stopping (escalated: kill)
//	stopping  --init died------------------> stopped
//	backoff   --timer----------------------> booting
//	backoff   --stop request, SIGTERM------> stopped
//
// Booter.Boot runs on a goroutine of its own, so that the loop answers
// requests while a boot is under way (a stop aborts it through
// BootAborter); everything else runs on the loop's goroutine.

// evKind says what happened.
type evKind int

const (
	evBooted  evKind = iota // a boot finished: run, or err
	evExited                // the init died: status
	evRequest               // a control request (stop, reboot)
	evSignal                // SIGTERM or SIGINT to the shim
	evTimer                 // the stop timeout or the backoff delay ran out
)

type event struct {
	kind   evKind
	run    Run
	err    error
	status unix.WaitStatus
	req    ctlReq
	sig    syscall.Signal
}

// lifecycle is the event loop's own state; only the loop's goroutine
// touches it.
type lifecycle struct {
	s      *Shim
	boot   int        // the current boot's number (1, 2, ...)
	bootc  chan event // evBooted from the boot goroutine
	run    Run        // the current run (running, stopping)
	pid    int        // its init's host pid
	waitc  <-chan unix.WaitStatus
	stop   *stopping   // a stop in progress (asked during a boot: early)
	timer  *time.Timer // stop timeout or backoff delay
	timerc <-chan time.Time
	ended  bool
	code   int // the shim's exit code once ended
}

// loop runs the container's life and returns the shim's exit code.
func (s *Shim) loop() int {
	l := &lifecycle{s: s, bootc: make(chan event, 1)}
	defer l.stopTimer()
	l.startBoot()
	for !l.ended {
		var ev event
		select {
		case ev = <-l.bootc:
		case ws := <-l.waitc:
			ev = event{kind: evExited, status: ws}
		case r := <-s.reqc:
			ev = event{kind: evRequest, req: r}
		case sig := <-s.sigc:
			ev = event{kind: evSignal, sig: sig.(syscall.Signal)}
		case <-l.timerc:
			l.timerc = nil
			ev = event{kind: evTimer}
		}
		l.handle(ev)
	}
	return l.code
}

// handle dispatches ev to the current state's handler.
func (l *lifecycle) handle(ev event) {
	st := l.s.state()
	switch st {
	case shimctl.StateBooting:
		l.onBooting(ev)
	case shimctl.StateRunning:
		l.onRunning(ev)
	case shimctl.StateFrozen:
		l.onFrozen(ev)
	case shimctl.StateStopping:
		l.onStopping(ev)
	case shimctl.StateBackoff:
		l.onBackoff(ev)
	default:
		// Rebooting is passed through within one handler, and the final
		// states end the loop: an event here is a bug.
		l.s.Log.Error("event in a state that takes none", "state", string(st), "event", int(ev.kind))
		if ev.kind == evRequest {
			ev.req.reply <- shimctl.Response{Error: fmt.Sprintf("%s: container is %s", ev.req.req.Op, st)}
		}
	}
}

// onBooting: a boot is under way.
func (l *lifecycle) onBooting(ev event) {
	s := l.s
	switch ev.kind {
	case evBooted:
		if ev.err != nil {
			l.bootFailed(ev.err)
			return
		}
		l.running(ev.run)
	case evRequest:
		if ev.req.req.Op != shimctl.OpStop {
			ev.req.reply <- shimctl.Response{Error: fmt.Sprintf("%s: container is booting", ev.req.req.Op)}
			return
		}
		if l.stop == nil {
			l.stop = &stopping{}
			l.abortBoot("control socket")
		}
		l.stop.waiters = append(l.stop.waiters, ev.req)
	case evSignal:
		if l.stop == nil {
			l.stop = &stopping{}
			l.abortBoot(signals.Name(ev.sig))
		}
	default:
		s.Log.Error("unexpected event while booting", "event", int(ev.kind))
	}
}

// onRunning: the init runs.
func (l *lifecycle) onRunning(ev event) {
	s := l.s
	switch ev.kind {
	case evExited:
		l.initDied(ev.status)
	case evRequest:
		switch ev.req.req.Op {
		case shimctl.OpStop:
			l.stop = &stopping{waiters: []ctlReq{ev.req}}
			timeout, kill := l.stopTimeout(ev.req.req)
			l.beginStop(timeout, kill, "control socket")
		case shimctl.OpReboot:
			sig := s.rebootSignal()
			if err := unix.Kill(l.pid, sig); err != nil {
				ev.req.reply <- shimctl.Response{Error: fmt.Sprintf("reboot: signal %s to %d: %v", signals.Name(sig), l.pid, err)}
				return
			}
			s.Log.Info("signal sent", "signal", signals.Name(sig), "pid", l.pid, "for", "reboot")
			ev.req.reply <- shimctl.Response{OK: true, Signal: signals.Name(sig)}
		case shimctl.OpFreeze:
			l.freeze(ev.req)
		case shimctl.OpUnfreeze:
			ev.req.reply <- shimctl.Response{Error: "unfreeze: container is not frozen"}
		default:
			ev.req.reply <- shimctl.Response{Error: "unknown op " + ev.req.req.Op}
		}
	case evSignal:
		l.stop = &stopping{}
		l.beginStop(s.StopTimeout, false, signals.Name(ev.sig))
	default:
		s.Log.Error("unexpected event while running", "event", int(ev.kind))
	}
}

// onStopping: the halt signal was sent (or the stop escalated); the loop
// waits for the init's death.
func (l *lifecycle) onStopping(ev event) {
	s := l.s
	switch ev.kind {
	case evExited:
		l.initDied(ev.status)
	case evTimer:
		s.Log.Warn("stop timeout reached, escalating", "pid", l.pid, "signal", l.stop.signal)
		l.escalate()
	case evRequest:
		switch ev.req.req.Op {
		case shimctl.OpStop:
			l.stop.waiters = append(l.stop.waiters, ev.req)
			// A second request may only shorten the stop.
			timeout, kill := l.stopTimeout(ev.req.req)
			switch {
			case l.stop.escalated:
			case kill || timeout <= 0:
				l.stopTimer()
				l.escalate()
			case time.Now().Add(timeout).Before(l.stop.deadline):
				l.stop.deadline = time.Now().Add(timeout)
				l.startTimer(timeout)
			}
		default:
			ev.req.reply <- shimctl.Response{Error: ev.req.req.Op + ": container is stopping"}
		}
	case evSignal:
		// Already stopping: a second SIGTERM changes nothing.
	default:
		s.Log.Error("unexpected event while stopping", "event", int(ev.kind))
	}
}

// onFrozen: every process of the container is frozen. Whatever ends
// the freeze (unfreeze, a stop, the init's death) thaws the cgroup first:
// a stop must reach an init that can run its shutdown, and nothing of a
// frozen run may outlive it.
func (l *lifecycle) onFrozen(ev event) {
	s := l.s
	switch ev.kind {
	case evExited:
		// Only a SIGKILL from outside ends a frozen init.
		_ = l.thaw()
		l.move(shimctl.StateRunning, nil)
		l.initDied(ev.status)
	case evRequest:
		switch ev.req.req.Op {
		case shimctl.OpUnfreeze:
			if err := l.thaw(); err != nil {
				ev.req.reply <- shimctl.Response{Error: "unfreeze: " + err.Error()}
				return
			}
			l.move(shimctl.StateRunning, nil)
			s.Notify.Status("running")
			ev.req.reply <- shimctl.Response{OK: true}
		case shimctl.OpFreeze:
			ev.req.reply <- shimctl.Response{OK: true}
		case shimctl.OpStop:
			_ = l.thaw()
			l.stop = &stopping{waiters: []ctlReq{ev.req}}
			timeout, kill := l.stopTimeout(ev.req.req)
			l.beginStop(timeout, kill, "control socket")
		default:
			ev.req.reply <- shimctl.Response{Error: ev.req.req.Op + ": container is frozen (unfreeze it first)"}
		}
	case evSignal:
		_ = l.thaw()
		l.stop = &stopping{}
		l.beginStop(s.StopTimeout, false, signals.Name(ev.sig))
	default:
		s.Log.Error("unexpected event while frozen", "event", int(ev.kind))
	}
}

// freeze freezes the run's cgroup and enters frozen once the kernel says
// it is; a failed freeze is thawed again and the container stays running.
// The loop waits for the kernel here, at most the cgroup package's bound
// (5 s, a task in uninterruptible sleep), as it does for a kill.
func (l *lifecycle) freeze(r ctlReq) {
	s := l.s
	lv, ok := l.run.(Live)
	if !ok {
		r.reply <- shimctl.Response{Error: "freeze: not supported by this run"}
		return
	}
	if err := lv.Freeze(); err != nil {
		_ = lv.Thaw()
		r.reply <- shimctl.Response{Error: "freeze: " + err.Error()}
		return
	}
	l.move(shimctl.StateFrozen, nil)
	s.Log.Info("container frozen", "boot", l.boot)
	s.Notify.Status("frozen")
	r.reply <- shimctl.Response{OK: true}
}

// thaw thaws the run's cgroup (logged when it fails: what ends the
// freeze goes ahead, a kill thaws again).
func (l *lifecycle) thaw() error {
	lv, ok := l.run.(Live)
	if !ok {
		return nil
	}
	if err := lv.Thaw(); err != nil {
		l.s.Log.Error("thaw failed", "err", err)
		return err
	}
	l.s.Log.Info("container thawed", "boot", l.boot)
	return nil
}

// onBackoff: the init crashed (or a later boot failed); the loop waits
// before the next boot.
func (l *lifecycle) onBackoff(ev event) {
	s := l.s
	switch ev.kind {
	case evTimer:
		l.startBoot()
	case evRequest:
		if ev.req.req.Op != shimctl.OpStop {
			ev.req.reply <- shimctl.Response{Error: fmt.Sprintf("%s: container is in backoff", ev.req.req.Op)}
			return
		}
		s.Log.Info("stop requested", "state", string(shimctl.StateBackoff))
		l.stopTimer()
		l.finish(shimctl.StateStopped, "stop requested during backoff", &stopping{waiters: []ctlReq{ev.req}})
	case evSignal:
		s.Log.Info("stop requested", "by", signals.Name(ev.sig), "state", string(shimctl.StateBackoff))
		l.stopTimer()
		l.finish(shimctl.StateStopped, "stop requested during backoff", &stopping{})
	default:
		s.Log.Error("unexpected event in backoff", "event", int(ev.kind))
	}
}

// startBoot enters booting with the next boot's number and runs
// Booter.Boot on its own goroutine.
func (l *lifecycle) startBoot() {
	s := l.s
	l.boot++
	boot := l.boot
	err := s.to(shimctl.StateBooting, func(st *shimctl.Status) { st.BootCount = boot; st.Pid, st.PidStart = 0, 0 })
	switch {
	case errors.Is(err, errRefused):
		s.Log.Error("state", "err", err)
		l.finish(shimctl.StateFailed, "internal error: cannot boot from state "+string(s.state()), nil)
		return
	case err != nil && boot == 1:
		// Without state.json, status, stop and cleanup would not know
		// this run: a first boot does not begin without it (a full
		// /run), before anything of the host is touched. A later boot
		// goes on, the failure reported in the status.
		s.Log.Error("state", "err", err)
		s.readyOnce.Do(func() { s.Ready(fmt.Errorf("cannot record the container's state: %w", err)) })
		l.finish(shimctl.StateFailed, "state.json cannot be written", nil)
		return
	case err != nil:
		s.Log.Error("state", "err", err)
	}
	s.Notify.Booting(boot)
	go func() {
		r, err := s.Booter.Boot(boot)
		l.bootc <- event{kind: evBooted, run: r, err: err}
	}()
}

// abortBoot interrupts the boot in progress where the Booter allows it.
func (l *lifecycle) abortBoot(by string) {
	l.s.Log.Info("stop requested during boot", "by", by, "boot", l.boot)
	if a, ok := l.s.Booter.(BootAborter); ok {
		a.AbortBoot()
	}
}

// bootFailed decides what a failed boot means.
func (l *lifecycle) bootFailed(err error) {
	s := l.s
	if l.stop != nil {
		s.Log.Info("boot aborted by a stop", "boot", l.boot, "err", err)
		s.readyOnce.Do(func() { s.Ready(fmt.Errorf("stopped during boot: %w", err)) })
		l.finish(shimctl.StateStopped, "stop requested during boot", l.stop)
		return
	}
	s.Log.Error("boot failed", "boot", l.boot, "err", err)
	var se *ShimError
	if errors.As(err, &se) || l.boot == 1 {
		// The shim's own failure is not the container's crash; a first
		// boot that fails is a configuration or host problem that a
		// retry would only repeat (and lxc-initd start is waiting).
		s.readyOnce.Do(func() { s.Ready(err) })
		reason := err.Error()
		if se == nil {
			reason = "boot failed: " + reason
		}
		l.finish(shimctl.StateFailed, reason, nil)
		return
	}
	l.restartOrEnd(true, "boot failed: "+err.Error())
}

// running records a started init and enters running; a stop asked during
// the boot kills it at once (it has no handlers yet).
func (l *lifecycle) running(run Run) {
	s := l.s
	l.run, l.pid = run, run.Pid()
	l.waitc = s.Reaper.Wait(l.pid)
	start, _ := shimctl.ProcStartTime(l.pid)
	// Shared with the run directory's repair (rundir.go), which writes
	// the run's ownership records again when they are removed.
	s.mu.Lock()
	s.run = run
	s.mu.Unlock()
	pid, boot := l.pid, l.boot
	var idmap []string
	if m, ok := run.(idMapped); ok {
		idmap = m.IDMap()
	}
	l.move(shimctl.StateRunning, func(st *shimctl.Status) {
		st.Pid, st.PidStart, st.BootedAt = pid, start, time.Now().UTC()
		st.Unprivileged, st.IDMap = len(idmap) > 0, idmap
	})
	s.Log.Info("boot started", "boot", boot, "pid", pid)
	s.readyOnce.Do(func() { s.Ready(nil) })
	s.Notify.Ready(boot, pid)
	// A boot allocates (config, plan, netlink); give it back now, in one
	// go, so that the idle shim holds no freed heap (private memory per
	// shim is what counts with many containers) and the runtime's
	// background scavenger has nothing left to return bit by bit while
	// the container runs.
	debug.FreeOSMemory()
	if l.stop != nil {
		// Asked to stop before the init ran: it has had no time to set
		// up its handlers (PID 1 ignores what it does not handle) nor to
		// start anything worth a clean shutdown.
		l.move(shimctl.StateStopping, nil)
		s.Notify.Stopping("stop during boot", 30*time.Second)
		l.escalate()
	}
}

// initDied tears the run down and decides what the init's end means.
func (l *lifecycle) initDied(ws unix.WaitStatus) {
	s := l.s
	ex := signals.Classify(syscall.WaitStatus(ws))
	if l.stop != nil && l.stop.escalated {
		s.Log.Info("init ended after escalation", "pid", l.pid, "exit", ex.String())
	}
	l.stopTimer()
	target := TargetStop
	if l.stop == nil && ex.Kind == signals.Reboot {
		target = TargetReboot
	}
	noReboot := errors.Is(l.teardown(target), ErrPostStopFailed)
	pid := l.pid
	l.recordExit(ex, pid)
	l.run, l.pid, l.waitc = nil, 0, nil
	switch {
	case l.stop != nil:
		l.finish(shimctl.StateStopped, "stop requested", l.stop)
	case ex.Kind == signals.Reboot && noReboot:
		// As LXC: a post-stop hook that fails stops the container
		// instead of rebooting it.
		s.Log.Warn("reboot seen; the container is stopped instead, a post-stop hook failed", "boot", l.boot, "pid", pid)
		l.finish(shimctl.StateStopped, "reboot cancelled: lxc.hook.post-stop failed", nil)
	case ex.Kind == signals.Reboot:
		s.Log.Info("reboot seen", "boot", l.boot, "pid", pid)
		if l.move(shimctl.StateRebooting, nil) {
			l.startBoot()
		} else {
			l.finish(shimctl.StateFailed, "internal error: cannot reboot", nil)
		}
	case ex.Kind == signals.Halt:
		s.Log.Info("halt seen", "boot", l.boot, "pid", pid)
		l.finish(shimctl.StateHalted, "halted from inside", nil)
	case ex.Kind == signals.Exited && ex.Code == 0:
		s.Log.Info("init exited 0", "boot", l.boot, "pid", pid)
		l.restartOrEnd(false, "exit 0")
	default:
		s.Log.Warn("crash seen", "boot", l.boot, "pid", pid, "exit", ex.String())
		l.restartOrEnd(true, ex.String())
	}
}

// restartOrEnd applies the restart policy after a run that ended with
// what (a failure or not): backoff then a new boot, or the end.
func (l *lifecycle) restartOrEnd(failure bool, what string) {
	s := l.s
	restart, delay, why := s.Policy.decide(&s.restarts, failure, time.Now())
	if !restart {
		if failure {
			s.Log.Error("giving up", "reason", why, "last", what)
			l.finish(shimctl.StateFailed, fmt.Sprintf("%s; last: %s", why, what), nil)
			return
		}
		l.finish(shimctl.StateStopped, why, nil)
		return
	}
	if !l.move(shimctl.StateBackoff, func(st *shimctl.Status) { st.RestartCount++ }) {
		l.finish(shimctl.StateFailed, "internal error: cannot back off", nil)
		return
	}
	s.Log.Info("restart after backoff", "delay", delay, "restart", s.snapshot().RestartCount)
	s.Notify.Status(fmt.Sprintf("backoff %s after %s", delay, what))
	l.startTimer(delay)
}

// stopTimeout is the grace period and kill flag a stop request asks for.
func (l *lifecycle) stopTimeout(req shimctl.Request) (time.Duration, bool) {
	timeout := l.s.StopTimeout
	if req.Timeout != nil {
		timeout = time.Duration(*req.Timeout * float64(time.Second))
	}
	return timeout, req.Kill
}

// beginStop enters stopping: the halt signal and the timer, or the kill
// at once.
func (l *lifecycle) beginStop(timeout time.Duration, kill bool, by string) {
	s := l.s
	l.move(shimctl.StateStopping, nil)
	s.Log.Info("stop requested", "by", by, "timeout", timeout, "kill", kill)
	if kill || timeout <= 0 {
		s.Notify.Stopping(by+", kill", 30*time.Second)
		l.escalate()
		return
	}
	sig := s.HaltSignal(l.pid)
	l.stop.signal = signals.Name(sig)
	l.stop.deadline = time.Now().Add(timeout)
	if err := unix.Kill(l.pid, sig); err != nil {
		s.Log.Warn("signal failed", "signal", l.stop.signal, "pid", l.pid, "err", err)
	} else {
		s.Log.Info("signal sent", "signal", l.stop.signal, "pid", l.pid)
	}
	// systemd must not kill what is shutting down in time: extend its
	// stop timer past ours, plus room for the kill and teardown.
	s.Notify.Stopping(by, timeout+30*time.Second)
	l.startTimer(timeout)
}

// escalate sends lxc.signal.stop to the init and kills every process of
// the container's cgroup.
func (l *lifecycle) escalate() {
	s := l.s
	l.stop.escalated = true
	stopSig := s.stopSignal()
	name := signals.Name(stopSig)
	if l.stop.signal == "" {
		l.stop.signal = name
	}
	if err := unix.Kill(l.pid, stopSig); err != nil && !errors.Is(err, unix.ESRCH) {
		s.Log.Warn("signal failed", "signal", name, "pid", l.pid, "err", err)
	} else {
		s.Log.Info("signal sent", "signal", name, "pid", l.pid, "for", "escalation")
	}
	if err := l.run.KillAll(); err != nil {
		s.Log.Error("kill cgroup failed", "err", err)
	} else {
		s.Log.Info("escalation: killed every process of the cgroup")
	}
	s.Notify.Extend(30*time.Second, "stopping: killed after timeout")
}

// teardown kills what is left of the run and removes it from the host.
// It returns what failed (ErrPostStopFailed among it cancels a reboot).
func (l *lifecycle) teardown(target string) error {
	s := l.s
	s.mu.Lock()
	s.run = nil
	s.mu.Unlock()
	err := errors.Join(l.run.KillAll(), l.run.Teardown(target))
	if err != nil {
		s.Log.Error("cleanup failed", "boot", l.boot, "err", err)
		return err
	}
	s.Log.Info("cleanup done", "boot", l.boot)
	return nil
}

func (l *lifecycle) recordExit(ex signals.Exit, pid int) {
	meaning := ex.String()
	if l.stop != nil && l.stop.escalated {
		meaning = "killed after timeout"
	}
	s := l.s
	s.mu.Lock()
	s.st.LastExit = &shimctl.LastExit{Meaning: meaning, Pid: pid, At: time.Now().UTC(), Boot: l.boot}
	s.mu.Unlock()
}

// finish records the final state, answers the stop's waiters and ends
// the loop with the shim's exit code.
func (l *lifecycle) finish(final shimctl.State, reason string, stop *stopping) {
	s := l.s
	result := ""
	if stop != nil {
		switch {
		case stop.escalated:
			result = shimctl.StopForced
		case stop.signal == "":
			// Stopped during a backoff or a boot: no init to signal.
			result = shimctl.StopNotRunning
		default:
			result = shimctl.StopGraceful
		}
	}
	if !l.move(final, func(st *shimctl.Status) {
		st.Pid, st.PidStart = 0, 0
		st.Reason = reason
		st.StopResult = result
	}) {
		// Not an allowed end from here: a bug. The shim ends all the
		// same (its container is gone), and says it failed.
		final = shimctl.StateFailed
	}
	s.Log.Info("container "+string(final), "reason", reason, "stop", result)
	s.Notify.Status(fmt.Sprintf("%s: %s", final, reason))
	if stop != nil {
		for _, w := range stop.waiters {
			w.reply <- shimctl.Response{OK: true, Result: result, Signal: stop.signal}
		}
		// The process exits soon after: let the handlers write the
		// answers first (a client that does not read gets 2 s).
		for _, w := range stop.waiters {
			select {
			case <-w.ack:
			case <-time.After(2 * time.Second):
			}
		}
	}
	l.ended = true
	l.code = 0
	if final == shimctl.StateFailed {
		l.code = 1
	}
}

// move is Shim.to for the loop: a refused transition is logged and
// reported, and nothing of it is applied.
func (l *lifecycle) move(next shimctl.State, f func(*shimctl.Status)) bool {
	if err := l.s.to(next, f); err != nil {
		l.s.Log.Error("state", "err", err)
		return !errors.Is(err, errRefused)
	}
	return true
}

func (l *lifecycle) startTimer(d time.Duration) {
	l.stopTimer()
	l.timer = time.NewTimer(d)
	l.timerc = l.timer.C
}

func (l *lifecycle) stopTimer() {
	if l.timer != nil {
		l.timer.Stop()
	}
	l.timer, l.timerc = nil, nil
}
