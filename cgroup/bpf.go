package cgroup

// The cgroup2 device controller is an eBPF program of type
// BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup: the kernel runs it on
// every open and mknod of a device node with a struct bpf_cgroup_dev_ctx
//
//	struct bpf_cgroup_dev_ctx {
//		__u32 access_type; /* (access << 16) | type */
//		__u32 major;
//		__u32 minor;
//	};
//
// and allows the operation when it returns 1. This file assembles that
// program from the device rules and loads it with bpf(2) directly.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
)

// Registers of the program. r1 holds the context on entry; r0 is the
// return value. r2..r6 are free scratch registers (no helper is called).
const (
	regRet    = 0
	regCtx    = 1
	regType   = 2 // device type: BPF_DEVCG_DEV_BLOCK or _CHAR
	regAccess = 3 // requested access: BPF_DEVCG_ACC_* bits
	regMajor  = 4
	regMinor  = 5
	regTmp    = 6
)

// insn is one struct bpf_insn: opcode, dst_reg:4 (low nibble) and
// src_reg:4 (high nibble), a 16-bit offset and a 32-bit immediate, in host
// byte order.
type insn struct {
	op       uint8
	dst, src uint8
	off      int16
	imm      int32
}

// Opcodes used, built from x/sys/unix's instruction classes and codes.
const (
	opLdxW   = unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W   // dst = *(u32 *)(src + off)
	opMovK   = unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_K // dst = imm
	opMovX   = unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_X // dst = src
	opMov32K = unix.BPF_ALU | unix.BPF_MOV | unix.BPF_K   // dst = (u32)imm, upper half zeroed
	opAndK   = unix.BPF_ALU64 | unix.BPF_AND | unix.BPF_K // dst &= imm
	opRshK   = unix.BPF_ALU64 | unix.BPF_RSH | unix.BPF_K // dst >>= imm
	opJneK   = unix.BPF_JMP | unix.BPF_JNE | unix.BPF_K   // if dst != imm goto pc+off
	opJneX   = unix.BPF_JMP | unix.BPF_JNE | unix.BPF_X   // if dst != src goto pc+off
	opJeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K   // if dst == imm goto pc+off
	opExit   = unix.BPF_JMP | unix.BPF_EXIT               // return r0
	accAll   = unix.BPF_DEVCG_ACC_MKNOD | unix.BPF_DEVCG_ACC_READ | unix.BPF_DEVCG_ACC_WRITE
	insnSize = 8
	// jumpSkip marks a jump to the end of a rule's block, patched once
	// the block is complete.
	jumpSkip = math.MinInt16
)

// devProgram compiles rules into the program's instructions, as the bytes
// bpf(BPF_PROG_LOAD) takes. The rules are tested from last to first and the
// first match decides, so the last matching rule of the list wins, as it
// does when the list is written in order to a v1 cgroup; no match denies.
//
// The access test follows v1's devices controller: an allow rule matches
// only when it grants every requested access ("c 1:3 r" refuses an open
// for read and write), a deny rule when it names any of them ("c 1:3 w"
// refuses that open too). An "a" rule matches every device and access.
func devProgram(rules []config.DeviceRule) ([]byte, error) {
	prog := []insn{
		{op: opLdxW, dst: regType, src: regCtx, off: 0},
		{op: opMovX, dst: regAccess, src: regType},
		{op: opAndK, dst: regType, imm: 0xffff},
		{op: opRshK, dst: regAccess, imm: 16},
		{op: opLdxW, dst: regMajor, src: regCtx, off: 4},
		{op: opLdxW, dst: regMinor, src: regCtx, off: 8},
	}
	catchAll := false
	for i := len(rules) - 1; i >= 0 && !catchAll; i-- {
		block, all, err := ruleInsns(rules[i])
		if err != nil {
			return nil, err
		}
		prog = append(prog, block...)
		// Nothing after a rule that matches everything can run, and the
		// verifier rejects unreachable instructions.
		catchAll = all
	}
	if !catchAll {
		prog = append(prog, insn{op: opMovK, dst: regRet, imm: 0}, insn{op: opExit})
	}
	if len(prog) > math.MaxInt16 {
		return nil, fmt.Errorf("%d device rules make a program too long", len(rules))
	}
	b := make([]byte, 0, len(prog)*insnSize)
	for _, in := range prog {
		b = append(b, in.op, in.dst&0xf|in.src<<4)
		b = binary.NativeEndian.AppendUint16(b, uint16(in.off))
		b = binary.NativeEndian.AppendUint32(b, uint32(in.imm))
	}
	return b, nil
}

