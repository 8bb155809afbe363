package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"

	"github.com/lxc-shim/lxc-shim/netcleanup"
)

// cmdHwaddr prints a MAC for lxc.net.N.hwaddr: from an IPv4 address exactly
// as the seed's hwaddr.sh does ("02:00:" and the octets in hex, zero-padded
// here so the output is the form the interface shows), or
// a random locally administered unicast one.
func cmdHwaddr(e *env, args []string) error {
	fs := flag.NewFlagSet("hwaddr", flag.ContinueOnError)
	random := fs.Bool("random", false, "print a random locally administered MAC")
	pos, _, err := parseArgs(fs, args)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("%w (usage: hwaddr IPV4 | --random)", err)}
	}
	switch {
	case *random && len(pos) == 0:
		mac, err := netcleanup.RandomHWAddr()
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, mac)
		return nil
	case !*random && len(pos) == 1:
		a, err := netip.ParseAddr(pos[0])
		if err != nil || !a.Is4() {
			return &exitError{code: 2, err: fmt.Errorf("%q is not an IPv4 address", pos[0])}
		}
		fmt.Fprintln(e.stdout, netcleanup.HWAddrFromIPv4(a))
		return nil
	}
	return &exitError{code: 2, err: errors.New("usage: hwaddr IPV4 | --random")}
}
