package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultLXCPath is where containers' configs are looked up when -P is not
// given: NAME/config under each directory, first match wins.
const DefaultLXCPath = "/etc/lxc:/var/lib/lxc"

// SplitLXCPath splits a colon-separated lxc path, dropping empty elements.
func SplitLXCPath(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ":") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ValidName reports whether name can be a container name: non-empty, no
// slash, not "." or "..", no white space or control characters.
func ValidName(name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("invalid container name %q", name)
	}
	for _, r := range name {
		if r == '/' || r <= ' ' || r == 0x7f {
			return fmt.Errorf("invalid container name %q: no '/', white space or control characters", name)
		}
	}
	return nil
}

// Find returns the config file of container name: the first of
// DIR/NAME/config and DIR/NAME.conf that exists, for each DIR of lxcpath in
// order (DefaultLXCPath when lxcpath is empty). The error wraps
// fs.ErrNotExist when no directory holds it.
func Find(name string, lxcpath []string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	if len(lxcpath) == 0 {
		lxcpath = SplitLXCPath(DefaultLXCPath)
	}
	var tried []string
	for _, dir := range lxcpath {
		for _, p := range []string{filepath.Join(dir, name, "config"), filepath.Join(dir, name+".conf")} {
			st, err := os.Stat(p)
			if err == nil && st.Mode().IsRegular() {
				return p, nil
			}
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("find container %s: %w", name, err)
			}
			tried = append(tried, p)
		}
	}
	return "", fmt.Errorf("find container %s: no config (tried %s): %w", name, strings.Join(tried, ", "), fs.ErrNotExist)
}
