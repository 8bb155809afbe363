package cgroup

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

func TestBPFAttrLayout(t *testing.T) {
	// The kernel's union bpf_attr layout (include/uapi/linux/bpf.h).
	var l progLoadAttr
	for _, c := range []struct {
		field     string
		got, want uintptr
	}{
		{"insn_cnt", unsafe.Offsetof(l.insnCnt), 4},
		{"insns", unsafe.Offsetof(l.insns), 8},
		{"license", unsafe.Offsetof(l.license), 16},
		{"log_level", unsafe.Offsetof(l.logLevel), 24},
		{"log_size", unsafe.Offsetof(l.logSize), 28},
		{"log_buf", unsafe.Offsetof(l.logBuf), 32},
		{"kern_version", unsafe.Offsetof(l.kernVersion), 40},
		{"prog_flags", unsafe.Offsetof(l.progFlags), 44},
		{"prog_name", unsafe.Offsetof(l.progName), 48},
		{"prog_ifindex", unsafe.Offsetof(l.progIfindex), 64},
		{"expected_attach_type", unsafe.Offsetof(l.expectedAttachType), 68},
		{"sizeof(load attr)", unsafe.Sizeof(l), 72},
		{"sizeof(attach attr)", unsafe.Sizeof(progAttachAttr{}), 20},
	} {
		if c.got != c.want {
			t.Errorf("%s at %d, want %d", c.field, c.got, c.want)
		}
	}
}

// runDevProgram interprets the instructions devProgram emits (and only
// those) for one request, so the rule semantics are checked without root.
func runDevProgram(t *testing.T, prog []byte, typ, access, major, minor uint32) uint64 {
	t.Helper()
	var reg [11]uint64
	ctx := [3]uint32{access<<16 | typ, major, minor}
	reg[regCtx] = 1 << 40 // a marker: only loads through r1 are valid
	for pc, steps := 0, 0; ; pc, steps = pc+1, steps+1 {
		if pc < 0 || (pc+1)*insnSize > len(prog) || steps > 100000 {
			t.Fatalf("pc %d out of the program (%d instructions)", pc, len(prog)/insnSize)
		}
		b := prog[pc*insnSize:]
		op, dst, src := b[0], b[1]&0xf, b[1]>>4
		off := int16(binary.NativeEndian.Uint16(b[2:]))
		imm := int32(binary.NativeEndian.Uint32(b[4:]))
		k := uint64(int64(imm)) // sign-extended, as the kernel does
		switch op {
		case opLdxW:
			if src != regCtx || off < 0 || off > 8 || off%4 != 0 {
				t.Fatalf("pc %d: bad load r%d+%d", pc, src, off)
			}
			reg[dst] = uint64(ctx[off/4])
		case opMovK:
			reg[dst] = k
		case opMovX:
			reg[dst] = reg[src]
		case opMov32K:
			reg[dst] = uint64(uint32(imm))
		case opAndK:
			reg[dst] &= k
		case opRshK:
			reg[dst] >>= uint(imm)
		case opJneK, opJneX, opJeqK:
			other := k
			if op == opJneX {
				other = reg[src]
			}
			if (op == opJeqK) == (reg[dst] == other) {
				pc += int(off)
			}
		case opExit:
			return reg[regRet]
		default:
			t.Fatalf("pc %d: unexpected opcode %#x", pc, op)
		}
	}
}

func TestDevProgramSemantics(t *testing.T) {
	const (
		blk = unix.BPF_DEVCG_DEV_BLOCK
		chr = unix.BPF_DEVCG_DEV_CHAR
		m   = unix.BPF_DEVCG_ACC_MKNOD
		r   = unix.BPF_DEVCG_ACC_READ
		w   = unix.BPF_DEVCG_ACC_WRITE
	)
	rule := func(allow bool, typ rune, major, minor int64, access string) config.DeviceRule {
		return config.DeviceRule{Allow: allow, Type: typ, Major: major, Minor: minor, Access: access}
	}
	type req struct {
		typ, access, major, minor uint32
		allow                     bool
	}
	for _, c := range []struct {
		name  string
		rules []config.DeviceRule
		reqs  []req
	}{
		{"empty list denies", nil, []req{{chr, r, 1, 3, false}}},
		{"allow needs every requested access", []config.DeviceRule{rule(true, 'c', 1, 3, "r")}, []req{
			{chr, r, 1, 3, true}, {chr, r | w, 1, 3, false}, {chr, w, 1, 3, false}, {chr, m, 1, 3, false},
			{blk, r, 1, 3, false}, {chr, r, 1, 4, false}, {chr, r, 2, 3, false},
		}},
		{"deny refuses any named access", []config.DeviceRule{rule(true, 'a', -1, -1, ""), rule(false, 'c', 1, 5, "w")}, []req{
			{chr, r, 1, 5, true}, {chr, r | w, 1, 5, false}, {chr, w, 1, 5, false}, {chr, r | w, 1, 3, true},
		}},
		{"seed: deny all, then exceptions", seedDevices(), []req{
			{chr, m, 1, 11, true}, {blk, m, 8, 0, true}, {chr, r, 1, 11, false}, {blk, r | w, 8, 0, false},
			{chr, r | w, 1, 3, true}, {chr, r | w | m, 136, 7, true}, {chr, r, 254, 0, true}, {chr, r, 254, 1, false},
		}},
		{"last match wins", []config.DeviceRule{
			rule(true, 'c', 1, 3, "rwm"), rule(false, 'c', 1, -1, "rwm"), rule(true, 'c', -1, 5, "rw"),
		}, []req{{chr, r, 1, 3, false}, {chr, r | w, 1, 5, true}, {chr, m, 1, 5, false}, {chr, r, 4, 5, true}}},
		{"a later deny a resets", []config.DeviceRule{rule(true, 'c', 1, 3, "rwm"), rule(false, 'a', -1, -1, "")}, []req{
			{chr, r, 1, 3, false}, {blk, m, 8, 0, false},
		}},
		{"large numbers compare as u32", []config.DeviceRule{rule(true, 'b', 1<<32-1, 1<<31, "r")}, []req{
			{blk, r, 1<<32 - 1, 1 << 31, true}, {blk, r, 1<<31 - 1, 1 << 31, false}, {blk, r, 1<<32 - 1, 0, false},
		}},
	} {
		prog, err := devProgram(c.rules)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, q := range c.reqs {
			got := runDevProgram(t, prog, q.typ, q.access, q.major, q.minor) == 1
			if got != q.allow {
				t.Errorf("%s: type %d access %d %d:%d: allowed %v, want %v", c.name, q.typ, q.access, q.major, q.minor, got, q.allow)
			}
		}
	}
	if _, err := devProgram([]config.DeviceRule{{Allow: true, Type: 'x', Pos: pos(7, "lxc.cgroup.devices.allow")}}); err == nil || !strings.Contains(err.Error(), "/tmp/tg/config:7: lxc.cgroup.devices.allow") {
		t.Errorf("bad rule: %v, want an error naming the rule's key", err)
	}
}

