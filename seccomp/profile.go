package seccomp

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Kernel return values (SECCOMP_RET_*). LXC's "kill" is libseccomp's
// SCMP_ACT_KILL, which is SECCOMP_RET_KILL_THREAD.
const (
	retKillThread uint32 = 0x00000000
	retTrap       uint32 = 0x00030000
	retErrno      uint32 = 0x00050000
	retTrace      uint32 = 0x7ff00000
	retLog        uint32 = 0x7ffc0000
	retAllow      uint32 = 0x7fff0000
)

// Action is what the kernel does on a match: a SECCOMP_RET_* value with
// its data (the errno, the trace message).
type Action uint32

// Kill, Allow and the other actions of the policy language.
const (
	Kill  = Action(retKillThread)
	Trap  = Action(retTrap)
	Log   = Action(retLog)
	Allow = Action(retAllow)
)

// Errno is the action "errno N".
func Errno(n uint16) Action { return Action(retErrno | uint32(n)) }

// Trace is the action "trace N".
func Trace(n uint16) Action { return Action(retTrace | uint32(n)) }

func (a Action) String() string {
	switch uint32(a) & 0xffff0000 {
	case retKillThread:
		return "kill"
	case retTrap:
		return "trap"
	case retErrno:
		return "errno " + strconv.Itoa(int(a&0xffff))
	case retTrace:
		return "trace " + strconv.Itoa(int(a&0xffff))
	case retLog:
		return "log"
	case retAllow:
		return "allow"
	}
	return fmt.Sprintf("action %#x", uint32(a))
}

// Op is an argument comparison, as libseccomp's SCMP_CMP_*.
type Op int

// The comparisons, in LXC's spelling SCMP_CMP_NE ... SCMP_CMP_MASKED_EQ or
// their short forms != < <= == >= > &=.
const (
	OpNE Op = iota + 1
	OpLT
	OpLE
	OpEQ
	OpGE
	OpGT
	OpMaskedEQ
)

var opNames = []struct {
	long, short string
	op          Op
}{
	{"SCMP_CMP_NE", "!=", OpNE},
	{"SCMP_CMP_LT", "<", OpLT},
	{"SCMP_CMP_LE", "<=", OpLE},
	{"SCMP_CMP_EQ", "==", OpEQ},
	{"SCMP_CMP_GE", ">=", OpGE},
	{"SCMP_CMP_GT", ">", OpGT},
	{"SCMP_CMP_MASKED_EQ", "&=", OpMaskedEQ},
}

func (o Op) String() string {
	for _, n := range opNames {
		if n.op == o {
			return n.long
		}
	}
	return "op" + strconv.Itoa(int(o))
}

// Cond is one argument condition [index,value,op,mask]: argument Index
// compared with Value (for OpMaskedEQ: arg & Mask == Value).
type Cond struct {
	Index int
	Value uint64
	Op    Op
	Mask  uint64
}

// Rule is one rule line of a profile.
type Rule struct {
	Line    int
	Section string // "" before any section header, else the header without brackets
	// Name is the syscall's name (version 2); reject_force_umount is kept
	// as written. Version 1 rules have Number instead.
	Name   string
	Number int
	Action Action
	Conds  []Cond
}

// Profile is a parsed lxc.seccomp.profile file.
type Profile struct {
	File    string
	Version int
	// Denylist: syscalls without a rule are allowed (unless Default says
	// otherwise); else they get Default.
	Denylist bool
	Default  Action
	Rules    []Rule
}

// Error is a syntax error in a profile, FILE:LINE: message.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// ParseFile reads the profile at path.
func ParseFile(path string) (*Profile, error) {
	// O_NONBLOCK: a FIFO or a device named by mistake must not hang the
	// boot (or check); only a regular file is read.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("seccomp profile %s: not a regular file (%s)", path, st.Mode().Type())
	}
	return Parse(f, path)
}

