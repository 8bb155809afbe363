// Command lxc-bench measures lxc-shim and LXC 5 side by side on the same
// busybox root file system: start, reboot turnaround, stop, host shutdown
// of many containers, and the supervisors' memory and idle activity; the
// same on LXC's busybox template config (template.go) and with seccomp,
// overlay and loop storage and hooks (features.go); then
// on the same Debian root file systems booting systemd, sysvinit and
// OpenRC (internal/distro): boot, reboot from inside and graceful stop,
// timed to a marker service's log. It alternates the two sides in every
// round and writes docs/benchmarks.md.
//
// It is run by bench/run.sh (make bench), as root. Every container it
// makes is named bz..., lives under a temporary lxcpath, and is stopped
// and removed on exit, on failure and on SIGINT/SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/distro"
)

type options struct {
	bin            string        // directory holding lxc-initd, lxc-shim, idleref
	late           time.Duration // template memory: second reading after this
	out            string        // docs/benchmarks.md
	notes          string        // bench/notes.md, appended to the report
	rounds         int           // rounds of start/stop, reboot, single halt
	shutdownRounds int
	many           int // containers in the shutdown and memory case
	idle           time.Duration
	sides          string // "both", "lxc", "shim"
	command        string // how the run was invoked, for the report
	busybox        bool   // run the busybox cases
	template       bool   // run the cases on LXC's busybox template config
	features       bool   // run the seccomp, storage and hook cases
	distro         bool   // run the real distributions' cases
	userns         bool   // run the unprivileged (lxc.idmap) case
	distroRounds   int
	inits          []distro.Init
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin", "directory with lxc-initd, lxc-shim and idleref")
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "report to write")
	flag.StringVar(&o.notes, "notes", "bench/notes.md", "hand-written findings appended to the report")
	flag.IntVar(&o.rounds, "rounds", 10, "measured rounds of start/stop, reboot and single halt (plus one warm-up)")
	flag.IntVar(&o.shutdownRounds, "shutdown-rounds", 3, "rounds of the shutdown of many containers")
	flag.IntVar(&o.many, "many", 20, "containers per side in the shutdown and memory cases")
	flag.DurationVar(&o.idle, "idle", 10*time.Second, "idle window for CPU time and wake-ups")
	flag.DurationVar(&o.late, "late-memory", 130*time.Second, "template memory case: read again this long after the first reading, past Go's forced GC every 2 minutes (0: once, at 1 s)")
	flag.StringVar(&o.sides, "sides", "both", "both, lxc or shim")
	flag.StringVar(&o.command, "command", "make bench", "the command line recorded in the report")
	cases := flag.String("cases", "busybox,template,features,distro,userns", "which cases to run: busybox, template, features, distro, userns (comma-separated)")
	flag.IntVar(&o.distroRounds, "distro-rounds", 5, "measured rounds of the distro cases, per init (plus one warm-up boot and stop)")
	inits := flag.String("inits", "systemd,sysvinit,openrc", "the inits of the distro cases (comma-separated)")
	flag.Parse()
	if err := parseCases(&o, *cases, *inits); err != nil {
		fmt.Fprintf(os.Stderr, "lxc-bench: %v\n", err)
		os.Exit(2)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "lxc-bench: run as root (it starts containers)")
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := benchmark(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "lxc-bench: %v\n", err)
		os.Exit(1)
	}
}

// parseCases fills o's case selection from the -cases and -inits flags.
func parseCases(o *options, cases, inits string) error {
	for _, c := range strings.Split(cases, ",") {
		switch strings.TrimSpace(c) {
		case "busybox":
			o.busybox = true
		case "template":
			o.template = true
		case "features":
			o.features = true
		case "distro":
			o.distro = true
		case "userns":
			o.userns = true
		case "":
		default:
			return fmt.Errorf("-cases %q: unknown case %q (want busybox, template, features, distro, userns)", cases, c)
		}
	}
	if !o.busybox && !o.template && !o.features && !o.distro && !o.userns {
		return fmt.Errorf("-cases %q: no case to run", cases)
	}
	for _, i := range strings.Split(inits, ",") {
		i = strings.TrimSpace(i)
		if i == "" {
			continue
		}
		if !slices.Contains(distro.Inits, distro.Init(i)) {
			return fmt.Errorf("-inits %q: unknown init %q (want %v)", inits, i, distro.Inits)
		}
		o.inits = append(o.inits, distro.Init(i))
	}
	if o.distro && len(o.inits) == 0 {
		return fmt.Errorf("-inits %q: no init for the distro cases", inits)
	}
	return nil
}

