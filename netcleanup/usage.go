package netcleanup

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
)

// Traffic is one veth's byte counts, read on its host end: what the host
// end transmitted the container received, and the other way round.
type Traffic struct {
	Name    string // the interface inside (eth0)
	Host    string // the host end
	Link    string // the bridge, if any
	RxBytes uint64 // received by the container
	TxBytes uint64 // sent by the container
}

// Traffic reads the counters of every veth the run created, from the
// host end's /sys/class/net/HOST/statistics (the shim's /sys is the
// host's network namespace's).
func (h *Host) Traffic() ([]Traffic, error) {
	if h == nil {
		return nil, nil
	}
	var out []Traffic
	for _, m := range h.made {
		if m.kind != typeVeth {
			continue
		}
		t := Traffic{Host: m.hostName}
		for _, n := range h.Nets {
			if n.VethPair == m.hostName {
				t.Name, t.Link = n.Name, n.Link
			}
		}
		stats := filepath.Join("/sys/class/net", m.hostName, "statistics")
		tx, err := readCounter(filepath.Join(stats, "tx_bytes"))
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", h.name, err)
		}
		rx, err := readCounter(filepath.Join(stats, "rx_bytes"))
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", h.name, err)
		}
		t.RxBytes, t.TxBytes = tx, rx
		out = append(out, t)
	}
	return out, nil
}

func readCounter(file string) (uint64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	return n, nil
}

// Addresses are the container's IP addresses per interface, loopback and
// link-local left out, read through netlink in its network namespace (no setns of the
// shim's threads). Without a network namespace of its own: none.
func (h *Host) Addresses() (map[string][]string, error) {
	if h == nil || h.nh == nil {
		return nil, nil
	}
	links, err := h.nh.LinkList()
	if err != nil {
		return nil, fmt.Errorf("container %s: list links: %w", h.name, err)
	}
	out := map[string][]string{}
	for _, l := range links {
		if l.Attrs().Name == "lo" {
			continue
		}
		addrs, err := h.nh.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			return nil, fmt.Errorf("container %s: addresses of %s: %w", h.name, l.Attrs().Name, err)
		}
		for _, a := range addrs {
			// As lxc-info and lxc-ls: no loopback, no link-local.
			if a.IP.IsLoopback() || a.IP.IsLinkLocalUnicast() {
				continue
			}
			out[l.Attrs().Name] = append(out[l.Attrs().Name], a.IP.String())
		}
	}
	return out, nil
}
