// Package console holds the container's terminals on the host side: it
// allocates the pseudo-terminals that become the container's /dev/console
// and /dev/ttyN (NewPty), multiplexes each one (Mux: read for ever so the
// container never blocks on a full console, write lxc.console.logfile with
// lxc.console.size and lxc.console.rotate as LXC does, keep an in-memory
// ring of the last lxc.console.buffer.size bytes, serve one attached client
// at a time), and implements the client side of `lxc-initd console`
// (Attach: raw mode, window size, the detach key).
//
// The control socket that carries a console connection belongs to package
// supervise; this package only sees the connection once it has become a raw
// byte stream.
package console
