package testutil

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NotifyListener is a real sd_notify receiver: a unixgram socket in a
// temporary directory, as systemd makes one for a Type=notify unit. Point
// NOTIFY_SOCKET at Path.
type NotifyListener struct {
	Path string
	msgs chan string
}

// ListenNotify opens a NotifyListener that lives until the test ends.
func ListenNotify(t testing.TB) *NotifyListener {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &NotifyListener{Path: path, msgs: make(chan string, 100)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return n
}

// Next returns the next message that contains want, skipping others, and
// fails the test if none comes within timeout.
func (n *NotifyListener) Next(t testing.TB, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-n.msgs:
			if !ok {
				t.Fatalf("notify socket closed before a message with %q", want)
			}
			if strings.Contains(m, want) {
				return m
			}
		case <-deadline:
			t.Fatalf("no sd_notify message with %q within %s", want, timeout)
		}
	}
}
