package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maxIncludeDepth bounds lxc.include nesting even without a cycle (a chain
// of distinct symlinks, a generated tree), as a safety net.
const maxIncludeDepth = 32

// entry is one "key = value" line after syntax handling, include expansion
// and legacy mapping, in the order LXC would apply it.
type entry struct {
	Pos   Pos
	Value string
}

// splitLine parses one physical line. ok is false for blank and comment
// lines. It returns the key as written and the raw value (white space
// trimmed, nothing else done).
func splitLine(line string) (key, value string, ok bool, err error) {
	t := strings.TrimSpace(line)
	if t == "" || t[0] == '#' {
		return "", "", false, nil
	}
	k, v, found := strings.Cut(t, "=")
	if !found {
		return "", "", false, fmt.Errorf("not a \"key = value\" line: %q", t)
	}
	k = strings.TrimSpace(k)
	if k == "" {
		return "", "", false, fmt.Errorf("no key before '='")
	}
	if strings.ContainsAny(k, " \t\"'") {
		return "", "", false, fmt.Errorf("invalid key %q", k)
	}
	return k, strings.TrimSpace(v), true, nil
}

// trailingComment finds a '#' that follows white space (outside a quoted
// value), the start of a comment LXC itself would keep in the value.
// It returns the value without it and whether one was found.
func trailingComment(v string) (string, bool) {
	start := 0
	if len(v) > 0 && (v[0] == '"' || v[0] == '\'') {
		if end := strings.IndexByte(v[1:], v[0]); end >= 0 {
			start = end + 2
		}
	}
	if start == 0 && strings.HasPrefix(v, "#") {
		return "", true
	}
	for i := max(start, 1); i < len(v); i++ {
		if v[i] == '#' && (v[i-1] == ' ' || v[i-1] == '\t') {
			return strings.TrimSpace(v[:i]), true
		}
	}
	return v, false
}

// unquote removes one pair of surrounding double (or single) quotes, as LXC 5
// does.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// reader expands one config into entries.
type reader struct {
	d       *diags
	entries []entry
	// firstLegacy is where the first legacy key was read (zero: none).
	firstLegacy Pos
	stack       []string
}

// readFile reads path (from: where it was included, zero for the top file).
func (r *reader) readFile(path string, from Pos) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	for i, s := range r.stack {
		if s == abs {
			chain := append(append([]string{}, r.stack[i:]...), abs)
			r.d.errorf(from, "include cycle: %s", strings.Join(chain, " -> "))
			return
		}
	}
	if len(r.stack) >= maxIncludeDepth {
		r.d.errorf(from, "includes nested deeper than %d", maxIncludeDepth)
		return
	}
	data, err := readSmallFile(path)
	if err != nil {
		if from.File == "" {
			r.d.errorf(Pos{File: path}, "read config: %v", err)
		} else {
			r.d.errorf(from, "read included file %s: %v", path, err)
		}
		return
	}
	r.stack = append(r.stack, abs)
	defer func() { r.stack = r.stack[:len(r.stack)-1] }()

	lm := legacyMapper{}
	for i, line := range strings.Split(string(data), "\n") {
		pos := Pos{File: path, Line: i + 1}
		key, raw, ok, err := splitLine(line)
		if err != nil {
			r.d.errorf(pos, "%v", err)
			continue
		}
		if !ok {
			continue
		}
		pos.Key = key
		newKey, legacy, drop := lm.mapKey(key)
		if legacy {
			pos.Key, pos.Legacy = newKey, key
			if r.firstLegacy.File == "" {
				r.firstLegacy = pos
			}
		}
		if drop {
			r.d.warnf(pos, "legacy key dropped: LXC 3+ has no such setting")
			continue
		}
		value, stripped := trailingComment(raw)
		if stripped {
			if value == "" {
				r.d.warnf(pos, "value is only a trailing comment; key left unset (LXC would take %q as the value)", raw)
				continue
			}
			r.d.warnf(pos, "trailing comment stripped; LXC would take %q as the value", raw)
		}
		value = unquote(value)
		if pos.Key == "lxc.include" {
			r.include(value, pos)
			continue
		}
		r.entries = append(r.entries, entry{Pos: pos, Value: value})
	}
}

// include reads a file, or a directory's *.conf files in name order.
func (r *reader) include(target string, pos Pos) {
	if target == "" {
		r.d.errorf(pos, "empty include path")
		return
	}
	dirPath := strings.HasSuffix(target, "/")
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(pos.File), target)
	}
	st, err := os.Stat(target)
	if err != nil {
		// LXC (confile.c, set_config_includefiles) takes a path ending
		// in '/' for a directory, and skips a directory that does not
		// exist: every *.userns.conf includes userns.conf.d/, which
		// distributions need not ship. A missing file stays an error.
		if errors.Is(err, fs.ErrNotExist) && dirPath {
			r.d.warnf(pos, "include directory %s does not exist; skipped (as LXC does)", target)
			return
		}
		r.d.errorf(pos, "include: %v", err)
		return
	}
	if !st.IsDir() {
		r.readFile(target, pos)
		return
	}
	des, err := os.ReadDir(target)
	if err != nil {
		r.d.errorf(pos, "include: %v", err)
		return
	}
	var names []string
	for _, de := range des {
		if strings.HasSuffix(de.Name(), ".conf") && !de.IsDir() {
			names = append(names, de.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		r.readFile(filepath.Join(target, n), pos)
	}
}

func sprintf(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}

// maxFileSize bounds what the reader reads from one config or fstab file.
const maxFileSize = 4 << 20

// readSmallFile reads a regular file of at most maxFileSize bytes, so that
// an include of /dev/zero or a FIFO fails instead of hanging.
func readSmallFile(path string) ([]byte, error) {
	data, err := readSmall(path)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		// Callers name the file themselves.
		return nil, pe.Err
	}
	return data, err
}

func readSmall(path string) ([]byte, error) {
	// Stat first: opening a FIFO would block.
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	return io.ReadAll(io.LimitReader(f, maxFileSize+1))
}
