package testutil

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// LxcfsDir is where LXC's lxcfs hook (/usr/share/lxcfs/lxc.mount.hook)
// expects lxcfs: the path is hard-coded there.
const LxcfsDir = "/var/lib/lxcfs"

// lxcfsLock serialises the tests (of every test binary on the machine)
// that need lxcfs on LxcfsDir: one instance at a time, and none unmounted
// under another test's feet.
const lxcfsLock = "/run/lxc-shim-tests-lxcfs.lock"

// StartLxcfs makes sure lxcfs serves LxcfsDir for the rest of the test and
// returns that directory. An lxcfs the host already runs there is used as
// it is; otherwise the test starts its own (only if nothing else is
// mounted there) and stops and unmounts it in t.Cleanup. Call it before
// the container's helpers, so that its cleanup runs after theirs.
func StartLxcfs(t testing.TB) string {
	t.Helper()
	RequireRoot(t)
	bin, err := exec.LookPath("lxcfs")
	if err != nil {
		t.Fatalf("lxcfs is not installed (apt-get install lxcfs): %v", err)
	}
	lock, err := os.OpenFile(lxcfsLock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	WaitFor(t, 5*time.Minute, "the lxcfs lock "+lxcfsLock, func() error {
		return unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	})
	t.Cleanup(func() { lock.Close() })

	mounts, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(LxcfsDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) > 0 {
		if mounts[0].FSType != "fuse.lxcfs" {
			t.Fatalf("%s is a mount of %s, not lxcfs: refusing to mount over it", LxcfsDir, mounts[0].FSType)
		}
		t.Logf("using the host's lxcfs on %s", LxcfsDir)
		return LxcfsDir
	}
	created := false
	if _, err := os.Stat(LxcfsDir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(LxcfsDir, 0o755); err != nil {
			t.Fatal(err)
		}
		created = true
	}
	pidfile := filepath.Join(t.TempDir(), "lxcfs.pid")
	cmd := exec.Command(bin, "-f", "--pidfile", pidfile, LxcfsDir)
	logf, err := os.Create(filepath.Join(t.TempDir(), "lxcfs.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start lxcfs: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if err := unix.Unmount(LxcfsDir, 0); err != nil {
			t.Logf("unmount %s: %v; detaching it", LxcfsDir, err)
			_ = unix.Unmount(LxcfsDir, unix.MNT_DETACH)
		}
		_ = cmd.Process.Signal(unix.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		if created {
			_ = os.Remove(LxcfsDir)
		}
	})
	WaitFor(t, 10*time.Second, "lxcfs mounted on "+LxcfsDir, func() error {
		select {
		case err := <-exited:
			exited <- err
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("lxcfs exited: %v\n%s", err, b)
		default:
		}
		m, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(LxcfsDir))
		if err != nil || len(m) == 0 || m[0].FSType != "fuse.lxcfs" {
			return errors.New("not yet")
		}
		if _, err := os.Stat(filepath.Join(LxcfsDir, "proc", "meminfo")); err != nil {
			return err
		}
		return nil
	})
	return LxcfsDir
}
