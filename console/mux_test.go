package console

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// checkNoFdLeak fails the test if it ends with more open descriptors than
// it started with: the Mux's master, slave peer and log must all be closed.
func checkNoFdLeak(t *testing.T) {
	t.Helper()
	before := openFds(t)
	t.Cleanup(func() {
		var after []string
		for i := 0; i < 50; i++ {
			if after = openFds(t); len(after) <= len(before) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("descriptors leaked: %d open before, %d after: %v", len(before), len(after), after)
	})
}

func openFds(t *testing.T) []string {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		l, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		out = append(out, e.Name()+"->"+l)
	}
	return out
}

// rawPty returns a pty whose slave does not translate output (no \n to
// \r\n), so bytes written to the slave arrive unchanged on the master.
func rawPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, slave, err := NewPty()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := term.MakeRaw(int(slave.Fd())); err != nil {
		t.Fatal(err)
	}
	return master, slave
}

// waitBuffer waits until the Mux's ring ends with suffix: everything
// written so far has been read and dispatched.
func waitBuffer(t *testing.T, m *Mux, suffix string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !bytes.HasSuffix(m.Buffer(), []byte(suffix)) {
		if time.Now().After(deadline) {
			t.Fatalf("the mux never read %q; ring ends with %q", suffix, tail(m.Buffer(), 80))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// records writes n numbered 100-byte records to w and returns them all.
func records(t *testing.T, w io.Writer, n int) string {
	t.Helper()
	var all strings.Builder
	for i := 0; i < n; i++ {
		rec := fmt.Sprintf("<%05d>%s", i, strings.Repeat("x", 93))
		if _, err := io.WriteString(w, rec); err != nil {
			t.Fatal(err)
		}
		all.WriteString(rec)
	}
	return all.String()
}

func TestLogRotatesAtSize(t *testing.T) {
	checkNoFdLeak(t)
	master, slave := rawPty(t)
	defer slave.Close()
	logPath := filepath.Join(t.TempDir(), "console.log")
	const size = 10000
	m, err := NewMux("tkrot", master, config.Console{Logfile: logPath, Size: size, Rotate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	all := records(t, slave, 250) // 25000 bytes: at least two rotations
	waitBuffer(t, m, all[len(all)-100:])

	cur, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(logPath + ".1")
	if err != nil {
		t.Fatalf("no rotated log: %v", err)
	}
	if len(cur) > size || len(old) > size {
		t.Errorf("log sizes %d and %d (.1), limit %d", len(cur), len(old), size)
	}
	if len(old) == 0 || len(cur) == 0 {
		t.Errorf("log sizes %d and %d (.1): want both non-empty", len(cur), len(old))
	}
	// The rotated file and the current one hold the end of the output,
	// in order, with nothing lost between them.
	if got := string(old) + string(cur); !strings.HasSuffix(all, got) {
		t.Errorf("log.1+log (%d bytes) is not the tail of the output", len(got))
	}
	if _, err := os.Stat(logPath + ".2"); err == nil {
		t.Errorf("%s.2 exists: LXC keeps one rotated file", logPath)
	}
}

func TestLogTruncatesAtSizeWithoutRotate(t *testing.T) {
	checkNoFdLeak(t)
	master, slave := rawPty(t)
	defer slave.Close()
	logPath := filepath.Join(t.TempDir(), "console.log")
	const size = 10000
	m, err := NewMux("tktrunc", master, config.Console{Logfile: logPath, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	all := records(t, slave, 250)
	waitBuffer(t, m, all[len(all)-100:])
	cur, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(cur) == 0 || len(cur) > size {
		t.Errorf("log size %d, want 1..%d", len(cur), size)
	}
	if !strings.HasSuffix(all, string(cur)) {
		t.Errorf("log is not the tail of the output")
	}
	if _, err := os.Stat(logPath + ".1"); err == nil {
		t.Errorf("%s.1 exists without lxc.console.rotate", logPath)
	}
}

func TestLogUnboundedAndAppends(t *testing.T) {
	checkNoFdLeak(t)
	logPath := filepath.Join(t.TempDir(), "console.log")
	if err := os.WriteFile(logPath, []byte("previous boot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	master, slave := rawPty(t)
	defer slave.Close()
	m, err := NewMux("tkapp", master, config.Console{Logfile: logPath})
	if err != nil {
		t.Fatal(err)
	}
	all := records(t, slave, 300)
	waitBuffer(t, m, all[len(all)-100:])
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(logPath)
	if string(got) != "previous boot\n"+all {
		t.Errorf("log holds %d bytes, want the previous content and all %d bytes written", len(got), len(all))
	}
}

func TestLogfileErrorNamesKey(t *testing.T) {
	checkNoFdLeak(t)
	master, slave := rawPty(t)
	defer slave.Close()
	bad := filepath.Join(t.TempDir(), "missing-dir", "console.log")
	_, err := NewMux("tkbad", master, config.Console{Logfile: bad, Pos: config.Pos{File: "/x/config", Line: 7, Key: "lxc.console.logfile"}})
	if err == nil {
		t.Fatal("NewMux with a log in a missing directory succeeded")
	}
	for _, want := range []string{"tkbad", "/x/config:7", "lxc.console.logfile", bad} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestRingKeepsLastBytes(t *testing.T) {
	checkNoFdLeak(t)
	master, slave := rawPty(t)
	defer slave.Close()
	m, err := NewMux("tkring", master, config.Console{BufferSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	all := records(t, slave, 30)
	waitBuffer(t, m, all[len(all)-100:])
	if got := string(m.Buffer()); got != all[len(all)-256:] {
		t.Errorf("ring holds %q, want the last 256 bytes %q", got, all[len(all)-256:])
	}
}

func TestRingWrap(t *testing.T) {
	r := newRing(5)
	if got := string(r.Bytes()); got != "" {
		t.Errorf("empty ring: %q", got)
	}
	steps := []struct{ in, want string }{
		{"ab", "ab"}, {"cde", "abcde"}, {"f", "bcdef"}, {"ghij", "fghij"},
		{"0123456789", "56789"}, {"", "56789"}, {"xyz", "89xyz"},
	}
	for _, s := range steps {
		r.Write([]byte(s.in))
		if got := string(r.Bytes()); got != s.want {
			t.Errorf("after %q: %q, want %q", s.in, got, s.want)
		}
	}
}

// A client that never reads must not slow the container: the slave's
// writer finishes, and every byte still reaches the log.
func TestStuckClientNeverBlocksReader(t *testing.T) {
	checkNoFdLeak(t)
	master, slave := rawPty(t)
	defer slave.Close()
	logPath := filepath.Join(t.TempDir(), "console.log")
	m, err := NewMux("tkslow", master, config.Console{Logfile: logPath})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	server, client := net.Pipe() // unbuffered: a write blocks until read
	defer client.Close()
	served := make(chan error, 1)
	go func() { served <- m.Serve(server) }()

	const n = 3 << 20 / 100 // 3 MiB: more than the client queue
	written := make(chan string, 1)
	go func() { written <- records(t, slave, n) }()
	var all string
	select {
	case all = <-written:
	case <-time.After(60 * time.Second):
		t.Fatal("writing to the console blocked while a client did not read")
	}
	waitBuffer(t, m, all[len(all)-100:])
	got, _ := os.ReadFile(logPath)
	if len(got) != len(all) || string(got) != all {
		t.Errorf("log holds %d bytes, want all %d", len(got), len(all))
	}
	client.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after the client left: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after its client closed")
	}
	server.Close()
}

func TestServeBothWaysAndSecondClientRefused(t *testing.T) {
	checkNoFdLeak(t)
	master, slave := rawPty(t)
	defer slave.Close()
	m, err := NewMux("tkserve", master, config.Console{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sess, err := m.Claim()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Claim(); !errors.Is(err, ErrBusy) {
		t.Errorf("second Claim: %v, want ErrBusy", err)
	}
	server, client := net.Pipe()
	served := make(chan error, 1)
	go func() { served <- sess.Serve(server) }()

	if _, err := client.Write([]byte("typed")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(slave, buf); err != nil || string(buf) != "typed" {
		t.Errorf("container read %q, %v; want \"typed\"", buf, err)
	}
	if _, err := slave.Write([]byte("shown")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "shown" {
		t.Errorf("client read %q, %v; want \"shown\"", buf, err)
	}
	if err := m.Serve(server); !errors.Is(err, ErrBusy) {
		t.Errorf("Serve while another client is attached: %v, want ErrBusy", err)
	}

	client.Close()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	server.Close()
	// Detached: the terminal is free again, and still read.
	s2, err := m.Claim()
	if err != nil {
		t.Fatalf("Claim after the client left: %v", err)
	}
	s2.Release()
	if s3, err := m.Claim(); err != nil {
		t.Errorf("Claim after Release: %v", err)
	} else {
		s3.Release()
	}
	if _, err := slave.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	waitBuffer(t, m, "after")
}

func TestCloseEndsSession(t *testing.T) {
	checkNoFdLeak(t)
	master, slave := rawPty(t)
	defer slave.Close()
	m, err := NewMux("tkclose", master, config.Console{})
	if err != nil {
		t.Fatal(err)
	}
	server, client := net.Pipe()
	defer client.Close()
	defer server.Close()
	served := make(chan error, 1)
	go func() { served <- m.Serve(server) }()
	// Make sure the session is attached before closing.
	waitFor(t, "the session to attach", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.client != nil
	})
	if _, err := slave.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(client, b); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after Close: %v, want ErrClosed", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := m.Claim(); !errors.Is(err, ErrClosed) {
		t.Errorf("Claim after Close: %v, want ErrClosed", err)
	}
}

func TestResize(t *testing.T) {
	checkNoFdLeak(t)
	master, slave := rawPty(t)
	defer slave.Close()
	m, err := NewMux("tksize", master, config.Console{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Resize(33, 111); err != nil {
		t.Fatal(err)
	}
	rows, cols, err := Size(slave)
	if err != nil || rows != 33 || cols != 111 {
		t.Errorf("slave size %dx%d (%v), want 33x111", rows, cols, err)
	}
	if err := m.Resize(0, 80); err == nil {
		t.Error("Resize(0, 80) accepted")
	}
}

// A Mux whose every slave descriptor was closed (master reads EIO) keeps
// working once a slave is opened again; the reader does not stop.
func TestMasterSurvivesSlaveClose(t *testing.T) {
	checkNoFdLeak(t)
	master, slave := rawPty(t)
	m, err := NewMux("tkeio", master, config.Console{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	slave.Close()
	m.mu.Lock()
	m.peer.Close() // now the master reads EIO
	m.mu.Unlock()
	// The container's next boot gets a new descriptor of the same slave.
	var fd int
	if err := withFd(m.master, func(mfd int) { fd, err = peerFd(mfd) }); err != nil || fd < 0 {
		t.Fatalf("reopen slave: %v", err)
	}
	s2 := os.NewFile(uintptr(fd), "slave")
	defer s2.Close()
	if _, err := s2.Write([]byte("next boot")); err != nil {
		t.Fatal(err)
	}
	waitBuffer(t, m, "next boot")
}

func TestNewPtyIsPollable(t *testing.T) {
	checkNoFdLeak(t)
	master, slave, err := NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	if err := master.SetReadDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
		t.Fatalf("master is not pollable: %v", err)
	}
	if _, err := master.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read with nothing written: %v, want a deadline error", err)
	}
	fl, err := unix.FcntlInt(slave.Fd(), unix.F_GETFD, 0)
	if err != nil || fl&unix.FD_CLOEXEC == 0 {
		t.Errorf("slave is not close-on-exec (%#x, %v)", fl, err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(slave.Fd()), &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFCHR {
		t.Errorf("slave is not a character device: %v", err)
	}
}

// runOnTerminal runs sh -c script as a session leader whose controlling
// terminal and stdio are tty, as the container's init gets its console.
func runOnTerminal(tty *os.File, script string) error {
	pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", script}, &syscall.ProcAttr{
		Env:   []string{"PATH=/usr/bin:/bin"},
		Files: []uintptr{tty.Fd(), tty.Fd(), tty.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0},
	})
	if err != nil {
		return err
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return err
	}
	if ws.ExitStatus() != 0 {
		return fmt.Errorf("sh exited %v", ws)
	}
	return nil
}

// A boot's init that hangs up its terminal and changes its settings (as
// systemd does when it shuts down) leaves the next boot a working one:
// NewSlave gives a descriptor that can become a controlling terminal,
// with the settings the pty had, on the same master (the ring keeps both
// boots' output). The hung-up descriptor itself is dead: handing it to
// the next boot is what failed with EIO before.
func TestNewSlaveAfterHangup(t *testing.T) {
	testutil.RequireRoot(t) // TIOCVHANGUP needs CAP_SYS_ADMIN
	checkNoFdLeak(t)
	master, slave := rawPty(t)
	m, err := NewMux("tkhup", master, config.Console{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	slave.Close()
	initial := m.initial

	s1, err := m.NewSlave()
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	if err := runOnTerminal(s1, "printf boot1"); err != nil {
		t.Fatalf("first boot: %v", err)
	}
	waitBuffer(t, m, "boot1")
	// The old init's last acts: other settings, then a hang-up.
	changed := initial
	changed.Lflag |= unix.ECHO | unix.ICANON
	changed.Oflag |= unix.OPOST | unix.ONLCR
	if err := unix.IoctlSetTermios(int(s1.Fd()), unix.TCSETS, &changed); err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetInt(int(s1.Fd()), unix.TIOCVHANGUP, 0); err != nil {
		t.Fatalf("TIOCVHANGUP: %v", err)
	}
	if _, err := s1.Write([]byte("x")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write to the hung-up slave: %v, want EIO", err)
	}
	if err := runOnTerminal(s1, "true"); !errors.Is(err, syscall.EIO) {
		t.Fatalf("hung-up slave as a controlling terminal: %v, want EIO", err)
	}

	s2, err := m.NewSlave()
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err := unix.IoctlGetTermios(int(s2.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if got.Lflag != initial.Lflag || got.Oflag != initial.Oflag || got.Iflag != initial.Iflag || got.Cflag != initial.Cflag {
		t.Errorf("settings not restored: lflag %#x oflag %#x, want %#x %#x", got.Lflag, got.Oflag, initial.Lflag, initial.Oflag)
	}
	if err := runOnTerminal(s2, "printf boot2"); err != nil {
		t.Fatalf("boot after the hang-up: %v", err)
	}
	waitBuffer(t, m, "boot2")
	if !bytes.Contains(m.Buffer(), []byte("boot1")) {
		t.Errorf("the ring lost the first boot's output: %q", m.Buffer())
	}
}
