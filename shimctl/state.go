package shimctl

// State is where a container is in its life under one shim.
type State string

const (
	// StateBooting: namespaces, cgroup and network are being set up and
	// the init is not running yet.
	StateBooting State = "booting"
	// StateRunning: the init runs.
	StateRunning State = "running"
	// StateFrozen: every process of the container's cgroup is frozen
	// (freeze); unfreeze makes it running again, a stop thaws it first.
	StateFrozen State = "frozen"
	// StateStopping: a stop was asked for; the halt signal was sent and
	// the shim waits for the init to die (or for the timeout).
	StateStopping State = "stopping"
	// StateRebooting: the init asked for a reboot; the old run is being
	// torn down before booting again.
	StateRebooting State = "rebooting"
	// StateBackoff: the init crashed and the shim waits before the next
	// boot, as the restart policy says.
	StateBackoff State = "backoff"
	// StateStopped: the container was stopped (a stop request, or an init
	// that exited 0). Final.
	StateStopped State = "stopped"
	// StateHalted: the init halted the container from inside. Final.
	StateHalted State = "halted"
	// StateFailed: a boot failed, or the restart policy gave up. Final.
	StateFailed State = "failed"
)

// Final reports whether a state is the end of a shim's life.
func (s State) Final() bool {
	return s == StateStopped || s == StateHalted || s == StateFailed
}

// Active reports whether the container may have processes in this state.
func (s State) Active() bool {
	switch s {
	case StateBooting, StateRunning, StateFrozen, StateStopping, StateRebooting:
		return true
	}
	return false
}
