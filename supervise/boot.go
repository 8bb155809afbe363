package supervise

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/cgroup"
	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/console"
	"github.com/lxc-shim/lxc-shim/container"
	"github.com/lxc-shim/lxc-shim/netcleanup"
)

// ContainerBooter boots the container of one config natively (packages
// container, cgroup, netcleanup) and holds its terminals for the shim's
// life. It implements Booter and Consoles.
type ContainerBooter struct {
	Cfg    *config.Config
	RunDir string
	Paths  Paths
	Reaper *Reaper
	Log    *slog.Logger
	// StageLog receives the stage's own output (the shim's log file).
	StageLog *os.File
	// Reload, when set, reads the config again before every boot after
	// the first, as lxc-start does on a reboot: a changed config applies
	// at the next reboot or restart. The terminals (lxc.console.*,
	// lxc.tty.max) stay as the shim allocated them.
	Reload func() (*config.Config, error)

	mu sync.Mutex
	// stagePid is the stage of the boot in progress (0: none); aborted
	// says a stop asked to abandon that boot.
	stagePid int
	aborted  bool
	console  *terminal   // /dev/console; nil with lxc.console.path = none
	ttys     []*terminal // /dev/tty1..N
}

// terminal is one pty, the Mux on its master. The master (so the console
// log, the ring and an attached client) lives as long as the shim; every
// boot gets a fresh slave descriptor from the Mux.
type terminal struct {
	mux *console.Mux
}

// NewBooter allocates the container's terminals. Close releases them.
func NewBooter(cfg *config.Config, rundir string, reaper *Reaper, log *slog.Logger, stageLog *os.File) (*ContainerBooter, error) {
	b := &ContainerBooter{Cfg: cfg, RunDir: rundir, Paths: PathsFor(rundir, cfg.Name), Reaper: reaper, Log: log, StageLog: stageLog}
	if cfg.Console.Path != "none" {
		t, err := newTerminal(cfg.Name, cfg.Console)
		if err != nil {
			return nil, err
		}
		b.console = t
	}
	for i := 1; i <= cfg.TTY.Max; i++ {
		t, err := newTerminal(cfg.Name, config.Console{})
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("%s: tty%d: %w", cfg.Name, i, err)
		}
		b.ttys = append(b.ttys, t)
	}
	return b, nil
}

func newTerminal(name string, cfg config.Console) (*terminal, error) {
	master, slave, err := console.NewPty()
	if err != nil {
		return nil, fmt.Errorf("%s: console: %w", name, err)
	}
	// The Mux opens its own slave descriptors; this one was only needed
	// to allocate the pair.
	slave.Close()
	mux, err := console.NewMux(name, master, cfg)
	if err != nil {
		return nil, err
	}
	return &terminal{mux: mux}, nil
}

// Close closes the terminals.
func (b *ContainerBooter) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range append([]*terminal{b.console}, b.ttys...) {
		if t != nil {
			t.mux.Close()
		}
	}
	b.console, b.ttys = nil, nil
}

// Boot runs "A boot" of docs/architecture.md: check and clean the host,
// spawn the stage, put it in its cgroup and network, release it.
func (b *ContainerBooter) Boot(boot int) (Run, error) {
	if boot > 1 && b.Reload != nil {
		cfg, err := b.Reload()
		if err != nil {
			return nil, fmt.Errorf("reload config: %w", err)
		}
		oldCon, newCon := b.Config().Console, cfg.Console
		oldCon.Pos, newCon.Pos = config.Pos{}, config.Pos{}
		if cfg.TTY.Max != b.Config().TTY.Max || oldCon != newCon {
			b.Log.Warn("console and tty settings changed; they apply when the shim restarts")
			cfg.TTY.Max = b.Config().TTY.Max
		}
		b.mu.Lock()
		b.Cfg = cfg
		b.mu.Unlock()
	}
	cfg := b.Config()
	name := cfg.Name
	if err := checkNetworks(cfg, b.RunDir); err != nil {
		return nil, err
	}
	// The stage receives its config at Spawn, before Setup runs, so the
	// names, MACs and "auto" gateways both sides use are settled here, on a
	// copy: the loaded config stays as written for the next reload.
	nets, err := netcleanup.Resolve(name, cfg.Net)
	if err != nil {
		return nil, err
	}
	resolved := *cfg
	resolved.Net = nets
	cfg = &resolved
	// What a dead run provably left (hostside.go): processes and cgroup
	// first, then network devices.
	cg, left, err := removeLeftovers(cfg, b.RunDir)
	for _, r := range left.cgroups {
		b.Log.Info("removed stale cgroup", "cgroup", r)
	}
	for _, r := range left.devices {
		b.Log.Info("removed stale network device", "device", r)
	}
	if err != nil {
		return nil, err
	}

	opts := container.SpawnOptions{Fork: b.Reaper, LogFile: b.StageLog}
	slaves, err := b.slaves()
	if err != nil {
		return nil, err
	}
	// The stage has its own copies once Spawn returned.
	defer closeFiles(slaves)
	if b.console != nil {
		opts.Console, slaves = slaves[0], slaves[1:]
	}
	opts.TTYs = slaves
	b.mu.Lock()
	if b.aborted {
		b.aborted = false
		b.mu.Unlock()
		return nil, errors.New("boot aborted")
	}
	b.mu.Unlock()
	stage, err := container.Spawn(cfg, opts)
	if err != nil {
		if errors.Is(err, container.ErrClone) && !transient(err) {
			return nil, &ShimError{Op: "spawn the container's stage", Err: err}
		}
		return nil, err
	}
	pid := stage.Pid()
	b.mu.Lock()
	b.stagePid = pid
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.stagePid, b.aborted = 0, false
		b.mu.Unlock()
	}()
	r := &run{pid: pid, cg: cg, log: b.Log}
	// From here on a failure must undo what was made: the stage, the
	// cgroup, the host's network devices.
	fail := func(err error) (Run, error) {
		stage.Abort()
		<-b.Reaper.Wait(pid)
		if terr := errors.Join(r.KillAll(), r.Teardown()); terr != nil {
			b.Log.Error("cleanup after failed boot", "err", terr)
		}
		return nil, err
	}
	if err := cg.Create(); err != nil {
		return fail(err)
	}
	if err := cg.Add(pid); err != nil {
		return fail(err)
	}
	host, err := netcleanup.Setup(name, cfg.Net, pid, b.Paths.Dir)
	r.host = host
	if err != nil {
		return fail(err)
	}
	if err := stage.Release(); err != nil {
		// The stage exits after reporting; the reaper collects it.
		<-b.Reaper.Wait(pid)
		if terr := errors.Join(r.KillAll(), r.Teardown()); terr != nil {
			b.Log.Error("cleanup after failed boot", "err", terr)
		}
		return nil, err
	}
	return r, nil
}

