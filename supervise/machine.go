package supervise

import (
	"fmt"
	"slices"
)

// State is where a container is in its life under one shim.
type State string

const (
	// StateBooting: namespaces, cgroup and network are being set up and
	// the init is not running yet.
	StateBooting State = "booting"
	// StateRunning: the init runs.
	StateRunning State = "running"
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

// transitions is the allow-list: a state change that is not here is a bug
// in the shim, and Machine refuses it rather than record a lie.
// It is exactly what the lifecycle (lifecycle.go) does; TestLifecycle-
// TakesEveryTransition checks that each one is taken.
var transitions = map[State][]State{
	"":             {StateBooting},
	StateBooting:   {StateRunning, StateBackoff, StateFailed, StateStopped},
	StateRunning:   {StateStopping, StateRebooting, StateBackoff, StateStopped, StateHalted, StateFailed},
	StateStopping:  {StateStopped},
	StateRebooting: {StateBooting},
	StateBackoff:   {StateBooting, StateStopped},
	StateStopped:   nil,
	StateHalted:    nil,
	StateFailed:    nil,
}

// Final reports whether a state is the end of a shim's life.
func (s State) Final() bool {
	return s == StateStopped || s == StateHalted || s == StateFailed
}

// Active reports whether the container may have processes in this state.
func (s State) Active() bool {
	switch s {
	case StateBooting, StateRunning, StateStopping, StateRebooting:
		return true
	}
	return false
}

// Machine holds the current state and enforces the allow-list. It is not
// safe for concurrent use; the shim's event loop owns it.
type Machine struct {
	cur State
}

// State is the current state ("" before the first boot).
func (m *Machine) State() State { return m.cur }

// To moves to next or returns an error naming both states.
func (m *Machine) To(next State) error {
	if !CanTransition(m.cur, next) {
		return fmt.Errorf("state %q cannot go to %q", m.cur, next)
	}
	m.cur = next
	return nil
}

// CanTransition reports whether from -> to is allowed.
func CanTransition(from, to State) bool {
	return slices.Contains(transitions[from], to)
}
