package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/lxc-shim/lxc-shim/cgroup"
	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/console"
	"github.com/lxc-shim/lxc-shim/container"
	"github.com/lxc-shim/lxc-shim/nsenter"
	"github.com/lxc-shim/lxc-shim/sealedexe"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// How `lxc-initd attach NAME [-- CMD ARGS...]` works:
//
//  1. Here, on the host: mark every inherited descriptor above 2
//     close-on-exec (none of the caller's may reach the container); find
//     the init (state.json, checked against /proc), the container's config
//     (lxc.environment, lxc.no_new_privs, lxc.keyring.session), the init's
//     capability bounding set and cgroups; open the init's cgroup.procs
//     files; set up the command's stdio (below); make a sealed copy of
//     this binary (package sealedexe).
//  2. Execute that copy with the nsenter variables set. Its C constructor
//     (package nsenter), before the Go runtime starts threads, makes itself
//     non-dumpable, closes every descriptor the protocol does not need,
//     joins the cgroups and namespaces and forks: the parent waits and
//     passes on the exit status, the child (with a new session keyring
//     unless lxc.keyring.session = 0) continues into Go. Nothing in the
//     container can reach the host's lxc-initd through /proc/PID/exe: it
//     is the copy, which no one can write.
//  3. The child, inside the container, comes back to cmdAttach
//     (nsenter.Entered) and runs attachInside, which hands the spec to
//     container.ExecAttached: a new session (so no terminal of the host's
//     is its controlling terminal), the pty as controlling terminal when
//     there is one, cwd /, capabilities (the init's code), then exec of
//     the command.
//
// This file keeps the host-side orchestration; the cgroup.procs files come
// from cgroup.OpenProcs, the pty from console.ContainerPty, the exec
// inside from container.ExecAttached.
//
// Stdio: a container process must never hold a terminal of the host's,
// from which it could type into the admin's shell (ioctl TIOCSTI). When
// stdin and stdout are both terminals, the command gets a pty of the
// container's own devpts that this process proxies (as lxc-attach and
// docker exec -t); else each of stdin, stdout and stderr that is a
// terminal is replaced by a pipe this process copies through (as docker
// exec without -t), and the others are passed as they are.
//
// Setup errors of steps 2 and 3 come back on a pipe, so they are told apart
// from the command's own exit status.

// envAttachSpec carries container.AttachSpec (JSON) to the child.
const envAttachSpec = "_LXC_SHIM_ATTACH_SPEC"