// slaves returns a fresh slave descriptor of each terminal for one boot:
// the console first (if any), then tty1..N. A failure here is the shim's
// own (its ptys), reported as a *ShimError.
func (b *ContainerBooter) slaves() ([]*os.File, error) {
	b.mu.Lock()
	var terms []*terminal
	var names []string
	if b.console != nil {
		terms, names = append(terms, b.console), append(names, "console")
	}
	for i, t := range b.ttys {
		terms, names = append(terms, t), append(names, fmt.Sprintf("tty%d", i+1))
	}
	b.mu.Unlock()
	var out []*os.File
	for i, t := range terms {
		f, err := t.mux.NewSlave()
		if err != nil {
			closeFiles(out)
			return nil, &ShimError{Op: "prepare the " + names[i] + " for a new boot", Err: err}
		}
		out = append(out, f)
	}
	return out, nil
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// transient says whether a clone failure may go away by itself (the host
// is short of processes or memory for a moment): that one is retried as
// a failed boot, anything else is the shim's own error.
func transient(err error) bool {
	return errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENOMEM)
}

// AbortBoot implements BootAborter: the stage of the boot in progress is
// killed (its Release then fails and Boot cleans up), or the boot stops
// before spawning one.
func (b *ContainerBooter) AbortBoot() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stagePid > 0 {
		_ = unix.Kill(b.stagePid, unix.SIGKILL)
		return
	}
	b.aborted = true
}

// Config is the config of the current (or next) boot.
func (b *ContainerBooter) Config() *config.Config {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Cfg
}

// ServeConsole implements Consoles.
func (b *ContainerBooter) ServeConsole(conn net.Conn, req Request) error {
	t, err := b.terminal(req.TTY)
	if err != nil {
		return err
	}
	sess, err := t.mux.Claim()
	if err != nil {
		return err
	}
	if req.Rows > 0 && req.Cols > 0 {
		_ = t.mux.Resize(int(req.Rows), int(req.Cols))
	}
	if _, err := conn.Write([]byte("{\"ok\":true}\n")); err != nil {
		sess.Release()
		return nil
	}
	if err := sess.Serve(conn); err != nil {
		b.Log.Info("console client ended", "tty", req.TTY, "err", err)
	}
	return nil
}

// Resize implements Consoles.
func (b *ContainerBooter) Resize(req Request) error {
	t, err := b.terminal(req.TTY)
	if err != nil {
		return err
	}
	return t.mux.Resize(int(req.Rows), int(req.Cols))
}

func (b *ContainerBooter) terminal(tty int) (*terminal, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case tty == 0 && b.console != nil:
		return b.console, nil
	case tty == 0:
		return nil, errors.New("the container has no console (lxc.console.path = none)")
	case tty < 0 || tty > len(b.ttys):
		return nil, fmt.Errorf("no tty%d (lxc.tty.max = %d)", tty, len(b.ttys))
	}
	return b.ttys[tty-1], nil
}

// run is one boot's host resources.
type run struct {
	pid  int
	cg   *cgroup.Cgroup
	host *netcleanup.Host
	log  *slog.Logger
}

func (r *run) Pid() int { return r.pid }

func (r *run) KillAll() error {
	if !r.cg.Exists() {
		return nil
	}
	return r.cg.Kill()
}

func (r *run) Teardown() error {
	var errs []error
	if r.host != nil {
		if err := r.host.Teardown(); err != nil {
			errs = append(errs, err)
		}
		r.host = nil
	}
	if r.cg.Exists() {
		if err := r.cg.Remove(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
