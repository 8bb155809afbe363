package lxccmd

import (
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// TestSocketName: LXC's spelling, the hashed form past 105 bytes (the
// hash computed independently, with Python's FNV-1a of "LXCPATH/NAME").
func TestSocketName(t *testing.T) {
	if got := SocketName("/var/lib/lxc", "web"); got != "@/var/lib/lxc/web/command" {
		t.Errorf("short: %q", got)
	}
	long := "/" + strings.Repeat("x", 100)
	if got := SocketName(long, "c1"); got != "@lxc/dee1a6db85456603/command" {
		t.Errorf("long: %q", got)
	}
	// 105 bytes still fit unhashed.
	p := "/" + strings.Repeat("y", 105-len("/c/command")-1)
	if got := SocketName(p, "c"); got != "@"+p+"/c/command" || len(got) != 106 {
		t.Errorf("edge: %q (%d)", got, len(got))
	}
}

// TestRunningAsksForThePid: a root-held socket at LXC's name answering
// LXC_CMD_GET_INIT_PID is a container LXC runs, with that pid; no socket
// is none.
func TestRunningAsksForThePid(t *testing.T) {
	testutil.RequireRoot(t)
	lxcpath := filepath.Join(t.TempDir(), "lxc")
	name := testutil.Name("lc")
	if ok, _ := Running(lxcpath, name); ok {
		t.Fatal("Running with no socket")
	}
	l, err := net.Listen("unix", SocketName(lxcpath, name))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan uint32, 2)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			req := make([]byte, 8+ptrSize)
			if _, err := io.ReadFull(c, req); err == nil {
				got <- binary.NativeEndian.Uint32(req)
				rsp := make([]byte, 8+ptrSize)
				binary.NativeEndian.PutUint64(rsp[8:], 4321)
				c.Write(rsp)
			}
			c.Close()
		}
	}()
	ok, pid := Running(lxcpath, name)
	if !ok || pid != 4321 {
		t.Errorf("Running = %v, %d; want true, 4321", ok, pid)
	}
	if cmd := <-got; cmd != getInitPID {
		t.Errorf("asked command %d, want %d", cmd, getInitPID)
	}
	if p, pid := Find([]string{"/nonexistent", lxcpath}, name); p != lxcpath || pid != 4321 {
		t.Errorf("Find = %q, %d", p, pid)
	}
}

// TestPaths: lxc-shim's directories, then LXC's own lxcpath, once each.
func TestPaths(t *testing.T) {
	f := filepath.Join(t.TempDir(), "lxc.conf")
	if err := os.WriteFile(f, []byte("# x\nlxc.lxcpath = /srv/lxc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := systemLXCPath(f); got != "/srv/lxc" {
		t.Errorf("systemLXCPath = %q", got)
	}
	if got := systemLXCPath(f + ".none"); got != DefaultLXCPath {
		t.Errorf("systemLXCPath of no file = %q", got)
	}
	got := Paths([]string{"/etc/lxc", "/var/lib/lxc"})
	if len(got) < 2 || got[0] != "/etc/lxc" || got[1] != "/var/lib/lxc" {
		t.Errorf("Paths = %v", got)
	}
}
