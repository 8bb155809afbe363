package netcleanup

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Handed is a host network interface moved into a running container
// (lxc-initd device add IFACE [NAME]), until MoveOut or the end of the run
// (the run's teardown moves it out again, so the next boot, which does
// not have it in its config, does not get it).
type Handed struct {
	Host  string // its name on the host
	Inner string // its name inside
	// ns is the container's network namespace, held so that the
	// interface can be moved back even after the container's processes
	// are gone (a physical one would otherwise come back under whatever
	// name it had inside, a virtual one would be destroyed).
	ns netns.NsHandle
}

// MoveIn moves the host interface host into the network namespace ns
// (which MoveIn takes over: it is closed by MoveOut, or now on failure)
// under the name inner.
func MoveIn(ns netns.NsHandle, host, inner string) (h *Handed, err error) {
	defer func() {
		if err != nil {
			ns.Close()
		}
	}()
	if host == "lo" {
		return nil, errors.New("lo: the host's loopback cannot be handed over")
	}
	l, err := netlink.LinkByName(host)
	if err != nil {
		return nil, fmt.Errorf("%s: no such network interface on the host: %w", host, err)
	}
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in the container's network namespace: %w", err)
	}
	defer nh.Close()
	if _, err := nh.LinkByName(inner); err == nil {
		return nil, fmt.Errorf("%s: the container has a network interface of that name", inner)
	}
	if _, err := nh.LinkByName(host); err == nil && inner != host {
		return nil, fmt.Errorf("%s: the container has a network interface of that name, it could not be moved in under it", host)
	}
	if err := netlink.LinkSetNsFd(l, int(ns)); err != nil {
		return nil, fmt.Errorf("move %s into the container: %w", host, err)
	}
	h = &Handed{Host: host, Inner: host, ns: ns}
	if inner != host {
		in, err := nh.LinkByName(host)
		if err == nil {
			err = nh.LinkSetName(in, inner)
		}
		if err != nil {
			merr := h.MoveOut()
			return nil, errors.Join(fmt.Errorf("rename %s to %s inside: %w", host, inner, err), merr)
		}
		h.Inner = inner
	}
	return h, nil
}

// MoveOut moves the interface back to the host's network namespace (the
// caller's) under its host name.
func (h *Handed) MoveOut() error {
	defer h.ns.Close()
	nh, err := netlink.NewHandleAt(h.ns)
	if err != nil {
		return fmt.Errorf("netlink in the container's network namespace: %w", err)
	}
	defer nh.Close()
	l, err := nh.LinkByName(h.Inner)
	if err != nil {
		return fmt.Errorf("%s: not in the container any more: %w", h.Inner, err)
	}
	if h.Inner != h.Host {
		// A name is changed only while the interface is down.
		if err := nh.LinkSetDown(l); err != nil {
			return fmt.Errorf("%s inside: down: %w", h.Inner, err)
		}
		if err := nh.LinkSetName(l, h.Host); err != nil {
			return fmt.Errorf("rename %s back to %s inside: %w", h.Inner, h.Host, err)
		}
	}
	host, err := netns.GetFromPath("/proc/self/ns/net")
	if err != nil {
		return fmt.Errorf("host network namespace: %w", err)
	}
	defer host.Close()
	if err := nh.LinkSetNsFd(l, int(host)); err != nil {
		return fmt.Errorf("move %s back to the host: %w", h.Host, err)
	}
	return nil
}
