package container

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/covflush"
	"github.com/lxc-shim/lxc-shim/sealedexe"
	"github.com/lxc-shim/lxc-shim/storage"
	"golang.org/x/sys/unix"
)

// stageEnv is the stage's whole environment: StageEnv, GOMAXPROCS=1 (the
// stage runs on one locked thread; a second P only costs its runtime's
// start, about 1 ms, threads it never uses), and in a coverage run (make
// cover) $GOCOVERDIR, so the stage's counters are kept too (package
// covflush). Nothing else of the shim's environment reaches it, and none
// of it reaches the init or a hook: their environments are built from the
// config.
func stageEnv() []string {
	env := []string{StageEnv + "=1", "GOMAXPROCS=1"}
	if d := os.Getenv("GOCOVERDIR"); d != "" && covflush.Built() {
		env = append(env, "GOCOVERDIR="+d)
	}
	return env
}

// StageEnv is the environment variable that makes a re-executed lxc-shim
// binary run the stage (see MaybeStage).
const StageEnv = "LXC_SHIM_STAGE"

// The stage's file descriptors: 0 is /dev/null, 1 and 2 the log file, then
// the control pipe (plan and release), the report pipe (errors, and EOF on
// exec), the console and ttys, and last the sealed copy of the binary the
// stage runs from.
const (
	fdCtl    = 3
	fdReport = 4
	fdFirst  = 5
)

// ErrClone is wrapped by Spawn's error when the stage could not be cloned
// at all (the kernel refused the fork, the namespaces or a descriptor
// handed to it), as opposed to a refusal of the config.
var ErrClone = errors.New("clone stage")

// Forker starts a process. The shim's reaper implements it, so that the
// reaper is the only code that waits for children.
type Forker interface {
	ForkExec(argv0 string, argv []string, attr *syscall.ProcAttr) (pid int, err error)
}

// SpawnOptions are what the shim hands to the stage besides the config.
type SpawnOptions struct {
	// Fork starts the stage (required).
	Fork Forker
	// Console is the slave of the pty the shim holds the master of; it
	// becomes /dev/console and the init's stdin, stdout, stderr and
	// controlling tty. Nil: no console (lxc.console.path = none).
	Console *os.File
	// TTYs are pty slaves for /dev/tty1..N (at least lxc.tty.max of them).
	TTYs []*os.File
	// LogFile receives the stage's own log lines (nil: discarded).
	LogFile *os.File
	// HookTimeout limits each hook the stage runs (0: hook.DefaultTimeout).
	HookTimeout time.Duration
	// AppArmorLabel is the AppArmor profile the init is exec'd under
	// (lsm.Host.Prepare; "": none is set).
	AppArmorLabel string
	// Rootfs is the storage the shim prepared (storage.Prepare). Nil: the
	// config's rootfs, which must then be a directory.
	Rootfs *storage.Source
	// ExeScratch is a directory of the caller's own (the container's run
	// directory) that lets the stage run from a read-only view of this
	// binary instead of a sealed copy of it (sealedexe.Exe); "": a copy.
	ExeScratch string
	// The stage gets its own copies of these files: the caller may close
	// its copies once Spawn has returned.
}

// Stage is a cloned stage waiting to be released.
type Stage struct {
	name   string
	pid    int
	ctl    *os.File // write end: release byte
	report *os.File // read end: error report, EOF on exec
	pause  bool     // the stage stops for the start-host hooks
	done   bool
	// seccomp is lxc.seccomp.profile: the stage loads it before its last
	// calls, which a policy can deny (the stage then dies without a word).
	seccomp string
}

// StageError is a failure inside the stage: the step that failed, the config
// key and value that asked for it and where they were read.
type StageError struct {
	Step  string     `json:"step"`
	Key   string     `json:"key,omitempty"`
	Value string     `json:"value,omitempty"`
	Pos   config.Pos `json:"pos"`
	Err   string     `json:"err"`
}

