package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func checkWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

const checkLegacy = "lxc.utsname = c1\nlxc.rootfs = /srv/c1/rootfs\nlxc.tty = 2 # two consoles\nlxc.network.type = veth\nlxc.network.link = br0\n"

// TestCheckValidByName: NAME is found in the -P list; warnings go to
// stderr, exit 0 (--offline: its rootfs and bridge are not on this host).
func TestCheckValidByName(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	cfg := filepath.Join(b, "c1", "config")
	checkWrite(t, cfg, checkLegacy)
	code, out, errb := runCmd("-P", a+":"+b, "check", "--offline", "c1")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errb)
	}
	// The third: checkLegacy keeps sys_admin, with no seccomp.
	if out != cfg+": valid (3 warning(s))\n" {
		t.Errorf("stdout %q", out)
	}
	want := "warning: " + cfg + ":1: lxc.utsname (lxc.uts.name): legacy (LXC 1.x/2.x) keys in use; `lxc-initd update-config " + cfg + "` rewrites them to LXC 3+ keys\n" +
		"warning: " + cfg + `:3: lxc.tty (lxc.tty.max): trailing comment stripped; LXC would take "2 # two consoles" as the value` + "\n" +
		"warning: " + cfg + ": " + exposureWarning + "\n"
	if errb != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errb, want)
	}
}

// TestCheckInvalid: every error, one FILE:LINE: KEY: message a line, exit 1.
func TestCheckInvalid(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bad.conf")
	checkWrite(t, cfg, "lxc.uts.nme = x\nlxc.tty.max = 2\nlxc.cap.drop = sys_admn\nlxc.net.0.type = veth\nlxc.net.0.hwaddr = zz\n")
	code, out, errb := runCmd("check", "--config", cfg)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	want := cfg + `:1: lxc.uts.nme: unknown key (did you mean "lxc.uts.name"?)` + "\n" +
		cfg + `:3: lxc.cap.drop: unknown capability "sys_admn" (did you mean "sys_admin"?)` + "\n" +
		cfg + `:5: lxc.net.0.hwaddr: invalid MAC address "zz": want six colon-separated bytes` + "\n" +
		"lxc-initd check: " + cfg + ": 3 error(s)\n"
	if errb != want || out != "" {
		t.Errorf("stdout %q\nstderr:\n%s\nwant:\n%s", out, errb, want)
	}
}

