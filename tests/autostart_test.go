package tests

// End-to-end tests of the host-wide commands: lxc-initd autostart (boot
// time start by lxc.start.order) and lxc-initd shutdown (host shutdown:
// highest order first, in parallel within an order, one deadline).
// Container names carry the prefix "to".

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// hostCT is one busybox container of a host-wide test.
type hostCT struct{ name, rootfs string }

// hostWide is a set of containers sharing an lxc path and rundir.
type hostWide struct {
	t                       *testing.T
	bins                    testutil.Bins
	lxcpath, rundir, logdir string
	shared                  string // bind-mounted into every container at /shared
	cts                     []*hostCT
}

func newHostWide(t *testing.T) *hostWide {
	t.Helper()
	testutil.RequireRoot(t)
	dir := t.TempDir()
	h := &hostWide{t: t, bins: testutil.Binaries(t),
		lxcpath: filepath.Join(dir, "lxc"), rundir: filepath.Join(dir, "run"),
		logdir: filepath.Join(dir, "log"), shared: filepath.Join(dir, "shared")}
	if err := os.MkdirAll(h.shared, 0o777); err != nil {
		t.Fatal(err)
	}
	return h
}

// add makes a busybox container whose shutdown script appends its name
// to /shared/stops; extra is appended to its config.
func (h *hostWide) add(extra string) *hostCT {
	t := h.t
	t.Helper()
	c := &hostCT{name: testutil.Name("to"), rootfs: filepath.Join(t.TempDir(), "rootfs")}
	testutil.BusyboxRootfs(t, c.rootfs)
	os.MkdirAll(filepath.Join(c.rootfs, "shared"), 0o755)
	rcK := "#!/bin/sh\necho " + c.name + " >> /shared/stops\ntouch /testinit/shutdown-marker\n"
	if err := os.WriteFile(filepath.Join(c.rootfs, "etc/init.d/rcK"), []byte(rcK), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteConfig(t, h.lxcpath, c.name, fmt.Sprintf(
		"lxc.uts.name = %s\nlxc.rootfs.path = dir:%s\n"+
			"lxc.signal.halt = SIGUSR1\n"+
			"lxc.mount.entry = %s shared none bind 0 0\n%s", c.name, c.rootfs, h.shared, extra))
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(h.logdir, c.name+".log")); err == nil {
				t.Logf("shim log of %s:\n%s", c.name, b)
			}
		}
		h.initd("stop", "--kill", c.name)
		h.initd("cleanup", c.name)
		testutil.CheckNoLeaks(t, c.name, c.rootfs, "")
	})
	h.cts = append(h.cts, c)
	return c
}

func (h *hostWide) initd(args ...string) (string, int) {
	full := append([]string{"-P", h.lxcpath, "--rundir", h.rundir, "--logdir", h.logdir}, args...)
	return orcRun(h.bins.Initd, full...)
}

// waitBooted waits for busybox's rcS, which runs once init has set up
// its signal handlers: a halt signal sent earlier would be lost.
func (h *hostWide) waitBooted(c *hostCT) {
	h.t.Helper()
	testutil.WaitFor(h.t, 30*time.Second, c.name+" booted (rcS ran)", func() error {
		b, _ := os.ReadFile(filepath.Join(c.rootfs, "testinit", "events.log"))
		if !strings.Contains(string(b), "rcS") {
			return fmt.Errorf("events.log: %q", b)
		}
		return nil
	})
}

func (h *hostWide) state(c *hostCT) *shimctl.Status {
	st, err := shimctl.ReadState(shimctl.PathsFor(h.rundir, c.name).State)
	if err != nil {
		return nil
	}
	return st
}

