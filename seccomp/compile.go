package seccomp

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/net/bpf"
)

// Offsets in the kernel's struct seccomp_data (little-endian hosts: the
// low word of an argument comes first).
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// maxInsns is the kernel's BPF_MAXINSNS.
const maxInsns = 4096

// Filter is a compiled profile: the BPF program, in the kernel's struct
// sock_filter layout (8 bytes an instruction, host byte order).
type Filter struct {
	Profile string `json:"profile"`
	Program []byte `json:"program"`
}

// Len is the number of instructions.
func (f *Filter) Len() int { return len(f.Program) / 8 }

// Warning is something LXC would skip with a message (a syscall unknown on
// an architecture).
type Warning struct {
	File string
	Line int
	Msg  string
}

func (w Warning) String() string { return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg) }

// Load reads the profile at path and compiles it for machine (Machine()).
func Load(path, machine string) (*Filter, []Warning, error) {
	p, err := ParseFile(path)
	if err != nil {
		return nil, nil, err
	}
	return Compile(p, machine)
}

// Compile builds the filter of p for machine, as LXC 5 loads it there:
// the native architecture and its compat ones (x86_64: i386 and x32) get
// every rule of the sections that apply to the host (a section such as
// [x86] only decides whether its rules are read on this host, not for
// which architecture, as in LXC); a process of another architecture is
// killed. Conditions of a rule all have to match. A rule without
// conditions makes the syscall's answer (see put); rules with conditions
// are checked in file order, where libseccomp's decision tree may check
// two overlapping ones in another order (it tries an == before a >=).
func Compile(p *Profile, machine string) (*Filter, []Warning, error) {
	h, err := hostFor(machine)
	if err != nil {
		return nil, nil, err
	}
	c := &compiler{p: p, h: h, perArch: make([]map[int][]Rule, len(h.arches))}
	for i := range c.perArch {
		c.perArch[i] = map[int][]Rule{}
	}
	for _, r := range p.Rules {
		if err := c.add(r); err != nil {
			return nil, c.warns, err
		}
	}
	raw, err := c.emit()
	if err != nil {
		return nil, c.warns, &Error{File: p.File, Line: 1, Msg: err.Error()}
	}
	return &Filter{Profile: p.File, Program: raw}, c.warns, nil
}

type compiler struct {
	p       *Profile
	h       *host
	perArch []map[int][]Rule // per h.arches: syscall number -> rules
	warns   []Warning
}

