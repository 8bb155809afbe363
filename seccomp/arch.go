package seccomp

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// x32SyscallBit marks the syscall numbers of the x32 ABI, which shares
// AUDIT_ARCH_X86_64 with x86_64.
const x32SyscallBit = 0x40000000

// archInfo is one architecture a filter covers.
type archInfo struct {
	name  string // as in warnings: x86_64, i386, x32, aarch64, arm
	audit uint32
	names syscallTable
	// bits is OR'ed into every syscall number (x32's bit).
	bits int
	// wide: the arguments are 64 bits (else only the low word is compared,
	// as libseccomp does on 32-bit architectures).
	wide bool
}

var (
	archX8664 = &archInfo{"x86_64", unix.AUDIT_ARCH_X86_64, x8664Syscalls, 0, true}
	archI386  = &archInfo{"i386", unix.AUDIT_ARCH_I386, i386Syscalls, 0, false}
	archX32   = &archInfo{"x32", unix.AUDIT_ARCH_X86_64, x32Syscalls, x32SyscallBit, true}
	archA64   = &archInfo{"aarch64", unix.AUDIT_ARCH_AARCH64, aarch64Syscalls, 0, true}
	archARM   = &archInfo{"arm", unix.AUDIT_ARCH_ARM, armSyscalls, 0, false}
)

// syscallTable is one architecture's syscalls sorted by name
// (ztables.go, generated from github.com/elastic/go-seccomp-bpf/arch by
// seccomp/internal/gentables): constant data, which costs no start-up time
// and no heap, where that package's maps are built by its init functions
// in every process that links it.
type syscallTable []struct {
	name string
	nr   int
}

// lookup returns the number of the syscall called name.
func (t syscallTable) lookup(name string) (int, bool) {
	i := sort.Search(len(t), func(i int) bool { return t[i].name >= name })
	if i < len(t) && t[i].name == name {
		return t[i].nr, true
	}
	return 0, false
}

// host is what LXC makes of a machine (uname -m): the architectures its
// filter covers, native first, and the profile sections that apply.
type host struct {
	machine  string
	arches   []*archInfo
	sections map[string]bool
}

// hostFor is LXC's get_hostarch and the compat architectures it adds: on
// x86_64 the filter covers x86_64, i386 and x32; on aarch64, aarch64 and
// arm.
func hostFor(machine string) (*host, error) {
	h := &host{machine: machine, sections: map[string]bool{"": true, "all": true}}
	switch {
	case machine == "x86_64":
		h.arches = []*archInfo{archX8664, archI386, archX32}
		h.sections["x86"], h.sections["x32"], h.sections["x86_64"] = true, true, true
	case machine == "i686":
		h.arches = []*archInfo{archI386}
		h.sections["x86"] = true
	case strings.HasPrefix(machine, "aarch64"):
		h.arches = []*archInfo{archA64, archARM}
		h.sections["arm"], h.sections["arm64"] = true, true
	case strings.HasPrefix(machine, "armv7"):
		h.arches = []*archInfo{archARM}
		h.sections["arm"] = true
	default:
		return nil, fmt.Errorf("seccomp profiles are not supported on this host's architecture %q (lxc-shim knows the syscalls of x86_64, i686, aarch64 and armv7)", machine)
	}
	return h, nil
}

// Machine is the host's architecture as uname(2) names it.
func Machine() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Machine[:])
}
