package tests

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	xterm "golang.org/x/term"

	"github.com/lxc-shim/lxc-shim/console"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// The escapes of issue 11 through `lxc-initd attach`, each tried the way
// an attacker in the container would, with tests/attacker (static) copied
// into the container as /bin/attacker.

var attackerBuild struct {
	once sync.Once
	path string
	err  error
}

// attackerBin builds tests/attacker once per test binary.
func attackerBin(t *testing.T) string {
	t.Helper()
	b := &attackerBuild
	b.once.Do(func() {
		root, err := testutil.ModuleRoot()
		if err != nil {
			b.err = err
			return
		}
		dir, err := os.MkdirTemp("", "lxc-shim-attacker-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "attacker")
		cmd := exec.Command("go", "build", "-o", b.path, "./tests/attacker")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build ./tests/attacker: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// withAttacker is a started busybox container (config base + extra) with
// /bin/attacker in it.
func withAttacker(t *testing.T, extra string) *tkEnv {
	t.Helper()
	e := newTK(t, extra)
	copyExe(t, attackerBin(t), filepath.Join(e.rootfs, "bin/attacker"))
	e.start()
	return e
}

func copyExe(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// watcher is `attacker watch` running in a container through attach.
type watcher struct {
	t    *testing.T
	dir  string // the watch's directory, as the host sees it
	out  string // its stdout and stderr
	done <-chan error
}

// startWatch attaches `attacker watch /tkwatch SECRET` and waits until it
// watches. Attached with the real lxc-initd, which stays busy (ETXTBSY)
// while the watch runs: only the victims' copies can be written.
func startWatch(t *testing.T, e *tkEnv, secret string) *watcher {
	t.Helper()
	w := &watcher{t: t, dir: filepath.Join(e.rootfs, "tkwatch")}
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.bins.Initd, e.args("attach", e.name, "--", "/bin/attacker", "watch", "/tkwatch", secret)...)
	// A file, not a buffer: Wait must not wait for a copy from a pipe the
	// container may still hold when a failed test kills the attach.
	out, err := os.Create(filepath.Join(t.TempDir(), "watch.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	w.out = out.Name()
	w.done = startCmd(t, cmd)
	testutil.WaitFor(t, 20*time.Second, "the watch to run", func() error {
		_, err := os.Stat(filepath.Join(w.dir, "ready"))
		return err
	})
	return w
}

// saw reports whether the watch has recorded a line starting with prefix.
func (w *watcher) saw(prefix string) bool {
	b, _ := os.ReadFile(filepath.Join(w.dir, "report.tmp"))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// stop ends the watch (which then tries its writes) and returns its report.
func (w *watcher) stop() string {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, "stop"), nil, 0o644); err != nil {
		w.t.Fatal(err)
	}
	select {
	case err := <-w.done:
		if err != nil {
			b, _ := os.ReadFile(w.out)
			w.t.Errorf("attach of the watch: %v\n%s", err, b)
		}
	case <-time.After(60 * time.Second):
		w.t.Fatal("the watch did not end")
	}
	b, err := os.ReadFile(filepath.Join(w.dir, "report"))
	if err != nil {
		w.t.Fatalf("watch report: %v", err)
	}
	return string(b)
}

// attachUntilSeen runs victim (an attach) until the watch has seen one of
// its children inside the container: the attack had its chance.
func attachUntilSeen(t *testing.T, w *watcher, victim func() *exec.Cmd) {
	t.Helper()
	for i := 0; i < 40 && !w.saw("fds pid"); i++ {
		cmd := victim()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("victim attach %v: %v\n%s", cmd.Args, err, out)
		}
	}
	if !w.saw("fds pid") {
		t.Fatal("the watch never saw an attach child inside the container: the attack was not tried")
	}
}

// victimInitd is a copy of lxc-initd for the attaches the watch preys on,
// so that a failing test damages only the copy.
func victimInitd(t *testing.T, e *tkEnv) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lxc-initd")
	copyExe(t, e.bins.Initd, p)
	return p
}

func fileSum(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// CVE-2019-5736: a container process keeps an O_PATH descriptor on the
// executable of the attach child it sees in its /proc, and once attach is
// done reopens it for writing. What it holds must be the sealed copy,
// never the host's lxc-initd.
func TestAttachHostBinaryNotWritable(t *testing.T) {
	e := withAttacker(t, "lxc.mount.auto = proc:mixed\n")
	victim := victimInitd(t, e)
	before := fileSum(t, victim)

	w := startWatch(t, e, "tk-none")
	attachUntilSeen(t, w, func() *exec.Cmd {
		return exec.Command(victim, e.args("attach", e.name, "--", "true")...)
	})
	report := w.stop()
	t.Logf("what the container saw and did:\n%s", report)
	if !strings.Contains(report, "\nwrite ") && !strings.HasPrefix(report, "write ") {
		t.Fatalf("the watch kept no executable to write:\n%s", report)
	}
	if strings.Contains(report, "APPENDED") || fileSum(t, victim) != before {
		t.Errorf("a container process appended to the host's lxc-initd through /proc/PID/exe:\n%s", report)
	}
	for _, l := range strings.Split(report, "\n") {
		if strings.HasPrefix(l, "exe pid ") && !strings.Contains(l, "/memfd:lxc-initd") {
			t.Errorf("an attach child inside the container runs %q, not the sealed copy", l)
		}
	}
}

// CVE-2024-21626: a descriptor the caller left open (`exec 40</dir`), and
// the caller's cwd, must not be reachable from the container through the
// attach child's /proc/PID/fd, cwd or root.
func TestAttachCallerDescriptorsStayOut(t *testing.T) {
	e := withAttacker(t, "lxc.mount.auto = proc:mixed\n")
	secretDir := t.TempDir()
	secret := "tk-secret-" + randHex(t)
	if err := os.WriteFile(filepath.Join(secretDir, "tk-secret"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	victim := victimInitd(t, e)
	w := startWatch(t, e, "tk-secret")
	attachUntilSeen(t, w, func() *exec.Cmd {
		args := append([]string{"-c", `exec 40<"$1"; shift; exec "$@"`, "bash", secretDir, victim}, e.args("attach", e.name, "--", "true")...)
		cmd := exec.Command("/bin/bash", args...) // dash takes one-digit descriptors only
		cmd.Dir = secretDir
		return cmd
	})
	report := w.stop()
	t.Logf("what the container saw:\n%s", report)
	if strings.Contains(report, secret) || strings.Contains(report, "secret pid") || strings.Contains(report, secretDir) {
		t.Errorf("the host directory the caller held reached the container:\n%s", report)
	}
}

func randHex(t *testing.T) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// TIOCSTI: when only some of stdin, stdout, stderr are a terminal, or none
// is but the caller has a controlling terminal, nothing the attached
// command does may queue input on the caller's terminal.
func TestAttachNoHostTerminal(t *testing.T) {
	e := withAttacker(t, "")
	const typed = "id > /tmp/tk-pwn\n"
	for _, tc := range []struct {
		name          string
		stdin, stdout bool // which get the terminal
	}{
		{name: "stdin terminal, stdout pipe", stdin: true},
		{name: "stdout terminal, stdin pipe", stdout: true},
		{name: "controlling terminal only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			master, slave, err := console.NewPty()
			if err != nil {
				t.Fatal(err)
			}
			defer master.Close()
			defer slave.Close()
			if _, err := xterm.MakeRaw(int(slave.Fd())); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(e.bins.Initd, e.args("attach", e.name, "--", "/bin/attacker", "tiocsti", typed)...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			cmd.ExtraFiles = []*os.File{slave} // fd 3: the controlling terminal
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 3}
			if tc.stdin {
				cmd.Stdin = slave
			}
			if tc.stdout {
				cmd.Stdout = slave
			}
			screen := make(chan string, 1)
			go func() {
				var b bytes.Buffer
				buf := make([]byte, 4096)
				_ = master.SetReadDeadline(time.Now().Add(30 * time.Second))
				for !regexp.MustCompile(`tiocsti /dev/tty[^\n]*\n`).MatchString(b.String()) {
					n, err := master.Read(buf)
					b.Write(buf[:n])
					if err != nil {
						break
					}
				}
				screen <- b.String()
			}()
			if err := cmd.Run(); err != nil {
				t.Fatalf("attach: %v\n%s", err, out.String())
			}
			report := out.String()
			if tc.stdout {
				report = <-screen
			}
			if !strings.Contains(report, "tiocsti /dev/tty") {
				t.Fatalf("the attacker did not run; its output:\n%q", report)
			}
			queued, err := unix.IoctlGetInt(int(slave.Fd()), unix.TIOCINQ)
			if err != nil {
				t.Fatal(err)
			}
			if queued != 0 || strings.Contains(report, "INJECTED") {
				t.Errorf("the container queued %d bytes of input on the caller's terminal:\n%s", queued, report)
			}
		})
	}
}

// lxc.keyring.session: by default an attached command has a new session
// keyring and cannot read a key of the caller's session keyring; with
// lxc.keyring.session = 0 it keeps the caller's (and can).
func TestAttachSessionKeyring(t *testing.T) {
	e := withAttacker(t, "")
	readKey := func() string {
		t.Helper()
		args := append([]string{"keyring-exec", e.bins.Initd}, e.args("attach", e.name, "--", "/bin/attacker", "key-read", "KEYID")...)
		out, err := exec.Command(attackerBin(t), args...).CombinedOutput()
		if err != nil {
			t.Fatalf("attach reading the caller's key: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := readKey(); !strings.Contains(out, "key ") || strings.Contains(out, "tk-key-payload") {
		t.Errorf("the attached command read a key of the caller's session keyring (or did not try): %q", out)
	}
	cfgPath := filepath.Join(e.lxcpath, e.name, "config")
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "lxc.keyring.session = 0")
	f.Close()
	if out := readKey(); !strings.Contains(out, "payload tk-key-payload") {
		t.Errorf("with lxc.keyring.session = 0 the caller's session keyring was not kept: %q", out)
	}
}

// A host file or directory given as stdio never reaches the container as
// such: from a directory descriptor a container process could fchdir and
// walk the host, from a file's it could reopen the file read-write through
// /proc/self/fd. lxc-initd copies them through pipes instead.
func TestAttachHostFilesStayOut(t *testing.T) {
	e := newTK(t, "lxc.mount.auto = proc:mixed\n")
	e.start()
	dir, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	out, errOut, code := e.initd(dir, "attach", e.name, "--", "readlink", "/proc/self/fd/0")
	if code != 0 || !strings.HasPrefix(strings.TrimSpace(out), "pipe:") {
		t.Errorf("the attached command's stdin is %q (exit %d, %s), want a pipe, never the host directory", out, code, errOut)
	}
	f, err := os.CreateTemp(t.TempDir(), "tk-host-file")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("host content\n")
	f.Seek(0, 0)
	defer f.Close()
	out, errOut, code = e.initd(f, "attach", e.name, "--", "sh", "-c", "readlink /proc/self/fd/0; cat")
	if code != 0 || !strings.HasPrefix(out, "pipe:") || !strings.Contains(out, "host content") {
		t.Errorf("stdin from a host file: %q (exit %d, %s), want a pipe carrying its content", out, code, errOut)
	}
}
