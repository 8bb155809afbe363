package cgroup

import (
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// AllowDevice grants one more device to a running cgroup and RevokeDevice
// takes it back, leaving what the config grants as it was: on this host's
// v1 devices controller, and on its cgroup2 hierarchy alone (the device
// program rebuilt and swapped in place of the attached one). The verdicts
// are the kernel's, from a process inside.
func TestTGDeviceGrantRevoke(t *testing.T) {
	testutil.RequireRoot(t)
	nodes := t.TempDir()
	for _, d := range probeDevs {
		mode := uint32(syscall.S_IFCHR)
		if d.typ == 'b' {
			mode = syscall.S_IFBLK
		}
		if err := unix.Mknod(filepath.Join(nodes, d.name), mode|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
			t.Fatal(err)
		}
	}
	rules := parseRules(t, "deny a; allow c 1:3 rwm; allow c 1:5 r")
	var v2only []mount
	for _, m := range mustMounts(t) {
		if m.v2 {
			v2only = append(v2only, m)
		}
	}
	views := map[string]func() *Cgroup{
		"host": func() *Cgroup { return newTestCgroup(t, config.Cgroup{Devices: rules}) },
		"v2 only": func() *Cgroup {
			name := testutil.Name("tg")
			g, err := newFromMounts(name, config.Cgroup{Devices: rules}, filepath.Join(DefaultParent, name), v2only)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cleanupCgroup(t, g) })
			return g
		},
	}
	for view, mk := range views {
		t.Run(view, func(t *testing.T) {
			if view == "v2 only" && len(v2only) == 0 {
				t.Skip("no cgroup2 hierarchy")
			}
			g := mk()
			if err := g.Create(); err != nil {
				t.Fatal(err)
			}
			loop := config.DeviceRule{Type: 'b', Major: 7, Minor: 200, Access: "rwm"}
			zero := config.DeviceRule{Type: 'c', Major: 1, Minor: 5, Access: "rwm"}
			check := func(when string, want map[string]bool) {
				t.Helper()
				got := probeIn(t, g, nodes)
				for k, v := range want {
					if got[k] != v {
						t.Errorf("%s: %s allowed=%v, want %v", when, k, got[k], v)
					}
				}
			}
			check("before", map[string]bool{"loop200 r": false, "null rw": true, "zero r": true, "zero w": false})
			if err := g.AllowDevice(loop); err != nil {
				t.Fatal(err)
			}
			if err := g.AllowDevice(zero); err != nil {
				t.Fatal(err)
			}
			check("granted", map[string]bool{"loop200 r": true, "loop200 rw": true, "loop200 m": true, "zero w": true, "null rw": true, "b8 r": false})
			if err := g.RevokeDevice(loop); err != nil {
				t.Fatal(err)
			}
			if err := g.RevokeDevice(zero); err != nil {
				t.Fatal(err)
			}
			// The config's own read of zero stays.
			check("revoked", map[string]bool{"loop200 r": false, "loop200 m": false, "zero r": true, "zero w": false, "null rw": true})
			if err := g.RevokeDevice(loop); err == nil {
				t.Error("a second revoke of the same device was accepted")
			}
		})
	}
}