// Parse reads a profile as LXC 5 does: the first line the version (1 or
// 2); then the policy line (version 1: it must hold "allowlist"; version 2:
// allowlist, denylist or their old names whitelist, blacklist, optionally
// followed by the default action); then one rule a line. Lines starting with
// '#' are comments; "debug" on the policy line is refused as LXC refuses it.
func Parse(r io.Reader, file string) (*Profile, error) {
	p := &Profile{File: file}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		n++
		return sc.Text(), true
	}
	errf := func(format string, args ...any) error {
		return &Error{File: file, Line: max(n, 1), Msg: fmt.Sprintf(format, args...)}
	}
	// fscanf("%d\n") reads the version and skips the white space after it,
	// blank lines included: the policy line is what follows.
	line, ok := next()
	for ok && strings.TrimSpace(line) == "" {
		line, ok = next()
	}
	v, used, good := cInt(line, false)
	if !ok || !good || (v != 1 && v != 2) {
		return nil, errf("invalid version %q: the first line must be 1 or 2", strings.TrimSpace(line))
	}
	p.Version = v
	policy := strings.TrimLeft(line[used:], " \t\v\f\r")
	for policy == "" {
		if line, ok = next(); !ok {
			return nil, errf("missing the policy line (allowlist or denylist) after the version")
		}
		policy = strings.TrimLeft(line, " \t\v\f\r")
	}
	if v == 1 && !strings.Contains(policy, "allowlist") {
		return nil, errf("version 1 supports only an allowlist policy (got %q)", policy)
	}
	if strings.Contains(policy, "debug") {
		return nil, errf("policy %q: debug is not implemented (as in LXC)", policy)
	}
	if v == 1 {
		p.Default = Kill
		for {
			line, ok = next()
			if !ok {
				break
			}
			nr, _, good := cInt(line, false)
			if !good || nr < 0 {
				return nil, errf("version 1 rule %q: not a syscall number", line)
			}
			p.Rules = append(p.Rules, Rule{Line: n, Number: nr, Action: Allow})
		}
		if err := scanErr(sc, errf); err != nil {
			return nil, err
		}
		return p, nil
	}
	ruleDefault := Allow
	switch {
	case hasAnyPrefix(policy, "denylist", "blacklist"):
		p.Denylist = true
		p.Default, ruleDefault = Allow, Kill
	case hasAnyPrefix(policy, "allowlist", "whitelist"):
		p.Default, ruleDefault = Kill, Allow
	default:
		return nil, errf("bad policy %q: want allowlist or denylist", policy)
	}
	if _, rest, found := strings.Cut(policy, " "); found {
		a, err := parseAction(strings.TrimLeft(rest, " "))
		if err != nil {
			return nil, errf("policy %q: %v", policy, err)
		}
		p.Default = a
	}
	section := ""
	for {
		line, ok = next()
		if !ok {
			break
		}
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			// LXC reads an empty syscall name from a blank line and skips it.
			continue
		}
		if strings.HasPrefix(line, "[") {
			s, ok := sectionName(line)
			if !ok {
				return nil, errf("unsupported architecture %q", line)
			}
			section = s
			continue
		}
		rule, err := parseRule(line, ruleDefault)
		if err != nil {
			return nil, errf("rule %q: %v", line, err)
		}
		rule.Line, rule.Section = n, section
		p.Rules = append(p.Rules, rule)
	}
	if err := scanErr(sc, errf); err != nil {
		return nil, err
	}
	return p, nil
}

