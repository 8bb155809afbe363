package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/asynclog"
	"github.com/lxc-shim/lxc-shim/lxccmd"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// cmdStart starts NAME under a detached lxc-shim and returns once the
// container's init runs (exit 0), or with the shim's error (exit 1). A
// container that already runs is a success. Concurrent starts of one
// container are serialised by RUNDIR/NAME/start.lock, so they give one
// shim.
func cmdStart(e *env, args []string) error {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	restart := fs.String("restart", "", "restart policy: no, on-failure, always (default on-failure)")
	restartMax := fs.String("restart-max", "", "restarts allowed within --restart-window (default 10)")
	restartWindow := fs.String("restart-window", "", "window of --restart-max (default 60s)")
	stopTimeout := fs.String("stop-timeout", "", "default grace period of a stop (default 60s)")
	hookTimeout := fs.String("hook-timeout", "", "time limit of each hook and network script (default 2m)")
	pos, _, err := parseArgs(fs, args)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(pos) != 1 {
		return &exitError{code: 2, err: errors.New("usage: start NAME")}
	}
	name := pos[0]
	// Validate before anything is created: a config error names its
	// file, line and key here, not in the shim's log.
	if err := config.CheckRunDir(e.rundir, name); err != nil {
		return err
	}
	cfg, err := loadConfig(e, name)
	if err != nil {
		return err
	}
	printWarnings(e, cfg.Warnings)
	// LXC may run the same container (lxc-ls shows ours as STOPPED, so
	// habit can start one there too): two inits on one root file system
	// would corrupt it. Asked before anything of ours exists on the host.
	if err := lxccmd.NotRunning(lxccmd.Paths(e.lxcpath), name); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}

	paths := shimctl.PathsFor(e.rundir, name)
	_, serr := os.Stat(paths.Dir)
	madeDir := errors.Is(serr, os.ErrNotExist)
	if err := os.MkdirAll(paths.Dir, 0o700); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	startLock, err := shimctl.StartLockFile(paths.StartLock)
	if err != nil {
		return err
	}
	defer startLock.Close()
	if st, err := shimctl.Inspect(e.rundir, name); err == nil && st.Running() {
		if st.ShimAlive {
			fmt.Fprintf(e.stdout, "%s is already running (pid %d, boot %d)\n", name, st.Pid, st.BootCount)
		} else {
			fmt.Fprintf(e.stdout, "%s is already running without its shim (pid %d); stop it with lxc-initd stop\n", name, st.Pid)
		}
		return nil
	}

	// The host as check sees it (rootfs, links, bridges): the same
	// verdict, every problem at once, before a shim is spawned.
	if errs := shimctl.CheckHost(cfg, e.rundir); len(errs) > 0 {
		return fmt.Errorf("start %s: %w", name, errors.Join(errs...))
	}

	shim, err := shimBinary()
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	shimArgs := []string{"-P", strings.Join(e.lxcpath, ":"), "--rundir", e.rundir, "--logdir", e.logdir, name, "--ready-fd", "3", "--start-lock-fd", "4"}
	for _, f := range []struct{ flag, val string }{
		{"--restart", *restart}, {"--restart-max", *restartMax},
		{"--restart-window", *restartWindow}, {"--stop-timeout", *stopTimeout},
		{"--hook-timeout", *hookTimeout},
	} {
		if f.val != "" {
			shimArgs = append(shimArgs, f.flag, f.val)
		}
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	// The shim's stdio goes to its log; a log that cannot be opened
	// (full or read-only file system) costs the lines, not the start.
	logPath := filepath.Join(e.logdir, name+".log")
	logf, err := asynclog.OpenFile(e.logdir, logPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "warning: %s: %v; the shim's output is lost until it can be written\n", name, err)
		logf = devnull
	} else {
		defer logf.Close()
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	defer r.Close()
	// The shim gets its own session (no terminal, no signals of ours),
	// stdio on its log, and the write end of the ready pipe as fd 3.
	cmd := exec.Command(shim, shimArgs...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	if os.Getenv("GOMAXPROCS") == "" {
		// The shim runs on one P (see its main); read from the
		// environment, that also spares its runtime's start the
		// second P's thread. Hooks and the container never see it:
		// their environments are built from the config.
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	}
	// The start lock goes along (fd 4): the shim holds it until it holds
	// its own lock, so that a start killed before then still reads as a
	// start under way (shimctl.WaitStarting), not as a stopped container.
	cmd.ExtraFiles = []*os.File{w, startLock}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// Only what it is given here: not the descriptors our caller left
	// open (an init script's lock, a pipe), which the shim would hold for
	// the container's life.
	shimctl.CloseOnExecFrom(3)
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start %s: %s: %w", name, shim, err)
	}
	w.Close()
	msg, _ := io.ReadAll(r)
	answer := strings.TrimSpace(string(msg))
	if answer == "ok" {
		shimPid := cmd.Process.Pid
		_ = cmd.Process.Release()
		// The shim wrote state.json (running, the init's pid) before it
		// said ok: read the file rather than ask the shim, which is busy
		// giving the boot's memory back just then.
		st, err := shimctl.ReadState(paths.State)
		if err == nil {
			fmt.Fprintf(e.stdout, "%s started (pid %d, shim %d)\n", name, st.Pid, shimPid)
		} else {
			fmt.Fprintf(e.stdout, "%s started\n", name)
		}
		return nil
	}
	// The shim failed before the init ran and exits: collect it.
	_ = cmd.Wait()
	// A shim that failed before it could write state.json (a full
	// /run) leaves nothing status or cleanup would need: the state
	// directory goes if this start made it.
	if _, err := os.Stat(paths.State); madeDir && errors.Is(err, os.ErrNotExist) && !shimctl.LockHeld(paths.Lock) {
		_ = os.RemoveAll(paths.Dir)
	}
	if answer == "" {
		answer = fmt.Sprintf("lxc-shim exited (%v) without a report; see %s", cmd.ProcessState, logPath)
	}
	if strings.HasPrefix(answer, "start "+name+":") {
		return errors.New(answer)
	}
	return fmt.Errorf("start %s: %s", name, answer)
}

// shimBinary finds lxc-shim: $LXC_SHIM_BIN, next to lxc-initd, or in PATH.
func shimBinary() (string, error) {
	if p := os.Getenv("LXC_SHIM_BIN"); p != "" {
		return p, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "lxc-shim")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	p, err := exec.LookPath("lxc-shim")
	if err != nil {
		return "", errors.New("lxc-shim not found next to lxc-initd nor in PATH")
	}
	return p, nil
}
