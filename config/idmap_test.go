package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestIDMapBad: each bad map is one error naming the file, line and key.
func TestIDMapBad(t *testing.T) {
	const g = "lxc.idmap = g 0 100000 65536\n"
	const u = "lxc.idmap = u 0 100000 65536\n"
	tests := []struct {
		name, text, want string
	}{
		{"no uid root", "lxc.idmap = u 1 100000 65535\n" + g,
			`config:2: lxc.idmap: no uid map covers container root (uid 0): add "lxc.idmap = u 0 HOSTID COUNT"`},
		{"no gid root", u,
			`config:1: lxc.idmap: no gid map covers container root (gid 0): add "lxc.idmap = g 0 HOSTID COUNT"`},
		{"host root", "lxc.idmap = u 0 0 65536\n" + g,
			`config:1: lxc.idmap: host uid range 0-65535 contains host uid 0: root of the host must never be mapped into a container`},
		{"host root gid", u + "lxc.idmap = g 0 0 1\n",
			`config:2: lxc.idmap: host gid range 0-0 contains host gid 0: root of the host must never be mapped into a container`},
		{"container overlap", u + "lxc.idmap = u 1000 300000 10\n" + g,
			`config:2: lxc.idmap: container uid range 1000-1009 overlaps the one of config:1 (0-65535)`},
		{"host overlap", "lxc.idmap = u 0 100000 1000\nlxc.idmap = u 1000 100500 1000\n" + g,
			`config:2: lxc.idmap: host uid range 100500-101499 overlaps the one of config:1 (100000-100999)`},
		{"past max", "lxc.idmap = u 0 4294967000 1000\n" + g,
			`config:1: lxc.idmap: uid range 0-999 -> 4294967000-4294967999 goes past the largest id 4294967294`},
		{"init uid", u + g + "lxc.init.uid = 70000\n",
			`config:2: lxc.idmap: lxc.init.uid 70000 is not mapped by lxc.idmap`},
		{"rootfs idmap without map", "lxc.rootfs.options = idmap=container\n",
			`config:1: lxc.rootfs.options: idmap=container needs lxc.idmap (the container has no user namespace to map the rootfs to)`},
		{"rootfs other userns", u + g + "lxc.rootfs.options = idmap=/proc/1/ns/user\n",
			`config:3: lxc.rootfs.options: mount option "idmap=/proc/1/ns/user" is not supported: only idmap=container (the container's own user namespace)`},
		{"mount idmap without map", "lxc.mount.entry = /srv srv none bind,idmap=container 0 0\n",
			`config:1: lxc.mount.entry: idmap=container needs lxc.idmap (the container has no user namespace to map the mount to)`},
		{"mount idmap not bind", u + g + "lxc.mount.entry = tmpfs tmp tmpfs idmap=container 0 0\n",
			`config:3: lxc.mount.entry: idmap=container applies to bind mounts only`},
		{"mount idmap relative", u + g + "lxc.mount.entry = usr/share mnt none bind,relative,idmap=container 0 0\n",
			`config:3: lxc.mount.entry: idmap=container takes a host source, not a relative one`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err, dir := loadText(t, tc.text, nil, hostNoLSM)
			if err == nil {
				t.Fatalf("no error for %q", tc.text)
			}
			got := errLines(t, err, dir)
			equalLines(t, "errors", got, []string{tc.want})
		})
	}
}

// TestIDMapGood: several ranges, the maps looked up both ways, and the
// idmap=container options read.
func TestIDMapGood(t *testing.T) {
	text := "lxc.idmap = u 0 100000 1000\nlxc.idmap = u 1000 1000 1\nlxc.idmap = u 1001 101001 64535\n" +
		"lxc.idmap = g 0 100000 65536\nlxc.rootfs.options = idmap=container\n" +
		"lxc.mount.entry = /srv srv none bind,idmap=container,create=dir 0 0\n"
	if os.Getuid() == 1000 {
		t.Skip("this test maps host uid 1000, the test's own")
	}
	c, err, _ := loadText(t, text, nil, hostNoLSM)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Unprivileged() || !c.Rootfs.IDMapped || len(c.Mounts) != 1 || !c.Mounts[0].IDMapped {
		t.Fatalf("unprivileged %v rootfs idmapped %v mounts %+v", c.Unprivileged(), c.Rootfs.IDMapped, c.Mounts)
	}
	for _, tc := range []struct {
		kind      rune
		in, host  int64
		hostKnown bool
	}{{'u', 0, 100000, true}, {'u', 1000, 1000, true}, {'u', 1001, 101001, true}, {'u', 65536, 0, false}, {'g', 65535, 165535, true}} {
		h, ok := c.HostID(tc.kind, tc.in)
		if ok != tc.hostKnown || h != tc.host {
			t.Errorf("HostID(%c, %d) = %d, %v; want %d, %v", tc.kind, tc.in, h, ok, tc.host, tc.hostKnown)
		}
		if ok {
			back, ok := c.ContainerID(tc.kind, h)
			if !ok || back != tc.in {
				t.Errorf("ContainerID(%c, %d) = %d, %v; want %d", tc.kind, h, back, ok, tc.in)
			}
		}
	}
}

// TestIDMapRootfsChecks: a rootfs the container's root cannot reach, or
// whose owner the map does not cover, is an error at lxc.rootfs.path
// naming the directory (and the owner).
func TestIDMapRootfsChecks(t *testing.T) {
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "sub", "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := "lxc.rootfs.path = " + rootfs + "\nlxc.idmap = u 0 3000000 65536\nlxc.idmap = g 0 3000000 65536\n"
	for _, tc := range []struct {
		mode os.FileMode
		want string
	}{
		{0o700, "config:1: lxc.rootfs.path: " + dir + " cannot be searched by the container's root (host uid 3000000)"},
		{0o711, "config:1: lxc.rootfs.path: " + rootfs + " is owned by host uid " + strconv.Itoa(os.Getuid()) + ", which lxc.idmap does not map"},
	} {
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if err := os.Chmod(d, tc.mode); err != nil {
				t.Fatal(err)
			}
		}
		_, err, cdir := loadText(t, text, nil, hostNoLSM)
		got := errLines(t, err, cdir)
		if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
			t.Errorf("mode %o: errors %q, want one starting %q", tc.mode, got, tc.want)
		}
	}
	// idmap=container: the owners are container ids, which this map
	// covers for root's tree; the check passes.
	if os.Getuid() == 0 {
		if _, err, _ := loadText(t, text+"lxc.rootfs.options = idmap=container\n", nil, hostNoLSM); err != nil {
			t.Errorf("idmapped root-owned rootfs: %v", err)
		}
	}
}

func TestReleaseAtLeast(t *testing.T) {
	for rel, want := range map[string]bool{"6.18.44-fc-v782": true, "5.12.0": true, "5.11.22-arch1": false, "4.19.0-21-amd64": false, "garbage": true} {
		if got := releaseAtLeast(rel, 5, 12); got != want {
			t.Errorf("releaseAtLeast(%q, 5, 12) = %v, want %v", rel, got, want)
		}
	}
}
