package container

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// MakeNode works below the root it is given, makes the directories it
// needs and says which, never follows a symlink (one planted in /dev that
// points at the host's root, or an absolute one), and RemoveNode removes
// only the node it made, then those directories.
func TestMakeNodeStaysInside(t *testing.T) {
	testutil.RequireRoot(t)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(root, "dev", "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../..", filepath.Join(root, "dev", "up")); err != nil {
		t.Fatal(err)
	}
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rfd)
	var null unix.Stat_t
	if err := unix.Stat("/dev/null", &null); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"/dev/evil/tmp/lxcshim-node", "/dev/up/lxcshim-node", "/dev/evil", "/etc/x", "/dev/../x", "dev/x"} {
		if _, err := MakeNode(rfd, bad, &null); err == nil {
			t.Errorf("MakeNode %s: accepted", bad)
		}
	}
	if _, err := os.Lstat("/tmp/lxcshim-node"); err == nil {
		t.Fatal("a node was made on the host through the symlink")
	}
	made, err := MakeNode(rfd, "/dev/a/b/null", &null)
	if err != nil {
		t.Fatal(err)
	}
	if len(made) != 2 || made[0] != "/dev/a" || made[1] != "/dev/a/b" {
		t.Errorf("made %v", made)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, "dev/a/b/null"), &st); err != nil || st.Rdev != null.Rdev || st.Mode != null.Mode {
		t.Errorf("node %+v (%v), want mode %o rdev %d", st, err, null.Mode, null.Rdev)
	}
	if _, err := MakeNode(rfd, "/dev/a/b/null", &null); err == nil {
		t.Error("MakeNode over an existing node: accepted")
	}
	// Replaced by another device inside: RemoveNode leaves it.
	var zero unix.Stat_t
	if err := unix.Stat("/dev/zero", &zero); err != nil {
		t.Fatal(err)
	}
	node := filepath.Join(root, "dev/a/b/null")
	os.Remove(node)
	if err := unix.Mknod(node, zero.Mode, int(zero.Rdev)); err != nil {
		t.Fatal(err)
	}
	if err := RemoveNode(rfd, "/dev/a/b/null", &null, made); err == nil {
		t.Error("RemoveNode removed a node that is not the one it made")
	}
	os.Remove(node)
	if err := unix.Mknod(node, null.Mode, int(null.Rdev)); err != nil {
		t.Fatal(err)
	}
	if err := RemoveNode(rfd, "/dev/a/b/null", &null, made); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "dev/a")); err == nil {
		t.Error("/dev/a left after RemoveNode")
	}
}
