package tests

// Tests of the systemd units (systemd/*.service). systemd is installed but
// not running here: systemd-analyze verify and systemctl --root work on
// files alone. The units are checked as make install writes them
// (@SBINDIR@ replaced by a directory that holds the binaries) with the man
// page they name on MANPATH.

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// unitDir writes the units, as installed, into a temp dir.
func unitDir(t *testing.T) (dir string, bins testutil.Bins) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatalf("systemd-analyze: %v (Debian's systemd package has it)", err)
	}
	bins = testutil.Binaries(t)
	dir = t.TempDir()
	units, err := filepath.Glob(filepath.Join(moduleRoot(t), "systemd", "*.service"))
	if err != nil || len(units) == 0 {
		t.Fatalf("no unit files in systemd/: %v", err)
	}
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "@SBINDIR@", bins.Dir)
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(u)), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, bins
}

// manPath makes a MANPATH holding the project's man pages, so that verify
// checks Documentation= against pages that exist.
func manPath(t *testing.T) string {
	t.Helper()
	mp := t.TempDir()
	pages, _ := filepath.Glob(filepath.Join(moduleRoot(t), "docs", "man", "*.[1-8]"))
	for _, p := range pages {
		sec := p[len(p)-1:]
		d := filepath.Join(mp, "man"+sec)
		os.MkdirAll(d, 0o755)
		b, _ := os.ReadFile(p)
		os.WriteFile(filepath.Join(d, filepath.Base(p)), b, 0o644)
	}
	return mp
}

func verify(t *testing.T, manpath string, units ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("systemd-analyze", append([]string{"verify", "--man=yes"}, units...)...)
	cmd.Env = append(os.Environ(), "MANPATH="+manpath, "SYSTEMD_LOG_COLOR=0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSystemdUnitsVerify: systemd-analyze verify accepts both units with
// no warning at all (verify exits 0 on warnings, so the output must be
// empty), and a broken copy does produce a warning, which shows the check
// would catch one.
func TestSystemdUnitsVerify(t *testing.T) {
	dir, _ := unitDir(t)
	mp := manPath(t)
	inst := filepath.Join(dir, "lxc-shim@"+testutil.Name("ts")+".service")
	out, err := verify(t, mp, inst, filepath.Join(dir, "lxc-shim-autostart.service"))
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	bad := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(dir, "lxc-shim@.service"))
	os.WriteFile(filepath.Join(bad, "lxc-shim@.service"), []byte(strings.Replace(string(b), "KillMode=mixed", "KillMode=mixd", 1)), 0o644)
	out, _ = verify(t, mp, filepath.Join(bad, "lxc-shim@x.service"))
	if !strings.Contains(out, "mixd") {
		t.Errorf("verify did not flag a bad KillMode; the check above proves nothing:\n%s", out)
	}
}

// unitKeys reads a unit file into section.Key -> values.
func unitKeys(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "["):
			section = strings.Trim(l, "[]")
		default:
			k, v, _ := strings.Cut(l, "=")
			keys[section+"."+k] = append(keys[section+"."+k], v)
		}
	}
	return keys
}

// TestSystemdTemplateUnitSettings holds the template to what the shim
// relies on.
func TestSystemdTemplateUnitSettings(t *testing.T) {
	dir, bins := unitDir(t)
	k := unitKeys(t, filepath.Join(dir, "lxc-shim@.service"))
	want := map[string]string{
		"Service.Type":         "notify",
		"Service.NotifyAccess": "main",
		"Service.ExecStart":    bins.Shim + " --foreground %i",
		"Service.KillMode":     "mixed",
		"Service.Delegate":     "yes",
		"Service.Restart":      "on-failure",
		"Install.WantedBy":     "multi-user.target",
	}
	for key, v := range want {
		if got := strings.Join(k[key], "|"); got != v {
			t.Errorf("%s = %q, want %q", key, got, v)
		}
	}
	// The shim stops within its own --stop-timeout (default 60 s) and
	// kills at its end; systemd's must be longer, or it would kill a
	// container that is still shutting down in time.
	d, err := time.ParseDuration(strings.Join(k["Service.TimeoutStopSec"], ""))
	if err != nil || d <= 60*time.Second {
		t.Errorf("TimeoutStopSec = %v (%v), want above the shim's 60 s", k["Service.TimeoutStopSec"], err)
	}
	a := unitKeys(t, filepath.Join(dir, "lxc-shim-autostart.service"))
	if got := strings.Join(a["Service.ExecStart"], "|"); got != bins.Initd+" autostart" {
		t.Errorf("autostart ExecStart = %q", got)
	}
	if got := strings.Join(a["Service.ExecStop"], "|"); !strings.HasPrefix(got, bins.Initd+" shutdown -t ") {
		t.Errorf("autostart ExecStop = %q", got)
	}
}

// TestSystemdEnableThroughInstall: `systemctl enable lxc-shim@NAME` works
// through [Install] (offline, on a root directory of its own).
func TestSystemdEnableThroughInstall(t *testing.T) {
	if _, err := exec.LookPath("systemctl"); err != nil {
		t.Fatalf("systemctl: %v", err)
	}
	dir, _ := unitDir(t)
	root := t.TempDir()
	sysdir := filepath.Join(root, "etc", "systemd", "system")
	if err := os.MkdirAll(sysdir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "lxc-shim@.service"))
	os.WriteFile(filepath.Join(sysdir, "lxc-shim@.service"), b, 0o644)
	name := testutil.Name("ts")
	out, err := exec.Command("systemctl", "--root="+root, "enable", "lxc-shim@"+name+".service").CombinedOutput()
	if err != nil {
		t.Fatalf("systemctl enable: %v\n%s", err, out)
	}
	link := filepath.Join(sysdir, "multi-user.target.wants", "lxc-shim@"+name+".service")
	target, err := os.Readlink(link)
	if err != nil {
		t.Fatalf("enable made no multi-user.target.wants link: %v\n%s", err, out)
	}
	if filepath.Base(target) != "lxc-shim@.service" {
		t.Errorf("%s -> %s, want the template", link, target)
	}
}
