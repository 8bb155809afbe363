package kconfig

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func load(t *testing.T, name string) *Kernel {
	t.Helper()
	k, err := Load(filepath.Join("testdata", name), Version{})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func report(t *testing.T, k *Kernel, loaded func(string) bool) (string, []string) {
	t.Helper()
	var b bytes.Buffer
	s := Checks()
	missing := Report(&b, s, Evaluate(k, s, loaded), Colors{})
	return b.String(), missing
}

func wantLine(t *testing.T, out, line string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if l == line {
			return
		}
	}
	t.Errorf("no line %q in:\n%s", line, out)
}

func TestParseReadsOptionsAndHeaderVersion(t *testing.T) {
	k := load(t, "full.config")
	if k.Version != (Version{6, 1, 0}) {
		t.Errorf("version = %v, want 6.1.0", k.Version)
	}
	for name, want := range map[string]State{"PID_NS": BuiltIn, "VETH": Module, "LOG_BUF_SHIFT": BuiltIn, "NOT_THERE": Missing} {
		if got := k.State(name); got != want {
			t.Errorf("State(%s) = %v, want %v", name, got, want)
		}
	}
	// "# CONFIG_X is not set" is a comment: the option is missing.
	if got := load(t, "missing.config").State("PID_NS"); got != Missing {
		t.Errorf("PID_NS that is 'not set' = %v, want missing", got)
	}
}

