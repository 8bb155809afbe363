package config

import "time"

// The defaults lxc-shim and lxc-initd share, defined once. They live in
// config, not a package of their own, because config is already the leaf
// every binary and package imports, and DefaultLXCPath and DefaultRunDir
// (paths.go) were already here: the shipped init.d/lxc, conf.d and systemd
// units repeat them in their own languages, and a test
// (internal/treecheck) checks that they agree with these.

// DefaultPath is the PATH of the container's init and of a command attached
// to it, unless lxc.environment sets one (LXC's and lxc-attach's default).
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// DefaultLogDir is where a shim writes its log NAME.log (--logdir).
const DefaultLogDir = "/var/log/lxc-shim"

// DefaultStopTimeout is how long a stop waits for the init to exit after
// the halt signal before it kills the container (--stop-timeout).
const DefaultStopTimeout = 60 * time.Second
