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

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/shimctl"

	"golang.org/x/sys/unix"
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
	// target is "stop" or "reboot" (LXC_TARGET of the stop and
	// post-stop hooks).
	Teardown(target string) error
}

// ShimError is a boot that failed because of the shim's own resources (its
// ptys, the descriptors it hands to the stage, the clone itself), not
// because of the container: retrying it as if the container had crashed
// would only fail the same way, so the shim gives up at once and says so.
type ShimError struct {
	Op  string // what the shim was doing: "prepare the console for a new boot"
	Err error
}

func (e *ShimError) Error() string { return "shim error: " + e.Op + ": " + e.Err.Error() }
func (e *ShimError) Unwrap() error { return e.Err }

// Consoles are the container's terminals, which live as long as the shim
// (the same ptys serve every boot).
type Consoles interface {
	// ServeConsole claims the terminal of req.TTY (0: /dev/console),
	// answers the client {"ok":true} and carries the bytes until the
	// client detaches. An error before the answer is for the client.
	ServeConsole(conn net.Conn, req shimctl.Request) error
	// Resize sets the window size of req.TTY to req.Rows x req.Cols.
	Resize(req shimctl.Request) error
}

// Shim supervises one container for its whole life: boots, reboots,
// restarts after crashes, stops on request. Fill the fields, then call
// Serve (control socket) and Run.
type Shim struct {
	Name  string
	Paths shimctl.Paths
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
	// LogDropped, when set, counts the log lines that could not be
	// written (package asynclog); status reports it.
	LogDropped func() uint64
	// OnExit runs when Run ends, before control clients waiting for a
	// stop are let go: the caller releases the shim's lock here, so that
	// a stopped container can be started again at once.
	OnExit func()

	m Machine
	// trace, when set (tests), sees every state change that was made.
	trace     func(from, to shimctl.State)
	mu        sync.Mutex
	st        shimctl.Status
	run       Run // the current run, for the run directory's repair (rundir.go)
	listeners []*net.UnixListener
	ended     bool // Run is over: a late Serve closes its listener at once
	// subs are the event subscribers (serveEvents), fed by publish;
	// subsWG counts their handlers, for Run's last flush.
	subs      map[chan shimctl.Status]struct{}
	subsWG    sync.WaitGroup
	reqc      chan ctlReq
	sigc      chan os.Signal
	done      chan struct{}
	readyOnce sync.Once
	// initOnce: Run and every Serve call init, from their own
	// goroutines (cmd/lxc-shim serves two listeners while Run starts);
	// two of them making their own reqc would leave a listener feeding
	// a channel no loop reads.
	initOnce sync.Once
	restarts restarts
}

// ctlReq is a control request that the event loop must handle. The
// handler closes ack once it wrote the reply, so that a shim about to exit
// can wait until its last answers are out.
type ctlReq struct {
	req   shimctl.Request
	reply chan shimctl.Response
	ack   chan struct{}
}

// stopping is a stop in progress.
type stopping struct {
	waiters   []ctlReq
	signal    string
	escalated bool
	deadline  time.Time
}

func (s *Shim) init() { s.initOnce.Do(s.setDefaults) }

// setDefaults fills what the caller left unset and makes the loop's
// channels (once, through init).
func (s *Shim) setDefaults() {
	if s.Policy.Mode == "" {
		s.Policy = DefaultPolicy()
	}
	if s.StopTimeout == 0 {
		s.StopTimeout = config.DefaultStopTimeout
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
	start, _ := shimctl.ProcStartTime(os.Getpid())
	s.st = shimctl.Status{Name: s.Name, ShimPid: os.Getpid(), ShimStart: start, StartedAt: time.Now().UTC(), StopTimeout: s.StopTimeout.Seconds()}
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
	// Event subscribers (wait, monitor) get the final state before the
	// process exits; one that does not read gets 2 s.
	flushed := make(chan struct{})
	go func() { s.subsWG.Wait(); close(flushed) }()
	select {
	case <-flushed:
	case <-time.After(2 * time.Second):
	}
	return code
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

// errRefused marks a state change the allow-list refused.
var errRefused = errors.New("transition refused")

// to changes state, applies f to the status and writes state.json. A
// transition the allow-list refuses changes nothing, neither the state
// nor the status, and is returned as an error wrapping errRefused.
func (s *Shim) to(next shimctl.State, f func(*shimctl.Status)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	from := s.m.State()
	if err := s.m.To(next); err != nil {
		return fmt.Errorf("%s: %w: %w", s.Name, errRefused, err)
	}
	if s.trace != nil {
		s.trace(from, next)
	}
	s.st.State = s.m.State()
	if f != nil {
		f(&s.st)
	}
	s.publish()
	return s.writeStateLocked()
}

// errStateWrite marks a state change that was made but could not be
// written to state.json (a full or failing /run).
var errStateWrite = errors.New("state.json not written")

// writeStateLocked writes the status to state.json; s.mu is held. A
// failure is kept in the status (status --json reports it from the live
// shim) and returned wrapping errStateWrite; the next write that succeeds
// clears it.
func (s *Shim) writeStateLocked() error {
	s.st.StateWriteError = ""
	if err := shimctl.WriteState(s.Paths.State, &s.st); err != nil {
		s.st.StateWriteError = err.Error()
		return fmt.Errorf("%s: %w: %w", s.Name, errStateWrite, err)
	}
	return nil
}

// state is the current state.
func (s *Shim) state() shimctl.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.State()
}

func (s *Shim) snapshot() shimctl.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.ShimAlive = true
	st.InitAlive = st.Pid > 0
	if s.LogDropped != nil {
		st.LogDropped = s.LogDropped()
	}
	return st
}