func TestLoadReadsGzipWhateverItsName(t *testing.T) {
	raw, err := os.ReadFile("testdata/full.config")
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(raw)
	zw.Close()
	p := filepath.Join(t.TempDir(), "config") // no .gz suffix, as some distributions ship it
	if err := os.WriteFile(p, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := Load(p, Version{})
	if err != nil {
		t.Fatal(err)
	}
	if k.State("NAMESPACES") != BuiltIn || k.Version != (Version{6, 1, 0}) {
		t.Errorf("gzipped config read as %v / %v", k.State("NAMESPACES"), k.Version)
	}
}

func TestParseRejectsWhatIsNotAKernelConfig(t *testing.T) {
	_, err := Parse(strings.NewReader("# hello\nlxc.net.0.type = veth\n"), "lxc.conf")
	if err == nil || !strings.Contains(err.Error(), "lxc.conf:2:") {
		t.Fatalf("err = %v, want one naming lxc.conf:2", err)
	}
	_, err = Parse(strings.NewReader("# only comments\n#\n"), "empty")
	if err == nil {
		t.Fatal("a file of comments only was accepted as a kernel config")
	}
}

func TestLoadUsesFallbackVersionWithoutHeader(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config")
	os.WriteFile(p, []byte("CONFIG_UNIX98_PTYS=y\n"), 0o644)
	k, err := Load(p, ParseVersion("4.19.0-26-amd64"))
	if err != nil {
		t.Fatal(err)
	}
	if k.Version != (Version{4, 19, 0}) {
		t.Errorf("version = %v, want the fallback 4.19.0", k.Version)
	}
}

func TestFullConfigHasEveryRequiredOption(t *testing.T) {
	out, missing := report(t, load(t, "full.config"), nil)
	if len(missing) != 0 {
		t.Errorf("missing = %v, want none\n%s", missing, out)
	}
	wantLine(t, out, "--- Namespaces ---")
	wantLine(t, out, "Pid namespace: enabled")
	wantLine(t, out, "Veth pair device: enabled as module")
	// Removed options that newer kernels always have.
	wantLine(t, out, "Multiple /dev/pts instances: enabled (always since Linux 4.7)")
	wantLine(t, out, "Cgroup namespace: enabled (always since Linux 4.6)")
	wantLine(t, out, "Cgroup memory swap accounting: enabled (always since Linux 6.1)")
}

func TestMissingOptionsAreReportedAndRequiredOnesCounted(t *testing.T) {
	out, missing := report(t, load(t, "missing.config"), nil)
	if strings.Join(missing, ",") != "CONFIG_PID_NS" {
		t.Errorf("missing required = %v, want [CONFIG_PID_NS]\n%s", missing, out)
	}
	wantLine(t, out, "Pid namespace: missing, required [CONFIG_PID_NS]")
	wantLine(t, out, "Veth pair device: missing (needed for lxc.net.N.type = veth) [CONFIG_VETH]")
	wantLine(t, out, "User namespace: missing (needed for lxc.idmap (unprivileged containers)) [CONFIG_USER_NS]")
	// Pre-3.6 names of the memory controller count.
	wantLine(t, out, "Cgroup memory controller: enabled (as CONFIG_CGROUP_MEM_RES_CTLR)")
	wantLine(t, out, "Multiple /dev/pts instances: enabled")
	// 3.2 has no cgroup namespace at all.
	if !strings.Contains(out, "Cgroup namespace: missing") {
		t.Errorf("3.2 kernel reported with a cgroup namespace:\n%s", out)
	}
}

func TestDevptsInstancesRequiredBeforeLinux47(t *testing.T) {
	k := &Kernel{Version: Version{4, 4, 0}, Options: map[string]string{"UNIX98_PTYS": "y"}}
	_, missing := report(t, k, nil)
	if !contains(missing, "CONFIG_DEVPTS_MULTIPLE_INSTANCES") {
		t.Errorf("4.4 without DEVPTS_MULTIPLE_INSTANCES: missing = %v", missing)
	}
	k.Version = Version{4, 7, 0}
	_, missing = report(t, k, nil)
	if contains(missing, "CONFIG_DEVPTS_MULTIPLE_INSTANCES") {
		t.Errorf("4.7 reported DEVPTS_MULTIPLE_INSTANCES missing")
	}
}

func TestModulesSayWhetherLoaded(t *testing.T) {
	out, _ := report(t, load(t, "full.config"), func(m string) bool { return m == "veth" })
	wantLine(t, out, "Veth pair device: enabled as module (loaded)")
	wantLine(t, out, "Macvlan: enabled as module (not loaded)")
}

func TestColorsOnlyWhenAsked(t *testing.T) {
	var b bytes.Buffer
	s := Checks()
	Report(&b, s, Evaluate(load(t, "missing.config"), s, nil), TerminalColors())
	if !strings.Contains(b.String(), "\033[1;31mmissing, required\033[0m") {
		t.Errorf("no red 'missing, required' in coloured output:\n%q", b.String())
	}
	out, _ := report(t, load(t, "missing.config"), nil)
	if strings.Contains(out, "\033[") {
		t.Error("escape sequences in plain output")
	}
}

func TestCgroupLayouts(t *testing.T) {
	read := func(p string) ([]byte, error) {
		if p == "/sys/fs/cgroup/cgroup.controllers" {
			return []byte("cpuset cpu io memory pids\n"), nil
		}
		return nil, os.ErrNotExist
	}
	for _, tc := range []struct {
		file, kind string
		lines      []string
	}{
		{"hybrid.mountinfo", "hybrid", []string{
			"cgroup v1: /sys/fs/cgroup/cpu (cpu)",
			"cgroup v1: /sys/fs/cgroup/systemd (name=systemd)",
			"cgroup v2: /sys/fs/cgroup/unified (no controllers)",
		}},
		{"v2.mountinfo", "v2", []string{"cgroup v2: /sys/fs/cgroup (cpuset,cpu,io,memory,pids)"}},
	} {
		f, err := os.Open(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		l, err := ReadCgroupLayout(f, read)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if l.Kind != tc.kind {
			t.Errorf("%s: kind %q, want %q", tc.file, l.Kind, tc.kind)
		}
		var b bytes.Buffer
		l.Print(&b)
		wantLine(t, b.String(), "Layout: "+tc.kind)
		for _, line := range tc.lines {
			wantLine(t, b.String(), line)
		}
	}
	l, _ := ReadCgroupLayout(strings.NewReader("1 0 0:1 / / rw - ext4 /dev/sda rw\n"), nil)
	if l.Kind != "none" {
		t.Errorf("no cgroup mounts: kind %q, want none", l.Kind)
	}
	l, _ = ReadCgroupLayout(strings.NewReader("5 1 0:5 / /cg/a\\040b rw - cgroup cgroup rw,memory,clone_children\n"), nil)
	if l.Kind != "v1" || l.V1[0].Mount != "/cg/a b" || strings.Join(l.V1[0].Controllers, ",") != "memory" {
		t.Errorf("v1 layout read as %+v", l)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
