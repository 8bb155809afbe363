package shimctl

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// mute is a shim that holds the lock and listens on the control socket
// but never reads a request: a SIGSTOPped or deadlocked shim as its
// clients see it.
func mute(t *testing.T) (rundir, name string) {
	t.Helper()
	rundir, name = t.TempDir(), "mute"
	p := PathsFor(rundir, name)
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	lock, err := AcquireLock(p.Lock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: p.Socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := WriteState(p.State, &Status{Name: name, State: StateRunning, ShimPid: 4242, BootCount: 1}); err != nil {
		t.Fatal(err)
	}
	return rundir, name
}

// TestClientDeadline: every request to a shim that does not answer ends
// at its context's deadline (DefaultTimeout without one) with
// ErrNotResponding naming the shim's pid; cancelling ends it at once.
func TestClientDeadline(t *testing.T) {
	rundir, name := mute(t)
	c := NewClient(rundir, name)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Status(ctx)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("status took %v with a 300 ms deadline", took)
	}
	if !errors.Is(err, ErrNotResponding) || !strings.Contains(err.Error(), "pid 4242") {
		t.Errorf("status: %v, want ErrNotResponding naming pid 4242", err)
	}

	start = time.Now()
	if _, err := c.Reboot(context.Background()); !errors.Is(err, ErrNotResponding) {
		t.Errorf("reboot: %v, want ErrNotResponding", err)
	}
	if took := time.Since(start); took < DefaultTimeout-100*time.Millisecond || took > DefaultTimeout+2*time.Second {
		t.Errorf("reboot without a deadline took %v, want DefaultTimeout (%v)", took, DefaultTimeout)
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start = time.Now()
	if _, err := c.Stop(ctx, time.Minute, false); !errors.Is(err, ErrNotResponding) {
		t.Errorf("cancelled stop: %v, want ErrNotResponding", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("cancelled stop returned after %v", took)
	}
}

// TestInspectStuckShim: Inspect answers within about InspectTimeout from
// state.json, marking the shim as not responding; with no init alive the
// container is not running, whatever the stuck shim recorded.
func TestInspectStuckShim(t *testing.T) {
	rundir, name := mute(t)
	start := time.Now()
	st, err := Inspect(rundir, name)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > InspectTimeout+time.Second {
		t.Errorf("Inspect took %v", took)
	}
	if !st.ShimAlive || !st.ShimNotResponding || st.Running() {
		t.Errorf("Inspect: shim alive %v, not responding %v, running %v; want true, true, false", st.ShimAlive, st.ShimNotResponding, st.Running())
	}
}

// TestRequestExpired: a request read after its client's deadline is
// expired; one without a deadline never is.
func TestRequestExpired(t *testing.T) {
	now := time.Now()
	if !(Request{NotAfter: now.Add(-time.Second).UnixNano()}).Expired(now) {
		t.Error("a request past its deadline is not expired")
	}
	if (Request{NotAfter: now.Add(time.Second).UnixNano()}).Expired(now) || (Request{}).Expired(now) {
		t.Error("a request within its deadline, or without one, is expired")
	}
}
