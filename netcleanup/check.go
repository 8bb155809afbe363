package netcleanup

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"

	"github.com/vishvananda/netlink"

	"github.com/lxc-shim/lxc-shim/config"
)

// Check validates nets against the host before anything is created, and
// reports every problem at once: an unknown type, a name the kernel would
// refuse (longer than 15 bytes), a link (bridge, lower device, phys device)
// that does not exist, two networks with the same host or inside name, a bad
// hwaddr, a gateway on a device that is not brought up, a veth.pair name
// (configured or generated) that belongs to another live container of the
// scope, which the error names, and one that exists without being provably
// this container's (recorded with its ifindex), which the error says how to
// remove by hand. A leftover veth of a dead run of this container is not an
// error: RemoveStale removes it.
func Check(name string, nets []config.Network, scope Scope) error {
	var errs []error
	bad := func(n config.Network, key, format string, args ...any) {
		errs = append(errs, netError(name, n, key, format, args...))
	}
	own, _ := readRecords(filepath.Join(scope.StateDir, DevicesFile))
	live := lazyLive(name, scope)
	reported := false
	// others are the live containers, listed only when a device name is
	// found taken on the host; a failure to list them is reported once.
	others := func() []liveContainer {
		o, err := live()
		if err != nil && !reported {
			reported = true
			errs = append(errs, fmt.Errorf("container %s: %w", name, err))
		}
		return o
	}
	pairs := map[string]int{}
	inner := map[string]int{}
	for _, n := range nets {
		if n.Type == typeNone && len(nets) > 1 {
			bad(n, "type", "none (the host's network) cannot be combined with other networks")
		}
		for _, f := range []struct{ key, v string }{{"name", n.Name}, {"veth.pair", n.VethPair}, {"link", n.Link}} {
			if f.v == "" {
				continue
			}
			if why := validIfName(f.v); why != "" {
				bad(n, f.key, "%s", why)
			}
		}
		if n.Name == "lo" {
			bad(n, "name", "lo is the container's loopback")
		}
		if n.MTU != 0 && (n.MTU < 68 || n.MTU > 65535) {
			bad(n, "mtu", "%d is outside 68..65535", n.MTU)
		}
		if (n.IPv4Gateway != "" || n.IPv6Gateway != "") && !n.Up && n.Type != typeNone && n.Type != typeEmpty {
			bad(n, "flags", "a gateway needs the device up (lxc.net.%d.flags = up)", n.Index)
		}
		for _, g := range []struct{ key, v string }{{"ipv4.gateway", n.IPv4Gateway}, {"ipv6.gateway", n.IPv6Gateway}} {
			if g.v == "" || g.v == "auto" || g.v == "dev" {
				continue
			}
			a, err := netip.ParseAddr(g.v)
			if err != nil || a.Is4() != (g.key == "ipv4.gateway") {
				bad(n, g.key, "%q is not an %s address, auto or dev", g.v, map[bool]string{true: "IPv4", false: "IPv6"}[g.key == "ipv4.gateway"])
			}
		}
		switch n.Type {
		case typeVeth:
			switch n.VethMode {
			case "", "bridge", "router":
			default:
				bad(n, "veth.mode", "%q: want bridge or router", n.VethMode)
			}
			if n.Link != "" {
				if l, err := netlink.LinkByName(n.Link); err != nil {
					bad(n, "link", "bridge %q does not exist on the host", n.Link)
				} else if l.Type() != "bridge" {
					bad(n, "link", "%q is a %s, not a bridge", n.Link, l.Type())
				}
			}
		case typeMacvlan, typeVlan:
			if n.Link == "" {
				bad(n, "link", "%s needs the host device it sits on", n.Type)
			} else if _, err := netlink.LinkByName(n.Link); err != nil {
				bad(n, "link", "device %q does not exist on the host", n.Link)
			}
			if n.Type == typeMacvlan {
				if _, ok := macvlanMode(n.MacvlanMode); !ok {
					bad(n, "macvlan.mode", "%q: want private, vepa, bridge or passthru", n.MacvlanMode)
				}
			}
			if n.Type == typeVlan && (n.VlanID < 0 || n.VlanID > 4094) {
				bad(n, "vlan.id", "%d is outside 0..4094", n.VlanID)
			}
		case typePhys:
			if n.Link == "" {
				bad(n, "link", "phys needs the host device to move in")
				break
			}
			if _, err := netlink.LinkByName(n.Link); err == nil {
				break
			}
			if owner := physOwner(others(), n.Link); owner != "" {
				bad(n, "link", "device %q is in use by running container %s", n.Link, owner)
			} else if !recordedPhys(own, n.Link) {
				// A device this container had when it died comes back
				// under another name; RemoveStale renames it.
				bad(n, "link", "device %q does not exist on the host", n.Link)
			}
		case typeEmpty, typeNone:
		default:
			bad(n, "type", "%q: want veth, macvlan, vlan, phys, empty or none", n.Type)
		}
	}
	if len(errs) > 0 {
		return joinErrors(errs)
	}

	res, err := Resolve(name, nets)
	if err != nil {
		return err
	}
	for _, n := range res {
		if n.Name != "" {
			if j, dup := inner[n.Name]; dup {
				bad(n, "name", "%q is also the name of lxc.net.%d inside the container", n.Name, j)
			}
			inner[n.Name] = n.Index
		}
		if n.Type != typeVeth {
			continue
		}
		if j, dup := pairs[n.VethPair]; dup {
			bad(n, "veth.pair", "%q is also the host name of lxc.net.%d", n.VethPair, j)
			continue
		}
		pairs[n.VethPair] = n.Index
		l, err := netlink.LinkByName(n.VethPair)
		var nf netlink.LinkNotFoundError
		switch {
		case errors.As(err, &nf):
		case err != nil:
			bad(n, "veth.pair", "look up %q: %v", n.VethPair, err)
		case l.Type() != typeVeth:
			bad(n, "veth.pair", "%q exists on the host and is a %s, not a veth", n.VethPair, l.Type())
		default:
			if owner := ownerOf(others(), n.VethPair, l); owner != "" {
				bad(n, "veth.pair", "%q is in use by running container %s", n.VethPair, owner)
			} else if recordOf(own, l) == nil {
				bad(n, "veth.pair", "veth %q exists on the host but was not created by lxc-shim for %s (no line with its name and ifindex in %s); it is left alone: if it is not in use, remove it by hand with `ip link delete %s`, or choose another name",
					n.VethPair, name, filepath.Join(scope.StateDir, DevicesFile), n.VethPair)
			}
		}
	}
	return joinErrors(errs)
}

// macvlanMode maps lxc.net.N.macvlan.mode (default private) to the kernel's.
func macvlanMode(s string) (netlink.MacvlanMode, bool) {
	switch s {
	case "", "private":
		return netlink.MACVLAN_MODE_PRIVATE, true
	case "vepa":
		return netlink.MACVLAN_MODE_VEPA, true
	case "bridge":
		return netlink.MACVLAN_MODE_BRIDGE, true
	case "passthru":
		return netlink.MACVLAN_MODE_PASSTHRU, true
	}
	return 0, false
}

func physOwner(others []liveContainer, dev string) string {
	for _, o := range others {
		if recordedPhys(o.devices, dev) {
			return o.name
		}
	}
	return ""
}

func recordedPhys(rs []record, dev string) bool {
	for _, r := range rs {
		if r.Kind == typePhys && r.Name == dev {
			return true
		}
	}
	return false
}
