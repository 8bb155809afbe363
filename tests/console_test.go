package tests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/console"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// tkEnv is one console/attach test's busybox container (names "tk...").
type tkEnv struct {
	t       *testing.T
	bins    testutil.Bins
	name    string
	lxcpath string
	rundir  string
	logdir  string
	rootfs  string
	conlog  string // lxc.console.logfile
}

// newTK writes a busybox container whose config is the base below plus
// extra, and registers the cleanup: stop, cleanup, then the leak check.
func newTK(t *testing.T, extra string) *tkEnv {
	t.Helper()
	testutil.RequireRoot(t)
	dir := t.TempDir()
	e := &tkEnv{
		t:       t,
		bins:    testutil.Binaries(t),
		name:    testutil.Name("tk"),
		lxcpath: filepath.Join(dir, "lxc"),
		rundir:  filepath.Join(dir, "run"),
		logdir:  filepath.Join(dir, "log"),
		rootfs:  filepath.Join(dir, "rootfs"),
	}
	e.conlog = filepath.Join(e.logdir, e.name+".console")
	if err := os.MkdirAll(e.logdir, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.BusyboxRootfs(t, e.rootfs)
	testutil.WriteConfig(t, e.lxcpath, e.name, fmt.Sprintf(
		"lxc.uts.name = %s\nlxc.rootfs.path = dir:%s\nlxc.signal.halt = SIGUSR1\n"+
			"lxc.console.logfile = %s\n%s", e.name, e.rootfs, e.conlog, extra))
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{filepath.Join(e.logdir, e.name+".log"), e.conlog} {
				if b, err := os.ReadFile(f); err == nil {
					t.Logf("%s:\n%s", f, b)
				}
			}
		}
		e.initd(nil, "stop", "--kill", e.name)
		e.initd(nil, "cleanup", e.name)
		testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
	})
	return e
}

func (e *tkEnv) cli() initdCLI {
	return initdCLI{bin: e.bins.Initd, lxcpath: e.lxcpath, rundir: e.rundir, logdir: e.logdir}
}

func (e *tkEnv) args(a ...string) []string { return e.cli().args(a...) }

// initd runs lxc-initd (stdin from in, or /dev/null) and returns its
// output and exit code.
func (e *tkEnv) initd(in *os.File, a ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	return e.cli().run(e.t, in, a...)
}

func (e *tkEnv) must(want int, a ...string) string {
	e.t.Helper()
	return e.cli().must(e.t, want, a...)
}

func (e *tkEnv) start() *shimctl.Status {
	e.t.Helper()
	e.must(0, "start", e.name)
	st, err := shimctl.Inspect(e.rundir, e.name)
	if err != nil || !st.Running() {
		e.t.Fatalf("after start: %+v, %v", st, err)
	}
	return st
}

func (e *tkEnv) running() bool {
	st, err := shimctl.Inspect(e.rundir, e.name)
	return err == nil && st.Running()
}

// term is a pseudo-terminal the test plays the user on: the command runs
// with the slave as its controlling terminal, the test reads and types on
// the master.
type term struct {
	t      *testing.T
	master *os.File
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	done   <-chan error
}

func startOnTerm(t *testing.T, rows, cols int, path string, args ...string) *term {
	t.Helper()
	master, slave, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	if err := console.SetSize(slave, rows, cols); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.Env = append(os.Environ(), "TERM=dumb")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	t.Cleanup(func() { master.Close() })
	tm := &term{t: t, master: master, cmd: cmd, done: startCmd(t, cmd)}
	slave.Close()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			tm.mu.Lock()
			tm.out.Write(buf[:n])
			tm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return tm
}

func (tm *term) text() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

func (tm *term) typ(s string) {
	tm.t.Helper()
	if _, err := tm.master.Write([]byte(s)); err != nil {
		tm.t.Fatalf("type %q: %v", s, err)
	}
}

