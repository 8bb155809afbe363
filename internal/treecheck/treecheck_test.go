package treecheck

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lxc-shim/lxc-shim/config"
)

// repoRoot is the directory holding go.mod, above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// mechanism is one thing exactly one package may do, and the source lines
// that show a package doing it.
type mechanism struct {
	what  string
	owner string // package directory, relative to the repository root
	lines *regexp.Regexp
}

var mechanisms = []mechanism{
	{
		what:  "parses the mount table for cgroup mounts (/proc/*/mountinfo)",
		owner: "cgroupfs",
		lines: regexp.MustCompile(`"github\.com/moby/sys/mountinfo"|/proc/[^"]*mountinfo"`),
	},
	{
		what:  "reads which cgroup a process is in (/proc/*/cgroup)",
		owner: "cgroupfs",
		lines: regexp.MustCompile(`/proc/(self|thread-self|%d|%s|[0-9]+)/cgroup"|"/cgroup"`),
	},
	{
		what:  "reads or changes capability sets (CapBnd/CapEff lines, capget/capset, bounding and ambient prctls)",
		owner: "container",
		lines: regexp.MustCompile(`"github\.com/moby/sys/capability"|Cap(Bnd|Eff|Prm|Inh|Amb):|(?i)\bcap[gs]et\b|SYS_CAP[GS]ET|PR_CAPBSET_|PR_CAP_AMBIENT`),
	},
}

// excluded are the trees of tests and benchmarks, which look at these
// files to check the product, not to be it.
func excluded(rel string) bool {
	for _, dir := range []string{"tests", "bench", "internal/testutil", "internal/distro", "internal/treecheck"} {
		if rel == dir || strings.HasPrefix(rel, dir+"/") {
			return true
		}
	}
	return strings.HasSuffix(rel, "_test.go")
}

// knownExceptions are lines outside the owner that the owner's rewrite
// will remove, each with why it is still here.
var knownExceptions = map[string]string{
	// Another change rewrites package cgroup; this read moves to
	// cgroupfs.Of then. It parses through cgroupfs (parseProcCgroup).
	"cgroup/owner.go\x00" + `b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")`: "reads the file, parses with cgroupfs",
}

// generatedFile is Go's marker of a generated file (go help generate).
var generatedFile = regexp.MustCompile(`(?m)^// Code generated .* DO NOT EDIT\.$`)

func TestOneOwnerPerMechanism(t *testing.T) {
	root := repoRoot(t)
	found := map[string]int{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || d.Name() == "bin" || (rel != "." && excluded(rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(p)
		if (ext != ".go" && ext != ".c" && ext != ".h") || excluded(rel) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		// Generated files are data (seccomp's syscall tables name capget
		// and capset), not code that uses a mechanism.
		if generatedFile.Match(b) {
			return nil
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range mechanisms {
				if !m.lines.MatchString(line) {
					continue
				}
				if filepath.Dir(rel) == m.owner {
					found[m.what]++
					continue
				}
				if _, ok := knownExceptions[rel+"\x00"+strings.TrimSpace(line)]; ok {
					continue
				}
				t.Errorf("%s:%d: %s, which is package %s's alone:\n\t%s", rel, i+1, m.what, m.owner, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The patterns must still find the owner's own code, or they find
	// nothing anywhere and the check is empty.
	for _, m := range mechanisms {
		if found[m.what] == 0 {
			t.Errorf("no line of package %s %s: the pattern no longer finds the mechanism", m.owner, m.what)
		}
	}
}

// The shipped OpenRC script and its conf.d, and the systemd units, repeat
// the defaults in shell and unit syntax; they must say what config says.
func TestShippedDefaultsMatchConfig(t *testing.T) {
	root := repoRoot(t)
	secs := fmt.Sprintf("%g", config.DefaultStopTimeout.Seconds())
	for _, c := range []struct{ file, want string }{
		{"init.d/lxc", `: "${lxc_path:=` + config.DefaultLXCPath + `}"`},
		{"init.d/lxc", `: "${lxc_stop_timeout:=` + secs + `}"`},
		{"init.d/lxc", `${lxc_logdir:-` + config.DefaultLogDir + `}`},
		{"init.d/conf.d/lxc", `#lxc_path="` + config.DefaultLXCPath + `"`},
		{"init.d/conf.d/lxc", `#lxc_stop_timeout=` + secs},
		{"init.d/conf.d/lxc", `#lxc_rundir="` + config.DefaultRunDir + `"`},
		{"init.d/conf.d/lxc", `#lxc_logdir="` + config.DefaultLogDir + `"`},
		{"systemd/lxc-shim@.service", `along ` + config.DefaultLXCPath + `)`},
		{"systemd/lxc-shim@.service", `(` + secs + ` s by default)`},
	} {
		b, err := os.ReadFile(filepath.Join(root, c.file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), c.want) {
			t.Errorf("%s does not say %q (package config's default)", c.file, c.want)
		}
	}
}
