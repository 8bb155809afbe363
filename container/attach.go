package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/lsm"
	"github.com/lxc-shim/lxc-shim/seccomp"
)

// A command attached to a running container (lxc-initd attach) is exec'd
// from inside the container by ExecAttached, with the same capability and
// executable-lookup code as the init (caps.go, findExecutable).

// AttachSpec is what the attaching process, already inside the
// container's namespaces and cgroups, needs to exec the command: it can no
// longer read the host's config or /proc.
type AttachSpec struct {
	Argv       []string `json:"argv,omitempty"` // empty: root's shell in the container
	Env        []string `json:"env"`
	CapBnd     uint64   `json:"cap_bnd"` // the init's bounding set: all the command may hold
	NoNewPrivs bool     `json:"no_new_privs,omitempty"`
	Setctty    bool     `json:"setctty,omitempty"` // stdin is a pty slave to make ours
	// AppArmor and SELinux are the init's labels (InitLabels), which the
	// command is exec'd under, as LXC's attach does ("": none).
	AppArmor string `json:"apparmor,omitempty"`
	SELinux  string `json:"selinux,omitempty"`
	// Seccomp is the container's filter, compiled on the host from its
	// config (nil: none); SeccompAllowNesting is lxc.seccomp.allow_nesting.
	Seccomp             *seccomp.Filter `json:"seccomp,omitempty"`
	SeccompAllowNesting bool            `json:"seccomp_allow_nesting,omitempty"`
}

// InitLabels reads the AppArmor and SELinux labels of the container's init
// (pid, on the host's /proc) where the host has that module: an attached
// command runs under the init's label. An unconfined init gives none.
func InitLabels(pid int) (apparmor, selinux string, err error) {
	h := lsm.Host{}
	if h.AppArmorEnabled() {
		if apparmor, err = h.Label(pid, "apparmor"); err != nil {
			return "", "", fmt.Errorf("read the AppArmor label of the init (pid %d): %w", pid, err)
		}
		if apparmor == lsm.Unconfined {
			apparmor = ""
		}
	}
	if h.SELinuxEnabled() {
		if selinux, err = h.Label(pid, "selinux"); err != nil {
			return "", "", fmt.Errorf("read the SELinux context of the init (pid %d): %w", pid, err)
		}
	}
	return apparmor, selinux, nil
}

// Exit codes of the attached side, as a shell reports them.
const (
	ExitCannotExec = 126
	ExitNotFound   = 127
)

// AttachEnv is the attached command's environment: the default PATH,
// container=lxc (as LXC sets it), TERM (the caller's) when it gets a
// terminal, then lxc.environment, whose entries win.
func AttachEnv(cfgEnv []string, withTerm bool) []string {
	env := []string{"PATH=" + config.DefaultPath, "container=lxc"}
	if t := os.Getenv("TERM"); withTerm && t != "" {
		env = append(env, "TERM="+t)
	}
	return config.OverrideEnv(env, cfgEnv)
}

// ExecAttached runs in the process that entered the container: a session
// of its own, the pty as controlling terminal (spec.Setctty), cwd /, no
// supplementary groups, the capabilities of spec.CapBnd at most,
// no_new_privs if asked, every descriptor above 2 close-on-exec, then exec.
// It returns only on failure, with the exit code a shell would give (127
// for a command not found, else 126).
func ExecAttached(spec AttachSpec) (int, error) {
	// All that follows is per thread (capabilities, no_new_privs) and must
	// hold for the thread that calls execve.
	runtime.LockOSThread()
	fail := func(what string, err error) (int, error) {
		return ExitCannotExec, fmt.Errorf("%s: %w", what, err)
	}
	// A session of its own, always: the caller's session has the caller's
	// terminal as its controlling terminal, which the container's /dev/tty
	// would open.
	if _, err := unix.Setsid(); err != nil {
		return fail("setsid", err)
	}
	if spec.Setctty {
		if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
			return fail("make the pty the controlling terminal", err)
		}
	}
	if err := os.Chdir("/"); err != nil {
		return fail("chdir /", err)
	}
	argv := spec.Argv
	if len(argv) == 0 {
		argv = []string{rootShell()}
	}
	path, err := findExecutable(argv[0], spec.Env)
	if err != nil {
		code, err := fail("command "+argv[0], err)
		if errors.Is(err, fs.ErrNotExist) {
			code = ExitNotFound
		}
		return code, err
	}
	if err := setgroupsNone(); err != nil {
		return fail("setgroups", err)
	}
	// The init's labels, written to this thread's attr files in the
	// container's /proc, which must be a real proc file system.
	for _, l := range []struct{ lsm, label string }{{"apparmor", spec.AppArmor}, {"selinux", spec.SELinux}} {
		if l.label == "" {
			continue
		}
		el, err := (lsm.Host{}).OpenExecLabel(l.lsm, l.label, true)
		if err != nil {
			return fail("security label", err)
		}
		if err := el.Set(); err != nil {
			return fail("security label", err)
		}
	}
	if spec.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fail("lxc.no_new_privs", err)
		}
	}
	// The container's filter, as LXC's attach loads it: after
	// no_new_privs, while CAP_SYS_ADMIN is still effective (so the
	// kernel needs no no_new_privs of its own), before the capabilities
	// are limited.
	if spec.Seccomp != nil {
		if _, err := spec.Seccomp.Install(spec.SeccompAllowNesting); err != nil {
			return fail("lxc.seccomp.profile", err)
		}
	}
	if err := LimitCaps(spec.CapBnd); err != nil {
		return fail("capabilities", err)
	}
	// Nothing the caller of lxc-initd left open may reach the container:
	// every descriptor but stdio (the error pipe included) closes on exec.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fail("close inherited descriptors", err)
	}
	err = syscall.Exec(path, argv, spec.Env)
	return fail("exec "+path, err)
}

// rootShell is root's login shell in the container's /etc/passwd, or
// /bin/sh.
func rootShell() string {
	b, err := os.ReadFile("/etc/passwd")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Split(line, ":")
			if len(f) >= 7 && f[2] == "0" && f[6] != "" {
				if _, err := os.Stat(f[6]); err == nil {
					return f[6]
				}
			}
		}
	}
	return "/bin/sh"
}

// findExecutable finds file in the PATH of env (the command's, not ours;
// the default PATH when env has none), or checks it when it has a slash.
// Not found is errors.Is fs.ErrNotExist.
func findExecutable(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := executable(file); err != nil {
			return "", err
		}
		return file, nil
	}
	pathVar := config.DefaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", notInPath(pathVar)
}

// notInPath is a command not found in PATH (errors.Is fs.ErrNotExist).
type notInPath string

func (p notInPath) Error() string        { return "not found in PATH " + string(p) }
func (p notInPath) Is(target error) bool { return target == fs.ErrNotExist }

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return unwrapPath(err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}