// bench holds one run: the work directory, the two sides, the containers
// made so far (for cleanup) and the results.
type bench struct {
	o     options
	work  string
	tmpl  *template
	sides []side
	res   *results

	mu         sync.Mutex
	containers []made
	// tplLines are the config lines of LXC's busybox template (the
	// template cases).
	tplLines []string
}

type made struct {
	s    side
	name string
}

func benchmark(ctx context.Context, o options) (err error) {
	work, err := os.MkdirTemp("", "lxc-bench-")
	if err != nil {
		return err
	}
	b := &bench{o: o, work: work, res: newResults()}
	defer func() {
		if cerr := b.cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	b.tmpl, err = makeTemplate(filepath.Join(work, "template"))
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	shim := &shimSide{
		initd:   filepath.Join(abs, "lxc-initd"),
		lxcpath: filepath.Join(work, "shim", "lxc"),
		rundir:  filepath.Join(work, "shim", "run"),
		logdir:  filepath.Join(work, "shim", "log"),
		env:     append(os.Environ(), "PATH="+abs+":"+os.Getenv("PATH")),
	}
	lxc := &lxcSide{lxcpath: filepath.Join(work, "lxc")}
	for _, d := range []string{shim.lxcpath, shim.rundir, shim.logdir, lxc.lxcpath} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	switch o.sides {
	case "both":
		b.sides = []side{shim, lxc}
	case "lxc":
		b.sides = []side{lxc}
	case "shim":
		b.sides = []side{shim}
	default:
		return fmt.Errorf("-sides %q: want both, lxc or shim", o.sides)
	}
	b.res.machine = describeMachine(abs)
	b.res.started = time.Now()

	type step struct {
		name string
		fn   func(context.Context) error
	}
	var steps []step
	if o.busybox {
		steps = append(steps,
			step{"start and stop", b.startStop},
			step{"reboot turnaround", b.reboot},
			step{"single halt", b.singleHalt},
			step{"shutdown and memory", b.shutdownMany},
			step{"reference program", b.reference})
	}
	if o.template {
		steps = append(steps, step{"busybox template config", b.templateCases})
	}
	if o.features {
		steps = append(steps, step{"seccomp, storage, hooks", b.featureCases})
	}
	if o.distro {
		steps = append(steps, step{"real distributions", b.distros})
	}
	if o.userns {
		steps = append(steps, step{"unprivileged", b.unprivileged})
	}
	for _, st := range steps {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		slog.Info("step", "name", st.name)
		b.res.loads = append(b.res.loads, st.name+" "+loadAvg())
		if err := st.fn(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			slog.Error("step failed", "name", st.name, "err", err)
			b.res.notes = append(b.res.notes, fmt.Sprintf("%s: %v", st.name, err))
		}
	}
	b.res.finished = time.Now()
	b.res.loads = append(b.res.loads, "end "+loadAvg())
	notes, _ := os.ReadFile(o.notes)
	if err := os.WriteFile(o.out, []byte(b.res.markdown(o, b.sides, string(notes))), 0o644); err != nil {
		return err
	}
	slog.Info("report written", "path", o.out)
	return nil
}

// loadAvg is the host's 1-minute load average: the machine may be shared,
// and the report says how busy it was while each step ran.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "unknown"
}

// order alternates which side goes first, round by round.
func (b *bench) order(round int) []side {
	if len(b.sides) < 2 || round%2 == 0 {
		return b.sides
	}
	return []side{b.sides[1], b.sides[0]}
}