// cmdAttach runs a command (default: the container's shell for root,
// /bin/sh) inside a running container and exits with its status.
func cmdAttach(e *env, args []string) error {
	if nsenter.Entered() {
		attachInside() // never returns
	}
	// What the caller left open (a shell's `exec 40</etc`) must not pass
	// into the child: it would be in the container's PID namespace, its
	// descriptors readable through /proc/PID/fd. Go's own descriptors are
	// close-on-exec already. (The constructor closes them again.)
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("attach: close inherited descriptors: %w", err)
	}
	fs := flag.NewFlagSet("attach", flag.ContinueOnError)
	pos, argv, err := parseArgs(fs, args)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(pos) != 1 {
		return &exitError{code: 2, err: errors.New("usage: attach NAME [-- CMD ARGS...]")}
	}
	name := pos[0]
	if !nsenter.Available {
		return errors.New("this lxc-initd was built without cgo: attach needs it (build with CGO_ENABLED=1)")
	}
	pid, pidfd, err := runningInit(e.rundir, name)
	if err != nil {
		return err
	}
	defer pidfd.Close()
	cfgPath, err := config.Find(name, e.lxcpath)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	cfg, err := config.Load(cfgPath, name)
	if err != nil {
		return err
	}
	// The filter comes from the host's config, compiled here, never from
	// the container.
	spec := container.AttachSpec{Argv: argv, NoNewPrivs: cfg.Security.NoNewPrivs,
		Seccomp: cfg.Security.Seccomp, SeccompAllowNesting: cfg.Security.SeccompAllowNesting}
	if spec.CapBnd, err = container.BoundingSet(pid); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if spec.AppArmor, spec.SELinux, err = container.InitLabels(pid); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}

	usePty := term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd()))
	spec.Env = container.AttachEnv(cfg.Environment, usePty)

	cgFiles, err := cgroup.OpenProcs(pid)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer func() { closeAll(cgFiles) }()

	var stdio attachIO
	if usePty {
		err = stdio.openPty(pid)
		spec.Setctty = true
		if err == nil && cfg.Unprivileged() {
			// We opened it as host root, nobody in the container's user
			// namespace: give it to the container's root, as LXC's
			// lxc_terminal_map_ids does, so ttyname and a reopen work.
			uid, _ := cfg.HostID('u', 0)
			if err = unix.Fchown(int(stdio.child[0].Fd()), int(uid), -1); err != nil {
				err = fmt.Errorf("chown the pty to the container's root: %w", err)
			}
		}
	} else {
		err = stdio.openPipes([3]*os.File{os.Stdin, os.Stdout, os.Stderr})
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer stdio.close()
	// Everything above looked the init up by its PID number (its bounding
	// set, its cgroup files, its devpts). The pidfd was opened before the
	// first look; if its process is still alive now, the number cannot
	// have been reused in between, so every look was at the init.
	if err := unix.PidfdSendSignal(int(pidfd.Fd()), 0, nil, 0); err != nil {
		return fmt.Errorf("container %s: the init (pid %d) ended while attach was being prepared: %w", name, pid, err)
	}

	exe, err := sealedexe.Self("lxc-initd")
	if err != nil {
		return fmt.Errorf("%s: attach: %w", name, err)
	}
	defer exe.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer errR.Close()
	specJSON, err := json.Marshal(spec)
	if err != nil {
		errW.Close()
		return err
	}
	// Descriptors of the child: 3 the error pipe, 4 the init's pidfd (the
	// constructor joins the namespaces through it, so they are the init's
	// even if its PID number is reused meanwhile), then the cgroup.procs
	// files, then the sealed copy it runs from (which the constructor
	// closes first thing).
	extra := append(append([]*os.File{errW, pidfd}, cgFiles...), exe)
	cmd := exec.Command(sealedexe.ChildPath(2 + len(extra)))
	cmd.Args = []string{"lxc-initd", "attach"}
	cmd.ExtraFiles = extra
	fds := make([]string, len(cgFiles))
	for i := range cgFiles {
		fds[i] = strconv.Itoa(5 + i)
	}
	cmd.Env = []string{
		nsenter.EnvPid + "=" + strconv.Itoa(pid),
		nsenter.EnvErrFd + "=3",
		nsenter.EnvPidfd + "=4",
		nsenter.EnvCgroupFds + "=" + strings.Join(fds, ","),
		envAttachSpec + "=" + string(specJSON),
	}
	if !cfg.Security.NoKeyringSession {
		cmd.Env = append(cmd.Env, nsenter.EnvKeyring+"=new")
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.child[0], stdio.child[1], stdio.child[2]

	// Signals for us go to the command (through the waiter, which passes
	// on only what was sent to it alone). The command is in a session of
	// its own: a terminal's Ctrl-c reaches it only this way, or as a byte
	// through its pty.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)

	err = cmd.Start()
	errW.Close()
	exe.Close()
	pidfd.Close()
	closeAll(cgFiles)
	cgFiles = nil
	if err != nil {
		return fmt.Errorf("%s: attach: %w", name, err)
	}
	stdio.started()
	errText := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(errR)
		errText <- strings.TrimSpace(string(b))
	}()
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()

	waitErr := cmd.Wait()
	stdio.finish()
	code := 0
	if waitErr != nil {
		var ee *exec.ExitError
		if !errors.As(waitErr, &ee) {
			return fmt.Errorf("%s: attach: %w", name, waitErr)
		}
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	}
	if msg := <-errText; msg != "" {
		if code == 0 {
			code = 1
		}
		return &exitError{code: code, err: fmt.Errorf("%s: %s", name, msg)}
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// drainAfterExit is how long the output of a command that exited is still
// copied: what it printed last arrives, but a background process of the
// container that keeps the terminal or pipe open does not hold attach.
const drainAfterExit = 300 * time.Millisecond

// attachIO is the attached command's stdin, stdout and stderr and the
// copying between them and the caller's.
type attachIO struct {
	child  [3]*os.File // what the command gets as 0, 1, 2
	theirs []*os.File  // the command's ends we created, closed once it runs
	master *os.File    // the pty's master, when there is one
	pipes  []pipeCopy  // our ends of the pipes that stand for terminals
	drains []chan struct{}
}

// pipeCopy is one pipe that stands for one of the caller's terminals.
type pipeCopy struct {
	ours   *os.File // our end
	caller *os.File // the caller's terminal
	stdin  bool     // ours is the write end of the command's stdin
}

// openPty gives the command a pty of the container's devpts (see
// console.ContainerPty) with the caller's window size.
func (a *attachIO) openPty(initPid int) error {
	master, slave, err := console.ContainerPty(initPid)
	if err != nil {
		return err
	}
	a.master = master
	a.child = [3]*os.File{slave, slave, slave}
	a.theirs = []*os.File{slave}
	if rows, cols, err := console.Size(os.Stdout); err == nil && rows > 0 && cols > 0 {
		_ = console.SetSize(master, rows, cols)
	}
	return nil
}

// openPipes passes the caller's stdio (std) as it is only when it is a
// pipe, a socket or /dev/null; anything else is replaced by a pipe that
// lxc-initd copies through. A terminal would let the container type into
// the admin's (TIOCSTI); a file or directory descriptor would let it
// reopen the host file through /proc/self/fd, or walk the host from a
// directory with fchdir (the CVE-2024-21626 pattern).
func (a *attachIO) openPipes(std [3]*os.File) error {
	for i, f := range std {
		a.child[i] = f
		if passThrough(f) {
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			a.close()
			return err
		}
		if i == 0 {
			a.child[i], a.theirs = r, append(a.theirs, r)
			a.pipes = append(a.pipes, pipeCopy{ours: w, caller: f, stdin: true})
		} else {
			a.child[i], a.theirs = w, append(a.theirs, w)
			a.pipes = append(a.pipes, pipeCopy{ours: r, caller: f})
		}
	}
	return nil
}

// passThrough says whether f may be handed to the container as it is.
func passThrough(f *os.File) bool {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO, unix.S_IFSOCK:
		return true
	case unix.S_IFCHR:
		return unix.Major(uint64(st.Rdev)) == 1 && unix.Minor(uint64(st.Rdev)) == 3 // /dev/null
	}
	return false
}

// started closes the command's ends we created and starts copying.
func (a *attachIO) started() {
	closeAll(a.theirs)
	a.theirs = nil
	if a.master != nil {
		proxied := make(chan struct{})
		go func() {
			_ = console.Attach(a.master, os.Stdin, os.Stdout, 0, func(r, c int) error {
				return console.SetSize(a.master, r, c)
			})
			close(proxied)
		}()
		a.drains = append(a.drains, proxied)
	}
	for _, p := range a.pipes {
		if p.stdin {
			// Not waited for: a read of the terminal may block until the
			// user types; EOF (Ctrl-d) closes the command's stdin.
			go func() {
				_, _ = copyOut(p.ours, p.caller)
				p.ours.Close()
			}()
			continue
		}
		done := make(chan struct{})
		go func() {
			_, _ = copyOut(p.caller, p.ours)
			close(done)
		}()
		a.drains = append(a.drains, done)
	}
}

// finish, once the command exited, takes what it printed last, but does
// not wait for a background process of the container that still holds
// the terminal or pipe.
func (a *attachIO) finish() {
	deadline := time.Now().Add(drainAfterExit)
	if a.master != nil {
		_ = a.master.SetReadDeadline(deadline)
	}
	for _, p := range a.pipes {
		if !p.stdin {
			_ = p.ours.SetReadDeadline(deadline)
		}
	}
	for _, d := range a.drains {
		<-d
	}
}

func (a *attachIO) close() {
	closeAll(a.theirs)
	if a.master != nil {
		a.master.Close()
	}
	for _, p := range a.pipes {
		p.ours.Close()
	}
}

// copyOut copies src to dst with plain reads, so that a read deadline on
// src ends it (io.Copy may splice, which no deadline interrupts).
func copyOut(dst io.Writer, src *os.File) (int64, error) {
	var n int64
	buf := make([]byte, 32*1024)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			w, werr := dst.Write(buf[:k])
			n += int64(w)
			if werr != nil {
				return n, werr
			}
		}
		if err != nil {
			return n, err
		}
	}
}

