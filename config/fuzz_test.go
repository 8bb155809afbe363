package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: the reader never panics, and whatever it accepts reads to the
// same model after update-config. Inputs that would read other files
// (includes, fstab) are skipped: they would depend on the host's files.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/seed-funtoo0.conf", "testdata/busybox/bb1/config"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range keySamples {
		f.Add([]byte(s))
	}
	f.Add([]byte("lxc.network.type = veth\nlxc.network.link = br0\n#lxc.network.type = veth\nlxc.network.type = empty\nlxc.network.ipv4 = 10.0.0.1\n"))
	f.Add([]byte("lxc.utsname = \"a\" # c\nlxc.tty = 1 #\nlxc.pivotdir = x\nlxc.limit.nofile = 1:2\n"))
	f.Add([]byte("lxc.cgroup.memory.limit_in_bytes = 1G\nlxc.cgroup.memory.memsw.limit_in_bytes = 2G\r\nlxc.cgroup2.cpu.weight = 5\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, line := range strings.Split(string(data), "\n") {
			k, _, ok, _ := splitLine(line)
			if ok && (strings.Contains(k, "include") || strings.Contains(k, "fstab") || k == "lxc.mount") {
				t.Skip("reads other files")
			}
		}
		in := filepath.Join(dir, "in")
		out := filepath.Join(dir, "out")
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		a, errA := LoadWith(in, "c1", hostNoLSM)
		updated := UpdateBytes(data)
		if bytes.Count(updated, []byte("\n")) != bytes.Count(data, []byte("\n")) {
			t.Fatalf("update-config changed the line count")
		}
		if errA != nil {
			return
		}
		if err := os.WriteFile(out, updated, 0o644); err != nil {
			t.Fatal(err)
		}
		b, errB := LoadWith(out, "c1", hostNoLSM)
		if errB != nil {
			t.Fatalf("accepted input rejected after update-config: %v\ninput:\n%q\nupdated:\n%q", errB, data, updated)
		}
		if ma, mb := modelJSON(t, a), modelJSON(t, b); ma != mb {
			t.Fatalf("models differ after update-config\ninput: %q\nupdated: %q\n%s\n%s", data, updated, ma, mb)
		}
		if b.HasLegacyKeys {
			t.Fatalf("legacy keys left after update-config: %q", updated)
		}
	})
}
