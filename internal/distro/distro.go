// Package distro builds real distributions' root file systems for the
// end-to-end tests and the benchmarks: Debian (debootstrap's minbase
// variant, the host's own release and mirror) booting systemd, sysvinit or
// OpenRC, each with a marker service of the tests' own that records in a
// bind-mounted file when it starts and when, and for what, it stops.
//
// Building takes a minute or two per init, so the result is cached under a
// directory the tests own (Cache, /var/cache/lxc-shim-tests by default)
// and reused on the same machine until the recipe changes (the recipe's
// hash is stamped in each tree). Tests boot copies (Copy), never the
// cached tree: an init writes to its root file system.
package distro

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Init names one of the inits a root file system boots.
type Init string

const (
	Systemd  Init = "systemd"  // systemd-sysv: /sbin/init is systemd
	SysVinit Init = "sysvinit" // sysvinit-core with sysv-rc
	OpenRC   Init = "openrc"   // sysvinit-core as PID 1, OpenRC for the services (Debian's way)
)

// Inits are the inits Rootfs builds, in the order tests run them.
var Inits = []Init{Systemd, SysVinit, OpenRC}

// MarkerDir is where, inside the container, the marker service writes its
// log (MarkerDir/log); a test bind-mounts a host directory there.
const MarkerDir = "marker"

// Spec is how to drive one init from inside and what its marker records.
type Spec struct {
	Init Init
	// Reboot and Halt are the commands typed inside the container.
	Reboot, Halt []string
	// The marker's word after "stop" when the container reboots, halts
	// from inside (Halt), and is stopped from the host (its halt signal).
	RebootWord, HaltWord, StopWord string
	// Comm is /proc/1/comm of the running init.
	Comm string
	// Console is the terminal a getty prompts on: 0 for /dev/console,
	// N for /dev/ttyN.
	Console int
}

// SpecOf returns how to drive init.
func SpecOf(init Init) Spec {
	switch init {
	case Systemd:
		return Spec{Init: init, Reboot: []string{"systemctl", "reboot"}, Halt: []string{"systemctl", "poweroff"},
			RebootWord: "reboot", HaltWord: "poweroff", StopWord: "halt", Comm: "systemd", Console: 0}
	default:
		return Spec{Init: init, Reboot: []string{"reboot"}, Halt: []string{"halt"},
			RebootWord: "reboot", HaltWord: "halt", StopWord: "halt", Comm: "init", Console: 1}
	}
}

// Config is the LXC config the tests and benchmarks boot every init with
// (the plain one): the caller adds lxc.uts.name, lxc.rootfs.path
// and the marker's bind mount (MarkerMount).
const Config = `lxc.autodev = 1
lxc.tty.max = 1
lxc.pty.max = 64
lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed
lxc.net.0.type = empty
`

// MarkerMount is the lxc.mount.entry binding host directory dir on the
// marker's directory.
func MarkerMount(dir string) string {
	return fmt.Sprintf("lxc.mount.entry = %s %s none bind,create=dir 0 0\n", dir, MarkerDir)
}

// Cache is the directory holding the built trees: $LXC_SHIM_TEST_CACHE,
// or /var/cache/lxc-shim-tests.
func Cache() string {
	if d := os.Getenv("LXC_SHIM_TEST_CACHE"); d != "" {
		return d
	}
	return "/var/cache/lxc-shim-tests"
}

