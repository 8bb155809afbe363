package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/distro"
)

// The real distributions' cases (issue 18): Debian booting systemd,
// sysvinit or OpenRC (internal/distro), each side booting its own copy of
// the same cached tree with the same plain config, and the marker service
// of the tree telling, through a bind-mounted log, when the boot reached
// it and when the shutdown ran it.

// distroTimeout bounds each wait of a distro case (a boot, a reboot, a
// stop): far above the few seconds they take, so that only a hung
// container fails a round.
const distroTimeout = 3 * time.Minute

// distroSettle is how long a booted distro runs before it is rebooted or
// stopped: the marker starts before the init has finished its boot
// (sysvinit runs more rc scripts after it, systemd more units), and a
// request in the middle of a boot would measure the boot's tail too.
const distroSettle = time.Second

// Measures of one init, keys of results.series.
func distroKey(init distro.Init, what string) string { return "distro-" + string(init) + "-" + what }

const (
	dBoot   = "boot"   // start command to the marker's start
	dReboot = "reboot" // reboot command inside to the marker's next start
	dTurn   = "turn"   // old init's death to the new init's exec
	dStop   = "stop"   // stop command to its exit, marker stopped
)

// distroBox is one side's container of one init.
type distroBox struct {
	s      side
	name   string
	spec   distro.Spec
	marker string // host path of the marker's log
}

// distros runs the distro cases for every init asked for.
func (b *bench) distros(ctx context.Context) error {
	for _, init := range b.o.inits {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		slog.Info("distro", "init", init)
		if err := b.distroInit(ctx, init); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			for _, s := range b.sides {
				b.res.get(distroKey(init, dBoot), s).fail(err)
			}
			b.res.notes = append(b.res.notes, fmt.Sprintf("distro %s: %v", init, err))
		}
	}
	return nil
}

func (b *bench) distroInit(ctx context.Context, init distro.Init) error {
	src, err := distro.Rootfs(init)
	if err != nil {
		return err
	}
	boxes := map[side]*distroBox{}
	for _, s := range b.sides {
		x, err := b.newDistro(s, init, src)
		if err != nil {
			return err
		}
		boxes[s] = x
	}
	b.res.distroRoots[init] = src
	// Round 0 warms up (page cache, the tree's first boot): boot and stop,
	// not reported.
	for r := 0; r <= b.o.distroRounds; r++ {
		for _, s := range b.order(r) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			boot := b.res.get(distroKey(init, dBoot), s)
			if boot.err != nil && !boot.ok() {
				continue // this side cannot boot it; do not insist
			}
			slog.Info("distro round", "init", init, "round", r, "side", s.label())
			if err := b.distroRound(ctx, boxes[s], r > 0); err != nil {
				slog.Warn("distro round failed", "init", init, "side", s.label(), "err", err)
				s.forceStop(boxes[s].name)
			}
		}
	}
	return nil
}

// newDistro makes one side's container of init: a copy of the cached tree,
// a marker directory and the config.
func (b *bench) newDistro(s side, init distro.Init, src string) (*distroBox, error) {
	name := s.prefix() + string(init)
	dir := filepath.Join(s.path(), name)
	rootfs := filepath.Join(dir, "rootfs")
	markerDir := filepath.Join(dir, "marker")
	b.remember(s, name)
	if err := os.MkdirAll(markerDir, 0o755); err != nil {
		return nil, err
	}
	if err := distro.Copy(src, rootfs); err != nil {
		return nil, err
	}
	cfg := distro.Config +
		fmt.Sprintf("lxc.uts.name = %s\nlxc.rootfs.path = dir:%s\n", name, rootfs) +
		distro.MarkerMount(markerDir) + s.distroLines(init)
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	return &distroBox{s: s, name: name, spec: distro.SpecOf(init), marker: filepath.Join(markerDir, "log")}, nil
}

