package container

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
)

// configureInside is the inside half of the container's network, run by the
// stage in the container's network namespace after pivot_root, before the
// init: loopback up, then for each network in order its addresses (IPv4 and
// IPv6, several allowed), the device up if lxc.net.N.flags = up, and the
// default routes. The devices are already here, named, with their MACs and
// MTUs (netcleanup.Setup put them in); nets must be what netcleanup.Resolve
// returned, so every device has its final name and "auto" gateways are
// addresses.
func configureInside(nets []config.Network) error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	for _, n := range nets {
		if n.Type == "none" || n.Type == "empty" {
			continue
		}
		if err := configureDevice(n); err != nil {
			return err
		}
	}
	return nil
}

func configureDevice(n config.Network) error {
	key := func(k string) string { return fmt.Sprintf("lxc.net.%d.%s", n.Index, k) }
	if n.Name == "" {
		return fmt.Errorf("%s: no device name (the host side did not resolve the network)", key("name"))
	}
	l, err := netlink.LinkByName(n.Name)
	if err != nil {
		return fmt.Errorf("%s: device %s is not in the container: %w", key("name"), n.Name, err)
	}
	for _, fam := range []struct {
		k     string
		addrs []netip.Prefix
	}{{"ipv4.address", n.IPv4}, {"ipv6.address", n.IPv6}} {
		for _, p := range fam.addrs {
			a := &netlink.Addr{IPNet: ipNet(p.Addr(), p.Bits())}
			if err := netlink.AddrAdd(l, a); err != nil && !errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("%s %s on %s: %w", key(fam.k), p, n.Name, err)
			}
		}
	}
	if n.Up {
		if err := netlink.LinkSetUp(l); err != nil {
			return fmt.Errorf("%s up: set %s up: %w", key("flags"), n.Name, err)
		}
	}
	for _, g := range []struct {
		k, v string
		bits int
	}{{"ipv4.gateway", n.IPv4Gateway, 32}, {"ipv6.gateway", n.IPv6Gateway, 128}} {
		if g.v == "" {
			continue
		}
		if !n.Up {
			// LXC refuses this too: the route needs the device's
			// link-local routes, which exist only once it is up.
			return fmt.Errorf("%s %s: %s is not brought up (%s = up)", key(g.k), g.v, n.Name, key("flags"))
		}
		if err := addDefaultRoute(l, g.v, g.bits); err != nil {
			return fmt.Errorf("%s %s on %s: %w", key(g.k), g.v, n.Name, err)
		}
	}
	return nil
}

// addDefaultRoute adds the default route of one family through l: via the
// gateway address, or straight on the device for "dev". A gateway outside
// the device's subnets gets a device route first, as LXC does.
func addDefaultRoute(l netlink.Link, gw string, bits int) error {
	idx := l.Attrs().Index
	unspec := netip.IPv4Unspecified()
	if bits == 128 {
		unspec = netip.IPv6Unspecified()
	}
	def := ipNet(unspec, 0)
	switch gw {
	case "auto":
		return errors.New("auto was not resolved to the link's address by the host side")
	case "dev":
		return netlink.RouteAdd(&netlink.Route{LinkIndex: idx, Dst: def, Scope: netlink.SCOPE_LINK})
	}
	a, err := netip.ParseAddr(gw)
	if err != nil || a.BitLen() != bits {
		return fmt.Errorf("not an IPv%d address", map[int]int{32: 4, 128: 6}[bits])
	}
	r := &netlink.Route{LinkIndex: idx, Dst: def, Gw: a.AsSlice()}
	err = netlink.RouteAdd(r)
	if errors.Is(err, unix.ENETUNREACH) {
		host := &netlink.Route{LinkIndex: idx, Dst: ipNet(a, bits), Scope: netlink.SCOPE_LINK}
		if herr := netlink.RouteAdd(host); herr != nil && !errors.Is(herr, unix.EEXIST) {
			return fmt.Errorf("route to the gateway: %w", herr)
		}
		err = netlink.RouteAdd(r)
	}
	return err
}

func ipNet(a netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, a.BitLen())}
}