// TestCheckJSON: --json prints the model; the name comes from the
// directory of NAME/config.
func TestCheckJSON(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "web1", "config")
	checkWrite(t, cfg, "lxc.uts.name = web\nlxc.net.0.type = veth\nlxc.net.0.ipv4.address = 10.0.0.2/24\nlxc.cgroup.memory.limit_in_bytes = 1G\n")
	code, out, errb := runCmd("check", "--offline", "--json", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var m struct {
		Name    string `json:"name"`
		UTSName string `json:"uts_name"`
		Init    struct {
			Cmd []string `json:"cmd"`
		} `json:"init"`
		Net []struct {
			IPv4 []string `json:"ipv4"`
		} `json:"net"`
		Cgroup struct {
			V2 []struct{ File, Value string } `json:"v2"`
		} `json:"cgroup"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if m.Name != "web1" || m.UTSName != "web" || len(m.Init.Cmd) != 1 || m.Init.Cmd[0] != "/sbin/init" ||
		len(m.Net) != 1 || m.Net[0].IPv4[0] != "10.0.0.2/24" || len(m.Cgroup.V2) != 1 || m.Cgroup.V2[0].Value != "1073741824" {
		t.Errorf("model %+v", m)
	}
}

// TestCheckNotFound and usage errors.
func TestCheckNotFoundAndUsage(t *testing.T) {
	code, _, errb := runCmd("-P", t.TempDir(), "check", "nosuch")
	if code != 1 || !strings.Contains(errb, "find container nosuch: no config") {
		t.Errorf("exit %d: %s", code, errb)
	}
	if code, _, _ := runCmd("check"); code != 2 {
		t.Errorf("check without NAME: exit %d, want 2", code)
	}
	if code, _, _ := runCmd("check", "a", "--config", "b"); code != 2 {
		t.Errorf("check NAME --config: exit %d, want 2", code)
	}
}

// TestUpdateConfigPrints: the rewrite goes to stdout; the file is left
// alone; the output checks clean.
func TestUpdateConfigPrints(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c1", "config")
	checkWrite(t, cfg, checkLegacy)
	code, out, errb := runCmd("update-config", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	want := "lxc.uts.name = c1\nlxc.rootfs.path = /srv/c1/rootfs\nlxc.tty.max = 2 # two consoles\nlxc.net.0.type = veth\nlxc.net.0.link = br0\n"
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if b, _ := os.ReadFile(cfg); string(b) != checkLegacy {
		t.Error("update-config without --in-place changed the file")
	}
	if _, err := os.Stat(cfg + ".backup"); !os.IsNotExist(err) {
		t.Error("backup written without --in-place")
	}
}

// TestUpdateConfigInPlace: FILE.backup holds the original, FILE the
// rewrite, and update-config says so (and warns of nothing); a symlinked
// config stays a symlink; then check reports no legacy warning.
func TestUpdateConfigInPlace(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "lxc", "c1", "config")
	checkWrite(t, real, checkLegacy)
	if err := os.Chmod(real, 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "etc", "c1", "config")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	code, out, errb := runCmd("update-config", link, "--in-place")
	if code != 0 || errb != "" {
		t.Fatalf("exit %d: %s%s; want 0 and nothing on stderr (no legacy warning for the file being converted)", code, out, errb)
	}
	if want := real + ": rewritten to LXC 3+ keys; the original is saved as " + real + ".backup\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if b, _ := os.ReadFile(real + ".backup"); string(b) != checkLegacy {
		t.Errorf("backup %q", b)
	}
	b, _ := os.ReadFile(real)
	if !strings.HasPrefix(string(b), "lxc.uts.name = c1\n") {
		t.Errorf("rewritten %q", b)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlink replaced: %v", err)
	}
	if st, _ := os.Stat(real); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", st.Mode().Perm())
	}
	code, _, errb = runCmd("-P", filepath.Join(dir, "etc"), "check", "--offline", "c1")
	if code != 0 || strings.Contains(errb, "legacy") {
		t.Errorf("check after update: exit %d\n%s", code, errb)
	}
	if code, _, _ := runCmd("update-config"); code != 2 {
		t.Errorf("update-config without FILE: exit %d, want 2", code)
	}
	if code, _, _ := runCmd("update-config", filepath.Join(dir, "missing")); code != 1 {
		t.Errorf("update-config of a missing file: exit %d, want 1", code)
	}
}

const exposureWarning = "privileged container keeps sys_admin and has no seccomp: root inside can reach the host where nothing else stops it (lxc.cap.drop = sys_admin unless it needs it)"

// TestCheckWarnsPrivilegedSysAdmin: check warns, in one line, about a
// privileged container that keeps CAP_SYS_ADMIN without seccomp, naming the
// capability line when there is one; not when sys_admin is dropped or not
// kept.
func TestCheckWarnsPrivilegedSysAdmin(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		config string
		want   string // the warning's prefix before the message; "" for none
	}{
		{"lxc.uts.name = c1\n", "CONFIG: "},
		{"lxc.uts.name = c1\nlxc.cap.drop = sys_module mknod\n", "CONFIG:2: lxc.cap.drop: "},
		{"lxc.uts.name = c1\nlxc.cap.keep = sys_admin chown\n", "CONFIG:2: lxc.cap.keep: "},
		{"lxc.uts.name = c1\nlxc.cap.drop = sys_module sys_admin\n", ""},
		{"lxc.uts.name = c1\nlxc.cap.keep = chown kill\n", ""},
		{"lxc.uts.name = c1\nlxc.cap.keep = none\n", ""},
		// Root inside is not the host's: keeping sys_admin is what
		// unprivileged containers do (LXC's userns.conf clears cap.drop).
		{"lxc.uts.name = c1\nlxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 200000 65536\n", ""},
	}
	for i, tc := range cases {
		cfg := filepath.Join(dir, fmt.Sprintf("c%d.conf", i))
		checkWrite(t, cfg, tc.config)
		code, out, errb := runCmd("check", "--offline", "--config", cfg)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", tc.config, code, errb)
		}
		n := strings.Count(errb, exposureWarning)
		if unpriv := cfg + ": unprivileged: root inside is host uid 100000, gid 200000 (lxc.idmap)\n"; strings.Contains(tc.config, "idmap") {
			if !strings.HasSuffix(out, unpriv) {
				t.Errorf("%q: stdout %q, want it to end with %q", tc.config, out, unpriv)
			}
			out = strings.TrimSuffix(out, unpriv)
		}
		switch {
		case tc.want == "" && (n != 0 || out != cfg+": valid (0 warning(s))\n"):
			t.Errorf("%q: stdout %q stderr %q, want no warning", tc.config, out, errb)
		case tc.want != "" && (errb != "warning: "+strings.ReplaceAll(tc.want, "CONFIG", cfg)+exposureWarning+"\n" || out != cfg+": valid (1 warning(s))\n"):
			t.Errorf("%q: stdout %q stderr %q, want one warning at %s", tc.config, out, errb, tc.want)
		}
	}
}

// TestCheckHost: check NAME checks the host as start will: a missing
// rootfs, a rootfs that is a file and a bridge that does not exist are
// errors naming file, line and key (exit 1); --offline checks the file
// alone; an existing rootfs without networks is valid.
func TestCheckHost(t *testing.T) {
	dir := t.TempDir()
	lxcpath := filepath.Join(dir, "lxc")
	cfg := filepath.Join(lxcpath, "c1", "config")
	missing := filepath.Join(dir, "nosuch")
	checkWrite(t, cfg, "lxc.uts.name = c1\nlxc.rootfs.path = dir:"+missing+"\nlxc.cap.drop = sys_admin\n"+
		"lxc.net.0.type = veth\nlxc.net.0.link = frnobr0\n")
	code, out, errb := runCmd("-P", lxcpath, "--rundir", filepath.Join(dir, "run"), "check", "c1")
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q; want 1 and nothing", code, out)
	}
	for _, want := range []string{
		cfg + ":2: lxc.rootfs.path: " + missing + ": no such file or directory\n",
		cfg + `:5: lxc.net.0.link: bridge "frnobr0" does not exist on the host` + "\n",
		"lxc-initd check: " + cfg + ": 2 error(s) on this host (--offline checks the file alone)\n",
	} {
		if !strings.Contains(errb, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb)
		}
	}
	if code, out, errb := runCmd("-P", lxcpath, "check", "--offline", "c1"); code != 0 || out != cfg+": valid (0 warning(s))\n" {
		t.Errorf("--offline: exit %d, %q %q", code, out, errb)
	}

	file := filepath.Join(dir, "afile")
	checkWrite(t, file, "")
	checkWrite(t, cfg, "lxc.rootfs.path = "+file+"\nlxc.cap.drop = sys_admin\n")
	if code, _, errb := runCmd("-P", lxcpath, "--rundir", filepath.Join(dir, "run"), "check", "c1"); code != 1 || !strings.Contains(errb, cfg+":1: lxc.rootfs.path: "+file+": not a directory\n") {
		t.Errorf("rootfs a file: exit %d, %s", code, errb)
	}
	checkWrite(t, cfg, "lxc.rootfs.path = "+dir+"\nlxc.cap.drop = sys_admin\n")
	if code, out, errb := runCmd("-P", lxcpath, "--rundir", filepath.Join(dir, "run"), "check", "c1"); code != 0 || out != cfg+": valid (0 warning(s))\n" {
		t.Errorf("existing rootfs: exit %d, %q %q", code, out, errb)
	}

	// Hooks the host runs must be executable files; a start hook is the
	// container's own path and is not looked up on the host.
	script := filepath.Join(dir, "hook.sh")
	checkWrite(t, script, "#!/bin/sh\n")
	checkWrite(t, cfg, "lxc.rootfs.path = "+dir+"\nlxc.cap.drop = sys_admin\n"+
		"lxc.hook.pre-start = "+script+" arg\nlxc.hook.post-stop = "+missing+"\nlxc.hook.start = /only/inside\n")
	code, _, errb = runCmd("-P", lxcpath, "--rundir", filepath.Join(dir, "run"), "check", "c1")
	for _, want := range []string{
		cfg + ":3: lxc.hook.pre-start: " + script + " is not executable\n",
		cfg + ":4: lxc.hook.post-stop: " + missing + ": no such file or directory\n",
	} {
		if code != 1 || !strings.Contains(errb, want) {
			t.Errorf("hooks: exit %d, stderr lacks %q:\n%s", code, want, errb)
		}
	}
	if strings.Contains(errb, "/only/inside") {
		t.Errorf("the start hook was looked up on the host:\n%s", errb)
	}
}
