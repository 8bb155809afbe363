package storage

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"golang.org/x/sys/unix"
)

// image makes a 128 MiB image of fstype (mkfs) in a temporary directory.
func image(t *testing.T, fstype string) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), fstype+".img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 128<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs."+fstype, "-q", "-f", img).CombinedOutput(); err != nil {
		if out2, err2 := exec.Command("mkfs."+fstype, "-q", "-F", img).CombinedOutput(); err2 != nil {
			t.Fatalf("mkfs.%s: %v %s / %v %s", fstype, err, out, err2, out2)
		}
	}
	return img
}

func TestDetectFS(t *testing.T) {
	for _, fstype := range []string{"ext4", "btrfs"} {
		got, err := DetectFS(image(t, fstype))
		if err != nil || got != fstype {
			t.Errorf("%s image: detected %q, %v", fstype, got, err)
		}
	}
	blank := filepath.Join(t.TempDir(), "blank")
	if err := os.WriteFile(blank, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := DetectFS(blank); !errors.Is(err, errUnknownFS) {
		t.Errorf("blank image: %v, want %v", err, errUnknownFS)
	}
}

func TestCheckErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	pos := config.Pos{File: "/c/config", Line: 3, Key: "lxc.rootfs.path"}
	for _, tc := range []struct {
		r    config.Rootfs
		want string
	}{
		{config.Rootfs{Storage: config.StorageDir, Path: dir + "/none"},
			"/c/config:3: lxc.rootfs.path: " + dir + "/none: no such file or directory"},
		{config.Rootfs{Storage: config.StorageDir, Path: file},
			"/c/config:3: lxc.rootfs.path: " + file + ": not a directory"},
		{config.Rootfs{Storage: config.StorageOverlay, Path: dir + "/l", Lowers: []string{dir + "/l"}, Upper: dir + "/u"},
			"/c/config:3: lxc.rootfs.path: overlay:" + dir + "/l:" + dir + "/u: overlay lower layer " + dir + "/l: no such file or directory"},
		{config.Rootfs{Storage: config.StorageLoop, Path: dir},
			"/c/config:3: lxc.rootfs.path: loop:" + dir + ": a loop image must be a regular file"},
		{config.Rootfs{Storage: config.StorageLVM, Path: file},
			"/c/config:3: lxc.rootfs.path: lvm:" + file + ": not a block device"},
		{config.Rootfs{Storage: config.StorageDir, Path: dir, Data: "size=1G", Options: []string{"size=1G"}},
			"lxc.rootfs.options: size=1G: size=1G: a directory rootfs is bind-mounted and takes no file system options"},
	} {
		tc.r.Pos = pos
		_, err := Check(tc.r)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%+v:\n got %v\nwant %s", tc.r, err, tc.want)
		}
	}
	if zfsAvailable() != nil {
		_, err := Check(config.Rootfs{Storage: config.StorageZFS, Path: "tank/c", Pos: pos})
		if err == nil || !strings.Contains(err.Error(), "lxc.rootfs.path: zfs:tank/c: ZFS is not available on this host") {
			t.Errorf("zfs without ZFS: %v", err)
		}
	}
}

// TestLoopRecordOwnership: a loop device is detached only when the record
// proves it this container's (device, backing inode and the token in
// lo_file_name); a foreign device the record names is left alone.
func TestLoopRecordOwnership(t *testing.T) {
	testutil.RequireRoot(t)
	img := image(t, "ext4")
	state := t.TempDir()

	// Ours, left bound as if the shim died holding it without autoclear
	// doing its work: autoclear is turned off, then the hold dropped.
	l, err := attachLoop("c1", img, false, state)
	if err != nil {
		t.Fatal(err)
	}
	info, err := unix.IoctlLoopGetStatus64(int(l.f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	info.Flags &^= unix.LO_FLAGS_AUTOCLEAR
	if err := unix.IoctlLoopSetStatus64(int(l.f.Fd()), info); err != nil {
		t.Fatal(err)
	}
	l.release()
	if dev, _ := loopOf(img); dev != l.Device {
		t.Fatalf("image bound to %q, want %s", dev, l.Device)
	}
	done, err := RemoveStale(state)
	if err != nil || len(done) != 1 || !strings.HasPrefix(done[0], l.Device) {
		t.Errorf("RemoveStale = %v, %v; want %s detached", done, err, l.Device)
	}
	if dev, _ := loopOf(img); dev != "" {
		t.Errorf("image still bound to %s", dev)
	}

	// Foreign: attached by losetup; a record naming that device and image
	// (a forged or stale one) does not carry its token.
	out, err := exec.Command("losetup", "-f", "--show", img).Output()
	if err != nil {
		t.Fatal(err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	var st unix.Stat_t
	if err := unix.Stat(img, &st); err != nil {
		t.Fatal(err)
	}
	var dst unix.Stat_t
	if err := unix.Stat(dev, &dst); err != nil {
		t.Fatal(err)
	}
	rec, _ := json.Marshal(loopRecord{Device: dev, Rdev: dst.Rdev, Image: img, BackingDev: st.Dev, BackingIno: st.Ino, Token: "lxc-shim:c1:0000000000000000"})
	if err := os.WriteFile(filepath.Join(state, RecordFile), rec, 0o600); err != nil {
		t.Fatal(err)
	}
	done, err = RemoveStale(state)
	if err != nil || len(done) != 0 {
		t.Errorf("RemoveStale of a foreign device = %v, %v; want nothing", done, err)
	}
	if got, _ := loopOf(img); got != dev {
		t.Errorf("the foreign device was detached (image bound to %q, want %s)", got, dev)
	}
	if _, err := os.Stat(filepath.Join(state, RecordFile)); err == nil {
		t.Errorf("the record of a device that is not ours stays")
	}
}

// TestLoopAutoclear: once the shim's hold is dropped and nothing mounts
// it, the device detaches itself and Release finds nothing left.
func TestLoopAutoclear(t *testing.T) {
	testutil.RequireRoot(t)
	img := image(t, "ext4")
	state := t.TempDir()
	p, err := Prepare("c1", config.Rootfs{Storage: config.StorageLoop, Path: img}, state, filepath.Join(state, "rootfs"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Source.Kind != KindBlock || p.Source.FSType != "ext4" || !strings.HasPrefix(p.Source.Path, "/dev/loop") {
		t.Fatalf("source %+v", p.Source)
	}
	if _, err := Check(config.Rootfs{Storage: config.StorageLoop, Path: img}); err == nil || !strings.Contains(err.Error(), "in use: attached to "+p.Source.Path) {
		t.Errorf("a second user of the image: %v", err)
	}
	p.Handoff()
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if dev, _ := loopOf(img); dev != "" {
		t.Errorf("image still bound to %s", dev)
	}
	if _, err := os.Stat(filepath.Join(state, RecordFile)); err == nil {
		t.Errorf("record left after release")
	}
}
