package supervise

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/lxc-shim/lxc-shim/shimctl"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/cgroup"
	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/console"
	"github.com/lxc-shim/lxc-shim/container"
	"github.com/lxc-shim/lxc-shim/hook"
	"github.com/lxc-shim/lxc-shim/netcleanup"
	"github.com/lxc-shim/lxc-shim/storage"
)

// ContainerBooter boots the container of one config natively (packages
// container, cgroup, netcleanup) and holds its terminals for the shim's
// life. It implements Booter and Consoles.
type ContainerBooter struct {
	Cfg    *config.Config
	RunDir string
	Paths  shimctl.Paths
	Reaper *Reaper
	Log    *slog.Logger
	// StageLog receives the stage's own output (the shim's log file).
	StageLog *os.File
	// Reload, when set, reads the config again before every boot after
	// the first, as lxc-start does on a reboot: a changed config applies
	// at the next reboot or restart. The terminals (lxc.console.*,
	// lxc.tty.max) stay as the shim allocated them.
	Reload func() (*config.Config, error)
	// HookTimeout limits each hook (0: hook.DefaultTimeout).
	HookTimeout time.Duration

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
	b := &ContainerBooter{Cfg: cfg, RunDir: rundir, Paths: shimctl.PathsFor(rundir, cfg.Name), Reaper: reaper, Log: log, StageLog: stageLog}
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

// A boot is one ordered list of named steps (bootSteps), each of which may
// leave an undo; a failing step runs the undos made so far in reverse, so
// that a failed boot leaves nothing on the host. The hooks, storage,
// seccomp and user namespaces of later work are places in this list, not
// new branches. Teardown of a run that booted is the same in reverse:
// run.KillAll, then run.Teardown (network host side, then cgroup).

// booting is one boot in progress: what the steps made so far.
type booting struct {
	b      *ContainerBooter
	boot   int
	cfg    *config.Config // resolved: the stage's config
	cg     *cgroup.Cgroup
	slaves []*os.File // console first (if any), then ttys
	stage  *container.Stage
	rootfs *storage.Prepared
	r      *run
	undo   []func() // in the order made
	// apparmor is the init's AppArmor label (securityLabels).
	apparmor string
}

// bootStep is one named step of a boot.
type bootStep struct {
	name string
	do   func(*booting) error
}

// bootSteps are the steps of a boot, in order (docs/architecture.md, "A
// boot"). The stage does its own part inside the container (network
// inside, rootfs, mounts, /dev, terminals, capabilities, exec of the
// init) once released.
func bootSteps() []bootStep {
	return []bootStep{
		{"load config", (*booting).loadConfig},
		{"check networks", (*booting).checkNetworks},
		{"resolve networks", (*booting).resolveNetworks},
		{"stale cleanup", (*booting).staleCleanup},
		{"pre-start hooks", (*booting).preStart},
		{"storage", (*booting).prepareStorage},
		{"cgroup", (*booting).createCgroup},
		{"terminals", (*booting).terminals},
		{"security labels", (*booting).securityLabels},
		{"spawn", (*booting).spawn},
		{"join cgroup", (*booting).joinCgroup},
		{"namespaces for stop hooks", (*booting).keepNamespaces},
		{"user namespace", (*booting).userns},
		{"network host side", (*booting).networkHost},
		{"network up scripts", (*booting).netUp},
		{"release", (*booting).release},
	}
}

// Boot runs the steps of a boot; the init runs when it returns a Run.
func (b *ContainerBooter) Boot(boot int) (Run, error) {
	bt := &booting{b: b, boot: boot}
	defer bt.closeSlaves()
	defer func() {
		b.mu.Lock()
		b.stagePid, b.aborted = 0, false
		b.mu.Unlock()
	}()
	for _, st := range bootSteps() {
		if err := st.do(bt); err != nil {
			b.Log.Debug("boot step failed", "boot", boot, "step", st.name, "err", err)
			for i := len(bt.undo) - 1; i >= 0; i-- {
				bt.undo[i]()
			}
			return nil, err
		}
	}
	return bt.r, nil
}

// loadConfig reads the config again before every boot after the first,
// as lxc-start does on a reboot; the terminals stay as the shim made them.
func (bt *booting) loadConfig() error {
	b := bt.b
	if bt.boot > 1 && b.Reload != nil {
		cfg, err := b.Reload()
		if err != nil {
			return fmt.Errorf("reload config: %w", err)
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
	return nil
}

// resolveNetworks settles, on a copy of the config, what both sides of
// the network use (names, MACs, "auto" gateways): the stage receives its
// config at spawn, before the host side runs, and the loaded config stays
// as written for the next reload.
func (bt *booting) resolveNetworks() error {
	cfg := bt.b.Config()
	nets, err := netcleanup.Resolve(cfg.Name, cfg.Net)
	if err != nil {
		return err
	}
	resolved := *cfg
	resolved.Net = nets
	bt.cfg = &resolved
	return nil
}

// checkNetworks refuses what the host side cannot make (a missing link, a
// device in use by someone else).
func (bt *booting) checkNetworks() error {
	return shimctl.CheckNetworks(bt.b.Config(), bt.b.RunDir)
}

// staleCleanup removes what a dead run provably left (hostside.go):
// processes and cgroup first, then network devices.
func (bt *booting) staleCleanup() error {
	cg, left, err := shimctl.RemoveLeftovers(bt.cfg, bt.b.RunDir)
	for _, r := range left.Cgroups {
		bt.b.Log.Info("removed stale cgroup", "cgroup", r)
	}
	for _, r := range left.Loops {
		bt.b.Log.Info("detached stale loop device", "device", r)
	}
	for _, r := range left.Devices {
		bt.b.Log.Info("removed stale network device", "device", r)
	}
	bt.cg = cg
	bt.r = &run{cg: cg, log: bt.b.Log, cfg: bt.cfg, fork: bt.b.Reaper, hookTimeout: bt.b.HookTimeout}
	return err
}

// preStart runs lxc.hook.pre-start on the host, before anything of the
// container exists. From here on the post-stop hooks are due, on a failed
// boot too (LXC's lxc_end runs them after any later failure).
func (bt *booting) preStart() error {
	if err := bt.r.hooks("pre-start", nil, nil); err != nil {
		return err
	}
	bt.r.postStopDue = true
	bt.undo = append(bt.undo, func() {
		if err := bt.r.postStop(TargetStop); err != nil {
			bt.b.Log.Error("after a failed boot", "err", err)
		}
	})
	return nil
}

// prepareStorage checks the rootfs storage and makes its host side (a
// loop device for an image, recorded before it is attached); undone by
// detaching it, which the run's teardown does too once it booted.
func (bt *booting) prepareStorage() error {
	p, err := storage.Prepare(bt.cfg.Name, bt.cfg.Rootfs, bt.b.Paths.Dir, filepath.Join(bt.b.Paths.Dir, "rootfs"))
	if err != nil {
		return err
	}
	bt.rootfs, bt.r.rootfs = p, p
	bt.undo = append(bt.undo, func() {
		if err := p.Release(); err != nil {
			bt.b.Log.Error("cleanup after failed boot", "err", err)
		}
	})
	return nil
}

// keepNamespaces holds the container's namespaces open for its stop hooks
// (LXC passes them as /proc/PID/fd/N of its monitor), only when there are
// any: a namespace held open outlives its processes.
func (bt *booting) keepNamespaces() error {
	if len(bt.cfg.HooksOf("stop")) == 0 {
		return nil
	}
	nss, err := openNamespaces(bt.stage.Pid(), nil, "user", "mnt", "pid", "uts", "ipc", "net")
	bt.r.nss = nss
	return err
}

// netUp runs lxc.net.N.script.up once the host side of every network is
// made (LXC runs each as it makes its device, before the pre-mount hook).
func (bt *booting) netUp() error {
	if errs := runNetScripts(bt.b.Reaper, bt.cfg, true, bt.r.hookSpec()); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// createCgroup makes the container's cgroups with their limits and device
// rules, before anything runs in them. Its undo is the run's teardown,
// which also covers what later steps add (the network host side): kill
// what runs in the cgroup, remove the devices and the cgroup, each only if
// provably the run's.
func (bt *booting) createCgroup() error {
	bt.undo = append(bt.undo, func() {
		if err := errors.Join(bt.r.KillAll(), bt.r.Teardown(TargetStop)); err != nil {
			bt.b.Log.Error("cleanup after failed boot", "err", err)
		}
	})
	return bt.cg.Create()
}

// terminals opens a fresh slave of each pty for this boot.
func (bt *booting) terminals() error {
	slaves, err := bt.b.slaves()
	bt.slaves = slaves
	return err
}

func (bt *booting) closeSlaves() {
	closeFiles(bt.slaves)
	bt.slaves = nil
}

// spawn clones the stage in its namespaces; it waits for release.
func (bt *booting) spawn() error {
	b := bt.b
	opts := container.SpawnOptions{Fork: b.Reaper, LogFile: b.StageLog, HookTimeout: b.HookTimeout,
		AppArmorLabel: bt.apparmor, Rootfs: &bt.rootfs.Source, ExeScratch: b.Paths.Dir}
	slaves := bt.slaves
	if b.console != nil {
		opts.Console, slaves = slaves[0], slaves[1:]
	}
	opts.TTYs = slaves
	b.mu.Lock()
	if b.aborted {
		b.aborted = false
		b.mu.Unlock()
		return errors.New("boot aborted")
	}
	b.mu.Unlock()
	stage, err := container.Spawn(bt.cfg, opts)
	// The stage has its own copies of the slaves now.
	bt.closeSlaves()
	if err != nil {
		if errors.Is(err, container.ErrClone) && !transient(err) {
			return &ShimError{Op: "spawn the container's stage", Err: err}
		}
		return err
	}
	bt.stage = stage
	pid := stage.Pid()
	bt.r.pid = pid
	b.mu.Lock()
	b.stagePid = pid
	b.mu.Unlock()
	bt.undo = append(bt.undo, func() {
		// Kills a stage that was not released; a released one that
		// failed exits by itself. Either way the reaper collects it.
		stage.Abort()
		<-b.Reaper.Wait(pid)
	})
	return nil
}

// joinCgroup moves the stage (the future init) into its cgroups.
func (bt *booting) joinCgroup() error {
	return bt.cg.Add(bt.stage.Pid())
}

// userns gives an unprivileged container's cgroup to its root (the host
// ids lxc.idmap maps container root to), as LXC does, so its init can
// manage the subtree, and records the map for the status; a privileged
// container's cgroup stays root's. The maps themselves were written at
// spawn.
func (bt *booting) userns() error {
	if !bt.cfg.Unprivileged() {
		return nil
	}
	for _, m := range bt.cfg.Security.IDMap {
		bt.r.idmap = append(bt.r.idmap, fmt.Sprintf("%c %d %d %d", m.Kind, m.Container, m.Host, m.Count))
	}
	uid, _ := bt.cfg.HostID('u', 0)
	gid, _ := bt.cfg.HostID('g', 0)
	return bt.cg.Chown(int(uid), int(gid))
}

// networkHost makes the host side of the networks and moves the
// container's ends into its network namespace.
func (bt *booting) networkHost() error {
	host, err := netcleanup.Setup(bt.cfg.Name, bt.cfg.Net, bt.stage.Pid(), bt.b.Paths.Dir)
	bt.r.host = host
	return err
}

// release lets the stage build the container and exec the init; the
// start-host hooks run while it waits after the container's start hooks,
// as in LXC. The cgroup namespace, which the stage makes after release,
// joins those held for the stop hooks.
func (bt *booting) release() error {
	keepCgroupNS := func() {
		if bt.r.nss == nil {
			return
		}
		nss, err := openNamespaces(bt.stage.Pid(), bt.r.nss, "cgroup")
		if err != nil {
			bt.b.Log.Warn("cgroup namespace for lxc.hook.stop", "err", err)
			return
		}
		bt.r.nss = nss
	}
	err := bt.stage.ReleaseWith(func() error {
		keepCgroupNS()
		return bt.r.hooks("start-host", nil, nil)
	})
	if err != nil {
		return err
	}
	keepCgroupNS()
	// The init runs: the rootfs is mounted in its namespace, which now
	// holds a loop device alone.
	bt.rootfs.Handoff()
	return nil
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
func (b *ContainerBooter) ServeConsole(conn net.Conn, req shimctl.Request) error {
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
func (b *ContainerBooter) Resize(req shimctl.Request) error {
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
	pid int
	cg  *cgroup.Cgroup
	// mu guards host, the cgroup's device rules and what device add
	// handed in: the control socket reads and changes them while the
	// event loop may tear them down.
	mu      sync.Mutex
	host    *netcleanup.Host
	nodes   []handedNode
	netdevs []*netcleanup.Handed
	log     *slog.Logger
	idmap   []string // lxc.idmap of an unprivileged boot
	// cfg is the boot's (resolved) config, for its hooks; fork runs them.
	cfg         *config.Config
	fork        hook.Forker
	hookTimeout time.Duration
	// postStopDue: the pre-start hooks ran, the post-stop hooks have not.
	postStopDue bool
	// nss are the container's namespaces held for the stop hooks.
	nss []nsFile
	// unloadLSM unloads the run's generated AppArmor profile (nil: none).
	unloadLSM func() error
	// rootfs is the run's storage (a loop device it attached).
	rootfs *storage.Prepared
}

// Teardown targets: LXC_TARGET of the stop and post-stop hooks.
const (
	TargetStop   = "stop"
	TargetReboot = "reboot"
)

func (r *run) hookSpec() hook.Spec {
	return hook.Spec{Timeout: r.hookTimeout, Log: r.log, Env: append(hook.Env(r.cfg), r.pidEnv()...)}
}

// hooks runs the config's hooks of one type on the host.
func (r *run) hooks(typ string, env, args []string) error {
	if r.cfg == nil {
		return nil
	}
	return hook.RunAll(r.fork, r.cfg, typ, append(r.pidEnv(), env...), args, r.hookTimeout, r.log)
}

// pidEnv is LXC_PID, the init's host PID, which LXC sets once the
// container's first process exists.
func (r *run) pidEnv() []string {
	if r.pid <= 0 {
		return nil
	}
	return []string{"LXC_PID=" + strconv.Itoa(r.pid)}
}

// ErrPostStopFailed is wrapped by Run.Teardown's error when a post-stop
// hook failed: LXC then stops the container instead of rebooting it.
var ErrPostStopFailed = errors.New("lxc.hook.post-stop failed")

// postStop runs the post-stop hooks if they are due.
func (r *run) postStop(target string) error {
	if !r.postStopDue {
		return nil
	}
	r.postStopDue = false
	if err := r.hooks("post-stop", []string{"LXC_TARGET=" + target}, nil); err != nil {
		return fmt.Errorf("%w: %w", ErrPostStopFailed, err)
	}
	return nil
}

// Freeze implements Live.
func (r *run) Freeze() error { return r.cg.Freeze() }

// Thaw implements Live.
func (r *run) Thaw() error { return r.cg.Thaw() }

// Cgroup implements Live.
func (r *run) Cgroup(key, value string) (string, string, []string, error) {
	if value == "" {
		v, file, err := r.cg.Get(key)
		return v, r.cg.ConfigKey(key), []string{file}, err
	}
	ckey, files, err := r.cg.Set(key, value)
	return "", ckey, files, err
}

// Usage implements Live.
func (r *run) Usage(info *shimctl.Info) error {
	st := r.cg.Stats()
	info.MemoryBytes, info.MemoryLimitBytes, info.SwapBytes = st.Memory, st.MemoryLimit, st.Swap
	info.CPUNanoseconds, info.BlkIOBytes, info.Pids = st.CPU, st.BlkIO, st.Pids
	info.CgroupFiles = st.Files
	r.mu.Lock()
	defer r.mu.Unlock()
	ips, err := r.host.Addresses()
	if err != nil {
		return err
	}
	info.IPs = ips
	traffic, err := r.host.Traffic()
	if err != nil {
		return err
	}
	for _, t := range traffic {
		info.Net = append(info.Net, shimctl.NetUse{Name: t.Name, Host: t.Host, Link: t.Link, RxBytes: t.RxBytes, TxBytes: t.TxBytes})
	}
	return nil
}

func (r *run) Pid() int { return r.pid }

// idMapped is a Run in a user namespace of its own; IDMap is its map.
type idMapped interface{ IDMap() []string }

func (r *run) IDMap() []string { return r.idmap }

func (r *run) KillAll() error {
	if !r.cg.Exists() {
		return nil
	}
	return r.cg.Kill()
}

// Teardown removes the run from the host in LXC's order: network down
// scripts, the network's host side, the stop hooks (with the container's
// namespaces), the cgroup, then the post-stop hooks. A hook's failure is
// logged, not returned, but for a post-stop hook's (ErrPostStopFailed),
// which cancels a reboot. target is LXC_TARGET.
func (r *run) Teardown(target string) error {
	var errs []error
	r.mu.Lock()
	// Handed interfaces go home first, under their host names; handed
	// nodes and rules go with the container's /dev and cgroup.
	if err := r.returnNetdevs(); err != nil {
		errs = append(errs, err)
	}
	r.nodes = nil
	if r.host != nil {
		if r.cfg != nil {
			for _, err := range runNetScripts(r.fork, r.cfg, false, r.hookSpec()) {
				r.log.Error("network down script failed", "err", err)
			}
		}
		if err := r.host.Teardown(); err != nil {
			errs = append(errs, err)
		}
		r.host = nil
	}
	if r.cfg != nil && len(r.cfg.HooksOf("stop")) > 0 {
		env, args := stopHookArgs(r.cfg.HookVersion, r.nss)
		if err := r.hooks("stop", append(env, "LXC_TARGET="+target), args); err != nil {
			r.log.Error("stop hook failed", "err", err)
		}
	}
	closeNamespaces(r.nss)
	r.nss = nil
	// Still locked: a device request must not rebuild the device filter
	// of a cgroup being removed.
	if r.cg.Exists() {
		if err := r.cg.Remove(); err != nil {
			errs = append(errs, err)
		}
	}
	r.mu.Unlock()
	// The container's mount namespace, and with it the mount of a loop
	// device, went with its processes: the device can go.
	if err := r.rootfs.Release(); err != nil {
		errs = append(errs, err)
	}
	if err := r.postStop(target); err != nil {
		errs = append(errs, err)
	}
	// Last, as LXC's apparmor_cleanup: nothing runs under the profile now.
	if r.unloadLSM != nil {
		if err := r.unloadLSM(); err != nil {
			errs = append(errs, err)
		}
		r.unloadLSM = nil
	}
	return errors.Join(errs...)
}

// rerecord writes the run's ownership records again (RunDir, after the
// state directory was removed under it). The shim calls it with its lock
// held, so never during the run's Teardown.
func (r *run) rerecord() error {
	return errors.Join(r.cg.Rerecord(), r.host.Rerecord(), r.rootfs.Loop().Rerecord())
}