// distroRound boots the container, reboots it from inside and stops it
// from the host, recording each measure when measured.
func (b *bench) distroRound(ctx context.Context, x *distroBox, measured bool) error {
	init, s := x.spec.Init, x.s
	rec := func(what string, d time.Duration) {
		if measured {
			b.res.get(distroKey(init, what), s).addDur(d)
		}
	}
	fail := func(what string, err error) error {
		b.res.get(distroKey(init, what), s).fail(err)
		return err
	}

	// 1. Boot to the marker's start.
	starts := markerCount(x.marker, "start")
	t0 := time.Now()
	if err := s.start(ctx, x.name); err != nil {
		return fail(dBoot, fmt.Errorf("start %s: %w", x.name, err))
	}
	seen, err := markerWait(ctx, x.marker, "start", starts+1)
	if err != nil {
		return fail(dBoot, fmt.Errorf("boot %s: %w", x.name, err))
	}
	rec(dBoot, seen.Sub(t0))
	time.Sleep(distroSettle)

	// 2. Reboot from inside, to the marker's next start.
	if measured {
		if err := b.distroReboot(ctx, x); err != nil {
			return fail(dReboot, err)
		}
		time.Sleep(distroSettle)
	}

	// 3. Graceful stop from the host.
	pid, err := distroInitPid(ctx, x)
	if err != nil {
		return fail(dStop, err)
	}
	sup, err := openPidfd(ppid(pid))
	if err != nil {
		return fail(dStop, err)
	}
	defer sup.close()
	stopWord := "stop " + x.spec.StopWord
	stops := markerCount(x.marker, stopWord)
	t0 = time.Now()
	err = s.stop(ctx, x.name)
	d := time.Since(t0)
	if err != nil {
		return fail(dStop, fmt.Errorf("stop %s: %w", x.name, err))
	}
	if n := markerCount(x.marker, stopWord); n <= stops {
		return fail(dStop, fmt.Errorf("stop %s returned, but the marker has no new %q line: not a graceful stop (log: %s)", x.name, stopWord, markerTail(x.marker)))
	}
	if err := waitGone(s, x.name, sup, distroTimeout); err != nil {
		return fail(dStop, err)
	}
	rec(dStop, d)
	return nil
}

// distroReboot runs the init's reboot command inside the container through
// the side's attach, and measures to the marker's next start; on the way,
// from the old init's death (pidfd) to the new init's exec (a PID 1 named
// like the init appearing in the container's cgroup tree).
func (b *bench) distroReboot(ctx context.Context, x *distroBox) error {
	init, s := x.spec.Init, x.s
	old, err := distroInitPid(ctx, x)
	if err != nil {
		return err
	}
	sup := ppid(old)
	fd, err := openPidfd(old)
	if err != nil {
		return err
	}
	defer fd.close()
	starts := markerCount(x.marker, "start")
	rebootWord := "stop " + x.spec.RebootWord
	stops := markerCount(x.marker, rebootWord)

	t0 := time.Now()
	cmd := s.attach(ctx, x.name, x.spec.Reboot)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("reboot %s: %w", x.name, err)
	}
	// The command may be killed by the shutdown it starts (its exit code
	// says nothing); reap it in the background, bounded by the context.
	attached := make(chan error, 1)
	go func() { attached <- cmd.Wait() }()
	defer func() {
		select {
		case <-attached:
		case <-time.After(distroTimeout):
			_ = cmd.Process.Kill()
			<-attached
		}
	}()

	died, err := fd.wait(distroTimeout)
	if err != nil {
		return fmt.Errorf("reboot %s: old init: %w", x.name, err)
	}
	execd, err := waitNewInit(s.cgroupDir(x.name), sup, old, x.spec.Comm, died)
	if err != nil {
		return fmt.Errorf("reboot %s: %w", x.name, err)
	}
	seen, err := markerWait(ctx, x.marker, "start", starts+1)
	if err != nil {
		return fmt.Errorf("reboot %s: %w", x.name, err)
	}
	if n := markerCount(x.marker, rebootWord); n <= stops {
		return fmt.Errorf("reboot %s: the marker started again without a %q line before (log: %s)", x.name, rebootWord, markerTail(x.marker))
	}
	b.res.get(distroKey(init, dReboot), s).addDur(seen.Sub(t0))
	b.res.get(distroKey(init, dTurn), s).addDur(execd.Sub(died))
	return nil
}

// distroInitPid is the running init of a distro container, as the side's
// own status command reports it, checked to be PID 1 of its namespace
// named like the init.
func distroInitPid(ctx context.Context, x *distroBox) (int, error) {
	p, err := x.s.statusPid(ctx, x.name)
	if err != nil {
		return 0, fmt.Errorf("%s %s: status: %w", x.s.label(), x.name, err)
	}
	if p == 0 || !isInitNamed(p, x.spec.Comm) {
		return 0, fmt.Errorf("%s %s: status says init pid %d, which is not a running %s (comm %q)", x.s.label(), x.name, p, x.spec.Comm, comm(p))
	}
	return p, nil
}

