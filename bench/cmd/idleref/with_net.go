//go:build with_net

package main

// Linked only for the benchmark's import-cost variant with_net.
import _ "net"
