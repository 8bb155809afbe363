package main

import (
	"context"
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
// lxc-cgroup, lxc-info, lxc-device; lxc-wait and lxc-monitor are in
// watch.go): each goes through the container's shim on its control
// socket.

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
	// The shim waits up to 5 s for the kernel to report the cgroup
	// frozen: the request's deadline leaves room for it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := op(ctx); err != nil {
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
		resp, err := c.Cgroup(context.Background(), key, "")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, resp.Value)
		return nil
	}
	resp, err := c.Cgroup(context.Background(), key, pos[2])
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
	// The shim makes a node or moves an interface and rebuilds the device
	// filter: more than a status takes.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	what, err := c.Device(ctx, action, path, dest)
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
	info, err := c.Info(context.Background())
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
