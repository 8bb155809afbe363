package signals

import (
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	good := map[string]syscall.Signal{
		"SIGPWR": syscall.SIGPWR, "PWR": syscall.SIGPWR, "pwr": syscall.SIGPWR, "sigpwr": syscall.SIGPWR,
		"30": syscall.SIGPWR, "SIGRTMIN+3": 37, "RTMIN+3": 37, "SIGRTMIN": 34, "SIGRTMAX": 64,
		"SIGRTMAX-1": 63, "SIGKILL": syscall.SIGKILL, "9": syscall.SIGKILL, "SIGUSR1": syscall.SIGUSR1,
		" SIGINT ": syscall.SIGINT, "SIGIOT": syscall.SIGABRT, "64": 64, "1": 1,
	}
	for in, want := range good {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "65", "-1", "SIGFOO", "SIGRTMIN-1", "SIGRTMAX+1", "SIGRTMIN+31", "SIGRTMIN+", "RTMIN+-3", "SIG", "PWR2"} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %d, want an error", in, got)
		}
	}
}

func TestName(t *testing.T) {
	for sig, want := range map[syscall.Signal]string{
		syscall.SIGPWR: "SIGPWR", 37: "SIGRTMIN+3", 34: "SIGRTMIN", 64: "SIGRTMIN+30",
		syscall.SIGKILL: "SIGKILL", syscall.SIGCHLD: "SIGCHLD", 32: "SIG32",
	} {
		if got := Name(sig); got != want {
			t.Errorf("Name(%d) = %q, want %q", sig, got, want)
		}
		if sig != 32 {
			if back, err := Parse(Name(sig)); err != nil || back != sig {
				t.Errorf("Parse(Name(%d)) = %d, %v", sig, back, err)
			}
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		ws   syscall.WaitStatus
		want Exit
		str  string
	}{
		{syscall.WaitStatus(0), Exit{Kind: Exited}, "exit 0"},
		{syscall.WaitStatus(3 << 8), Exit{Kind: Exited, Code: 3}, "exit 3"},
		{syscall.WaitStatus(syscall.SIGHUP), Exit{Kind: Reboot, Signal: syscall.SIGHUP}, "reboot"},
		{syscall.WaitStatus(syscall.SIGINT), Exit{Kind: Halt, Signal: syscall.SIGINT}, "halt"},
		{syscall.WaitStatus(syscall.SIGSEGV | 0x80), Exit{Kind: Signaled, Signal: syscall.SIGSEGV}, "signal SIGSEGV"},
		{syscall.WaitStatus(syscall.SIGKILL), Exit{Kind: Signaled, Signal: syscall.SIGKILL}, "signal SIGKILL"},
	} {
		got := Classify(tc.ws)
		if got != tc.want || got.String() != tc.str {
			t.Errorf("Classify(%#x) = %+v %q, want %+v %q", int(tc.ws), got, got.String(), tc.want, tc.str)
		}
	}
}

func TestPickHalt(t *testing.T) {
	bit := func(s syscall.Signal) uint64 { return 1 << (uint(s) - 1) }
	for _, tc := range []struct {
		name             string
		blocked, ignored uint64
		want             syscall.Signal
	}{
		{"handles neither (busybox, sysvinit)", 0, 0, syscall.SIGPWR},
		{"blocks SIGPWR only", bit(syscall.SIGPWR), 0, RTMin + 3},
		{"ignores SIGPWR only", 0, bit(syscall.SIGPWR), RTMin + 3},
		{"systemd: blocks both for its signalfd", bit(syscall.SIGPWR) | bit(RTMin+3), 0, RTMin + 3},
		{"blocks SIGRTMIN+3 only", bit(RTMin + 3), 0, RTMin + 3},
		{"ignores both", 0, bit(syscall.SIGPWR) | bit(RTMin+3), syscall.SIGPWR},
	} {
		if got := pickHalt(tc.blocked, tc.ignored); got != tc.want {
			t.Errorf("%s: pickHalt(%#x, %#x) = %s, want %s", tc.name, tc.blocked, tc.ignored, Name(got), Name(tc.want))
		}
	}
	if got := HaltSignalFor(syscall.SIGUSR1, true, 1<<30); got != syscall.SIGUSR1 {
		t.Errorf("configured halt signal not kept: %s", Name(got))
	}
	if got := HaltSignalFor(syscall.SIGPWR, false, 1<<30); got != syscall.SIGPWR {
		t.Errorf("unreadable process: %s, want SIGPWR", Name(got))
	}
}

// TestHaltSignalForRealProcess: a shell that ignores SIGPWR (as busybox
// init does) gets SIGRTMIN+3 when the config left the default.
func TestHaltSignalForRealProcess(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "trap '' "+strconv.Itoa(int(syscall.SIGPWR))+"; echo ready; exec sleep 30")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil {
		t.Fatal(err)
	}
	// The exec'd sleep keeps the ignored disposition; wait until the
	// exec happened (comm changes) rather than for a fixed time.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ign, err := BlockedOrIgnored(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if ign&(1<<(uint(syscall.SIGPWR)-1)) != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SIGPWR never shown as ignored: %#x", ign)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := HaltSignalFor(syscall.SIGPWR, false, cmd.Process.Pid); got != RTMin+3 {
		t.Errorf("HaltSignalFor = %s, want SIGRTMIN+3", Name(got))
	}
	if got := HaltSignalFor(syscall.SIGPWR, true, cmd.Process.Pid); got != syscall.SIGPWR {
		t.Errorf("explicit SIGPWR replaced by %s", Name(got))
	}
}