// TestAutostartByOrderThenShutdownInReverse: autostart starts the
// lxc.start.auto containers lowest order first (waiting lxc.start.delay
// after an order) and leaves the others; shutdown stops them highest
// order first, each shutting down by itself (its shutdown script ran).
func TestAutostartByOrderThenShutdownInReverse(t *testing.T) {
	h := newHostWide(t)
	first := h.add("lxc.start.auto = 1\nlxc.start.order = 1\nlxc.start.delay = 1\n")
	second1 := h.add("lxc.start.auto = 1\nlxc.start.order = 2\n")
	second2 := h.add("lxc.start.auto = 1\nlxc.start.order = 2\n")
	manual := h.add("lxc.start.order = 0\n")

	out, code := h.initd("autostart")
	if code != 0 {
		t.Fatalf("autostart: exit %d\n%s", code, out)
	}
	for _, c := range []*hostCT{first, second1, second2} {
		if !strings.Contains(out, c.name+": started") {
			t.Errorf("autostart did not report %s started:\n%s", c.name, out)
		}
		if st := h.state(c); st == nil || st.State != shimctl.StateRunning {
			t.Errorf("%s not running after autostart: %+v", c.name, st)
		}
	}
	for _, c := range []*hostCT{first, second1, second2} {
		h.waitBooted(c)
	}
	if st := h.state(manual); st != nil && st.State == shimctl.StateRunning {
		t.Errorf("%s (no lxc.start.auto) was started", manual.name)
	}
	// Order 2 booted only after order 1 ran and its 1 s delay passed.
	f := h.state(first)
	for _, c := range []*hostCT{second1, second2} {
		if s := h.state(c); f != nil && s != nil && s.BootedAt.Sub(f.BootedAt) < time.Second {
			t.Errorf("%s (order 2) booted %s after %s (order 1, delay 1 s)", c.name, s.BootedAt.Sub(f.BootedAt), first.name)
		}
	}

	out, code = h.initd("shutdown", "-t", "30")
	if code != 0 {
		t.Fatalf("shutdown: exit %d\n%s", code, out)
	}
	t.Logf("lxc-initd shutdown:\n%s", out)
	for _, c := range []*hostCT{first, second1, second2} {
		if !strings.Contains(out, c.name+": stopped") {
			t.Errorf("shutdown did not report %s stopped:\n%s", c.name, out)
		}
		if _, err := os.Stat(filepath.Join(c.rootfs, "testinit", "shutdown-marker")); err != nil {
			t.Errorf("%s: its shutdown script did not run: %v", c.name, err)
		}
		testutil.CheckNoLeaks(t, c.name, c.rootfs, "")
	}
	b, _ := os.ReadFile(filepath.Join(h.shared, "stops"))
	stops := strings.Fields(string(b))
	if len(stops) != 3 || stops[2] != first.name {
		t.Errorf("stop order %v: want both order-2 containers before %s (order 1)", stops, first.name)
	}
}

// TestShutdownKillsWhatIgnoresItsHaltSignal: a container whose init
// ignores its halt signal is killed at the deadline while the other stops
// by itself; shutdown says which and exits 1.
func TestShutdownKillsWhatIgnoresItsHaltSignal(t *testing.T) {
	h := newHostWide(t)
	good := h.add("")
	// busybox init re-reads its inittab on SIGHUP and goes on running.
	deaf := h.add("lxc.signal.halt = SIGHUP\n")
	for _, c := range h.cts {
		if out, code := h.initd("start", c.name); code != 0 {
			t.Fatalf("start %s: exit %d\n%s", c.name, code, out)
		}
		h.waitBooted(c)
	}
	out, code := h.initd("shutdown", "-t", "8")
	if code != 1 {
		t.Errorf("shutdown with a container that needed a kill: exit %d, want 1\n%s", code, out)
	}
	if !strings.Contains(out, good.name+": stopped") || !strings.Contains(out, deaf.name+": killed") {
		t.Errorf("results not reported per container:\n%s", out)
	}
	if st := h.state(deaf); st != nil && st.StopResult != shimctl.StopForced {
		t.Errorf("%s stop result %q, want forced", deaf.name, st.StopResult)
	}
	for _, c := range h.cts {
		testutil.CheckNoLeaks(t, c.name, c.rootfs, "")
	}
}