func (c *compiler) errf(line int, format string, args ...any) error {
	return &Error{File: c.p.File, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (c *compiler) add(r Rule) error {
	if c.p.Version == 1 {
		return c.put(0, r.Number, r)
	}
	if !c.h.sections[r.Section] {
		return nil // another host's section, as LXC skips it
	}
	if strings.HasPrefix(r.Name, "reject_force_umount") {
		r = rejectForceUmount(r.Line, r.Section)
	}
	if r.Action == c.p.Default {
		// libseccomp refuses such a rule, and LXC with it.
		return c.errf(r.Line, "rule for %s: its action %s is the policy's default action", r.Name, r.Action)
	}
	var missing []string
	for i, a := range c.h.arches {
		nr, ok := a.names.lookup(r.Name)
		if !ok {
			missing = append(missing, a.name)
			continue
		}
		if err := c.put(i, nr|a.bits, r); err != nil {
			return err
		}
	}
	switch {
	case len(missing) == len(c.h.arches):
		c.warn(r.Line, "syscall %q is unknown on %s: rule skipped", r.Name, strings.Join(missing, ", "))
	case len(missing) > 0:
		c.warn(r.Line, "syscall %q is unknown on %s: rule skipped there", r.Name, strings.Join(missing, ", "))
	}
	return nil
}

func (c *compiler) warn(line int, format string, args ...any) {
	c.warns = append(c.warns, Warning{File: c.p.File, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// put adds r for syscall nr of architecture i with libseccomp's rules, as
// measured under LXC 5: the first rule without conditions wins over any
// later one and over every rule with conditions, whatever their order;
// two rules with the same conditions and different actions are an error.
func (c *compiler) put(i, nr int, r Rule) error {
	rules := c.perArch[i][nr]
	for _, o := range rules {
		switch {
		case len(o.Conds) == 0:
			return nil // o wins
		case len(r.Conds) == 0:
			// r wins over the conditional rules: keep it alone.
			c.perArch[i][nr] = []Rule{r}
			return nil
		case slices.Equal(o.Conds, r.Conds):
			if o.Action != r.Action {
				return c.errf(r.Line, "rule for %s (%s) has the conditions of line %d with another action (%s)", ruleName(r), r.Action, o.Line, o.Action)
			}
			return nil
		}
	}
	c.perArch[i][nr] = append(rules, r)
	return nil
}

func ruleName(r Rule) string {
	if r.Name != "" {
		return r.Name
	}
	return fmt.Sprintf("syscall %d", r.Number)
}

func (c *compiler) emit() ([]byte, error) {
	a := newAsm()
	def := uint32(c.p.Default)
	badArch := uint32(Kill) // libseccomp's default for a foreign architecture
	entry := make([]int, len(c.h.arches))
	var x32 = -1
	for i, ai := range c.h.arches {
		entry[i] = a.label()
		if ai == archX32 {
			x32 = i
		}
	}
	a.ld(offArch)
	for i, ai := range c.h.arches {
		if ai == archX32 {
			continue // shares x86_64's audit arch; told apart by the syscall bit
		}
		a.jeq(ai.audit, next, skip1)
		a.ja(entry[i])
	}
	a.ret(badArch)
	for i, ai := range c.h.arches {
		a.bind(entry[i])
		a.ld(offNr)
		if ai == archX8664 {
			// x32 calls come with AUDIT_ARCH_X86_64 and the x32 bit.
			a.jge(x32SyscallBit, next, skip1)
			if x32 >= 0 {
				a.ja(entry[x32])
			} else {
				a.ret(badArch)
			}
		}
		nrs := make([]int, 0, len(c.perArch[i]))
		for nr := range c.perArch[i] {
			nrs = append(nrs, nr)
		}
		slices.Sort(nrs)
		bodies := make([]int, len(nrs))
		for k, nr := range nrs {
			bodies[k] = a.label()
			a.jeq(uint32(nr), next, skip1)
			a.ja(bodies[k])
		}
		a.ret(def)
		for k, nr := range nrs {
			a.bind(bodies[k])
			ended := false
			for _, r := range c.perArch[i][nr] {
				if len(r.Conds) == 0 {
					a.ret(uint32(r.Action))
					ended = true
					break
				}
				fail := a.label()
				for _, cd := range r.Conds {
					a.cond(cd, ai.wide, fail)
				}
				a.ret(uint32(r.Action))
				a.bind(fail)
			}
			if !ended {
				a.ret(def)
			}
		}
	}
	insns, err := a.assemble()
	if err != nil {
		return nil, err
	}
	if len(insns) > maxInsns {
		return nil, fmt.Errorf("the compiled filter has %d instructions, more than the kernel's %d", len(insns), maxInsns)
	}
	out := make([]byte, 0, 8*len(insns))
	for _, in := range insns {
		out = binary.NativeEndian.AppendUint16(out, in.Op)
		out = append(out, in.Jt, in.Jf)
		out = binary.NativeEndian.AppendUint32(out, in.K)
	}
	return out, nil
}

// cond emits one argument condition: falls through when it holds, jumps
// to fail when not. wide compares all 64 bits, else the low word only.
func (a *asm) cond(c Cond, wide bool, fail int) {
	lo := uint32(offArgs + 8*c.Index)
	hi := lo + 4
	vlo, vhi := uint32(c.Value), uint32(c.Value>>32)
	mlo, mhi := uint32(c.Mask), uint32(c.Mask>>32)
	ok := a.label()
	if !wide {
		a.ld(lo)
		switch c.Op {
		case OpEQ:
			a.jeq(vlo, next, fail)
		case OpNE:
			a.jeq(vlo, fail, next)
		case OpGT:
			a.jgt(vlo, next, fail)
		case OpGE:
			a.jge(vlo, next, fail)
		case OpLT:
			a.jge(vlo, fail, next)
		case OpLE:
			a.jgt(vlo, fail, next)
		case OpMaskedEQ:
			a.and(mlo)
			a.jeq(vlo, next, fail)
		}
		a.bind(ok)
		return
	}
	switch c.Op {
	case OpEQ:
		a.ld(hi)
		a.jeq(vhi, next, fail)
		a.ld(lo)
		a.jeq(vlo, next, fail)
	case OpNE:
		a.ld(hi)
		a.jeq(vhi, next, ok)
		a.ld(lo)
		a.jeq(vlo, fail, next)
	case OpGT, OpGE:
		a.ld(hi)
		a.jgt(vhi, ok, next)
		a.jeq(vhi, next, fail)
		a.ld(lo)
		if c.Op == OpGT {
			a.jgt(vlo, next, fail)
		} else {
			a.jge(vlo, next, fail)
		}
	case OpLT, OpLE:
		a.ld(hi)
		a.jgt(vhi, fail, next)
		a.jeq(vhi, next, ok)
		a.ld(lo)
		if c.Op == OpLT {
			a.jge(vlo, fail, next)
		} else {
			a.jgt(vlo, fail, next)
		}
	case OpMaskedEQ:
		a.ld(hi)
		a.and(mhi)
		a.jeq(vhi, next, fail)
		a.ld(lo)
		a.and(mlo)
		a.jeq(vlo, next, fail)
	}
	a.bind(ok)
}

// Jump targets of asm: a label, or the next instruction, or the one after.
const (
	next  = -1
	skip1 = -2
)

// asm is a small assembler with labels over golang.org/x/net/bpf.
type asm struct {
	ins    []bpf.Instruction
	fix    map[int][2]int // instruction -> true/false (or ja) targets
	labels []int
}

func newAsm() *asm { return &asm{fix: map[int][2]int{}} }

func (a *asm) label() int {
	a.labels = append(a.labels, -1)
	return len(a.labels) - 1
}

func (a *asm) bind(l int) { a.labels[l] = len(a.ins) }

func (a *asm) ld(off uint32) { a.ins = append(a.ins, bpf.LoadAbsolute{Off: off, Size: 4}) }
func (a *asm) and(v uint32) {
	a.ins = append(a.ins, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: v})
}
func (a *asm) ret(v uint32) { a.ins = append(a.ins, bpf.RetConstant{Val: v}) }

func (a *asm) jump(cond bpf.JumpTest, v uint32, t, f int) {
	a.fix[len(a.ins)] = [2]int{t, f}
	a.ins = append(a.ins, bpf.JumpIf{Cond: cond, Val: v})
}

func (a *asm) jeq(v uint32, t, f int) { a.jump(bpf.JumpEqual, v, t, f) }
func (a *asm) jgt(v uint32, t, f int) { a.jump(bpf.JumpGreaterThan, v, t, f) }
func (a *asm) jge(v uint32, t, f int) { a.jump(bpf.JumpGreaterOrEqual, v, t, f) }

func (a *asm) ja(l int) {
	a.fix[len(a.ins)] = [2]int{l, l}
	a.ins = append(a.ins, bpf.Jump{})
}

// assemble resolves the labels and encodes the program.
func (a *asm) assemble() ([]bpf.RawInstruction, error) {
	skip := func(at, target int) (int, error) {
		switch target {
		case next:
			return 0, nil
		case skip1:
			return 1, nil
		}
		pos := a.labels[target]
		if pos <= at {
			return 0, fmt.Errorf("internal error: jump at %d to unbound or earlier label", at)
		}
		return pos - at - 1, nil
	}
	for at, t := range a.fix {
		jt, err := skip(at, t[0])
		if err != nil {
			return nil, err
		}
		jf, err := skip(at, t[1])
		if err != nil {
			return nil, err
		}
		switch in := a.ins[at].(type) {
		case bpf.Jump:
			in.Skip = uint32(jt)
			a.ins[at] = in
		case bpf.JumpIf:
			if jt > 255 || jf > 255 {
				return nil, fmt.Errorf("internal error: conditional jump at %d too long", at)
			}
			in.SkipTrue, in.SkipFalse = uint8(jt), uint8(jf)
			a.ins[at] = in
		}
	}
	return bpf.Assemble(a.ins)
}
