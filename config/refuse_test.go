package config

import (
	"testing"
)

// TestRefusalsAreConfigErrors: what the launcher cannot apply is an error
// of Load (so `check` refuses it as `start` does), naming FILE:LINE: KEY,
// a legacy key as written.
func TestRefusalsAreConfigErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"seccomp", "lxc.seccomp.profile = /x.seccomp", `config:1: lxc.seccomp.profile: seccomp profile: open /x.seccomp: no such file or directory`},
		{"legacy seccomp", "lxc.tty.max = 1\nlxc.seccomp = /x.seccomp", `config:2: lxc.seccomp (lxc.seccomp.profile): seccomp profile: open /x.seccomp: no such file or directory`},
		{"legacy idmap", "lxc.id_map = u 0 100000 65536", `config:1: lxc.id_map (lxc.idmap): no gid map covers container root (gid 0): add "lxc.idmap = g 0 HOSTID COUNT"`},
		{"idmap kept user", "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\nlxc.namespace.keep = user", `config:3: lxc.namespace.keep: the user namespace cannot be kept with lxc.idmap`},
		{"share", "lxc.namespace.share.net = other", `config:1: lxc.namespace.share.net: sharing namespaces is not supported by lxc-shim`},
		{"shmounts", "lxc.mount.auto = proc shmounts:/a:/b", `config:1: lxc.mount.auto: shmounts is not supported by lxc-shim`},
		{"cgroup-full", "lxc.mount.auto = cgroup-full:ro", `config:1: lxc.mount.auto: cgroup-full is not supported by lxc-shim (use cgroup:mixed|ro|rw)`},
		{"keep mnt", "lxc.namespace.keep = mnt", `config:1: lxc.namespace.keep: the mount namespace cannot be kept: lxc-shim needs its own to build the rootfs`},
		{"keep pid", "lxc.namespace.keep = net pid", `config:1: lxc.namespace.keep: the pid namespace cannot be kept: the init must be PID 1 of its own namespace`},
		{"clone no pid", "lxc.namespace.clone = mnt net", `config:1: lxc.namespace.clone: the pid namespace cannot be kept: the init must be PID 1 of its own namespace`},
		{"clone user", "lxc.namespace.clone = mnt pid user", `config:1: lxc.namespace.clone: a user namespace needs lxc.idmap`},
		{"clone time", "lxc.namespace.clone = mnt pid time", `config:1: lxc.namespace.clone: time namespaces are not supported by lxc-shim`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err, dir := loadText(t, tc.text+"\n", nil, hostNoLSM)
			if err == nil {
				t.Fatalf("no error for %q", tc.text)
			}
			equalLines(t, "errors", errLines(t, err, dir), []string{tc.want})
		})
	}
	// What lxc-shim applies is no error: the default namespaces, keeping
	// the network's, an unconfined AppArmor profile.
	for _, ok := range []string{"", "lxc.namespace.keep = net ipc uts cgroup", "lxc.namespace.clone = mnt pid", "lxc.apparmor.profile = unconfined"} {
		if _, err, _ := loadText(t, ok+"\n", nil, hostNoLSM); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

// TestLSMKeysAccepted: on a host with AppArmor and SELinux their keys reach
// the model for the launcher to apply; none is refused any more.
func TestLSMKeysAccepted(t *testing.T) {
	c, err, _ := loadText(t, "lxc.apparmor.profile = generated\nlxc.apparmor.allow_nesting = 1\nlxc.apparmor.raw = deny /x rw,\nlxc.selinux.context = system_u:system_r:c_t:s0\nlxc.selinux.context.keyring = system_u:object_r:k_t:s0\n", nil, hostLSM)
	if err != nil {
		t.Fatal(err)
	}
	sec := c.Security
	if sec.AppArmorProfile != "generated" || !sec.AppArmorAllowNesting || len(sec.AppArmorRaw) != 1 ||
		sec.SELinuxContext != "system_u:system_r:c_t:s0" || sec.SELinuxKeyringContext != "system_u:object_r:k_t:s0" {
		t.Errorf("security %+v", sec)
	}
	if r := c.Refusals(); len(r) != 0 {
		t.Errorf("refusals %v", r)
	}
}
