package config

// DefaultPath is the PATH of the container's init and of a command attached
// to it, unless lxc.environment sets one (LXC's and lxc-attach's default).
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
