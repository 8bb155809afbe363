package lsm

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// fakeHost makes a /sys and /proc tree for a host with AppArmor: enabled,
// mount mediation, stacking 1.2 when stack, cgroup namespaces, the shim's
// own label cur. Run records the commands and answers the parser's
// version.
type fakeHost struct {
	Host
	ran [][]string
}

func newFakeHost(t *testing.T, stack bool, cur string) *fakeHost {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"sys/module/apparmor/parameters/enabled":                       "Y\n",
		"sys/kernel/security/apparmor/features/mount/mask":             "mount umount pivot_root\n",
		"proc/self/ns/cgroup":                                          "",
		"proc/" + strconv.Itoa(os.Getpid()) + "/attr/apparmor/current": cur + "\n",
		"proc/thread-self/attr/apparmor/exec":                          "",
		"proc/thread-self/attr/exec":                                   "",
		"proc/thread-self/attr/keycreate":                              "",
		"sys/kernel/security/apparmor/features/domain/version":         "1.2\n",
	}
	if stack {
		files["sys/kernel/security/apparmor/features/domain/stack"] = "yes\n"
	}
	if err := os.MkdirAll(filepath.Join(root, "sys/kernel/security/apparmor/policy/namespaces"), 0o755); err != nil {
		t.Fatal(err)
	}
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &fakeHost{}
	f.Host = Host{Sys: filepath.Join(root, "sys"), Proc: filepath.Join(root, "proc"), CacheDir: filepath.Join(root, "cache"),
		Run: func(argv []string) ([]byte, error) {
			f.ran = append(f.ran, argv)
			if slices.Contains(argv, "--version") {
				return []byte("AppArmor parser version 3.0.8\nCopyright (C) 1999-2008 Novell Inc.\n"), nil
			}
			return nil, nil
		}}
	return f
}

func testConfig(profile string) *config.Config {
	return &config.Config{Name: "c1", File: "/var/lib/lxc/c1/config", Security: config.Security{AppArmorProfile: profile}}
}

// TestGenerateProfile: the generated profile has LXC 5's blocks in LXC's
// order, chosen by the host's features and the config.
func TestGenerateProfile(t *testing.T) {
	cfg := testConfig(Generated)
	cfg.Security.AppArmorRaw = []string{"  deny /tmp/x rw,", "  mount fstype=nfs,"}
	p := GenerateProfile(cfg, "/var/lib/lxc", Features{Unix: true, CgroupNS: true, CanStack: true})
	lines := strings.Split(p, "\n")
	if lines[0] != "#include <tunables/global>" || lines[1] != `profile "lxc-c1_</var/lib/lxc>" flags=(attach_disconnected,mediate_deleted) {` {
		t.Errorf("head:\n%s\n%s", lines[0], lines[1])
	}
	order := []string{
		"  ### Base profile", "  deny /sys/fs?*{,/**} wklx,", "# allow various ro-bind-*re*mounts",
		"  ### Feature: unix", "  ### Feature: cgroup namespace", "  ### Feature: apparmor stacking",
		`  change_profile -> ":lxc-c1_<-var-lib-lxc>:*",`, `  change_profile -> ":lxc-c1_<-var-lib-lxc>://*",`,
		"  deny /tmp/x rw,", "  mount fstype=nfs,", "}",
	}
	at := -1
	for _, want := range order {
		i := slices.Index(lines, want)
		if i <= at {
			t.Fatalf("%q at line %d, after %d: profile\n%s", want, i, at, p)
		}
		at = i
	}
	// 8 subsets of nodev/nosuid/noexec, each plain, noatime, strictatime,
	// to 16 destinations.
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "  mount options=(ro,remount,bind") {
			n++
		}
	}
	if n != 8*3*16 {
		t.Errorf("%d remount rules, want %d", n, 8*3*16)
	}
	for _, want := range []string{
		"  mount options=(ro,remount,bind) -> /[^spd]*{,/**},",
		"  mount options=(ro,remount,bind,nodev,nosuid,noexec,strictatime) -> /sys?*{,/**},",
		"  mount options=(ro,remount,bind,nosuid,noatime) -> /dev/.lxc?*{,/**},",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("no rule %q", want)
		}
	}
	if strings.Contains(p, "### Configuration: nesting") || strings.Contains(p, "stacking (not present)") || strings.Contains(p, "unprivileged") {
		t.Errorf("blocks the config did not ask for:\n%s", p)
	}

	// Nesting on a host that cannot stack: the no-stacking block, the
	// nesting block and a change_profile to itself.
	cfg.Security.AppArmorAllowNesting = true
	cfg.Security.AppArmorRaw = nil
	p = GenerateProfile(cfg, "/var/lib/lxc", Features{})
	for _, want := range []string{"  ### Feature: apparmor stacking (not present)\n  deny /sys/k*{,/**} rwklx,\n",
		"  ### Configuration: nesting\n  pivot_root,\n", "  mount,\n  change_profile -> \"lxc-c1_</var/lib/lxc>\",\n}\n"} {
		if !strings.Contains(p, want) {
			t.Errorf("nesting profile lacks %q:\n%s", want, p)
		}
	}
	if strings.Contains(p, "### Feature: unix") || strings.Contains(p, "### Feature: cgroup namespace") {
		t.Errorf("features the host lacks:\n%s", p)
	}
}

