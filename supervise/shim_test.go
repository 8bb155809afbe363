package supervise

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"

	"golang.org/x/sys/unix"
)

// fakeBooter "boots" a shell script per boot through the test reaper; the
// script decides how the init ends.
type fakeBooter struct {
	scripts func(boot int) string
	bootErr func(boot int) error
	mu      sync.Mutex
	pids    []int
	tears   int
}

type fakeRun struct {
	pid int
	b   *fakeBooter
}

func (b *fakeBooter) Boot(boot int) (Run, error) {
	if b.bootErr != nil {
		if err := b.bootErr(boot); err != nil {
			return nil, err
		}
	}
	pid, err := testReaper.ForkExec("/bin/sh", []string{"sh", "-c", b.scripts(boot)}, &syscall.ProcAttr{
		Env:   []string{"PATH=/usr/bin:/bin"},
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.pids = append(b.pids, pid)
	b.mu.Unlock()
	return &fakeRun{pid: pid, b: b}, nil
}

func (r *fakeRun) Pid() int { return r.pid }

// KillAll kills the script's process group, the fake's cgroup.
func (r *fakeRun) KillAll() error {
	if err := unix.Kill(-r.pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return err
	}
	return nil
}

// Freeze and Thaw stop and continue the script's process group, the
// fake's freezer.
func (r *fakeRun) Freeze() error { return unix.Kill(-r.pid, unix.SIGSTOP) }
func (r *fakeRun) Thaw() error   { return unix.Kill(-r.pid, unix.SIGCONT) }
func (r *fakeRun) Cgroup(key, value string) (string, string, []string, error) {
	return "", "", nil, errors.New("the fake has no cgroup")
}
func (r *fakeRun) Usage(*shimctl.Info) error { return nil }
func (r *fakeRun) Device(shimctl.Request, uint64) (string, error) {
	return "", errors.New("the fake has no devices")
}

func (r *fakeRun) Teardown(string) error {
	r.b.mu.Lock()
	r.b.tears++
	r.b.mu.Unlock()
	return nil
}

type shimResult struct {
	code int
}

// newTestShim makes a shim over a fake booter in a temp state dir, with
// its lock and control socket, and runs it. The returned channel gets
// Run's exit code.
func newTestShim(t *testing.T, b *fakeBooter, tune func(*Shim)) (*Shim, <-chan shimResult) {
	t.Helper()
	dir := t.TempDir()
	paths := shimctl.PathsFor(dir, "fake")
	if err := os.MkdirAll(paths.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	lock, err := shimctl.AcquireLock(paths.Lock)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen(paths.Socket)
	if err != nil {
		t.Fatal(err)
	}
	readyc := make(chan error, 1)
	s := &Shim{
		Name: "fake", Paths: paths, Booter: b, Reaper: testReaper,
		Policy:      Policy{Mode: RestartOnFailure, Max: 3, Window: time.Minute, BackoffMin: 10 * time.Millisecond, BackoffMax: 40 * time.Millisecond},
		StopTimeout: 5 * time.Second,
		Ready:       func(err error) { readyc <- err },
		OnExit:      func() { lock.Close() },
	}
	if tune != nil {
		tune(s)
	}
	s.init()
	go s.Serve(l)
	res := make(chan shimResult, 1)
	go func() { res <- shimResult{code: s.Run()} }()
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range b.pids {
			_ = unix.Kill(-p, unix.SIGKILL)
		}
	})
	select {
	case <-readyc:
	case <-time.After(10 * time.Second):
		t.Fatal("shim never became ready")
	}
	return s, res
}

func waitShim(t *testing.T, res <-chan shimResult) int {
	t.Helper()
	select {
	case r := <-res:
		return r.code
	case <-time.After(20 * time.Second):
		t.Fatal("shim did not end")
	}
	return -1
}

func readState(t *testing.T, s *Shim) *shimctl.Status {
	t.Helper()
	st, err := shimctl.ReadState(s.Paths.State)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A reboot (init killed by SIGHUP) boots again with boot count 2 and a new
// pid; a stop through the control socket then ends the shim with state
// stopped and a graceful result.
func TestShimRebootThenStop(t *testing.T) {
	b := &fakeBooter{scripts: func(boot int) string {
		if boot == 1 {
			return "sleep 0.1; kill -HUP $$"
		}
		return "exec sleep 100"
	}}
	s, res := newTestShim(t, b, nil)
	c := &shimctl.Client{Name: "fake", Paths: s.Paths}
	deadline := time.Now().Add(10 * time.Second)
	var st *shimctl.Status
	for time.Now().Before(deadline) {
		var err error
		if st, err = c.Status(context.Background()); err == nil && st.BootCount == 2 && st.State == shimctl.StateRunning {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st == nil || st.BootCount != 2 || st.State != shimctl.StateRunning {
		t.Fatalf("status after reboot: %+v", st)
	}
	if st.LastExit == nil || st.LastExit.Meaning != "reboot" {
		t.Errorf("last exit %+v, want reboot", st.LastExit)
	}
	if len(b.pids) != 2 || st.Pid != b.pids[1] || b.pids[0] == b.pids[1] {
		t.Errorf("pids %v, status pid %d", b.pids, st.Pid)
	}
	resp, err := c.Stop(stopCtx(t), -1, false)
	if err != nil || resp.Result != shimctl.StopGraceful || resp.Signal != "SIGPWR" {
		t.Fatalf("stop: %+v, %v", resp, err)
	}
	if code := waitShim(t, res); code != 0 {
		t.Errorf("shim exit %d", code)
	}
	fst := readState(t, s)
	if fst.State != shimctl.StateStopped || fst.StopResult != shimctl.StopGraceful || fst.LastExit.Meaning != "signal SIGPWR" {
		t.Errorf("final state %+v, last %+v", fst, fst.LastExit)
	}
	if shimctl.LockHeld(s.Paths.Lock) {
		t.Error("lock still held after the shim ended")
	}
	if _, err := os.Stat(s.Paths.Socket); err == nil {
		t.Error("control socket left behind")
	}
	if b.tears != 2 {
		t.Errorf("%d teardowns, want 2", b.tears)
	}
}

// Halt from inside (SIGINT): state halted, exit 0.
func TestShimHalt(t *testing.T) {
	b := &fakeBooter{scripts: func(int) string { return "sleep 0.1; kill -INT $$" }}
	s, res := newTestShim(t, b, nil)
	if code := waitShim(t, res); code != 0 {
		t.Errorf("shim exit %d", code)
	}
	st := readState(t, s)
	if st.State != shimctl.StateHalted || st.LastExit.Meaning != "halt" || st.BootCount != 1 {
		t.Errorf("state %+v last %+v", st, st.LastExit)
	}
}

// An init that ignores the halt signal is killed at the timeout, with the
// process that escaped into the background.
func TestShimStopEscalates(t *testing.T) {
	dir := t.TempDir()
	b := &fakeBooter{scripts: func(int) string {
		return "trap '' PWR; (trap '' PWR; exec sleep 100) & echo $! > " + dir + "/child; exec sleep 100"
	}}
	s, res := newTestShim(t, b, func(s *Shim) { s.StopTimeout = 300 * time.Millisecond })
	c := &shimctl.Client{Name: "fake", Paths: s.Paths}
	for i := 0; i < 500; i++ {
		if _, err := os.Stat(dir + "/child"); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the exec after the echo
	start := time.Now()
	resp, err := c.Stop(stopCtx(t), -1, false)
	took := time.Since(start)
	if err != nil || resp.Result != shimctl.StopForced {
		t.Fatalf("stop: %+v %v", resp, err)
	}
	if took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("stop took %v, want about the 300ms timeout", took)
	}
	waitShim(t, res)
	st := readState(t, s)
	if st.State != shimctl.StateStopped || st.StopResult != shimctl.StopForced || st.LastExit.Meaning != "killed after timeout" {
		t.Errorf("state %+v last %+v", st, st.LastExit)
	}
	b2, _ := os.ReadFile(dir + "/child")
	if pid := strings.TrimSpace(string(b2)); pid != "" {
		// SIGKILL was sent; the kernel takes a moment to end the process
		// (it is a zombie, or gone, once it has).
		dead := func() bool {
			data, err := os.ReadFile("/proc/" + pid + "/stat")
			return err != nil || strings.Contains(string(data), ") Z")
		}
		for i := 0; i < 100 && !dead(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if !dead() {
			t.Errorf("background child %s survived the stop", pid)
		}
	}
}

// A crash loop backs off and gives up; the reason is in state.json.
func TestShimCrashLoopGivesUp(t *testing.T) {
	b := &fakeBooter{scripts: func(int) string { return "exit 3" }}
	start := time.Now()
	s, res := newTestShim(t, b, nil)
	if code := waitShim(t, res); code != 1 {
		t.Errorf("shim exit %d, want 1", code)
	}
	st := readState(t, s)
	if st.State != shimctl.StateFailed || st.RestartCount != 3 || st.BootCount != 4 {
		t.Errorf("state %+v", st)
	}
	if !strings.Contains(st.Reason, "gave up after 3 restarts") || !strings.Contains(st.Reason, "exit 3") {
		t.Errorf("reason %q", st.Reason)
	}
	// Backoffs of 10+20+40 ms at least.
	if took := time.Since(start); took < 70*time.Millisecond {
		t.Errorf("crash loop took %v: no backoff", took)
	}
}

// An init that exits 0 is a stop under on-failure.
func TestShimExitZeroStops(t *testing.T) {
	b := &fakeBooter{scripts: func(int) string { return "sleep 0.05; exit 0" }}
	s, res := newTestShim(t, b, nil)
	if code := waitShim(t, res); code != 0 {
		t.Errorf("shim exit %d", code)
	}
	if st := readState(t, s); st.State != shimctl.StateStopped || st.LastExit.Meaning != "exit 0" {
		t.Errorf("state %+v", st)
	}
}

// A first boot that fails reports the error through Ready and ends failed.
func TestShimFirstBootFails(t *testing.T) {
	dir := t.TempDir()
	paths := shimctl.PathsFor(dir, "fake")
	os.MkdirAll(paths.Dir, 0o700)
	var got error
	s := &Shim{Name: "fake", Paths: paths, Reaper: testReaper,
		Booter: &fakeBooter{bootErr: func(int) error { return errors.New("mount proc: no such file") }},
		Ready:  func(err error) { got = err }}
	if code := s.Run(); code != 1 {
		t.Errorf("exit %d", code)
	}
	if got == nil || !strings.Contains(got.Error(), "mount proc") {
		t.Errorf("ready got %v", got)
	}
	st, _ := shimctl.ReadState(paths.State)
	if st == nil || st.State != shimctl.StateFailed || !strings.Contains(st.Reason, "mount proc") {
		t.Errorf("state %+v", st)
	}
}

// SIGTERM to the shim is a stop with the halt signal, never forwarded.
func TestShimSIGTERMStops(t *testing.T) {
	dir := t.TempDir()
	b := &fakeBooter{scripts: func(int) string {
		return "trap 'echo TERM >> " + dir + "/got; exit 9' TERM; trap 'echo PWR >> " + dir + "/got; exit 0' PWR; while :; do sleep 0.05; done"
	}}
	s, res := newTestShim(t, b, nil)
	time.Sleep(200 * time.Millisecond) // let the script set its traps
	s.sigc <- unix.SIGTERM
	waitShim(t, res)
	got, _ := os.ReadFile(filepath.Join(dir, "got"))
	if strings.TrimSpace(string(got)) != "PWR" {
		t.Errorf("init received %q, want only PWR", got)
	}
	if st := readState(t, s); st.State != shimctl.StateStopped || st.StopResult != shimctl.StopGraceful {
		t.Errorf("state %+v", st)
	}
}

// The control socket refuses garbage and unknown ops, and a stop with
// --kill skips the grace period.
func TestControlProtocol(t *testing.T) {
	b := &fakeBooter{scripts: func(int) string { return "trap '' PWR; exec sleep 100" }}
	s, res := newTestShim(t, b, nil)
	fi, err := os.Stat(s.Paths.Socket)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %v %v", fi, err)
	}
	for _, line := range []string{"garbage\n", "{\"op\":\"explode\"}\n"} {
		conn, err := net.Dial("unix", s.Paths.Socket)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte(line))
		buf := make([]byte, 512)
		n, _ := conn.Read(buf)
		conn.Close()
		if !strings.Contains(string(buf[:n]), `"ok":false`) {
			t.Errorf("%q answered %q", line, buf[:n])
		}
	}
	c := &shimctl.Client{Name: "fake", Paths: s.Paths}
	if _, err := c.Console(context.Background(), 0, 24, 80); err == nil {
		t.Error("console on a container without one was accepted")
	}
	start := time.Now()
	resp, err := c.Stop(stopCtx(t), -1, true)
	if err != nil || resp.Result != shimctl.StopForced {
		t.Fatalf("stop --kill: %+v %v", resp, err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("--kill took %v", time.Since(start))
	}
	waitShim(t, res)
	if _, err := c.Status(context.Background()); !errors.Is(err, shimctl.ErrNoShim) {
		t.Errorf("status after exit: %v, want shimctl.ErrNoShim", err)
	}
	st, err := shimctl.Inspect(filepath.Dir(s.Paths.Dir), "fake")
	if err != nil || st.State != shimctl.StateStopped || st.ShimAlive || st.Running() {
		t.Errorf("inspect: %+v %v", st, err)
	}
}

// slowBooter's boot hangs until aborted (or, without abort support, takes
// a while and then starts an init).
type slowBooter struct {
	fakeBooter
	abortable bool
	aborted   chan struct{}
	once      sync.Once
}

func (b *slowBooter) Boot(boot int) (Run, error) {
	if b.abortable {
		<-b.aborted
		return nil, errors.New("stage killed")
	}
	time.Sleep(300 * time.Millisecond)
	return b.fakeBooter.Boot(boot)
}

func (b *slowBooter) AbortBoot() {
	if b.abortable {
		b.once.Do(func() { close(b.aborted) })
	}
}

// A stop while a boot hangs aborts the boot: stopped, not failed, and the
// ready callback hears why.
func TestShimStopAbortsHungBoot(t *testing.T) {
	dir := t.TempDir()
	paths := shimctl.PathsFor(dir, "fake")
	os.MkdirAll(paths.Dir, 0o700)
	b := &slowBooter{abortable: true, aborted: make(chan struct{})}
	readyc := make(chan error, 1)
	s := &Shim{Name: "fake", Paths: paths, Reaper: testReaper, Booter: b, Ready: func(err error) { readyc <- err }}
	s.init()
	res := make(chan int, 1)
	go func() { res <- s.Run() }()
	time.Sleep(100 * time.Millisecond)
	s.sigc <- unix.SIGTERM
	select {
	case code := <-res:
		if code != 0 {
			t.Errorf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stop did not end a hung boot")
	}
	if err := <-readyc; err == nil || !strings.Contains(err.Error(), "stopped during boot") {
		t.Errorf("ready got %v", err)
	}
	st, _ := shimctl.ReadState(paths.State)
	if st == nil || st.State != shimctl.StateStopped || st.StopResult != shimctl.StopNotRunning {
		t.Errorf("state %+v", st)
	}
}

// A stop that arrives while a boot completes kills the new init at once:
// it has not had time to set up its handlers.
func TestShimStopDuringBootKillsNewInit(t *testing.T) {
	b := &slowBooter{fakeBooter: fakeBooter{scripts: func(int) string { return "trap '' PWR; exec sleep 100" }}}
	dir := t.TempDir()
	paths := shimctl.PathsFor(dir, "fake")
	os.MkdirAll(paths.Dir, 0o700)
	s := &Shim{Name: "fake", Paths: paths, Reaper: testReaper, Booter: b, StopTimeout: time.Minute}
	s.init()
	res := make(chan int, 1)
	go func() { res <- s.Run() }()
	time.Sleep(100 * time.Millisecond)
	s.sigc <- unix.SIGTERM
	select {
	case <-res:
	case <-time.After(10 * time.Second):
		t.Fatal("stop during boot waited for the grace period")
	}
	st, _ := shimctl.ReadState(paths.State)
	if st == nil || st.State != shimctl.StateStopped || st.StopResult != shimctl.StopForced || st.BootCount != 1 {
		t.Errorf("state %+v", st)
	}
	if len(b.pids) != 1 {
		t.Fatalf("pids %v", b.pids)
	}
}

// A boot after a reboot that fails on the shim's own resources (its ptys)
// is not retried as a crash: the shim ends failed at once, with the cause,
// while a boot failure of the container itself goes through the backoff.
func TestShimOwnErrorIsNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		wantBoots int
		reason    string
	}{
		{"shim's pty", &ShimError{Op: "prepare the console for a new boot", Err: unix.EIO}, 2, "shim error: prepare the console for a new boot: input/output error"},
		{"container's mount", errors.New("mount proc: no such file"), 5, "gave up after 3 restarts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBooter{
				scripts: func(int) string { return "sleep 0.05; kill -HUP $$" },
				bootErr: func(boot int) error {
					if boot > 1 {
						return tc.err
					}
					return nil
				},
			}
			s, res := newTestShim(t, b, nil)
			if code := waitShim(t, res); code != 1 {
				t.Errorf("shim exit %d, want 1", code)
			}
			st := readState(t, s)
			if st.State != shimctl.StateFailed || st.BootCount != tc.wantBoots || !strings.Contains(st.Reason, tc.reason) {
				t.Errorf("state %s, boots %d (want %d), reason %q (want %q)", st.State, st.BootCount, tc.wantBoots, st.Reason, tc.reason)
			}
			if tc.wantBoots == 2 && st.RestartCount != 0 {
				t.Errorf("%d restarts after the shim's own error", st.RestartCount)
			}
		})
	}
}

// Every transition of the allow-list is one the lifecycle takes: each
// scenario below drives a shim over the fake booter, and together they
// take them all (and nothing else, or Machine would have refused it).
func TestLifecycleTakesEveryTransition(t *testing.T) {
	type edge struct{ from, to shimctl.State }
	var mu sync.Mutex
	taken := map[edge]bool{}
	trace := func(s *Shim) {
		s.trace = func(from, to shimctl.State) {
			mu.Lock()
			taken[edge{from, to}] = true
			mu.Unlock()
		}
	}
	stop := func(t *testing.T, s *Shim) {
		t.Helper()
		c := &shimctl.Client{Name: "fake", Paths: s.Paths}
		if _, err := c.Stop(stopCtx(t), -1, false); err != nil {
			t.Fatalf("stop: %v", err)
		}
	}
	waitFor := func(t *testing.T, s *Shim, st shimctl.State, boot int) {
		t.Helper()
		for i := 0; i < 1000; i++ {
			if cur := s.snapshot(); cur.State == st && cur.BootCount >= boot {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("never reached %s (boot %d): %+v", st, boot, s.snapshot())
	}
	scenarios := []struct {
		name  string
		b     *fakeBooter
		tune  func(*Shim)
		drive func(t *testing.T, s *Shim)
	}{
		{"reboot then stop", &fakeBooter{scripts: func(boot int) string {
			if boot == 1 {
				return "sleep 0.05; kill -HUP $$"
			}
			return "exec sleep 100"
		}}, nil, func(t *testing.T, s *Shim) { waitFor(t, s, shimctl.StateRunning, 2); stop(t, s) }},
		{"freeze, unfreeze, freeze, stop", &fakeBooter{scripts: func(int) string { return "exec sleep 100" }}, nil, func(t *testing.T, s *Shim) {
			c := &shimctl.Client{Name: "fake", Paths: s.Paths}
			for i, op := range []func(context.Context) error{c.Freeze, c.Unfreeze, c.Freeze} {
				if err := op(context.Background()); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			if st := s.snapshot(); st.State != shimctl.StateFrozen {
				t.Fatalf("after freeze: %s", st.State)
			}
			stop(t, s)
		}},
		{"halt", &fakeBooter{scripts: func(int) string { return "sleep 0.05; kill -INT $$" }}, nil, nil},
		{"exit 0", &fakeBooter{scripts: func(int) string { return "sleep 0.05; exit 0" }}, nil, nil},
		{"crash loop", &fakeBooter{scripts: func(int) string { return "sleep 0.05; exit 3" }}, nil, nil},
		{"later boot fails, then stop in backoff", &fakeBooter{
			scripts: func(int) string { return "sleep 0.05; exit 3" },
			bootErr: func(boot int) error {
				if boot > 1 {
					return errors.New("mount proc: no such file")
				}
				return nil
			},
		}, func(s *Shim) { s.Policy.BackoffMin, s.Policy.BackoffMax = 200*time.Millisecond, 30*time.Second }, func(t *testing.T, s *Shim) {
			// Boot 2 failed: the backoff before boot 3 (400 ms).
			waitFor(t, s, shimctl.StateBackoff, 2)
			stop(t, s)
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			s, res := newTestShim(t, sc.b, func(s *Shim) {
				trace(s)
				if sc.tune != nil {
					sc.tune(s)
				}
			})
			if sc.drive != nil {
				sc.drive(t, s)
			}
			waitShim(t, res)
		})
	}
	// A first boot that fails, and a stop that aborts a hung boot: no
	// ready init for newTestShim to wait for.
	for _, abortable := range []bool{false, true} {
		dir := t.TempDir()
		paths := shimctl.PathsFor(dir, "fake")
		os.MkdirAll(paths.Dir, 0o700)
		var b Booter = &fakeBooter{bootErr: func(int) error { return errors.New("no rootfs") }}
		if abortable {
			b = &slowBooter{abortable: true, aborted: make(chan struct{})}
		}
		s := &Shim{Name: "fake", Paths: paths, Reaper: testReaper, Booter: b}
		trace(s)
		s.init()
		res := make(chan int, 1)
		go func() { res <- s.Run() }()
		if abortable {
			time.Sleep(100 * time.Millisecond)
			s.sigc <- unix.SIGTERM
		}
		select {
		case <-res:
		case <-time.After(10 * time.Second):
			t.Fatal("shim did not end")
		}
	}
	for from, tos := range transitions {
		for _, to := range tos {
			if !taken[edge{from, to}] {
				t.Errorf("allowed transition %q -> %q never taken", from, to)
			}
		}
	}
	for e := range taken {
		if !CanTransition(e.from, e.to) {
			t.Errorf("transition %q -> %q taken but not allowed", e.from, e.to)
		}
	}
}

// A transition the allow-list refuses is an error and changes nothing:
// neither the state, nor the status, nor state.json.
func TestShimRefusedTransitionChangesNothing(t *testing.T) {
	all := []shimctl.State{"", shimctl.StateBooting, shimctl.StateRunning, shimctl.StateFrozen, shimctl.StateStopping, shimctl.StateRebooting, shimctl.StateBackoff, shimctl.StateStopped, shimctl.StateHalted, shimctl.StateFailed}
	refused := 0
	for _, from := range all {
		for _, to := range all[1:] {
			if CanTransition(from, to) {
				continue
			}
			refused++
			dir := t.TempDir()
			s := &Shim{Name: "fake", Paths: shimctl.PathsFor(dir, "fake")}
			os.MkdirAll(s.Paths.Dir, 0o700)
			s.m = Machine{cur: from}
			s.st = shimctl.Status{Name: "fake", State: from, BootCount: 7}
			if err := shimctl.WriteState(s.Paths.State, &s.st); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(s.Paths.State)
			applied := false
			err := s.to(to, func(st *shimctl.Status) { applied = true; st.BootCount = 8 })
			if !errors.Is(err, errRefused) {
				t.Errorf("%q -> %q: %v, want a refusal", from, to, err)
			}
			after, _ := os.ReadFile(s.Paths.State)
			if applied || s.m.State() != from || s.st.BootCount != 7 || string(before) != string(after) {
				t.Errorf("%q -> %q refused but applied: update %v, state %q, boot %d, state.json changed %v",
					from, to, applied, s.m.State(), s.st.BootCount, string(before) != string(after))
			}
		}
	}
	if refused < 50 {
		t.Errorf("only %d refused pairs tried", refused)
	}
}

// The abstract control socket: with the run directory removed, a client
// still reaches the shim through it; a process of another PID namespace
// (a container's, sharing the host's network namespace) is refused.
func TestControlAbstractPeers(t *testing.T) {
	testutil.RequireRoot(t) // unshare --pid
	b := &fakeBooter{scripts: func(int) string { return "trap '' PWR; exec sleep 100" }}
	s, res := newTestShim(t, b, func(s *Shim) {
		al, err := shimctl.ListenAbstract(s.Paths)
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve(al)
	})
	if err := os.RemoveAll(s.Paths.Dir); err != nil {
		t.Fatal(err)
	}
	c := &shimctl.Client{Name: "fake", Paths: s.Paths}
	st, err := c.Status(context.Background())
	if err != nil || st.State != shimctl.StateRunning || !st.ShimAlive {
		t.Fatalf("status with the run directory removed: %+v %v", st, err)
	}
	cmd := exec.Command("unshare", "--pid", "--fork", "--kill-child", os.Args[0])
	cmd.Env = append(os.Environ(), "LXC_SHIM_TEST_DIAL="+s.Paths.Abstract)
	// The test's reaper collects the child, not cmd.Wait.
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := testReaper.Watch(cmd.Process.Pid)
	out, _ := io.ReadAll(pipe)
	<-exited
	if !strings.Contains(string(out), `"ok":false`) || !strings.Contains(string(out), "another PID namespace") {
		t.Errorf("a process of another PID namespace got %q", out)
	}
	if resp, err := c.Stop(stopCtx(t), -1, true); err != nil || resp.Result != shimctl.StopForced {
		t.Fatalf("stop --kill through the abstract socket: %+v %v", resp, err)
	}
	waitShim(t, res)
}

// A subscriber sees every state change the shim makes, in order, pushed as
// it happens (rebooting lasts only as long as a teardown), then EOF when
// the shim ends.
func TestShimEventsPushEveryChange(t *testing.T) {
	b := &fakeBooter{scripts: func(boot int) string {
		if boot == 1 {
			return "sleep 0.3; kill -HUP $$"
		}
		return "exec sleep 100"
	}}
	s, res := newTestShim(t, b, nil)
	c := &shimctl.Client{Name: "fake", Paths: s.Paths}
	ch, _, err := c.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	next := func() shimctl.Status {
		t.Helper()
		select {
		case st, ok := <-ch:
			if !ok {
				t.Fatalf("events ended after %v", got)
			}
			got = append(got, string(st.State))
			return st
		case <-time.After(10 * time.Second):
			t.Fatalf("no event after %v", got)
		}
		return shimctl.Status{}
	}
	for st := next(); st.State != shimctl.StateRunning || st.BootCount < 2; st = next() {
	}
	if err := c.Freeze(context.Background()); err != nil {
		t.Fatal(err)
	}
	next()
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Stop(stopCtx, -1, false); err != nil {
		t.Fatal(err)
	}
	for st := range ch {
		got = append(got, string(st.State))
	}
	waitShim(t, res)
	want := "running rebooting booting running frozen stopping stopped"
	if j := strings.Join(got, " "); !strings.HasSuffix(j, want) {
		t.Errorf("events %q, want them to end with %q", j, want)
	}
}

// A container that halts from inside ends the shim at once: a subscriber
// still gets the final state before EOF.
func TestShimEventsFinalStateBeforeExit(t *testing.T) {
	b := &fakeBooter{scripts: func(int) string { return "sleep 0.3; kill -INT $$" }}
	s, res := newTestShim(t, b, nil)
	ch, _, err := (&shimctl.Client{Name: "fake", Paths: s.Paths}).Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var last shimctl.State
	for st := range ch {
		last = st.State
	}
	waitShim(t, res)
	if last != shimctl.StateHalted {
		t.Errorf("last event %q, want halted", last)
	}
}
