package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/lxc-shim/lxc-shim/config"
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
	LastExit  string `json:"last_exit,omitempty"`
	Config    bool   `json:"config"`
	// The columns of lxc-ls -f: from the config, and the addresses of a
	// running container from its shim.
	Autostart    bool     `json:"autostart"`
	Groups       []string `json:"groups,omitempty"`
	IPv4         []string `json:"ipv4"`
	IPv6         []string `json:"ipv6"`
	Unprivileged bool     `json:"unprivileged"`
}

// cmdList lists the containers along the lxc path and those with state in
// the run directory (a container whose config was removed while it ran is
// still listed).
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
	entries := []listEntry{}
	for _, n := range names {
		le := listEntry{Name: n, Config: withConfig[n], State: "stopped"}
		st, _, err := containerStatus(e, n)
		if err == nil {
			le.State = string(st.State)
			if st.Running() {
				le.State = "running"
				if st.State != "" && st.ShimAlive {
					le.State = string(st.State)
				}
				le.Pid = st.Pid
			} else if !st.State.Final() {
				le.State = "dead"
			}
			le.BootCount, le.Restarts, le.Shim = st.BootCount, st.RestartCount, st.ShimAlive
			if st.LastExit != nil {
				le.LastExit = st.LastExit.Meaning
			}
			if st.ShimAlive && st.Running() {
				le.IPv4, le.IPv6 = addresses(e, n)
			}
		}
		if le.Config {
			if cfg, err := loadConfig(e, n); err == nil {
				le.Autostart, le.Groups, le.Unprivileged = cfg.Start.Auto, cfg.Groups, len(cfg.Security.IDMap) > 0
			}
		}
		le.IPv4, le.IPv6 = nonNil(le.IPv4), nonNil(le.IPv6)
		entries = append(entries, le)
	}
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
	fmt.Fprintln(tw, "NAME\tSTATE\tPID\tBOOT\tSHIM\tLAST EXIT")
	for _, le := range entries {
		pid, shim := "-", "-"
		if le.Pid > 0 {
			pid = fmt.Sprint(le.Pid)
		}
		if le.Shim {
			shim = "yes"
		} else if le.Pid > 0 {
			shim = "DEAD"
		}
		last := le.LastExit
		if last == "" {
			last = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", le.Name, le.State, pid, le.BootCount, shim, last)
	}
	return tw.Flush()
}

// addresses are a running container's IPv4 and IPv6 addresses, as its
// shim reads them inside (none when it cannot say).
func addresses(e *env, name string) (v4, v6 []string) {
	info, err := shimctl.NewClient(e.rundir, name).Info()
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
