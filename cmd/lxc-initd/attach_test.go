package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/lxc-shim/lxc-shim/console"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/nsenter"
)

// TestMain: this test binary links package nsenter, so its constructor
// runs here too; a child it let through reports what it was left with.
func TestMain(m *testing.M) {
	testutil.CoverChildren()
	if nsenter.Entered() {
		reportEntered()
	}
	os.Exit(m.Run())
}

// entered is what the constructor's child found itself with, before any
// Go code of attach ran.
type entered struct {
	Fds      map[int]string `json:"fds"`     // descriptor -> link
	Cloexec  map[int]bool   `json:"cloexec"` // descriptor -> FD_CLOEXEC
	Dumpable int            `json:"dumpable"`
	Cwd      string         `json:"cwd"`
	Session  int            `json:"session"` // session keyring serial
}

func reportEntered() {
	var r entered
	r.Fds, r.Cloexec = map[int]string{}, map[int]bool{}
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		fd, _ := strconv.Atoi(e.Name())
		l, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the directory's own descriptor, closed by now
		}
		fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		r.Fds[fd], r.Cloexec[fd] = l, fl&unix.FD_CLOEXEC != 0
	}
	r.Dumpable, _ = unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	r.Cwd, _ = os.Getwd()
	r.Session, _ = unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, true)
	_ = json.NewEncoder(os.Stdout).Encode(&r)
	os.Exit(0)
}

// The constructor, before it joins anything: non-dumpable, every
// descriptor of the caller's closed but the error pipe (close-on-exec),
// cwd /, a new session keyring. Here it is pointed at this process, whose
// namespaces it shares, so it joins none and its child reports at once.
func TestConstructorLeavesNothingOfTheCaller(t *testing.T) {
	if !nsenter.Available {
		if os.Getenv("LXC_SHIM_REQUIRE_ROOT") == "1" {
			t.Fatal("built without cgo: no constructor, so no attach (CI must build lxc-initd with cgo)")
		}
		t.Skip("built without cgo: no constructor")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	held, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer errR.Close()
	own, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, true)
	if err != nil {
		t.Fatalf("session keyring: %v", err)
	}
	self := pidfdOf(t, os.Getpid())
	// The caller's `exec 40</dir`: fd 40, with 3 the error pipe and 4
	// the pidfd.
	extra := make([]*os.File, 38)
	extra[0], extra[1], extra[37] = errW, self, held
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.ExtraFiles = extra
	cmd.Dir = dir
	cmd.Env = []string{
		nsenter.EnvPid + "=" + strconv.Itoa(os.Getpid()),
		nsenter.EnvErrFd + "=3",
		nsenter.EnvPidfd + "=4",
		nsenter.EnvKeyring + "=new",
	}
	out, err := cmd.Output()
	errW.Close()
	if err != nil {
		t.Fatalf("constructor child: %v\n%s", err, out)
	}
	var r entered
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("report %q: %v", out, err)
	}
	// The Go runtime opens (close-on-exec) cgroup files of its own.
	for fd, l := range r.Fds {
		if fd > 3 && (fd == 40 || l == dir || !r.Cloexec[fd]) {
			t.Errorf("descriptor %d (%s) of the caller is still open", fd, l)
		}
	}
	if l, ok := r.Fds[3]; !ok || !strings.HasPrefix(l, "pipe:") || !r.Cloexec[3] {
		t.Errorf("the error pipe: fd 3 %q open %v, close-on-exec %v", l, ok, r.Cloexec[3])
	}
	if r.Dumpable != 0 {
		t.Errorf("dumpable = %d, want 0", r.Dumpable)
	}
	if r.Cwd != "/" {
		t.Errorf("cwd %q, want /", r.Cwd)
	}
	if r.Session == own || r.Session == 0 {
		t.Errorf("session keyring %d, the caller's is %d: want a new one", r.Session, own)
	}
	if t.Failed() {
		t.Logf("report: %s", out)
	}
}

func pidfdOf(t *testing.T, pid int) *os.File {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	t.Cleanup(func() { f.Close() })
	return f
}

// The init died after attach checked it and its PID number now names
// another process (here: this test, standing in for a host process that
// got the number). The constructor must not join that process's
// namespaces: it goes through the init's pidfd, which is dead, and fails.
// (Joining /proc/PID/ns by number, as it once did, ran the command in the
// namespaces of whatever process had the number.)
func TestConstructorRefusesAReusedPid(t *testing.T) {
	if !nsenter.Available {
		if os.Getenv("LXC_SHIM_REQUIRE_ROOT") == "1" {
			t.Fatal("built without cgo: no constructor")
		}
		t.Skip("built without cgo: no constructor")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("sleep", "1000")
	if err := dead.Start(); err != nil {
		t.Fatal(err)
	}
	pidfd := pidfdOf(t, dead.Process.Pid)
	_ = dead.Process.Kill()
	_ = dead.Wait()

	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer errR.Close()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.ExtraFiles = []*os.File{errW, pidfd}
	cmd.Env = []string{
		nsenter.EnvPid + "=" + strconv.Itoa(os.Getpid()),
		nsenter.EnvErrFd + "=3",
		nsenter.EnvPidfd + "=4",
	}
	out, err := cmd.Output()
	errW.Close()
	msg, _ := io.ReadAll(errR)
	if err == nil || len(out) > 0 {
		t.Fatalf("the constructor let a child through for a dead init (err %v, child's report %q)", err, out)
	}
	if !strings.Contains(string(msg), "ended") {
		t.Errorf("error %q, want it to say the init ended", msg)
	}
}

// Without a terminal on both stdin and stdout, a terminal among the
// caller's stdio is replaced by a pipe copied through; a file is passed
// as it is.
func TestAttachPipesStandForTerminals(t *testing.T) {
	master, slave, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	// A pipe passes as it is; a host file is copied through a pipe too
	// (its descriptor would let the container reopen it).
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var b attachIO
	if err := b.openPipes([3]*os.File{file, file, file}); err != nil {
		t.Fatal(err)
	}
	for i, f := range b.child {
		if f == file {
			t.Errorf("the command's fd %d is the caller's host file", i)
		}
	}
	b.close()
	var a attachIO
	if err := a.openPipes([3]*os.File{slave, pw, slave}); err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if a.child[1] != pw {
		t.Errorf("stdout, a pipe, was replaced by %s", a.child[1].Name())
	}
	for _, i := range []int{0, 2} {
		if term.IsTerminal(int(a.child[i].Fd())) || a.child[i] == slave {
			t.Errorf("the command's fd %d is the caller's terminal", i)
		}
	}
	// What the command writes on stderr reaches the caller's terminal.
	errW, err := unix.Dup(int(a.child[2].Fd()))
	if err != nil {
		t.Fatal(err)
	}
	a.started()
	if _, err := unix.Write(errW, []byte("tk-through-the-pipe\n")); err != nil {
		t.Fatal(err)
	}
	unix.Close(errW)
	a.finish()
	buf := make([]byte, 256)
	_ = master.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := master.Read(buf)
	if !strings.Contains(string(buf[:n]), "tk-through-the-pipe") {
		t.Errorf("the terminal shows %q", buf[:n])
	}
}
