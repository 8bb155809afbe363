//go:build with_netlink

package main

// Linked only for the benchmark's import-cost variant with_netlink.
import _ "github.com/vishvananda/netlink"
