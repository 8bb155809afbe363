package cgroup

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/lxc-shim/lxc-shim/config"
)

// TestTGChownDelegates: Chown gives the container's root its cgroup
// directory and the files that move processes and, on cgroup2, enable
// controllers, in every hierarchy; the limit files stay root's, and a
// child cgroup the container made is removed with the rest.
func TestTGChownDelegates(t *testing.T) {
	g := newTestCgroup(t, config.Cgroup{})
	if err := g.Create(); err != nil {
		t.Fatal(err)
	}
	const uid, gid = 100000, 100001
	if err := g.Chown(uid, gid); err != nil {
		t.Fatal(err)
	}
	owner := func(p string) (uint32, uint32, bool) {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return 0, 0, false
		}
		return st.Uid, st.Gid, true
	}
	for key, dir := range g.Paths() {
		files := delegatedFiles[key == unifiedKey]
		for _, p := range append([]string{dir}, prefixed(dir, files)...) {
			u, gr, ok := owner(p)
			if ok && (u != uid || gr != gid) {
				t.Errorf("%s: owner %d:%d, want %d:%d", p, u, gr, uid, gid)
			}
			if !ok && (p == dir || filepath.Base(p) == "cgroup.procs") {
				t.Errorf("%s is missing", p)
			}
		}
		if key == unifiedKey {
			if u, _, ok := owner(filepath.Join(dir, "cgroup.max.depth")); !ok || u != 0 {
				t.Errorf("%s/cgroup.max.depth: owner %d (present %v), want root's", dir, u, ok)
			}
		}
		// What the delegated root would make; Remove takes it too.
		if err := os.Mkdir(filepath.Join(dir, "child"), 0o755); err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}
}

func prefixed(dir string, names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, filepath.Join(dir, n))
	}
	return out
}
