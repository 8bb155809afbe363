package cgroupfs

import (
	"reflect"
	"strings"
	"testing"
)

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
	mounts, err := ReadMounts(strings.NewReader(tkMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	proc := "12:pids:/lxc-shim/tk1\n9:memory:/lxc-shim/tk1\n4:cpu,cpuacct:/lxc-shim/tk1\n" +
		"3:rdma:/\n1:name=systemd:/lxc-shim/tk1\n0::/lxc-shim/tk1\n"
	got := procsFiles(proc, mounts)
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
	if got := procsFiles("12:pids:/lxc-shimX/tk1\n", mounts); len(got) != 0 {
		t.Errorf("path outside the mount root mapped to %q", got)
	}
}

func TestHierarchiesAndKeys(t *testing.T) {
	mounts, err := ReadMounts(strings.NewReader(tkMountinfo +
		"38 29 0:32 /sub /mnt/memory-bind rw - cgroup cgroup rw,memory\n" +
		"39 29 0:34 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,noprefix,cpuset,release_agent=/x\n"))
	if err != nil {
		t.Fatal(err)
	}
	// Hierarchies reads cgroup2's cgroup.controllers: keep v1 alone here.
	var v1 []Mount
	for _, m := range mounts {
		if !m.V2 {
			v1 = append(v1, m)
		}
	}
	known := map[string]bool{"cpu": true, "cpuacct": true, "memory": true, "pids": true, "cpuset": true}
	hs, err := Hierarchies(v1, known)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hs {
		got = append(got, h.Key()+"@"+h.Point)
	}
	want := []string{"cpu,cpuacct@/sys/fs/cgroup/cpu,cpuacct", "cpuset@/sys/fs/cgroup/cpuset",
		"memory@/sys/fs/cgroup/memory", "name=systemd@/sys/fs/cgroup/systemd", "pids@/mnt/pids bind"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Hierarchies = %q, want %q", got, want)
	}
	for _, h := range hs {
		if h.Key() == "cpuset" && (!h.NoPrefix || h.MountData() != "cpuset") {
			t.Errorf("cpuset mount read as %+v (data %q)", h, h.MountData())
		}
	}
	if l := LayoutOf(mounts); l != LayoutHybrid {
		t.Errorf("LayoutOf = %q, want hybrid", l)
	}
	if l := LayoutOf(v1); l != LayoutV1 {
		t.Errorf("LayoutOf(v1 only) = %q, want v1", l)
	}
	// The keys of /proc/PID/cgroup are those of the mounts.
	own := ParseProcCgroup("4:cpuacct,cpu:/a\n1:name=systemd:/b\n0::/c\n")
	wantOwn := map[string]string{"cpu,cpuacct": "/a", "name=systemd": "/b", UnifiedKey: "/c"}
	if !reflect.DeepEqual(own, wantOwn) {
		t.Errorf("ParseProcCgroup = %v, want %v", own, wantOwn)
	}
}