// Rootfs returns the cached root file system of init, building it first
// when it is missing or was built by another recipe. Concurrent callers
// (test processes) wait for one build under a lock. Root only.
func Rootfs(init Init) (string, error) {
	spec := SpecOf(init)
	cache := Cache()
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("distro cache: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(cache, ".lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return "", fmt.Errorf("distro cache: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("distro cache lock: %w", err)
	}
	host, err := hostRelease()
	if err != nil {
		return "", err
	}
	stamp := recipeHash(host, spec)
	dir := filepath.Join(cache, fmt.Sprintf("debian-%s-%s", host.suite, init))
	if b, err := os.ReadFile(filepath.Join(dir, stampFile)); err == nil && strings.TrimSpace(string(b)) == stamp {
		return dir, nil
	}
	if err := build(cache, dir, host, spec); err != nil {
		return "", fmt.Errorf("build %s root file system in %s: %w", init, dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, stampFile), []byte(stamp+"\n"), 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

// stampFile, at the top of a built tree, holds its recipe's hash.
const stampFile = ".lxc-shim-distro"

// Copy copies the tree src to dst (which must not exist), keeping owners,
// modes, links and device nodes.
func Copy(src, dst string) error {
	out, err := exec.Command("cp", "-a", src, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cp -a %s %s: %v: %s", src, dst, err, out)
	}
	return nil
}

// release is the host's Debian release and the mirror it installs from.
type release struct {
	suite, mirror string
}

// hostRelease reads the host's codename (/etc/os-release) and the first
// Debian mirror of its apt sources that serves that suite: the tests fetch
// from where the host itself does, never from a mirror written here.
func hostRelease() (release, error) {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return release{}, fmt.Errorf("host release: %w", err)
	}
	var r release
	var id string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, "=")
		v = strings.Trim(v, `"`)
		switch k {
		case "VERSION_CODENAME":
			r.suite = v
		case "ID":
			id = v
		}
	}
	if id != "debian" || r.suite == "" {
		return release{}, fmt.Errorf("host release: /etc/os-release says ID=%q VERSION_CODENAME=%q; the distribution tests build Debian root file systems with the host's debootstrap and mirror, on a Debian host", id, r.suite)
	}
	r.mirror, err = aptMirror(r.suite)
	if err != nil {
		return release{}, err
	}
	return r, nil
}

// aptMirror finds the URI serving suite in the host's apt sources, in
// either format (deb822 .sources files, one-line .list files).
func aptMirror(suite string) (string, error) {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	lists, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	files = append(append(files, "/etc/apt/sources.list"), lists...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if m := mirrorIn(string(b), suite, strings.HasSuffix(f, ".sources")); m != "" {
			return m, nil
		}
	}
	return "", fmt.Errorf("no apt source serves %q (looked in /etc/apt/sources.list and sources.list.d)", suite)
}

func mirrorIn(text, suite string, deb822 bool) string {
	if !deb822 {
		sc := bufio.NewScanner(strings.NewReader(text))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			// deb [options] URI SUITE COMPONENTS...
			if len(f) < 3 || f[0] != "deb" {
				continue
			}
			f = f[1:]
			if strings.HasPrefix(f[0], "[") {
				for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
					f = f[1:]
				}
				if len(f) > 0 {
					f = f[1:]
				}
			}
			if len(f) >= 2 && f[1] == suite {
				return f[0]
			}
		}
		return ""
	}
	for _, stanza := range strings.Split(text, "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
				fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
		if !strings.Contains(" "+fields["types"]+" ", " deb ") || fields["enabled"] == "no" {
			continue
		}
		for _, s := range strings.Fields(fields["suites"]) {
			if s == suite {
				if uris := strings.Fields(fields["uris"]); len(uris) > 0 {
					return uris[0]
				}
			}
		}
	}
	return ""
}

