package container

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/lxc-shim/lxc-shim/config"
)

func TestAttachEnv(t *testing.T) {
	t.Setenv("TERM", "xterm-tk")
	got := AttachEnv([]string{"FOO=bar", "PATH=/opt/bin:/bin", "FOO=baz"}, true)
	want := []string{"container=lxc", "TERM=xterm-tk", "PATH=/opt/bin:/bin", "FOO=baz"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attachEnv = %q, want %q", got, want)
	}
	got = AttachEnv(nil, false)
	want = []string{"PATH=" + config.DefaultPath, "container=lxc"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attachEnv without terminal = %q, want %q", got, want)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tk-cmd")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tk-data"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/nonexistent:" + dir}
	if p, err := findExecutable("tk-cmd", env); err != nil || p != exe {
		t.Errorf("findExecutable(tk-cmd) = %q, %v", p, err)
	}
	if _, err := findExecutable("tk-missing", env); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("findExecutable(tk-missing): %v, want not found", err)
	}
	if _, err := findExecutable(filepath.Join(dir, "tk-data"), env); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lookPath of a non-executable file: %v, want 'not executable'", err)
	}
}
