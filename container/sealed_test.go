package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxc-shim/lxc-shim/sealedexe"
)

// CVE-2019-5736: the stage is this binary re-executed inside the
// container's namespaces. It must run from a sealed copy, so that nothing
// that reaches it through /proc/PID/exe (an init of "/proc/self/exe", a
// script with that interpreter, a container process) can write the host's
// file; and the copy must be gone from the shim once the stage runs and
// from the init once it runs. With a scratch directory (as the shim
// passes its run directory) the stage runs from a read-only view of the
// binary instead, which must be as unwritable.
func TestStageRunsFromSealedCopy(t *testing.T) {
	for _, view := range []bool{false, true} {
		t.Run(map[bool]string{false: "copy", true: "view"}[view], func(t *testing.T) { testStageExe(t, view) })
	}
}

func testStageExe(t *testing.T, view bool) {
	name, rootfs, _ := testinitContainer(t)
	b := newBox(t, baseConfig(name, rootfs))
	if view {
		b.exeScratch = t.TempDir()
	}
	if err := b.spawn(); err != nil {
		t.Fatalf("spawn: %v", err)
	}
	exeLink := fmt.Sprintf("/proc/%d/exe", b.pid)
	exe, err := os.Open(exeLink)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := os.Readlink(exeLink)
	if !view && !sealedexe.IsSealed(exe) {
		t.Errorf("the stage runs from %s, not from a sealed copy", target)
	}
	if view && !sealedexe.IsReadOnlyView(exe) {
		t.Errorf("the stage runs from %s, not from a read-only view", target)
	}
	exe.Close()
	if w, err := os.OpenFile(exeLink, os.O_WRONLY|os.O_APPEND, 0); err == nil {
		_, werr := w.Write([]byte("tk-pwned"))
		w.Close()
		if werr == nil {
			t.Errorf("wrote into the stage's executable %s through %s", target, exeLink)
		}
	}
	if held := memfdsOf("self"); len(held) > 0 {
		t.Errorf("the spawning process still holds %v after Spawn", held)
	}
	if err := b.st.Release(); err != nil {
		t.Fatalf("release: %v", err)
	}
	if got, _ := os.Readlink(exeLink); filepath.Base(got) != "init" || strings.Contains(got, "memfd:") || strings.Contains(got, "lxc-shim") {
		t.Errorf("init runs %q, want the rootfs's /sbin/init", got)
	}
	if held := memfdsOf(fmt.Sprint(b.pid)); len(held) > 0 {
		t.Errorf("the init holds %v", held)
	}
}

// memfdsOf lists the memfds process pid ("self" or a number) has open.
func memfdsOf(pid string) []string {
	dir := "/proc/" + pid + "/fd"
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(l, "/memfd:") {
			out = append(out, e.Name()+" -> "+l)
		}
	}
	return out
}
