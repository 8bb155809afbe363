package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// busybox is Debian's busybox-static, the one binary of every root file
// system the benchmark boots.
const busybox = "/bin/busybox"

// initKind says how a container's busybox init halts. busybox init itself
// sleeps about 2 s between its shutdown actions and its reboot(2) (two
// sleep(1) calls), so a container that should halt "at once" or "in 1 s"
// ends its shutdown action with `poweroff -n -f`: reboot(2) from inside the
// PID namespace, which the kernel reports to the supervisor as init killed
// by SIGINT, the same halt that busybox would report 2 s later.
type initKind int

const (
	// haltNow: the halt signal (SIGUSR1) runs a shutdown action that
	// powers off at once.
	haltNow initKind = iota
	// halt1s: the shutdown action sleeps 1 s, then powers off.
	halt1s
	// plainShutdown: the shutdown action is a no-op; busybox's own halt
	// and reboot paths run to the end (used for the reboot case, where
	// the reboot comes from reboot(2) inside the container).
	plainShutdown
)

func (k initKind) String() string {
	switch k {
	case haltNow:
		return "halt-now"
	case halt1s:
		return "halt-1s"
	default:
		return "plain"
	}
}

// inittab is the container's /etc/inittab for the kind.
func (k initKind) inittab() string {
	shutdown := "/etc/init.d/rcK"
	switch k {
	case haltNow:
		shutdown = "/etc/init.d/halt-now"
	case halt1s:
		shutdown = "/etc/init.d/halt-1s"
	}
	return "::sysinit:/etc/init.d/rcS\n::shutdown:" + shutdown + "\n"
}

// template is the one busybox root file system the benchmark prepares;
// every container gets its own copy (the busybox binary hard-linked, the
// rest small files), so that the two sides boot the same bytes but no two
// containers share a directory that one of them could change.
type template struct {
	dir     string
	applets []string // paths relative to the root, e.g. "sbin/init"
}

// makeTemplate writes the template root file system into dir.
func makeTemplate(dir string) (*template, error) {
	if _, err := os.Stat(busybox); err != nil {
		return nil, fmt.Errorf("template rootfs: %s missing (apt-get install busybox-static): %w", busybox, err)
	}
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("template rootfs: %s --list-full: %w", busybox, err)
	}
	t := &template{dir: dir}
	for _, a := range strings.Fields(string(out)) {
		if a != "bin/busybox" {
			t.applets = append(t.applets, a)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return nil, err
	}
	if err := copyFile(busybox, filepath.Join(dir, "bin/busybox"), 0o755); err != nil {
		return nil, fmt.Errorf("template rootfs %s: %w", dir, err)
	}
	return t, nil
}

// instantiate makes the root file system of one container in dir.
func (t *template) instantiate(dir string, kind initKind) error {
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc/init.d", "proc", "sys",
		"dev", "dev/pts", "dev/shm", "tmp", "run", "root", "var/log", "mnt",
		// The bind mount targets of LXC's busybox template config.
		"lib", "lib64", "usr/lib", "usr/lib64"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("rootfs %s: %w", dir, err)
		}
	}
	bb := filepath.Join(dir, "bin/busybox")
	if err := os.Link(filepath.Join(t.dir, "bin/busybox"), bb); err != nil {
		return fmt.Errorf("rootfs %s: link busybox: %w", dir, err)
	}
	for _, a := range t.applets {
		p := filepath.Join(dir, a)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("rootfs %s: %w", dir, err)
		}
		rel, err := filepath.Rel(filepath.Dir(p), bb)
		if err != nil {
			return err
		}
		if err := os.Symlink(rel, p); err != nil {
			return fmt.Errorf("rootfs %s: applet %s: %w", dir, a, err)
		}
	}
	files := map[string]string{
		"etc/inittab":         kind.inittab(),
		"etc/init.d/rcS":      "#!/bin/sh\n:\n",
		"etc/init.d/rcK":      "#!/bin/sh\n:\n",
		"etc/init.d/halt-now": "#!/bin/sh\nexec /bin/busybox poweroff -n -f\n",
		"etc/init.d/halt-1s":  "#!/bin/sh\n/bin/busybox sleep 1\nexec /bin/busybox poweroff -n -f\n",
		"etc/passwd":          "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":           "root:x:0:\n",
		"etc/hostname":        "bz\n",
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "etc/init.d/") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			return fmt.Errorf("rootfs %s: %w", dir, err)
		}
	}
	return nil
}

// writeConfig writes lxcpath/name/config, the same lines for both sides:
// busybox init halts on SIGUSR1 and reboots on SIGTERM, no network device
// (lxc.net.0.type = empty: nothing on the host side), proc and sys.
func writeConfig(lxcpath, name, rootfs string, auto bool) error {
	return writeConfigExtra(lxcpath, name, "dir:"+rootfs, auto, "")
}

// writeConfigExtra is writeConfig with the rootfs as lxc.rootfs.path
// names it (dir:, overlay:, loop:) and extra lines at the end.
func writeConfigExtra(lxcpath, name, rootfs string, auto bool, extra string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "lxc.uts.name = %s\n", name)
	fmt.Fprintf(&b, "lxc.rootfs.path = %s\n", rootfs)
	b.WriteString("lxc.net.0.type = empty\n")
	b.WriteString("lxc.signal.halt = SIGUSR1\n")
	b.WriteString("lxc.signal.reboot = SIGTERM\n")
	b.WriteString("lxc.init.cmd = /sbin/init\n")
	b.WriteString("lxc.mount.auto = proc:mixed sys:ro\n")
	b.WriteString("lxc.tty.max = 0\n")
	b.WriteString("lxc.pty.max = 16\n")
	if auto {
		b.WriteString("lxc.start.auto = 1\n")
	}
	b.WriteString(extra)
	return writeConfigText(lxcpath, name, b.String())
}

// writeConfigText writes lxcpath/name/config.
func writeConfigText(lxcpath, name, text string) error {
	p := filepath.Join(lxcpath, name, "config")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(text), 0o644)
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}