// newContainer makes a container's root file system and config and
// records it for cleanup.
func (b *bench) newContainer(s side, name string, kind initKind, auto bool) error {
	rootfs, err := b.newRootfs(s, name, kind)
	if err != nil {
		return err
	}
	return writeConfig(s.path(), name, rootfs, auto)
}

// newRootfs records container name of side s for cleanup and makes its
// root file system (LXCPATH/NAME/rootfs); it returns the rootfs path.
func (b *bench) newRootfs(s side, name string, kind initKind) (string, error) {
	b.remember(s, name)
	rootfs := filepath.Join(s.path(), name, "rootfs")
	return rootfs, b.tmpl.instantiate(rootfs, kind)
}

// remember records container name of side s for the cleanup at exit.
func (b *bench) remember(s side, name string) {
	b.mu.Lock()
	b.containers = append(b.containers, made{s, name})
	b.mu.Unlock()
}

// cleanup stops every container the run made (force), checks that
// nothing of them is left, and removes the work directory.
func (b *bench) cleanup() error {
	b.mu.Lock()
	cs := append([]made(nil), b.containers...)
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.s.forceStop(c.name)
		}()
	}
	wg.Wait()
	var left []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		left = left[:0]
		for _, c := range cs {
			d := c.s.cgroupDir(c.name)
			if _, err := os.Stat(d); err == nil {
				left = append(left, d)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := os.RemoveAll(b.work); err != nil {
		left = append(left, fmt.Sprintf("remove %s: %v", b.work, err))
	}
	if len(left) > 0 {
		return fmt.Errorf("cleanup: left on the host: %s", strings.Join(left, ", "))
	}
	return nil
}

// startOne starts a container and returns its init pid, checked to be a
// running init.
func (b *bench) startOne(ctx context.Context, s side, name string) (time.Duration, int, error) {
	t0 := time.Now()
	err := s.start(ctx, name)
	d := time.Since(t0)
	if err != nil {
		return d, 0, fmt.Errorf("start %s: %w", name, err)
	}
	pid, err := findInit(ctx, s, name)
	if err != nil {
		return d, 0, fmt.Errorf("start %s: command returned but %w", name, err)
	}
	return d, pid, nil
}

// waitGone waits for a container's supervisor to exit and its cgroup to
// disappear: the container is fully stopped on either side.
func waitGone(s side, name string, sup *pidfd, timeout time.Duration) error {
	if sup != nil {
		if _, err := sup.wait(timeout); err != nil {
			return fmt.Errorf("%s %s: supervisor: %w", s.label(), name, err)
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(s.cgroupDir(name)); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s %s: cgroup %s still there after %s", s.label(), name, s.cgroupDir(name), timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle gives a freshly started busybox init time to finish its sysinit
// before it is signalled (busybox acts on signals after sysinit).
const settle = 300 * time.Millisecond

// startStop measures cases 1 and 3 on one container per side whose init
// halts at once on SIGUSR1.
func (b *bench) startStop(ctx context.Context) error {
	return b.startStopCase(ctx, "", "", nil)
}

// startStopCase measures start and stop of one container per side, named
// PREFIX+"start"+suffix, into the series "start" and "stop" with measure
// before them; configure (if any) adds to each container's config, and
// running (if any) is called with the init's pid in every measured round.
func (b *bench) startStopCase(ctx context.Context, suffix, measure string, configure func(s side, name string) error, running ...func(s side, pid int)) error {
	names := map[side]string{}
	for _, s := range b.sides {
		names[s] = s.prefix() + "start" + suffix
		if err := b.newContainer(s, names[s], haltNow, false); err != nil {
			return err
		}
		if configure != nil {
			if err := configure(s, names[s]); err != nil {
				return err
			}
		}
	}
	return b.startStopRounds(ctx, names, measure+"start", measure+"stop", running...)
}

// startStopRounds times, in o.rounds measured rounds after a warm-up, the
// sides alternating, the start of each side's container names[s] into the
// series startKey and, settle later, a graceful stop of its init (which
// halts at once) into stopKey; running (if any) is called with the init's
// pid in every measured round. A side whose start series already failed
// is not tried again.
func (b *bench) startStopRounds(ctx context.Context, names map[side]string, startKey, stopKey string, running ...func(s side, pid int)) error {
	for r := 0; r <= b.o.rounds; r++ {
		for _, s := range b.order(r) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			st, sp := b.res.get(startKey, s), b.res.get(stopKey, s)
			if st.err != nil && !st.ok() {
				continue // this side cannot start; do not hammer it
			}
			name := names[s]
			d, pid, err := b.startOne(ctx, s, name)
			if err != nil {
				st.fail(err)
				s.forceStop(name)
				continue
			}
			if r > 0 {
				st.addDur(d)
				for _, f := range running {
					f(s, pid)
				}
			}
			time.Sleep(settle)
			d, err = b.timedStop(ctx, s, name, pid, s.stop)
			if err != nil {
				sp.fail(err)
				s.forceStop(name)
				continue
			}
			if r > 0 {
				sp.addDur(d)
			}
		}
	}
	return nil
}

// reboot measures case 2: a process inside the container's PID namespace
// calls reboot(2) (busybox `reboot -n -f` run through nsenter, the same
// trigger on both sides); the host sees the old init exit through a pidfd
// and polls the container's cgroup.procs every 250 µs for the new init
// (PID 1 of a new namespace, exec'd: comm "init").
func (b *bench) reboot(ctx context.Context) error {
	for _, s := range b.sides {
		name := s.prefix() + "reboot"
		if err := b.newContainer(s, name, plainShutdown, false); err != nil {
			return err
		}
		ser := b.res.get("reboot", s)
		_, pid, err := b.startOne(ctx, s, name)
		if err != nil {
			ser.fail(err)
			s.forceStop(name)
			continue
		}
		_ = pid
	}
	for r := 0; r <= b.o.rounds; r++ {
		for _, s := range b.order(r) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			ser := b.res.get("reboot", s)
			if ser.err != nil {
				continue
			}
			name := s.prefix() + "reboot"
			time.Sleep(settle)
			d, err := rebootOnce(ctx, s, name)
			if err != nil {
				ser.fail(err)
				s.forceStop(name)
				continue
			}
			if r > 0 {
				ser.addDur(d)
			}
		}
	}
	for _, s := range b.sides {
		s.forceStop(s.prefix() + "reboot")
	}
	return nil
}

func rebootOnce(ctx context.Context, s side, name string) (time.Duration, error) {
	old, err := findInit(ctx, s, name)
	if err != nil {
		return 0, err
	}
	sup := ppid(old)
	cg, err := cgroupOf(old)
	if err != nil {
		return 0, err
	}
	fd, err := openPidfd(old)
	if err != nil {
		return 0, err
	}
	defer fd.close()
	trigger := exec.CommandContext(ctx, "nsenter", "-t", fmt.Sprint(old), "-p", "--", busybox, "reboot", "-n", "-f")
	if err := trigger.Start(); err != nil {
		return 0, fmt.Errorf("reboot %s: nsenter: %w", name, err)
	}
	defer func() { _ = trigger.Wait() }()
	died, err := fd.wait(10 * time.Second)
	if err != nil {
		return 0, fmt.Errorf("reboot %s: old init: %w", name, err)
	}
	deadline := died.Add(10 * time.Second)
	for i := 0; ; i++ {
		p := initIn(cg, old)
		if p == 0 && i%40 == 39 && time.Since(died) > time.Second {
			// The cgroup may have a new name after a reboot:
			// look for the supervisor's child instead.
			p = childInit(sup, old)
		}
		if p != 0 {
			return time.Since(died), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("reboot %s: no new init within 10 s after the old one (%d) died", name, old)
		}
		time.Sleep(250 * time.Microsecond)
	}
}

// singleHalt measures a 1 s-halting init's own halt: SIGUSR1 sent from
// the host straight to the init, until it is gone. The slowest of these
// sets the shutdown target.
func (b *bench) singleHalt(ctx context.Context) error {
	for _, s := range b.sides {
		if err := b.newContainer(s, s.prefix()+"halt", halt1s, false); err != nil {
			return err
		}
	}
	for r := 0; r < b.o.rounds/2+1; r++ {
		for _, s := range b.order(r) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			ser := b.res.get("halt", s)
			if ser.err != nil {
				continue
			}
			name := s.prefix() + "halt"
			if err := haltOnce(ctx, b, s, name, ser); err != nil {
				ser.fail(err)
				s.forceStop(name)
			}
		}
	}
	return nil
}

func haltOnce(ctx context.Context, b *bench, s side, name string, ser *series) error {
	_, pid, err := b.startOne(ctx, s, name)
	if err != nil {
		return err
	}
	sup, err := openPidfd(ppid(pid))
	if err != nil {
		return err
	}
	defer sup.close()
	fd, err := openPidfd(pid)
	if err != nil {
		return err
	}
	defer fd.close()
	time.Sleep(settle)
	t0 := time.Now()
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		return fmt.Errorf("halt %s: kill %d: %w", name, pid, err)
	}
	died, err := fd.wait(10 * time.Second)
	if err != nil {
		return fmt.Errorf("halt %s: %w", name, err)
	}
	ser.addDur(died.Sub(t0))
	return waitGone(s, name, sup, 10*time.Second)
}

