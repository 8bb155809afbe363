// Package lxccmd asks LXC whether it runs a container, the way lxc-info
// does: through the command socket that lxc-start's monitor holds for the
// container's life. lxc-shim and LXC read the same configs, so a container
// either of them runs must not be started by the other on the same root
// file system; LXC cannot see lxc-shim's containers, but lxc-shim can see
// LXC's.
//
// The socket is the abstract unix socket "@LXCPATH/NAME/command", or, when
// that does not fit the 106 bytes LXC allows, "@lxc/HASH/command" where
// HASH is the FNV-1a 64-bit hash of "LXCPATH/NAME" in 16 hex digits (LXC's
// lxc_make_abstract_socket_name in src/lxc/commands_utils.c).
package lxccmd

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultLXCPath is LXC's lxcpath when /etc/lxc/lxc.conf sets none (Debian's
// and upstream's build default).
const DefaultLXCPath = "/var/lib/lxc"

// sockNameMax is what LXC leaves for the name in sun_path: 108 bytes less
// the leading NUL of an abstract name and the terminating one it writes.
const sockNameMax = 108 - 2

// getInitPID is LXC_CMD_GET_INIT_PID in LXC's lxc_cmd_t (src/lxc/commands.h).
const getInitPID = 4

// SocketName is the abstract socket (with Go's leading '@') of LXC's
// command socket for name under lxcpath, exactly as LXC spells it: lxcpath
// as given, no cleaning.
func SocketName(lxcpath, name string) string {
	s := lxcpath + "/" + name + "/command"
	if len(s) < sockNameMax {
		return "@" + s
	}
	h := fnv.New64a()
	h.Write([]byte(lxcpath + "/" + name))
	return fmt.Sprintf("@lxc/%016x/command", h.Sum64())
}

// Running says whether LXC runs name under lxcpath: its command socket
// accepts a connection and is held by root (lxc-start of a container under
// a system lxcpath runs as root; an abstract name anyone can bind, so a
// socket of another user's is not taken for LXC's: it could otherwise
// keep lxc-initd from starting a container). pid is the container's init
// as LXC reports it (0 when it did not answer that in time; the socket
// answering is enough to know that lxc-start holds the container).
func Running(lxcpath, name string) (running bool, pid int) {
	c, err := net.DialTimeout("unix", SocketName(lxcpath, name), time.Second)
	if err != nil {
		return false, 0
	}
	defer c.Close()
	if !heldByRoot(c) {
		return false, 0
	}
	_ = c.SetDeadline(time.Now().Add(time.Second))
	// struct lxc_cmd_req { lxc_cmd_t cmd; int datalen; const void *data; }
	// as the host lays it out: the pointer is sent but unused.
	req := make([]byte, 8+ptrSize)
	binary.NativeEndian.PutUint32(req[0:], getInitPID)
	if _, err := c.Write(req); err != nil {
		return true, 0
	}
	// struct lxc_cmd_rsp { int ret; int datalen; void *data; }: the pid is
	// carried in the data pointer's value.
	rsp := make([]byte, 8+ptrSize)
	if _, err := io.ReadFull(c, rsp); err != nil {
		return true, 0
	}
	var p uint64
	if ptrSize == 8 {
		p = binary.NativeEndian.Uint64(rsp[8:])
	} else {
		p = uint64(binary.NativeEndian.Uint32(rsp[8:]))
	}
	if p == 0 || p > 1<<22 {
		return true, 0
	}
	return true, int(p)
}

// ptrSize is the size of a C pointer here, which LXC's request and
// response structs carry.
const ptrSize = strconv.IntSize / 8

// heldByRoot: the process at the other end of c runs as root.
func heldByRoot(c net.Conn) bool {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return false
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return false
	}
	return cred.Uid == 0
}

// Paths are the lxcpaths LXC may run name under, as far as lxc-shim can
// know: the directories lxc-shim reads configs from, and LXC's own
// lxcpath (lxc.lxcpath of /etc/lxc/lxc.conf, else /var/lib/lxc), each
// once.
func Paths(lxcpath []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, p := range append(append([]string{}, lxcpath...), systemLXCPath("/etc/lxc/lxc.conf")) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// systemLXCPath is lxc.lxcpath of LXC's system config file, or
// DefaultLXCPath.
func systemLXCPath(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return DefaultLXCPath
	}
	defer f.Close()
	p := DefaultLXCPath
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && strings.TrimSpace(k) == "lxc.lxcpath" {
			p = strings.TrimSpace(v)
		}
	}
	return p
}

// NotRunning returns an error naming the container, the lxcpath, the init's
// pid and how to hand it over when LXC runs name under one of paths; nil
// when it does not. lxc-initd start and lxc-shim refuse such a container.
func NotRunning(paths []string, name string) error {
	p, pid := Find(paths, name)
	if p == "" {
		return nil
	}
	init := ""
	if pid > 0 {
		init = fmt.Sprintf(", init pid %d", pid)
	}
	return fmt.Errorf("LXC is running container %s (lxcpath %s%s: its command socket %s answers); stop it with `lxc-stop -P %s -n %s` first, or leave it to LXC",
		name, p, init, SocketName(p, name), p, name)
}

// Find is the first lxcpath of paths under which LXC runs name, with the
// init pid LXC gives ("" when LXC runs it under none of them).
func Find(paths []string, name string) (lxcpath string, pid int) {
	for _, p := range paths {
		if ok, pid := Running(p, name); ok {
			return p, pid
		}
	}
	return "", 0
}