// scanErr is the reader's error (a line longer than 1 MiB), at the line
// after the last one read.
func scanErr(sc *bufio.Scanner, errf func(string, ...any) error) error {
	if err := sc.Err(); err != nil {
		return errf("after this line: %v", err)
	}
	return nil
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// sections are the architecture headers LXC 5 knows, lower and upper case
// (exactly those two spellings, nothing around them).
var sections = []string{
	"all", "x86", "x32", "x86_64", "arm", "arm64", "ppc64le", "ppc64", "ppc",
	"mips64", "mips64n32", "mips", "mipsel64", "mipsel64n32", "mipsel",
	"s390x", "s390", "loongarch64",
}

func sectionName(line string) (string, bool) {
	for _, s := range sections {
		if line == "["+s+"]" || line == "["+strings.ToUpper(s)+"]" {
			return s, true
		}
	}
	return "", false
}

// parseAction reads an action as LXC's get_v2_default_action: a prefix
// kill, errno N, allow, trap, plus trace N and log (which the kernel has
// and LXC 5 refuses).
func parseAction(s string) (Action, error) {
	switch {
	case strings.HasPrefix(s, "kill"):
		return Kill, nil
	case strings.HasPrefix(s, "errno"):
		e, _, ok := cInt(s[len("errno"):], false)
		if !ok || e < 0 || e > 4095 {
			return 0, fmt.Errorf("errno %q: want a number 0..4095", strings.TrimSpace(s[len("errno"):]))
		}
		return Errno(uint16(e)), nil
	case strings.HasPrefix(s, "allow"):
		return Allow, nil
	case strings.HasPrefix(s, "trap"):
		return Trap, nil
	case strings.HasPrefix(s, "trace"):
		t, _, ok := cInt(s[len("trace"):], false)
		if !ok || t < 0 || t > 0xffff {
			return 0, fmt.Errorf("trace %q: want a number 0..65535", strings.TrimSpace(s[len("trace"):]))
		}
		return Trace(uint16(t)), nil
	case strings.HasPrefix(s, "log"):
		return Log, nil
	case strings.HasPrefix(s, "notify"):
		return 0, fmt.Errorf("action notify needs a seccomp notification proxy, which lxc-shim does not support")
	}
	return 0, fmt.Errorf("unrecognized action %q", s)
}

// parseRule reads "NAME [ACTION [ARGS...]]" as LXC's parse_v2_rules: the
// action follows the first space (default when absent or a comment); when
// the line holds a '[', every ']'-separated piece of it (six at most) is an
// argument condition.
func parseRule(line string, def Action) (Rule, error) {
	r := Rule{Action: def}
	name, rest, found := strings.Cut(line, " ")
	r.Name = name
	if found {
		rest = strings.TrimLeft(rest, " ")
		if rest != "" && rest[0] != '#' {
			a, err := parseAction(rest)
			if err != nil {
				return r, err
			}
			r.Action = a
		}
	}
	if !strings.Contains(line, "[") {
		return r, nil
	}
	for _, piece := range strings.Split(line, "]") {
		if piece == "" {
			continue // strtok skips empty pieces
		}
		if len(r.Conds) == 6 {
			break // LXC reads six and ignores the rest
		}
		c, err := parseCond(piece)
		if err != nil {
			return r, err
		}
		r.Conds = append(r.Conds, c)
	}
	return r, nil
}

// parseCond reads one "[index,value,op" or "[index,value,op,mask" as
// sscanf(tmp, "[%i,%23[^,],%30[^0-9^,],%23[^,]") does.
func parseCond(piece string) (Cond, error) {
	var c Cond
	i := strings.IndexByte(piece, '[')
	if i < 0 {
		return c, fmt.Errorf("argument condition %q: want [index,value,op] or [index,value,op,mask]", strings.TrimSpace(piece))
	}
	s := piece[i+1:]
	bad := func() (Cond, error) {
		return c, fmt.Errorf("argument condition %q: want [index,value,op] or [index,value,op,mask]", piece[i:]+"]")
	}
	idx, n, ok := cInt(s, true)
	if !ok || !strings.HasPrefix(s[n:], ",") {
		return bad()
	}
	if idx < 0 || idx >= 6 {
		return c, fmt.Errorf("argument condition %q: index %d: want 0..5", piece[i:]+"]", idx)
	}
	s = s[n+1:]
	val, s, ok := scanSet(s, 23, func(b byte) bool { return b != ',' })
	if !ok || !strings.HasPrefix(s, ",") {
		return bad()
	}
	s = s[1:]
	op, s, ok := scanSet(s, 30, func(b byte) bool { return b != ',' && b != '^' && (b < '0' || b > '9') })
	if !ok {
		return bad()
	}
	mask := "0"
	if strings.HasPrefix(s, ",") {
		if m, _, ok := scanSet(s[1:], 23, func(b byte) bool { return b != ',' }); ok {
			mask = m
		}
	}
	c.Index = idx
	if c.Value, ok = cUint64(val); !ok {
		return c, fmt.Errorf("argument condition %q: invalid value %q", piece[i:]+"]", val)
	}
	if c.Mask, ok = cUint64(mask); !ok {
		return c, fmt.Errorf("argument condition %q: invalid mask %q", piece[i:]+"]", mask)
	}
	for _, o := range opNames {
		if op == o.long || op == o.short {
			c.Op = o.op
		}
	}
	if c.Op == 0 {
		return c, fmt.Errorf("argument condition %q: unknown operator %q (SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ or != < <= == >= > &=)", piece[i:]+"]", op)
	}
	return c, nil
}

// scanSet is scanf's %N[set]: at least one and at most max bytes in set.
func scanSet(s string, max int, in func(byte) bool) (string, string, bool) {
	n := 0
	for n < len(s) && n < max && in(s[n]) {
		n++
	}
	return s[:n], s[n:], n > 0
}

// cInt is scanf's %d (auto false) or %i (auto true): leading white
// space, a sign, digits (for %i: 0x hex, 0 octal or decimal). It returns
// the value, the bytes consumed and whether a number was read.
func cInt(s string, auto bool) (int, int, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	base, start := 10, i
	switch {
	case auto && (strings.HasPrefix(s[i:], "0x") || strings.HasPrefix(s[i:], "0X")):
		base, i, start = 16, i+2, i+2
	case auto && strings.HasPrefix(s[i:], "0"):
		base = 8
	}
	j := i
	for j < len(s) && digit(s[j], base) {
		j++
	}
	if j == start {
		return 0, j, false
	}
	v, err := strconv.ParseInt(s[start:j], base, 32)
	if err != nil {
		return 0, j, false
	}
	if neg {
		v = -v
	}
	return int(v), j, true
}

func digit(b byte, base int) bool {
	switch {
	case b >= '0' && b <= '7':
		return true
	case b == '8' || b == '9':
		return base >= 10
	case (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F'):
		return base == 16
	}
	return false
}

// cUint64 is LXC's lxc_safe_uint64(s, base 0): leading white space, no
// minus sign, 0x hex, 0 octal or decimal, nothing after.
func cUint64(s string) (uint64, bool) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	s = strings.TrimPrefix(s, "+")
	base := 10
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		base, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	for i := 0; i < len(s); i++ {
		if !digit(s[i], base) {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, base, 64)
	return v, err == nil
}

// rejectForceUmount is what LXC's reject_force_umount adds: umount2 with
// MNT_FORCE in its flags answers EACCES.
func rejectForceUmount(line int, section string) Rule {
	return Rule{Line: line, Section: section, Name: "umount2", Action: Errno(uint16(unix.EACCES)),
		Conds: []Cond{{Index: 1, Value: unix.MNT_FORCE, Op: OpMaskedEQ, Mask: unix.MNT_FORCE}}}
}
