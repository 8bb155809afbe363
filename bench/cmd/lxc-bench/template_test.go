package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestParseCasesTemplateFeatures(t *testing.T) {
	var o options
	if err := parseCases(&o, "template,features", "systemd"); err != nil {
		t.Fatal(err)
	}
	if o.busybox || o.distro || !o.template || !o.features {
		t.Errorf("-cases template,features: busybox %v template %v features %v distro %v", o.busybox, o.template, o.features, o.distro)
	}
}

// configLines keeps the key = value lines of a config, trimmed, without
// comments and blank lines.
func TestConfigLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config")
	text := "# Template used\n\nlxc.tty.max = 5\n  lxc.mount.entry = shm dev/shm tmpfs defaults,create=dir 0 0\n#lxc.apparmor.profile = unconfined\n"
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{"lxc.tty.max = 5", "lxc.mount.entry = shm dev/shm tmpfs defaults,create=dir 0 0"}
	if got := configLines(p); !slices.Equal(got, want) {
		t.Errorf("configLines = %q, want %q", got, want)
	}
	if got := configLines(filepath.Join(t.TempDir(), "none")); got != nil {
		t.Errorf("a missing file has lines %q", got)
	}
}
