package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// parseBool reads LXC's booleans: 0 or 1 (LXC 5 accepts only these for
// most keys; "true"/"false" are taken too, since older templates wrote them).
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q: want 0 or 1", v)
}

// parseUint reads a decimal in [lo, hi].
func parseRange(v string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid number %q", v)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d out of range %d-%d", n, lo, hi)
	}
	return n, nil
}

// parseSize reads a byte size as LXC and the cgroup files write them:
// "512M", "1G", "1024", "64k", "1.5G" is refused. Units are powers of 1024
// (K, M, G, T, P, with optional "B" or "iB").
func parseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	if s == "" {
		return 0, fmt.Errorf("empty size")
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid size %q", v)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q", v)
	}
	unit := strings.ToUpper(strings.TrimSpace(s[i:]))
	unit = strings.TrimSuffix(strings.TrimSuffix(unit, "B"), "I")
	shift := 0
	switch unit {
	case "":
	case "K":
		shift = 10
	case "M":
		shift = 20
	case "G":
		shift = 30
	case "T":
		shift = 40
	case "P":
		shift = 50
	default:
		return 0, fmt.Errorf("invalid size %q: unknown unit %q", v, s[i:])
	}
	if n > (1<<63-1)>>shift {
		return 0, fmt.Errorf("size %q too large", v)
	}
	return n << shift, nil
}

// parseMAC checks an Ethernet address as lxc.net.N.hwaddr takes it: six
// colon-separated octets of one or two hex digits, where any digit may be
// LXC's 'x' wildcard (filled randomly at start). LXC reads one-digit octets
// ("02:00:a:4d:0:14", what the seed's hwaddr.sh prints) as their value, so
// this does too. It returns the address lower-cased with every octet two
// digits long, the form the interface then shows.
func parseMAC(v string) (string, error) {
	parts := strings.Split(strings.ToLower(v), ":")
	if len(parts) != 6 {
		return "", fmt.Errorf("invalid MAC address %q: want six colon-separated bytes", v)
	}
	for i, p := range parts {
		if len(p) < 1 || len(p) > 2 {
			return "", fmt.Errorf("invalid MAC address %q: octet %d %q: want one or two hex digits", v, i+1, p)
		}
		for _, c := range p {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == 'x') {
				return "", fmt.Errorf("invalid MAC address %q: octet %d %q: not a hex digit or 'x'", v, i+1, p)
			}
		}
		if len(p) == 1 {
			parts[i] = "0" + p
		}
	}
	m := strings.Join(parts, ":")
	// The first byte's low bit marks multicast; an address a host keeps
	// rejecting is better caught here.
	if !strings.ContainsRune(m[:2], 'x') {
		b, _ := strconv.ParseUint(m[:2], 16, 8)
		if b&1 == 1 {
			return "", fmt.Errorf("invalid MAC address %q: multicast bit set", v)
		}
	}
	return m, nil
}

// parseAddr reads "ADDR[/PREFIX] [BROADCAST]" as lxc.net.N.ipv4.address /
// ipv6.address take it. A missing IPv4 prefix is the classful one, as in
// LXC; a missing IPv6 prefix is 64. The broadcast address is checked and
// dropped (the kernel derives the same one).
func parseAddr(v string, want6 bool) (netip.Prefix, error) {
	fields := strings.Fields(v)
	if len(fields) == 0 || len(fields) > 2 {
		return netip.Prefix{}, fmt.Errorf("invalid address %q", v)
	}
	family := "IPv4"
	if want6 {
		family = "IPv6"
	}
	a, pfx, hasPfx := strings.Cut(fields[0], "/")
	addr, err := netip.ParseAddr(a)
	if err != nil || addr.Zone() != "" || addr.Is4In6() || addr.Is6() != want6 {
		return netip.Prefix{}, fmt.Errorf("invalid %s address %q", family, v)
	}
	bits := 0
	switch {
	case hasPfx:
		n, err := strconv.Atoi(pfx)
		if err != nil || n < 0 || n > addr.BitLen() {
			return netip.Prefix{}, fmt.Errorf("invalid prefix length in %q", v)
		}
		bits = n
	case want6:
		bits = 64
	default:
		bits = classfulPrefix(addr)
	}
	if len(fields) == 2 {
		if want6 {
			return netip.Prefix{}, fmt.Errorf("invalid IPv6 address %q: no broadcast address in IPv6", v)
		}
		b, err := netip.ParseAddr(fields[1])
		if err != nil || !b.Is4() {
			return netip.Prefix{}, fmt.Errorf("invalid broadcast address in %q", v)
		}
	}
	return netip.PrefixFrom(addr, bits), nil
}

