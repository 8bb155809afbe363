package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

const shutdownHelp = `usage: lxc-initd [-P LXCPATH] [--rundir DIR] [--logdir DIR] shutdown [-t SECONDS] [--deadline SECONDS]

Stop every running container gracefully, for host shutdown (and as the
ExecStop of lxc-shim-autostart.service).

Containers stop by lxc.start.order, highest first (the reverse of
autostart); the containers of one order stop in parallel, and the next
order starts once they are all down. Each is sent its halt signal
(lxc.signal.halt) and given -t SECONDS from that signal (default: its own
stop timeout, the --stop-timeout of its shim, 60 s unless set) to shut
down, as lxc-autostart -s -t does; a container still running then is
killed (lxc.signal.stop, then every process left in its cgroup). One hung
container never shortens the graceful stop of another.

--deadline SECONDS bounds the whole shutdown: no container is given time
beyond it, and the containers of an order that begins after it are
killed at once.

A container whose shim died is stopped from its state directory; one
whose shim does not answer (stopped, deadlocked) is stopped the same way,
then its shim is killed.

Each container's result is printed: "stopped" (it shut down by itself),
"killed" (it needed the kill), "not running", or the error.

Exit status: 0 when every container shut down by itself, 1 when one needed
a kill or could not be stopped.
`

// shutdownEntry is one running container.
type shutdownEntry struct {
	Name  string
	Order int
	// Own is the container's own stop timeout (its shim's
	// --stop-timeout), given when shutdown has no -t.
	Own time.Duration
	// Status is what Inspect said of it (nil in tests).
	Status *shimctl.Status
}

// stopResult is one container's stop outcome.
type stopResult struct {
	Name   string
	Result string // shimctl.StopGraceful, StopForced, StopNotRunning
	Note   string // what lxc-initd did besides (a stuck shim killed)
	Late   bool   // its order began after the --deadline: killed at once
	Err    error
	Took   time.Duration
}

// planShutdown batches running containers by order, highest first.
func planShutdown(entries []shutdownEntry) [][]shutdownEntry {
	byOrder := map[int][]shutdownEntry{}
	for _, e := range entries {
		byOrder[e.Order] = append(byOrder[e.Order], e)
	}
	orders := make([]int, 0, len(byOrder))
	for o := range byOrder {
		orders = append(orders, o)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(orders)))
	plan := make([][]shutdownEntry, 0, len(orders))
	for _, o := range orders {
		b := byOrder[o]
		sort.Slice(b, func(i, j int) bool { return b[i].Name < b[j].Name })
		plan = append(plan, b)
	}
	return plan
}

// stopFunc stops one container, giving it timeout from its halt signal to
// shut down by itself (kill: no grace at all), and says how it ended.
type stopFunc func(e shutdownEntry, timeout time.Duration, kill bool) (stopOutcome, error)

// runShutdown stops plan's batches one after the other, the containers of
// a batch in parallel. Each container gets timeout from its own halt
// signal (negative: its own stop timeout, Own). A non-zero deadline caps
// that: nobody is given time beyond it, and a batch that starts after it
// is killed at once.
func runShutdown(plan [][]shutdownEntry, timeout time.Duration, deadline time.Time, now func() time.Time, stop stopFunc) []stopResult {
	var all []stopResult
	for _, batch := range plan {
		results := make([]stopResult, len(batch))
		var wg sync.WaitGroup
		for i, e := range batch {
			t, kill := timeout, false
			if t < 0 {
				t = e.Own
			}
			if !deadline.IsZero() {
				left := deadline.Sub(now())
				if left <= 0 {
					t, kill = 0, true
				} else if left < t {
					t = left
				}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := now()
				out, err := stop(e, t, kill)
				results[i] = stopResult{Name: e.Name, Result: out.Result, Note: out.Note, Late: kill, Err: err, Took: now().Sub(t0)}
			}()
		}
		wg.Wait()
		all = append(all, results...)
	}
	return all
}

// secondsFlag is the flag name of fs as a duration: -1 when it was not
// given, an error when it is negative.
func secondsFlag(fs *flag.FlagSet, name string, v float64) (time.Duration, error) {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	if !set {
		return -1, nil
	}
	if v < 0 {
		return 0, fmt.Errorf("-%s %v: must not be negative", name, v)
	}
	return time.Duration(v * float64(time.Second)), nil
}