// expect waits until the screen output matches re (after position from)
// and returns the end of the match.
func (tm *term) expect(re string, from int) int {
	tm.t.Helper()
	rx := regexp.MustCompile(re)
	var s string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		s = tm.text()
		if from > len(s) {
			from = len(s)
		}
		if loc := rx.FindStringIndex(s[from:]); loc != nil {
			return from + loc[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	tm.t.Fatalf("terminal never showed %q; it shows:\n%q", re, s)
	return 0
}

func (tm *term) wait() int {
	tm.t.Helper()
	select {
	case <-tm.done:
	case <-time.After(30 * time.Second):
		tm.t.Fatalf("command on the terminal did not exit; screen:\n%q", tm.text())
	}
	return tm.cmd.ProcessState.ExitCode()
}

// The console scenario: attach under a terminal, see the shell's
// prompt, run a command, the window size follows, a second client is
// refused, Ctrl-a q detaches and the container keeps running; what the
// console printed while nobody was attached is in the log.
func TestConsoleSession(t *testing.T) {
	e := newTK(t, "")
	e.start()

	// Output while nobody is attached.
	e.must(0, "attach", e.name, "--", "sh", "-c", "echo tk-unattended-$((40+2)) > /dev/console")
	testutil.WaitFor(t, 20*time.Second, "the unattended line in the console log", func() error {
		b, err := os.ReadFile(e.conlog)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), "tk-unattended-42") {
			return fmt.Errorf("log holds %q", b)
		}
		return nil
	})

	tm := startOnTerm(t, 40, 120, e.bins.Initd, e.args("console", e.name)...)
	pos := tm.expect(`Connected to `+e.name+`'s console`, 0)
	tm.typ("\r")
	pos = tm.expect(`# $|# \S*$|#\s*$`, pos)
	tm.typ("echo tk-$((6*7))-done; stty size\r")
	pos = tm.expect(`tk-42-done\r?\n40 120`, pos)

	// A second client on the same console is refused, with a reason.
	out, errOut, code := e.initd(nil, "console", e.name)
	if code == 0 || !strings.Contains(errOut, "in use") {
		t.Errorf("second console client: exit %d, stdout %q stderr %q; want a refusal saying the console is in use", code, out, errOut)
	}

	// Window size change on the user's side reaches the container.
	tm.mu.Lock()
	err := console.SetSize(tm.master, 33, 97)
	tm.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	tm.cmd.Process.Signal(syscall.SIGWINCH)
	testutil.WaitFor(t, 20*time.Second, "the new size inside the container", func() error {
		mark := len(tm.text())
		tm.typ("stty size\r")
		time.Sleep(100 * time.Millisecond)
		if s := tm.text()[mark:]; !strings.Contains(s, "33 97") {
			return fmt.Errorf("stty size printed %q", s)
		}
		return nil
	})

	tm.typ("\x01q")
	if code := tm.wait(); code != 0 {
		t.Errorf("console after Ctrl-a q: exit %d; screen:\n%q", code, tm.text())
	}
	tm.expect(`Detached from `+e.name+`'s console`, pos)
	if !e.running() {
		t.Fatal("the container stopped after the console detached")
	}
	// Still usable: attach again, and the session is in the log.
	if got := strings.TrimSpace(e.must(0, "attach", e.name, "--", "hostname")); got != e.name {
		t.Errorf("hostname after detach: %q", got)
	}
	b, _ := os.ReadFile(e.conlog)
	if !strings.Contains(string(b), "tk-42-done") {
		t.Errorf("console log lacks the attached session's output: %q", b)
	}
	tm2 := startOnTerm(t, 24, 80, e.bins.Initd, e.args("console", "--escape", "b", e.name)...)
	tm2.expect(`Type <Ctrl\+b q> to detach`, 0)
	tm2.typ("\x01q\x02q")
	if code := tm2.wait(); code != 0 {
		t.Errorf("console --escape b after Ctrl-b q: exit %d; screen:\n%q", code, tm2.text())
	}
	// A client attached while the container stops is told so.
	tm3 := startOnTerm(t, 24, 80, e.bins.Initd, e.args("console", e.name)...)
	tm3.expect(`Connected to`, 0)
	e.must(0, "stop", e.name)
	tm3.expect(`the shim closed the console`, 0)
	if code := tm3.wait(); code != 1 {
		t.Errorf("console of a container that stopped: exit %d, want 1; screen:\n%q", code, tm3.text())
	}
}

