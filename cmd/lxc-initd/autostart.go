package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lxc-shim/lxc-shim/config"
)

const autostartHelp = `usage: lxc-initd [-P LXCPATH] [--rundir DIR] [--logdir DIR] autostart [--group G]... [--dry-run]

Start every container whose config says lxc.start.auto = 1, for hosts that
start containers without an OpenRC service or a systemd unit per container
(and as the ExecStart of lxc-shim-autostart.service).

Containers start by lxc.start.order, lowest first. The containers of one
order start in parallel; once all of them run (or failed), lxc-initd waits
the longest lxc.start.delay among them, then starts the next order.
Containers already running are left as they are.

--group G starts only containers with G among their lxc.group values
(repeat it, or give a comma-separated list, for several groups). Without
--group every lxc.start.auto container starts, whatever its groups (unlike
lxc-autostart, which then starts only containers in no group).

--dry-run prints the plan (order, containers, delay) and starts nothing.

The global options are honoured: -P is where the configs are looked for,
--rundir and --logdir are given to each container's lxc-shim, as start
does.

Exit status: 0 when every container started, 1 when one did not (each
failure is printed with its cause; the others still start).
`

// autoEntry is one container that autostart considers.
type autoEntry struct {
	Name   string
	Order  int
	Delay  time.Duration
	Groups []string
}

// containerNames lists the containers along lxcpath: directories holding
// a "config" file and NAME.conf files but LXC's own (config.LXCOwnConf),
// the first directory that has a name winning (as config.Find resolves it).
func containerNames(lxcpath []string) ([]string, error) {
	if len(lxcpath) == 0 {
		lxcpath = config.SplitLXCPath(config.DefaultLXCPath)
	}
	seen := map[string]bool{}
	var names []string
	for _, dir := range lxcpath {
		ents, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list containers in %s: %w", dir, err)
		}
		for _, ent := range ents {
			name := ""
			if st, err := os.Stat(filepath.Join(dir, ent.Name(), "config")); err == nil && st.Mode().IsRegular() {
				name = ent.Name()
			} else if n, ok := strings.CutSuffix(ent.Name(), ".conf"); ok && n != "" && !ent.IsDir() && !config.LXCOwnConf(n) {
				name = n
			}
			if name == "" || seen[name] || config.ValidName(name) != nil {
				continue
			}
			seen[name] = true
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// groupList collects repeated, comma-separated --group values.
type groupList []string

func (g *groupList) String() string { return strings.Join(*g, ",") }
func (g *groupList) Set(v string) error {
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*g = append(*g, x)
		}
	}
	return nil
}

// planAutostart keeps the entries in one of groups (all when groups is
// empty) and batches them by order, lowest first; a batch is sorted by
// name so that output is stable.
func planAutostart(entries []autoEntry, groups []string) [][]autoEntry {
	byOrder := map[int][]autoEntry{}
	for _, e := range entries {
		if len(groups) > 0 && !slices.ContainsFunc(e.Groups, func(g string) bool { return slices.Contains(groups, g) }) {
			continue
		}
		byOrder[e.Order] = append(byOrder[e.Order], e)
	}
	orders := make([]int, 0, len(byOrder))
	for o := range byOrder {
		orders = append(orders, o)
	}
	sort.Ints(orders)
	plan := make([][]autoEntry, 0, len(orders))
	for _, o := range orders {
		b := byOrder[o]
		sort.Slice(b, func(i, j int) bool { return b[i].Name < b[j].Name })
		plan = append(plan, b)
	}
	return plan
}

// batchDelay is the wait after a batch: the longest lxc.start.delay in it.
func batchDelay(b []autoEntry) time.Duration {
	var d time.Duration
	for _, e := range b {
		d = max(d, e.Delay)
	}
	return d
}

// startResult is one container's outcome.
type startResult struct {
	Name   string
	Err    error
	Stdout string // what the start printed: its one result line
	Stderr string // its warnings
}

