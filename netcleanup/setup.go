package netcleanup

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
)

// Host is the host side of a running container's network. It holds the
// container's network namespace open until Teardown, so the devices inside
// stay reachable (a phys device is moved back deliberately rather than
// left to the kernel's asynchronous return under a fallback name).
type Host struct {
	name     string
	stateDir string
	// Nets are the networks as set up (see Resolve): final names inside,
	// host names, MACs, resolved gateways.
	Nets []config.Network

	ns     netns.NsHandle // the container's network namespace
	nsIno  uint64         // its inode, recorded with what moves in
	hostNS netns.NsHandle // the caller's (host) network namespace
	nh     *netlink.Handle
	made   []made
}

// made is one thing Setup did, for Teardown to undo.
type made struct {
	kind       string
	hostName   string // veth: host end
	hostIndex  int
	innerIndex int // macvlan, vlan, phys: ifindex inside
	rec        record
}

// Setup creates the networks of container name, in order, for the network
// namespace of pid (the stage, waiting before its rootfs work):
//   - veth: record the host name in stateDir/devices, create the pair with
//     the container end directly in the namespace under its final name, MAC
//     and MTU (the link's MTU when none is set), attach the host end to the
//     bridge and bring it up; in router mode, route the container's
//     addresses to the host end instead.
//   - macvlan, vlan: created directly in the namespace on the host link.
//   - phys: record it (ifindex, MTU, MAC), move it in, rename it.
//   - empty: nothing; none: nothing (the container keeps the host's network,
//     which is logged as a warning).
//
// On failure everything created so far is undone. The caller must call
// Teardown once the container is dead (or to stop it from being networked).
func Setup(name string, nets []config.Network, pid int, stateDir string) (*Host, error) {
	res, err := Resolve(name, nets)
	if err != nil {
		return nil, err
	}
	h := &Host{name: name, stateDir: stateDir, Nets: res, ns: -1, hostNS: -1}
	work := false
	for _, n := range res {
		switch n.Type {
		case typeNone:
			slog.Warn("lxc.net type none: the container shares the host's network namespace", "container", name, "key", fmt.Sprintf("lxc.net.%d.type", n.Index))
		case typeEmpty:
		default:
			work = true
		}
	}
	if !work {
		return h, nil
	}
	// The devices' inside ends would land on the host (an "eth0" beside
	// the host's own) if the stage kept the host's namespace.
	if in, err := nsID(fmt.Sprintf("/proc/%d/ns/net", pid)); err != nil {
		return nil, fmt.Errorf("container %s: network namespace of pid %d: %w", name, pid, err)
	} else if host, err := nsID("/proc/self/ns/net"); err != nil || in == host {
		return nil, fmt.Errorf("container %s: pid %d is in the host's network namespace; lxc.net needs the container's own (lxc.namespace.keep = net?)", name, pid)
	} else {
		h.nsIno = in.ino
	}
	if h.ns, err = netns.GetFromPid(pid); err != nil {
		return nil, fmt.Errorf("container %s: network namespace of pid %d: %w", name, pid, err)
	}
	if h.hostNS, err = netns.GetFromPath("/proc/self/ns/net"); err != nil {
		h.closeNS()
		return nil, fmt.Errorf("container %s: host network namespace: %w", name, err)
	}
	if h.nh, err = netlink.NewHandleAt(h.ns); err != nil {
		h.closeNS()
		return nil, fmt.Errorf("container %s: netlink in the network namespace of pid %d: %w", name, pid, err)
	}
	for _, n := range res {
		var err error
		switch n.Type {
		case typeVeth:
			err = h.setupVeth(n)
		case typeMacvlan, typeVlan:
			err = h.setupLower(n)
		case typePhys:
			err = h.setupPhys(n)
		}
		if err != nil {
			if terr := h.Teardown(); terr != nil {
				err = errors.Join(err, fmt.Errorf("undo: %w", terr))
			}
			return nil, err
		}
	}
	return h, nil
}

