package netcleanup

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
)

// physReturnWait is how long RemoveStale waits for a phys device to come
// back: the kernel returns it when the dead container's network namespace is
// dismantled, which happens asynchronously after its last process exits.
const physReturnWait = 5 * time.Second

// RemoveStale removes what a dead run of container name left on the host:
// the host veths recorded in the state directory's devices file, when the
// device by that name still has the recorded ifindex, and brings phys
// devices recorded there back under their own names. A device in use by a
// live container other than name (see Check) is left alone. A device that
// is not provably the container's is refused, never deleted: a veth named
// by the config (veth.pair, or the generated name) that no record with its
// ifindex covers, a recorded name now carried by another device, or a veth
// whose peer is in a network namespace that a process other than the
// container's own uses. It returns what it removed or renamed, one
// description each ("veth tnpair0"), and rewrites the devices file to what
// it could not handle. Run it before every start and reboot, after Check,
// and after the dead run's cgroup was killed.
func RemoveStale(name string, nets []config.Network, scope Scope) ([]string, error) {
	live := lazyLive(name, scope)
	recs, err := readRecords(filepath.Join(scope.StateDir, DevicesFile))
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", name, err)
	}
	var removed []string
	var errs []error
	var keep []record
	seen := map[string]bool{}
	removeHost := func(dev string, configured bool) error {
		if seen[dev] {
			return nil
		}
		seen[dev] = true
		l, err := netlink.LinkByName(dev)
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("container %s: look up stale device %s: %w", name, dev, err)
		}
		switch l.Type() {
		case typeVeth, typeMacvlan, typeVlan:
		default:
			// Never delete a bridge or a NIC because a config or an
			// old file named it; Check reports a veth.pair clash.
			if !configured {
				slog.Warn("stale device record is not a veth, macvlan or vlan; left alone", "container", name, "device", dev, "type", l.Type())
			}
			return nil
		}
		others, err := live()
		if err != nil {
			return fmt.Errorf("container %s: %w", name, err)
		}
		if owner := ownerOf(others, dev, l); owner != "" {
			slog.Warn("device is in use by a running container; left alone", "container", name, "device", dev, "owner", owner)
			return nil
		}
		if recordOf(recs, l) == nil {
			return notOurs(name, l.Type(), dev, scope.StateDir)
		}
		// Ours, but a process outside the container (an LXC container,
		// something that entered the dead run's namespace) uses the
		// namespace of its peer: refuse rather than cut its network.
		if holder := peerHolder(l); holder != "" {
			return fmt.Errorf("container %s: %s %s is not stale: its peer is in the network namespace of %s, which is not a process of this container; stop that process, or remove the device by hand with `ip link delete %s`", name, l.Type(), dev, holder, dev)
		}
		if err := netlink.LinkDel(l); err != nil {
			if errors.Is(err, unix.ENODEV) {
				return nil // its namespace's death took it meanwhile
			}
			return fmt.Errorf("container %s: remove stale %s %s: %w", name, l.Type(), dev, err)
		}
		removed = append(removed, l.Type()+" "+dev)
		return nil
	}
	for _, r := range recs {
		var err error
		if r.Kind == typePhys {
			var what string
			what, err = restorePhys(r, physReturnWait)
			if what != "" {
				removed = append(removed, what)
			}
		} else {
			err = removeHost(r.Name, false)
		}
		if err != nil {
			errs = append(errs, err)
			keep = append(keep, r)
		}
	}
	for _, n := range nets {
		if n.Type != typeVeth {
			continue
		}
		dev := n.VethPair
		if dev == "" {
			dev = HostVethName(name, n.Index)
		}
		if validIfName(dev) != "" {
			continue
		}
		if err := removeHost(dev, true); err != nil {
			errs = append(errs, err)
		}
	}
	if err := writeRecords(scope.StateDir, keep); err != nil {
		errs = append(errs, fmt.Errorf("container %s: %w", name, err))
	}
	return removed, joinErrors(errs)
}

// restorePhys finds a phys device that came back to the host (by ifindex,
// else by name and MAC: the kernel keeps the name it had inside, or calls it
// devN when that name is taken), waiting up to wait, and gives it back its
// name, MTU, MAC and up state. It returns what it did, "" if nothing.
func restorePhys(r record, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	var l netlink.Link
	for {
		l = findReturned(r)
		if l != nil {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("phys device %s (ifindex %d, %s inside) has not come back to the host network namespace", r.Name, r.Ifindex, r.Inner)
		}
		time.Sleep(50 * time.Millisecond)
	}
	a := l.Attrs()
	what := ""
	if a.Name != r.Name {
		if err := netlink.LinkSetDown(l); err != nil {
			return "", fmt.Errorf("phys device %s (now %s): set down: %w", r.Name, a.Name, err)
		}
		if err := netlink.LinkSetName(l, r.Name); err != nil {
			return "", fmt.Errorf("phys device %s (now %s): rename back: %w", r.Name, a.Name, err)
		}
		what = fmt.Sprintf("phys %s (renamed back from %s)", r.Name, a.Name)
	}
	if r.MTU > 0 && a.MTU != r.MTU {
		if err := netlink.LinkSetMTU(l, r.MTU); err != nil {
			return what, fmt.Errorf("phys device %s: restore mtu %d: %w", r.Name, r.MTU, err)
		}
	}
	if mac, err := net.ParseMAC(r.MAC); err == nil && a.HardwareAddr.String() != mac.String() {
		if err := netlink.LinkSetHardwareAddr(l, mac); err != nil {
			return what, fmt.Errorf("phys device %s: restore hwaddr %s: %w", r.Name, r.MAC, err)
		}
	}
	if r.Up && a.Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(l); err != nil {
			return what, fmt.Errorf("phys device %s: set up: %w", r.Name, err)
		}
	}
	return what, nil
}

func findReturned(r record) netlink.Link {
	plausible := func(l netlink.Link) bool {
		n := l.Attrs().Name
		return n == r.Name || n == r.Inner || isKernelFallbackName(n)
	}
	if r.Ifindex > 0 {
		if l, err := netlink.LinkByIndex(r.Ifindex); err == nil && plausible(l) {
			return l
		}
	}
	if l, err := netlink.LinkByName(r.Name); err == nil {
		return l
	}
	links, err := netlink.LinkList()
	if err != nil {
		return nil
	}
	for _, l := range links {
		mac := l.Attrs().HardwareAddr.String()
		if plausible(l) && mac != "" && (mac == r.MAC || mac == r.SetMAC) {
			return l
		}
	}
	return nil
}

// isKernelFallbackName reports a "devN" name, what the kernel calls a device
// it returns to the host when its own name is taken there.
func isKernelFallbackName(s string) bool {
	if len(s) <= 3 || s[:3] != "dev" {
		return false
	}
	for _, c := range s[3:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
