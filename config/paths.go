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

// What a container's name goes into, and so how long it may be:
//   - RUNDIR/NAME/control.sock, the shim's unix socket: a socket path holds
//     at most 107 bytes (sun_path is 108 with its NUL), which under the
//     default run directory leaves 80 bytes for the name (107 minus
//     "/run/lxc-shim/" and "/control.sock"): the tightest limit;
//   - the cgroup directory lxc-shim/NAME and the log LOGDIR/NAME.log: one
//     path component each, at most 255 bytes (NAME_MAX);
//   - host network device names are derived from it, never the name itself
//     (netcleanup.HostVethName: at most 15 bytes whatever the name).
const (
	// DefaultRunDir is where the shims keep their state (--rundir).
	DefaultRunDir = "/run/lxc-shim"
	// ControlSocket is the shim's socket in RUNDIR/NAME.
	ControlSocket = "control.sock"
	// MaxSocketPath is the longest path a unix socket can be bound to.
	MaxSocketPath = 107
	// MaxNameLen is the longest container name: its control socket under
	// DefaultRunDir fits in MaxSocketPath.
	MaxNameLen = MaxSocketPath - len(DefaultRunDir+"/") - len("/"+ControlSocket)
)

// ValidName reports whether name can be a container name: non-empty, not
// "." or "..", no slash, white space or control characters, at most
// MaxNameLen bytes. Every command of lxc-initd and lxc-shim checks a NAME
// with it before doing anything.
func ValidName(name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("invalid container name %q", name)
	}
	for _, r := range name {
		if r == '/' || r <= ' ' || r == 0x7f {
			return fmt.Errorf("invalid container name %q: no '/', white space or control characters", name)
		}
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("invalid container name %q: %d bytes, at most %d (its control socket %s/NAME/%s must fit the %d bytes of a unix socket path)",
			name, len(name), MaxNameLen, DefaultRunDir, ControlSocket, MaxSocketPath)
	}
	return nil
}

// CheckRunDir reports whether name's control socket fits under rundir: a
// run directory longer than DefaultRunDir leaves less room than
// MaxNameLen. lxc-initd start and lxc-shim check it before creating
// anything.
func CheckRunDir(rundir, name string) error {
	sock := filepath.Join(rundir, name, ControlSocket)
	if len(sock) > MaxSocketPath {
		return fmt.Errorf("container %s: its control socket %s would be %d bytes, over the %d a unix socket path takes: use a shorter name or run directory (--rundir)",
			name, sock, len(sock), MaxSocketPath)
	}
	return nil
}

// LXCOwnConf reports whether NAME.conf is one of LXC's own files, which
// sit beside container configs in /etc/lxc and are never a container's:
// default.conf (lxc.default_config, what lxc-create writes into every new
// config) and lxc.conf (LXC's system settings).
func LXCOwnConf(name string) bool {
	return name == "default" || name == "lxc"
}

// Find returns the config file of container name: the first of
// DIR/NAME/config and DIR/NAME.conf that exists, for each DIR of lxcpath in
// order (DefaultLXCPath when lxcpath is empty); LXC's own default.conf and
// lxc.conf are not containers (LXCOwnConf). The error wraps
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
		candidates := []string{filepath.Join(dir, name, "config")}
		if !LXCOwnConf(name) {
			candidates = append(candidates, filepath.Join(dir, name+".conf"))
		}
		for _, p := range candidates {
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
