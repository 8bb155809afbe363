// Package signals names and parses signals the way LXC configs write them,
// classifies how a container's init ended, and picks the signal that asks a
// given init to halt.
package signals

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// RTMin and RTMax are the real-time signal bounds as the C library shows them
// to programs (glibc reserves 32 and 33), so "SIGRTMIN+3" is 37, the signal
// systemd takes as "halt".
const (
	RTMin syscall.Signal = 34
	RTMax syscall.Signal = 64
)

var names = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
	"ILL": syscall.SIGILL, "TRAP": syscall.SIGTRAP, "ABRT": syscall.SIGABRT,
	"IOT": syscall.SIGIOT, "BUS": syscall.SIGBUS, "FPE": syscall.SIGFPE,
	"KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "SEGV": syscall.SIGSEGV,
	"USR2": syscall.SIGUSR2, "PIPE": syscall.SIGPIPE, "ALRM": syscall.SIGALRM,
	"TERM": syscall.SIGTERM, "STKFLT": syscall.SIGSTKFLT, "CHLD": syscall.SIGCHLD,
	"CLD": syscall.SIGCHLD, "CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP,
	"TSTP": syscall.SIGTSTP, "TTIN": syscall.SIGTTIN, "TTOU": syscall.SIGTTOU,
	"URG": syscall.SIGURG, "XCPU": syscall.SIGXCPU, "XFSZ": syscall.SIGXFSZ,
	"VTALRM": syscall.SIGVTALRM, "PROF": syscall.SIGPROF, "WINCH": syscall.SIGWINCH,
	"IO": syscall.SIGIO, "POLL": syscall.SIGPOLL, "PWR": syscall.SIGPWR,
	"SYS": syscall.SIGSYS,
}

// canonical is the name Name prints for each classic signal (aliases such
// as IOT, CLD and POLL are accepted by Parse but never printed).
var canonical = [...]string{
	1: "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1",
	"SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP",
	"TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH",
	"IO", "PWR", "SYS",
}

