//go:build with_systemd

package main

// Linked only for the benchmark's import-cost variant with_systemd.
import _ "github.com/coreos/go-systemd/v22/daemon"