// TestTGDevicesV2FilterAccess checks the access test on a real cgroup: an
// allow rule must grant every requested access (v1 semantics, stricter
// than runc's and containerd's "any requested bit"), and a deny rule
// refuses an open that asks for any access it names.
func TestTGDevicesV2FilterAccess(t *testing.T) {
	g := newTestCgroup(t, config.Cgroup{})
	u := g.v2Index()
	if u < 0 {
		t.Skip("no cgroup2 hierarchy")
	}
	if err := g.Create(); err != nil {
		t.Fatal(err)
	}
	rules := []config.DeviceRule{
		{Allow: false, Type: 'a', Major: -1, Minor: -1},
		{Allow: true, Type: 'c', Major: 1, Minor: 3, Access: "r"},
		{Allow: true, Type: 'c', Major: 1, Minor: 5, Access: "rwm"},
		{Allow: false, Type: 'c', Major: 1, Minor: 5, Access: "w"},
	}
	if err := attachDeviceFilter(g.hiers[u].dir, rules); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := startProc(t, `read x
try() { if (eval "exec $2") 2>&-; then echo "$1:ok"; else echo "$1:denied"; fi; }
try null-r '3</dev/null'
try null-rw '3<>/dev/null'
try null-w '3>/dev/null'
try zero-r '3</dev/zero'
try zero-rw '3<>/dev/zero'
mknod "$D/null" c 1 3 2>&- && echo mknod-null:ok || echo mknod-null:denied`, true, "D="+dir)
	if err := g.Add(p.pid()); err != nil {
		t.Fatal(err)
	}
	p.release(t)
	if err := p.wait(); err != nil {
		t.Fatalf("script: %v\n%s", err, p.out)
	}
	for _, w := range []string{"null-r:ok", "null-rw:denied", "null-w:denied", "zero-r:ok", "zero-rw:denied", "mknod-null:denied"} {
		if !strings.Contains(p.out.String(), w) {
			t.Errorf("want %q in:\n%s", w, p.out)
		}
	}
}

func TestEnableControllersWalk(t *testing.T) {
	// The walk on a plain directory tree standing in for a cgroup2 mount:
	// every level from the mount point to the parent gets "+CTRL" unless
	// it already lists it; the container's own directory is not written.
	point := t.TempDir()
	dir := filepath.Join(point, "a", "b", "c")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		point:                          "",
		filepath.Join(point, "a"):      "cpu memory",
		filepath.Join(point, "a", "b"): "",
		dir:                            "",
	}
	for d, v := range files {
		if err := os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h := &hier{mount: mount{v2: true, point: point}, dir: dir}
	if err := enableControllers(h, []enableCtrl{{ctrl: "memory", label: "/c:3: lxc.cgroup2.memory.max"}}); err != nil {
		t.Fatal(err)
	}
	for d, want := range map[string]string{
		point:                          "+memory",
		filepath.Join(point, "a"):      "cpu memory",
		filepath.Join(point, "a", "b"): "+memory",
		dir:                            "",
	} {
		if got := readTrim(t, filepath.Join(d, "cgroup.subtree_control")); got != want {
			t.Errorf("%s: cgroup.subtree_control = %q, want %q", d, got, want)
		}
	}
	// A level that cannot be read names the file and the setting.
	if err := os.Remove(filepath.Join(point, "a", "b", "cgroup.subtree_control")); err != nil {
		t.Fatal(err)
	}
	err := enableControllers(h, []enableCtrl{{ctrl: "pids", label: "/c:4: lxc.cgroup2.pids.max"}})
	if err == nil || !strings.Contains(err.Error(), "/c:4: lxc.cgroup2.pids.max") || !strings.Contains(err.Error(), filepath.Join(point, "a", "b", "cgroup.subtree_control")) {
		t.Errorf("missing subtree_control: %v, want the setting and the file named", err)
	}
}

func TestTGDevProgramLoadError(t *testing.T) {
	// A program the verifier rejects (r0 is never set) fails with the
	// verifier's log in the error.
	testutil.RequireRoot(t)
	prog := []byte{opExit, 0, 0, 0, 0, 0, 0, 0}
	_, err := loadDevProgram(prog)
	if err == nil || !strings.Contains(err.Error(), "verifier log:") || !strings.Contains(err.Error(), "R0") {
		t.Errorf("load of a bad program: %v, want the verifier log", err)
	}
}
