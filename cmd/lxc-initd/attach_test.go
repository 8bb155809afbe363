package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
)

func TestAttachEnv(t *testing.T) {
	t.Setenv("TERM", "xterm-tk")
	got := attachEnv([]string{"FOO=bar", "PATH=/opt/bin:/bin", "FOO=baz"}, true)
	want := []string{"container=lxc", "TERM=xterm-tk", "PATH=/opt/bin:/bin", "FOO=baz"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attachEnv = %q, want %q", got, want)
	}
	got = attachEnv(nil, false)
	want = []string{"PATH=" + cleanPath, "container=lxc"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attachEnv without terminal = %q, want %q", got, want)
	}
}

// A hybrid host as on this machine: v1 controllers, a comounted pair, a
// named hierarchy, cgroup2 at unified, and one hierarchy not mounted.
const tkMountinfo = `25 1 0:22 / / rw - ext4 /dev/sda1 rw
30 29 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
31 29 0:27 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
35 29 0:31 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
36 29 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
37 29 0:33 /lxc-shim /mnt/pids\040bind rw - cgroup cgroup rw,pids
`

func TestProcsFiles(t *testing.T) {
	infos, err := mountinfo.GetMountsFromReader(strings.NewReader(tkMountinfo), nil)
	if err != nil {
		t.Fatal(err)
	}
	proc := "12:pids:/lxc-shim/tk1\n9:memory:/lxc-shim/tk1\n4:cpu,cpuacct:/lxc-shim/tk1\n" +
		"3:rdma:/\n1:name=systemd:/lxc-shim/tk1\n0::/lxc-shim/tk1\n"
	got := procsFiles(proc, cgroupMounts(infos))
	want := []string{
		"/mnt/pids bind/tk1/cgroup.procs",
		"/sys/fs/cgroup/memory/lxc-shim/tk1/cgroup.procs",
		"/sys/fs/cgroup/cpu,cpuacct/lxc-shim/tk1/cgroup.procs",
		"/sys/fs/cgroup/systemd/lxc-shim/tk1/cgroup.procs",
		"/sys/fs/cgroup/unified/lxc-shim/tk1/cgroup.procs",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("procsFiles =\n%q\nwant\n%q", got, want)
	}
	// A path outside a bind mount's root is not reachable through it.
	if got := procsFiles("12:pids:/lxc-shimX/tk1\n", cgroupMounts(infos)); len(got) != 0 {
		t.Errorf("path outside the mount root mapped to %q", got)
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
	if p, err := lookPath("tk-cmd", env); err != nil || p != exe {
		t.Errorf("lookPath(tk-cmd) = %q, %v", p, err)
	}
	if _, err := lookPath("tk-missing", env); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lookPath(tk-missing): %v, want not found", err)
	}
	if _, err := lookPath(filepath.Join(dir, "tk-data"), env); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lookPath of a non-executable file: %v, want 'not executable'", err)
	}
}
