package supervise

import (
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/shimctl"
)

func TestMachineAllowed(t *testing.T) {
	paths := [][]shimctl.State{
		{shimctl.StateBooting, shimctl.StateRunning, shimctl.StateStopping, shimctl.StateStopped},
		{shimctl.StateBooting, shimctl.StateRunning, shimctl.StateRebooting, shimctl.StateBooting, shimctl.StateRunning, shimctl.StateHalted},
		{shimctl.StateBooting, shimctl.StateRunning, shimctl.StateBackoff, shimctl.StateBooting, shimctl.StateRunning, shimctl.StateFailed},
		{shimctl.StateBooting, shimctl.StateFailed},
		{shimctl.StateBooting, shimctl.StateRunning, shimctl.StateBackoff, shimctl.StateStopped},
	}
	for _, p := range paths {
		var m Machine
		for _, s := range p {
			if err := m.To(s); err != nil {
				t.Errorf("path %v: %v", p, err)
				break
			}
		}
		if m.State() != p[len(p)-1] {
			t.Errorf("path %v ended in %q", p, m.State())
		}
	}
}

func TestMachineRefused(t *testing.T) {
	bad := [][2]shimctl.State{
		{"", shimctl.StateRunning},
		{shimctl.StateStopped, shimctl.StateBooting},
		{shimctl.StateHalted, shimctl.StateRunning},
		{shimctl.StateFailed, shimctl.StateBooting},
		{shimctl.StateStopping, shimctl.StateRunning},
		{shimctl.StateStopping, shimctl.StateRebooting},
		{shimctl.StateBooting, shimctl.StateRebooting},
		{shimctl.StateRunning, shimctl.StateRunning},
		// A stop's end is "stopped" whatever the init did; a reboot is
		// passed through to the next boot, and a backoff ends in a boot
		// or a stop.
		{shimctl.StateStopping, shimctl.StateHalted},
		{shimctl.StateRebooting, shimctl.StateStopped},
		{shimctl.StateBackoff, shimctl.StateFailed},
	}
	for _, b := range bad {
		m := Machine{cur: b[0]}
		if err := m.To(b[1]); err == nil {
			t.Errorf("%q -> %q was allowed", b[0], b[1])
		}
		if m.State() != b[0] {
			t.Errorf("refused transition changed state to %q", m.State())
		}
	}
	for _, s := range []shimctl.State{shimctl.StateStopped, shimctl.StateHalted, shimctl.StateFailed} {
		if !s.Final() {
			t.Errorf("%s not final", s)
		}
	}
}

func TestPolicyBackoffAndGiveUp(t *testing.T) {
	p := Policy{Mode: RestartOnFailure, Max: 4, Window: time.Minute, BackoffMin: 100 * time.Millisecond, BackoffMax: 500 * time.Millisecond}
	var r restarts
	now := time.Unix(1000, 0)
	want := []time.Duration{100, 200, 400, 500}
	for i, w := range want {
		ok, d, why := p.decide(&r, true, now.Add(time.Duration(i)*time.Second))
		if !ok || d != w*time.Millisecond {
			t.Fatalf("restart %d: ok=%v delay=%v why=%q, want delay %v", i, ok, d, why, w*time.Millisecond)
		}
	}
	if ok, _, why := p.decide(&r, true, now.Add(5*time.Second)); ok || why == "" {
		t.Fatalf("5th crash in the window: restart=%v why=%q, want give up", ok, why)
	}
	// After a quiet window, the count and the backoff start over.
	if ok, d, _ := p.decide(&r, true, now.Add(2*time.Minute)); !ok || d != 100*time.Millisecond {
		t.Fatalf("after the window: ok=%v delay=%v", ok, d)
	}
	if ok, _, _ := p.decide(&r, false, now); ok {
		t.Fatal("on-failure restarted a clean exit")
	}
	if ok, _, _ := (Policy{Mode: RestartAlways, Max: 10, Window: time.Minute, BackoffMin: 1, BackoffMax: 2}).decide(&restarts{}, false, now); !ok {
		t.Fatal("always did not restart a clean exit")
	}
	if ok, _, _ := (Policy{Mode: RestartNo}).decide(&restarts{}, true, now); ok {
		t.Fatal("no restarted a crash")
	}
	if _, err := ParseRestartMode("sometimes"); err == nil {
		t.Fatal("bad mode accepted")
	}
}
