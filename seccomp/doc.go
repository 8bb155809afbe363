// Package seccomp reads LXC's seccomp policy language (lxc.seccomp.profile,
// versions 1 and 2, as LXC 5's src/lxc/seccomp.c reads it), compiles it to
// a classic BPF program for the host's native and compat architectures
// without cgo, and installs that program on the calling thread.
//
// The compiler is our own, on golang.org/x/net/bpf; the syscall tables come
// from github.com/elastic/go-seccomp-bpf/arch (docs/dependencies.md says
// why). The container side never supplies a filter: the shim and lxc-initd
// compile the profile on the host, from the config, and hand the program
// down.
package seccomp
