package container

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Paths of the container's own boot id (LXC's, conf.c lxc_setup_boot_id).
const (
	bootIDPath     = "/proc/sys/kernel/random/boot_id"
	mockBootIDPath = "/dev/.lxc-boot-id"
)

// bootID gives the container a fresh random boot id for this boot, bound
// read-only over the kernel's, as LXC does: journald, systemd and many
// scripts tell boots apart by it, and the host's never changes on a
// reboot from inside. It runs after the pivot, so both paths are the
// container's; without a /proc there is nothing to cover.
func bootID() error {
	if _, err := os.Stat(bootIDPath); err != nil {
		return nil
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	id[6] = id[6]&0x0f | 0x40 // version 4 (random)
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	text := fmt.Sprintf("%x-%x-%x-%x-%x\n", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16])
	// O_NOFOLLOW, O_EXCL after removing what is there: the rootfs's /dev
	// (without lxc.autodev) may hold anything under that name.
	if err := os.Remove(mockBootIDPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	fd, err := unix.Open(mockBootIDPath, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o444)
	if err != nil {
		return fmt.Errorf("create %s: %w", mockBootIDPath, err)
	}
	_, err = unix.Write(fd, []byte(text))
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("write %s: %w", mockBootIDPath, err)
	}
	if err := unix.Mount(mockBootIDPath, bootIDPath, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", mockBootIDPath, err)
	}
	const ro = unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV
	if err := unix.Mount("", bootIDPath, "", ro, ""); err != nil {
		return fmt.Errorf("make it read-only: %w", err)
	}
	return nil
}
