// Command lxc-shim is the per-container supervisor: one process per
// container, the direct parent of the container's PID 1 (see
// shared/DESIGN.md, "Processes").
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "lxc-shim: not implemented")
	os.Exit(1)
}
