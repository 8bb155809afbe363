package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
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
	// The columns of lxc-ls -f: from the config, and the addresses of a
	// running container from its shim.
	Autostart    bool     `json:"autostart"`
	Groups       []string `json:"groups,omitempty"`
	IPv4         []string `json:"ipv4"`
	IPv6         []string `json:"ipv6"`
	Unprivileged bool     `json:"unprivileged"`
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
	fancy := fs.Bool("fancy", false, "the columns of lxc-ls -f: name, state, autostart, groups, IPv4, IPv6, unprivileged")
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
	if *fancy {
		fmt.Fprintln(tw, "NAME\tSTATE\tAUTOSTART\tGROUPS\tIPV4\tIPV6\tUNPRIVILEGED")
		for _, le := range entries {
			auto := 0
			if le.Autostart {
				auto = 1
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%t\n", le.Name, strings.ToUpper(le.State), auto,
				dash(le.Groups), dash(le.IPv4), dash(le.IPv6), le.Unprivileged)
		}
		return tw.Flush()
	}
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
func listOne(e *env, name string, withConfig bool) (le listEntry) {
	le = listEntry{Name: name, Config: withConfig, State: "stopped"}
	defer func() { le.IPv4, le.IPv6 = nonNil(le.IPv4), nonNil(le.IPv6) }()
	if withConfig {
		if cfg, err := loadConfig(e, name); err == nil {
			le.Autostart, le.Groups, le.Unprivileged = cfg.Start.Auto, cfg.Groups, len(cfg.Security.IDMap) > 0
		}
	}
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
	if st.ShimAlive && !st.ShimNotResponding && st.Running() {
		le.IPv4, le.IPv6 = addresses(e, name)
	}
	return le
}

// addresses are a running container's IPv4 and IPv6 addresses, as its
// shim reads them inside (none when it cannot say).
func addresses(e *env, name string) (v4, v6 []string) {
	info, err := shimctl.NewClient(e.rundir, name).Info(context.Background())
	if err != nil {
		return nil, nil
	}
	for _, ifc := range sortedKeys(info.IPs) {
		for _, ip := range info.IPs[ifc] {
			if strings.Contains(ip, ":") {
				v6 = append(v6, ip)
			} else {
				v4 = append(v4, ip)
			}
		}
	}
	return v4, v6
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// dash is a list as lxc-ls -f shows it: comma separated, "-" when empty.
func dash(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}
