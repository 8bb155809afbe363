package supervise

import (
	"os"
	"testing"
)

// testReaper is the one reaper of the test process: a process has one
// SIGCHLD and one Wait4(-1), so every test that starts children shares it.
var testReaper *Reaper

func TestMain(m *testing.M) {
	r, err := NewReaper()
	if err != nil {
		panic(err)
	}
	testReaper = r
	os.Exit(m.Run())
}
