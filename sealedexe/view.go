package sealedexe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// overlayfsMagic is statfs(2)'s f_type of an overlay file system.
const overlayfsMagic = 0x794c7630

// Exe returns what a child re-executing the running binary should execute:
// a read-only view of it (View) where the kernel allows one, else a sealed
// copy (Self). Both are close-on-exec and neither lets anyone write the
// host's file. scratch is a directory of the caller's own that the view
// needs as its second layer ("": always copy).
func Exe(name, scratch string) (*os.File, error) {
	if scratch != "" {
		if f, err := View(scratch); err == nil {
			return f, nil
		}
	}
	return Self(name)
}

// View returns an O_PATH descriptor of the running binary seen through an
// overlay file system of two lower layers and no upper one (runc's way
// since 1.2): such a mount is read-only for good (there is nowhere to copy
// a file up to, and no way back to the layer's own file through it), it
// is detached (attached to no path, reachable only through the returned
// descriptor and what executes it), and it costs no copy: the binary's
// pages stay the page cache's, shared with the caller. The binary's
// directory is the upper of the two layers, scratch the other (only so
// that overlayfs accepts a lower-only mount; the view opens the binary's
// name in the upper layer, so nothing of scratch can mask it).
//
// The view is refused when what the binary's path names now is not what
// runs (an upgrade replaced the file): its inode, size and times must be
// the running binary's.
func View(scratch string) (*os.File, error) {
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("read-only view of own binary: %w", err)
	}
	defer self.Close()
	path, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("read-only view of own binary: %w", err)
	}
	return view(self, path, scratch)
}

// view opens path through a lower-only overlay and checks that it is the
// file want is open on.
func view(want *os.File, path, scratch string) (*os.File, error) {
	if !filepath.IsAbs(path) || strings.HasSuffix(path, " (deleted)") {
		return nil, fmt.Errorf("read-only view of %s: not a path of a live file", path)
	}
	dir, base := filepath.Split(path)
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("read-only view of %s: fsopen overlay: %w", path, err)
	}
	defer unix.Close(ctx)
	lower := escapeLayer(filepath.Clean(dir)) + ":" + escapeLayer(filepath.Clean(scratch))
	if err := unix.FsconfigSetString(ctx, "lowerdir", lower); err != nil {
		return nil, fmt.Errorf("read-only view of %s: overlay lowerdir=%s: %w", path, lower, err)
	}
	// Inode number translation is not needed and only logs warnings
	// when the two layers are on different file systems.
	_ = unix.FsconfigSetString(ctx, "xino", "off")
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, fmt.Errorf("read-only view of %s: create overlay: %w", path, err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, fmt.Errorf("read-only view of %s: fsmount: %w", path, err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("read-only view of %s: open in overlay: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), "overlay:"+path)
	if err := sameFile(want, f); err != nil {
		f.Close()
		return nil, fmt.Errorf("read-only view of %s: %w", path, err)
	}
	return f, nil
}

// sameFile checks that the overlay's file shows the inode number, size
// and times of the file want is open on (overlayfs reports the lower
// file's, with its own device number).
func sameFile(want, got *os.File) error {
	var a, b unix.Stat_t
	if err := unix.Fstat(int(want.Fd()), &a); err != nil {
		return err
	}
	if err := unix.Fstat(int(got.Fd()), &b); err != nil {
		return err
	}
	if a.Ino != b.Ino || a.Size != b.Size || a.Mtim != b.Mtim || a.Ctim != b.Ctim || b.Mode&unix.S_IFMT != unix.S_IFREG {
		return errors.New("the file at that path is not the running binary (replaced since it started)")
	}
	return nil
}

// escapeLayer escapes what overlayfs's lowerdir list treats specially.
func escapeLayer(p string) string {
	return strings.ReplaceAll(strings.ReplaceAll(p, `\`, `\\`), `:`, `\:`)
}

// IsReadOnlyView reports whether f is a file of a read-only overlay
// mount, as View returns.
func IsReadOnlyView(f *os.File) bool {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return false
	}
	return st.Type == overlayfsMagic && st.Flags&unix.ST_RDONLY != 0
}
