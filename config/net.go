package config

import (
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// maxNetIndex bounds lxc.net.N (LXC has no limit; nobody needs more).
const maxNetIndex = 1023

// netState is one lxc.net.N while reading: the network and where each of
// its sub-keys was set, for checks that need the whole network.
type netState struct {
	n     Network
	set   map[string]Pos
	type_ Pos
	// badType: the type line was an error already; no "has no type" too.
	badType bool
}

// netKeyHandler applies one line of lxc.net.N.SUB to network N.
type netKeyHandler func(b *builder, ns *netState, p Pos, v string)

// netKey is one sub-key of lxc.net.N and what it does.
type netKey struct {
	sub string
	set netKeyHandler
}

// netKeys are the sub-keys of lxc.net.N, in the order of LXC 5's
// lxc.container.conf(5) (suggestions take the first of equally near ones,
// and an error lists them in this order).
func netKeys() []netKey {
	return []netKey{
		{"flags", func(b *builder, ns *netState, p Pos, v string) {
			if v != "" && v != "up" {
				b.errorf(p, "invalid flags %q: only \"up\"", v)
				return
			}
			ns.n.Up = v == "up"
		}},
		{"hwaddr", func(b *builder, ns *netState, p Pos, v string) {
			if v == "" {
				ns.n.HWAddr = ""
				return
			}
			m, err := parseMAC(v)
			if err != nil {
				b.errorf(p, "%v", err)
				return
			}
			ns.n.HWAddr = m
		}},
		{"ipv4.address", netAddress(false)},
		{"ipv4.gateway", netGateway(false)},
		{"ipv6.address", netAddress(true)},
		{"ipv6.gateway", netGateway(true)},
		{"link", netIfName(func(n *Network) *string { return &n.Link })},
		{"l2proxy", func(b *builder, ns *netState, p Pos, v string) {
			b.boolKey(p, v, &ns.n.L2Proxy)
		}},
		{"macvlan.mode", func(b *builder, ns *netState, p Pos, v string) {
			if v != "" && !slices.Contains([]string{"private", "vepa", "bridge", "passthru"}, v) {
				b.errorf(p, "invalid macvlan mode %q (private, vepa, bridge or passthru)", v)
				return
			}
			ns.n.MacvlanMode = v
		}},
		{"ipvlan.mode", netIPVlan},
		{"ipvlan.isolation", netIPVlan},
		{"mtu", func(b *builder, ns *netState, p Pos, v string) {
			if v == "" {
				ns.n.MTU = 0
				return
			}
			m, err := parseRange(v, 68, 65535)
			if err != nil {
				b.errorf(p, "invalid MTU: %v", err)
				return
			}
			ns.n.MTU = int(m)
		}},
		{"name", netIfName(func(n *Network) *string { return &n.Name })},
		{"script.down", netScript(func(n *Network) *string { return &n.ScriptDown })},
		{"script.up", netScript(func(n *Network) *string { return &n.ScriptUp })},
		{"type", func(b *builder, ns *netState, p Pos, v string) {
			switch v {
			case "veth", "macvlan", "vlan", "phys", "empty", "none", "":
				ns.n.Type, ns.type_ = v, p
				ns.n.Pos = p
			case "ipvlan":
				ns.badType = true
				b.notSupported(p, "ipvlan networks")
			default:
				ns.badType = true
				b.errorf(p, "unknown network type %q (veth, macvlan, vlan, phys, empty or none)", v)
			}
		}},
		{"vlan.id", func(b *builder, ns *netState, p Pos, v string) {
			if v == "" {
				ns.n.VlanID = 0
				return
			}
			id, err := parseRange(v, 0, 4094)
			if err != nil {
				b.errorf(p, "invalid VLAN id: %v", err)
				return
			}
			ns.n.VlanID = int(id)
		}},
		{"veth.mode", func(b *builder, ns *netState, p Pos, v string) {
			if v != "" && v != "bridge" && v != "router" {
				b.errorf(p, "invalid veth mode %q (bridge or router)", v)
				return
			}
			ns.n.VethMode = v
		}},
		{"veth.pair", netIfName(func(n *Network) *string { return &n.VethPair })},
		{"veth.ipv4.route", netRoute(false)},
		{"veth.ipv6.route", netRoute(true)},
		{"veth.vlan.id", netVethVlan},
		{"veth.vlan.tagged.id", netVethVlan},
	}
}

// net handles lxc.net.N.KEY (rest is "N.KEY").
func (b *builder) net(p Pos, rest, v string) {
	idxStr, sub, ok := strings.Cut(rest, ".")
	if !isDigits(idxStr) || !ok || sub == "" {
		if s := suggestKey(p.Key); s != "" {
			b.errorf(p, "unknown key (did you mean %q?)", s)
		} else {
			b.errorf(p, "unknown key: want lxc.net.N.KEY")
		}
		return
	}
	idx, err := strconv.Atoi(idxStr)
	if err != nil || idx > maxNetIndex {
		b.errorf(p, "network index %s out of range 0-%d", idxStr, maxNetIndex)
		return
	}
	keys := netKeys()
	i := slices.IndexFunc(keys, func(k netKey) bool { return k.sub == sub })
	if i < 0 {
		subs := make([]string, len(keys))
		for j, k := range keys {
			subs[j] = k.sub
		}
		if s := closest(sub, subs); s != "" {
			b.errorf(p, "unknown key (did you mean %q?)", "lxc.net."+idxStr+"."+s)
		} else {
			b.errorf(p, "unknown key (lxc.net.N takes %s)", strings.Join(subs, ", "))
		}
		return
	}
	ns := b.nets[idx]
	if ns == nil {
		ns = &netState{n: Network{Index: idx}, set: map[string]Pos{}}
		b.nets[idx] = ns
	}
	if v == "" {
		delete(ns.set, sub)
	} else {
		ns.set[sub] = p
	}
	keys[i].set(b, ns, p, v)
}

// netIfName sets an interface name (link, name, veth.pair).
func netIfName(field func(*Network) *string) netKeyHandler {
	return func(b *builder, ns *netState, p Pos, v string) {
		if v != "" {
			if err := parseIfName(v); err != nil {
				b.errorf(p, "%v", err)
				return
			}
		}
		*field(&ns.n) = v
	}
}

// netAddress adds an ipv4.address or ipv6.address; an empty value clears
// them.
func netAddress(want6 bool) netKeyHandler {
	return func(b *builder, ns *netState, p Pos, v string) {
		n := &ns.n
		if v == "" {
			if want6 {
				n.IPv6 = nil
			} else {
				n.IPv4 = nil
			}
			return
		}
		a, err := parseAddr(v, want6)
		if err != nil {
			b.errorf(p, "%v", err)
			return
		}
		if want6 {
			n.IPv6 = append(n.IPv6, a)
		} else {
			n.IPv4 = append(n.IPv4, a)
		}
	}
}

func netGateway(want6 bool) netKeyHandler {
	return func(b *builder, ns *netState, p Pos, v string) {
		n := &ns.n
		gw := ""
		if v != "" {
			g, err := parseGateway(v, want6)
			if err != nil {
				b.errorf(p, "%v", err)
				return
			}
			gw = g
		}
		if want6 {
			n.IPv6Gateway = gw
		} else {
			n.IPv4Gateway = gw
		}
	}
}

// netRoute adds a veth.ipv4.route or veth.ipv6.route; an empty value
// clears them.
func netRoute(want6 bool) netKeyHandler {
	return func(b *builder, ns *netState, p Pos, v string) {
		n := &ns.n
		if v == "" {
			if want6 {
				n.VethIPv6Routes = nil
			} else {
				n.VethIPv4Routes = nil
			}
			return
		}
		r, err := netip.ParsePrefix(v)
		if err != nil || r.Addr().Is6() != want6 || r.Masked() != r {
			b.errorf(p, "invalid route %q: want a network address with prefix (10.0.0.0/24)", v)
			return
		}
		if want6 {
			n.VethIPv6Routes = append(n.VethIPv6Routes, r)
		} else {
			n.VethIPv4Routes = append(n.VethIPv4Routes, r)
		}
	}
}

func netScript(field func(*Network) *string) netKeyHandler {
	return func(b *builder, ns *netState, p Pos, v string) {
		if v != "" && !filepath.IsAbs(v) {
			b.errorf(p, "script path %q must be absolute", v)
			return
		}
		*field(&ns.n) = v
	}
}

func netIPVlan(b *builder, _ *netState, p Pos, v string) {
	if v != "" {
		b.notSupported(p, "ipvlan networks")
	}
}

func netVethVlan(b *builder, _ *netState, p Pos, v string) {
	if v != "" {
		b.notSupported(p, "VLAN filtering on the host's bridge port")
	}
}

// finishNets checks each network as a whole and fills LXC's defaults.
func (b *builder) finishNets() {
	idxs := make([]int, 0, len(b.nets))
	for i := range b.nets {
		idxs = append(idxs, i)
	}
	sort.Ints(idxs)
	pairs := map[string]Pos{}
	names := map[string]Pos{}
	for _, i := range idxs {
		ns := b.nets[i]
		n := ns.n
		if n.Type == "" {
			first := Pos{}
			for _, p := range ns.set {
				if first.File == "" || p.Line < first.Line {
					first = p
				}
			}
			if first.File == "" || ns.badType {
				continue // every key was cleared again, or the type was wrong
			}
			b.errorf(first, "network %d has no lxc.net.%d.type", i, i)
			continue
		}
		only := func(sub, typ string) {
			if p, ok := ns.set[sub]; ok && n.Type != typ {
				b.errorf(p, "only for %s networks (lxc.net.%d.type is %s)", typ, i, n.Type)
			}
		}
		only("veth.pair", "veth")
		only("veth.mode", "veth")
		only("veth.ipv4.route", "veth")
		only("veth.ipv6.route", "veth")
		only("macvlan.mode", "macvlan")
		only("vlan.id", "vlan")
		switch n.Type {
		case "veth":
			if n.VethMode == "" {
				n.VethMode = "bridge"
			}
			if n.VethMode == "router" && n.Link != "" {
				b.errorf(ns.set["link"], "a router-mode veth has no bridge link")
			}
		case "macvlan":
			if n.MacvlanMode == "" {
				n.MacvlanMode = "private"
			}
		}
		switch n.Type {
		case "macvlan", "vlan", "phys":
			if n.Link == "" {
				b.errorf(ns.type_, "a %s network needs lxc.net.%d.link", n.Type, i)
			}
		}
		if n.Type == "vlan" {
			if _, ok := ns.set["vlan.id"]; !ok {
				b.errorf(ns.type_, "a vlan network needs lxc.net.%d.vlan.id", i)
			}
		}
		if n.Name == "" {
			switch n.Type {
			case "veth", "macvlan", "vlan":
				n.Name = "eth" + strconv.Itoa(i)
			case "phys":
				n.Name = n.Link
			}
		}
		if n.VethPair != "" {
			if p, dup := pairs[n.VethPair]; dup {
				b.errorf(ns.set["veth.pair"], "veth pair name %q already used by %s", n.VethPair, p.Key)
			}
			pairs[n.VethPair] = ns.set["veth.pair"]
		}
		if n.Name != "" && n.Type != "none" && n.Type != "empty" {
			if p, dup := names[n.Name]; dup {
				b.errorf(firstSet(ns, "name", "type"), "interface name %q already used by %s", n.Name, p.Key)
			}
			names[n.Name] = firstSet(ns, "name", "type")
		}
		n.Where = make(map[string]Pos, len(ns.set))
		for sub, p := range ns.set {
			n.Where[sub] = p
		}
		b.cfg.Net = append(b.cfg.Net, n)
	}
}

func firstSet(ns *netState, subs ...string) Pos {
	for _, s := range subs {
		if p, ok := ns.set[s]; ok {
			return p
		}
	}
	return ns.type_
}
