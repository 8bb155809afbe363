package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// The verbs that operate a running container as LXC's do (lxc-freeze,
// lxc-cgroup, lxc-info, lxc-wait, lxc-monitor): each goes through the
// container's shim on its control socket.

// oneName parses args for a command that takes NAME and the given number
// of further positional arguments (min..max).
func oneName(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	pos, _, err := parseArgs(fs, args)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	if len(pos) < 1+min || len(pos) > 1+max {
		return nil, &exitError{code: 2, err: errors.New("usage: " + commands()[fs.Name()].usage)}
	}
	return pos, nil
}

// runningShim is the client of name's shim, or the error a verb on a
// running container gives: exit 4 for an unknown container, 1 for one
// that is not running (or runs without its shim, which alone can operate
// it).
func runningShim(e *env, name string) (*shimctl.Client, error) {
	st, code, err := containerStatus(e, name)
	if err != nil {
		return nil, &exitError{code: code, err: err}
	}
	if !st.Running() || !st.ShimAlive {
		why := "not running"
		if st.Running() {
			why = "running without its shim, which alone can operate it; stop and start it"
		}
		return nil, &exitError{code: 1, err: fmt.Errorf("%s: %s", name, why)}
	}
	return shimctl.NewClient(e.rundir, name), nil
}

func cmdFreeze(e *env, args []string) error {
	return freezeVerb(e, "freeze", args)
}

func cmdUnfreeze(e *env, args []string) error {
	return freezeVerb(e, "unfreeze", args)
}

func freezeVerb(e *env, verb string, args []string) error {
	pos, err := oneName(flag.NewFlagSet(verb, flag.ContinueOnError), args, 0, 0)
	if err != nil {
		return err
	}
	c, err := runningShim(e, pos[0])
	if err != nil {
		return err
	}
	op, done := c.Freeze, "frozen"
	if verb == "unfreeze" {
		op, done = c.Unfreeze, "running"
	}
	if err := op(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %s\n", pos[0], done)
	return nil
}

// cmdCgroup reads or sets one cgroup setting of a running container;
// --persist also appends it to the config, so the next boot keeps it.
func cmdCgroup(e *env, args []string) error {
	fs := flag.NewFlagSet("cgroup", flag.ContinueOnError)
	persist := fs.Bool("persist", false, "also append the setting to the container's config")
	// A negative VALUE ("-1", unlimited on v1) is a value, not a flag:
	// it is kept aside while the flags are parsed.
	var plain []string
	negative := ""
	for _, a := range args {
		if len(a) > 1 && a[0] == '-' && a[1] >= '0' && a[1] <= '9' && negative == "" {
			negative = a
			continue
		}
		plain = append(plain, a)
	}
	pos, err := oneName(fs, plain, 1, 2)
	if err != nil {
		return err
	}
	if negative != "" {
		if len(pos) != 2 {
			return &exitError{code: 2, err: errors.New("usage: " + commands()["cgroup"].usage)}
		}
		pos = append(pos, negative)
	}
	name, key := pos[0], pos[1]
	if len(pos) == 2 && *persist {
		return &exitError{code: 2, err: errors.New("cgroup: --persist needs a VALUE")}
	}
	var path string
	if *persist {
		// Before anything changes: the config must be there to take it.
		if path, err = config.Find(name, e.lxcpath); err != nil {
			return &exitError{code: 4, err: fmt.Errorf("%s: no such container (%v)", name, err)}
		}
	}
	c, err := runningShim(e, name)
	if err != nil {
		return err
	}
	if len(pos) == 2 {
		resp, err := c.Cgroup(key, "")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, resp.Value)
		return nil
	}
	resp, err := c.Cgroup(key, pos[2])
	if err != nil {
		return err
	}
	if *persist {
		if err := appendConfigLine(path, resp.Key, pos[2]); err != nil {
			return fmt.Errorf("%s: set live (%s), but not persisted: %w", name, resp.File, err)
		}
	}
	return nil
}