// shutdownMany measures case 4 and, with the containers running, case 5.
func (b *bench) shutdownMany(ctx context.Context) error {
	names := map[side][]string{}
	for _, s := range b.sides {
		for i := 1; i <= b.o.many; i++ {
			n := fmt.Sprintf("%sd%02d", s.prefix(), i)
			if err := b.newContainer(s, n, halt1s, true); err != nil {
				return err
			}
			names[s] = append(names[s], n)
		}
	}
	startAll := func(s side) ([]int, error) {
		ser := b.res.get("start-many", s)
		t0 := time.Now()
		var pids []int
		for _, n := range names[s] {
			_, pid, err := b.startOne(ctx, s, n)
			if err != nil {
				return nil, err
			}
			pids = append(pids, pid)
		}
		ser.addDur(time.Since(t0))
		return pids, nil
	}
	// measureStop runs one way of stopping all of a side's containers and
	// checks that every init is gone when it returns.
	measureStop := func(s side, key string, how func() error) error {
		pids, err := startAll(s)
		if err != nil {
			return err
		}
		var fds []*pidfd
		defer func() {
			for _, f := range fds {
				f.close()
			}
		}()
		for _, p := range pids {
			f, err := openPidfd(p)
			if err != nil {
				return err
			}
			fds = append(fds, f)
		}
		time.Sleep(time.Second)
		if key == "shutdown" && !b.res.memDone[s] {
			// Case 5 is read once, with the containers of this
			// side running and settled.
			b.res.memDone[s] = true
			b.readMemory(s, pids)
		}
		t0 := time.Now()
		if err := how(); err != nil {
			return err
		}
		d := time.Since(t0)
		for i, f := range fds {
			if !f.exited() {
				return fmt.Errorf("%s returned while init %d of %s still runs", key, f.pid, names[s][i])
			}
		}
		b.res.get(key, s).addDur(d)
		for _, n := range names[s] {
			if err := waitGone(s, n, nil, 10*time.Second); err != nil {
				return err
			}
		}
		return nil
	}
	for r := 0; r < b.o.shutdownRounds; r++ {
		for _, s := range b.order(r) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			slog.Info("shutdown round", "round", r, "side", s.label())
			if ser := b.res.get("shutdown", s); ser.err == nil {
				if err := measureStop(s, "shutdown", func() error { return s.shutdownAll(ctx) }); err != nil {
					ser.fail(err)
					b.forceAll(s, names[s])
				}
			}
			if _, isLXC := s.(*lxcSide); isLXC {
				if ser := b.res.get("one-by-one", s); ser.err == nil {
					err := measureStop(s, "one-by-one", func() error {
						for _, n := range names[s] {
							if err := s.stop(ctx, n); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						ser.fail(err)
						b.forceAll(s, names[s])
					}
				}
			}
		}
	}
	return nil
}

func (b *bench) forceAll(s side, names []string) {
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.forceStop(n)
		}()
	}
	wg.Wait()
}

