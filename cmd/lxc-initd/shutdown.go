package main

import (
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

const shutdownHelp = `usage: lxc-initd [-P LXCPATH] [--rundir DIR] shutdown [-t SECONDS]

Stop every running container gracefully, for host shutdown (and as the
ExecStop of lxc-shim-autostart.service).

Containers stop by lxc.start.order, highest first (the reverse of
autostart); the containers of one order stop in parallel. Each is sent its
halt signal (lxc.signal.halt) and given until one common deadline,
-t SECONDS from now (default 60), to shut down; a container still running
at the deadline is killed (lxc.signal.stop, then every process left in its
cgroup). A container whose shim died is stopped from its state directory.

Each container's result is printed: "stopped" (it shut down by itself),
"killed" (it needed the kill), "not running", or the error.

Exit status: 0 when every container shut down by itself, 1 when one needed
a kill or could not be stopped.
`

// shutdownEntry is one running container.
type shutdownEntry struct {
	Name  string
	Order int
}

// stopResult is one container's stop outcome.
type stopResult struct {
	Name   string
	Result string // shimctl.StopGraceful, StopForced, StopNotRunning
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

// stopFunc stops one container, giving it timeout to shut down by itself
// (kill: no grace at all), and says how it ended.
type stopFunc func(name string, timeout time.Duration, kill bool) (result string, err error)

// runShutdown stops plan's batches one after the other, the containers of
// a batch in parallel, every one of them with the time left until
// deadline. A batch that starts after the deadline kills at once.
func runShutdown(plan [][]shutdownEntry, deadline time.Time, now func() time.Time, stop stopFunc) []stopResult {
	var all []stopResult
	for _, batch := range plan {
		left := deadline.Sub(now())
		kill := left <= 0
		if kill {
			left = 0
		}
		results := make([]stopResult, len(batch))
		var wg sync.WaitGroup
		for i, e := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := now()
				res, err := stop(e.Name, left, kill)
				results[i] = stopResult{Name: e.Name, Result: res, Err: err, Took: now().Sub(t0)}
			}()
		}
		wg.Wait()
		all = append(all, results...)
	}
	return all
}

// cmdShutdown stops every running container (see shutdownHelp).
func cmdShutdown(e *env, args []string) error {
	fs := flag.NewFlagSet("shutdown", flag.ContinueOnError)
	secs := fs.Float64("t", 60, "seconds until every container must have shut down")
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
	if *secs < 0 {
		return &exitError{code: 2, err: fmt.Errorf("-t %v: must not be negative", *secs)}
	}
	deadline := time.Now().Add(time.Duration(*secs * float64(time.Second)))

	entries, err := runningContainers(e)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		fmt.Fprintln(e.stdout, "no container is running")
		return nil
	}
	results := runShutdown(planShutdown(entries), deadline, time.Now, func(name string, timeout time.Duration, kill bool) (string, error) {
		return stopContainer(e, name, timeout, kill)
	})

	var killed, failed []string
	for _, r := range results {
		switch {
		case r.Err != nil:
			failed = append(failed, r.Name)
			fmt.Fprintf(e.stdout, "%s: failed: %v\n", r.Name, r.Err)
		case r.Result == shimctl.StopForced:
			killed = append(killed, r.Name)
			fmt.Fprintf(e.stdout, "%s: killed (still running at the deadline, after %s)\n", r.Name, r.Took.Round(time.Millisecond))
		case r.Result == shimctl.StopNotRunning:
			fmt.Fprintf(e.stdout, "%s: not running\n", r.Name)
		default:
			fmt.Fprintf(e.stdout, "%s: stopped (in %s)\n", r.Name, r.Took.Round(time.Millisecond))
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
// broken: it must still be stopped).
func runningContainers(e *env) ([]shutdownEntry, error) {
	ents, err := os.ReadDir(e.rundir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list containers in %s: %w", e.rundir, err)
	}
	names := shimctl.ShimNames(e.rundir)
	for _, ent := range ents {
		if ent.IsDir() && !slices.Contains(names, ent.Name()) {
			names = append(names, ent.Name())
		}
	}
	var out []shutdownEntry
	for _, name := range names {
		if config.ValidName(name) != nil {
			continue
		}
		st, err := shimctl.Inspect(e.rundir, name)
		if err != nil || !st.Running() {
			continue
		}
		order := 0
		if cfg, err := loadConfig(e, name); err == nil {
			order = cfg.Start.Order
		}
		out = append(out, shutdownEntry{Name: name, Order: order})
	}
	return out, nil
}

func loadConfig(e *env, name string) (*config.Config, error) {
	path, err := config.Find(name, e.lxcpath)
	if err != nil {
		return nil, err
	}
	return config.Load(path, name)
}

// stopContainer stops name through its shim, or from its state directory
// when the shim is dead.
func stopContainer(e *env, name string, timeout time.Duration, kill bool) (string, error) {
	resp, err := shimctl.NewClient(e.rundir, name).Stop(timeout, kill)
	if err == nil {
		return resp.Result, nil
	}
	if !errors.Is(err, shimctl.ErrNoShim) {
		// The shim may have exited before its answer reached us; what
		// it recorded in state.json then says how the stop ended.
		if st, serr := shimctl.Inspect(e.rundir, name); serr == nil && !st.ShimAlive && !st.Running() && st.StopResult != "" {
			return st.StopResult, nil
		}
		return "", err
	}
	cfg, cerr := loadConfig(e, name)
	if cerr != nil {
		return "", fmt.Errorf("%w; and without its config it cannot be stopped from its state: %v", err, cerr)
	}
	return shimctl.StopOrphan(cfg, e.rundir, timeout, kill, nil)
}
