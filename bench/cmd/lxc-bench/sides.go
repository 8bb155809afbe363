package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/distro"
)

// side is one of the two systems under test, driven only through its own
// command line, the way an init script would.
type side interface {
	label() string  // "lxc-shim" or "LXC"
	prefix() string // container name prefix, "bzs" or "bzl"
	path() string   // lxcpath
	start(ctx context.Context, name string) error
	stop(ctx context.Context, name string) error
	// kill stops a container at once, without the halt signal
	// (`lxc-initd stop --kill`, `lxc-stop -k`).
	kill(ctx context.Context, name string) error
	// shutdownAll stops every running container of this side the way a
	// host shutdown does.
	shutdownAll(ctx context.Context) error
	// cgroupDir is where the container's processes live in the pids
	// hierarchy (a documented naming convention on both sides).
	cgroupDir(name string) string
	// statusPid is the init's host pid as the side's own status command
	// reports it (0 when it says none).
	statusPid(ctx context.Context, name string) (int, error)
	// forceStop kills the container and removes what it left; for
	// cleanup, errors are only logged.
	forceStop(name string)
	// attach returns the command running argv inside the container
	// through the side's own attach command.
	attach(ctx context.Context, name string, argv []string) *exec.Cmd
	// distroLines are the config lines the side needs for a distro
	// container beyond distro.Config.
	distroLines(init distro.Init) string
}

// run executes a command and returns an error carrying its output.
func run(ctx context.Context, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = env
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// Never let a command's children inherit our stdin.
	cmd.Stdin = nil
	err := cmd.Run()
	if err != nil {
		// Name the command without its path arguments (temporary
		// directories), so the report's cells say what failed and why.
		short := []string{filepath.Base(name)}
		for i := 0; i < len(args); i++ {
			if strings.HasPrefix(args[i], "-") && i+1 < len(args) && strings.Contains(args[i+1], "/") {
				i++
				continue
			}
			if !strings.Contains(args[i], "/") {
				short = append(short, args[i])
			}
		}
		return out.Bytes(), fmt.Errorf("%s: %w: %s", strings.Join(short, " "), err, strings.TrimSpace(out.String()))
	}
	return out.Bytes(), nil
}

// lxcSide is LXC 5 from Debian's lxc package.
type lxcSide struct{ lxcpath string }

func (s *lxcSide) label() string  { return "LXC" }
func (s *lxcSide) prefix() string { return "bzl" }
func (s *lxcSide) path() string   { return s.lxcpath }

func (s *lxcSide) start(ctx context.Context, name string) error {
	_, err := run(ctx, nil, "lxc-start", "-P", s.lxcpath, "-n", name, "-d")
	return err
}

func (s *lxcSide) stop(ctx context.Context, name string) error {
	_, err := run(ctx, nil, "lxc-stop", "-P", s.lxcpath, "-n", name)
	return err
}

func (s *lxcSide) kill(ctx context.Context, name string) error {
	_, err := run(ctx, nil, "lxc-stop", "-P", s.lxcpath, "-n", name, "-k")
	return err
}

func (s *lxcSide) shutdownAll(ctx context.Context) error {
	_, err := run(ctx, nil, "lxc-autostart", "-P", s.lxcpath, "-a", "-s")
	return err
}

func (s *lxcSide) cgroupDir(name string) string {
	return filepath.Join("/sys/fs/cgroup/pids", "lxc.payload."+name)
}

func (s *lxcSide) statusPid(ctx context.Context, name string) (int, error) {
	out, err := run(ctx, nil, "lxc-info", "-P", s.lxcpath, "-n", name, "-pH")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return 0, nil
	}
	return strconv.Atoi(f[0])
}

func (s *lxcSide) forceStop(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, _ := run(ctx, nil, "lxc-info", "-P", s.lxcpath, "-n", name, "-sH")
	if strings.TrimSpace(string(out)) == "STOPPED" {
		return
	}
	if _, err := run(ctx, nil, "lxc-stop", "-P", s.lxcpath, "-n", name, "-k"); err != nil {
		logf("cleanup %s: %v", name, err)
	}
}

// shimSide is this repository's lxc-initd and lxc-shim.
type shimSide struct {
	initd                   string
	lxcpath, rundir, logdir string
	env                     []string
}

func (s *shimSide) label() string  { return "lxc-shim" }
func (s *shimSide) prefix() string { return "bzs" }
func (s *shimSide) path() string   { return s.lxcpath }

func (s *shimSide) initdArgs(args ...string) []string {
	return append([]string{"-P", s.lxcpath, "--rundir", s.rundir, "--logdir", s.logdir}, args...)
}

func (s *shimSide) start(ctx context.Context, name string) error {
	_, err := run(ctx, s.env, s.initd, s.initdArgs("start", name)...)
	return err
}

func (s *shimSide) stop(ctx context.Context, name string) error {
	_, err := run(ctx, s.env, s.initd, s.initdArgs("stop", name)...)
	return err
}

func (s *shimSide) kill(ctx context.Context, name string) error {
	_, err := run(ctx, s.env, s.initd, s.initdArgs("stop", name, "--kill")...)
	return err
}

func (s *shimSide) shutdownAll(ctx context.Context) error {
	_, err := run(ctx, s.env, s.initd, s.initdArgs("shutdown")...)
	return err
}

func (s *shimSide) cgroupDir(name string) string {
	return filepath.Join("/sys/fs/cgroup/pids", "lxc-shim", name)
}

// statusPid reads `lxc-initd status NAME --json` and takes the first
// integer field whose key names an init pid.
func (s *shimSide) statusPid(ctx context.Context, name string) (int, error) {
	out, err := run(ctx, s.env, s.initd, s.initdArgs("status", name, "--json")...)
	if err != nil && len(out) == 0 {
		return 0, err
	}
	var m map[string]any
	if jerr := json.Unmarshal(out, &m); jerr != nil {
		return 0, fmt.Errorf("status %s --json: %w: %s", name, jerr, out)
	}
	for _, k := range []string{"init_pid", "pid", "InitPid", "Pid"} {
		if v, ok := m[k].(float64); ok {
			return int(v), nil
		}
	}
	return 0, fmt.Errorf("status %s --json: no init pid in %s", name, out)
}

func (s *shimSide) forceStop(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := run(ctx, s.env, s.initd, s.initdArgs("stop", name, "-t", "1", "--kill")...); err != nil {
		logf("cleanup %s: %v", name, err)
	}
	if _, err := run(ctx, s.env, s.initd, s.initdArgs("cleanup", name)...); err != nil {
		logf("cleanup %s: %v", name, err)
	}
}

// findInit returns the running init of a container: from the side's
// cgroup when it holds one, else from the side's own status command.
func findInit(ctx context.Context, s side, name string) (int, error) {
	if p := initIn(s.cgroupDir(name), 0); p != 0 {
		return p, nil
	}
	p, err := s.statusPid(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("%s %s: no init in %s and status failed: %w", s.label(), name, s.cgroupDir(name), err)
	}
	if p == 0 || !isInit(p) {
		return 0, fmt.Errorf("%s %s: status says init pid %d, which is not a running init (comm %q)", s.label(), name, p, comm(p))
	}
	return p, nil
}

func logf(format string, args ...any) {
	slog.Warn(fmt.Sprintf(format, args...))
}