func (e *StageError) Error() string {
	s := e.Step
	if e.Key != "" {
		s += " " + e.Key
	}
	if e.Value != "" {
		s += " " + strconv.Quote(e.Value)
	}
	if e.Pos.File != "" {
		s += fmt.Sprintf(" (%s:%d)", e.Pos.File, e.Pos.Line)
	}
	return s + ": " + e.Err
}

// plan is what the stage receives over the control pipe. Positions are
// carried separately because the model does not serialise them.
type plan struct {
	Config *config.Config `json:"config"`
	// Rootfs is what the stage mounts as the rootfs.
	Rootfs storage.Source `json:"rootfs"`
	// Where maps "rootfs", "init", "uts", "mount.N", "prlimit.N",
	// "sysctl.N", "mount.auto", "caps", "namespace" to where they were read.
	Where map[string]config.Pos `json:"where"`
	// Clone is the set of CLONE_NEW* flags the stage was created with.
	Clone uintptr `json:"clone"`
	// CgroupNS: unshare a cgroup namespace after release.
	CgroupNS  bool  `json:"cgroup_ns"`
	ConsoleFD int   `json:"console_fd"` // -1: none
	TTYFDs    []int `json:"tty_fds,omitempty"`
	// HookTimeout limits each hook the stage runs (0: hook.DefaultTimeout).
	HookTimeout time.Duration `json:"hook_timeout,omitempty"`
	// StartHostPause: after the start hooks the stage reports
	// startHostMarker and waits for a byte on the control pipe, while the
	// shim runs the start-host hooks.
	StartHostPause bool `json:"start_host_pause,omitempty"`
	// AppArmor is the label the init is exec'd under ("": none).
	AppArmor string `json:"apparmor,omitempty"`
	// IDMapFD is the socket the shim sends the idmapped mounts on (user
	// namespace only; -1: none).
	IDMapFD int `json:"idmap_fd"`
}

