package console

import (
	"testing"

	"golang.org/x/sys/unix"
)

// Only the ptmx of a devpts passes: not /dev/ptmx on devtmpfs (a node
// the container could have made anywhere), not another device.
func TestCheckPtmx(t *testing.T) {
	for path, ok := range map[string]bool{"/dev/pts/ptmx": true, "/dev/ptmx": false, "/dev/null": false} {
		fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		err = checkPtmx(fd)
		unix.Close(fd)
		if (err == nil) != ok {
			t.Errorf("checkPtmx(%s) = %v, want accepted %v", path, err, ok)
		}
	}
}
