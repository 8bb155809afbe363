// Package netcleanup is the host side of a container's network: it checks a
// config's networks against the host before anything is created, creates the
// host devices (recording each name in the container's state directory first,
// so an unclean death cannot leak an unnamed device), moves the container's
// ends into its network namespace already carrying their final names, MACs and
// MTUs, tears them down, and removes what a dead run left behind (the stale
// veth with the configured veth.pair name that makes LXC fail to start).
//
// The inside of the network (addresses, routes, loopback) is configured by
// package container in the stage; Resolve gives it the names, MACs and
// gateway addresses the host side decided.
package netcleanup

import (
	"fmt"

	"github.com/lxc-shim/lxc-shim/config"
)

// maxIfName is the longest interface name the kernel takes (IFNAMSIZ - 1).
const maxIfName = 15

// Network types (lxc.net.N.type).
const (
	typeVeth    = "veth"
	typeMacvlan = "macvlan"
	typeVlan    = "vlan"
	typePhys    = "phys"
	typeEmpty   = "empty"
	typeNone    = "none"
)

// netError names the container and where the network's key was set
// (FILE:LINE: KEY, a legacy key as written), or, for a key the file did
// not set, the line of lxc.net.N.type.
func netError(container string, n config.Network, key, format string, args ...any) error {
	if p, ok := n.Where[key]; ok && p.File != "" {
		return fmt.Errorf("container %s: %s: %s", container, p, fmt.Sprintf(format, args...))
	}
	where := ""
	if n.Pos.File != "" {
		where = fmt.Sprintf("%s: ", n.Pos.File)
	}
	line := ""
	if n.Pos.Line > 0 {
		line = fmt.Sprintf(" (lxc.net.%d at line %d)", n.Index, n.Pos.Line)
	}
	return fmt.Errorf("container %s: %slxc.net.%d.%s%s: %s", container, where, n.Index, key, line, fmt.Sprintf(format, args...))
}
