// Command lxc-shim is the per-container supervisor: one process per
// container, the direct parent of the container's PID 1 (see
// shared/DESIGN.md, "Processes").
//
//	lxc-shim [-P LXCPATH] [--rundir DIR] [--logdir DIR] NAME [--foreground]
//	         [--restart no|on-failure|always] [--restart-max N]
//	         [--restart-window D] [--stop-timeout D]
//
// It is normally started by `lxc-initd start`, detached, with a ready pipe
// on a file descriptor (--ready-fd, internal) on which it writes "ok" once
// the init runs or the error that kept it from running, and its start
// lock (--start-lock-fd, internal), held until the shim holds its own. --foreground is
// for systemd (Type=notify) and other supervisors: the same without a
// ready pipe, logging to stderr as well.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/version"

	"github.com/lxc-shim/lxc-shim/hook"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/container"
	"github.com/lxc-shim/lxc-shim/internal/asynclog"
	"github.com/lxc-shim/lxc-shim/lxccmd"
	"github.com/lxc-shim/lxc-shim/shimctl"
	"github.com/lxc-shim/lxc-shim/signals"
	"github.com/lxc-shim/lxc-shim/supervise"
)

type options struct {
	lxcpath     string
	rundir      string
	logdir      string
	name        string
	foreground  bool
	policy      supervise.Policy
	stopTimeout time.Duration
	hookTimeout time.Duration
	readyFD     int
	startLockFD int
}

func main() {
	// In the re-executed stage this never returns.
	container.MaybeStage()
	// A supervisor has nothing to do in parallel: one P means fewer
	// threads and one set of allocation caches (about 200 kB less private
	// memory per shim). lxc-initd sets GOMAXPROCS=1 in the environment
	// already, which also spares the runtime's start the second P; a
	// value someone set on purpose is kept.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	os.Exit(run(os.Args[1:]))
}

// durationValue accepts Go durations ("90s", "1m") and plain seconds.
type durationValue struct{ d *time.Duration }

func (v durationValue) String() string {
	if v.d == nil {
		return ""
	}
	return v.d.String()
}

func (v durationValue) Set(s string) error {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		*v.d = time.Duration(n * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want seconds or a Go duration like 90s", s)
	}
	*v.d = d
	return nil
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{policy: supervise.DefaultPolicy(), stopTimeout: config.DefaultStopTimeout, readyFD: -1, startLockFD: -1}
	fs := flag.NewFlagSet("lxc-shim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lxc-shim [-P LXCPATH] [--rundir DIR] [--logdir DIR] NAME [--foreground] [--restart no|on-failure|always] [--restart-max N] [--restart-window D] [--stop-timeout D] [--hook-timeout D]")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.lxcpath, "P", config.DefaultLXCPath, "colon-separated list of directories holding NAME/config")
	fs.StringVar(&o.rundir, "rundir", config.DefaultRunDir, "state directory")
	fs.StringVar(&o.logdir, "logdir", config.DefaultLogDir, "directory of the shim's log NAME.log")
	fs.BoolVar(&o.foreground, "foreground", false, "log to stderr too (for systemd Type=notify and other supervisors)")
	restart := fs.String("restart", string(supervise.RestartOnFailure), "restart policy after a crash: no, on-failure, always")
	fs.IntVar(&o.policy.Max, "restart-max", o.policy.Max, "give up after this many restarts within --restart-window")
	fs.Var(durationValue{&o.policy.Window}, "restart-window", "window of --restart-max")
	fs.Var(durationValue{&o.stopTimeout}, "stop-timeout", "grace period of a stop before the kill")
	if o.hookTimeout == 0 {
		o.hookTimeout = hook.DefaultTimeout
	}
	fs.Var(durationValue{&o.hookTimeout}, "hook-timeout", "time limit of each lxc.hook.* and network script")
	showVersion := fs.Bool("version", false, "print which build this is and exit")
	fs.IntVar(&o.readyFD, "ready-fd", -1, "internal: file descriptor of lxc-initd's ready pipe")
	fs.IntVar(&o.startLockFD, "start-lock-fd", -1, "internal: file descriptor of lxc-initd's start lock, held until the shim holds its own lock")
	var pos []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		rest = rest[1:]
	}
	if *showVersion {
		return nil, errVersion
	}
	if len(pos) != 1 {
		fs.Usage()
		return nil, errors.New("want exactly one container NAME")
	}
	o.name = pos[0]
	if err := config.ValidName(o.name); err != nil {
		return nil, err
	}
	m, err := supervise.ParseRestartMode(*restart)
	if err != nil {
		return nil, err
	}
	o.policy.Mode = m
	return o, nil
}

