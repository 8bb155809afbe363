package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/distro"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// Real distributions' inits (issue 18), each on Debian built by
// debootstrap (internal/distro, cached between runs) with the plain config
// of distro.Config: boot to the marker service's start; reboot from inside
// and from the host (the marker sees the stop with the reboot target or
// runlevel, then a new start, under a new init PID); attach and console
// after the reboots; halt from inside (state halted); a graceful stop
// from the host within its timeout; nothing left behind.
func TestDistroSystemd(t *testing.T)  { distroLifecycle(t, distro.Systemd) }
func TestDistroSysVinit(t *testing.T) { distroLifecycle(t, distro.SysVinit) }
func TestDistroOpenRC(t *testing.T)   { distroLifecycle(t, distro.OpenRC) }

// markerLog follows the marker service's log in the host directory that
// the container has bind-mounted.
type markerLog struct {
	t    *testing.T
	path string
	want []string // the lines so far
}

func (m *markerLog) lines() []string {
	b, _ := os.ReadFile(m.path)
	return strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(b)), " ", "_"))
}

// expect waits for the next lines of the log to be more, exactly.
func (m *markerLog) expect(timeout time.Duration, more ...string) {
	m.t.Helper()
	want := append(slices.Clone(m.want), more...)
	for i := range want {
		want[i] = strings.ReplaceAll(want[i], " ", "_")
	}
	testutil.WaitFor(m.t, timeout, fmt.Sprintf("marker log %v", want), func() error {
		got := m.lines()
		if len(got) < len(want) {
			return fmt.Errorf("so far %v", got)
		}
		return nil
	})
	// Settled: anything else (a second start, another stop) is wrong.
	time.Sleep(200 * time.Millisecond)
	if got := m.lines(); !slices.Equal(got, want) {
		m.t.Fatalf("marker log %v, want %v", got, want)
	}
	m.want = want
}

func distroLifecycle(t *testing.T, init distro.Init) {
	spec := distro.SpecOf(init)
	markerDir := t.TempDir()
	e := newLC(t, string(init), distro.Config+distro.MarkerMount(markerDir))
	marker := &markerLog{t: t, path: filepath.Join(markerDir, "log")}
	// Generous: a loaded 2-core CI machine; LXC itself takes 1 to 5 s.
	const bootTime = 90 * time.Second

	e.mustInitd(0, "start", e.name)
	marker.expect(bootTime, "start")
	st1 := e.state()
	if got := strings.TrimSpace(e.mustInitd(0, "attach", e.name, "--", "cat", "/proc/1/comm")); got != spec.Comm {
		t.Errorf("/proc/1/comm is %q, want %q", got, spec.Comm)
	}

	// Reboot from inside.
	if _, errOut, code := e.initd(append([]string{"attach", e.name, "--"}, spec.Reboot...)...); code != 0 {
		// The command may be killed by the shutdown it started; that
		// is no failure, the marker below says what happened.
		t.Logf("%v exited %d: %s", spec.Reboot, code, errOut)
	}
	marker.expect(bootTime, "stop "+spec.RebootWord, "start")
	st2 := e.waitState(10*time.Second, "boot 2 running", func(s *shimctl.Status) bool {
		return s.BootCount == 2 && s.State == shimctl.StateRunning
	})
	if st2.Pid == st1.Pid || st2.ShimPid != st1.ShimPid || st2.LastExit == nil || st2.LastExit.Meaning != "reboot" {
		t.Errorf("after the reboot from inside: pid %d (was %d), shim %d (was %d), last exit %+v", st2.Pid, st1.Pid, st2.ShimPid, st1.ShimPid, st2.LastExit)
	}

	// Reboot from the host.
	e.mustInitd(0, "reboot", e.name)
	marker.expect(bootTime, "stop "+spec.RebootWord, "start")
	st3 := e.waitState(10*time.Second, "boot 3 running", func(s *shimctl.Status) bool {
		return s.BootCount == 3 && s.State == shimctl.StateRunning
	})
	if st3.Pid == st2.Pid {
		t.Errorf("the init kept pid %d across the reboot from the host", st3.Pid)
	}

	// attach and console work on the rebooted container.
	if got := strings.TrimSpace(e.mustInitd(0, "attach", e.name, "--", "cat", "/proc/1/comm")); got != spec.Comm {
		t.Errorf("after the reboots /proc/1/comm is %q, want %q", got, spec.Comm)
	}
	con := startOnTerm(t, 24, 80, e.bins.Initd, e.cli().args("console", e.name, "--tty", fmt.Sprint(spec.Console))...)
	from := con.expect(`Connected to `, 0)
	// A getty prompts again on an empty line.
	testutil.WaitFor(t, 30*time.Second, "a login prompt on the console", func() error {
		con.typ("\r")
		if !strings.Contains(con.text()[from:], "login:") {
			return fmt.Errorf("console shows %q", con.text())
		}
		return nil
	})
	con.typ("\x01q")
	if code := con.wait(); code != 0 {
		t.Errorf("console client exited %d", code)
	}

	// Halt from inside: the shim ends, halted.
	if _, errOut, code := e.initd(append([]string{"attach", e.name, "--"}, spec.Halt...)...); code != 0 {
		t.Logf("%v exited %d: %s", spec.Halt, code, errOut)
	}
	marker.expect(bootTime, "stop "+spec.HaltWord)
	fin := e.waitState(bootTime, "halted", func(s *shimctl.Status) bool { return s.State == shimctl.StateHalted })
	e.waitGone(fin.ShimPid, "shim")
	e.mustInitd(3, "status", e.name)

	// Start again, then a graceful stop from the host within its timeout.
	e.mustInitd(0, "start", e.name)
	marker.expect(bootTime, "start")
	const timeout = 60 * time.Second
	begin := time.Now()
	out := e.mustInitd(0, "stop", e.name, "-t", fmt.Sprint(int(timeout.Seconds())))
	took := time.Since(begin)
	if !strings.Contains(out, "graceful") || took >= timeout {
		t.Errorf("stop said %q after %v, want graceful within %v", out, took, timeout)
	}
	marker.expect(5*time.Second, "stop "+spec.StopWord)
	t.Logf("%s: graceful stop took %v", init, took.Round(time.Millisecond))
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}
