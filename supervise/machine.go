package supervise

import (
	"fmt"
	"slices"

	"github.com/lxc-shim/lxc-shim/shimctl"
)

// transitions is the allow-list: a state change that is not here is a bug
// in the shim, and Machine refuses it rather than record a lie.
// It is exactly what the lifecycle (lifecycle.go) does; TestLifecycle-
// TakesEveryTransition checks that each one is taken.
var transitions = map[shimctl.State][]shimctl.State{
	"":                     {shimctl.StateBooting},
	shimctl.StateBooting:   {shimctl.StateRunning, shimctl.StateBackoff, shimctl.StateFailed, shimctl.StateStopped},
	shimctl.StateRunning:   {shimctl.StateFrozen, shimctl.StateStopping, shimctl.StateRebooting, shimctl.StateBackoff, shimctl.StateStopped, shimctl.StateHalted, shimctl.StateFailed},
	shimctl.StateFrozen:    {shimctl.StateRunning, shimctl.StateStopping},
	shimctl.StateStopping:  {shimctl.StateStopped},
	shimctl.StateRebooting: {shimctl.StateBooting},
	shimctl.StateBackoff:   {shimctl.StateBooting, shimctl.StateStopped},
	shimctl.StateStopped:   nil,
	shimctl.StateHalted:    nil,
	shimctl.StateFailed:    nil,
}

// Machine holds the current state and enforces the allow-list. It is not
// safe for concurrent use; the shim's event loop owns it.
type Machine struct {
	cur shimctl.State
}

// State is the current state ("" before the first boot).
func (m *Machine) State() shimctl.State { return m.cur }

// To moves to next or returns an error naming both states.
func (m *Machine) To(next shimctl.State) error {
	if !CanTransition(m.cur, next) {
		return fmt.Errorf("state %q cannot go to %q", m.cur, next)
	}
	m.cur = next
	return nil
}

// CanTransition reports whether from -> to is allowed.
func CanTransition(from, to shimctl.State) bool {
	return slices.Contains(transitions[from], to)
}
