// Package treecheck holds only tests that read the source tree: each
// mechanism (cgroup mount discovery, which cgroup a pid is in, capability
// sets) has one owning package, and the defaults that the shipped init
// scripts repeat agree with package config. It has no code of its own.
package treecheck