func (h *Host) setupVeth(n config.Network) error {
	mac, err := parseMAC(n.HWAddr)
	if err != nil {
		return netError(h.name, n, "hwaddr", "%v", err)
	}
	mtu := n.MTU
	var bridge netlink.Link
	if n.Link != "" && n.VethMode != "router" {
		if bridge, err = netlink.LinkByName(n.Link); err != nil {
			return netError(h.name, n, "link", "bridge %q: %v", n.Link, err)
		}
		if mtu == 0 {
			mtu = bridge.Attrs().MTU
		}
	}
	// The host end's ifindex is chosen here and recorded with its name
	// before the device exists, so that after a crash at any point a
	// device by that name is provably ours only if it has that ifindex.
	var rec record
	for try := 0; ; try++ {
		idx, err := randomIfindex()
		if err != nil {
			return fmt.Errorf("container %s: %w", h.name, err)
		}
		rec = record{Name: n.VethPair, Kind: typeVeth, Ifindex: idx, NetNS: h.nsIno}
		if err := appendRecord(h.stateDir, rec); err != nil {
			return fmt.Errorf("container %s: %w", h.name, err)
		}
		// TxQLen -1: no IFLA_TXQLEN, so both ends get the kernel's
		// default (1000), as under LXC; a zero value would ask for 0.
		v := &netlink.Veth{
			LinkAttrs:        netlink.LinkAttrs{Name: n.VethPair, Index: idx, MTU: mtu, HardwareAddr: hostVethHWAddr(h.name, n.Index), TxQLen: -1},
			PeerName:         n.Name,
			PeerHardwareAddr: mac,
			PeerNamespace:    netlink.NsFd(h.ns),
			PeerTxQLen:       -1,
		}
		err = netlink.LinkAdd(v)
		if err == nil {
			break
		}
		// Nothing was made: the record goes.
		dropRecords(h.stateDir, func(r record) bool { return r == rec })
		if errors.Is(err, unix.EBUSY) && try < 8 {
			continue // that ifindex is taken: another one
		}
		return netError(h.name, n, "veth.pair", "create veth %s (%s inside): %v", n.VethPair, n.Name, err)
	}
	hl, err := netlink.LinkByName(n.VethPair)
	if err != nil {
		return netError(h.name, n, "veth.pair", "find new veth %s: %v", n.VethPair, err)
	}
	m := made{kind: typeVeth, hostName: n.VethPair, hostIndex: hl.Attrs().Index, rec: rec}
	h.made = append(h.made, m)
	if bridge != nil {
		if err := netlink.LinkSetMaster(hl, bridge); err != nil {
			return netError(h.name, n, "link", "attach %s to bridge %s: %v", n.VethPair, n.Link, err)
		}
	}
	if err := netlink.LinkSetUp(hl); err != nil {
		return netError(h.name, n, "veth.pair", "set %s up: %v", n.VethPair, err)
	}
	if n.VethMode == "router" {
		// The container's addresses are reached through the host end;
		// the routes go away with the device.
		for _, p := range append(append([]netip.Prefix{}, n.IPv4...), n.IPv6...) {
			a := p.Addr()
			dst := &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
			r := &netlink.Route{LinkIndex: hl.Attrs().Index, Dst: dst, Scope: netlink.SCOPE_LINK}
			if err := netlink.RouteAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
				return netError(h.name, n, "veth.mode", "router: route %s to %s: %v", dst, n.VethPair, err)
			}
		}
	}
	return nil
}

func (h *Host) setupLower(n config.Network) error {
	parent, err := netlink.LinkByName(n.Link)
	if err != nil {
		return netError(h.name, n, "link", "device %q: %v", n.Link, err)
	}
	mac, err := parseMAC(n.HWAddr)
	if err != nil {
		return netError(h.name, n, "hwaddr", "%v", err)
	}
	attrs := netlink.LinkAttrs{Name: n.Name, ParentIndex: parent.Attrs().Index, MTU: n.MTU, HardwareAddr: mac, Namespace: netlink.NsFd(h.ns), TxQLen: -1}
	var l netlink.Link
	key := "vlan.id"
	if n.Type == typeMacvlan {
		mode, _ := macvlanMode(n.MacvlanMode)
		l = &netlink.Macvlan{LinkAttrs: attrs, Mode: mode}
		key = "macvlan.mode"
	} else {
		l = &netlink.Vlan{LinkAttrs: attrs, VlanId: n.VlanID}
	}
	// Created in the namespace directly: it never has a host name that
	// could leak, so there is nothing to record.
	if err := netlink.LinkAdd(l); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) {
			err = fmt.Errorf("%w (this kernel has no %s support)", err, n.Type)
		}
		return netError(h.name, n, key, "create %s %s on %s: %v", n.Type, n.Name, n.Link, err)
	}
	in, err := h.nh.LinkByName(n.Name)
	if err != nil {
		return netError(h.name, n, "name", "find new %s %s in the container: %v", n.Type, n.Name, err)
	}
	h.made = append(h.made, made{kind: n.Type, innerIndex: in.Attrs().Index})
	return nil
}