// readMemory reads case 5 for one side: each supervisor's (the init's
// parent's) memory, then its CPU time and context switches over the idle
// window, touching nothing of the side meanwhile.
func (b *bench) readMemory(s side, inits []int) {
	b.readMemoryInto(b.res.mem(s), inits, b.o.idle)
}

// readMemoryInto reads the memory of the supervisors of inits into m and,
// with idle > 0, their activity over that window.
func (b *bench) readMemoryInto(m *memSeries, inits []int, idle time.Duration) {
	sups := supervisors(inits)
	for _, p := range sups {
		mi, err := readMem(p)
		if err != nil {
			m.err = err
			return
		}
		m.rss.add(float64(mi.RSS))
		m.pss.add(float64(mi.PSS))
		m.priv.add(float64(mi.Private))
		m.anon.add(float64(mi.Anon))
		m.file.add(float64(mi.File))
		m.threads.add(float64(mi.Threads))
		m.comm = comm(p)
	}
	if len(sups) > 0 {
		m.top, _ = smapsByFile(sups[0])
	}
	if idle > 0 {
		measureIdle(m, sups, idle)
	}
}

// idleThenMemory measures the supervisors of inits over an idle window
// (CPU time, context switches) and reads their memory at its end.
func (b *bench) idleThenMemory(m *memSeries, inits []int, window time.Duration) {
	measureIdle(m, supervisors(inits), window)
	if m.err == nil {
		b.readMemoryInto(m, inits, 0)
	}
}

