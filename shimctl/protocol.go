package shimctl

import "time"

// The control socket (RUNDIR/NAME/control.sock, mode 0600, root only by
// SO_PEERCRED) speaks newline-delimited JSON. A client connects, writes one
// Request line, and reads Response lines:
//
//	{"op":"status"}                         -> {"ok":true,"status":{...}}
//	{"op":"stop","timeout":5,"kill":false}  -> {"ok":true,"result":"graceful"}
//	                                           then EOF once the shim is gone
//	{"op":"reboot"}                         -> {"ok":true,"signal":"SIGINT"}
//	{"op":"console","tty":0,"rows":24,"cols":80}
//	                                        -> {"ok":true}, then the
//	                                           connection belongs to the
//	                                           console multiplexer (package
//	                                           console), which carries the
//	                                           raw bytes both ways
//	{"op":"resize","tty":0,"rows":50,"cols":132}
//	                                        -> {"ok":true} (on a connection
//	                                           of its own, e.g. on SIGWINCH)
//
//	{"op":"freeze"}, {"op":"unfreeze"}     -> {"ok":true} once the kernel
//	                                           reports the cgroup frozen
//	                                           (thawed)
//	{"op":"cgroup","key":"memory.max"}      -> {"ok":true,"value":"..."}
//	{"op":"cgroup","key":K,"value":V}       -> {"ok":true} once written
//	{"op":"info"}                           -> {"ok":true,"info":{...}}
//	{"op":"device","action":"add","path":"/dev/loop7","dest":"/dev/sdz"}
//	                                        -> {"ok":true,"value":"what was done"}
//	{"op":"events"}                         -> {"ok":true,"status":{...}}
//	                                           now, then one such line per
//	                                           state change until the shim
//	                                           ends (EOF)
//
// A refused request gets {"ok":false,"error":"..."} and the connection is
// closed.

// Op names of the control protocol.
const (
	OpStatus  = "status"
	OpStop    = "stop"
	OpReboot  = "reboot"
	OpConsole = "console"
	OpResize  = "resize"
	// Operating a running container, as LXC's own verbs.
	OpFreeze   = "freeze"
	OpUnfreeze = "unfreeze"
	OpCgroup   = "cgroup"
	OpInfo     = "info"
	OpEvents   = "events"
	OpDevice   = "device"
)

// Request is one control request.
type Request struct {
	Op string `json:"op"`
	// Timeout is the stop's grace period in seconds; absent means the
	// shim's --stop-timeout (default 60 s).
	Timeout *float64 `json:"timeout,omitempty"`
	// Kill skips the grace period: lxc.signal.stop and the cgroup kill at
	// once.
	Kill bool `json:"kill,omitempty"`
	// TTY is the console to attach: 0 for /dev/console, N for /dev/ttyN.
	TTY  int    `json:"tty,omitempty"`
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
	// NotAfter is when the client gives up waiting (its deadline, Unix
	// nanoseconds; 0: none). A shim that reads the request later (it was
	// stopped or stuck meanwhile) refuses it rather than act on a
	// request nobody waits for: a reboot or a stop after the caller gave
	// up and did something else would be a change nobody asked for then.
	NotAfter int64 `json:"not_after,omitempty"`
	// Key and Value are a cgroup request's setting, in any form the
	// config takes (lxc.cgroup.memory.limit_in_bytes, memory.max, ...);
	// no Value reads it.
	Key   string `json:"key,omitempty"`
	Value string `json:"value,omitempty"`
	// Action (add, del), Path and Dest are a device request's: a host
	// device node or network interface, and its path or name inside.
	Action string `json:"action,omitempty"`
	Path   string `json:"path,omitempty"`
	Dest   string `json:"dest,omitempty"`
}

// Expired reports whether the client of r gave up before now.
func (r Request) Expired(now time.Time) bool {
	return r.NotAfter != 0 && now.UnixNano() > r.NotAfter
}

// Stop results.
const (
	StopGraceful   = "graceful"    // the init ended within the timeout
	StopForced     = "forced"      // killed after the timeout (or --kill)
	StopNotRunning = "not running" // nothing to stop
)

// Response is one control answer.
type Response struct {
	OK     bool    `json:"ok"`
	Error  string  `json:"error,omitempty"`
	Status *Status `json:"status,omitempty"`
	// Result is a stop's outcome: graceful, forced or not running.
	Result string `json:"result,omitempty"`
	// Signal is the signal a stop or reboot sent first.
	Signal string `json:"signal,omitempty"`
	// Value is what a cgroup request read; File the controller file it
	// was read from or written to.
	// Key is the setting's key in the config's form, for --persist.
	Value string `json:"value,omitempty"`
	Key   string `json:"key,omitempty"`
	File  string `json:"file,omitempty"`
	// Info is an info request's answer.
	Info *Info `json:"info,omitempty"`
}