// waitNewInit polls, every 250 µs, the container's cgroup tree for an
// exec'd init other than old (systemd moves itself into init.scope soon
// after its exec, so the whole tree is searched), and returns when it saw
// it. After a second without, it also looks for a child of the supervisor
// sup (the container's cgroup may be named anew after a reboot).
func waitNewInit(cgDir string, sup, old int, name string, died time.Time) (time.Time, error) {
	deadline := died.Add(distroTimeout)
	for i := 0; ; i++ {
		p := initUnder(cgDir, old, name)
		if p == 0 && i%40 == 39 && time.Since(died) > time.Second {
			p = childInitNamed(sup, old, name)
		}
		if p != 0 {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("no new %s within %s after the old one (%d) died", name, distroTimeout, old)
		}
		time.Sleep(250 * time.Microsecond)
	}
}

// initUnder returns an exec'd init named name, other than not, in the
// cgroup dir or below, or 0.
func initUnder(dir string, not int, name string) int {
	if p := initInNamed(dir, not, name); p != 0 {
		return p
	}
	found := 0
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || found != 0 {
			return filepath.SkipDir
		}
		if d.IsDir() && path != dir {
			found = initInNamed(path, not, name)
		}
		return nil
	})
	return found
}

// markerCount counts the marker log's lines equal to line.
func markerCount(path, line string) int {
	b, _ := os.ReadFile(path)
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) == line {
			n++
		}
	}
	return n
}

// markerWait polls the marker log every 5 ms until it holds n lines equal
// to line, and returns when it saw them.
func markerWait(ctx context.Context, path, line string, n int) (time.Time, error) {
	deadline := time.Now().Add(distroTimeout)
	for {
		if markerCount(path, line) >= n {
			return time.Now(), nil
		}
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("marker: no %q line within %s (log: %s)", line, distroTimeout, markerTail(path))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// markerTail is the end of the marker log on one line, for errors.
func markerTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	s := strings.Join(strings.Fields(strings.ReplaceAll(string(b), " ", "_")), " ")
	if len(s) > 80 {
		s = "…" + s[len(s)-80:]
	}
	return "[" + s + "]"
}

// attach commands of the two sides.

func (s *lxcSide) attach(ctx context.Context, name string, argv []string) *exec.Cmd {
	return exec.CommandContext(ctx, "lxc-attach", append([]string{"-P", s.lxcpath, "-n", name, "--"}, argv...)...)
}

func (s *shimSide) attach(ctx context.Context, name string, argv []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.initd, s.initdArgs(append([]string{"attach", name, "--"}, argv...)...)...)
	cmd.Env = s.env
	return cmd
}

// distroLines are the config lines a side needs beyond distro.Config:
// LXC halts with SIGPWR unless told, so a systemd container gets
// SIGRTMIN+3 as LXC's own templates give it; lxc-shim picks SIGRTMIN+3
// itself when the init is systemd.
func (s *lxcSide) distroLines(init distro.Init) string {
	if init == distro.Systemd {
		return "lxc.signal.halt = SIGRTMIN+3\n"
	}
	return ""
}

func (s *shimSide) distroLines(distro.Init) string { return "" }

// distroMarkdown is the report's table of the distro cases.
func (r *results) distroMarkdown(p printer, o options) {
	p("### Real distributions: Debian with systemd, sysvinit and OpenRC")
	p("")
	p("Times in ms: median (min–max, n) of %d measured rounds per init, after one warm-up boot and stop; the two sides alternate which goes first, round by round. Ratio: lxc-shim median / LXC median. The marker is a service of the root file system's own that appends `start` and `stop WHY` to a bind-mounted log (see Method).", o.distroRounds)
	p("")
	p("| init | case | lxc-shim | LXC | ratio |")
	p("|---|---|---|---|---|")
	for _, init := range o.inits {
		spec := distro.SpecOf(init)
		rows := []struct {
			what, title string
			prec        int
		}{
			{dBoot, "boot: start command to the marker's `start`", 0},
			{dReboot, fmt.Sprintf("reboot from inside: `%s` through attach to the marker's next `start`", strings.Join(spec.Reboot, " ")), 0},
			{dTurn, "  of which: old init's death to the new init's exec", 1},
			{dStop, fmt.Sprintf("graceful stop: stop command to its exit, marker `stop %s` written", spec.StopWord), 0},
		}
		for _, row := range rows {
			a, b := r.lookup(distroKey(init, row.what), "lxc-shim"), r.lookup(distroKey(init, row.what), "LXC")
			rs, _ := ratio(a, b)
			p("| %s | %s | %s | %s | %s |", init, row.title, a.cell(row.prec), b.cell(row.prec), rs)
		}
	}
	var trees []string
	for _, init := range o.inits {
		if dir, ok := r.distroRoots[init]; ok {
			trees = append(trees, fmt.Sprintf("%s: `%s` (%s)", init, dir, treeVersions(dir, init)))
		}
	}
	if len(trees) > 0 {
		p("")
		p("Root file systems (each side boots its own `cp -a` copy): %s.", strings.Join(trees, "; "))
	}
}

