package supervise

import (
	"fmt"
	"time"
)

// RestartMode is the --restart policy for a crashed init.
type RestartMode string

const (
	RestartNo        RestartMode = "no"
	RestartOnFailure RestartMode = "on-failure"
	RestartAlways    RestartMode = "always"
)

// ParseRestartMode accepts "no", "on-failure" and "always".
func ParseRestartMode(s string) (RestartMode, error) {
	switch m := RestartMode(s); m {
	case RestartNo, RestartOnFailure, RestartAlways:
		return m, nil
	}
	return "", fmt.Errorf("restart policy %q: want no, on-failure or always", s)
}

// Policy decides whether and when a crashed container boots again.
// Defaults: on-failure, at most 10 restarts in 60 s, backoff from 100 ms
// doubling up to 30 s.
type Policy struct {
	Mode       RestartMode
	Max        int
	Window     time.Duration
	BackoffMin time.Duration
	BackoffMax time.Duration
}

// DefaultPolicy is the policy of a shim started without --restart flags.
func DefaultPolicy() Policy {
	return Policy{Mode: RestartOnFailure, Max: 10, Window: 60 * time.Second,
		BackoffMin: 100 * time.Millisecond, BackoffMax: 30 * time.Second}
}

// restarts remembers when the container was restarted, to apply the
// window and to size the backoff.
type restarts struct {
	at []time.Time
}

// Decide is called when an init ended with a crash (failure) or a clean
// exit (failure false). It returns whether to restart, after how long, and
// when not, why.
func (p Policy) decide(r *restarts, failure bool, now time.Time) (restart bool, delay time.Duration, why string) {
	switch {
	case p.Mode == RestartNo:
		return false, 0, "restart policy is no"
	case !failure && p.Mode != RestartAlways:
		return false, 0, "exited 0, restart policy is " + string(p.Mode)
	}
	// Only the restarts within the window count, both for the limit and
	// for the backoff: a container that ran quietly for a window starts
	// again at the shortest delay.
	kept := r.at[:0]
	for _, t := range r.at {
		if now.Sub(t) < p.Window {
			kept = append(kept, t)
		}
	}
	r.at = kept
	if p.Max >= 0 && len(r.at) >= p.Max {
		return false, 0, fmt.Sprintf("gave up after %d restarts within %s", len(r.at), p.Window)
	}
	delay = p.BackoffMin
	for i := 0; i < len(r.at) && delay < p.BackoffMax; i++ {
		delay *= 2
	}
	if delay > p.BackoffMax {
		delay = p.BackoffMax
	}
	r.at = append(r.at, now)
	return true, delay, ""
}
