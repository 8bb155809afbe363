package tests

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"
)

// initdCLI runs lxc-initd against one test container's own lxc path, run
// and log directories (never the host's defaults).
type initdCLI struct {
	bin                     string // the lxc-initd binary (testutil.Bins.Initd)
	lxcpath, rundir, logdir string
}

// args puts the directory flags before a.
func (c initdCLI) args(a ...string) []string {
	return append([]string{"-P", c.lxcpath, "--rundir", c.rundir, "--logdir", c.logdir}, a...)
}

// run runs lxc-initd with stdin from in (nil: /dev/null) and returns its
// output and exit code. Only a command that cannot run at all fails t.
func (c initdCLI) run(t testing.TB, in *os.File, a ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(c.bin, c.args(a...)...)
	if in != nil {
		cmd.Stdin = in
	}
	var o, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &se
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("lxc-initd %v: %v", a, err)
	}
	return o.String(), se.String(), code
}

// must runs lxc-initd and fails t unless it exits want; it returns stdout.
func (c initdCLI) must(t testing.TB, want int, a ...string) string {
	t.Helper()
	out, errOut, code := c.run(t, nil, a...)
	if code != want {
		t.Fatalf("lxc-initd %v: exit %d, want %d\nstdout: %s\nstderr: %s", a, code, want, out, errOut)
	}
	return out
}

// startCmd starts cmd and returns a channel that receives its Wait result.
// A cmd still running when the test ends is killed and reaped.
func startCmd(t testing.TB, cmd *exec.Cmd) <-chan error {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	})
	return done
}
