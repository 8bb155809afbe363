package shimctl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The shim's lock: one holder, testable without taking it, gone with its
// file descriptor.
func TestLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	if LockHeld(p) {
		t.Fatal("missing lock reported held")
	}
	f, err := AcquireLock(p)
	if err != nil {
		t.Fatal(err)
	}
	if !LockHeld(p) {
		t.Fatal("held lock not seen")
	}
	if _, err := AcquireLock(p); !errors.Is(err, ErrLocked) {
		t.Fatalf("second AcquireLock: %v, want ErrLocked", err)
	}
	// Probing did not take it.
	if !LockHeld(p) {
		t.Fatal("probe released the lock")
	}
	f.Close()
	if LockHeld(p) {
		t.Fatal("lock still held after close")
	}
	g, err := AcquireLock(p)
	if err != nil {
		t.Fatalf("re-acquire: %v", err)
	}
	g.Close()
}

// StartLock serialises: the second waits for the first's release.
func TestStartLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "start.lock")
	rel, err := StartLock(p)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan time.Time, 1)
	go func() {
		r2, err := StartLock(p)
		if err == nil {
			got <- time.Now()
			r2()
		}
	}()
	time.Sleep(100 * time.Millisecond)
	released := time.Now()
	rel()
	select {
	case at := <-got:
		if at.Before(released) {
			t.Fatal("second start lock taken while the first was held")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second start lock never taken")
	}
}

// state.json is replaced whole, and a pid is identified with its start
// time.
func TestStateFileAndProcIdentity(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	start, err := ProcStartTime(os.Getpid())
	if err != nil || start == 0 {
		t.Fatalf("start time: %d %v", start, err)
	}
	in := &Status{Name: "x", State: StateRunning, Pid: os.Getpid(), PidStart: start, BootCount: 2,
		LastExit: &LastExit{Meaning: "reboot"}}
	if err := WriteState(p, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadState(p)
	if err != nil || out.BootCount != 2 || out.LastExit.Meaning != "reboot" {
		t.Fatalf("read back %+v %v", out, err)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Errorf("temp files left: %v", ents)
	}
	if !SameProcess(os.Getpid(), start) {
		t.Error("this process not recognised")
	}
	if SameProcess(os.Getpid(), start+1) {
		t.Error("a different start time matched")
	}
}

// The abstract control socket is exclusive: a second ListenAbstract for the
// same container is ErrLocked, naming the holder; it is gone with its
// holder; a container's rundir and name give one name, and another rundir
// another.
func TestAbstractSocket(t *testing.T) {
	rundir := t.TempDir()
	p := PathsFor(rundir, "tsabs")
	if !strings.HasPrefix(p.Abstract, "@lxc-shim/") || !strings.HasSuffix(p.Abstract, "/tsabs") {
		t.Errorf("abstract name %q", p.Abstract)
	}
	if PathsFor(t.TempDir(), "tsabs").Abstract == p.Abstract {
		t.Error("two run directories share an abstract name")
	}
	if long := AbstractName(rundir, strings.Repeat("x", 200)); len(long) > 107 {
		t.Errorf("abstract name of a long container name is %d bytes", len(long))
	}
	l, err := ListenAbstract(p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ListenAbstract(p)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("second ListenAbstract: %v; want ErrLocked naming pid %d", err, os.Getpid())
	}
	if names := ShimNames(rundir); !slices.Equal(names, []string{"tsabs"}) {
		t.Errorf("ShimNames = %v", names)
	}
	l.Close()
	l2, err := ListenAbstract(p)
	if err != nil {
		t.Fatalf("ListenAbstract after the holder closed it: %v", err)
	}
	l2.Close()
}
