package supervise

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/signals"
)

// Booter starts one run of the container: everything of "A boot"
// (docs/architecture.md) up to the init's exec. The real one is
// NewBooter; tests use their own.
type Booter interface {
	Boot(boot int) (Run, error)
}

// Run is one boot of the container, from the init's exec to its teardown.
type Run interface {
	// Pid is the init's host pid; it was started through the shim's
	// Reaper, so Reaper.Wait(Pid()) reports its end.
	Pid() int
	// KillAll kills every process of the run (the container's cgroup),
	// so nothing escapes by double-forking.
	KillAll() error
	// Teardown removes what the run created on the host (cgroup, host
	// network devices). It is called once, after the init died.
	Teardown() error
}

// Consoles are the container's terminals, which live as long as the shim
// (the same ptys serve every boot).
type Consoles interface {
	// ServeConsole claims the terminal of req.TTY (0: /dev/console),
	// answers the client {"ok":true} and carries the bytes until the
	// client detaches. An error before the answer is for the client.
	ServeConsole(conn net.Conn, req Request) error
	// Resize sets the window size of req.TTY to req.Rows x req.Cols.
	Resize(req Request) error
}

// Shim supervises one container for its whole life: boots, reboots,
// restarts after crashes, stops on request. Fill the fields, then call
// Serve (control socket) and Run.
type Shim struct {
	Name  string
	Paths Paths
	// Policy is the restart policy for crashes (DefaultPolicy when zero).
	Policy Policy
	// StopTimeout is the default grace period of a stop (60 s when zero).
	StopTimeout time.Duration
	// HaltSignal picks the signal that asks the init pid to halt
	// (signals.HaltSignalFor with the config's lxc.signal.halt).
	HaltSignal func(pid int) syscall.Signal
	// StopSignalFor is lxc.signal.stop (SIGKILL when nil or zero);
	// RebootSignalFor is lxc.signal.reboot (SIGINT when nil or zero).
	// They are asked each time, so a config reloaded on reboot applies.
	StopSignalFor   func() syscall.Signal
	RebootSignalFor func() syscall.Signal
	Booter          Booter
	// Consoles serves console requests (nil: the container has none).
	Consoles Consoles
	Reaper   *Reaper
	Log      *slog.Logger
	Notify   Notifier
	// Ready is called once: with nil when the first init runs, or with
	// the error that kept it from running.
	Ready func(error)
	// OnExit runs when Run ends, before control clients waiting for a
	// stop are let go: the caller releases the shim's lock here, so that
	// a stopped container can be started again at once.
	OnExit func()

	m         Machine
	mu        sync.Mutex
	st        Status
	run       Run // the current run
	listeners []*net.UnixListener
	ended     bool // Run is over: a late Serve closes its listener at once
	reqc      chan ctlReq
	sigc      chan os.Signal
	done      chan struct{}
	readyOnce sync.Once
	restarts  restarts
}

// ctlReq is a control request that the event loop must handle. The
// handler closes ack once it wrote the reply, so that a shim about to exit
// can wait until its last answers are out.
type ctlReq struct {
	req   Request
	reply chan Response
	ack   chan struct{}
}

// stopping is a stop in progress.
type stopping struct {
	waiters   []ctlReq
	signal    string
	escalated bool
	deadline  time.Time
}

// outcome is how one run ended.
type outcome struct {
	bootErr error
	exit    signals.Exit
	pid     int
	stop    *stopping
}