func (h *Host) setupPhys(n config.Network) error {
	l, err := netlink.LinkByName(n.Link)
	if err != nil {
		return netError(h.name, n, "link", "device %q: %v", n.Link, err)
	}
	a := l.Attrs()
	rec := record{Name: n.Link, Kind: typePhys, Ifindex: a.Index, NetNS: h.nsIno, Inner: n.Name, MTU: a.MTU,
		MAC: a.HardwareAddr.String(), SetMAC: n.HWAddr, Up: a.Flags&net.FlagUp != 0}
	if err := appendRecord(h.stateDir, rec); err != nil {
		return fmt.Errorf("container %s: %w", h.name, err)
	}
	if err := netlink.LinkSetNsFd(l, int(h.ns)); err != nil {
		dropRecords(h.stateDir, func(r record) bool { return r == rec })
		return netError(h.name, n, "link", "move %s into the container: %v", n.Link, err)
	}
	h.made = append(h.made, made{kind: typePhys, innerIndex: a.Index, rec: rec})
	in, err := h.nh.LinkByName(n.Link)
	if err != nil {
		return netError(h.name, n, "link", "find %s in the container: %v", n.Link, err)
	}
	h.made[len(h.made)-1].innerIndex = in.Attrs().Index
	if n.Name != n.Link {
		if err := h.nh.LinkSetName(in, n.Name); err != nil {
			return netError(h.name, n, "name", "rename %s to %s in the container: %v", n.Link, n.Name, err)
		}
	}
	if n.HWAddr != "" {
		mac, err := parseMAC(n.HWAddr)
		if err == nil {
			err = h.nh.LinkSetHardwareAddr(in, mac)
		}
		if err != nil {
			return netError(h.name, n, "hwaddr", "set %s on %s: %v", n.HWAddr, n.Name, err)
		}
	}
	if n.MTU > 0 {
		if err := h.nh.LinkSetMTU(in, n.MTU); err != nil {
			return netError(h.name, n, "mtu", "set %d on %s: %v", n.MTU, n.Name, err)
		}
	}
	return nil
}

// Teardown undoes Setup in reverse order: deletes the host veths (their
// container ends go with them) and the macvlans and vlans, and brings phys
// devices back to the host under their own names, MTU and MAC. What it
// handled leaves the devices file; what failed stays there for RemoveStale.
// It is safe to call more than once and on a nil Host.
func (h *Host) Teardown() error {
	if h == nil {
		return nil
	}
	var errs []error
	done := map[record]bool{}
	for i := len(h.made) - 1; i >= 0; i-- {
		m := h.made[i]
		var err error
		switch m.kind {
		case typeVeth:
			err = h.removeVeth(m)
		case typeMacvlan, typeVlan:
			if l, lerr := h.nh.LinkByIndex(m.innerIndex); lerr == nil {
				err = h.nh.LinkDel(l)
			}
		case typePhys:
			err = h.returnPhys(m)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("container %s: teardown %s: %w", h.name, m.kind, err))
			continue
		}
		if m.rec.Name != "" {
			done[m.rec] = true
		}
	}
	h.made = nil
	if len(done) > 0 {
		if err := dropRecords(h.stateDir, func(r record) bool { return done[r] }); err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", h.name, err))
		}
	}
	if h.nh != nil {
		h.nh.Close()
		h.nh = nil
	}
	h.closeNS()
	return joinErrors(errs)
}

func (h *Host) closeNS() {
	if h.ns >= 0 {
		h.ns.Close()
		h.ns = -1
	}
	if h.hostNS >= 0 {
		h.hostNS.Close()
		h.hostNS = -1
	}
}

func (h *Host) removeVeth(m made) error {
	l, err := netlink.LinkByIndex(m.hostIndex)
	if err != nil || l.Attrs().Name != m.hostName {
		return nil // gone with its namespace, or another device now
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete veth %s: %w", m.hostName, err)
	}
	return nil
}

// returnPhys moves a phys device back while the container's namespace is
// still held open, renaming it inside first so it arrives under its own
// name (or a temporary one if that name is taken inside).
func (h *Host) returnPhys(m made) error {
	r := m.rec
	l, err := h.nh.LinkByIndex(m.innerIndex)
	if err == nil {
		if err := h.nh.LinkSetDown(l); err != nil {
			return fmt.Errorf("set %s down: %w", l.Attrs().Name, err)
		}
		if l.Attrs().Name != r.Name {
			if err := h.nh.LinkSetName(l, r.Name); err != nil {
				// Taken inside; the kernel refuses a clash on the host
				// too, so move it under a name of its ifindex.
				if err := h.nh.LinkSetName(l, fmt.Sprintf("dev%d", m.innerIndex)); err != nil {
					return fmt.Errorf("rename %s for its return: %w", l.Attrs().Name, err)
				}
			}
		}
		if err := h.nh.LinkSetNsFd(l, int(h.hostNS)); err != nil {
			return fmt.Errorf("move %s back to the host: %w", r.Name, err)
		}
	}
	// Not inside any more (the container moved it, or it is on its way
	// back): restorePhys waits for it on the host.
	_, err = restorePhys(r, physReturnWait)
	return err
}

// randomIfindex picks an ifindex for a new host device in the upper half of
// the 31-bit space, far from the low numbers the kernel hands out in order
// (it skips one that is taken, and refuses a requested one that is taken
// with EBUSY).
func randomIfindex() (int, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("pick an ifindex: %w", err)
	}
	return 1<<30 + int(binary.LittleEndian.Uint32(b[:])%(1<<30-1)), nil
}