// treeVersions names the init's packages and versions installed in a
// tree, from its dpkg database.
func treeVersions(root string, init distro.Init) string {
	pkgs := map[distro.Init][]string{
		distro.Systemd:  {"systemd"},
		distro.SysVinit: {"sysvinit-core"},
		distro.OpenRC:   {"sysvinit-core", "openrc"},
	}[init]
	var out []string
	for _, pkg := range pkgs {
		b, err := exec.Command("dpkg-query", "--admindir="+filepath.Join(root, "var/lib/dpkg"), "-W", "-f=${Version}", pkg).Output()
		v := strings.TrimSpace(string(b))
		if err != nil || v == "" {
			v = "version unknown"
		}
		out = append(out, pkg+" "+v)
	}
	return strings.Join(out, ", ")
}

const distroMethodText = `- **Real distributions.** ` + "`internal/distro`" + ` builds (debootstrap, minbase variant, the host's release and mirror, cached) one Debian tree per init: systemd (systemd-sysv), sysvinit (sysvinit-core, sysv-rc), OpenRC (sysvinit-core as PID 1, openrc for the services, Debian's way). Each has a marker service in the init's own form (systemd unit, LSB script, openrc-run script) that appends ` + "`start`" + ` when it starts and ` + "`stop WHY`" + ` when it stops (WHY: systemd's queued target, or the sysvinit runlevel: 6 reboot, 0 halt) to MARKERDIR/log, a host directory bind-mounted into the container. Each side boots its own copy of the same tree (one copy per side, reused across rounds), with the same config: ` + "`distro.Config`" + ` (` + "`lxc.autodev = 1`, `lxc.tty.max = 1`, `lxc.pty.max = 64`, `lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed`, `lxc.net.0.type = empty`" + `) plus ` + "`lxc.uts.name`, `lxc.rootfs.path`" + ` and the marker's ` + "`lxc.mount.entry`" + `. Halt signals, each side's default: lxc-shim picks SIGRTMIN+3 for systemd itself and SIGPWR otherwise; LXC's config gets ` + "`lxc.signal.halt = SIGRTMIN+3`" + ` for systemd (as LXC's templates do) and keeps its default SIGPWR otherwise (the trees' inittab has ` + "`pf::powerwait:/sbin/shutdown -h now`" + `). Names ` + "`bzs<init>`" + ` and ` + "`bzl<init>`" + `. A round per side: boot, %.0f s of rest, reboot, the same rest, stop; the warm-up round boots and stops only. The log is polled every 5 ms.
- **Boot.** From the start command's fork (` + "`lxc-initd start NAME`" + ` / ` + "`lxc-start -P DIR -n NAME -d`" + `) to the marker's new ` + "`start`" + ` line.
- **Reboot from inside.** From the fork of the attach command running the init's reboot command (` + "`lxc-initd attach NAME -- systemctl reboot`" + ` / ` + "`lxc-attach -P DIR -n NAME -- systemctl reboot`" + `; ` + "`reboot`" + ` for sysvinit and OpenRC) to the marker's next ` + "`start`" + `, checked to follow a ` + "`stop reboot`" + `. On the way, the old init's death (its pidfd, the init pid from each side's status command) to the new init's exec: the container's cgroup tree in the pids hierarchy (the whole tree: systemd moves itself to init.scope) polled every 250 µs for a PID 1 of its namespace named like the init (` + "`systemd`" + ` or ` + "`init`" + `; before its exec the child is still ` + "`lxc-shim`" + ` or ` + "`lxc-start`" + `).
- **Graceful stop.** Wall time of ` + "`lxc-initd stop NAME`" + ` / ` + "`lxc-stop -P DIR -n NAME`" + ` (default timeouts, 60 s on both), then checked: the marker wrote ` + "`stop halt`" + ` (the init's shutdown ran, no kill), the supervisor exited and the container's cgroup is gone.`