func (s *Shim) init() {
	if s.reqc != nil {
		return
	}
	if s.Policy.Mode == "" {
		s.Policy = DefaultPolicy()
	}
	if s.StopTimeout == 0 {
		s.StopTimeout = 60 * time.Second
	}
	if s.HaltSignal == nil {
		s.HaltSignal = func(int) syscall.Signal { return syscall.SIGPWR }
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.Ready == nil {
		s.Ready = func(error) {}
	}
	s.reqc = make(chan ctlReq)
	s.sigc = make(chan os.Signal, 4)
	s.done = make(chan struct{})
	start, _ := ProcStartTime(os.Getpid())
	s.st = Status{Name: s.Name, ShimPid: os.Getpid(), ShimStart: start, StartedAt: time.Now().UTC()}
}

// Run supervises the container until it is stopped, halted or given up on,
// and returns the shim's exit code: 0 for stopped and halted, 1 for failed.
// It stops the control socket and releases nothing else: the caller's lock
// goes with the process.
func (s *Shim) Run() int {
	s.init()
	// SIGTERM and SIGINT ask for a stop (never forwarded verbatim).
	// SIGHUP, SIGURG and SIGPIPE are taken through Notify rather than
	// signal.Ignore: an ignored disposition would survive the exec into
	// the container and change how its processes behave.
	// The ignored ones go to a channel nobody reads: Notify never blocks
	// and drops what does not fit, so they cost nothing and cannot crowd
	// a SIGTERM out of sigc.
	ignored := make(chan os.Signal, 1)
	signal.Notify(ignored, unix.SIGHUP, unix.SIGURG, unix.SIGPIPE)
	signal.Notify(s.sigc, unix.SIGTERM, unix.SIGINT)
	defer signal.Stop(s.sigc)
	defer signal.Stop(ignored)
	code := s.loop()
	// In this order, before the process can exit: no new control
	// connections (the socket file goes), the lock released, then the
	// clients waiting for the end of a stop let go.
	s.mu.Lock()
	ls := s.listeners
	s.ended = true
	s.mu.Unlock()
	for _, l := range ls {
		l.SetUnlinkOnClose(true)
		l.Close()
	}
	if s.OnExit != nil {
		s.OnExit()
	}
	close(s.done)
	return code
}

func (s *Shim) loop() int {
	for boot := 1; ; boot++ {
		if err := s.to(StateBooting, func(st *Status) { st.BootCount = boot; st.Pid, st.PidStart = 0, 0 }); err != nil {
			s.Log.Error("state", "err", err)
		}
		s.Notify.Booting(boot)
		out := s.runOnce(boot)
		if out.bootErr != nil && out.stop != nil {
			s.Log.Info("boot aborted by a stop", "boot", boot, "err", out.bootErr)
			s.readyOnce.Do(func() { s.Ready(fmt.Errorf("stopped during boot: %w", out.bootErr)) })
			return s.finish(StateStopped, "stop requested during boot", out.stop)
		}
		if out.bootErr != nil {
			s.Log.Error("boot failed", "boot", boot, "err", out.bootErr)
			if boot == 1 {
				s.readyOnce.Do(func() { s.Ready(out.bootErr) })
				return s.finish(StateFailed, "boot failed: "+out.bootErr.Error(), nil)
			}
		} else {
			s.recordExit(out, boot)
		}
		if out.stop != nil {
			return s.finish(StateStopped, "stop requested", out.stop)
		}
		var failure bool
		switch {
		case out.bootErr != nil:
			failure = true
		case out.exit.Kind == signals.Reboot:
			s.Log.Info("reboot seen", "boot", boot, "pid", out.pid)
			_ = s.to(StateRebooting, nil)
			continue
		case out.exit.Kind == signals.Halt:
			s.Log.Info("halt seen", "boot", boot, "pid", out.pid)
			return s.finish(StateHalted, "halted from inside", nil)
		case out.exit.Kind == signals.Exited && out.exit.Code == 0:
			s.Log.Info("init exited 0", "boot", boot, "pid", out.pid)
		default:
			failure = true
			s.Log.Warn("crash seen", "boot", boot, "pid", out.pid, "exit", out.exit.String())
		}
		what := "exit 0"
		if out.bootErr != nil {
			what = "boot failed: " + out.bootErr.Error()
		} else if failure {
			what = out.exit.String()
		}
		restart, delay, why := s.Policy.decide(&s.restarts, failure, time.Now())
		if !restart {
			if failure {
				s.Log.Error("giving up", "reason", why, "last", what)
				return s.finish(StateFailed, fmt.Sprintf("%s; last: %s", why, what), nil)
			}
			return s.finish(StateStopped, why, nil)
		}
		_ = s.to(StateBackoff, func(st *Status) { st.RestartCount++ })
		s.Log.Info("restart after backoff", "delay", delay, "restart", s.snapshot().RestartCount)
		s.Notify.Status(fmt.Sprintf("backoff %s after %s", delay, what))
		if st := s.backoff(delay); st != nil {
			return s.finish(StateStopped, "stop requested during backoff", st)
		}
	}
}

// backoff waits delay, answering requests. It returns a stop when one was
// asked for meanwhile.
func (s *Shim) backoff(delay time.Duration) *stopping {
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return nil
		case r := <-s.reqc:
			switch r.req.Op {
			case OpStop:
				s.Log.Info("stop requested", "state", string(StateBackoff))
				return &stopping{waiters: []ctlReq{r}}
			default:
				r.reply <- Response{Error: fmt.Sprintf("%s: container is in backoff", r.req.Op)}
			}
		case sig := <-s.sigc:
			if sig == unix.SIGTERM || sig == unix.SIGINT {
				s.Log.Info("stop requested", "by", signals.Name(sig.(syscall.Signal)), "state", string(StateBackoff))
				return &stopping{}
			}
		}
	}
}

