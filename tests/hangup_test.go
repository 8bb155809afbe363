package tests

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

// consoleLflag is the console's local-mode flags the test init reported.
func (e *lcEnv) consoleLflag() uint32 {
	e.t.Helper()
	var r struct {
		Lflag uint32 `json:"console_lflag"`
	}
	e.bootReport(&r)
	return r.Lflag
}

// The regression of issue 18: an init that hangs up its console and ttys
// and changes their settings before it reboots (what systemd does when it
// shuts down) must come back, with working terminals: the console log has
// both boots, a console client attached to tty1 across the reboot sees the
// new boot's output, and the new init's console has the settings the first
// one had. Before the fix, every boot after the hang-up failed with
// "clone stage: input/output error".
func TestRebootAfterTerminalHangup(t *testing.T) {
	logDir := t.TempDir()
	consoleLog := filepath.Join(logDir, "console.log")
	e := newLC(t, rootTestinit, testinitBase+"lxc.tty.max = 2\nlxc.console.logfile = "+consoleLog+"\n")
	e.mustInitd(0, "start", e.name)
	st1 := e.state()
	e.waitReport()
	lflag1 := e.consoleLflag()

	tty1 := startOnTerm(t, 24, 80, e.bins.Initd, e.cli().args("console", e.name, "--tty", "1")...)
	// The client is attached once the shim has answered it (the banner).
	from := tty1.expect(`Connected to `, 0)

	e.forgetReport()
	e.command("hangup reboot")
	st2 := e.waitState(20*time.Second, "boot 2 running", func(s *shimctl.Status) bool {
		return s.BootCount == 2 && s.State == shimctl.StateRunning
	})
	if st2.Pid == st1.Pid || st2.ShimPid != st1.ShimPid {
		t.Errorf("boot 2: pid %d shim %d (boot 1: %d, %d)", st2.Pid, st2.ShimPid, st1.Pid, st1.ShimPid)
	}
	if st2.LastExit == nil || st2.LastExit.Meaning != "reboot" {
		t.Errorf("boot 1 ended with %+v, want a reboot", st2.LastExit)
	}
	if ev := e.events(); !strings.Contains(ev, "action hangup") || strings.Contains(ev, "hangup /dev") {
		t.Errorf("the test init did not hang its terminals up cleanly:\n%s", ev)
	}
	e.waitReport()
	if got := e.consoleLflag(); got != lflag1 {
		t.Errorf("boot 2's console lflag %#x, boot 1's %#x: the old boot's settings stayed", got, lflag1)
	}
	tty1.expect(`testinit: tty1 boot`, from)
	testutil.WaitFor(t, 10*time.Second, "both boots in the console log", func() error {
		b, _ := os.ReadFile(consoleLog)
		if n := strings.Count(string(b), "testinit: boot"); n != 2 {
			return fmt.Errorf("%d boots in the console log:\n%s", n, b)
		}
		return nil
	})
	if log := e.shimLog(); strings.Contains(log, "boot failed") {
		t.Errorf("a boot failed:\n%s", log)
	}
	tty1.typ("\x01q")
	tty1.wait()
	e.mustInitd(0, "stop", e.name, "-t", "10")
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
}
