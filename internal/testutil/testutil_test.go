package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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

func TestUnescapeMountinfo(t *testing.T) {
	if got := unescape(`/a\040b`); got != "/a b" {
		t.Fatalf("unescape = %q", got)
	}
}
