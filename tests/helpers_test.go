package tests

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	return o.String(), withoutCoverNotice(se.String()), code
}

// coverNotice is what a -cover build of lxc-initd prints when it starts
// without $GOCOVERDIR: the attached side of `attach`, which starts inside
// the container, where the coverage directory is out of reach (make cover
// counts the caller's side only).
const coverNotice = "warning: GOCOVERDIR not set, no coverage data emitted\n"

// withoutCoverNotice is stderr without that notice, in a coverage run.
func withoutCoverNotice(stderr string) string {
	if os.Getenv("LXC_SHIM_COVERDIR") == "" {
		return stderr
	}
	return strings.ReplaceAll(stderr, coverNotice, "")
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

// foreignCgroup makes cgroup rel (a path like "lxc-shim/NAME") in every
// hierarchy of the host by hand, as someone other than lxc-shim would, and
// puts a sleep of the test in it. It returns the sleep and a channel that
// receives its Wait result. The test's cleanup kills the sleep and removes
// the directories it made.
func foreignCgroup(t *testing.T, rel string) (*exec.Cmd, <-chan error) {
	t.Helper()
	sleep := exec.Command("sleep", "1000")
	waited := startCmd(t, sleep)
	var made []string
	t.Cleanup(func() {
		sleep.Process.Kill()
		for i := len(made) - 1; i >= 0; i-- {
			for j := 0; j < 100; j++ {
				if err := os.Remove(made[i]); err == nil || os.IsNotExist(err) {
					break
				}
				time.Sleep(20 * time.Millisecond) // the killed sleep is leaving
			}
		}
	})
	for _, mnt := range cgroupHierarchies(t) {
		d := mnt
		for _, part := range strings.Split(rel, "/") {
			d = filepath.Join(d, part)
			if err := os.Mkdir(d, 0o755); err == nil {
				made = append(made, d)
				// A new cpuset needs cpus and mems before it takes a task.
				for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
					if v, err := os.ReadFile(filepath.Join(filepath.Dir(d), f)); err == nil {
						os.WriteFile(filepath.Join(d, f), v, 0o644)
					}
				}
			} else if !os.IsExist(err) {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(fmt.Sprint(sleep.Process.Pid)), 0o644); err != nil {
			t.Fatalf("put sleep %d in %s: %v", sleep.Process.Pid, d, err)
		}
	}
	return sleep, waited
}

// survives fails the test if the process behind waited ended within a
// moment.
func survives(t *testing.T, waited <-chan error, what string) {
	t.Helper()
	select {
	case err := <-waited:
		t.Fatalf("%s was killed (%v)", what, err)
	case <-time.After(300 * time.Millisecond):
	}
}