// cmdShutdown stops every running container (see shutdownHelp).
func cmdShutdown(e *env, args []string) error {
	fs := flag.NewFlagSet("shutdown", flag.ContinueOnError)
	secs := fs.Float64("t", -1, "seconds each container is given from its halt signal (default: its own stop timeout)")
	dl := fs.Float64("deadline", -1, "seconds the whole shutdown may take (default: no bound)")
	pos, _, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(e.stdout, shutdownHelp)
		return nil
	}
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(pos) > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q", pos[0])}
	}
	timeout, err := secondsFlag(fs, "t", *secs)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	bound, err := secondsFlag(fs, "deadline", *dl)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	var deadline time.Time
	if bound >= 0 {
		deadline = time.Now().Add(bound)
	}

	entries, starting, err := runningContainers(e)
	if err != nil {
		return err
	}
	if len(entries) == 0 && len(starting) == 0 {
		fmt.Fprintln(e.stdout, "no container is running")
		return nil
	}
	results := runShutdown(planShutdown(entries), timeout, deadline, time.Now, func(c shutdownEntry, timeout time.Duration, kill bool) (stopOutcome, error) {
		return stopContainer(e, c.Name, c.Status, timeout, kill)
	})

	var killed, failed []string
	for _, n := range starting {
		failed = append(failed, n)
		fmt.Fprintf(e.stdout, "%s: failed: a start is under way and its shim did not take the container's lock within %s\n", n, startWait)
	}
	for _, r := range results {
		switch {
		case r.Err != nil:
			failed = append(failed, r.Name)
			fmt.Fprintf(e.stdout, "%s: failed: %v\n", r.Name, r.Err)
		case r.Result == shimctl.StopForced && r.Late:
			killed = append(killed, r.Name)
			fmt.Fprintf(e.stdout, "%s: killed (its order began after the --deadline)\n", r.Name)
		case r.Result == shimctl.StopForced:
			killed = append(killed, r.Name)
			fmt.Fprintf(e.stdout, "%s: killed (still running at the end of its timeout, after %s)\n", r.Name, r.Took.Round(time.Millisecond))
		case r.Result == shimctl.StopNotRunning:
			fmt.Fprintf(e.stdout, "%s: not running\n", r.Name)
		default:
			fmt.Fprintf(e.stdout, "%s: stopped (in %s)\n", r.Name, r.Took.Round(time.Millisecond))
		}
		if r.Note != "" {
			fmt.Fprintf(e.stdout, "%s: %s\n", r.Name, r.Note)
		}
	}
	var msgs []string
	if len(killed) > 0 {
		msgs = append(msgs, fmt.Sprintf("%d container(s) needed a kill: %s", len(killed), strings.Join(killed, ", ")))
	}
	if len(failed) > 0 {
		msgs = append(msgs, fmt.Sprintf("%d container(s) could not be stopped: %s", len(failed), strings.Join(failed, ", ")))
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "; "))
	}
	return nil
}

// runningContainers lists the containers that have a state directory
// under rundir, or a shim holding its abstract socket (its directory may
// have been removed), and a live init (under their shim or orphaned), with
// the lxc.start.order of their config (0 when the config is gone or
// broken: it must still be stopped); and, apart, those whose start was
// still under way after startWait.
func runningContainers(e *env) ([]shutdownEntry, []string, error) {
	ents, err := os.ReadDir(e.rundir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("list containers in %s: %w", e.rundir, err)
	}
	names := shimctl.ShimNames(e.rundir)
	for _, ent := range ents {
		if ent.IsDir() && !slices.Contains(names, ent.Name()) {
			names = append(names, ent.Name())
		}
	}
	// A container whose start is under way (its shim spawned, not yet
	// holding the container's lock) reads as stopped, and its shim
	// would boot it after the shutdown: wait for those starts first, as
	// stop waits for one.
	starting := waitStarts(e.rundir, names, startWait)
	var out []shutdownEntry
	for _, c := range inspectAll(e.rundir, names) {
		if c.err != nil || !c.st.Running() {
			continue
		}
		order := 0
		if cfg, err := loadConfig(e, c.name); err == nil {
			order = cfg.Start.Order
		}
		out = append(out, shutdownEntry{Name: c.name, Order: order, Own: shimctl.StopTimeoutOf(c.st), Status: c.st})
	}
	return out, starting, nil
}

