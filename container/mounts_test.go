package container

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"golang.org/x/sys/unix"
)

// loadEntries writes a config for a test container (its rootfs, /proc for
// the test init's report, then lines) and reads it as the shim does.
func loadEntries(t *testing.T, name, rootfs string, lines ...string) *config.Config {
	t.Helper()
	text := "lxc.rootfs.path = " + rootfs + "\nlxc.mount.auto = proc:rw\n" + strings.Join(lines, "\n") + "\n"
	p := testutil.WriteConfig(t, t.TempDir(), name, text)
	cfg, err := config.Load(p, name)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", text, err)
	}
	return cfg
}

// inside is path p as the container's init sees it, from the host.
func inside(b *box, p string) string { return fmt.Sprintf("/proc/%d/root%s", b.pid, p) }

// TestRelativeMountSourceStaysInRootfs: with LXC's "relative" option the
// source is a path in the rootfs. The entry of issue 11 bound the host's
// /etc (shadow and all) into the container; a symlink to /etc or a ".."
// climb in the source must not reach the host either.
func TestRelativeMountSourceStaysInRootfs(t *testing.T) {
	for _, entry := range []string{
		"etc mnt/rel none bind,relative,ro 0 0",  // issue 11, as reported
		"evil mnt/rel none bind,relative,ro 0 0", // evil -> /etc
		"../../../../../../etc mnt/rel none bind,relative,ro 0 0",
		"/etc/../../etc/ mnt/rel none rbind,relative,ro 0 0",
	} {
		t.Run(entry, func(t *testing.T) {
			name, rootfs, _ := testinitContainer(t)
			const marker = "the rootfs's own /etc"
			if err := os.WriteFile(filepath.Join(rootfs, "etc/tb-marker"), []byte(marker), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/etc", filepath.Join(rootfs, "evil")); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(rootfs, "mnt/rel"), 0o755); err != nil {
				t.Fatal(err)
			}
			b := newBox(t, loadEntries(t, name, rootfs, "lxc.mount.entry = "+entry))
			b.start()
			r := b.bootReport()
			if _, err := os.Stat(inside(b, "/mnt/rel/shadow")); err == nil {
				t.Errorf("the host's /etc is mounted on /mnt/rel inside the container (its shadow is there)")
			}
			if got, err := os.ReadFile(inside(b, "/mnt/rel/tb-marker")); err != nil || string(got) != marker {
				t.Errorf("/mnt/rel/tb-marker inside = %q, %v; want the rootfs's etc", got, err)
			}
			if o := mountOpts(r.Mountinfo, "/mnt/rel"); !strings.HasPrefix(o, "ro,") {
				t.Errorf("/mnt/rel mounted %q, want ro", o)
			}
		})
	}
}

// TestRelativeMountSourceMissing: a relative source that does not exist
// in the rootfs fails the boot (naming it), even when the host has it;
// with "optional" the entry is skipped.
func TestRelativeMountSourceMissing(t *testing.T) {
	name, rootfs, _ := testinitContainer(t)
	// /usr/share exists on the host, not in the test rootfs.
	cfg := loadEntries(t, name, rootfs, "lxc.mount.entry = usr/share mnt none bind,relative 0 0")
	b := newBox(t, cfg)
	if err := b.spawn(); err != nil {
		t.Fatal(err)
	}
	err := b.st.Release()
	want := "source usr/share (relative to the rootfs): no such file or directory"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("release error = %v, want it to contain %q", err, want)
	}
	b.reap()

	name2 := testutil.Name("tb")
	cfg = loadEntries(t, name2, rootfs, "lxc.mount.entry = usr/share mnt none bind,relative,optional 0 0")
	b2 := newBox(t, cfg)
	b2.start()
	r := b2.bootReport()
	if mountOpts(r.Mountinfo, "/mnt") != "" {
		t.Errorf("the optional entry mounted something on /mnt")
	}
}