// absPaths makes -P's directories, --rundir and --logdir absolute against
// the working directory (each left as is if that cannot be read).
func (o *options) absPaths() {
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	dirs := config.SplitLXCPath(o.lxcpath)
	for i := range dirs {
		dirs[i] = abs(dirs[i])
	}
	o.lxcpath = strings.Join(dirs, ":")
	o.rundir, o.logdir = abs(o.rundir), abs(o.logdir)
}

// errVersion is parse's answer to --version.
var errVersion = errors.New("version asked")

func run(args []string) int {
	o, err := parse(args, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if errors.Is(err, errVersion) {
			fmt.Println("lxc-shim", version.String())
			return 0
		}
		fmt.Fprintf(os.Stderr, "lxc-shim: %v\n", err)
		return 2
	}
	// Whatever the caller left open (an init script's lock file, a
	// pipe) is not the shim's to hold for the container's life.
	shimctl.CloseInherited(o.readyFD, o.startLockFD)
	// Closed once this shim holds its own lock and its control socket,
	// and in any case before a container process can exist.
	releaseStart := func() {}
	if o.startLockFD >= 0 {
		syscall.CloseOnExec(o.startLockFD)
		f := os.NewFile(uintptr(o.startLockFD), "start.lock")
		releaseStart = sync.OnceFunc(func() { f.Close() })
	}
	defer releaseStart()
	ready := readyFunc(o.readyFD)
	fail := func(err error) int {
		ready(err)
		fmt.Fprintf(os.Stderr, "lxc-shim %s: %v\n", o.name, err)
		return 1
	}
	// The reaper first: SIGCHLD must be registered before any child.
	reaper, err := supervise.NewReaper()
	if err != nil {
		return fail(err)
	}
	// Hold no directory busy (a rootfs that someone wants to unmount),
	// after making the directories given relative to the caller's
	// working directory absolute.
	o.absPaths()
	_ = os.Chdir("/")
	if err := config.CheckRunDir(o.rundir, o.name); err != nil {
		return fail(err)
	}
	// Started by systemd or another supervisor, not through lxc-initd
	// start: the same refusal of a container LXC runs, before anything
	// of ours exists.
	if err := lxccmd.NotRunning(lxccmd.Paths(config.SplitLXCPath(o.lxcpath)), o.name); err != nil {
		return fail(err)
	}

	paths := shimctl.PathsFor(o.rundir, o.name)
	if err := os.MkdirAll(paths.Dir, 0o700); err != nil {
		return fail(fmt.Errorf("state directory: %w", err))
	}
	// The log never holds the shim up: lines go through asynclog, which
	// drops and counts what a full, failing or hung file system does not
	// take; a log that cannot even be opened is tried again later.
	var logSink io.Writer
	logPath := filepath.Join(o.logdir, o.name+".log")
	logFile, err := asynclog.OpenFile(o.logdir, logPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lxc-shim %s: warning: %v; the log starts once it can be written\n", o.name, err)
		logSink = &asynclog.File{Path: logPath}
	} else {
		defer logFile.Close()
		logSink = logFile
	}
	logw := asynclog.New(logSink, 0)
	defer logw.Close(time.Second)
	dropped := logw.Dropped
	var h slog.Handler = slog.NewTextHandler(logw, nil)
	if o.foreground {
		// A supervisor's pipe (the journal) can be stuck as well.
		errw := asynclog.New(os.Stderr, 0)
		defer errw.Close(time.Second)
		h = slog.NewMultiHandler(h, slog.NewTextHandler(errw, nil))
		dropped = func() uint64 { return logw.Dropped() + errw.Dropped() }
	}
	log := slog.New(h).With("container", o.name, "shim", os.Getpid())
	slog.SetDefault(log)

	lock, err := shimctl.AcquireLock(paths.Lock)
	if err != nil {
		if errors.Is(err, shimctl.ErrLocked) {
			return fail(fmt.Errorf("%s is already running under another shim", o.name))
		}
		return fail(err)
	}
	// The abstract name next, before anything of the host is touched: it
	// is the lock that survives the removal of RUNDIR/NAME.
	al, err := shimctl.ListenAbstract(paths)
	if err != nil {
		lock.Close()
		if errors.Is(err, shimctl.ErrLocked) {
			return fail(fmt.Errorf("%s is already running under another shim (%w)", o.name, err))
		}
		return fail(err)
	}
	defer al.Close()
	cfgPath, err := config.Find(o.name, config.SplitLXCPath(o.lxcpath))
	if err != nil {
		lock.Close()
		return fail(err)
	}
	cfg, err := config.Load(cfgPath, o.name)
	if err != nil {
		lock.Close()
		return fail(err)
	}
	for _, w := range cfg.Warnings {
		log.Warn("config", "warning", w.String())
	}
	l, err := supervise.Listen(paths.Socket)
	if err != nil {
		lock.Close()
		return fail(err)
	}
	booter, err := supervise.NewBooter(cfg, o.rundir, reaper, log, logFile)
	if err != nil {
		l.Close()
		lock.Close()
		return fail(err)
	}
	booter.HookTimeout = o.hookTimeout
	booter.Reload = func() (*config.Config, error) { return config.Load(cfgPath, o.name) }
	defer booter.Close()
	log.Info("shim started", "config", cfgPath, "restart", string(o.policy.Mode), "stop_timeout", o.stopTimeout)
	s := &supervise.Shim{
		Name:        o.name,
		Paths:       paths,
		Policy:      o.policy,
		StopTimeout: o.stopTimeout,
		// The signals follow the config of the current boot.
		HaltSignal: func(pid int) syscall.Signal {
			c := booter.Config()
			return signals.HaltSignalFor(c.Signals.Halt, c.Signals.HaltSet, pid)
		},
		StopSignalFor:   func() syscall.Signal { return booter.Config().Signals.Stop },
		RebootSignalFor: func() syscall.Signal { return booter.Config().Signals.Reboot },
		Booter:          booter,
		Consoles:        booter,
		Reaper:          reaper,
		Log:             log,
		LogDropped:      dropped,
		Notify:          supervise.Notifier{Log: log},
		Ready:           ready,
	}
	// The lock, socket file and state.json come back if someone removes
	// them; RunDir holds the lock from here on.
	rd := supervise.KeepRunDir(s, paths, lock)
	s.OnExit = rd.Close
	go s.Serve(l)
	go s.Serve(al)
	releaseStart()
	code := s.Run()
	log.Info("shim exits", "code", code)
	return code
}

// readyFunc reports the first boot's outcome on lxc-initd's ready pipe:
// "ok" or the error, then closes it so the reader sees EOF.
func readyFunc(fd int) func(error) {
	if fd < 0 {
		return func(error) {}
	}
	f := os.NewFile(uintptr(fd), "ready")
	syscall.CloseOnExec(fd)
	done := false
	return func(err error) {
		if done || f == nil {
			return
		}
		done = true
		if err == nil {
			fmt.Fprintln(f, "ok")
		} else {
			fmt.Fprintln(f, err.Error())
		}
		f.Close()
	}
}
