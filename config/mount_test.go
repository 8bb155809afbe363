package config

import (
	"strings"
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

// TestMountOptionsRefused: an option the launcher would not apply is an
// error naming the line, never dropped.
func TestMountOptionsRefused(t *testing.T) {
	tests := []struct{ entry, want string }{
		{"/srv/x mnt none bind,mode=0755 0 0", `invalid mount options "bind,mode=0755": "mode=0755": a bind mount takes no file system options`},
		{"/srv/x mnt none bind,sync 0 0", `invalid mount options "bind,sync": sync: file system flags, which a bind mount cannot change`},
		{"/srv/x mnt none rbind,dirsync,lazytime 0 0", `invalid mount options "rbind,dirsync,lazytime": dirsync,lazytime: file system flags`},
		{"/srv/x mnt none bind,async,nomand 0 0", `invalid mount options "bind,async,nomand": async,nomand: file system flags`},
		{"/srv/x mnt none bind,rslave,private 0 0", `invalid mount options "bind,rslave,private": two propagation options (rslave and private); give one`},
		{"/dev/sdb1 mnt ext4 noauto 0 0", `mount option "noauto" is not supported: lxc-shim mounts every entry`},
		{"/dev/sdb1 mnt ext4 user 0 0", `mount option "user" is not supported`},
		{"/srv/x mnt none bind,move 0 0", `mount option "move" is not supported`},
	}
	for _, tc := range tests {
		t.Run(tc.entry, func(t *testing.T) {
			_, err, _ := loadText(t, "lxc.rootfs.path = /srv/c1/rootfs\nlxc.mount.entry = "+tc.entry, nil, hostNoLSM)
			if err == nil || !strings.Contains(err.Error(), "config:2: lxc.mount.entry: "+tc.want) {
				t.Errorf("error %v\nwant it to contain config:2: lxc.mount.entry: %s", err, tc.want)
			}
		})
	}
}

// TestMountClearFlags: what an option turns off is kept apart from what
// was never mentioned, so a bind can clear it on its source.
func TestMountClearFlags(t *testing.T) {
	tests := []struct {
		options      string
		flags, clear uintptr
	}{
		{"bind", unix.MS_BIND, 0},
		{"bind,suid,dev", unix.MS_BIND, unix.MS_NOSUID | unix.MS_NODEV},
		{"bind,rw,ro", unix.MS_BIND | unix.MS_RDONLY, 0},
		{"bind,ro,rw,exec,noexec", unix.MS_BIND | unix.MS_NOEXEC, unix.MS_RDONLY},
		{"bind,atime", unix.MS_BIND, unix.MS_NOATIME},
	}
	for _, tc := range tests {
		c, err, _ := loadText(t, "lxc.rootfs.path = /srv/c1/rootfs\nlxc.mount.entry = /srv/x mnt none "+tc.options, nil, hostNoLSM)
		if err != nil {
			t.Fatal(err)
		}
		if m := c.Mounts[0]; m.Flags != tc.flags || m.ClearFlags != tc.clear {
			t.Errorf("%s: flags %#x clear %#x, want %#x %#x", tc.options, m.Flags, m.ClearFlags, tc.flags, tc.clear)
		}
	}
}
