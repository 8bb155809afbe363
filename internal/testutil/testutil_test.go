package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestBusyboxRootfsRunsAShell(t *testing.T) {
	if _, err := os.Stat(Busybox); err != nil {
		if os.Getenv("LXC_SHIM_REQUIRE_ROOT") == "1" {
			t.Fatalf("%s missing: %v", Busybox, err)
		}
		t.Skip("busybox-static not installed")
	}
	dir := t.TempDir()
	BusyboxRootfs(t, dir)
	// The applet links resolve inside the tree: run the rootfs's own sh.
	out, err := exec.Command(filepath.Join(dir, "bin/sh"), "-c", "echo hi").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hi" {
		t.Fatalf("rootfs sh: %v %q", err, out)
	}
	if target, err := os.Readlink(filepath.Join(dir, "sbin/init")); err != nil || !strings.HasSuffix(target, "bin/busybox") {
		t.Fatalf("sbin/init link = %q, %v", target, err)
	}
	inittab, err := os.ReadFile(filepath.Join(dir, "etc/inittab"))
	if err != nil || !strings.Contains(string(inittab), "::shutdown:") {
		t.Fatalf("inittab without a shutdown action: %q %v", inittab, err)
	}
}

func TestLeaksSeesMountsAndLinksByPrefix(t *testing.T) {
	if got := Leaks(Name("zz"), t.TempDir(), "zzno"); len(got) != 0 {
		t.Fatalf("fresh name reports leaks: %v", got)
	}
	// The host's own root is a mount: MountsUnder must see it.
	if m := MountsUnder("/"); len(m) == 0 {
		t.Fatal("MountsUnder(/) found no mounts")
	}
}

func TestNameIsShortAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		n := Name("tx")
		if len(n) != 8 || !strings.HasPrefix(n, "tx") || seen[n] {
			t.Fatalf("bad or repeated name %q", n)
		}
		seen[n] = true
	}
}

// A mount point with a space (mountinfo writes it \040) is found under its
// parent and reported as a leak under its real name.
func TestMountsUnderUnescapes(t *testing.T) {
	RequireRoot(t)
	dir := t.TempDir()
	mp := filepath.Join(dir, "a b")
	if err := os.Mkdir(mp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tu-tmpfs", mp, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", mp, err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mp, unix.MNT_DETACH) })
	if got := MountsUnder(dir); len(got) != 1 || got[0] != mp {
		t.Errorf("MountsUnder(%s) = %q, want [%q]", dir, got, mp)
	}
	if err := unix.Unmount(mp, 0); err != nil {
		t.Fatal(err)
	}
	if got := MountsUnder(dir); len(got) != 0 {
		t.Errorf("after unmount: %q", got)
	}
}
