package seccomp

import (
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
)

// The generated tables are go-seccomp-bpf's, name for name and number for
// number, and the audit architectures its IDs; regenerate with
// `go run ./seccomp/internal/gentables > seccomp/ztables.go` when it moves.
func TestTablesMatchArch(t *testing.T) {
	for _, c := range []struct {
		a    *archInfo
		info *arch.Info
	}{{archX8664, arch.X86_64}, {archI386, arch.I386}, {archX32, arch.X32}, {archA64, arch.AARCH64}, {archARM, arch.ARM}} {
		if c.a.audit != uint32(c.info.ID) {
			t.Errorf("%s: audit arch %#x, go-seccomp-bpf says %#x", c.a.name, c.a.audit, uint32(c.info.ID))
		}
		// The number of each name; x32's duplicates (an x86_64-only
		// number below 512 and the x32 one) resolve to the x32 one.
		want := map[string]int{}
		for nr, name := range c.info.SyscallNumbers {
			if old, ok := want[name]; !ok || nr > old {
				want[name] = nr
			}
		}
		if len(c.a.names) != len(want) {
			t.Errorf("%s: %d syscalls, go-seccomp-bpf has %d", c.a.name, len(c.a.names), len(want))
		}
		for name, nr := range want {
			if got, ok := c.a.names.lookup(name); !ok || got != nr {
				t.Errorf("%s: %s is %d (found %v), want %d", c.a.name, name, got, ok, nr)
			}
		}
		for i := 1; i < len(c.a.names); i++ {
			if c.a.names[i-1].name >= c.a.names[i].name {
				t.Fatalf("%s: table not sorted at %q", c.a.name, c.a.names[i].name)
			}
		}
	}
	if nr, _ := archX32.names.lookup("rt_sigaction"); nr != 512 {
		t.Errorf("x32 rt_sigaction is %d, want its x32 number 512", nr)
	}
	if _, ok := archX8664.names.lookup("tk-no-such-syscall"); ok {
		t.Error("an unknown name was found")
	}
}