// appendConfigLine adds "KEY = VALUE" at the end of the config file,
// leaving every other byte of it as it was.
func appendConfigLine(path, key, value string) error {
	if strings.ContainsAny(key+value, "\n\r\x00") {
		return fmt.Errorf("%q = %q: not one line", key, value)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	line := fmt.Sprintf("%s = %s\n", key, value)
	if len(b) > 0 && b[len(b)-1] != '\n' {
		line = "\n" + line
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("append to %s: %w", path, err)
	}
	return f.Close()
}

// cmdDevice hands a host device node (PATH starting with /) or network
// interface to a running container, or takes it back (del PATH, or the
// path or name inside).
func cmdDevice(e *env, args []string) error {
	pos, err := oneName(flag.NewFlagSet("device", flag.ContinueOnError), args, 2, 3)
	if err != nil {
		return err
	}
	name, action, path, dest := pos[0], pos[1], pos[2], ""
	if len(pos) == 4 {
		dest = pos[3]
	}
	if action != "add" && action != "del" {
		return &exitError{code: 2, err: fmt.Errorf("device: %q: add or del", action)}
	}
	if action == "del" && dest != "" {
		return &exitError{code: 2, err: errors.New("device del takes no DEST")}
	}
	c, err := runningShim(e, name)
	if err != nil {
		return err
	}
	what, err := c.Device(action, path, dest)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %s\n", name, what)
	return nil
}

// cmdInfo prints what lxc-info -S prints: state, PIDs, boot, uptime,
// addresses, memory, swap, CPU, block I/O, tasks, traffic per veth.
func cmdInfo(e *env, args []string) error {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := oneName(fs, args, 0, 0)
	if err != nil {
		return err
	}
	c, err := runningShim(e, pos[0])
	if err != nil {
		return err
	}
	info, err := c.Info()
	if err != nil {
		return err
	}
	if *asJSON {
		b, _ := json.MarshalIndent(info, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", b)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 1, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s:\t%v\n", k, v) }
	row("Name", info.Name)
	row("State", strings.ToUpper(string(info.State)))
	row("PID", info.Pid)
	row("Shim PID", info.ShimPid)
	row("Boot", info.BootCount)
	row("Uptime", (time.Duration(info.UptimeSeconds) * time.Second).String())
	for _, ifc := range sortedKeys(info.IPs) {
		for _, ip := range info.IPs[ifc] {
			row("IP", ip+" ("+ifc+")")
		}
	}
	opt := func(k string, v *uint64, format func(uint64) string) {
		if v != nil {
			row(k, format(*v))
		}
	}
	opt("CPU use", info.CPUNanoseconds, func(n uint64) string { return fmt.Sprintf("%.2f seconds", float64(n)/1e9) })
	opt("BlkIO use", info.BlkIOBytes, humanBytes)
	opt("Memory use", info.MemoryBytes, humanBytes)
	if info.MemoryBytes != nil {
		limit := "unlimited"
		if info.MemoryLimitBytes != nil {
			limit = humanBytes(*info.MemoryLimitBytes)
		}
		row("Memory limit", limit)
	}
	opt("Swap use", info.SwapBytes, humanBytes)
	opt("Tasks", info.Pids, func(n uint64) string { return fmt.Sprint(n) })
	for _, n := range info.Net {
		row("Link", n.Host+" ("+n.Name+")")
		row(" TX bytes", humanBytes(n.TxBytes))
		row(" RX bytes", humanBytes(n.RxBytes))
		row(" Total bytes", humanBytes(n.TxBytes+n.RxBytes))
	}
	return tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// humanBytes is n as lxc-info shows sizes: "1.50 MiB".
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.2f %ciB", v, "KMGTP"[i])
}

// waitStates are the states wait takes; "stopped" also matches halted
// and failed (the container is not running any more).
var waitStates = []shimctl.State{shimctl.StateRunning, shimctl.StateStopped, shimctl.StateFrozen, shimctl.StateRebooting, shimctl.StateBooting, shimctl.StateStopping, shimctl.StateHalted, shimctl.StateFailed}

// parseWaitStates reads --state: one state or several joined by "|", in
// any case (lxc-wait writes RUNNING|FROZEN).
func parseWaitStates(s string) (map[shimctl.State]bool, error) {
	want := map[shimctl.State]bool{}
	for _, part := range strings.Split(strings.ToLower(s), "|") {
		st := shimctl.State(strings.TrimSpace(part))
		ok := false
		for _, w := range waitStates {
			ok = ok || w == st
		}
		if !ok {
			return nil, fmt.Errorf("unknown state %q (running, stopped, frozen, rebooting, booting, stopping, halted, failed)", part)
		}
		want[st] = true
	}
	return want, nil
}

// reached says whether state st is one of want.
func reached(want map[shimctl.State]bool, st shimctl.State) bool {
	return want[st] || (want[shimctl.StateStopped] && st.Final())
}

// cmdWait returns once the container is in one of the states (the shim
// pushes every change, so a passing state such as rebooting is seen), or
// exits 1 at the timeout.
func cmdWait(e *env, args []string) error {
	fs := flag.NewFlagSet("wait", flag.ContinueOnError)
	stateArg := fs.String("state", "", "the state(s) to wait for, e.g. running or RUNNING|FROZEN")
	secs := fs.Float64("t", -1, "give up after SECONDS (exit 1); default: wait for ever")
	pos, err := oneName(fs, args, 0, 0)
	if err != nil {
		return err
	}
	name := pos[0]
	want, err := parseWaitStates(*stateArg)
	if *stateArg == "" || err != nil {
		if err == nil {
			err = errors.New("--state is required")
		}
		return &exitError{code: 2, err: err}
	}
	if _, code, err := containerStatus(e, name); err != nil {
		return &exitError{code: code, err: err}
	}
	var deadline <-chan time.Time
	if *secs >= 0 {
		t := time.NewTimer(time.Duration(*secs * float64(time.Second)))
		defer t.Stop()
		deadline = t.C
	}
	w, err := newShimWatcher(e.rundir, []string{name})
	if err != nil {
		return err
	}
	defer w.Close()
	for {
		select {
		case ev := <-w.Events:
			if reached(want, ev.State) {
				return nil
			}
		case <-deadline:
			return &exitError{code: 1, err: fmt.Errorf("%s: not %s after %g seconds", name, *stateArg, *secs)}
		}
	}
}

// monitorLine is one line of monitor --json.
type monitorLine struct {
	Name  string        `json:"name"`
	State shimctl.State `json:"state"`
	Boot  int           `json:"boot,omitempty"`
	Pid   int           `json:"pid,omitempty"`
	Time  time.Time     `json:"time"`
}

// cmdMonitor prints one line per state change of the named containers (all
// of them without names) until interrupted. The shims push their changes;
// new shims are found through inotify on the run directory.
func cmdMonitor(e *env, args []string) error {
	fs := flag.NewFlagSet("monitor", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "one JSON object per line")
	names, _, err := parseArgs(fs, args)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	for _, n := range names {
		if err := config.ValidName(n); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	w, err := newShimWatcher(e.rundir, names)
	if err != nil {
		return err
	}
	defer w.Close()
	enc := json.NewEncoder(e.stdout)
	for ev := range w.Events {
		if ev.Initial || ev.State == "" {
			continue // a state it was in before monitor started, or none yet
		}
		if *asJSON {
			_ = enc.Encode(monitorLine{Name: ev.Name, State: ev.State, Boot: ev.BootCount, Pid: ev.Pid, Time: time.Now().UTC()})
		} else {
			fmt.Fprintf(e.stdout, "'%s' changed state to [%s]\n", ev.Name, strings.ToUpper(string(ev.State)))
		}
	}
	return nil
}
