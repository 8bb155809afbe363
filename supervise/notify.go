package supervise

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier tells a supervising systemd (Type=notify, NOTIFY_SOCKET) what
// the shim does. Without NOTIFY_SOCKET every call is a no-op.
type Notifier struct {
	Log *slog.Logger
}

func (n Notifier) send(state string) {
	ok, err := daemon.SdNotify(false, state)
	if err != nil && n.Log != nil {
		n.Log.Warn("sd_notify failed", "state", state, "err", err)
	}
	_ = ok
}

// Ready says the init runs: systemd considers the unit started.
func (n Notifier) Ready(boot, pid int) {
	n.send(fmt.Sprintf("READY=1\nSTATUS=running, boot %d, init pid %d", boot, pid))
}

// Status sends a free-form STATUS= line.
func (n Notifier) Status(s string) { n.send("STATUS=" + s) }

// Stopping says a stop began and asks systemd to wait for its whole grace
// period: EXTEND_TIMEOUT_USEC restarts systemd's stop timer at extend, so
// a container that shuts down within the shim's own timeout is never
// killed by systemd first.
func (n Notifier) Stopping(reason string, extend time.Duration) {
	n.send(fmt.Sprintf("STOPPING=1\nSTATUS=stopping: %s\nEXTEND_TIMEOUT_USEC=%d", reason, extend.Microseconds()))
}

// Extend asks for more time during a stop (after escalation, for the kill
// and teardown).
func (n Notifier) Extend(extend time.Duration, status string) {
	n.send(fmt.Sprintf("STATUS=%s\nEXTEND_TIMEOUT_USEC=%d", status, extend.Microseconds()))
}

// Reloading-free status changes during reboots and restarts.
func (n Notifier) Booting(boot int) { n.Status(fmt.Sprintf("booting, boot %d", boot)) }
