package storage

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// RecordFile is the loop device record in a container's state directory.
const RecordFile = "loop.json"

// loopRecord is what proves a loop device is the one a run of the
// container attached: the device, the backing file's device and inode,
// and a token the shim wrote into the device's lo_file_name. Written
// before the device is bound, so a crash in between leaves a record of a
// device that is not (or not provably) ours, which cleanup then drops.
type loopRecord struct {
	Device     string `json:"device"`
	Rdev       uint64 `json:"rdev"`
	Image      string `json:"image"`
	BackingDev uint64 `json:"backing_dev"`
	BackingIno uint64 `json:"backing_ino"`
	Token      string `json:"token"`
}

// Loop is a loop device the shim attached for a boot.
type Loop struct {
	Device  string
	rec     loopRecord
	recPath string
	f       *os.File // the shim's hold, until Handoff
}

// attachLoop binds image to a free loop device with autoclear, the token
// in its lo_file_name, after recording it in stateDir.
func attachLoop(name, image string, readonly bool, stateDir string) (*Loop, error) {
	mode := os.O_RDWR
	flags := uint32(unix.LO_FLAGS_AUTOCLEAR)
	if readonly {
		mode, flags = os.O_RDONLY, flags|unix.LO_FLAGS_READ_ONLY
	}
	img, err := os.OpenFile(image, mode|oCloexec, 0)
	if err != nil {
		return nil, fmt.Errorf("loop image: %w", unwrapPath(err))
	}
	defer img.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(img.Fd()), &st); err != nil {
		return nil, fmt.Errorf("loop image: %w", err)
	}
	tok := make([]byte, 8)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	token := "lxc-shim:" + name + ":" + hex.EncodeToString(tok)
	if len(token) >= unix.LO_NAME_SIZE {
		token = "lxc-shim:" + hex.EncodeToString(tok)
	}
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|oCloexec, 0)
	if err != nil {
		return nil, fmt.Errorf("loop devices: %w", err)
	}
	defer ctl.Close()
	// Another process may take the free device between GET_FREE and the
	// bind: the bind then fails with EBUSY and the next free one is tried.
	for try := 0; ; try++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return nil, fmt.Errorf("loop devices: no free one: %w", err)
		}
		l, err := bindLoop(n, img, st, flags, token, image, stateDir)
		if errors.Is(err, unix.EBUSY) && try < 10 {
			continue
		}
		return l, err
	}
}

func bindLoop(n int, img *os.File, st unix.Stat_t, flags uint32, token, image, stateDir string) (*Loop, error) {
	dev := "/dev/loop" + strconv.Itoa(n)
	f, err := os.OpenFile(dev, os.O_RDWR|oCloexec, 0)
	if err != nil {
		return nil, fmt.Errorf("loop device: %w", err)
	}
	var dst unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &dst); err != nil || dst.Mode&unix.S_IFMT != unix.S_IFBLK {
		f.Close()
		return nil, fmt.Errorf("loop device %s: not a block device", dev)
	}
	l := &Loop{Device: dev, f: f, recPath: filepath.Join(stateDir, RecordFile), rec: loopRecord{
		Device: dev, Rdev: dst.Rdev, Image: image, BackingDev: st.Dev, BackingIno: st.Ino, Token: token,
	}}
	if err := l.writeRecord(); err != nil {
		f.Close()
		return nil, err
	}
	cfg := unix.LoopConfig{Fd: uint32(img.Fd())}
	cfg.Info.Flags = flags
	copy(cfg.Info.File_name[:], token)
	err = unix.IoctlLoopConfigure(int(f.Fd()), &cfg)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTTY) {
		// Before Linux 5.8: bind, then set the flags and name.
		if err = unix.IoctlSetInt(int(f.Fd()), unix.LOOP_SET_FD, int(img.Fd())); err == nil {
			if err = unix.IoctlLoopSetStatus64(int(f.Fd()), &cfg.Info); err != nil {
				_ = unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0)
			}
		}
	}
	if err != nil {
		f.Close()
		os.Remove(l.recPath)
		return nil, fmt.Errorf("attach %s to %s: %w", image, dev, err)
	}
	return l, nil
}

