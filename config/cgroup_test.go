package config

import (
	"os"
	"strings"
	"testing"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// TestCgroupTranslation: each v1 setting with an exact v2 equivalent is
// translated (and back), the rest are marked NoEquivalent.
func TestCgroupTranslation(t *testing.T) {
	tests := []struct {
		name, text string
		v1, v2     map[string]string // expected final values
		noEquiv    []string          // files marked NoEquivalent
	}{
		{"memory", "lxc.cgroup.memory.limit_in_bytes = 512M",
			map[string]string{"memory.limit_in_bytes": "536870912"},
			map[string]string{"memory.max": "536870912"}, nil},
		{"memory unlimited", "lxc.cgroup.memory.limit_in_bytes = -1",
			map[string]string{"memory.limit_in_bytes": "-1"}, map[string]string{"memory.max": "max"}, nil},
		{"memsw", "lxc.cgroup.memory.limit_in_bytes = 512M\nlxc.cgroup.memory.memsw.limit_in_bytes = 1G",
			map[string]string{"memory.limit_in_bytes": "536870912", "memory.memsw.limit_in_bytes": "1073741824"},
			map[string]string{"memory.max": "536870912", "memory.swap.max": "536870912"}, nil},
		{"memsw without memory", "lxc.cgroup.memory.memsw.limit_in_bytes = 1G",
			map[string]string{"memory.memsw.limit_in_bytes": "1073741824"}, map[string]string{},
			[]string{"memory.memsw.limit_in_bytes"}},
		{"v2 memory and swap", "lxc.cgroup2.memory.max = 1G\nlxc.cgroup2.memory.swap.max = 1G",
			map[string]string{"memory.limit_in_bytes": "1073741824", "memory.memsw.limit_in_bytes": "2147483648"},
			map[string]string{"memory.max": "1073741824", "memory.swap.max": "1073741824"}, nil},
		{"shares", "lxc.cgroup.cpu.shares = 1024",
			map[string]string{"cpu.shares": "1024"}, map[string]string{"cpu.weight": "100"}, nil},
		{"shares min max", "lxc.cgroup.cpu.shares = 2\nlxc.cgroup2.cpu.weight = 10000",
			map[string]string{"cpu.shares": "2"}, map[string]string{"cpu.weight": "10000"}, nil},
		{"weight", "lxc.cgroup2.cpu.weight = 100",
			map[string]string{"cpu.shares": "1024"}, map[string]string{"cpu.weight": "100"}, nil},
		{"cpuset", "lxc.cgroup.cpuset.cpus = 0-1\nlxc.cgroup.cpuset.mems = 0",
			map[string]string{"cpuset.cpus": "0-1", "cpuset.mems": "0"},
			map[string]string{"cpuset.cpus": "0-1", "cpuset.mems": "0"}, nil},
		{"blkio", "lxc.cgroup.blkio.weight = 500",
			map[string]string{"blkio.weight": "500"}, map[string]string{"io.weight": "4950"}, nil},
		{"blkio bounds", "lxc.cgroup.blkio.weight = 10",
			map[string]string{"blkio.weight": "10"}, map[string]string{"io.weight": "1"}, nil},
		{"io", "lxc.cgroup2.io.weight = 10000",
			map[string]string{"blkio.weight": "1000"}, map[string]string{"io.weight": "10000"}, nil},
		{"pids", "lxc.cgroup.pids.max = 100",
			map[string]string{"pids.max": "100"}, map[string]string{"pids.max": "100"}, nil},
		{"cpu quota", "lxc.cgroup.cpu.cfs_quota_us = 50000\nlxc.cgroup.cpu.cfs_period_us = 100000",
			map[string]string{"cpu.cfs_quota_us": "50000", "cpu.cfs_period_us": "100000"},
			map[string]string{"cpu.max": "50000 100000"}, nil},
		{"cpu.max", "lxc.cgroup2.cpu.max = max 100000",
			map[string]string{"cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000"},
			map[string]string{"cpu.max": "max 100000"}, nil},
		{"v1 only", "lxc.cgroup.memory.swappiness = 10",
			map[string]string{"memory.swappiness": "10"}, map[string]string{}, []string{"memory.swappiness"}},
		{"v2 only", "lxc.cgroup2.memory.high = 1G",
			map[string]string{}, map[string]string{"memory.high": "1073741824"}, []string{"memory.high"}},
		{"later line wins", "lxc.cgroup.pids.max = 100\nlxc.cgroup.pids.max = 200",
			map[string]string{"pids.max": "200"}, map[string]string{"pids.max": "200"}, nil},
		{"both written", "lxc.cgroup.memory.limit_in_bytes = 1G\nlxc.cgroup2.memory.max = 2G",
			map[string]string{"memory.limit_in_bytes": "1073741824"}, map[string]string{"memory.max": "2147483648"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err, _ := loadText(t, tc.text, nil, hostNoLSM)
			if err != nil {
				t.Fatal(err)
			}
			check := func(h string, list []CgroupSetting, want map[string]string) {
				got := settings(list)
				if len(got) != len(want) {
					t.Errorf("%s: %v, want %v", h, got, want)
				}
				for f, v := range want {
					if got[f] != v {
						t.Errorf("%s %s = %q, want %q", h, f, got[f], v)
					}
				}
			}
			check("v1", c.Cgroup.V1, tc.v1)
			check("v2", c.Cgroup.V2, tc.v2)
			var noEq []string
			for _, s := range append(c.Cgroup.V1, c.Cgroup.V2...) {
				if s.NoEquivalent {
					noEq = append(noEq, s.File)
				}
				if s.Pos.Line == 0 {
					t.Errorf("%s has no position", s.File)
				}
			}
			if len(noEq) != len(tc.noEquiv) || (len(noEq) > 0 && noEq[0] != tc.noEquiv[0]) {
				t.Errorf("NoEquivalent %v, want %v", noEq, tc.noEquiv)
			}
		})
	}
}

// TestWeightFormulas pins the conversions at their bounds and midpoints.
// The cpu.shares → cpu.weight table is the one opencontainers/cgroups
// publishes for its 2025 conversion (ConvertCPUSharesToCgroupV2Value):
// the defaults stay equal (1024 → 100), where the old linear formula gave
// 39. Every weight round-trips through WeightToShares.
func TestWeightFormulas(t *testing.T) {
	for _, tc := range []struct{ shares, weight int64 }{
		// Published points: the three the curve is fitted to, and 256 → 35
		// (Kubernetes' 250m request); the others are the formula
		// evaluated independently (Python's math.log2/ceil).
		{2, 1}, {256, 35}, {1024, 100}, {262144, 10000},
		{3, 2}, {10, 4}, {100, 17}, {512, 59}, {1000, 99}, {1025, 101},
		{2048, 174}, {10000, 627}, {65536, 3023}, {262143, 10000},
	} {
		if got := SharesToWeight(tc.shares); got != tc.weight {
			t.Errorf("SharesToWeight(%d) = %d, want %d", tc.shares, got, tc.weight)
		}
	}
	for _, tc := range []struct{ weight, shares int64 }{{1, 2}, {100, 1024}, {10000, 262144}} {
		if got := WeightToShares(tc.weight); got != tc.shares {
			t.Errorf("WeightToShares(%d) = %d, want %d", tc.weight, got, tc.shares)
		}
	}
	for w := int64(1); w <= 10000; w++ {
		if got := SharesToWeight(WeightToShares(w)); got != w {
			t.Fatalf("weight %d → shares %d → weight %d", w, WeightToShares(w), got)
		}
	}
	for _, tc := range []struct{ blkio, io int64 }{{10, 1}, {500, 4950}, {1000, 10000}} {
		if got := BlkioToIOWeight(tc.blkio); got != tc.io {
			t.Errorf("BlkioToIOWeight(%d) = %d, want %d", tc.blkio, got, tc.io)
		}
	}
	if IOToBlkioWeight(1) != 10 || IOToBlkioWeight(10000) != 1000 {
		t.Errorf("IOToBlkioWeight bounds")
	}
}

// TestCgroupDirOwnSubtree: lxc.cgroup.dir outside lxc-shim's own subtree
// (a service's cgroup, a top-level directory, the subtree's root itself)
// is an error naming the file, line and key; below it is accepted.
func TestCgroupDirOwnSubtree(t *testing.T) {
	for _, v := range []string{"system.slice/foo.service", "some/other/svc", "lxc-shim", "lxc-shimx/c1", "c1"} {
		_, err, dir := loadText(t, "lxc.uts.name = c1\nlxc.cgroup.dir = "+v+"\n", nil, hostNoLSM)
		if err == nil {
			t.Errorf("lxc.cgroup.dir = %s accepted", v)
			continue
		}
		got := strings.Join(errLines(t, err, dir), "\n")
		for _, want := range []string{"config:2: lxc.cgroup.dir:", v, "outside lxc-shim's own subtree"} {
			if !strings.Contains(got, want) {
				t.Errorf("lxc.cgroup.dir = %s: error %q lacks %q", v, got, want)
			}
		}
	}
	for _, v := range []string{"lxc-shim/c1", "lxc-shim/web/c1"} {
		c, err, _ := loadText(t, "lxc.cgroup.dir = "+v+"\n", nil, hostNoLSM)
		if err != nil {
			t.Errorf("lxc.cgroup.dir = %s: %v", v, err)
		} else if c.Cgroup.Dir != v {
			t.Errorf("lxc.cgroup.dir = %s: Dir %q", v, c.Cgroup.Dir)
		}
	}
}

// TestDeviceListsPerHierarchy: lxc.cgroup.devices and lxc.cgroup2.devices
// are kept apart; lists that differ are a warning naming both, and
// DeviceRules picks the list of the hierarchy the devices controller is on
// (the other one where the config gives only that).
func TestDeviceListsPerHierarchy(t *testing.T) {
	c, err, dir := loadText(t, "lxc.cgroup.devices.deny = a\nlxc.cgroup.devices.allow = c 1:3 rwm\nlxc.cgroup.devices.allow = c 10:200 rwm\nlxc.cgroup2.devices.deny = a\nlxc.cgroup2.devices.allow = c 1:3 rwm\n", nil, hostNoLSM)
	if err != nil {
		t.Fatal(err)
	}
	equalLines(t, "warnings", diagLines(c.Warnings, dir), []string{
		"config:4: lxc.cgroup2.devices.deny: the lxc.cgroup2.devices rules differ from the lxc.cgroup.devices rules (config:1: lxc.cgroup.devices.deny): as in LXC, lxc.cgroup.devices applies where the devices controller is on cgroup v1 and lxc.cgroup2.devices where it is on cgroup2",
	})
	if v1 := c.Cgroup.DeviceRules(false); len(v1) != 3 || v1[2].Major != 10 || v1[2].Pos.Line != 3 {
		t.Errorf("v1 list %+v", v1)
	}
	if v2 := c.Cgroup.DeviceRules(true); len(v2) != 2 || v2[1].Major != 1 || v2[1].Pos.Key != "lxc.cgroup2.devices.allow" {
		t.Errorf("v2 list %+v", v2)
	}

	only1, err, _ := loadText(t, "lxc.cgroup.devices.deny = a\n", nil, hostNoLSM)
	if err != nil {
		t.Fatal(err)
	}
	if len(only1.Warnings) != 0 || len(only1.Cgroup.DeviceRules(true)) != 1 || len(only1.Cgroup.DeviceRules(false)) != 1 {
		t.Errorf("one list: warnings %v, rules v2 %v v1 %v", only1.Warnings, only1.Cgroup.DeviceRules(true), only1.Cgroup.DeviceRules(false))
	}
}

// TestGentooInclude: LXC's gentoo.common.conf (its v1 list has four rules
// more than its v2 list) reads without an error, each list intact.
func TestGentooInclude(t *testing.T) {
	const gentoo = "/usr/share/lxc/config/gentoo.common.conf"
	_, err := os.Stat(gentoo)
	testutil.RequireInstalled(t, "lxc-templates", err)
	opts := hostNoLSM
	c, err, _ := loadText(t, "lxc.include = "+gentoo+"\nlxc.rootfs.path = /r\n", nil, opts)
	if err != nil {
		var errs *Errors
		if asErrors(err, &errs) {
			for _, e := range errs.List {
				if strings.Contains(e.Pos.Key, "devices") {
					t.Errorf("device rule refused: %s", e)
				}
			}
		}
		return
	}
	if n1, n2 := len(c.Cgroup.DeviceRules(false)), len(c.Cgroup.DeviceRules(true)); n1 != n2+4 {
		t.Errorf("%d v1 rules, %d v2: want 4 more on v1", n1, n2)
	}
}
