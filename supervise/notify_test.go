package supervise

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// notifySocket listens on a real unixgram socket and points NOTIFY_SOCKET
// at it, as systemd does for a Type=notify unit.
func notifySocket(t *testing.T) <-chan string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", path)
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return msgs
}

func nextMsg(t *testing.T, msgs <-chan string, want string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-msgs:
			if strings.Contains(m, want) {
				return m
			}
		case <-timeout:
			t.Fatalf("no sd_notify message with %q", want)
		}
	}
}

func TestNotifier(t *testing.T) {
	msgs := notifySocket(t)
	n := Notifier{}
	n.Ready(2, 1234)
	if m := nextMsg(t, msgs, "READY=1"); !strings.Contains(m, "STATUS=running, boot 2, init pid 1234") {
		t.Errorf("ready message %q", m)
	}
	n.Stopping("SIGTERM", 90*time.Second)
	m := nextMsg(t, msgs, "STOPPING=1")
	if !strings.Contains(m, "EXTEND_TIMEOUT_USEC=90000000") {
		t.Errorf("stopping message %q", m)
	}
}

// Driven by a shim: READY=1 comes only once the init runs, then during a
// stop STOPPING=1 with EXTEND_TIMEOUT_USEC beyond the stop timeout.
func TestShimNotifySequence(t *testing.T) {
	msgs := notifySocket(t)
	b := &fakeBooter{scripts: func(int) string { return "exec sleep 100" }}
	s, res := newTestShim(t, b, func(s *Shim) { s.StopTimeout = 7 * time.Second })
	nextMsg(t, msgs, "STATUS=booting, boot 1")
	m := nextMsg(t, msgs, "READY=1")
	pid := regexp.MustCompile(`init pid (\d+)`).FindStringSubmatch(m)
	if pid == nil {
		t.Fatalf("ready without the init pid: %q", m)
	}
	if n, _ := strconv.Atoi(pid[1]); n != b.pids[0] {
		t.Errorf("ready names pid %s, init is %d", pid[1], b.pids[0])
	}
	if _, err := os.Stat("/proc/" + pid[1]); err != nil {
		t.Errorf("READY=1 but init %s does not run: %v", pid[1], err)
	}
	go (&Client{Name: "fake", Paths: s.Paths}).Stop(-1, false)
	m = nextMsg(t, msgs, "STOPPING=1")
	if !strings.Contains(m, fmt.Sprintf("EXTEND_TIMEOUT_USEC=%d", (37*time.Second).Microseconds())) {
		t.Errorf("stopping message %q: want the 7s timeout plus 30s", m)
	}
	waitShim(t, res)
	nextMsg(t, msgs, "STATUS=stopped")
}
