package container

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// TestShiftRootfs: every file (symlinks themselves, not their targets)
// moves from container ids to the mapped host ids, set-user-ID bits are
// put back, a second shift is refused, and an unmapped owner stops the
// shift naming the file.
func TestShiftRootfs(t *testing.T) {
	testutil.RequireRoot(t)
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "bin"), 0o755))
	must(os.WriteFile(filepath.Join(root, "bin", "su"), []byte("x"), 0o755))
	must(syscall.Chmod(filepath.Join(root, "bin", "su"), 0o4755))
	must(os.Symlink("/etc/shadow", filepath.Join(root, "bin", "link")))
	must(os.Lchown(filepath.Join(root, "bin", "link"), 1000, 1000))
	outside := filepath.Join(t.TempDir(), "outside")
	must(os.WriteFile(outside, nil, 0o644))
	must(os.Symlink(outside, filepath.Join(root, "escape")))
	cfg := &config.Config{Name: "tbshift", Rootfs: config.Rootfs{Path: root}, Security: config.Security{IDMap: []config.IDMap{
		{Kind: 'u', Container: 0, Host: 100000, Count: 65536}, {Kind: 'g', Container: 0, Host: 200000, Count: 65536}}}}
	n, err := ShiftRootfs(cfg)
	if err != nil || n != 5 {
		t.Fatalf("shift: %d files, %v; want 5", n, err)
	}
	for p, want := range map[string][3]uint32{
		"":         {100000, 200000, 0o755},
		"bin/su":   {100000, 200000, 0o4755},
		"bin/link": {101000, 201000, 0o777},
	} {
		var st syscall.Stat_t
		must(syscall.Lstat(filepath.Join(root, p), &st))
		if st.Uid != want[0] || st.Gid != want[1] || st.Mode&0o7777 != want[2] {
			t.Errorf("/%s: %d:%d mode %o, want %d:%d mode %o", p, st.Uid, st.Gid, st.Mode&0o7777, want[0], want[1], want[2])
		}
	}
	var st syscall.Stat_t
	must(syscall.Stat(outside, &st))
	if st.Uid != 0 {
		t.Errorf("a symlink's target outside the rootfs was chowned to %d", st.Uid)
	}
	if _, err := ShiftRootfs(cfg); err == nil || !strings.Contains(err.Error(), "already shifted") {
		t.Errorf("second shift: %v", err)
	}

	// An owner the map does not cover.
	root2 := t.TempDir()
	must(os.WriteFile(filepath.Join(root2, "odd"), nil, 0o644))
	must(os.Chown(filepath.Join(root2, "odd"), 70000, 0))
	cfg.Rootfs.Path = root2
	if _, err := ShiftRootfs(cfg); err == nil || !strings.Contains(err.Error(), root2+"/odd is owned by uid 70000") {
		t.Errorf("unmapped owner: %v", err)
	}
}