// Parse reads a signal as LXC's lxc.signal.* keys accept it: a name with
// or without the SIG prefix in any case ("SIGPWR", "pwr"), a number ("30"),
// or a real-time signal ("SIGRTMIN+3", "RTMAX-1").
func Parse(s string) (syscall.Signal, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if t == "" {
		return 0, fmt.Errorf("empty signal")
	}
	if n, err := strconv.Atoi(t); err == nil {
		if n < 1 || n > int(RTMax) {
			return 0, fmt.Errorf("signal number %d out of range 1-%d", n, RTMax)
		}
		return syscall.Signal(n), nil
	}
	t = strings.TrimPrefix(t, "SIG")
	if sig, ok := names[t]; ok {
		return sig, nil
	}
	for _, rt := range []struct {
		prefix string
		base   syscall.Signal
		dir    int
	}{{"RTMIN", RTMin, 1}, {"RTMAX", RTMax, -1}} {
		if !strings.HasPrefix(t, rt.prefix) {
			continue
		}
		rest := t[len(rt.prefix):]
		if rest == "" {
			return rt.base, nil
		}
		sign := rest[0]
		if (rt.dir > 0 && sign != '+') || (rt.dir < 0 && sign != '-') {
			break
		}
		n, err := strconv.Atoi(rest[1:])
		if err != nil || n < 0 || n > int(RTMax-RTMin) || rest[1:] == "" || rest[1] == '+' || rest[1] == '-' {
			break
		}
		return rt.base + syscall.Signal(rt.dir*n), nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// Name is the conventional name of sig: "SIGPWR", "SIGRTMIN+3".
func Name(sig syscall.Signal) string {
	switch {
	case sig >= 1 && int(sig) < len(canonical):
		return "SIG" + canonical[sig]
	case sig >= RTMin && sig <= RTMax:
		if sig == RTMin {
			return "SIGRTMIN"
		}
		return fmt.Sprintf("SIGRTMIN+%d", sig-RTMin)
	}
	return fmt.Sprintf("SIG%d", int(sig))
}

// Kind is how a container's init ended.
type Kind int

const (
	// Exited: the init called exit; Code holds the status.
	Exited Kind = iota
	// Signaled: killed by a signal other than SIGHUP or SIGINT.
	Signaled
	// Reboot: killed by SIGHUP, which the kernel uses to report a reboot(2)
	// called inside a PID namespace.
	Reboot
	// Halt: killed by SIGINT, the kernel's report of a halt or power-off
	// inside a PID namespace.
	Halt
)

// Exit is the classified end of an init.
type Exit struct {
	Kind   Kind
	Code   int
	Signal syscall.Signal
}

// String is the meaning recorded in state.json: "reboot", "halt", "exit 3",
// "signal SIGSEGV".
func (e Exit) String() string {
	switch e.Kind {
	case Reboot:
		return "reboot"
	case Halt:
		return "halt"
	case Signaled:
		return "signal " + Name(e.Signal)
	}
	return fmt.Sprintf("exit %d", e.Code)
}

// Classify turns an init's wait status into what it means for the
// container. A stopped or continued status is reported as Signaled with
// the stop signal; callers only classify a final status.
func Classify(ws syscall.WaitStatus) Exit {
	switch {
	case ws.Exited():
		return Exit{Kind: Exited, Code: ws.ExitStatus()}
	case ws.Signaled():
		switch ws.Signal() {
		case syscall.SIGHUP:
			return Exit{Kind: Reboot, Signal: syscall.SIGHUP}
		case syscall.SIGINT:
			return Exit{Kind: Halt, Signal: syscall.SIGINT}
		}
		return Exit{Kind: Signaled, Signal: ws.Signal()}
	case ws.Stopped():
		return Exit{Kind: Signaled, Signal: ws.StopSignal()}
	}
	return Exit{Kind: Exited, Code: ws.ExitStatus()}
}

// BlockedOrIgnored reads the blocked and ignored signal masks of pid from
// /proc/PID/status. Bit n-1 stands for signal n.
func BlockedOrIgnored(pid int) (blocked, ignored uint64, err error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var gotBlk, gotIgn bool
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch k {
		case "SigBlk":
			dst, gotBlk = &blocked, true
		case "SigIgn":
			dst, gotIgn = &ignored, true
		default:
			continue
		}
		n, perr := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if perr != nil {
			return 0, 0, fmt.Errorf("%s: %s: %w", path, k, perr)
		}
		*dst = n
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	if !gotBlk || !gotIgn {
		return 0, 0, fmt.Errorf("%s: no SigBlk/SigIgn lines", path)
	}
	return blocked, ignored, nil
}

// HaltSignalFor is the signal that asks the init pid to halt: halt when the
// config set it (haltSet), otherwise the default SIGPWR, or SIGRTMIN+3 for an
// init that wants it. Two rules say so:
//   - the init blocks SIGRTMIN+3: systemd reads its signals from a signalfd
//     and so blocks every one it handles, SIGPWR included (which it takes
//     as "start sigpwr.target", not as a halt); LXC detects systemd the
//     same way;
//   - the init blocks or ignores SIGPWR but not SIGRTMIN+3 (DESIGN.md's rule).
//
// If the masks cannot be read the configured or default signal is returned.
func HaltSignalFor(halt syscall.Signal, haltSet bool, pid int) syscall.Signal {
	if halt == 0 {
		halt = syscall.SIGPWR
	}
	if haltSet || halt != syscall.SIGPWR {
		return halt
	}
	blk, ign, err := BlockedOrIgnored(pid)
	if err != nil {
		return halt
	}
	return pickHalt(blk, ign)
}

// pickHalt applies HaltSignalFor's rules to an init's blocked and ignored
// signal masks.
func pickHalt(blocked, ignored uint64) syscall.Signal {
	has := func(mask uint64, s syscall.Signal) bool { return mask&(1<<(uint(s)-1)) != 0 }
	rt3 := RTMin + 3
	if has(blocked, rt3) {
		return rt3
	}
	if has(blocked|ignored, syscall.SIGPWR) && !has(blocked|ignored, rt3) {
		return rt3
	}
	return syscall.SIGPWR
}