// ruleInsns is one rule's test: each condition jumps past the block when it
// fails; the block ends by returning the rule's verdict. all reports a rule
// that matches every request.
func ruleInsns(r config.DeviceRule) (block []insn, all bool, err error) {
	if err := checkRule(r); err != nil {
		return nil, false, err
	}
	if r.Type != 'a' {
		typ := int32(unix.BPF_DEVCG_DEV_CHAR)
		if r.Type == 'b' {
			typ = unix.BPF_DEVCG_DEV_BLOCK
		}
		block = append(block, insn{op: opJneK, dst: regType, off: jumpSkip, imm: typ})
		access := accessBits(r.Access)
		switch {
		case access == accAll:
			// Grants or names everything that can be asked.
		case r.Allow:
			// Every requested bit must be granted: skip when a bit
			// outside the rule's access is requested.
			block = append(block,
				insn{op: opMovX, dst: regTmp, src: regAccess},
				insn{op: opAndK, dst: regTmp, imm: ^access & accAll},
				insn{op: opJneK, dst: regTmp, off: jumpSkip, imm: 0})
		default:
			// Any named bit that is requested is refused: skip when
			// none of them is.
			block = append(block,
				insn{op: opMovX, dst: regTmp, src: regAccess},
				insn{op: opAndK, dst: regTmp, imm: access},
				insn{op: opJeqK, dst: regTmp, off: jumpSkip, imm: 0})
		}
		block = append(block, numberTest(regMajor, r.Major)...)
		block = append(block, numberTest(regMinor, r.Minor)...)
	}
	verdict := int32(0)
	if r.Allow {
		verdict = 1
	}
	block = append(block, insn{op: opMovK, dst: regRet, imm: verdict}, insn{op: opExit})
	for i := range block {
		if block[i].off == jumpSkip {
			block[i].off = int16(len(block) - i - 1)
		}
	}
	return block, r.Type == 'a', nil
}

// numberTest skips the block unless reg (a zero-extended u32) equals n; a
// negative n is the wildcard "*". A jump's immediate is sign-extended, so a
// number above MaxInt32 is compared through a register set by a 32-bit
// move, which zero-extends.
func numberTest(reg uint8, n int64) []insn {
	switch {
	case n < 0:
		return nil
	case n <= math.MaxInt32:
		return []insn{{op: opJneK, dst: reg, off: jumpSkip, imm: int32(n)}}
	default:
		return []insn{
			{op: opMov32K, dst: regTmp, imm: int32(uint32(n))},
			{op: opJneX, dst: reg, src: regTmp, off: jumpSkip},
		}
	}
}

// accessBits maps "rwm" (empty: all) to BPF_DEVCG_ACC_* bits.
func accessBits(access string) int32 {
	if access == "" {
		return accAll
	}
	var bits int32
	if strings.ContainsRune(access, 'm') {
		bits |= unix.BPF_DEVCG_ACC_MKNOD
	}
	if strings.ContainsRune(access, 'r') {
		bits |= unix.BPF_DEVCG_ACC_READ
	}
	if strings.ContainsRune(access, 'w') {
		bits |= unix.BPF_DEVCG_ACC_WRITE
	}
	return bits
}

// ptrPad pads a pointer field of a bpf_attr to the kernel's __aligned_u64
// on a 32-bit (little-endian) platform; it is empty on a 64-bit one. The
// pointer fields are unsafe.Pointer rather than integers so that the
// garbage collector sees (and a moving stack adjusts) what they point to
// until the syscall returns. A padding field must never end a struct: Go
// would pad a trailing zero-size field.
type ptrPad [8 - unsafe.Sizeof(uintptr(0))]byte

// progLoadAttr is the head of union bpf_attr as BPF_PROG_LOAD reads it
// (include/uapi/linux/bpf.h), up to expected_attach_type; the kernel
// zero-fills the fields a shorter attribute leaves out. Offsets:
//
//	 0 prog_type            u32
//	 4 insn_cnt             u32
//	 8 insns                u64 (pointer)
//	16 license              u64 (pointer to a C string)
//	24 log_level            u32
//	28 log_size             u32
//	32 log_buf              u64 (pointer)
//	40 kern_version         u32
//	44 prog_flags           u32
//	48 prog_name            char[16]
//	64 prog_ifindex         u32
//	68 expected_attach_type u32
//	72 (size)
type progLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              unsafe.Pointer
	_                  ptrPad
	license            unsafe.Pointer
	_                  ptrPad
	logLevel           uint32
	logSize            uint32
	logBuf             unsafe.Pointer
	_                  ptrPad
	kernVersion        uint32
	progFlags          uint32
	progName           [unix.BPF_OBJ_NAME_LEN]byte
	progIfindex        uint32
	expectedAttachType uint32
}