// Spawn clones the stage for cfg in its new namespaces. The stage waits
// until Release; if the caller dies first, the stage sees EOF and exits.
func Spawn(cfg *config.Config, opts SpawnOptions) (*Stage, error) {
	if opts.Fork == nil {
		return nil, fmt.Errorf("spawn %s: no forker", cfg.Name)
	}
	if err := refuseUnsupported(cfg); err != nil {
		return nil, fmt.Errorf("spawn %s: %w", cfg.Name, err)
	}
	if strings.TrimPrefix(cfg.Rootfs.Path, "dir:") == "" {
		return nil, fmt.Errorf("spawn %s: %w", cfg.Name, &StageError{Step: "rootfs", Key: "lxc.rootfs.path", Pos: cfg.Rootfs.Pos,
			Err: "not set (a container sharing the host's root is not supported)"})
	}
	src, err := rootfsSource(cfg, opts.Rootfs)
	if err != nil {
		return nil, fmt.Errorf("spawn %s: %w", cfg.Name, err)
	}
	if cfg.TTY.Max > len(opts.TTYs) {
		return nil, fmt.Errorf("spawn %s: lxc.tty.max = %d but %d ttys were allocated", cfg.Name, cfg.TTY.Max, len(opts.TTYs))
	}
	clone, cgns, err := namespaces(cfg)
	if err != nil {
		return nil, fmt.Errorf("spawn %s: %w", cfg.Name, err)
	}

	p := plan{Config: cfg, Rootfs: src, Where: positions(cfg), Clone: clone, CgroupNS: cgns, ConsoleFD: -1,
		HookTimeout: opts.HookTimeout, StartHostPause: len(cfg.HooksOf("start-host")) > 0,
		AppArmor: opts.AppArmorLabel, IDMapFD: -1}

	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("spawn %s: %w", cfg.Name, err)
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		ctlR.Close()
		ctlW.Close()
		return nil, fmt.Errorf("spawn %s: %w", cfg.Name, err)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		closeAll(ctlR, ctlW, repR, repW)
		return nil, fmt.Errorf("spawn %s: %w", cfg.Name, err)
	}
	logf := null
	if opts.LogFile != nil {
		logf = opts.LogFile
	}
	files := []uintptr{null.Fd(), logf.Fd(), logf.Fd(), ctlR.Fd(), repW.Fd()}
	sys := &syscall.SysProcAttr{Cloneflags: clone, Setsid: true}
	if opts.Console != nil {
		p.ConsoleFD = len(files)
		sys.Setctty = true
		sys.Ctty = p.ConsoleFD
		files = append(files, opts.Console.Fd())
	}
	for i := 0; i < cfg.TTY.Max; i++ {
		p.TTYFDs = append(p.TTYFDs, len(files))
		files = append(files, opts.TTYs[i].Fd())
	}
	var idmapSock *os.File // the shim's end
	if cfg.Unprivileged() {
		var child *os.File
		if idmapSock, child, err = usernsPrepare(cfg, sys, opts); err != nil {
			closeAll(null, ctlR, ctlW, repR, repW)
			return nil, fmt.Errorf("spawn %s: %w", cfg.Name, err)
		}
		defer idmapSock.Close()
		defer child.Close()
		p.IDMapFD = len(files)
		files = append(files, child.Fd())
	} else if err := reclaimTerminals(append([]*os.File{opts.Console}, opts.TTYs...)...); err != nil {
		closeAll(null, ctlR, ctlW, repR, repW)
		return nil, fmt.Errorf("spawn %s: %w", cfg.Name, err)
	}
	// The stage runs from a read-only view or a sealed copy of this
	// binary, never from the host's file: if the container's init is
	// "/proc/self/exe" (or a script whose interpreter it is), what the
	// container gets is one of those, which no one can write. The view
	// costs no copy (a copy of the whole binary took about 5 ms per boot).
	// It is the stage's last descriptor, which the stage closes on exec;
	// the shim's own is closed at once, so a running shim holds none.
	exe, err := sealedexe.Exe("lxc-shim", opts.ExeScratch)
	if err != nil {
		closeAll(null, ctlR, ctlW, repR, repW)
		return nil, fmt.Errorf("spawn %s: %w", cfg.Name, err)
	}
	files = append(files, exe.Fd())
	attr := &syscall.ProcAttr{
		Dir:   "/",
		Env:   stageEnv(),
		Files: files,
		Sys:   sys,
	}
	pid, err := opts.Fork.ForkExec(sealedexe.ChildPath(len(files)-1), []string{"lxc-shim-stage", cfg.Name}, attr)
	closeAll(null, ctlR, repW, exe)
	if err != nil {
		closeAll(ctlW, repR)
		return nil, fmt.Errorf("spawn %s: %w: %w", cfg.Name, ErrClone, err)
	}
	st := &Stage{name: cfg.Name, pid: pid, ctl: ctlW, report: repR, pause: p.StartHostPause,
		seccomp: cfg.Security.SeccompProfile}
	// The stage reads the plan as soon as it runs, so this write cannot
	// block for long even past the pipe's buffer; a dead stage gives EPIPE.
	buf, err := json.Marshal(&p)
	if err != nil {
		st.Abort()
		return nil, fmt.Errorf("spawn %s: encode plan: %w", cfg.Name, err)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(buf)))
	if _, err := ctlW.Write(append(hdr[:], buf...)); err != nil {
		st.Abort()
		return nil, fmt.Errorf("spawn %s: send plan to stage: %w", cfg.Name, err)
	}
	if idmapSock != nil {
		if err := sendIDMapped(cfg, pid, idmapSock); err != nil {
			st.Abort()
			return nil, fmt.Errorf("spawn %s: %w", cfg.Name, err)
		}
	}
	return st, nil
}

// Pid is the stage's host PID, which the init keeps.
func (s *Stage) Pid() int { return s.pid }

// Release lets the stage prepare the container and exec the init. It
// returns nil once the exec succeeded, or the *StageError that stopped the
// stage (which then exits; the caller's reaper collects it).
func (s *Stage) Release() error { return s.ReleaseWith(nil) }