// supervisors are the parents of inits, sorted.
func supervisors(inits []int) []int {
	var sups []int
	for _, p := range inits {
		sups = append(sups, ppid(p))
	}
	sort.Ints(sups)
	return sups
}

// measureIdle adds each of sups' CPU time and context switches over
// window, touching nothing of them meanwhile, to m.
func measureIdle(m *memSeries, sups []int, window time.Duration) {
	before := map[int]activity{}
	for _, p := range sups {
		a, err := readActivity(p)
		if err != nil {
			m.err = err
			return
		}
		before[p] = a
	}
	time.Sleep(window)
	for _, p := range sups {
		a, err := readActivity(p)
		if err != nil {
			m.err = err
			return
		}
		m.cpuMs.add(float64((a.CPUTicks - before[p].CPUTicks) * 10))
		m.switches.add(float64(a.Switches - before[p].Switches))
	}
	m.idle = window
}

// refVariant is one build of idleref: which packages it links and how it
// is built.
type refVariant struct {
	label   string
	tags    string
	cgo     string // CGO_ENABLED value, "" for the toolchain's default
	ldflags string
}

var refVariants = []refVariant{
	{"idleref alone (no cgo: static)", "", "", ""},
	{"+ net (cgo resolver: dynamic, libc and ld.so mapped)", "with_net", "", ""},
	{"+ vishvananda/netlink", "with_netlink", "", ""},
	{"+ every third-party package lxc-shim links", "with_net with_netlink with_securejoin with_systemd", "", ""},
	{"  the same, CGO_ENABLED=0", "with_net with_netlink with_securejoin with_systemd", "0", ""},
	{"+ every package lxc-shim links (as `make build` builds it: CGO_ENABLED=0)", "with_shim", "0", ""},
	{"  the same, with cgo (dynamic libc)", "with_shim", "", ""},
	{"  the same, CGO_ENABLED=0 -ldflags '-s -w'", "with_shim", "0", "-s -w"},
}

// refResult is one variant's memory 500 ms after start, and the median
// time of a start that exits at once.
type refResult struct {
	v     refVariant
	size  int64
	mem   memInfo
	start series
	err   error
}

