package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lxc-shim/lxc-shim/config"
	"golang.org/x/sys/unix"
)

const oCloexec = unix.O_CLOEXEC

// Kinds of Source: what the stage mounts.
const (
	KindDir     = "dir"     // a directory (dir:, btrfs:, a bare path), bind-mounted
	KindOverlay = "overlay" // overlayfs of directories
	KindBlock   = "block"   // a block device (a device path, lvm:, a loop image's device)
	KindZFS     = "zfs"     // a ZFS dataset
)

// Source is the rootfs as the stage mounts it: the storage of
// lxc.rootfs.path resolved on the host (a loop image is its device by
// then), with lxc.rootfs.options.
type Source struct {
	Kind   string   `json:"kind"`
	Path   string   `json:"path"` // directory, device node or dataset
	Lowers []string `json:"lowers,omitempty"`
	Upper  string   `json:"upper,omitempty"`
	Work   string   `json:"work,omitempty"`
	FSType string   `json:"fstype,omitempty"` // KindBlock: detected
	// Flags, Data and Propagation are lxc.rootfs.options.
	Flags       uintptr `json:"flags,omitempty"`
	Data        string  `json:"data,omitempty"`
	Propagation uintptr `json:"propagation,omitempty"`
	// Target is the directory the stage mounts the rootfs on (in its own
	// mount namespace): lxc.rootfs.mount, or one the shim chose; empty for
	// a directory mounted on itself.
	Target string `json:"target,omitempty"`
	// Image is the loop image behind Path (KindBlock from loop:).
	Image string `json:"image,omitempty"`
}

// MountPoint is where the rootfs appears before the pivot.
func (s Source) MountPoint() string {
	if s.Target != "" {
		return s.Target
	}
	return s.Path
}

// Error is a rootfs that cannot be used, named by the config line that
// asks for it ("FILE:LINE: KEY: VALUE: why").
type Error struct {
	Pos   config.Pos
	Value string
	Err   error
}

func (e *Error) Error() string {
	return config.Diagnostic{Pos: e.Pos, Message: e.Value + ": " + e.Err.Error()}.String()
}

func (e *Error) Unwrap() error { return e.Err }

// rootfsErr names r's lxc.rootfs.path line and what it says.
func rootfsErr(r config.Rootfs, err error) error {
	p := r.Pos
	if p.Key == "" {
		p.Key = "lxc.rootfs.path"
	}
	v := r.Path
	switch r.Storage {
	case config.StorageOverlay:
		v = "overlay:" + strings.Join(append(append([]string(nil), r.Lowers...), r.Upper), ":")
	case config.StorageDir, "":
	default:
		v = r.Storage + ":" + r.Path
	}
	return &Error{Pos: p, Value: v, Err: err}
}

// Check resolves the rootfs storage of r on the host without changing
// anything: what lxc-initd check and every boot verify (directories and
// layers exist, an image or device holds a known file system, an image is
// not attached to a loop device already, ZFS is there). A loop image
// resolves to a KindBlock source whose Path is still the image.
func Check(r config.Rootfs) (Source, error) {
	src := Source{Path: r.Path, Flags: r.Flags, Data: r.Data, Propagation: r.Propagation, Target: r.Mount}
	fail := func(err error) (Source, error) { return Source{}, rootfsErr(r, err) }
	if r.Path == "" {
		return fail(errors.New("not set (a container sharing the host's root is not supported)"))
	}
	if r.Mount != "" {
		if err := isDir(r.Mount); err != nil {
			p := r.MountPos
			p.Key = "lxc.rootfs.mount"
			return Source{}, &Error{Pos: p, Value: r.Mount, Err: err}
		}
	}
	switch r.Storage {
	case config.StorageDir, config.StorageBtrfs, "":
		st, err := os.Stat(r.Path)
		if err != nil {
			return fail(unwrapPath(err))
		}
		if st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0 && r.Storage != config.StorageBtrfs {
			// A bare device path, as LXC's "blockdev" storage.
			return block(r, src)
		}
		if !st.IsDir() {
			return fail(errors.New("not a directory"))
		}
		src.Kind = KindDir
		if r.Data != "" {
			return optionsErr(r, fmt.Errorf("%s: a directory rootfs is bind-mounted and takes no file system options", r.Data))
		}
	case config.StorageOverlay:
		src.Kind, src.Lowers, src.Upper = KindOverlay, r.Lowers, r.Upper
		// LXC's layout (lxc-copy -s): the work directory is "olwork" next
		// to the upper one.
		src.Work = filepath.Join(filepath.Dir(r.Upper), "olwork")
		for _, l := range r.Lowers {
			if err := isDir(l); err != nil {
				return fail(fmt.Errorf("overlay lower layer %s: %w", l, err))
			}
		}
		for _, d := range []string{r.Upper, src.Work} {
			if err := isDir(d); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fail(fmt.Errorf("overlay directory %s: %w", d, err))
			}
		}
	case config.StorageLoop:
		st, err := os.Stat(r.Path)
		if err != nil {
			return fail(unwrapPath(err))
		}
		if !st.Mode().IsRegular() {
			return fail(errors.New("a loop image must be a regular file"))
		}
		if src.FSType, err = DetectFS(r.Path); err != nil {
			return fail(err)
		}
		if dev, err := loopOf(r.Path); err != nil {
			return fail(err)
		} else if dev != "" {
			return fail(fmt.Errorf("the image is in use: attached to %s (detach it, or stop what uses it)", dev))
		}
		src.Kind, src.Image = KindBlock, r.Path
	case config.StorageLVM:
		return block(r, src)
	case config.StorageZFS:
		if err := zfsAvailable(); err != nil {
			return fail(err)
		}
		src.Kind = KindZFS
	default:
		return fail(fmt.Errorf("unknown storage %q", r.Storage))
	}
	return src, nil
}

