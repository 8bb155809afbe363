package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
)

// LxcfsDir is where LXC's lxcfs hooks (/usr/share/lxcfs/lxc.mount.hook)
// expect lxcfs: the path is written in the hook.
const LxcfsDir = "/var/lib/lxcfs"

// StartLxcfs makes sure lxcfs serves LxcfsDir for the test and returns the
// mount point. An lxcfs already mounted there (the host's, or another
// test's) is used as it is and left alone; otherwise the test starts its
// own in the foreground and stops and unmounts it in t.Cleanup.
func StartLxcfs(t testing.TB) string {
	t.Helper()
	RequireRoot(t)
	if lxcfsMounted() {
		return LxcfsDir
	}
	bin, err := exec.LookPath("lxcfs")
	if err != nil {
		t.Fatalf("lxcfs: %v (apt-get install lxcfs)", err)
	}
	if err := os.MkdirAll(LxcfsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(t.TempDir(), "lxcfs.pid")
	cmd := exec.Command(bin, "-f", "-p", pidfile, LxcfsDir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start lxcfs: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Unmount(LxcfsDir, syscall.MNT_DETACH)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !lxcfsMounted() {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("lxcfs exited: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("lxcfs (pid %s) did not mount %s:\n%s", strconv.Itoa(cmd.Process.Pid), LxcfsDir, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return LxcfsDir
}

func lxcfsMounted() bool {
	ms, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(LxcfsDir))
	if err != nil {
		return false
	}
	for _, m := range ms {
		if strings.Contains(m.FSType, "lxcfs") {
			return true
		}
	}
	return false
}