// ReleaseWith is Release, calling atStartHost while the stage waits between
// the container's start hooks and the exec of the init (LXC's place for
// lxc.hook.start-host) when the config has start-host hooks. An error from
// atStartHost kills the stage and is returned.
func (s *Stage) ReleaseWith(atStartHost func() error) error {
	if s.done {
		return fmt.Errorf("release %s: stage already released or aborted", s.name)
	}
	s.done = true
	defer s.report.Close()
	defer s.ctl.Close()
	_, werr := s.ctl.Write([]byte{'R'})
	var head []byte
	if s.pause && werr == nil {
		head = make([]byte, len(startHostMarker))
		n, _ := io.ReadFull(s.report, head)
		head = head[:n]
		if string(head) == startHostMarker {
			head = nil
			var err error
			if atStartHost != nil {
				err = atStartHost()
			}
			if err != nil {
				_ = unix.Kill(s.pid, unix.SIGKILL)
				_, _ = io.Copy(io.Discard, s.report)
				return err
			}
			_, werr = s.ctl.Write([]byte{'C'})
		}
	}
	s.ctl.Close()
	rest, err := io.ReadAll(s.report)
	if err != nil {
		return fmt.Errorf("release %s: read stage report: %w", s.name, err)
	}
	err = parseReport(s.name, append(head, rest...), werr)
	var se *StageError
	if err != nil && werr == nil && !errors.As(err, &se) && s.seccomp != "" {
		err = fmt.Errorf("%w (lxc.seccomp.profile %s is loaded before the stage's last calls: setgroups, setresuid, capset, prctl, rt_sigaction, write, execve; a policy that denies one stops the start)", err, s.seccomp)
	}
	return err
}

// startHostMarker is written by the stage when it waits for the shim's
// start-host hooks (plan.StartHostPause).
const startHostMarker = "start-host\n"

// execMarker is written by the stage right before execve; the pipe is
// close-on-exec, so the marker followed by EOF means the exec succeeded.
const execMarker = "exec\n"

func parseReport(name string, out []byte, werr error) error {
	if string(out) == execMarker {
		return nil
	}
	rest := out
	if len(rest) >= len(execMarker) && string(rest[:len(execMarker)]) == execMarker {
		rest = rest[len(execMarker):]
	}
	if len(rest) == 0 {
		if werr != nil {
			return fmt.Errorf("release %s: stage died before release: %w", name, werr)
		}
		return fmt.Errorf("release %s: stage died before exec without a report", name)
	}
	var se StageError
	if err := json.Unmarshal(rest, &se); err != nil {
		return fmt.Errorf("release %s: stage: %s", name, string(rest))
	}
	// Bare: the message is the contract's ("mount lxc.mount.entry ...
	// (FILE:LINE): ..."), and callers prefix "start NAME" themselves.
	return &se
}

// Abort kills a stage that was not released (the caller's reaper collects
// it). After Release it does nothing: the process is then the init (or a
// stage that exits on its own), and the caller stops the container through
// its cgroup, never by a PID it may already have reaped.
func (s *Stage) Abort() {
	if s.done {
		return
	}
	s.done = true
	if s.pid > 0 {
		_ = unix.Kill(s.pid, unix.SIGKILL)
	}
	s.ctl.Close()
	s.report.Close()
}

