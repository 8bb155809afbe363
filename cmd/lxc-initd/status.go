package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/lxc-shim/lxc-shim/shimctl"
)

// LSB exit codes of status.
const (
	lsbRunning = 0
	lsbDead    = 1 // dead, with state left behind
	lsbStopped = 3
	lsbUnknown = 4
)

// cmdStatus prints a container's state and exits with the LSB code: 0
// running (also without its shim), 3 stopped or halted, 1 dead with state
// left behind (failed, or the shim died and the init with it), 4 no such
// container.
func cmdStatus(e *env, args []string) error {
	fset := flag.NewFlagSet("status", flag.ContinueOnError)
	asJSON := fset.Bool("json", false, "print the state as JSON")
	pos, _, err := parseArgs(fset, args)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(pos) != 1 {
		return &exitError{code: 2, err: errors.New("usage: status NAME [--json]")}
	}
	name := pos[0]
	st, code, err := containerStatus(e, name)
	if err != nil {
		// A script reading the JSON gets an answer too: an object with
		// the error, besides the message on stderr and the exit code.
		if *asJSON {
			b, _ := json.MarshalIndent(struct {
				Name  string `json:"name"`
				Error string `json:"error"`
				Code  int    `json:"code"`
			}{name, err.Error(), code}, "", "  ")
			fmt.Fprintf(e.stdout, "%s\n", b)
		}
		return &exitError{code: code, err: err}
	}
	if *asJSON {
		b, _ := json.MarshalIndent(st, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", b)
	} else {
		fmt.Fprintf(e.stdout, "%s: %s\n", name, describe(st))
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// containerStatus is the status of name and its LSB code. A container
// with a config and no state is stopped.
func containerStatus(e *env, name string) (*shimctl.Status, int, error) {
	st, err := shimctl.Inspect(e.rundir, name)
	if errors.Is(err, fs.ErrNotExist) {
		if _, cerr := loadConfig(e, name); cerr != nil {
			return nil, lsbUnknown, fmt.Errorf("%s: no such container (%v)", name, cerr)
		}
		return &shimctl.Status{Name: name, State: shimctl.StateStopped}, lsbStopped, nil
	}
	if err != nil {
		return nil, lsbUnknown, err
	}
	return st, lsbCode(st), nil
}

func lsbCode(st *shimctl.Status) int {
	switch {
	case st.Running():
		return lsbRunning
	case st.State == shimctl.StateStopped || st.State == shimctl.StateHalted:
		return lsbStopped
	}
	return lsbDead
}

// describe is the one-line, human form of a status.
func describe(st *shimctl.Status) string {
	var b strings.Builder
	switch {
	case st.ShimNotResponding && st.Running():
		fmt.Fprintf(&b, "running, shim not responding (pid %d; init pid %d, boot %d; from state.json and /proc: lxc-initd stop still works)", st.ShimPid, st.Pid, st.BootCount)
	case st.ShimNotResponding:
		fmt.Fprintf(&b, "not running, shim not responding (pid %d; its init is gone; lxc-initd stop ends the shim and cleans up)", st.ShimPid)
	case st.Running() && !st.ShimAlive:
		fmt.Fprintf(&b, "running, no shim (init pid %d, boot %d; the shim died: stop and cleanup still work)", st.Pid, st.BootCount)
	case st.Running():
		fmt.Fprintf(&b, "%s", st.State)
		if st.Pid > 0 {
			fmt.Fprintf(&b, " (init pid %d, boot %d, shim %d", st.Pid, st.BootCount, st.ShimPid)
			if !st.BootedAt.IsZero() {
				fmt.Fprintf(&b, ", up %s", time.Since(st.BootedAt).Round(time.Second))
			}
			if st.Unprivileged {
				b.WriteString(", unprivileged")
			}
			b.WriteString(")")
		}
	case st.State.Final():
		fmt.Fprintf(&b, "%s", st.State)
		if st.Reason != "" {
			fmt.Fprintf(&b, ": %s", st.Reason)
		}
	default:
		fmt.Fprintf(&b, "dead (state %s left behind, no shim and no init; run lxc-initd cleanup)", st.State)
	}
	if st.LastExit != nil && !(st.Running()) {
		fmt.Fprintf(&b, "; last exit: %s", st.LastExit.Meaning)
	}
	if st.RestartCount > 0 {
		fmt.Fprintf(&b, "; %d restart(s)", st.RestartCount)
	}
	if st.LogDropped > 0 {
		fmt.Fprintf(&b, "; %d log line(s) dropped", st.LogDropped)
	}
	if st.StateWriteError != "" {
		fmt.Fprintf(&b, "; state.json not written: %s", st.StateWriteError)
	}
	return b.String()
}
