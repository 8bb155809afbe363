package container

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/lxc-shim/lxc-shim/config"
	"golang.org/x/sys/unix"
)

func TestCapsToKeep(t *testing.T) {
	const last = 40
	all := uint64(1)<<41 - 1
	cases := []struct {
		caps config.Caps
		want uint64
	}{
		{config.Caps{}, all},
		{config.Caps{Drop: []int{unix.CAP_SYS_ADMIN, unix.CAP_MKNOD}}, all &^ (1<<unix.CAP_SYS_ADMIN | 1<<unix.CAP_MKNOD)},
		{config.Caps{Keep: []int{unix.CAP_KILL, unix.CAP_SYS_BOOT, 63}}, 1<<unix.CAP_KILL | 1<<unix.CAP_SYS_BOOT},
		{config.Caps{KeepNone: true}, 0},
	}
	for _, c := range cases {
		if got := capsToKeep(c.caps, last); got != c.want {
			t.Errorf("capsToKeep(%+v) = %x, want %x", c.caps, got, c.want)
		}
	}
}

func TestNamespaces(t *testing.T) {
	base := unix.CLONE_NEWIPC | unix.CLONE_NEWNS | unix.CLONE_NEWNET | unix.CLONE_NEWPID | unix.CLONE_NEWUTS
	cgAvail := fileExists("/proc/self/ns/cgroup")
	cases := []struct {
		ns      config.NamespaceOptions
		want    uintptr
		cgns    bool
		wantErr string
	}{
		{config.NamespaceOptions{}, uintptr(base), cgAvail, ""},
		{config.NamespaceOptions{Keep: []string{"net", "ipc"}}, uintptr(base &^ (unix.CLONE_NEWNET | unix.CLONE_NEWIPC)), cgAvail, ""},
		{config.NamespaceOptions{Clone: []string{"mnt", "pid"}}, unix.CLONE_NEWNS | unix.CLONE_NEWPID, false, ""},
		{config.NamespaceOptions{Keep: []string{"cgroup"}}, uintptr(base), false, ""},
		{config.NamespaceOptions{Clone: []string{"mnt", "pid", "bogus"}}, 0, false, `unknown namespace "bogus"`},
	}
	for _, c := range cases {
		got, cgns, err := namespaces(&config.Config{Namespace: c.ns})
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("namespaces(%+v) error %v, want %q", c.ns, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want || cgns != c.cgns {
			t.Errorf("namespaces(%+v) = %x, %v, %v; want %x, %v", c.ns, got, cgns, err, c.want, c.cgns)
		}
	}
}

func TestParseReport(t *testing.T) {
	if err := parseReport("tb", []byte(execMarker), nil); err != nil {
		t.Errorf("exec marker alone: %v", err)
	}
	se := &StageError{Step: "mount", Key: "lxc.mount.entry", Value: "proc proc proc defaults",
		Pos: config.Pos{File: "/c", Line: 12}, Err: "no such file or directory"}
	buf, _ := json.Marshal(se)
	err := parseReport("tb", append([]byte(execMarker), buf...), nil)
	var got *StageError
	if !errors.As(err, &got) || err.Error() != `mount lxc.mount.entry "proc proc proc defaults" (/c:12): no such file or directory` {
		t.Errorf("report after exec marker (exec failed) = %v", err)
	}
	if err := parseReport("tb", nil, nil); err == nil || !strings.Contains(err.Error(), "died before exec") {
		t.Errorf("empty report = %v, want 'died before exec'", err)
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{"/dev/pts": "dev/pts", "dev/pts/": "dev/pts", "/": ".", "": ".",
		"../../etc": "etc", "a/../../b": "b"} {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInitEnv(t *testing.T) {
	s := &stager{cfg: &config.Config{Environment: []string{"PATH=/x", "A=1", "A=2"}, TTY: config.TTY{Dir: "lxc"}},
		p: &plan{TTYFDs: []int{6, 7}}}
	want := []string{"container=lxc", "container_ttys=lxc/tty1 lxc/tty2", "PATH=/x", "A=2"}
	if got := s.initEnv(); !slices.Equal(got, want) {
		t.Errorf("initEnv = %q, want %q", got, want)
	}
}
