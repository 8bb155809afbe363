package supervise

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// testReaper is the one reaper of the test process: a process has one
// SIGCHLD and one Wait4(-1), so every test that starts children shares it.
var testReaper *Reaper

func TestMain(m *testing.M) {
	testutil.CoverChildren()
	// Helper mode of TestAbstractSocketSquatted: hold an abstract socket
	// name, as a process that is not a shim would.
	if name := os.Getenv("LXC_SHIM_TEST_SQUAT"); name != "" {
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		defer l.Close()
		fmt.Println("ok")
		select {}
	}
	// Helper mode of TestControlAbstractPeers: ask a shim for its status
	// through its abstract name and print the answer.
	if name := os.Getenv("LXC_SHIM_TEST_DIAL"); name != "" {
		c, err := net.Dial("unix", name)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		c.Write([]byte("{\"op\":\"status\"}\n"))
		b := make([]byte, 4096)
		n, _ := c.Read(b)
		fmt.Print(string(b[:n]))
		os.Exit(0)
	}
	r, err := NewReaper()
	if err != nil {
		panic(err)
	}
	testReaper = r
	os.Exit(m.Run())
}

// stopCtx bounds a control stop in a test: the whole stop, which
// shimctl.DefaultTimeout (meant for one answer) would cut short.
func stopCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