func (l *Loop) writeRecord() error {
	b, err := json.Marshal(l.rec)
	if err != nil {
		return err
	}
	return atomicfile.Write(l.recPath, b, 0o600)
}

// Rerecord writes the record again (the state directory was removed).
func (l *Loop) Rerecord() error {
	if l == nil {
		return nil
	}
	return l.writeRecord()
}

func (l *Loop) release() {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// detach releases the shim's hold and waits for the kernel to detach the
// device (autoclear, once the container's mount of it is gone); a device
// still bound to this boot's image after that is detached (or, if
// something still holds it, left to detach itself when released).
func (l *Loop) detach() error {
	if l == nil {
		return nil
	}
	l.release()
	if err := removeRecorded(l.rec, 10*time.Second); err != nil {
		return err
	}
	if err := os.Remove(l.recPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// status reports whether the device is bound, and bound to the recorded
// image with the recorded token: provably this container's.
func (r loopRecord) status() (bound, ours bool, err error) {
	// Only a device sysfs shows bound to our image is opened (see loopOf).
	if !backedBy(filepath.Base(r.Device), r.BackingDev, r.BackingIno) {
		return false, false, nil
	}
	f, err := os.OpenFile(r.Device, os.O_RDONLY|oCloexec, 0)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENXIO) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Rdev != r.Rdev {
		return false, false, err // another device under that name
	}
	info, err := unix.IoctlLoopGetStatus64(int(f.Fd()))
	if errors.Is(err, unix.ENXIO) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	name := string(bytes.TrimRight(info.File_name[:], "\x00"))
	return true, info.Device == r.BackingDev && info.Inode == r.BackingIno && name == r.Token, nil
}

// removeRecorded detaches the recorded device if it is still ours,
// waiting up to wait for autoclear first.
func removeRecorded(r loopRecord, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	cleared := false
	for {
		bound, ours, err := r.status()
		if err != nil {
			return fmt.Errorf("loop device %s: %w", r.Device, err)
		}
		if !bound || !ours {
			return nil
		}
		if !cleared {
			// Detaches at once if unused; else marks it to detach on
			// its last release.
			if f, err := os.OpenFile(r.Device, os.O_RDONLY|oCloexec, 0); err == nil {
				_ = unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0)
				f.Close()
			}
			cleared = true
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("loop device %s (%s) is still in use; it detaches itself once released", r.Device, r.Image)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RemoveStale detaches the loop device a dead run of the container
// recorded in stateDir, if it is still provably that run's (device,
// backing inode and token match); a record of anything else is dropped
// without touching the device. It returns what it detached.
func RemoveStale(stateDir string) ([]string, error) {
	p := filepath.Join(stateDir, RecordFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r loopRecord
	if err := json.Unmarshal(b, &r); err != nil || !strings.HasPrefix(r.Device, "/dev/loop") {
		// Not a record we wrote: nothing is touched.
		return nil, os.Remove(p)
	}
	bound, ours, err := r.status()
	if err != nil {
		return nil, fmt.Errorf("loop device %s: %w", r.Device, err)
	}
	var done []string
	if bound && ours {
		if err := removeRecorded(r, 5*time.Second); err != nil {
			return nil, err
		}
		done = append(done, r.Device+" ("+r.Image+")")
	}
	return done, os.Remove(p)
}

// loopOf returns the loop device image is attached to, if any. It reads
// sysfs only: opening a device someone else just bound with autoclear,
// before they mounted it, would detach it on close.
func loopOf(image string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(image, &st); err != nil {
		return "", err
	}
	ents, err := os.ReadDir("/sys/block")
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "loop") && backedBy(e.Name(), st.Dev, st.Ino) {
			return "/dev/" + e.Name(), nil
		}
	}
	return "", nil
}

// backedBy reports whether loop device dev (e.g. "loop3") is bound to the
// file with that device and inode, from sysfs.
func backedBy(dev string, fsDev, ino uint64) bool {
	b, err := os.ReadFile(filepath.Join("/sys/block", dev, "loop", "backing_file"))
	if err != nil {
		return false
	}
	var bst unix.Stat_t
	if unix.Stat(strings.TrimSpace(string(b)), &bst) != nil {
		return false
	}
	return bst.Dev == fsDev && bst.Ino == ino
}