func TestConsoleErrors(t *testing.T) {
	e := newTK(t, "lxc.tty.max = 1\n")
	if _, errOut, code := e.initd(nil, "console", e.name); code == 0 || !strings.Contains(errOut, "not running") {
		t.Errorf("console of a stopped container: exit %d, stderr %q; want 'not running'", code, errOut)
	}
	if _, errOut, code := e.initd(nil, "attach", e.name, "--", "true"); code == 0 || !strings.Contains(errOut, "not running") {
		t.Errorf("attach to a stopped container: exit %d, stderr %q; want 'not running'", code, errOut)
	}
	e.start()
	if _, errOut, code := e.initd(nil, "console", "--tty", "5", e.name); code == 0 || !strings.Contains(errOut, "tty5") {
		t.Errorf("console --tty 5 with lxc.tty.max = 1: exit %d, stderr %q; want an error naming tty5", code, errOut)
	}
	if _, errOut, code := e.initd(nil, "console", "--escape", "12", e.name); code != 2 || !strings.Contains(errOut, "escape") {
		t.Errorf("console --escape 12: exit %d, stderr %q; want a usage error", code, errOut)
	}
	// tty1 exists: a client on a pipe attaches, and its end of input
	// detaches it.
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	if _, errOut, code := e.initd(devnull, "console", "--tty", "1", e.name); code != 0 || !strings.Contains(errOut, "tty1") {
		t.Errorf("console --tty 1 with stdin at EOF: exit %d, stderr %q", code, errOut)
	}
	if !e.running() {
		t.Error("the container stopped")
	}
	e.must(0, "stop", e.name)
}

// hostStatus reads the "Key:" lines of /proc/PID/status.
func hostStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		m[k] = strings.TrimSpace(v)
	}
	return m
}

func capMask(t *testing.T, hex string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func childrenOf(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

const (
	capSysModule = 16
	capSysTime   = 25
)

func TestAttach(t *testing.T) {
	e := newTK(t, "lxc.cap.drop = sys_module sys_time\nlxc.environment = TK_FROM_CONFIG=yes\n")
	st := e.start()

	if got := e.must(0, "attach", e.name, "--", "hostname"); strings.TrimSpace(got) != e.name {
		t.Errorf("attach -- hostname printed %q, want %q", got, e.name)
	}
	if _, _, code := e.initd(nil, "attach", e.name, "--", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("attach -- sh -c 'exit 7': exit %d", code)
	}
	if out, errOut, code := e.initd(nil, "attach", e.name, "--", "/no/such/tk-cmd"); code != 127 || !strings.Contains(errOut, "/no/such/tk-cmd") {
		t.Errorf("attach of a missing command: exit %d, stdout %q stderr %q; want 127 naming it", code, out, errOut)
	}
	env := e.must(0, "attach", e.name, "--", "sh", "-c", "env; pwd")
	for _, want := range []string{"TK_FROM_CONFIG=yes", "container=lxc", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"} {
		if !strings.Contains(env, want+"\n") {
			t.Errorf("attached environment lacks %s:\n%s", want, env)
		}
	}
	if strings.Contains(env, "TK_HOST_ONLY") || !strings.HasSuffix(env, "/\n") {
		t.Errorf("environment leaked from the host, or cwd is not /:\n%s", env)
	}
	// stdin is passed through.
	in, err := os.CreateTemp(t.TempDir(), "in")
	if err != nil {
		t.Fatal(err)
	}
	in.WriteString("tk-stdin-line\n")
	in.Seek(0, 0)
	if out, _, code := e.initd(in, "attach", e.name, "--", "cat"); code != 0 || out != "tk-stdin-line\n" {
		t.Errorf("attach -- cat < file: exit %d, %q", code, out)
	}
	in.Close()

	// A long-running attached process, inspected from the host.
	cmd := exec.Command(e.bins.Initd, e.args("attach", e.name, "--", "sleep", "1000")...)
	cmd.Env = append(os.Environ(), "TK_HOST_ONLY=1")
	waited := startCmd(t, cmd)
	var sleeper int
	testutil.WaitFor(t, 20*time.Second, "the attached sleep", func() error {
		for _, waiter := range childrenOf(cmd.Process.Pid) {
			for _, c := range childrenOf(waiter) {
				if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c)); strings.TrimSpace(string(b)) == "sleep" {
					sleeper = c
					return nil
				}
			}
		}
		return errors.New("not yet")
	})
	for _, ns := range []string{"pid", "mnt", "uts", "ipc", "net", "cgroup"} {
		want, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", st.Pid, ns))
		got, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", sleeper, ns))
		if err != nil || got != want {
			t.Errorf("attached process %s namespace %q, init's %q (%v)", ns, got, want, err)
		}
	}
	initCg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid))
	gotCg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", sleeper))
	if string(gotCg) != string(initCg) || !strings.Contains(string(gotCg), e.name) {
		t.Errorf("attached process cgroups:\n%s\ninit's:\n%s", gotCg, initCg)
	}
	ps := hostStatus(t, sleeper)
	if f := strings.Fields(ps["NSpid"]); len(f) != 2 || f[1] == "1" {
		t.Errorf("NSpid %q: want a host pid and a container pid other than 1", ps["NSpid"])
	}
	is := hostStatus(t, st.Pid)
	initBnd := capMask(t, is["CapBnd"])
	for _, k := range []string{"CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"} {
		m := capMask(t, ps[k])
		if m&^initBnd != 0 {
			t.Errorf("attached process %s %s has capabilities outside the init's bounding set %s", k, ps[k], is["CapBnd"])
		}
		if m&(1<<capSysModule|1<<capSysTime) != 0 {
			t.Errorf("attached process %s %s holds a dropped capability (sys_module/sys_time)", k, ps[k])
		}
	}
	if capMask(t, ps["CapBnd"]) != initBnd {
		t.Errorf("attached CapBnd %s, init's %s", ps["CapBnd"], is["CapBnd"])
	}
	if capMask(t, ps["CapEff"]) == 0 {
		t.Errorf("attached root has no effective capabilities at all: %s", ps["CapEff"])
	}
	// A signal to lxc-initd reaches the command; its status comes back.
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-waited:
	case <-time.After(20 * time.Second):
		t.Fatal("attach did not end after SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 128+int(syscall.SIGTERM) {
		t.Errorf("attach killed by SIGTERM: exit %d, want %d", code, 128+int(syscall.SIGTERM))
	}
	e.must(0, "stop", e.name)
}

