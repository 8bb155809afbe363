// Package hook runs the programs an LXC config names for points of a
// container's life (lxc.hook.*) and for its networks
// (lxc.net.N.script.up/down) the way LXC 5 runs them (src/lxc/utils.c
// run_script_argv): through /bin/sh as "exec CMD ARGS", with LXC's
// arguments (lxc.hook.version = 0: NAME SECTION TYPE, then the extra ones)
// or LXC's environment (version 1: LXC_HOOK_TYPE, LXC_HOOK_SECTION and,
// for network scripts, LXC_NET_*).
//
// Unlike LXC a hook runs with a time limit, in a session of its own (no
// controlling terminal, so never the container's console), with stdin
// empty and its output on a pipe whose lines go to the caller's log; only
// those three descriptors reach it. The extra arguments are passed as
// positional parameters, never pasted into the shell's command line.
package hook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
)

// DefaultTimeout is how long a hook may run before it is killed (with its
// process group) and counts as failed. LXC has no limit; a hook that hangs
// would hold the boot, or a stop, for ever.
const DefaultTimeout = 2 * time.Minute

// Path is the PATH hooks run with (LXC's inherit lxc-start's environment;
// a shim's environment is not the admin's shell's).
const Path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// outputLines is how many of the last lines of a failed hook's output its
// error carries.
const outputLines = 10

// Forker starts a process and reports its end. The shim's reaper
// implements it (the only code of the shim that waits for children); the
// stage has its own (StageForker).
type Forker interface {
	ForkExec(argv0 string, argv []string, attr *syscall.ProcAttr) (int, error)
	Wait(pid int) <-chan unix.WaitStatus
}

// Spec is one run of one hook.
type Spec struct {
	// Cmd is the hook's value, Key the config key that gave it
	// ("lxc.hook.mount", "lxc.net.0.script.up") and Pos where.
	Cmd string
	Key string
	Pos config.Pos
	// Name is the container's, Section "lxc" or "net", Type the hook's
	// type ("mount", "up").
	Name    string
	Section string
	Type    string
	// Args are the extra arguments LXC passes (net: TYPE LINK PEER; stop
	// with version 0: the namespaces). Empty ones are dropped, as LXC's
	// shell drops them.
	Args    []string
	Version int
	// Env is the environment (Environ) without the per-hook variables.
	Env     []string
	Timeout time.Duration
	Log     *slog.Logger
}

// Error is a hook that failed: the key, program, what happened and the
// last lines of its output.
type Error struct {
	Key    string
	Cmd    string
	Pos    config.Pos
	What   string // "exited with status 3", "killed by signal 9", "timed out after 2m0s"
	Output string
}

func (e *Error) Error() string {
	where := e.Key
	if e.Pos.File != "" {
		where = fmt.Sprintf("%s:%d: %s", e.Pos.File, e.Pos.Line, e.Key)
	}
	s := fmt.Sprintf("%s: hook %q %s", where, e.Cmd, e.What)
	if e.Output != "" {
		s += "; last output:\n" + e.Output
	}
	return s
}

// Argv is the command line of a run: /bin/sh execs the hook's value with
// LXC's arguments as positional parameters.
func (s Spec) Argv() []string {
	argv := []string{"sh", "-c", "exec " + s.Cmd + ` "$@"`, "sh"}
	if s.Version == 0 {
		argv = append(argv, s.Name, s.Section, s.Type)
	}
	for _, a := range s.Args {
		if a != "" {
			argv = append(argv, a)
		}
	}
	return argv
}

// Environ is the environment of a run: Env, then with version 1 the type
// and section (and LXC_NET_* for network scripts), as LXC sets them.
func (s Spec) Environ() []string {
	env := append([]string(nil), s.Env...)
	if s.Version != 1 {
		return env
	}
	own := []string{"LXC_HOOK_TYPE=" + s.Type, "LXC_HOOK_SECTION=" + s.Section}
	if s.Section == "net" && len(s.Args) > 0 {
		arg := func(i int) string {
			if i < len(s.Args) {
				return s.Args[i]
			}
			return ""
		}
		own = append(own, "LXC_NET_TYPE="+s.Args[0])
		switch s.Args[0] {
		case "macvlan", "phys":
			own = append(own, "LXC_NET_PARENT="+arg(1))
		case "veth":
			own = append(own, "LXC_NET_PEER="+arg(2), "LXC_NET_PARENT="+arg(1))
		}
	}
	return config.OverrideEnv(env, own)
}