// TestProfileNameShortened: a name past AppArmor's limit becomes the
// 64-bit FNV-1a hash of LXC's name, in hex.
func TestProfileNameShortened(t *testing.T) {
	long := "/" + strings.Repeat("x", 250)
	got := ProfileName("c1", long)
	// FNV-1a 64 of "lxc-c1_</xxx…>", computed independently.
	h := uint64(0xcbf29ce484222325)
	for _, c := range []byte("lxc-c1_<" + long + ">") {
		h ^= uint64(c)
		h *= 0x100000001b3
	}
	const hexdigits = "0123456789abcdef"
	want := make([]byte, 16)
	for i := 15; i >= 0; i-- {
		want[i] = hexdigits[h&0xf]
		h >>= 4
	}
	if got != string(want) {
		t.Errorf("ProfileName = %q, want %q", got, want)
	}
	if Namespace("c1", "/a/b") != "lxc-c1_<-a-b>" {
		t.Errorf("Namespace = %q", Namespace("c1", "/a/b"))
	}
}

// TestPrepareGenerated: "generated" writes the profile, makes the policy
// namespace where the kernel stacks, loads it with apparmor_parser -rWL,
// and gives the stacked label; Unload undoes all of it.
func TestPrepareGenerated(t *testing.T) {
	h := newFakeHost(t, true, "unconfined")
	state := t.TempDir()
	p, err := h.Prepare(testConfig(Generated), "/var/lib/lxc", state)
	if err != nil {
		t.Fatal(err)
	}
	ns := "lxc-c1_<-var-lib-lxc>"
	if p.AppArmor != "lxc-c1_</var/lib/lxc>//&:"+ns+":" {
		t.Errorf("label %q", p.AppArmor)
	}
	file := filepath.Join(state, "apparmor", ns)
	b, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(b), "### Feature: apparmor stacking") || !strings.Contains(string(b), "### Feature: unix") {
		t.Errorf("profile file: %v\n%s", err, b)
	}
	nsDir := filepath.Join(h.Sys, "kernel/security/apparmor/policy/namespaces", ns)
	if _, err := os.Stat(nsDir); err != nil {
		t.Errorf("namespace: %v", err)
	}
	load := []string{"apparmor_parser", "-rWL", h.CacheDir, file}
	if !slices.ContainsFunc(h.ran, func(a []string) bool { return slices.Equal(a, load) }) {
		t.Errorf("ran %q, want %q among them", h.ran, load)
	}
	if p.Unload == nil {
		t.Fatal("no Unload")
	}
	if err := p.Unload(); err != nil {
		t.Fatal(err)
	}
	unload := []string{"apparmor_parser", "-RWL", h.CacheDir, file}
	if !slices.Equal(h.ran[len(h.ran)-1], unload) {
		t.Errorf("last ran %q, want %q", h.ran[len(h.ran)-1], unload)
	}
	for _, gone := range []string{file, nsDir} {
		if _, err := os.Stat(gone); err == nil {
			t.Errorf("%s left after Unload", gone)
		}
	}
}

// TestPrepareLabels: the label for each value of lxc.apparmor.profile, as
// LXC's apparmor_prepare chooses it.
func TestPrepareLabels(t *testing.T) {
	cases := []struct {
		profile, cur string
		stack        bool
		noMount      bool
		incomplete   bool
		want, err    string
	}{
		{profile: "", cur: "unconfined", want: DefaultProfileCgroupNS},
		{profile: "my-profile", cur: "unconfined", want: "my-profile"},
		{profile: Unconfined, cur: "unconfined", want: ""},
		{profile: Unconfined, cur: "lxc-shim-host", stack: true, want: Unconfined},
		{profile: Unchanged, cur: "unconfined", want: ""},
		{profile: "my-profile", cur: "other (enforce)", err: "cannot stack"},
		{profile: "", cur: "other (enforce)", want: ""},
		{profile: "my-profile", cur: "other (enforce)", stack: true, want: "my-profile"},
		{profile: "my-profile", cur: "unconfined", noMount: true, err: "lxc.apparmor.allow_incomplete = 1"},
		{profile: "my-profile", cur: "unconfined", noMount: true, incomplete: true, want: "my-profile"},
		{profile: Unconfined, cur: "unconfined", noMount: true, want: ""},
	}
	for _, c := range cases {
		h := newFakeHost(t, c.stack, c.cur)
		if c.noMount {
			os.Remove(filepath.Join(h.Sys, "kernel/security/apparmor/features/mount/mask"))
		}
		cfg := testConfig(c.profile)
		cfg.Security.AppArmorAllowIncomplete = c.incomplete
		p, err := h.Prepare(cfg, "/var/lib/lxc", t.TempDir())
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%+v: error %v, want %q", c, err, c.err)
			}
			continue
		}
		if err != nil || p.AppArmor != c.want {
			t.Errorf("%+v: label %q, %v; want %q", c, p.AppArmor, err, c.want)
		}
	}
	// No AppArmor on the host: no label, whatever the config says (the
	// reader warned about the keys).
	h := newFakeHost(t, false, "unconfined")
	os.WriteFile(filepath.Join(h.Sys, "module/apparmor/parameters/enabled"), []byte("N\n"), 0o644)
	if p, err := h.Prepare(testConfig("my-profile"), "/var/lib/lxc", t.TempDir()); err != nil || p.AppArmor != "" {
		t.Errorf("without AppArmor: %q, %v", p.AppArmor, err)
	}
}

