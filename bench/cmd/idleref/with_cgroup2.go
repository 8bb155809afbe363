//go:build with_cgroup2

package main

// Linked only for the benchmark's import-cost variant with_cgroup2.
import _ "github.com/containerd/cgroups/v3/cgroup2"