// reportStart prints a start's result once: "NAME: started (pid …)" (the
// start's own line, NAME first as in every line here) or "NAME: failed:
// cause", then the start's warnings indented under it.
func reportStart(w io.Writer, r startResult) {
	if r.Err != nil {
		fmt.Fprintf(w, "%s: failed: %v\n", r.Name, r.Err)
	} else {
		line := strings.TrimSpace(r.Stdout)
		if line == "" {
			line = "started"
		}
		fmt.Fprintf(w, "%s: %s\n", r.Name, strings.TrimPrefix(line, r.Name+" "))
	}
	writeIndented(w, r.Stderr)
}

// runBatches starts each batch's containers in parallel with start, waits
// for all of them, reports each result through report (in name order),
// and sleeps the batch's delay before the next batch (not after the last).
func runBatches(plan [][]autoEntry, start func(name string) (stdout, stderr string, err error), sleep func(time.Duration), report func(startResult)) (failed []string) {
	for i, batch := range plan {
		results := make([]startResult, len(batch))
		var wg sync.WaitGroup
		for j, e := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stdout, stderr, err := start(e.Name)
				results[j] = startResult{Name: e.Name, Err: err, Stdout: stdout, Stderr: stderr}
			}()
		}
		wg.Wait()
		for _, r := range results {
			report(r)
			if r.Err != nil {
				failed = append(failed, r.Name)
			}
		}
		if d := batchDelay(batch); d > 0 && i < len(plan)-1 {
			sleep(d)
		}
	}
	return failed
}

// cmdAutostart starts the lxc.start.auto containers (see autostartHelp).
func cmdAutostart(e *env, args []string) error {
	fs := flag.NewFlagSet("autostart", flag.ContinueOnError)
	var groups groupList
	fs.Var(&groups, "group", "only containers in this lxc.group (repeatable, comma-separated)")
	dry := fs.Bool("dry-run", false, "print the plan, start nothing")
	pos, _, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(e.stdout, autostartHelp)
		return nil
	}
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(pos) > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q", pos[0])}
	}

	entries, bad := autostartEntries(e, e.lxcpath)
	for _, b := range bad {
		fmt.Fprintf(e.stderr, "lxc-initd autostart: %v\n", b)
	}
	plan := planAutostart(entries, groups)
	if *dry {
		for _, b := range plan {
			names := make([]string, len(b))
			for i, x := range b {
				names[i] = x.Name
			}
			fmt.Fprintf(e.stdout, "order %d: %s (then wait %s)\n", b[0].Order, strings.Join(names, " "), batchDelay(b))
		}
		return nil
	}

	var mu sync.Mutex
	start := func(name string) (string, string, error) {
		// Each start gets its own output, printed once it is done, so
		// that parallel starts do not interleave their lines.
		var out, warn bytes.Buffer
		err := cmdStart(&env{lxcpath: e.lxcpath, rundir: e.rundir, logdir: e.logdir, stdout: &out, stderr: &warn}, []string{name})
		return out.String(), warn.String(), err
	}
	report := func(r startResult) {
		mu.Lock()
		defer mu.Unlock()
		reportStart(e.stdout, r)
	}
	failed := runBatches(plan, start, time.Sleep, report)
	if len(failed) > 0 || len(bad) > 0 {
		n := len(failed) + len(bad)
		return fmt.Errorf("%d container(s) not started%s", n, listSuffix(failed))
	}
	return nil
}

// autostartEntries loads every container's config and keeps those with
// lxc.start.auto = 1. A config that does not load is returned in bad (it
// might be a container meant to start).
func autostartEntries(e *env, lxcpath []string) (entries []autoEntry, bad []error) {
	names, err := containerNames(lxcpath)
	if err != nil {
		return nil, []error{err}
	}
	for _, name := range names {
		path, err := config.Find(name, lxcpath)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		cfg, err := config.Load(path, name)
		if err != nil {
			bad = append(bad, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if !cfg.Start.Auto {
			continue
		}
		entries = append(entries, autoEntry{
			Name: name, Order: cfg.Start.Order,
			Delay:  time.Duration(cfg.Start.Delay) * time.Second,
			Groups: cfg.Groups,
		})
	}
	return entries, bad
}

func writeIndented(w io.Writer, s string) {
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l != "" {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
}

func listSuffix(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return ": " + strings.Join(names, ", ")
}