// runOnce boots once and waits for the init's end, handling stop and
// reboot requests meanwhile; it tears the run down before returning.
func (s *Shim) runOnce(boot int) outcome {
	run, early, err := s.boot(boot)
	if err != nil {
		return outcome{bootErr: err, stop: early}
	}
	pid := run.Pid()
	waitc := s.Reaper.Wait(pid)
	start, _ := ProcStartTime(pid)
	s.mu.Lock()
	s.run = run
	s.mu.Unlock()
	_ = s.to(StateRunning, func(st *Status) {
		st.Pid, st.PidStart, st.BootedAt = pid, start, time.Now().UTC()
	})
	s.Log.Info("boot started", "boot", boot, "pid", pid)
	s.readyOnce.Do(func() { s.Ready(nil) })
	s.Notify.Ready(boot, pid)

	var stop *stopping
	var timer *time.Timer
	var timerc <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	begin := func(timeout time.Duration, kill bool, by string) {
		if stop == nil {
			stop = &stopping{}
		}
		_ = s.to(StateStopping, nil)
		s.Log.Info("stop requested", "by", by, "timeout", timeout, "kill", kill)
		if kill || timeout <= 0 {
			s.Notify.Stopping(by+", kill", 30*time.Second)
			s.escalate(run, pid, stop)
			return
		}
		sig := s.HaltSignal(pid)
		stop.signal = signals.Name(sig)
		stop.deadline = time.Now().Add(timeout)
		if err := unix.Kill(pid, sig); err != nil {
			s.Log.Warn("signal failed", "signal", stop.signal, "pid", pid, "err", err)
		} else {
			s.Log.Info("signal sent", "signal", stop.signal, "pid", pid)
		}
		// systemd must not kill what is shutting down in time: extend
		// its stop timer past ours, plus room for the kill and teardown.
		s.Notify.Stopping(by, timeout+30*time.Second)
		timer = time.NewTimer(timeout)
		timerc = timer.C
	}
	if early != nil {
		// Asked to stop before the init ran: it has had no time to set
		// up its handlers (PID 1 ignores what it does not handle) nor
		// to start anything worth a clean shutdown.
		stop = early
		_ = s.to(StateStopping, nil)
		s.Notify.Stopping("stop during boot", 30*time.Second)
		s.escalate(run, pid, stop)
	}
	for {
		select {
		case ws := <-waitc:
			ex := signals.Classify(syscall.WaitStatus(ws))
			if stop != nil && stop.escalated {
				s.Log.Info("init ended after escalation", "pid", pid, "exit", ex.String())
			}
			s.teardown(run, boot)
			return outcome{exit: ex, pid: pid, stop: stop}
		case <-timerc:
			timerc = nil
			s.Log.Warn("stop timeout reached, escalating", "pid", pid, "signal", stop.signal)
			s.escalate(run, pid, stop)
		case r := <-s.reqc:
			switch r.req.Op {
			case OpStop:
				timeout := s.StopTimeout
				if r.req.Timeout != nil {
					timeout = time.Duration(*r.req.Timeout * float64(time.Second))
				}
				if stop == nil {
					stop = &stopping{waiters: []ctlReq{r}}
					begin(timeout, r.req.Kill, "control socket")
					continue
				}
				stop.waiters = append(stop.waiters, r)
				// A second request may only shorten the stop.
				if !stop.escalated && (r.req.Kill || timeout <= 0) {
					timerc = nil
					s.escalate(run, pid, stop)
				} else if !stop.escalated && time.Now().Add(timeout).Before(stop.deadline) {
					stop.deadline = time.Now().Add(timeout)
					timer.Reset(timeout)
					timerc = timer.C
				}
			case OpReboot:
				if stop != nil {
					r.reply <- Response{Error: "reboot: container is stopping"}
					continue
				}
				sig := s.rebootSignal()
				if err := unix.Kill(pid, sig); err != nil {
					r.reply <- Response{Error: fmt.Sprintf("reboot: signal %s to %d: %v", signals.Name(sig), pid, err)}
					continue
				}
				s.Log.Info("signal sent", "signal", signals.Name(sig), "pid", pid, "for", "reboot")
				r.reply <- Response{OK: true, Signal: signals.Name(sig)}
			default:
				r.reply <- Response{Error: "unknown op " + r.req.Op}
			}
		case sig := <-s.sigc:
			if (sig == unix.SIGTERM || sig == unix.SIGINT) && stop == nil {
				begin(s.StopTimeout, false, signals.Name(sig.(syscall.Signal)))
			}
		}
	}
}

func (s *Shim) stopSignal() syscall.Signal {
	if s.StopSignalFor != nil {
		if sig := s.StopSignalFor(); sig != 0 {
			return sig
		}
	}
	return syscall.SIGKILL
}

func (s *Shim) rebootSignal() syscall.Signal {
	if s.RebootSignalFor != nil {
		if sig := s.RebootSignalFor(); sig != 0 {
			return sig
		}
	}
	return syscall.SIGINT
}

