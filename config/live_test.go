package config

import (
	"strings"
	"testing"
)

// A setting given on the command line is checked and translated as the
// same config line: its own hierarchy's form and the other's.
func TestCgroupLive(t *testing.T) {
	cases := []struct {
		key, value string
		bare       int
		v1, v2     string // "FILE=VALUE" expected on each hierarchy ("" none)
	}{
		{"lxc.cgroup.memory.limit_in_bytes", "512M", 2, "memory.limit_in_bytes=536870912", "memory.max=536870912"},
		{"lxc.cgroup2.memory.max", "1G", 1, "memory.limit_in_bytes=1073741824", "memory.max=1073741824"},
		{"memory.max", "max", 2, "memory.limit_in_bytes=-1", "memory.max=max"},
		{"memory.limit_in_bytes", "-1", 1, "memory.limit_in_bytes=-1", "memory.max=max"},
		{"cpu.shares", "1024", 1, "cpu.shares=1024", "cpu.weight=100"},
		{"lxc.cgroup.cpu.cfs_quota_us", "50000", 0, "cpu.cfs_quota_us=50000", "cpu.max=50000"},
	}
	for _, c := range cases {
		got, err := CgroupLive(c.key, c.value, c.bare)
		if err != nil {
			t.Errorf("%s %s: %v", c.key, c.value, err)
			continue
		}
		one := func(list []CgroupSetting) string {
			if len(list) == 0 {
				return ""
			}
			return list[0].File + "=" + list[0].Value
		}
		if one(got.V1) != c.v1 || one(got.V2) != c.v2 {
			t.Errorf("%s %s: v1 %q v2 %q, want %q %q", c.key, c.value, one(got.V1), one(got.V2), c.v1, c.v2)
		}
	}
	for _, bad := range [][2]string{
		{"memory.limit_in_bytes", "lots"},
		{"nosuch.file", "1"},
		{"lxc.cgroup.devices.allow", "a"},
		{"lxc.cgroup.memory.limit_in_bytes", ""},
		{"lxc.cgroup.pids.max", "-5"},
	} {
		_, err := CgroupLive(bad[0], bad[1], 1)
		if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(strings.TrimPrefix(bad[0], "lxc.cgroup."), "lxc.cgroup2.")) {
			t.Errorf("%s %q: %v, want an error naming the key", bad[0], bad[1], err)
		}
	}
}
