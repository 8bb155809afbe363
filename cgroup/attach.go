package cgroup

import (
	"fmt"
	"os"

	"github.com/lxc-shim/lxc-shim/cgroupfs"
)

// OpenProcs opens for writing, for every hierarchy process pid is in and
// this mount namespace has mounted, the cgroup.procs file of pid's cgroup:
// writing 0 to each moves the writer in beside pid (lxc-initd attach hands
// them to its nsenter constructor). The paths of /proc/PID/cgroup are read
// in the caller's cgroup namespace, so they are the host's even when pid
// has a cgroup namespace of its own.
func OpenProcs(pid int) ([]*os.File, error) {
	paths, err := cgroupfs.ProcsFiles(pid)
	if err != nil {
		return nil, err
	}
	var files []*os.File
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, fmt.Errorf("cgroup of pid %d: %w", pid, err)
		}
		files = append(files, f)
	}
	return files, nil
}
