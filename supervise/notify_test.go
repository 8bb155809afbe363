package supervise

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/shimctl"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// notifySocket listens on a real unixgram socket and points NOTIFY_SOCKET
// at it, as systemd does for a Type=notify unit.
func notifySocket(t *testing.T) *testutil.NotifyListener {
	t.Helper()
	n := testutil.ListenNotify(t)
	t.Setenv("NOTIFY_SOCKET", n.Path)
	return n
}

func nextMsg(t *testing.T, msgs *testutil.NotifyListener, want string) string {
	t.Helper()
	return msgs.Next(t, want, 10*time.Second)
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
	go (&shimctl.Client{Name: "fake", Paths: s.Paths}).Stop(stopCtx(t), -1, false)
	m = nextMsg(t, msgs, "STOPPING=1")
	if !strings.Contains(m, fmt.Sprintf("EXTEND_TIMEOUT_USEC=%d", (37*time.Second).Microseconds())) {
		t.Errorf("stopping message %q: want the 7s timeout plus 30s", m)
	}
	waitShim(t, res)
	nextMsg(t, msgs, "STATUS=stopped")
}
