package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestEveryCommandHasHelp: "COMMAND --help" prints the command's usage on
// stdout and exits 0, for every command, however the command parses flags.
func TestEveryCommandHasHelp(t *testing.T) {
	for name := range commands() {
		var out, errb bytes.Buffer
		code := run([]string{name, "--help"}, &out, &errb)
		if code != 0 {
			t.Errorf("%s --help: exit %d, stderr %q", name, code, errb.String())
		}
		if !strings.HasPrefix(out.String(), "usage: lxc-initd") || !strings.Contains(out.String(), name) {
			t.Errorf("%s --help printed %q", name, out.String())
		}
		if strings.Contains(out.String()+errb.String(), "help requested") {
			t.Errorf("%s --help leaks the flag package's message: %q %q", name, out.String(), errb.String())
		}
	}
}

// TestUnknownCommandAndFlag: usage errors exit 2 and say what was wrong.
func TestUnknownCommandAndFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"check", "--bogus"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "-bogus") {
		t.Errorf("unknown flag: exit %d, stderr %q", code, errb.String())
	}
}

// lxc-initd talks to shims through package shimctl and links no boot
// engine (supervise: the lifecycle, the boot steps). It does link package
// container, for attach's in-container exec, which shares the launcher's
// capability and exec code.
func TestDoesNotLinkTheEngine(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch dep {
		case "github.com/lxc-shim/lxc-shim/supervise":
			t.Errorf("lxc-initd links %s", dep)
		}
	}
}