// Run runs one hook and waits for it (at most s.Timeout, DefaultTimeout if
// zero). It must be called on the thread whose namespaces and credentials
// the hook is to have (the stage's locked thread).
func Run(f Forker, s Spec) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With("hook", s.Key, "cmd", s.Cmd)
	inR, inW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("%s: %w", s.Key, err)
	}
	inW.Close() // stdin: an empty pipe, EOF at once
	defer inR.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("%s: %w", s.Key, err)
	}
	defer outR.Close()
	attr := &syscall.ProcAttr{
		Dir:   "/",
		Env:   s.Environ(),
		Files: []uintptr{inR.Fd(), outW.Fd(), outW.Fd()},
		// A session of its own: no controlling terminal (the stage's is
		// the container's console), and a process group to kill.
		Sys: &syscall.SysProcAttr{Setsid: true},
	}
	log.Info("running hook", "type", s.Type)
	pid, err := f.ForkExec("/bin/sh", s.Argv(), attr)
	outW.Close()
	if err != nil {
		return &Error{Key: s.Key, Cmd: s.Cmd, Pos: s.Pos, What: "could not run /bin/sh: " + err.Error()}
	}
	out := &tail{log: log}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		out.copyFrom(outR)
	}()
	var ws unix.WaitStatus
	timedOut := false
	waitc := f.Wait(pid)
	timer := time.NewTimer(timeout)
	select {
	case ws = <-waitc:
		timer.Stop()
	case <-timer.C:
		timedOut = true
		_ = unix.Kill(-pid, unix.SIGKILL)
		ws = <-waitc
	}
	// A child the hook left running may hold the pipe open: its output
	// is not waited for past a moment.
	_ = outR.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	<-readDone
	var what string
	switch {
	case timedOut:
		what = "timed out after " + timeout.String() + " (killed)"
	case ws.Exited() && ws.ExitStatus() == 0:
		log.Info("hook done", "type", s.Type)
		return nil
	case ws.Exited():
		what = "exited with status " + strconv.Itoa(ws.ExitStatus())
	case ws.Signaled():
		what = "killed by signal " + strconv.Itoa(int(ws.Signal()))
	default:
		what = fmt.Sprintf("ended with wait status %#x", uint32(ws))
	}
	return &Error{Key: s.Key, Cmd: s.Cmd, Pos: s.Pos, What: what, Output: out.last()}
}

// tail logs every line it reads and keeps the last outputLines.
type tail struct {
	log   *slog.Logger
	mu    sync.Mutex
	lines []string
}

func (t *tail) copyFrom(r io.Reader) {
	buf := make([]byte, 4096)
	var partial []byte
	for {
		n, err := r.Read(buf)
		partial = append(partial, buf[:n]...)
		for {
			i := bytes.IndexByte(partial, '\n')
			if i < 0 {
				break
			}
			t.add(string(partial[:i]))
			partial = partial[i+1:]
		}
		if len(partial) > 4096 {
			t.add(string(partial))
			partial = nil
		}
		if err != nil {
			if len(partial) > 0 {
				t.add(string(partial))
			}
			return
		}
	}
}

func (t *tail) add(line string) {
	t.log.Info("hook output", "line", line)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > outputLines {
		t.lines = t.lines[len(t.lines)-outputLines:]
	}
}

func (t *tail) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// StageForker runs hooks from the stage, which is PID 1 of the
// container's PID namespace until it execs the init: waiting for a hook
// reaps whatever else died there too (a hook's orphans are reparented to
// the stage). Hooks run one at a time, so one Wait4(-1) at a time.
type StageForker struct{}

// ForkExec starts the hook from the calling thread.
func (StageForker) ForkExec(argv0 string, argv []string, attr *syscall.ProcAttr) (int, error) {
	return syscall.ForkExec(argv0, argv, attr)
}

// Wait reaps children until pid is among them.
func (StageForker) Wait(pid int) <-chan unix.WaitStatus {
	ch := make(chan unix.WaitStatus, 1)
	go func() {
		defer close(ch)
		for {
			var ws unix.WaitStatus
			got, err := unix.Wait4(-1, &ws, 0, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return
			}
			if got == pid {
				ch <- ws
				return
			}
		}
	}()
	return ch
}

// Env is what every hook of a container gets: PATH and LXC's variables
// (src/lxc/start.c lxc_init). LXC_SRC_NAME is set by LXC for clone hooks
// only, which lxc-shim does not run; LXC_ROOTFS_MOUNT is where the stage
// mounts the root file system in the container's mount namespace (the
// rootfs path itself).
func Env(cfg *config.Config) []string {
	rootfs := strings.TrimPrefix(cfg.Rootfs.Path, "dir:")
	env := []string{
		"PATH=" + Path,
		"LXC_NAME=" + cfg.Name,
		"LXC_ROOTFS_MOUNT=" + rootfs,
		"LXC_ROOTFS_PATH=" + rootfs,
	}
	if cfg.File != "" {
		env = append(env, "LXC_CONFIG_FILE="+cfg.File)
	}
	if cfg.Console.Path != "" {
		env = append(env, "LXC_CONSOLE="+cfg.Console.Path)
	}
	if cfg.Console.Logfile != "" {
		env = append(env, "LXC_CONSOLE_LOGPATH="+cfg.Console.Logfile)
	}
	if _, err := os.Stat("/proc/self/ns/cgroup"); err == nil {
		env = append(env, "LXC_CGNS_AWARE=1")
	}
	level := strings.ToUpper(cfg.Log.Level)
	if level == "" {
		level = "ERROR"
	}
	return append(env, "LXC_LOG_LEVEL="+level, "LXC_HOOK_VERSION="+strconv.Itoa(cfg.HookVersion))
}

// RunAll runs the hooks of one type of cfg in config order; the first
// failure stops it. extraEnv overrides Env (lxc.environment, LXC_TARGET,
// LXC_*_NS), as LXC's setenv calls do.
func RunAll(f Forker, cfg *config.Config, typ string, extraEnv, args []string, timeout time.Duration, log *slog.Logger) error {
	for _, h := range cfg.HooksOf(typ) {
		err := Run(f, Spec{
			Cmd: h.Cmd, Key: "lxc.hook." + typ, Pos: h.Pos,
			Name: cfg.Name, Section: "lxc", Type: typ, Args: args,
			Version: cfg.HookVersion, Env: config.OverrideEnv(Env(cfg), extraEnv),
			Timeout: timeout, Log: log,
		})
		if err != nil {
			return err
		}
	}
	return nil
}
