package netcleanup

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/lxc-shim/lxc-shim/config"
)

// HostVethName is the host end's name of network index when lxc.net.N.veth.pair
// is not set: "vs", up to 9-len(index) characters of the container name, four
// hex digits of a hash of the whole name, and the index. It is stable, so
// RemoveStale finds the devices of a dead run even without the devices file,
// and it always fits 15 bytes.
func HostVethName(container string, index int) string {
	idx := strconv.Itoa(index)
	keep := 9 - len(idx)
	if keep < 0 {
		keep = 0
	}
	var b strings.Builder
	for _, r := range container {
		if b.Len() >= keep {
			break
		}
		if r < 0x80 && (r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	h := fnv.New32a()
	h.Write([]byte(container))
	name := fmt.Sprintf("vs%s%04x%s", b.String(), h.Sum32()&0xffff, idx)
	if len(name) > maxIfName { // an absurd index: keep it unique and short
		name = name[len(name)-maxIfName:]
	}
	return name
}

// Resolve returns a copy of nets with everything the host side decides filled
// in, so the stage's configureInside and Setup work on the same values:
// Name (the name inside: lxc.net.N.name, else the link for phys, else the
// lowest free ethN), VethPair (the host end's name), HWAddr (wildcards filled
// stably from the container name and index; when unset, HWAddr(name, index)
// for veth and macvlan), and IPv4Gateway/IPv6Gateway "auto" replaced by the
// first address of the network's link on the host. Resolving a resolved
// slice gives the same slice.
func Resolve(name string, nets []config.Network) ([]config.Network, error) {
	out := make([]config.Network, len(nets))
	copy(out, nets)
	taken := map[string]bool{}
	for i := range out {
		n := &out[i]
		if n.Type == typePhys && n.Name == "" {
			n.Name = n.Link
		}
		if n.Name != "" {
			taken[n.Name] = true
		}
	}
	next := 0
	var errs []error
	for i := range out {
		n := &out[i]
		switch n.Type {
		case typeVeth, typeMacvlan, typeVlan:
			if n.Name == "" {
				for taken["eth"+strconv.Itoa(next)] {
					next++
				}
				n.Name = "eth" + strconv.Itoa(next)
				taken[n.Name] = true
			}
		}
		if n.Type == typeVeth && n.VethPair == "" {
			n.VethPair = HostVethName(name, n.Index)
		}
		switch {
		case n.HWAddr != "":
			mac, err := stableFillHWAddr(n.HWAddr, name, n.Index)
			if err != nil {
				errs = append(errs, netError(name, *n, "hwaddr", "%v", err))
				continue
			}
			n.HWAddr = mac
		case n.Type == typeVeth, n.Type == typeMacvlan && n.MacvlanMode != "passthru":
			// passthru takes the lower device's MAC; vlan and phys keep theirs.
			n.HWAddr = HWAddr(name, n.Index)
		}
		for _, g := range []struct {
			gw  *string
			v6  bool
			key string
		}{{&n.IPv4Gateway, false, "ipv4.gateway"}, {&n.IPv6Gateway, true, "ipv6.gateway"}} {
			if *g.gw != "auto" {
				continue
			}
			a, err := linkAddress(n.Link, g.v6)
			if err != nil {
				errs = append(errs, netError(name, *n, g.key, "auto: %v", err))
				continue
			}
			*g.gw = a
		}
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	return out, nil
}

// linkAddress is what LXC's gateway "auto" means: the first address of the
// network's link (the bridge a veth is attached to), IPv6 global scope only.
func linkAddress(link string, v6 bool) (string, error) {
	if link == "" {
		return "", fmt.Errorf("needs lxc.net.N.link (the host bridge whose address is the gateway)")
	}
	l, err := netlink.LinkByName(link)
	if err != nil {
		return "", fmt.Errorf("link %q: %w", link, err)
	}
	family := netlink.FAMILY_V4
	if v6 {
		family = netlink.FAMILY_V6
	}
	addrs, err := netlink.AddrList(l, family)
	if err != nil {
		return "", fmt.Errorf("addresses of link %q: %w", link, err)
	}
	for _, a := range addrs {
		if v6 && (a.Scope != int(netlink.SCOPE_UNIVERSE) || a.IP.IsLinkLocalUnicast()) {
			continue
		}
		return a.IP.String(), nil
	}
	fam := "IPv4"
	if v6 {
		fam = "global IPv6"
	}
	return "", fmt.Errorf("link %q has no %s address", link, fam)
}

// validIfName reports why the kernel would refuse name, or "".
func validIfName(name string) string {
	switch {
	case name == "":
		return "empty name"
	case len(name) > maxIfName:
		return fmt.Sprintf("%q is %d bytes, the kernel allows %d", name, len(name), maxIfName)
	case name == "." || name == "..":
		return fmt.Sprintf("%q is not a valid interface name", name)
	case strings.ContainsAny(name, "/: \t\n\r\v\f"):
		return fmt.Sprintf("%q contains '/', ':' or white space", name)
	}
	return ""
}

func parseMAC(s string) (net.HardwareAddr, error) {
	if s == "" {
		return nil, nil
	}
	return net.ParseMAC(s)
}

// joinErrors reports every problem at once, one a line.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}
