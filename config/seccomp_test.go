package config

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSeccompProfileCompiled: lxc.seccomp.profile (or the legacy
// lxc.seccomp) is read and compiled when the config is loaded; a syntax
// error or a missing file names the config's FILE:LINE: KEY and the
// profile's FILE:LINE; a syscall unknown on an architecture is a warning.
func TestSeccompProfileCompiled(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.seccomp", "2\ndenylist\nreject_force_umount\n[all]\ninit_module errno 1\nsocketcall errno 1\n")
	bad := write("bad.seccomp", "2\ndenylist\n[i386]\n")
	opts := hostNoLSM
	opts.Machine = "x86_64"
	load := func(text string) (*Config, error) {
		return LoadWith(write("config", text), "c1", opts)
	}

	c, err := load("lxc.uts.name = c1\nlxc.seccomp.profile = " + good + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Security.Seccomp == nil || c.Security.Seccomp.Len() == 0 || c.Security.Seccomp.Profile != good {
		t.Fatalf("no compiled filter: %+v", c.Security)
	}
	equalLines(t, "warnings", diagLines(c.Warnings, dir), []string{
		"config:2: lxc.seccomp.profile: good.seccomp:6: syscall \"socketcall\" is unknown on x86_64, x32: rule skipped there",
	})

	_, err = load("lxc.uts.name = c1\nlxc.seccomp.profile = " + bad + "\n")
	equalLines(t, "syntax error", errLines(t, err, dir), []string{
		"config:2: lxc.seccomp.profile: bad.seccomp:3: unsupported architecture \"[i386]\"",
	})
	_, err = load("lxc.seccomp.profile = " + filepath.Join(dir, "missing") + "\n")
	equalLines(t, "missing file", errLines(t, err, dir), []string{
		"config:1: lxc.seccomp.profile: seccomp profile: open missing: no such file or directory",
	})
	opts.Machine = "s390x"
	if _, err := load("lxc.seccomp.profile = " + good + "\n"); err == nil {
		t.Error("a host architecture without syscall tables: no error")
	}
}
