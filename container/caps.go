package container

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/lxc-shim/lxc-shim/config"
	"golang.org/x/sys/unix"
)

// readLastCap is the highest capability this kernel knows.
func readLastCap() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 || n > 63 {
		return 0, fmt.Errorf("cap_last_cap %q: invalid", strings.TrimSpace(string(b)))
	}
	return n, nil
}

// capsToKeep is the set the init keeps: everything but lxc.cap.drop, or
// only lxc.cap.keep (nothing for "none").
func capsToKeep(c config.Caps, last int) uint64 {
	all := uint64(1)<<(last+1) - 1
	switch {
	case c.KeepNone:
		return 0
	case len(c.Keep) > 0:
		var k uint64
		for _, n := range c.Keep {
			if n >= 0 && n <= last {
				k |= 1 << n
			}
		}
		return k
	}
	k := all
	for _, n := range c.Drop {
		if n >= 0 && n <= 63 {
			k &^= 1 << n
		}
	}
	return k
}

// permittedNow is this thread's permitted set: the most the init can keep
// (a shim started with fewer capabilities cannot hand out more).
func permittedNow() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("capget: %w", err)
	}
	return uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32, nil
}

// dropBounding removes from the bounding set every capability not in keep;
// it needs CAP_SETPCAP, so it runs before the uid switch.
func dropBounding(keep uint64, last int) error {
	for c := 0; c <= last; c++ {
		if keep&(1<<c) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	return nil
}

// applyCaps sets this thread's permitted and effective sets to keep, and
// the inheritable and ambient sets: empty for a root init (exec gives root
// its bounding set), keep for another uid, so that it holds the kept
// capabilities after exec as LXC gives them (ambient raise).
func applyCaps(keep uint64, last int, nonRoot bool) error {
	var inh uint64
	if nonRoot {
		inh = keep
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	data[0].Effective, data[1].Effective = uint32(keep), uint32(keep>>32)
	data[0].Permitted, data[1].Permitted = uint32(keep), uint32(keep>>32)
	data[0].Inheritable, data[1].Inheritable = uint32(inh), uint32(inh>>32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	if !nonRoot {
		return nil
	}
	for c := 0; c <= last; c++ {
		if keep&(1<<c) == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raise ambient capability %d: %w", c, err)
		}
	}
	return nil
}
