package supervise

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/shimctl"
)

func startSh(t *testing.T, script string) int {
	t.Helper()
	pid, err := testReaper.ForkExec("/bin/sh", []string{"sh", "-c", script}, &syscall.ProcAttr{
		Env:   []string{"PATH=/usr/bin:/bin"},
		Files: []uintptr{0, 1, 2},
	})
	if err != nil {
		t.Fatalf("fork: %v", err)
	}
	return pid
}

func waitStatus(t *testing.T, pid int) syscall.WaitStatus {
	t.Helper()
	select {
	case ws, ok := <-testReaper.Wait(pid):
		if !ok {
			t.Fatalf("pid %d: channel closed without a status", pid)
		}
		return syscall.WaitStatus(ws)
	case <-time.After(10 * time.Second):
		t.Fatalf("pid %d: no exit status after 10s", pid)
	}
	return 0
}

// Every child's own status reaches its waiter, even when many exit at once
// and SIGCHLDs coalesce.
func TestReaperManyChildren(t *testing.T) {
	const n = 40
	pids := make([]int, n)
	for i := range pids {
		pids[i] = startSh(t, fmt.Sprintf("exit %d", i%7))
	}
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i, pid := range pids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case ws := <-testReaper.Wait(pid):
				if !ws.Exited() || ws.ExitStatus() != i%7 {
					errs <- fmt.Sprintf("pid %d: status %v, want exit %d", pid, ws, i%7)
				}
			case <-time.After(10 * time.Second):
				errs <- fmt.Sprintf("pid %d: no status", pid)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// A child that exits before anybody calls Wait is not lost: ForkExec
// registered it under the lock.
func TestReaperExitBeforeWait(t *testing.T) {
	pid := startSh(t, "kill -USR2 $$")
	time.Sleep(200 * time.Millisecond)
	ws := waitStatus(t, pid)
	if !ws.Signaled() || ws.Signal() != syscall.SIGUSR2 {
		t.Fatalf("status %v, want killed by SIGUSR2", ws)
	}
}

// As a subreaper the process inherits orphans (a double fork) and reaps
// them: no zombie is left, and Watch on an already reaped orphan answers.
func TestReaperReapsOrphans(t *testing.T) {
	dir := t.TempDir()
	pidFile := dir + "/orphan"
	pid := startSh(t, fmt.Sprintf("(sleep 0.3 & echo $! > %s) ; exit 0", pidFile))
	if ws := waitStatus(t, pid); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("parent status %v", ws)
	}
	var orphan int
	deadline := time.Now().Add(5 * time.Second)
	for orphan == 0 && time.Now().Before(deadline) {
		b, _ := os.ReadFile(pidFile)
		orphan, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		time.Sleep(10 * time.Millisecond)
	}
	if orphan == 0 {
		t.Fatal("orphan pid not written")
	}
	// The orphan is now our child (subreaper).
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", orphan))
	if err == nil {
		f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+1:])
		if ppid, _ := strconv.Atoi(f[1]); ppid != os.Getpid() {
			t.Errorf("orphan %d has parent %d, want the subreaper %d", orphan, ppid, os.Getpid())
		}
	}
	select {
	case ws := <-testReaper.Watch(orphan):
		if !ws.Exited() || ws.ExitStatus() != 0 {
			t.Errorf("orphan status %v", ws)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("orphan never reaped")
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", orphan)); err == nil {
		st, _ := shimctl.ProcStartTime(orphan)
		t.Errorf("orphan %d still in /proc (start %d): not reaped", orphan, st)
	}
}

// Wait on a pid the reaper never started answers at once (closed).
func TestReaperUnknownPid(t *testing.T) {
	select {
	case _, ok := <-testReaper.Wait(1):
		if ok {
			t.Fatal("got a status for pid 1")
		}
	case <-time.After(time.Second):
		t.Fatal("Wait on an unknown pid blocked")
	}
}
