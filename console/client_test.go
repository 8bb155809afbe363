package console

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestEscaper(t *testing.T) {
	const esc = DefaultEscape
	cases := []struct {
		name   string
		reads  []string
		sent   string
		detach bool
	}{
		{"plain", []string{"ls -l\r"}, "ls -l\r", false},
		{"detach", []string{"ab\x01q"}, "ab", true},
		{"detach split over reads", []string{"ab\x01", "q"}, "ab", true},
		{"nothing after detach", []string{"\x01qrest"}, "", true},
		{"double escape sends one", []string{"\x01\x01x"}, "\x01x", false},
		{"escape then other key sends both", []string{"\x01c"}, "\x01c", false},
		{"escape then escape then q", []string{"\x01\x01q"}, "\x01q", false},
		{"ctrl-c passes", []string{"\x03"}, "\x03", false},
	}
	for _, c := range cases {
		e := escaper{escape: esc}
		var sent []byte
		detach := false
		for _, r := range c.reads {
			out, d := e.feed([]byte(r))
			sent = append(sent, out...)
			if d {
				detach = true
				break
			}
		}
		if string(sent) != c.sent || detach != c.detach {
			t.Errorf("%s: sent %q detach %v, want %q %v", c.name, sent, detach, c.sent, c.detach)
		}
	}
	e := escaper{escape: 0}
	if out, d := e.feed([]byte("\x01q\x00q")); d || string(out) != "\x01q\x00q" {
		t.Errorf("escape 0 must disable detaching: %q %v", out, d)
	}
	e = escaper{escape: 0x02}
	if out, d := e.feed([]byte("\x01q\x02q")); !d || string(out) != "\x01q" {
		t.Errorf("escape Ctrl-b: %q %v", out, d)
	}
}

func TestParseEscape(t *testing.T) {
	good := map[string]byte{"a": 1, "A": 1, "^b": 2, "C-z": 26, "ctrl-x": 24, "^]": 0x1d}
	for in, want := range good {
		if got, err := ParseEscape(in); err != nil || got != want {
			t.Errorf("ParseEscape(%q) = %#x, %v; want %#x", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ab", "1", "ctrl-", "é"} {
		if _, err := ParseEscape(in); err == nil {
			t.Errorf("ParseEscape(%q) accepted", in)
		}
	}
	if got := EscapeName(1); got != "Ctrl+a" {
		t.Errorf("EscapeName(1) = %q", got)
	}
}

// Attach on a real terminal: raw mode while attached (restored after),
// keys reach the connection, output reaches the terminal, the window size
// is sent at start and on SIGWINCH, and Ctrl-a q detaches.
func TestAttachOnTerminal(t *testing.T) {
	checkNoFdLeak(t)
	// The user's terminal: we play the user on its master.
	user, tty, err := NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer user.Close()
	defer tty.Close()
	if err := SetSize(tty, 40, 120); err != nil {
		t.Fatal(err)
	}
	before, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	server, client := net.Pipe()
	defer server.Close()

	sizes := make(chan [2]int, 4)
	done := make(chan error, 1)
	go func() {
		done <- Attach(client, tty, tty, DefaultEscape, func(r, c int) error {
			sizes <- [2]int{r, c}
			return nil
		})
	}()
	if got := <-sizes; got != [2]int{40, 120} {
		t.Errorf("first size %v, want [40 120]", got)
	}
	// Raw mode: no echo, no signal keys.
	waitFor(t, "raw mode", func() bool {
		cur, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		return err == nil && cur.Lflag&(unix.ECHO|unix.ICANON|unix.ISIG) == 0
	})

	if _, err := user.Write([]byte("echo hi\r\x03")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 9)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "echo hi\r\x03" {
		t.Errorf("container got %q, %v", buf, err)
	}
	if _, err := server.Write([]byte("hi\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := readUntil(t, user, "hi\r\n"); !bytes.Contains(got, []byte("hi\r\n")) {
		t.Errorf("terminal shows %q", got)
	}

	if err := SetSize(tty, 50, 132); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGWINCH)
	select {
	case got := <-sizes:
		if got != [2]int{50, 132} {
			t.Errorf("size after SIGWINCH %v, want [50 132]", got)
		}
	case <-time.After(20 * time.Second):
		t.Error("no resize after SIGWINCH")
	}

	if _, err := user.Write([]byte("\x01q")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Attach after Ctrl-a q: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Ctrl-a q did not detach")
	}
	after, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Errorf("terminal not restored: lflag %#x->%#x", before.Lflag, after.Lflag)
	}
	// Ctrl-a q was not sent to the container. (The abandoned read of tty
	// ends when the test closes it.)
	server.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _ := server.Read(buf); n > 0 {
		t.Errorf("container got %q after detach", buf[:n])
	}
}

func TestAttachRemoteClosed(t *testing.T) {
	checkNoFdLeak(t)
	user, tty, err := NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer user.Close()
	defer tty.Close()
	server, client := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- Attach(client, tty, tty, DefaultEscape, nil) }()
	server.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrRemoteClosed) {
			t.Errorf("Attach after the shim closed: %v, want ErrRemoteClosed", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Attach did not return when the connection closed")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readUntil(t *testing.T, f *os.File, want string) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, 256)
	f.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer f.SetReadDeadline(time.Time{})
	for !bytes.Contains(got, []byte(want)) {
		n, err := f.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	return got
}
