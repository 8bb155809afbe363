package seccomp

import (
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

func parse(t *testing.T, text string) *Profile {
	t.Helper()
	p, err := Parse(strings.NewReader(text), "p.seccomp")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}

func TestParseForms(t *testing.T) {
	p := parse(t, `2
blacklist errno 38
reject_force_umount  # comment this to allow umount -f;  not recommended
[all]
kexec_load errno 1
open_by_handle_at kill
# a comment
[x86_64]
read trap
write trace 3
getpid log
mount errno 7 [2,0x20,SCMP_CMP_MASKED_EQ,0x20][0,5,>=]
umount2 allow [1,2,&=,2]
`)
	if !p.Denylist || p.Default != Errno(38) || p.Version != 2 {
		t.Fatalf("policy: %+v", p)
	}
	want := []struct {
		line    int
		section string
		name    string
		action  Action
		conds   int
	}{
		{3, "", "reject_force_umount", Kill, 0},
		{5, "all", "kexec_load", Errno(1), 0},
		{6, "all", "open_by_handle_at", Kill, 0},
		{9, "x86_64", "read", Trap, 0},
		{10, "x86_64", "write", Trace(3), 0},
		{11, "x86_64", "getpid", Log, 0},
		{12, "x86_64", "mount", Errno(7), 2},
		{13, "x86_64", "umount2", Allow, 1},
	}
	if len(p.Rules) != len(want) {
		t.Fatalf("rules: %+v", p.Rules)
	}
	for i, w := range want {
		r := p.Rules[i]
		if r.Line != w.line || r.Section != w.section || r.Name != w.name || r.Action != w.action || len(r.Conds) != w.conds {
			t.Errorf("rule %d = %+v, want %+v", i, r, w)
		}
	}
	if c := p.Rules[6].Conds; c[0] != (Cond{Index: 2, Value: 0x20, Op: OpMaskedEQ, Mask: 0x20}) || c[1] != (Cond{Index: 0, Value: 5, Op: OpGE}) {
		t.Errorf("conds: %+v", c)
	}
	for _, op := range opNames {
		for _, s := range []string{op.long, op.short} {
			p := parse(t, "2\nallowlist\nread errno 1 [0,1,"+s+"]\n")
			if p.Rules[0].Conds[0].Op != op.op {
				t.Errorf("%s: %v", s, p.Rules[0].Conds[0].Op)
			}
		}
	}
	v1 := parse(t, "1\nallowlist\n0\n1 # write\n60\n")
	if v1.Version != 1 || v1.Default != Kill || len(v1.Rules) != 3 || v1.Rules[1].Number != 1 {
		t.Errorf("v1: %+v", v1)
	}
	if p := parse(t, "\n 2\n\n  denylist kill\nread errno 3\n"); !p.Denylist || p.Default != Kill || p.Rules[0].Line != 5 {
		t.Errorf("white space around the version: %+v", p)
	}
	if p := parse(t, "2\nwhitelist\nread\n"); p.Denylist || p.Default != Kill || p.Rules[0].Action != Allow {
		t.Errorf("whitelist: %+v", p)
	}
	if p := parse(t, "2\ndenylist\nread\n"); p.Rules[0].Action != Kill {
		t.Errorf("denylist default rule action: %+v", p)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"3\nallowlist\n", "p.seccomp:1: invalid version"},
		{"x\n", "p.seccomp:1: invalid version"},
		{"1\ndenylist\n", "p.seccomp:2: version 1 supports only an allowlist"},
		{"1\nallowlist\nread\n", "p.seccomp:3: version 1 rule"},
		{"2\nallowlist debug\n", "p.seccomp:2: policy"},
		{"2\ngreylist\n", "p.seccomp:2: bad policy"},
		{"2\ndenylist frob\n", "p.seccomp:2: policy \"denylist frob\": unrecognized action"},
		{"2\ndenylist\n[i386]\n", "p.seccomp:3: unsupported architecture \"[i386]\""},
		{"2\ndenylist\nread errno\n", "p.seccomp:3: rule \"read errno\": errno"},
		{"2\ndenylist\n\nread errno 1 [6,1,==]\n", "p.seccomp:4: rule"},
		{"2\ndenylist\nread errno 1 [0,1,=~]\n", "unknown operator \"=~\""},
		{"2\ndenylist\nread errno 1 [0,-1,==]\n", "invalid value"},
		{"2\ndenylist\nread errno 1 [0,1,==] \n", "want [index,value,op]"},
		{"2\ndenylist\nread notify\n", "seccomp notification proxy"},
		{"2\ndenylist\nread [0,1,==]\n", "unrecognized action"},
		{"2\ndenylist\n  read errno 1\n", "p.seccomp:3: rule \"  read errno 1\": unrecognized action \"read errno 1\""},
	} {
		_, err := Parse(strings.NewReader(tc.text), "p.seccomp")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.text, err, tc.want)
		}
	}
}

