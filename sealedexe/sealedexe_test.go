package sealedexe

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"golang.org/x/sys/unix"
)

// A copy holds the binary byte for byte, carries every seal, and can be
// neither written, grown, shrunk nor unsealed, through its own descriptor
// or through a reopened /proc path.
func TestCopyIsSealed(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	want := bytes.Repeat([]byte("tk-binary"), 100000)
	if err := os.WriteFile(src, want, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := Copy(f, "tk-copy")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !IsSealed(c) {
		t.Fatal("copy is not sealed")
	}
	got, err := os.ReadFile("/proc/self/fd/" + itoa(c.Fd()))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("copy's content differs (%d bytes, want %d): %v", len(got), len(want), err)
	}
	if fl, err := unix.FcntlInt(c.Fd(), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
		t.Errorf("copy is not close-on-exec: flags %#x, %v", fl, err)
	}
	if _, err := unix.Pwrite(int(c.Fd()), []byte("x"), 0); err == nil {
		t.Error("pwrite into the copy succeeded")
	}
	if err := unix.Ftruncate(int(c.Fd()), 1); err == nil {
		t.Error("ftruncate of the copy succeeded")
	}
	// F_SEAL_SEAL: no seal can be added or taken away any more.
	if _, err := unix.FcntlInt(c.Fd(), unix.F_ADD_SEALS, 0); !errors.Is(err, unix.EPERM) {
		t.Errorf("F_ADD_SEALS on the copy: %v, want EPERM", err)
	}
	// What a container process does: reopen the exe link for writing.
	if w, err := os.OpenFile("/proc/self/fd/"+itoa(c.Fd()), os.O_WRONLY|os.O_APPEND, 0); err == nil {
		_, werr := w.Write([]byte("tk-pwned"))
		w.Close()
		if werr == nil {
			t.Error("a write through a reopened descriptor succeeded")
		}
	}
	st, err := c.Stat()
	if err != nil || st.Size() != int64(len(want)) || st.Mode().Perm()&0o222 != 0 {
		t.Errorf("copy: size %d mode %v (%v); want %d and no write bits", st.Size(), st.Mode(), err, len(want))
	}
}

// The copy of the running binary executes, as a child's descriptor.
func TestSelfExecutes(t *testing.T) {
	if os.Getenv("TK_SEALEDEXE_CHILD") == "1" {
		return
	}
	c, err := Self("tk-self")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cmd := exec.Command(ChildPath(3), "-test.run", "^TestSelfExecutes$", "-test.v")
	cmd.Env = append(os.Environ(), "TK_SEALEDEXE_CHILD=1")
	cmd.ExtraFiles = []*os.File{c}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("executing the sealed copy: %v\n%s", err, out)
	}
}

func itoa(fd uintptr) string { return strconv.Itoa(int(fd)) }

// The read-only view of a binary executes, is the binary byte for byte,
// cannot be opened for writing through /proc, and is refused once the
// path names another file (an upgrade replaced it while it ran).
func TestViewIsReadOnly(t *testing.T) {
	testutil.RequireRoot(t) // an overlay mount needs CAP_SYS_ADMIN
	dir := t.TempDir()
	bin := filepath.Join(dir, "tk-bin")
	want, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, want, 0o755); err != nil {
		t.Fatal(err)
	}
	running, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	scratch := t.TempDir()
	v, err := view(running, bin, scratch)
	if err != nil {
		t.Fatalf("view: %v", err)
	}
	defer v.Close()
	if !IsReadOnlyView(v) {
		t.Error("IsReadOnlyView is false for a view")
	}
	if IsReadOnlyView(running) {
		t.Error("IsReadOnlyView is true for the file itself")
	}
	if fl, err := unix.FcntlInt(v.Fd(), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
		t.Errorf("view is not close-on-exec: flags %#x, %v", fl, err)
	}
	reopened := "/proc/self/fd/" + itoa(v.Fd())
	if got, err := os.ReadFile(reopened); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("view's content differs (%d bytes, want %d): %v", len(got), len(want), err)
	}
	if w, err := os.OpenFile(reopened, os.O_WRONLY|os.O_APPEND, 0); err == nil {
		w.Close()
		t.Error("opened the view for writing through /proc")
	}
	if out, err := exec.Command(reopened).CombinedOutput(); err != nil {
		t.Errorf("execute the view: %v: %s", err, out)
	}
	// Replaced by rename, as a package upgrade does: refused.
	if err := os.WriteFile(bin+".new", want, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bin+".new", bin); err != nil {
		t.Fatal(err)
	}
	if v2, err := view(running, bin, scratch); err == nil {
		v2.Close()
		t.Error("a view of a replaced binary was accepted")
	}
}

// Exe gives a view of the test binary where overlayfs allows one, else a
// sealed copy: never the host's file itself.
func TestExeIsUnwritable(t *testing.T) {
	f, err := Exe("tk-exe", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !IsSealed(f) && !IsReadOnlyView(f) {
		l, _ := os.Readlink("/proc/self/fd/" + itoa(f.Fd()))
		t.Fatalf("Exe returned %s: neither a sealed copy nor a read-only view", l)
	}
}