// TestBindOptionsApplied: per-mount options of a bind entry reach every
// mount it makes and the source's restrictions stay: "rbind,ro" makes the
// submounts read-only too (a remount would change only the top one), a
// nosuid,nodev source stays nosuid,nodev under "ro", and "suid" clears it
// as asked.
func TestBindOptionsApplied(t *testing.T) {
	name, rootfs, _ := testinitContainer(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "tbsrc")
	sub := filepath.Join(src, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tbsub", sub, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(sub, unix.MNT_DETACH) })
	cfg := loadEntries(t, name, rootfs,
		"lxc.mount.entry = "+src+" mnt/r none rbind,ro,create=dir 0 0",
		"lxc.mount.entry = "+sub+" mnt/kept none bind,ro,create=dir 0 0",
		"lxc.mount.entry = "+sub+" mnt/suid none bind,suid,nosymfollow,create=dir 0 0",
	)
	b := newBox(t, cfg)
	b.start()
	r := b.bootReport()
	want := map[string][]string{
		"/mnt/r":     {"ro"},
		"/mnt/r/sub": {"ro", "nosuid", "nodev"},
		"/mnt/kept":  {"ro", "nosuid", "nodev"},
		"/mnt/suid":  {"rw", "nodev", "nosymfollow"},
	}
	for mp, opts := range want {
		got := strings.Split(mountOpts(r.Mountinfo, mp), ",")
		for _, o := range opts {
			if !slices.Contains(got, o) {
				t.Errorf("%s mounted %q, want %s", mp, got, o)
			}
		}
		if mp == "/mnt/suid" && slices.Contains(got, "nosuid") {
			t.Errorf("%s mounted %q: \"suid\" was not applied", mp, got)
		}
	}
	if err := os.WriteFile(inside(b, "/mnt/r/sub/x"), nil, 0o644); err == nil {
		t.Errorf("wrote into the submount of an rbind,ro entry")
	}
}

// TestRemountOption: "remount" mounts the entry, then remounts it with its
// options (as LXC); it never remounts what was mounted there before. An
// entry "none mnt/h none remount,ro" on top of a bind of a host file system
// used to remount that file system read-only for the host too.
func TestRemountOption(t *testing.T) {
	name, rootfs, _ := testinitContainer(t)
	host := filepath.Join(t.TempDir(), "tbhostfs")
	if err := os.MkdirAll(host, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tbhostfs", host, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(host, unix.MNT_DETACH) })
	cfg := loadEntries(t, name, rootfs,
		"lxc.mount.entry = "+host+" mnt/h none bind,create=dir 0 0",
		"lxc.mount.entry = none mnt/h none remount,ro 0 0")
	b := newBox(t, cfg)
	if err := b.spawn(); err != nil {
		t.Fatal(err)
	}
	err := b.st.Release()
	if err != nil {
		b.reap()
	} // else the init runs: the box's cleanup kills it
	var st unix.Statfs_t
	if serr := unix.Statfs(host, &st); serr != nil {
		t.Fatal(serr)
	}
	if st.Flags&unix.ST_RDONLY != 0 {
		t.Errorf("the container's remount entry made the host's %s read-only", host)
	}
	if err == nil || !strings.Contains(err.Error(), `"none mnt/h none remount,ro"`) {
		t.Errorf("release error = %v, want the remount entry to fail (nothing named none to mount)", err)
	}

	// A real entry with remount is mounted, then remounted with its options.
	name2 := testutil.Name("tb")
	b2 := newBox(t, loadEntries(t, name2, rootfs, "lxc.mount.entry = tmpfs mnt/t tmpfs remount,ro,size=1m,create=dir 0 0"))
	b2.start()
	r := b2.bootReport()
	if o := mountOpts(r.Mountinfo, "/mnt/t"); !strings.HasPrefix(o, "ro,") {
		t.Errorf("/mnt/t mounted %q, want ro", o)
	}
}
