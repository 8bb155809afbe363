package container

import (
	"fmt"

	"github.com/moby/sys/capability"

	"github.com/lxc-shim/lxc-shim/config"
)

// Capabilities are read and changed here alone, for the init (execInit)
// and for a command attached to a running container (LimitCaps), through
// github.com/moby/sys/capability. Sets are bit masks: bit N is
// capability N. Every change is per thread: the caller holds its OS thread
// locked and execs right after.

// readLastCap is the highest capability this kernel knows (probed with
// PR_CAPBSET_READ: it needs no /proc, which a container may lack).
func readLastCap() (int, error) {
	last, err := capability.LastCap()
	if err != nil {
		return 0, err
	}
	return int(last), nil
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

// mask is the set which of c as a bit mask, capabilities 0..last.
func mask(c capability.Capabilities, which capability.CapType, last int) uint64 {
	var m uint64
	for n := 0; n <= last && n < 64; n++ {
		if c.Get(which, capability.Cap(n)) {
			m |= 1 << n
		}
	}
	return m
}

// caps lists the capabilities of set m, 0..last.
func caps(m uint64, last int) []capability.Cap {
	var out []capability.Cap
	for n := 0; n <= last && n < 64; n++ {
		if m&(1<<n) != 0 {
			out = append(out, capability.Cap(n))
		}
	}
	return out
}

// permittedNow is this thread's permitted set: the most the init can keep
// (a shim started with fewer capabilities cannot hand out more). The
// library reads /proc/self/status besides capget, so the stage calls this
// before its first mount, while /proc is the host's.
func permittedNow() (uint64, error) {
	last, err := readLastCap()
	if err != nil {
		return 0, err
	}
	c, err := capability.NewPid2(0)
	if err != nil {
		return 0, err
	}
	if err := c.Load(); err != nil {
		return 0, fmt.Errorf("read own capabilities: %w", err)
	}
	return mask(c, capability.PERMITTED, last), nil
}

// BoundingSet is the capability bounding set of process pid (read from
// /proc/PID/status).
func BoundingSet(pid int) (uint64, error) {
	last, err := readLastCap()
	if err != nil {
		return 0, err
	}
	c, err := capability.NewPid2(pid)
	if err != nil {
		return 0, err
	}
	if err := c.Load(); err != nil {
		return 0, fmt.Errorf("read capabilities of pid %d: %w", pid, err)
	}
	return mask(c, capability.BOUNDING, last), nil
}

// boundingNow is this thread's bounding set, read with PR_CAPBSET_READ (no
// /proc needed).
func boundingNow(last int) (uint64, error) {
	var m uint64
	for n := 0; n <= last && n < 64; n++ {
		in, err := capability.GetBound(capability.Cap(n))
		if err != nil {
			return 0, fmt.Errorf("read bounding set: %w", err)
		}
		if in {
			m |= 1 << n
		}
	}
	return m, nil
}

// dropBounding removes from this thread's bounding set every capability
// not in keep; it needs CAP_SETPCAP, so it runs before the uid switch. The
// library skips the drop without CAP_SETPCAP: the set is read back, so
// that a capability left in it is an error, not silence.
func dropBounding(keep uint64, last int) error {
	c, err := capability.NewPid2(0)
	if err != nil {
		return err
	}
	c.Set(capability.BOUNDING, caps(keep, last)...)
	if err := c.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("drop capabilities from the bounding set: %w", err)
	}
	have, err := boundingNow(last)
	if err != nil {
		return err
	}
	if left := have &^ keep; left != 0 {
		return fmt.Errorf("bounding set still holds %s (no CAP_SETPCAP?)", capNames(left, last))
	}
	return nil
}

func capNames(m uint64, last int) string {
	var s string
	for _, c := range caps(m, last) {
		if s != "" {
			s += ","
		}
		s += config.CapName(int(c))
	}
	return s
}

// applyCaps sets this thread's permitted and effective sets to keep, and
// the inheritable and ambient sets: empty for a root process (exec gives
// root its bounding set), keep for another uid, so that it holds the kept
// capabilities after exec as LXC gives them (ambient raise).
func applyCaps(keep uint64, last int, nonRoot bool) error {
	c, err := capability.NewPid2(0)
	if err != nil {
		return err
	}
	kept := caps(keep, last)
	c.Set(capability.EFFECTIVE|capability.PERMITTED, kept...)
	if nonRoot {
		c.Set(capability.INHERITABLE|capability.AMBIENT, kept...)
	}
	if err := c.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if err := c.Apply(capability.AMBS); err != nil {
		return fmt.Errorf("ambient capabilities: %w", err)
	}
	return nil
}

// LimitCaps leaves the calling thread (root, about to exec a command
// attached to a running container) only the capabilities in keep, the
// init's bounding set: in its bounding set (so an exec cannot regain
// others), permitted and effective sets; inheritable and ambient empty.
// The caller has locked its OS thread and execs next.
func LimitCaps(keep uint64) error {
	last, err := readLastCap()
	if err != nil {
		return err
	}
	if err := dropBounding(keep, last); err != nil {
		return err
	}
	// What this thread can still hold: after the drop, its bounding set
	// (root's permitted set after exec, or all after joining a user
	// namespace, is at least that). Read without /proc, which the
	// container may not have.
	have, err := boundingNow(last)
	if err != nil {
		return err
	}
	return applyCaps(keep&have, last, false)
}