// run executes f on a crafted seccomp_data with x/net/bpf's VM. The VM
// loads words big-endian, so the data is laid out big-endian, word by word
// where the kernel's is native: the program reads the same values.
func run(t *testing.T, f *Filter, auditArch uint32, nr int, args ...uint64) Action {
	t.Helper()
	var raw []bpf.RawInstruction
	for i := 0; i < f.Len(); i++ {
		b := f.Program[8*i:]
		raw = append(raw, bpf.RawInstruction{Op: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:])})
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("disassemble")
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[0:], uint32(nr))
	binary.BigEndian.PutUint32(data[4:], auditArch)
	for i, a := range args {
		binary.BigEndian.PutUint32(data[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(data[20+8*i:], uint32(a>>32))
	}
	out, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	return Action(uint32(out))
}

func compile(t *testing.T, text string) *Filter {
	t.Helper()
	f, _, err := Compile(parse(t, text), "x86_64")
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return f
}

const lxcCommon = `2
denylist
reject_force_umount  # comment this to allow umount -f;  not recommended
[all]
kexec_load errno 1
open_by_handle_at errno 1
init_module errno 1
finit_module errno 1
delete_module errno 1
`

func TestCompiledCommon(t *testing.T) {
	f := compile(t, lxcCommon)
	x64, i386, x32 := archX8664.audit, archI386.audit, archX32.audit
	for _, tc := range []struct {
		arch uint32
		nr   int
		args []uint64
		want Action
	}{
		{x64, unix.SYS_INIT_MODULE, nil, Errno(1)},
		{x64, unix.SYS_FINIT_MODULE, nil, Errno(1)},
		{x64, unix.SYS_GETPID, nil, Allow},
		{x64, unix.SYS_UMOUNT2, []uint64{0, unix.MNT_FORCE}, Errno(uint16(unix.EACCES))},
		{x64, unix.SYS_UMOUNT2, []uint64{0, unix.MNT_FORCE | unix.MNT_DETACH}, Errno(uint16(unix.EACCES))},
		{x64, unix.SYS_UMOUNT2, []uint64{0, unix.MNT_DETACH}, Allow},
		{x64, unix.SYS_UMOUNT2, []uint64{0, unix.MNT_DETACH | 1<<40}, Allow},
		{i386, 128, nil, Errno(1)},                                          // init_module on i386
		{i386, 52, []uint64{0, unix.MNT_FORCE}, Errno(uint16(unix.EACCES))}, // umount2 on i386
		{i386, 20, nil, Allow},                                              // getpid
		{x32, x32SyscallBit | 175, nil, Errno(1)},                           // init_module on x32
		{x32, x32SyscallBit | 39, nil, Allow},                               // getpid on x32
		{0xc00000b7, 105, nil, Kill},                                        // aarch64 on x86_64: foreign, killed
	} {
		if got := run(t, f, tc.arch, tc.nr, tc.args...); got != tc.want {
			t.Errorf("arch %#x nr %d args %v: %v, want %v", tc.arch, tc.nr, tc.args, got, tc.want)
		}
	}
}

func TestCompiledConditions(t *testing.T) {
	const big = uint64(5) << 32
	for _, tc := range []struct {
		cond string
		arg  uint64
		want bool
	}{
		{"[1,7,SCMP_CMP_EQ]", 7, true}, {"[1,7,==]", 8, false}, {"[1,7,==]", 7 | big, false},
		{"[1,7,SCMP_CMP_NE]", 7, false}, {"[1,7,!=]", 8, true}, {"[1,7,!=]", 7 | big, true},
		{"[1,7,SCMP_CMP_LT]", 6, true}, {"[1,7,<]", 7, false}, {"[1,7,<]", big, false},
		{"[1,7,SCMP_CMP_LE]", 7, true}, {"[1,7,<=]", 8, false},
		{"[1,7,SCMP_CMP_GE]", 7, true}, {"[1,7,>=]", 6, false}, {"[1,7,>=]", big, true},
		{"[1,7,SCMP_CMP_GT]", 8, true}, {"[1,7,>]", 7, false}, {"[1,0x500000007,>]", big | 8, true}, {"[1,0x500000007,>]", 8, false},
		{"[1,2,SCMP_CMP_MASKED_EQ,6]", 3, true}, {"[1,2,&=,6]", 4, false},
	} {
		f := compile(t, "2\ndenylist\nmount errno 7 "+tc.cond+"\n")
		want := Allow
		if tc.want {
			want = Errno(7)
		}
		if got := run(t, f, archX8664.audit, unix.SYS_MOUNT, 0, tc.arg); got != want {
			t.Errorf("%s with %#x: %v, want %v", tc.cond, tc.arg, got, want)
		}
		// The other argument and the other syscalls are not matched.
		if got := run(t, f, archX8664.audit, unix.SYS_UMOUNT2, 0, tc.arg); got != Allow {
			t.Errorf("%s: umount2 %v", tc.cond, got)
		}
	}
	// Several conditions: all must hold; rules are tried in order.
	f := compile(t, "2\ndenylist\nmount errno 7 [0,1,==][1,2,==]\nmount errno 8 [0,1,==]\nmount errno 8 [0,1,==]\n")
	for _, tc := range []struct {
		a0, a1 uint64
		want   Action
	}{{1, 2, Errno(7)}, {1, 3, Errno(8)}, {2, 2, Allow}} {
		if got := run(t, f, archX8664.audit, unix.SYS_MOUNT, tc.a0, tc.a1); got != tc.want {
			t.Errorf("mount(%d, %d): %v, want %v", tc.a0, tc.a1, got, tc.want)
		}
	}
	// As libseccomp (measured under LXC 5): the first rule without
	// conditions wins over a later one and over rules with conditions,
	// before or after it.
	for _, text := range []string{
		"2\ndenylist\nmount errno 9\nmount errno 7 [0,1,==]\nmount errno 8\n",
		"2\ndenylist\nmount errno 7 [0,1,==]\nmount errno 9\nmount errno 8\n",
	} {
		f := compile(t, text)
		for _, a0 := range []uint64{1, 2} {
			if got := run(t, f, archX8664.audit, unix.SYS_MOUNT, a0); got != Errno(9) {
				t.Errorf("%q: mount(%d): %v, want errno 9", text, a0, got)
			}
		}
	}
}

func TestCompiledAllowlist(t *testing.T) {
	f := compile(t, "2\nallowlist errno 1\nread\nwrite\n[arm64]\ngetpid\n")
	if got := run(t, f, archX8664.audit, unix.SYS_READ); got != Allow {
		t.Errorf("read: %v", got)
	}
	if got := run(t, f, archX8664.audit, unix.SYS_GETPID); got != Errno(1) {
		t.Errorf("getpid (only in [arm64], skipped on x86_64): %v", got)
	}
	v1, _, err := Compile(parse(t, "1\nallowlist\n0\n"), "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if run(t, v1, archX8664.audit, 0) != Allow || run(t, v1, archX8664.audit, 1) != Kill || run(t, v1, archI386.audit, 0) != Kill {
		t.Error("version 1")
	}
}

func TestCompileWarningsAndErrors(t *testing.T) {
	_, w, err := Compile(parse(t, "2\ndenylist\nno_such_call errno 1\n  \nsocketcall errno 1\n"), "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 2 || w[0].Line != 3 || !strings.Contains(w[0].String(), "p.seccomp:3: syscall \"no_such_call\" is unknown on x86_64, i386, x32: rule skipped") ||
		!strings.Contains(w[1].Msg, "unknown on x86_64, x32: rule skipped there") {
		t.Errorf("warnings: %v", w)
	}
	for _, tc := range []struct{ text, want string }{
		{"2\ndenylist\nread allow\n", "p.seccomp:3: rule for read: its action allow is the policy's default"},
		{"2\ndenylist\nread errno 1 [0,1,==]\nread errno 2 [0,1,==]\n", "p.seccomp:4: rule for read (errno 2) has the conditions of line 3 with another action (errno 1)"},
	} {
		if _, _, err := Compile(parse(t, tc.text), "x86_64"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
	if _, _, err := Compile(parse(t, lxcCommon), "s390x"); err == nil {
		t.Error("s390x: no error")
	}
}

func TestParseFileRegularOnly(t *testing.T) {
	for _, p := range []string{"/dev/zero", t.TempDir()} {
		if _, err := ParseFile(p); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("%s: %v", p, err)
		}
	}
	fifo := t.TempDir() + "/fifo"
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFile(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("fifo: %v", err)
	}
}
