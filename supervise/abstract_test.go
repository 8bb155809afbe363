package supervise

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// A process that is not a shim (here root of another PID namespace, as a
// container's process sharing the host's network namespace would be)
// squats the abstract name: the shim refuses to start, naming it, and a
// client refuses to talk to it.
func TestAbstractSocketSquatted(t *testing.T) {
	testutil.RequireRoot(t) // unshare --pid
	rundir := t.TempDir()
	p := shimctl.PathsFor(rundir, "tssquat")
	cmd := exec.Command("unshare", "--pid", "--fork", "--kill-child", os.Args[0])
	cmd.Env = append(os.Environ(), "LXC_SHIM_TEST_SQUAT="+p.Abstract)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := testReaper.Watch(cmd.Process.Pid)
	t.Cleanup(func() {
		cmd.Process.Kill() // --kill-child: the squatter goes with it
		<-exited
		testutil.WaitFor(t, 5*time.Second, "the squatted name to be free", func() error {
			l, err := shimctl.ListenAbstract(p)
			if err == nil {
				l.Close()
			}
			return err
		})
	})
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ok" {
		t.Fatalf("squatter: %q", line)
	}
	if _, err := shimctl.ListenAbstract(p); !errors.Is(err, shimctl.ErrLocked) || !strings.Contains(err.Error(), "supervise.test") {
		t.Errorf("shimctl.ListenAbstract of a squatted name: %v", err)
	}
	_, err = shimctl.NewClient(rundir, "tssquat").Status(context.Background())
	if !errors.Is(err, shimctl.ErrNoShim) || !strings.Contains(err.Error(), "another PID namespace") {
		t.Errorf("Status through a squatted name: %v; want shimctl.ErrNoShim, another PID namespace", err)
	}
}
