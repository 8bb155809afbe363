package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// TestHelpOnStdout: "lxc-initd --help", "-h", "help" and "help COMMAND"
// answer on stdout with exit 0 ("lxc-initd --help | less" shows it), the
// usage names every command and the global options; a wrong option is a
// usage error on stderr, exit 2.
func TestHelpOnStdout(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"-P", "/x", "help"}} {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		if code != 0 || errb.Len() != 0 {
			t.Errorf("%v: exit %d, stderr %q; want 0 and nothing on stderr", args, code, errb.String())
		}
		for name := range commands() {
			if !strings.Contains(out.String(), "\n  "+name) {
				t.Errorf("%v: usage does not list %s:\n%s", args, name, out.String())
			}
		}
		for _, g := range []string{"-P LXCPATH", "--rundir DIR", "--logdir DIR", "4 no such container"} {
			if !strings.Contains(out.String(), g) {
				t.Errorf("%v: usage does not say %q", args, g)
			}
		}
	}
	for name, c := range commands() {
		var out, errb bytes.Buffer
		if code := run([]string{"help", name}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "usage: lxc-initd") || !strings.Contains(out.String(), c.usage[:len(name)]) {
			t.Errorf("help %s: exit %d, stdout %q, stderr %q", name, code, out.String(), errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"--bogus"}, &out, &errb); code != 2 || out.Len() != 0 || !strings.Contains(errb.String(), "-bogus") {
		t.Errorf("--bogus: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	if code := run([]string{"help", "frobnicate"}, &out, &errb); code != 2 {
		t.Errorf("help frobnicate: exit %d", code)
	}
}

// TestUsageOfAutostartNamesGlobalOptions: autostart passes -P, --rundir and
// --logdir on to every start, so its usage says so.
func TestUsageOfAutostartNamesGlobalOptions(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"autostart", "--help"}, &out, &errb); code != 0 {
		t.Fatalf("autostart --help: exit %d %s", code, errb.String())
	}
	first, _, _ := strings.Cut(out.String(), "\n")
	for _, g := range []string{"-P LXCPATH", "--rundir DIR", "--logdir DIR"} {
		if !strings.Contains(first, g) {
			t.Errorf("autostart usage %q lacks %s", first, g)
		}
	}
}

// TestStatusJSONUnknown: "status NAME --json" of a container that does not
// exist prints a JSON object with the error on stdout and exits 4.
func TestStatusJSONUnknown(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"-P", filepath.Join(dir, "lxc"), "--rundir", filepath.Join(dir, "run"), "status", "nosuch", "--json"}, &out, &errb)
	var got struct {
		Name, Error string
		Code        int
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || code != 4 {
		t.Fatalf("exit %d, stdout %q (%v), stderr %q; want exit 4 and a JSON object", code, out.String(), err, errb.String())
	}
	if got.Name != "nosuch" || got.Code != 4 || !strings.Contains(got.Error, "no such container") {
		t.Errorf("JSON %+v", got)
	}
}

// TestManPageCoversEveryCommand: lxc-initd(8) describes every command and
// every option its usage names, the global options and the exit codes.
func TestManPageCoversEveryCommand(t *testing.T) {
	b, err := os.ReadFile("../../docs/man/lxc-initd.8")
	if err != nil {
		t.Fatal(err)
	}
	// The page as text: roff's "\-" is a "-".
	page := strings.ReplaceAll(string(b), `\-`, "-")
	for name, c := range commands() {
		if !regexp.MustCompile(`(?m)^\.(B|BI|BR) "?` + regexp.QuoteMeta(name) + `\b`).MatchString(page) {
			t.Errorf("lxc-initd(8) has no entry for %s", name)
		}
		for _, f := range strings.Fields(c.usage) {
			f = strings.Trim(f, "[]|")
			if strings.HasPrefix(f, "-") && f != "--" && !strings.Contains(page, f) {
				t.Errorf("lxc-initd(8) does not name %s's option %s", name, f)
			}
		}
	}
	for _, w := range []string{"-P", "--rundir", "--logdir", ".SH EXIT STATUS", ".SH FILES", ".SH LIVING NEXT TO LXC", "4 no such container"} {
		if !strings.Contains(page, w) {
			t.Errorf("lxc-initd(8) lacks %q", w)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "lxc-initd ") || errb.Len() > 0 {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
