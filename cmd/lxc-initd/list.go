package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"text/tabwriter"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/lxccmd"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// listEntry is one line of list.
type listEntry struct {
	Name      string `json:"name"`
	State     string `json:"state"`
	Pid       int    `json:"pid,omitempty"`
	BootCount int    `json:"boot_count,omitempty"`
	Restarts  int    `json:"restart_count,omitempty"`
	Shim      bool   `json:"shim"`
	// ShimNotResponding: a shim holds the container but did not answer.
	ShimNotResponding bool   `json:"shim_not_responding,omitempty"`
	LastExit          string `json:"last_exit,omitempty"`
	Config            bool   `json:"config"`
	// LXC is set when LXC (lxc-start) runs a container of this name: the
	// lxcpath it runs under, and its init's pid as LXC gives it.
	LXC *lxcEntry `json:"lxc,omitempty"`
}

// lxcEntry is what list shows of a container LXC runs.
type lxcEntry struct {
	LXCPath string `json:"lxcpath"`
	Pid     int    `json:"pid,omitempty"`
}

// cmdList lists the containers along the lxc path and those with state in
// the run directory (a container whose config was removed while it ran is
// still listed), marking those that LXC runs (its command socket answers).
func cmdList(e *env, args []string) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, _, err := parseArgs(fs, args); err != nil {
		return &exitError{code: 2, err: err}
	}
	names, err := containerNames(e.lxcpath)
	if err != nil {
		return err
	}
	withConfig := map[string]bool{}
	for _, n := range names {
		withConfig[n] = true
	}
	// With a state directory, or a shim whose directory was removed.
	extra := shimctl.ShimNames(e.rundir)
	if ents, err := os.ReadDir(e.rundir); err == nil {
		for _, ent := range ents {
			if ent.IsDir() {
				extra = append(extra, ent.Name())
			}
		}
	}
	seen := map[string]bool{}
	for _, n := range extra {
		if config.ValidName(n) == nil && !withConfig[n] && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	entries := make([]listEntry, len(names))
	lxcPaths := lxccmd.Paths(e.lxcpath)
	// In parallel: a stuck shim costs its InspectTimeout once.
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			entries[i] = listOne(e, n, withConfig[n])
			if p, pid := lxccmd.Find(lxcPaths, n); p != "" {
				entries[i].LXC = &lxcEntry{LXCPath: p, Pid: pid}
			}
		}()
	}
	wg.Wait()
	if *asJSON {
		b, _ := json.MarshalIndent(entries, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", b)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPID\tBOOT\tSHIM\tLAST EXIT\tLXC")
	for _, le := range entries {
		pid, shim := "-", "-"
		if le.Pid > 0 {
			pid = fmt.Sprint(le.Pid)
		}
		if le.ShimNotResponding {
			shim = "STUCK"
		} else if le.Shim {
			shim = "yes"
		} else if le.Pid > 0 {
			shim = "DEAD"
		}
		last := le.LastExit
		if last == "" {
			last = "-"
		}
		// A container LXC runs is marked, so that nobody starts it
		// a second time under the other tool.
		lxc := "-"
		if le.LXC != nil {
			lxc = "RUNNING " + le.LXC.LXCPath
			if le.LXC.Pid > 0 {
				lxc += fmt.Sprintf(" (pid %d)", le.LXC.Pid)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", le.Name, le.State, pid, le.BootCount, shim, last, lxc)
	}
	return tw.Flush()
}

// listOne is name's line of list.
func listOne(e *env, name string, withConfig bool) listEntry {
	le := listEntry{Name: name, Config: withConfig, State: "stopped"}
	st, _, err := containerStatus(e, name)
	if err != nil {
		return le
	}
	le.State = string(st.State)
	switch {
	case st.Running():
		le.State = "running"
		if st.State != "" && st.ShimAlive && !st.ShimNotResponding {
			le.State = string(st.State)
		}
		le.Pid = st.Pid
	case st.ShimNotResponding || !st.State.Final():
		le.State = "dead"
	}
	le.BootCount, le.Restarts, le.Shim = st.BootCount, st.RestartCount, st.ShimAlive
	le.ShimNotResponding = st.ShimNotResponding
	if st.LastExit != nil {
		le.LastExit = st.LastExit.Meaning
	}
	return le
}