// With a terminal, attach gives the command a pty of the container's own
// devpts, as its controlling terminal, and returns its status.
func TestAttachWithTerminal(t *testing.T) {
	e := newTK(t, "")
	e.start()
	tm := startOnTerm(t, 30, 100, e.bins.Initd, e.args("attach", e.name)...)
	tm.typ("tty; stty size; echo tk-$((1+1))-pty\r")
	pos := tm.expect(`/dev/pts/\d+\r?\n30 100\r?\ntk-2-pty`, 0)
	tm.typ("exit 3\r")
	if code := tm.wait(); code != 3 {
		t.Errorf("attach with a terminal, shell exit 3: exit %d; screen:\n%q", code, tm.text()[pos:])
	}
	if !e.running() {
		t.Error("the container stopped")
	}
	e.must(0, "stop", e.name)
}

// lxc.console.size and lxc.console.rotate on a running container: the log
// never exceeds the size, one rotated file is kept; lxc.console.path = none
// leaves no console to attach to, while attach still works.
func TestConsoleLogRotationAndNone(t *testing.T) {
	e := newTK(t, "lxc.console.size = 8192\nlxc.console.rotate = 1\n")
	e.start()
	e.must(0, "attach", e.name, "--", "sh", "-c",
		"i=0; while [ $i -lt 400 ]; do echo tk-rot-line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done > /dev/console")
	testutil.WaitFor(t, 20*time.Second, "the last line in the console log", func() error {
		b, err := os.ReadFile(e.conlog)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), "tk-rot-line-399-") {
			return fmt.Errorf("log ends with %q", b[max(0, len(b)-80):])
		}
		return nil
	})
	cur, _ := os.ReadFile(e.conlog)
	old, err := os.ReadFile(e.conlog + ".1")
	if err != nil {
		t.Fatalf("no rotated console log: %v", err)
	}
	if len(cur) > 8192 || len(old) > 8192 || len(old) == 0 {
		t.Errorf("console log %d bytes, rotated %d bytes; limit 8192", len(cur), len(old))
	}
	if strings.Contains(string(old)+string(cur), "tk-rot-line-0-") {
		t.Errorf("the first lines survived two rotations")
	}
	e.must(0, "stop", e.name)

	n := newTK(t, "lxc.console.path = none\n")
	n.start()
	if _, errOut, code := n.initd(nil, "console", n.name); code == 0 || !strings.Contains(errOut, "none") {
		t.Errorf("console with lxc.console.path = none: exit %d, stderr %q", code, errOut)
	}
	if got := strings.TrimSpace(n.must(0, "attach", n.name, "--", "hostname")); got != n.name {
		t.Errorf("attach -- hostname: %q", got)
	}
	n.must(0, "stop", n.name)
}
