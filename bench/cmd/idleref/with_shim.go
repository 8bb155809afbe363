//go:build with_shim

package main

// Every package lxc-shim links, linked (their init functions run) but
// never called: the load-time floor of the shim before it does anything.
import (
	_ "github.com/lxc-shim/lxc-shim/cgroup"
	_ "github.com/lxc-shim/lxc-shim/config"
	_ "github.com/lxc-shim/lxc-shim/console"
	_ "github.com/lxc-shim/lxc-shim/container"
	_ "github.com/lxc-shim/lxc-shim/netcleanup"
	_ "github.com/lxc-shim/lxc-shim/signals"
	_ "github.com/lxc-shim/lxc-shim/supervise"
)