func closeAll(fs ...*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// rootfsSource is the prepared rootfs, or the config's directory: other
// storage needs the host side (storage.Prepare) first.
func rootfsSource(cfg *config.Config, prepared *storage.Source) (storage.Source, error) {
	if prepared != nil {
		return *prepared, nil
	}
	r := cfg.Rootfs
	switch r.Storage {
	case config.StorageDir, config.StorageBtrfs, "":
		return storage.Source{Kind: storage.KindDir, Path: strings.TrimPrefix(r.Path, "dir:"),
			Flags: r.Flags, Propagation: r.Propagation, Target: r.Mount}, nil
	}
	return storage.Source{}, &StageError{Step: "rootfs", Key: "lxc.rootfs.path", Pos: r.Pos,
		Err: "storage " + r.Storage + " was not prepared on the host"}
}

// positions collects where each value the stage may fail on was read.
func positions(cfg *config.Config) map[string]config.Pos {
	w := map[string]config.Pos{
		"rootfs":     cfg.Rootfs.Pos,
		"init":       cfg.Init.Pos,
		"uts":        cfg.UTSPos,
		"mount.auto": cfg.MountAuto.Pos,
		"caps":       cfg.Caps.Pos,
		"namespace":  cfg.Namespace.Pos,
		"console":    cfg.Console.Pos,
		"seccomp":    cfg.Security.SeccompPos,
	}
	for i, m := range cfg.Mounts {
		w["mount."+strconv.Itoa(i)] = m.Pos
	}
	for i, p := range cfg.Prlimits {
		w["prlimit."+strconv.Itoa(i)] = p.Pos
	}
	for i, s := range cfg.Sysctls {
		w["sysctl."+strconv.Itoa(i)] = s.Pos
	}
	for i, h := range cfg.Hooks {
		w["hook."+strconv.Itoa(i)] = h.Pos
	}
	return w
}

// refuseUnsupported fails on what the config asks that the launcher
// cannot apply (config.Refusals, which Load already reported as errors: this
// guards a Config that did not come from Load). A container must never run
// less confined than its config asks.
func refuseUnsupported(cfg *config.Config) error {
	if r := cfg.Refusals(); len(r) > 0 {
		return errors.New(r[0].String())
	}
	if sec := cfg.Security; sec.SeccompProfile != "" && sec.Seccomp == nil {
		return fmt.Errorf("lxc.seccomp.profile %q: not compiled (load the config with config.Load)", sec.SeccompProfile)
	}
	return nil
}

// nsFlags maps lxc.namespace.* names to clone flags.
var nsFlags = map[string]uintptr{
	"cgroup": unix.CLONE_NEWCGROUP,
	"ipc":    unix.CLONE_NEWIPC,
	"mnt":    unix.CLONE_NEWNS,
	"net":    unix.CLONE_NEWNET,
	"pid":    unix.CLONE_NEWPID,
	"uts":    unix.CLONE_NEWUTS,
	"user":   unix.CLONE_NEWUSER,
	"time":   unix.CLONE_NEWTIME,
}

// namespaces returns the clone flags for the stage (without the cgroup
// namespace, which the stage unshares after release) and whether it must
// unshare one. What no kernel allows lxc-shim is refused by the config
// (Refusals); what this kernel lacks is refused here.
func namespaces(cfg *config.Config) (uintptr, bool, error) {
	where := cfg.Namespace.Pos.String()
	cgAvail := fileExists("/proc/self/ns/cgroup")
	var want uintptr
	for _, n := range cfg.Namespace.Names() {
		f, ok := nsFlags[n]
		if !ok {
			return 0, false, fmt.Errorf("%s: unknown namespace %q", where, n)
		}
		want |= f
	}
	if want&unix.CLONE_NEWCGROUP != 0 && !cgAvail {
		if len(cfg.Namespace.Clone) > 0 {
			return 0, false, fmt.Errorf("%s: this kernel has no cgroup namespaces", where)
		}
		// LXC's default set has one only where the kernel does.
		want &^= unix.CLONE_NEWCGROUP
	}
	// lxc.idmap implies the user namespace (config.Refusals refuses a
	// kept one, and one without a map).
	if cfg.Unprivileged() {
		want |= unix.CLONE_NEWUSER
	}
	cgns := want&unix.CLONE_NEWCGROUP != 0
	// The user namespace is added by usernsAttr, with its maps.
	return want &^ (unix.CLONE_NEWCGROUP | unix.CLONE_NEWUSER), cgns, nil
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
