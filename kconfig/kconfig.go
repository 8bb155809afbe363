// Package kconfig checks a Linux kernel configuration for what lxc-shim
// needs, the way lxc-checkconfig does: it reads a kernel .config (plain or
// gzipped, as /proc/config.gz is), evaluates a fixed list of options
// grouped by topic, and reports each as enabled, built as a module or
// missing. Options without which no container can boot are "required"; the
// others name the feature that needs them (veth networks, swap limits...).
//
// The package also describes the host's cgroup layout (v1, hybrid, v2) from
// a mountinfo file, because a kernel that has every controller still cannot
// run a container whose limits the mounted hierarchies cannot take.
package kconfig

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Version is a kernel version (major, minor, patch); the zero Version means
// unknown.
type Version struct{ Major, Minor, Patch int }

func (v Version) String() string {
	if v.Known() {
		return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	}
	return "unknown"
}

// Known reports whether v was found.
func (v Version) Known() bool { return v != Version{} }

// AtLeast reports whether v is major.minor or later.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// The regular expressions are compiled on first use: every lxc-initd
// command links this package, and compiling them at its start cost about
// 0.7 ms of each (issue 17).
var versionRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\d+)\.(\d+)(?:\.(\d+))?`) })

// ParseVersion reads the leading "X.Y[.Z]" of a kernel release string
// ("6.18.44-fc-v782"); the zero Version if there is none.
func ParseVersion(release string) Version {
	m := versionRe().FindStringSubmatch(strings.TrimSpace(release))
	if m == nil {
		return Version{}
	}
	var v Version
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	return v
}

// Kernel is one parsed kernel configuration.
type Kernel struct {
	// Source is the file it was read from.
	Source string
	// Version is the kernel's version from the file's header comment
	// ("# Linux/x86 6.18.44 Kernel Configuration"), or the one the caller
	// supplied when the header has none.
	Version Version
	// Options maps an option's name without the CONFIG_ prefix to its
	// value ("y", "m", a number or a quoted string). Options written as
	// "# CONFIG_X is not set" are absent.
	Options map[string]string
}

var headerRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^#\s*Linux/\S+\s+(\d+\.\d+(?:\.\d+)?)\S*\s+Kernel Configuration`)
})

// Parse reads a kernel configuration. name is used in error messages.
// A line that is neither a comment, blank, nor CONFIG_NAME=VALUE is an
// error naming the line: a file that is not a kernel config should not
// silently pass as one with every option missing.
func Parse(r io.Reader, name string) (*Kernel, error) {
	k := &Kernel{Source: name, Options: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		if strings.HasPrefix(s, "#") {
			if m := headerRe().FindStringSubmatch(s); m != nil && !k.Version.Known() {
				k.Version = ParseVersion(m[1])
			}
			continue
		}
		key, val, ok := strings.Cut(s, "=")
		if !ok || !strings.HasPrefix(key, "CONFIG_") || len(key) == len("CONFIG_") {
			return nil, fmt.Errorf("%s:%d: not a kernel config line: %q", name, line, s)
		}
		k.Options[strings.TrimPrefix(key, "CONFIG_")] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if line > 0 && len(k.Options) == 0 {
		return nil, fmt.Errorf("%s: no CONFIG_ option in %d lines: not a kernel config", name, line)
	}
	return k, nil
}

// Load reads the kernel configuration at path, gunzipping it when it is
// gzip-compressed (whatever its name). fallback is the version used when
// the file's header names none (the running kernel's, typically).
func Load(path string, fallback Version) (*Kernel, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kernel config: %w", err)
	}
	var r io.Reader = bytes.NewReader(b)
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("kernel config %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	k, err := Parse(r, path)
	if err != nil {
		return nil, err
	}
	if !k.Version.Known() {
		k.Version = fallback
	}
	return k, nil
}

// Candidates lists where the running kernel's configuration may be, in the
// order lxc-checkconfig tries them, for kernel release (uname -r).
func Candidates(release string) []string {
	return []string{
		"/proc/config.gz",
		"/boot/config-" + release,
		"/lib/modules/" + release + "/build/.config",
	}
}

// State is how an option is configured.
type State int

// The states of an option.
const (
	Missing State = iota
	Module
	BuiltIn
)

func (s State) String() string {
	switch s {
	case BuiltIn:
		return "enabled"
	case Module:
		return "enabled as module"
	}
	return "missing"
}

// State returns how option name (without CONFIG_) is set.
func (k *Kernel) State(name string) State {
	switch k.Options[name] {
	case "y":
		return BuiltIn
	case "m":
		return Module
	case "", "n":
		return Missing
	}
	// A numeric or string option that is set counts as present.
	return BuiltIn
}