// progAttachAttr is union bpf_attr as BPF_PROG_ATTACH reads it. Offsets:
//
//	 0 target_fd      u32 (the cgroup directory)
//	 4 attach_bpf_fd  u32 (the program)
//	 8 attach_type    u32
//	12 attach_flags   u32
//	16 replace_bpf_fd u32
//	20 (size)
type progAttachAttr struct {
	targetFd     uint32
	attachBpfFd  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBpfFd uint32
}

// loadAttachDevProgram loads prog as a cgroup device program and attaches
// it to the cgroup directory cgroupFd. BPF_F_ALLOW_MULTI keeps the
// programs of the ancestors (systemd's, a nested manager's) in force: the
// kernel runs them all and an access needs every one to allow it. The
// attachment holds the program, which stays in force after its descriptor
// is closed, until the cgroup is removed. With replaceFd >= 0 the new
// program takes the place of that one, atomically (BPF_F_REPLACE): the
// cgroup is never without a filter, nor with both. It returns the new
// program's descriptor, for a later replacement.
func loadAttachDevProgram(prog []byte, cgroupFd, replaceFd int) (int, error) {
	progFd, err := loadDevProgram(prog)
	if err != nil {
		return -1, err
	}
	attr := progAttachAttr{
		targetFd:    uint32(cgroupFd),
		attachBpfFd: uint32(progFd),
		attachType:  unix.BPF_CGROUP_DEVICE,
		attachFlags: unix.BPF_F_ALLOW_MULTI,
	}
	if replaceFd >= 0 {
		attr.attachFlags |= unix.BPF_F_REPLACE
		attr.replaceBpfFd = uint32(replaceFd)
	}
	if _, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_ATTACH, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr)); errno != 0 {
		unix.Close(progFd)
		return -1, fmt.Errorf("bpf(BPF_PROG_ATTACH): %w", errno)
	}
	return progFd, nil
}

// loadDevProgram loads prog and returns the program's descriptor (the
// kernel makes it close-on-exec). A load is tried first without a verifier
// log; when it fails it is retried with one, whose text goes into the
// error.
func loadDevProgram(prog []byte) (int, error) {
	fd, err := bpfProgLoad(prog, nil)
	if err == nil {
		return fd, nil
	}
	log := make([]byte, 64<<10)
	fd, lerr := bpfProgLoad(prog, log)
	if lerr == nil {
		// The first failure was transient.
		return fd, nil
	}
	err = lerr
	if n := bytes.IndexByte(log, 0); n >= 0 {
		log = log[:n]
	}
	msg := strings.TrimSpace(string(log))
	if msg == "" {
		if errors.Is(err, unix.EPERM) {
			return -1, fmt.Errorf("bpf(BPF_PROG_LOAD): %w (needs CAP_BPF or CAP_SYS_ADMIN)", err)
		}
		return -1, fmt.Errorf("bpf(BPF_PROG_LOAD): %w", err)
	}
	return -1, fmt.Errorf("bpf(BPF_PROG_LOAD): %w; verifier log:\n%s", err, msg)
}

func bpfProgLoad(prog []byte, log []byte) (int, error) {
	if len(prog) == 0 {
		return -1, unix.EINVAL
	}
	license := []byte("GPL\x00")
	attr := progLoadAttr{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(prog) / insnSize),
		insns:    unsafe.Pointer(&prog[0]),
		license:  unsafe.Pointer(&license[0]),
	}
	copy(attr.progName[:], "lxc_shim_dev")
	if len(log) > 0 {
		attr.logLevel = 1
		attr.logSize = uint32(len(log))
		attr.logBuf = unsafe.Pointer(&log[0])
	}
	for tries := 0; ; tries++ {
		fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		// The verifier returns EAGAIN when interrupted by a signal.
		if errno == unix.EAGAIN && tries < 5 {
			continue
		}
		if errno != 0 {
			return -1, errno
		}
		return int(fd), nil
	}
}