// block checks a block device rootfs and detects its file system.
func block(r config.Rootfs, src Source) (Source, error) {
	st, err := os.Stat(r.Path)
	if err != nil {
		return Source{}, rootfsErr(r, unwrapPath(err))
	}
	if st.Mode()&os.ModeDevice == 0 || st.Mode()&os.ModeCharDevice != 0 {
		return Source{}, rootfsErr(r, errors.New("not a block device"))
	}
	if src.FSType, err = DetectFS(r.Path); err != nil {
		return Source{}, rootfsErr(r, err)
	}
	src.Kind = KindBlock
	return src, nil
}

func optionsErr(r config.Rootfs, err error) (Source, error) {
	p := r.OptionsPos
	if p.Key == "" {
		p.Key = "lxc.rootfs.options"
	}
	return Source{}, &Error{Pos: p, Value: strings.Join(r.Options, ","), Err: err}
}

func isDir(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return unwrapPath(err)
	}
	if !st.IsDir() {
		return errors.New("not a directory")
	}
	return nil
}

// zfsAvailable says why ZFS datasets cannot be mounted here, if so.
func zfsAvailable() error {
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(strings.TrimPrefix(l, "nodev")) == "zfs" {
			return nil
		}
	}
	return errors.New("ZFS is not available on this host (no zfs in /proc/filesystems: load the zfs module)")
}

// unwrapPath drops the path an *os.PathError repeats.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Prepared is the rootfs of one boot on the host side: the source the
// stage mounts, and the loop device attached for it, if any.
type Prepared struct {
	Source Source
	loop   *Loop
}

// Prepare checks the storage and makes what the stage needs on the host:
// overlay's upper and work directories (as LXC creates them), a loop
// device for an image (attached with autoclear and recorded in stateDir).
// target is where the stage mounts a rootfs that is not a directory when
// lxc.rootfs.mount is unset; Prepare creates it.
func Prepare(name string, r config.Rootfs, stateDir, target string) (*Prepared, error) {
	src, err := Check(r)
	if err != nil {
		return nil, err
	}
	if src.Kind != KindDir && src.Target == "" {
		if err := os.MkdirAll(target, 0o700); err != nil {
			return nil, fmt.Errorf("rootfs mount point: %w", err)
		}
		src.Target = target
	}
	p := &Prepared{Source: src}
	switch {
	case src.Kind == KindOverlay:
		for _, d := range []string{src.Upper, src.Work} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, rootfsErr(r, fmt.Errorf("overlay directory: %w", err))
			}
		}
	case src.Image != "":
		l, err := attachLoop(name, src.Image, src.Flags&unix.MS_RDONLY != 0, stateDir)
		if err != nil {
			return nil, rootfsErr(r, err)
		}
		p.loop, p.Source.Path = l, l.Device
	}
	return p, nil
}

// Loop is the loop device of this boot, nil if none.
func (p *Prepared) Loop() *Loop {
	if p == nil {
		return nil
	}
	return p.loop
}

// Handoff drops the shim's hold on the loop device once the stage has
// mounted it: from then on the container's mount keeps it, and the
// kernel detaches it (autoclear) when that mount goes with the
// container's mount namespace.
func (p *Prepared) Handoff() {
	if l := p.Loop(); l != nil {
		l.release()
	}
}

// Release drops the shim's hold and waits until the loop device is gone,
// detaching it if it is still this boot's; its record is removed then.
func (p *Prepared) Release() error {
	if l := p.Loop(); l != nil {
		return l.detach()
	}
	return nil
}