// TestExecLabelWrite: the label goes to the thread's attr file in one
// write, "exec PROFILE" for AppArmor (apparmor/exec, else the legacy
// attr/exec), the bare context for SELinux.
func TestExecLabelWrite(t *testing.T) {
	h := newFakeHost(t, false, "unconfined")
	attr := filepath.Join(h.Proc, "thread-self/attr")
	for _, c := range []struct{ lsm, label, file, want string }{
		{"apparmor", "lxc-container-default-cgns", "apparmor/exec", "exec lxc-container-default-cgns"},
		{"selinux", "system_u:system_r:container_t:s0", "exec", "system_u:system_r:container_t:s0"},
		{"selinux-keyring", "system_u:object_r:container_file_t:s0", "keycreate", "system_u:object_r:container_file_t:s0"},
	} {
		l, err := h.OpenExecLabel(c.lsm, c.label, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Set(); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(attr, c.file)); string(b) != c.want {
			t.Errorf("%s: %s holds %q, want %q", c.lsm, c.file, b, c.want)
		}
	}
	// A kernel without the apparmor/ directory: the legacy file.
	os.RemoveAll(filepath.Join(attr, "apparmor"))
	os.WriteFile(filepath.Join(attr, "exec"), nil, 0o644)
	l, err := h.OpenExecLabel("apparmor", "p1", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Set(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(attr, "exec")); string(b) != "exec p1" {
		t.Errorf("legacy attr/exec holds %q", b)
	}
	// A file that is not on a proc file system (what root in a container
	// could mount over its /proc) is refused when asked to check.
	if _, err := h.OpenExecLabel("apparmor", "p1", true); err == nil || !strings.Contains(err.Error(), "not on a proc file system") {
		t.Errorf("fake attr file accepted: %v", err)
	}
	// The real /proc passes that check.
	real := Host{}
	l, err = real.OpenExecLabel("selinux", "x", true)
	if err != nil {
		t.Fatalf("real /proc: %v", err)
	}
	l.Close()
}

// TestLabelRead: the first word of attr/apparmor/current.
func TestLabelRead(t *testing.T) {
	h := newFakeHost(t, false, "lxc-container-default-cgns (enforce)")
	if l, err := h.Label(os.Getpid(), "apparmor"); err != nil || l != "lxc-container-default-cgns" {
		t.Errorf("Label = %q, %v", l, err)
	}
}

// TestGeneratedProfileCompiles: every variant of the generated profile is
// one apparmor_parser compiles (-Q: not loaded, -K: no cache, -S: the
// binary policy to stdout), so a kernel with AppArmor would load it. A
// broken raw line fails, which shows the parser checks what it is given.
func TestGeneratedProfileCompiles(t *testing.T) {
	parser, err := exec.LookPath("apparmor_parser")
	testutil.RequireInstalled(t, "apparmor_parser (package apparmor)", err)
	compile := func(profile string) error {
		f := filepath.Join(t.TempDir(), "profile")
		if err := os.WriteFile(f, []byte(profile), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(parser, "-Q", "-K", "-S", f)
		var errb strings.Builder
		cmd.Stdout, cmd.Stderr = io.Discard, &errb
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%v: %s", err, errb.String())
		}
		return nil
	}
	for bits := 0; bits < 1<<5; bits++ {
		f := Features{Unix: bits&1 != 0, CgroupNS: bits&2 != 0, CanStack: bits&4 != 0, IsStacked: bits&8 != 0}
		cfg := testConfig(Generated)
		cfg.Security.AppArmorAllowNesting = bits&16 != 0
		cfg.Security.AppArmorRaw = []string{"  deny /tmp/lsm-x rw,"}
		if bits == 31 {
			cfg.Security.IDMap = []config.IDMap{{Kind: 'u', Host: 100000, Count: 65536}}
		}
		if err := compile(GenerateProfile(cfg, "/var/lib/lxc", f)); err != nil {
			t.Errorf("features %+v nesting %v: %v", f, cfg.Security.AppArmorAllowNesting, err)
		}
	}
	cfg := testConfig(Generated)
	cfg.Security.AppArmorRaw = []string{"  this is no rule"}
	if err := compile(GenerateProfile(cfg, "/var/lib/lxc", Features{})); err == nil {
		t.Error("a profile with a broken raw line compiled")
	}
}