// recipeHash identifies what build makes: a change to the recipe (files,
// packages, commands) rebuilds the cached tree.
func recipeHash(r release, spec Spec) string {
	h := sha256.New()
	fmt.Fprintf(h, "v1\n%s\n%s\n%q\n", r.suite, spec.Init, packages(spec.Init))
	for _, f := range files(spec.Init) {
		fmt.Fprintf(h, "%s %o\n%s\n", f.path, f.mode, f.content)
	}
	fmt.Fprintf(h, "%q\n", chrootCommands(spec.Init))
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// packages are what debootstrap --include adds to minbase.
func packages(init Init) []string {
	if init == Systemd {
		return []string{"systemd-sysv", "systemd", "dbus"}
	}
	// OpenRC is installed afterwards, Debian's way: it replaces sysv-rc,
	// which debootstrap cannot resolve in one go.
	return []string{"sysvinit-core"}
}

// build makes dir from scratch: debootstrap into a temporary sibling, the
// init's packages, the marker, then a rename, so that an interrupted build
// never leaves a tree that looks finished.
func build(cache, dir string, r release, spec Spec) error {
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return errors.New("debootstrap is not installed (apt-get install debootstrap; make test installs it)")
	}
	tmp := dir + ".building"
	for _, d := range []string{tmp, dir} {
		if err := removeTree(d); err != nil {
			return err
		}
	}
	base, err := bootstrap(cache, r, packages(spec.Init))
	if err != nil {
		return err
	}
	if err := Copy(base, tmp); err != nil {
		return err
	}
	for _, c := range chrootCommands(spec.Init) {
		cmd := command("chroot", append([]string{tmp}, c...)...)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C"}
		if c[0] == "apt-get" {
			// Debian's invoke-rc.d asks policy-rc.d: nothing may start in
			// the chroot (it would run on the host).
			if err := os.WriteFile(filepath.Join(tmp, "usr/sbin/policy-rc.d"), []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
				return err
			}
		}
		out, err := cmd.CombinedOutput()
		_ = os.Remove(filepath.Join(tmp, "usr/sbin/policy-rc.d"))
		if err != nil {
			return fmt.Errorf("chroot %s %s: %v\n%s", tmp, strings.Join(c, " "), err, tail(out, 4000))
		}
	}
	for _, f := range files(spec.Init) {
		p := filepath.Join(tmp, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if f.link {
			_ = os.Remove(p)
			if err := os.Symlink(f.content, p); err != nil {
				return err
			}
			continue
		}
		if err := os.WriteFile(p, []byte(f.content), f.mode); err != nil {
			return err
		}
		if err := os.Chmod(p, f.mode); err != nil {
			return err
		}
	}
	for _, c := range enableCommands(spec.Init) {
		cmd := command("chroot", append([]string{tmp}, c...)...)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("chroot %s %s: %v\n%s", tmp, strings.Join(c, " "), err, tail(out, 4000))
		}
	}
	// debootstrap leaves its apt lists and downloaded packages (kept in
	// the shared debs directory already).
	_ = os.RemoveAll(filepath.Join(tmp, "var/lib/apt/lists"))
	_ = os.MkdirAll(filepath.Join(tmp, "var/lib/apt/lists/partial"), 0o755)
	return os.Rename(tmp, dir)
}

// bootstrap returns the cached tree debootstrap made for r with pkgs,
// untouched since, making it first when needed: two inits with the same
// packages (sysvinit, and OpenRC installed over it) share one debootstrap
// run, which is most of a build's time.
func bootstrap(cache string, r release, pkgs []string) (string, error) {
	dir := filepath.Join(cache, fmt.Sprintf("base-debian-%s-%s", r.suite, strings.Join(pkgs, "+")))
	stamp := r.mirror + "\n"
	if b, err := os.ReadFile(filepath.Join(dir, stampFile)); err == nil && string(b) == stamp {
		return dir, nil
	}
	tmp := dir + ".building"
	for _, d := range []string{tmp, dir} {
		if err := removeTree(d); err != nil {
			return "", err
		}
	}
	debs := filepath.Join(cache, "debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return "", err
	}
	args := []string{"--variant=minbase", "--cache-dir=" + debs, "--include=" + strings.Join(pkgs, ","), r.suite, tmp, r.mirror}
	if out, err := command("debootstrap", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("debootstrap %s: %v\n%s", strings.Join(args, " "), err, tail(out, 4000))
	}
	if err := os.WriteFile(filepath.Join(tmp, stampFile), []byte(stamp), 0o644); err != nil {
		return "", err
	}
	return dir, os.Rename(tmp, dir)
}

// command is exec.Command for the build's steps: they die with the test
// process (a killed test must not leave a debootstrap writing into a tree
// that the next run rebuilds).
func command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// removeTree removes a (half-)built tree. debootstrap mounts proc and sys
// inside the target while it installs; a build killed half-way leaves them
// there, and removing through them would reach the host's /proc and /sys.
// So whatever is mounted under dir is detached first, deepest first.
func removeTree(dir string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return fmt.Errorf("mounts under %s: %w", dir, err)
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	for _, m := range mounts {
		if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", m.Mountpoint, err)
		}
	}
	return os.RemoveAll(dir)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
