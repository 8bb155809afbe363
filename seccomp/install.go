package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Install loads the filter on the calling thread (which the caller keeps
// locked and execs from: the filter then holds for the exec'd program and
// everything it starts). It returns false, having done nothing, when the
// thread is already under a seccomp filter and allowNesting is false: LXC
// then loads no policy ("already seccomp-confined"), unless
// lxc.seccomp.allow_nesting = 1.
//
// No no_new_privs is set for the filter, as LXC (libseccomp's
// SCMP_FLTATR_CTL_NNP = 0): the kernel accepts it from a thread holding
// CAP_SYS_ADMIN, which the stage and the attaching process hold at this
// point. Only a thread without it (the kernel answers EACCES) gets
// no_new_privs, which the kernel requires then.
func (f *Filter) Install(allowNesting bool) (bool, error) {
	if len(f.Program) == 0 || len(f.Program)%8 != 0 {
		return false, fmt.Errorf("seccomp %s: empty or truncated program (%d bytes)", f.Profile, len(f.Program))
	}
	mode, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0)
	if err != nil {
		return false, fmt.Errorf("seccomp %s: read the seccomp mode: %w", f.Profile, err)
	}
	if mode != 0 && !allowNesting {
		return false, nil
	}
	insns := make([]unix.SockFilter, f.Len())
	for i := range insns {
		b := f.Program[8*i:]
		insns[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:])}
	}
	prog := unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}
	err = setFilter(&prog)
	if errors.Is(err, unix.EACCES) {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return false, fmt.Errorf("seccomp %s: no_new_privs: %w", f.Profile, err)
		}
		err = setFilter(&prog)
	}
	if err != nil {
		return false, fmt.Errorf("seccomp %s: load the filter: %w", f.Profile, err)
	}
	return true, nil
}

func setFilter(prog *unix.SockFprog) error {
	_, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(prog)))
	if e != 0 {
		return e
	}
	return nil
}
