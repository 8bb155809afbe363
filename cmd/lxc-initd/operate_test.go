package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lxc-shim/lxc-shim/shimctl"
)

func TestWaitStates(t *testing.T) {
	want, err := parseWaitStates("RUNNING|frozen")
	if err != nil {
		t.Fatal(err)
	}
	for st, ok := range map[shimctl.State]bool{shimctl.StateRunning: true, shimctl.StateFrozen: true, shimctl.StateStopped: false, shimctl.StateRebooting: false} {
		if reached(want, st) != ok {
			t.Errorf("RUNNING|frozen reached by %s: %v", st, !ok)
		}
	}
	stopped, _ := parseWaitStates("stopped")
	for _, st := range []shimctl.State{shimctl.StateStopped, shimctl.StateHalted, shimctl.StateFailed} {
		if !reached(stopped, st) {
			t.Errorf("stopped not reached by %s", st)
		}
	}
	if reached(stopped, shimctl.StateStopping) {
		t.Error("stopped reached by stopping")
	}
	for _, bad := range []string{"", "runing", "running|", "ABORTING"} {
		if _, err := parseWaitStates(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// --persist appends one line and keeps every byte before it, also when
// the file does not end with a newline.
func TestAppendConfigLine(t *testing.T) {
	dir := t.TempDir()
	for _, orig := range []string{"lxc.uts.name = a\n# comment\n", "lxc.uts.name = a", ""} {
		p := filepath.Join(dir, "config")
		if err := os.WriteFile(p, []byte(orig), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := appendConfigLine(p, "lxc.cgroup2.memory.max", "1G"); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		want := orig
		if want != "" && want[len(want)-1] != '\n' {
			want += "\n"
		}
		want += "lxc.cgroup2.memory.max = 1G\n"
		if string(got) != want {
			t.Errorf("after appending to %q: %q, want %q", orig, got, want)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
			t.Errorf("mode changed to %v", fi.Mode())
		}
	}
	if err := appendConfigLine(filepath.Join(dir, "config"), "lxc.cgroup.memory.limit_in_bytes", "1G\nlxc.hook.pre-start = /evil"); err == nil {
		t.Error("a value with a newline was appended")
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 bytes", 1023: "1023 bytes", 1024: "1.00 KiB", 1536 << 10: "1.50 MiB", 3 << 30: "3.00 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