// BootAborter is implemented by a Booter that can interrupt a boot in
// progress (kill the stage), so that a stop is not held up by a boot that
// hangs.
type BootAborter interface {
	AbortBoot()
}

// boot runs Booter.Boot while still answering requests: a stop (control
// socket or SIGTERM) during the boot aborts it where the Booter allows and
// is returned as early.
func (s *Shim) boot(boot int) (Run, *stopping, error) {
	type result struct {
		run Run
		err error
	}
	resc := make(chan result, 1)
	go func() {
		r, err := s.Booter.Boot(boot)
		resc <- result{r, err}
	}()
	var early *stopping
	abort := func(by string) {
		s.Log.Info("stop requested during boot", "by", by, "boot", boot)
		if a, ok := s.Booter.(BootAborter); ok {
			a.AbortBoot()
		}
	}
	for {
		select {
		case res := <-resc:
			return res.run, early, res.err
		case r := <-s.reqc:
			if r.req.Op != OpStop {
				r.reply <- Response{Error: fmt.Sprintf("%s: container is booting", r.req.Op)}
				continue
			}
			if early == nil {
				early = &stopping{}
				abort("control socket")
			}
			early.waiters = append(early.waiters, r)
		case sig := <-s.sigc:
			if (sig == unix.SIGTERM || sig == unix.SIGINT) && early == nil {
				early = &stopping{}
				abort(signals.Name(sig.(syscall.Signal)))
			}
		}
	}
}

// escalate sends lxc.signal.stop to the init and kills every process of
// the container's cgroup.
func (s *Shim) escalate(run Run, pid int, stop *stopping) {
	stop.escalated = true
	stopSig := s.stopSignal()
	name := signals.Name(stopSig)
	if stop.signal == "" {
		stop.signal = name
	}
	if err := unix.Kill(pid, stopSig); err != nil && !errors.Is(err, unix.ESRCH) {
		s.Log.Warn("signal failed", "signal", name, "pid", pid, "err", err)
	} else {
		s.Log.Info("signal sent", "signal", name, "pid", pid, "for", "escalation")
	}
	if err := run.KillAll(); err != nil {
		s.Log.Error("kill cgroup failed", "err", err)
	} else {
		s.Log.Info("escalation: killed every process of the cgroup")
	}
	s.Notify.Extend(30*time.Second, "stopping: killed after timeout")
}

// teardown kills what is left of a run and removes it from the host.
func (s *Shim) teardown(run Run, boot int) {
	s.mu.Lock()
	s.run = nil
	s.mu.Unlock()
	var errs []error
	if err := run.KillAll(); err != nil {
		errs = append(errs, err)
	}
	if err := run.Teardown(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		s.Log.Error("cleanup failed", "boot", boot, "err", err)
		return
	}
	s.Log.Info("cleanup done", "boot", boot)
}

func (s *Shim) recordExit(out outcome, boot int) {
	meaning := out.exit.String()
	if out.stop != nil && out.stop.escalated {
		meaning = "killed after timeout"
	}
	s.mu.Lock()
	s.st.LastExit = &LastExit{Meaning: meaning, Pid: out.pid, At: time.Now().UTC(), Boot: boot}
	s.mu.Unlock()
}

// finish records the final state, answers the stop's waiters and returns
// the shim's exit code.
func (s *Shim) finish(final State, reason string, stop *stopping) int {
	result := ""
	if stop != nil {
		switch {
		case stop.escalated:
			result = StopForced
		case stop.signal == "":
			// Stopped during a backoff or a boot: no init to signal.
			result = StopNotRunning
		default:
			result = StopGraceful
		}
	}
	if err := s.to(final, func(st *Status) {
		st.Pid, st.PidStart = 0, 0
		st.Reason = reason
		st.StopResult = result
	}); err != nil {
		s.Log.Error("state", "err", err)
	}
	s.Log.Info("container "+string(final), "reason", reason, "stop", result)
	s.Notify.Status(fmt.Sprintf("%s: %s", final, reason))
	if stop != nil {
		for _, w := range stop.waiters {
			w.reply <- Response{OK: true, Result: result, Signal: stop.signal}
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
	if final == StateFailed {
		return 1
	}
	return 0
}

// to changes state, applies f to the status and writes state.json.
func (s *Shim) to(next State, f func(*Status)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.m.To(next)
	if err != nil {
		err = fmt.Errorf("%s: %w", s.Name, err)
	}
	s.st.State = s.m.State()
	if f != nil {
		f(&s.st)
	}
	if werr := WriteState(s.Paths.State, &s.st); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

func (s *Shim) snapshot() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.ShimAlive = true
	st.InitAlive = st.Pid > 0
	return st
}