func classfulPrefix(a netip.Addr) int {
	b := a.As4()[0]
	switch {
	case b < 128:
		return 8
	case b < 192:
		return 16
	}
	return 24
}

// parseGateway reads ipv4.gateway / ipv6.gateway: an address, "auto" or
// "dev".
func parseGateway(v string, want6 bool) (string, error) {
	if v == "auto" || v == "dev" {
		return v, nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil || a.Is6() != want6 || a.Zone() != "" {
		if want6 {
			return "", fmt.Errorf("invalid IPv6 gateway %q: want an address, \"auto\" or \"dev\"", v)
		}
		return "", fmt.Errorf("invalid IPv4 gateway %q: want an address, \"auto\" or \"dev\"", v)
	}
	return a.String(), nil
}

// parseIfName checks a network interface name: 1-15 bytes, no '/', ':' or
// white space, not "." or "..".
func parseIfName(v string) error {
	if len(v) == 0 || len(v) > 15 {
		return fmt.Errorf("invalid interface name %q: must be 1-15 bytes", v)
	}
	if v == "." || v == ".." || strings.ContainsAny(v, "/: \t") {
		return fmt.Errorf("invalid interface name %q", v)
	}
	return nil
}

// capNames are Linux capabilities by number, lower case without "cap_".
var capNames = []string{
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill",
	"setgid", "setuid", "setpcap", "linux_immutable", "net_bind_service",
	"net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
	"sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
	"sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time",
	"sys_tty_config", "mknod", "lease", "audit_write", "audit_control",
	"setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
	"block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
}

// CapName is the lower-case name of capability n without "cap_".
func CapName(n int) string {
	if n >= 0 && n < len(capNames) {
		return capNames[n]
	}
	return strconv.Itoa(n)
}

// parseCap reads a capability name ("sys_admin", "CAP_SYS_ADMIN") or number.
func parseCap(v string) (int, error) {
	s := strings.TrimPrefix(strings.ToLower(v), "cap_")
	for i, n := range capNames {
		if n == s {
			return i, nil
		}
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < len(capNames) {
		return n, nil
	}
	if best := closest(s, capNames); best != "" {
		return 0, fmt.Errorf("unknown capability %q (did you mean %q?)", v, best)
	}
	return 0, fmt.Errorf("unknown capability %q", v)
}

// parseDeviceRule reads a devices cgroup line: "a", "c 1:3 rwm",
// "b *:* m", "c 136:* rwm".
func parseDeviceRule(v string, allow bool) (DeviceRule, error) {
	f := strings.Fields(v)
	r := DeviceRule{Allow: allow, Major: -1, Minor: -1}
	if len(f) == 0 || len(f) > 3 {
		return r, fmt.Errorf("invalid device rule %q: want \"TYPE MAJOR:MINOR ACCESS\" or \"a\"", v)
	}
	switch f[0] {
	case "a", "c", "b":
		r.Type = rune(f[0][0])
	default:
		return r, fmt.Errorf("invalid device rule %q: type must be a, b or c", v)
	}
	if len(f) == 1 {
		if r.Type != 'a' {
			return r, fmt.Errorf("invalid device rule %q: missing MAJOR:MINOR", v)
		}
		r.Access = "rwm"
		return r, nil
	}
	ma, mi, ok := strings.Cut(f[1], ":")
	if !ok {
		return r, fmt.Errorf("invalid device rule %q: want MAJOR:MINOR", v)
	}
	var err error
	if r.Major, err = devNum(ma); err != nil {
		return r, fmt.Errorf("invalid device rule %q: %v", v, err)
	}
	if r.Minor, err = devNum(mi); err != nil {
		return r, fmt.Errorf("invalid device rule %q: %v", v, err)
	}
	access := "rwm"
	if len(f) == 3 {
		access = f[2]
	}
	var have [3]bool
	for _, c := range access {
		i := strings.IndexRune("rwm", c)
		if i < 0 || have[i] {
			return r, fmt.Errorf("invalid device rule %q: access must be a subset of rwm", v)
		}
		have[i] = true
	}
	r.Access = ""
	for i, c := range "rwm" {
		if have[i] {
			r.Access += string(c)
		}
	}
	return r, nil
}

func devNum(s string) (int64, error) {
	if s == "*" {
		return -1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > 1<<32-1 {
		return 0, fmt.Errorf("invalid device number %q", s)
	}
	return n, nil
}

// closest is the candidate nearest to s by edit distance, or "" when none
// is near enough to be a plausible typo.
func closest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(s) > 12 {
		limit = 3
	}
	if bestD > limit {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var logLevels = []string{"trace", "debug", "info", "notice", "warn", "error", "crit", "alert", "fatal"}

func parseLogLevel(v string) (string, error) {
	l := strings.ToLower(v)
	if n, err := strconv.Atoi(l); err == nil && n >= 0 && n < len(logLevels) {
		return logLevels[n], nil
	}
	if l == "warning" {
		l = "warn"
	}
	if slices.Contains(logLevels, l) {
		return l, nil
	}
	return "", fmt.Errorf("unknown log level %q (one of %s, or 0-8)", v, strings.Join(logLevels, ", "))
}

// parseArch normalises lxc.arch and gives the personality a 32-bit
// userland needs on a 64-bit host.
func parseArch(v string) (string, uint64, error) {
	const linux32 = 0x0008 // PER_LINUX32 from <linux/personality.h>
	switch strings.ToLower(v) {
	case "x86", "i386", "i486", "i586", "i686":
		return "i686", linux32, nil
	case "x86_64", "amd64":
		return "x86_64", 0, nil
	case "arm64", "aarch64":
		return "aarch64", 0, nil
	case "arm", "armel", "armhf", "armv7l", "armv7", "armv6l", "armv5tel":
		return "armv7l", linux32, nil
	case "ppc", "powerpc":
		return "ppc", linux32, nil
	case "ppc64", "powerpc64":
		return "ppc64", 0, nil
	case "ppc64le", "ppc64el", "powerpc64le":
		return "ppc64le", 0, nil
	case "s390x":
		return "s390x", 0, nil
	case "riscv64":
		return "riscv64", 0, nil
	case "mips", "mipsel":
		return strings.ToLower(v), linux32, nil
	case "mips64", "mips64el":
		return strings.ToLower(v), 0, nil
	}
	return "", 0, fmt.Errorf("unknown architecture %q", v)
}

// splitQuoted splits a command line on white space, honouring double and
// single quotes and backslash escapes (LXC splits lxc.init.cmd the same way).
func splitQuoted(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inArg := false
	var quote byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			} else if ch == '\\' && quote == '"' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else {
				cur.WriteByte(ch)
			}
		case ch == '"' || ch == '\'':
			quote, inArg = ch, true
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inArg = true
		case ch == ' ' || ch == '\t':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(ch)
			inArg = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inArg {
		args = append(args, cur.String())
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	return args, nil
}

func parseLimit(s string) (uint64, error) {
	if s == "unlimited" || s == "infinity" {
		return unix.RLIM_INFINITY, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid limit %q: want a number or \"unlimited\"", s)
	}
	return n, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func parseIDMap(v string) (IDMap, error) {
	f := strings.Fields(v)
	if len(f) != 4 || (f[0] != "u" && f[0] != "g") {
		return IDMap{}, fmt.Errorf("invalid id map %q: want \"u|g CONTAINERID HOSTID COUNT\"", v)
	}
	var n [3]int64
	for i, s := range f[1:] {
		x, err := strconv.ParseInt(s, 10, 64)
		if err != nil || x < 0 || x > 1<<32-1 {
			return IDMap{}, fmt.Errorf("invalid id map %q: %q is not an id", v, s)
		}
		n[i] = x
	}
	if n[2] == 0 {
		return IDMap{}, fmt.Errorf("invalid id map %q: count is 0", v)
	}
	return IDMap{Kind: rune(f[0][0]), Container: n[0], Host: n[1], Count: n[2]}, nil
}