// waitStarts waits, in parallel and up to max, for the starts under way
// of names (shimctl.WaitStarting) and returns those still under way at
// max, sorted.
func waitStarts(rundir string, names []string, max time.Duration) []string {
	var mu sync.Mutex
	var stuck []string
	var wg sync.WaitGroup
	for _, n := range names {
		if config.ValidName(n) != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if shimctl.WaitStarting(rundir, n, max) {
				mu.Lock()
				stuck = append(stuck, n)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(stuck)
	return stuck
}

// inspected is one container's Inspect.
type inspected struct {
	name string
	st   *shimctl.Status
	err  error
}

// inspectAll inspects the valid names in parallel: a stuck shim costs
// its InspectTimeout once, not once per container after it.
func inspectAll(rundir string, names []string) []inspected {
	var out []inspected
	for _, n := range names {
		if config.ValidName(n) == nil {
			out = append(out, inspected{name: n})
		}
	}
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].st, out[i].err = shimctl.Inspect(rundir, out[i].name)
		}()
	}
	wg.Wait()
	return out
}

func loadConfig(e *env, name string) (*config.Config, error) {
	path, err := config.Find(name, e.lxcpath)
	if err != nil {
		return nil, err
	}
	return config.Load(path, name)
}

// stopGrace is what a stop through the shim may take beyond its timeout:
// the kill, the teardown of network and cgroup, the shim's exit. A shim
// that has not answered by then is taken for stuck.
const stopGrace = 5 * time.Second

// stopOutcome is how a stop ended, and what lxc-initd did besides.
type stopOutcome struct {
	Result string // shimctl.StopGraceful, StopForced, StopNotRunning
	Note   string
}

// stopContainer stops name through its shim, from its state directory
// when the shim is dead, or itself when the shim does not answer (then it
// also kills the shim). st is what Inspect said of the container (nil:
// ask). It returns within timeout (negative: the container's own stop
// timeout) plus stopGrace and the kill, whatever the shim does.
func stopContainer(e *env, name string, st *shimctl.Status, timeout time.Duration, kill bool) (stopOutcome, error) {
	if st == nil {
		if s, err := shimctl.Inspect(e.rundir, name); err == nil {
			st = s
		}
	}
	budget := timeout
	if budget < 0 {
		budget = shimctl.StopTimeoutOf(st)
	}
	if st != nil && st.ShimNotResponding {
		return stopStuck(e, name, budget, kill)
	}
	if kill {
		budget = 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget+stopGrace)
	defer cancel()
	resp, err := shimctl.NewClient(e.rundir, name).Stop(ctx, timeout, kill)
	switch {
	case err == nil:
		return stopOutcome{Result: resp.Result}, nil
	case errors.Is(err, shimctl.ErrNotResponding):
		// It answered Inspect but got stuck since: its time is up.
		return stopStuck(e, name, 0, true)
	case !errors.Is(err, shimctl.ErrNoShim):
		// The shim may have exited before its answer reached us; what
		// it recorded in state.json then says how the stop ended.
		if st, serr := shimctl.Inspect(e.rundir, name); serr == nil && !st.ShimAlive && !st.Running() && st.StopResult != "" {
			return stopOutcome{Result: st.StopResult}, nil
		}
		return stopOutcome{}, err
	}
	cfg, cerr := loadConfig(e, name)
	if cerr != nil {
		return stopOutcome{}, fmt.Errorf("%w; and without its config it cannot be stopped from its state: %v", err, cerr)
	}
	if timeout < 0 {
		timeout = budget
	}
	res, err := shimctl.StopOrphan(cfg, e.rundir, timeout, kill, nil)
	return stopOutcome{Result: res}, err
}

// stopStuck stops a container whose shim does not answer (shimctl.StopStuck)
// and says what it did.
func stopStuck(e *env, name string, timeout time.Duration, kill bool) (stopOutcome, error) {
	cfg, err := loadConfig(e, name)
	if err != nil {
		// The cgroup at its default place, the devices from the record.
		cfg = &config.Config{Name: name}
	}
	r, err := shimctl.StopStuck(cfg, e.rundir, timeout, kill, nil)
	out := stopOutcome{Result: r.Result}
	if err != nil {
		return out, err
	}
	out.Note = fmt.Sprintf("its shim (pid %d) did not respond: lxc-initd stopped the container itself, killed the shim (SIGKILL) and removed what the run left", r.ShimPid)
	return out, nil
}
