package config

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestMountEntries: options become mount(2) flags and data, LXC's own
// options are recognised, and targets are made relative to the rootfs.
func TestMountEntries(t *testing.T) {
	tests := []struct {
		entry  string
		target string
		flags  uintptr
		data   string
		check  func(Mount) bool
	}{
		{"proc proc proc nosuid,nodev,noexec 0 0", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "", nil},
		{"/srv/data /srv/c1/rootfs/srv/data none bind,create=dir 0 0", "srv/data", unix.MS_BIND, "",
			func(m Mount) bool { return m.CreateDir }},
		{"/etc/resolv.conf etc/resolv.conf none ro,bind,create=file,optional", "etc/resolv.conf", unix.MS_BIND | unix.MS_RDONLY, "",
			func(m Mount) bool { return m.CreateFil && m.Optional }},
		{"/dev/dri dev/dri none rbind,rslave 0 0", "dev/dri", unix.MS_BIND | unix.MS_REC, "",
			func(m Mount) bool { return m.Propagation == unix.MS_SLAVE|unix.MS_REC }},
		{"tmpfs /tmp tmpfs defaults,size=1g,mode=1777", "tmp", 0, "size=1g,mode=1777", nil},
		{"/other/place /other/place none bind", "other/place", unix.MS_BIND, "", nil},
		{"tmpfs run tmpfs rw,ro,rw,noatime 0 0", "run", unix.MS_NOATIME, "", nil},
		{`/srv/with\040space mnt/x none bind`, "mnt/x", unix.MS_BIND, "",
			func(m Mount) bool { return m.Source == "/srv/with space" }},
		{"var/cache cache none bind,relative", "cache", unix.MS_BIND, "",
			func(m Mount) bool { return m.SourceRelative }},
		{"/srv/c1/rootfs / none bind", ".", unix.MS_BIND, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.entry, func(t *testing.T) {
			c, err, _ := loadText(t, "lxc.rootfs.path = /srv/c1/rootfs/\nlxc.mount.entry = "+tc.entry, nil, hostNoLSM)
			if err != nil {
				t.Fatal(err)
			}
			m := c.Mounts[0]
			if m.Target != tc.target || m.Flags != tc.flags || m.Data != tc.data {
				t.Errorf("got target %q flags %#x data %q, want %q %#x %q", m.Target, m.Flags, m.Data, tc.target, tc.flags, tc.data)
			}
			if tc.check != nil && !tc.check(m) {
				t.Errorf("mount %+v", m)
			}
			if m.Pos.Line != 2 || m.Pos.Key != "lxc.mount.entry" {
				t.Errorf("pos %+v", m.Pos)
			}
		})
	}
}

// TestMountFstab: lxc.mount.fstab entries come first, in order, with their
// own file and line, whatever the key's position.
func TestMountFstab(t *testing.T) {
	c, err, dir := loadText(t, "lxc.mount.entry = tmpfs tmp tmpfs defaults 0 0\nlxc.rootfs.path = /lxc/funtoo0/rootfs\nlxc.mount = fstab\n",
		map[string]string{"fstab": "# comment\nnone /lxc/funtoo0/rootfs/dev/pts devpts defaults 0 0\n\nnone /lxc/funtoo0/proc proc defaults 0 0\n"}, hostNoLSM)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Mounts) != 3 {
		t.Fatalf("mounts %+v", c.Mounts)
	}
	// The seed's own fstab names targets outside the rootfs: LXC takes
	// them as relative to it.
	want := []string{"dev/pts", "lxc/funtoo0/proc", "tmp"}
	for i, m := range c.Mounts {
		if m.Target != want[i] {
			t.Errorf("mount %d target %q, want %q", i, m.Target, want[i])
		}
	}
	if p := c.Mounts[1].Pos; p.File != dir+"/fstab" || p.Line != 4 || p.Key != "lxc.mount.fstab" {
		t.Errorf("fstab pos %+v", p)
	}
}