// runningInit returns the host PID of the container's init and a pidfd of
// it: the pidfd is opened first and the process it names is then checked
// to be the one state.json recorded, so the pidfd is the init's.
func runningInit(rundir, name string) (int, *os.File, error) {
	st, err := shimctl.Inspect(rundir, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil, fmt.Errorf("container %s is not running", name)
		}
		return 0, nil, err
	}
	if !st.Running() || st.Pid <= 0 {
		return 0, nil, fmt.Errorf("container %s is not running (state %s)", name, st.State)
	}
	fd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("container %s is not running (pid %d: %w)", name, st.Pid, err)
	}
	pidfd := os.NewFile(uintptr(fd), "pidfd")
	if !shimctl.SameProcess(st.Pid, st.PidStart) {
		pidfd.Close()
		return 0, nil, fmt.Errorf("container %s is not running (state %s)", name, st.State)
	}
	return st.Pid, pidfd, nil
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// attachInside runs in the child the nsenter constructor left inside the
// container: it never returns. A failure is written to the error pipe and
// ends the process with 126 (or 127 for a command not found), as a shell
// would report it.
func attachInside() {
	errOut := os.Stderr
	if n, err := strconv.Atoi(os.Getenv(nsenter.EnvErrFd)); err == nil {
		errOut = os.NewFile(uintptr(n), "attach-errors")
	}
	var spec container.AttachSpec
	if err := json.Unmarshal([]byte(os.Getenv(envAttachSpec)), &spec); err != nil {
		fmt.Fprintf(errOut, "bad attach spec: %v", err)
		os.Exit(container.ExitCannotExec)
	}
	code, err := container.ExecAttached(spec)
	fmt.Fprint(errOut, err)
	os.Exit(code)
}
