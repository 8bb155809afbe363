package hook

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestArgvAndEnviron(t *testing.T) {
	v0 := Spec{Cmd: "/x/hook --flag", Name: "c1", Section: "net", Type: "up", Args: []string{"veth", "", "vethA"}, Env: []string{"LXC_NAME=c1"}}
	if got, want := v0.Argv(), []string{"sh", "-c", `exec /x/hook --flag "$@"`, "sh", "c1", "net", "up", "veth", "vethA"}; !slices.Equal(got, want) {
		t.Errorf("version 0 argv %q, want %q", got, want)
	}
	if got := v0.Environ(); !slices.Equal(got, []string{"LXC_NAME=c1"}) {
		t.Errorf("version 0 environment %q: LXC sets no per-hook variables there", got)
	}
	v1 := v0
	v1.Version = 1
	if got, want := v1.Argv(), []string{"sh", "-c", `exec /x/hook --flag "$@"`, "sh", "veth", "vethA"}; !slices.Equal(got, want) {
		t.Errorf("version 1 argv %q, want %q", got, want)
	}
	want := []string{"LXC_NAME=c1", "LXC_HOOK_TYPE=up", "LXC_HOOK_SECTION=net", "LXC_NET_TYPE=veth", "LXC_NET_PEER=vethA", "LXC_NET_PARENT="}
	if got := v1.Environ(); !slices.Equal(got, want) {
		t.Errorf("version 1 environment %q, want %q", got, want)
	}
}

// Run through a real /bin/sh: the status, the last lines of the output,
// the time limit, and arguments that are never shell code.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "hook.sh")
	write := func(body string) {
		if err := os.WriteFile(script, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	spec := Spec{Cmd: script, Key: "lxc.hook.mount", Name: "c1", Section: "lxc", Type: "mount", Version: 1, Timeout: 5 * time.Second}

	write(`for i in $(seq 1 30); do echo "line $i"; done; exit 7`)
	var he *Error
	if err := Run(StageForker{}, spec); !errors.As(err, &he) {
		t.Fatalf("want *Error, got %v", err)
	}
	if he.What != "exited with status 7" || !strings.HasPrefix(he.Output, "line 21\n") || !strings.HasSuffix(he.Output, "line 30") {
		t.Errorf("error %q, output %q", he.What, he.Output)
	}

	marker := filepath.Join(dir, "injected")
	write(`echo "$1" > ` + filepath.Join(dir, "arg"))
	s := spec
	s.Args = []string{"$(touch " + marker + ")"}
	if err := Run(StageForker{}, s); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("an argument was run as shell code")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "arg")); strings.TrimSpace(string(b)) != s.Args[0] {
		t.Errorf("the hook got %q, want %q", b, s.Args[0])
	}

	write(`echo waiting; sleep 60 & sleep 60`)
	s = spec
	s.Timeout = 300 * time.Millisecond
	began := time.Now()
	err := Run(StageForker{}, s)
	if !errors.As(err, &he) || !strings.HasPrefix(he.What, "timed out after 300ms") || he.Output != "waiting" {
		t.Fatalf("want a time-out error with the output, got %v", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("a 300ms limit took %s", d)
	}
}
