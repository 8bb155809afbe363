package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lxc-shim/lxc-shim/internal/distro"
)

func TestParseCases(t *testing.T) {
	for _, c := range []struct {
		cases, inits    string
		busybox, distro bool
		want            []distro.Init
		err             string
	}{
		{"busybox,distro", "systemd,sysvinit,openrc", true, true, distro.Inits, ""},
		{"busybox", "systemd", true, false, []distro.Init{distro.Systemd}, ""},
		{"distro", "openrc", false, true, []distro.Init{distro.OpenRC}, ""},
		{"distro", "", false, false, nil, "no init"},
		{"busybox,alpine", "systemd", false, false, nil, `unknown case "alpine"`},
		{"", "systemd", false, false, nil, "no case"},
		{"distro", "systemd,upstart", false, false, nil, `unknown init "upstart"`},
	} {
		var o options
		err := parseCases(&o, c.cases, c.inits)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("-cases %q -inits %q: error %v, want one saying %q", c.cases, c.inits, err, c.err)
			}
			continue
		}
		if err != nil || o.busybox != c.busybox || o.distro != c.distro || !slices.Equal(o.inits, c.want) {
			t.Errorf("-cases %q -inits %q: busybox %v distro %v inits %v err %v, want %v %v %v", c.cases, c.inits, o.busybox, o.distro, o.inits, err, c.busybox, c.distro, c.want)
		}
	}
}

func TestMarkerCount(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	if n := markerCount(p, "start"); n != 0 {
		t.Errorf("missing log: %d starts, want 0", n)
	}
	if err := os.WriteFile(p, []byte("start\nstop reboot\nstart\nstop halt\nstart"), 0o644); err != nil {
		t.Fatal(err)
	}
	for line, want := range map[string]int{"start": 3, "stop reboot": 1, "stop halt": 1, "stop": 0} {
		if n := markerCount(p, line); n != want {
			t.Errorf("%q: %d lines, want %d", line, n, want)
		}
	}
}