// reference measures idleref, a Go program that only waits for a signal
// (the Go runtime's floor under the shim's memory), then builds of it that
// link more of what lxc-shim links, unused: their difference is what
// linking a package costs before the shim does anything.
func (b *bench) reference(ctx context.Context) error {
	for i, v := range refVariants {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		out := filepath.Join(b.work, fmt.Sprintf("idleref-%d", i))
		args := []string{"build", "-o", out}
		if v.tags != "" {
			args = append(args, "-tags", v.tags)
		}
		if v.ldflags != "" {
			args = append(args, "-ldflags", v.ldflags)
		}
		env := os.Environ()
		if v.cgo != "" {
			env = append(env, "CGO_ENABLED="+v.cgo)
		}
		_, err := run(ctx, env, "go", append(args, "./bench/cmd/idleref")...)
		r := refResult{v: v, err: err}
		if err == nil {
			if fi, serr := os.Stat(out); serr == nil {
				r.size = fi.Size()
			}
			r.mem, r.err = b.runRef(ctx, out, i == 0)
			for n := 0; n < 21 && r.err == nil; n++ {
				cmd := exec.CommandContext(ctx, out)
				cmd.Env = append(os.Environ(), "IDLEREF_EXIT=1")
				t0 := time.Now()
				if err := cmd.Run(); err != nil {
					r.err = fmt.Errorf("reference %s: %w", out, err)
				}
				if n > 0 { // the first one warms the page cache
					r.start.addDur(time.Since(t0))
				}
			}
		}
		b.res.refs = append(b.res.refs, r)
		if i == 0 && r.err == nil {
			b.startFloor(ctx, out)
		}
	}
	return nil
}

// floorResult is the median start of one program that does nothing.
type floorResult struct {
	label string
	start series
	err   error
}

// startFloor times fork, exec and exit of programs that do nothing: the
// floor under every command of each side on this machine, which the
// per-step breakdown in bench/notes.md refers to.
func (b *bench) startFloor(ctx context.Context, idleref string) {
	progs := []struct {
		label string
		argv  []string
		env   []string
	}{
		{"`/bin/true` (C, dynamic libc)", []string{"/bin/true"}, nil},
		{"`lxc-start --version` (LXC 5: C, liblxc and its libraries)", []string{"lxc-start", "--version"}, nil},
		{"`idleref` (an empty Go program, static)", []string{idleref}, []string{"IDLEREF_EXIT=1"}},
		{"`lxc-shim --help` (Go, static; also the stage's binary)", []string{filepath.Join(b.o.bin, "lxc-shim"), "--help"}, nil},
		{"`lxc-initd help` (Go with cgo for attach, static)", []string{filepath.Join(b.o.bin, "lxc-initd"), "help"}, nil},
	}
	for _, pr := range progs {
		r := floorResult{label: pr.label}
		for n := 0; n < 21 && r.err == nil && ctx.Err() == nil; n++ {
			cmd := exec.CommandContext(ctx, pr.argv[0], pr.argv[1:]...)
			cmd.Env = append(os.Environ(), pr.env...)
			t0 := time.Now()
			// A usage text may exit 2: only a program that did not run
			// is a failure.
			if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
				r.err = fmt.Errorf("%s: %w", pr.argv[0], err)
			}
			if n > 0 {
				r.start.addDur(time.Since(t0))
			}
		}
		b.res.floor = append(b.res.floor, r)
	}
}

// runRef starts one idleref build, reads its memory after 500 ms and, when
// idle is set, its context switches over the idle window.
func (b *bench) runRef(ctx context.Context, path string, idle bool) (memInfo, error) {
	cmd := exec.CommandContext(ctx, path)
	if err := cmd.Start(); err != nil {
		return memInfo{}, fmt.Errorf("reference %s: %w", path, err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	time.Sleep(500 * time.Millisecond)
	mi, err := readMem(cmd.Process.Pid)
	if err != nil || !idle {
		return mi, err
	}
	before, err := readActivity(cmd.Process.Pid)
	if err != nil {
		return mi, err
	}
	time.Sleep(b.o.idle)
	after, err := readActivity(cmd.Process.Pid)
	if err != nil {
		return mi, err
	}
	b.res.refSwitches = after.Switches - before.Switches
	return mi, nil
}
