package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func kconfigData(name string) string {
	return filepath.Join("..", "..", "kconfig", "testdata", name)
}

func TestCheckconfigAllRequiredPresentExitsZero(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"checkconfig", "--config", kconfigData("full.config"), "--mountinfo", kconfigData("hybrid.mountinfo")}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{
		"Kernel configuration: " + kconfigData("full.config") + " (Linux 6.1.0)",
		"--- Namespaces ---\nNamespaces: enabled\n",
		"Veth pair device: enabled as module\n",
		"Vlan: enabled as module\n",
		"--- Cgroup layout ---\nLayout: hybrid\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if errb.Len() != 0 {
		t.Errorf("stderr: %s", errb.String())
	}
}

func TestCheckconfigMissingRequiredExitsNonZero(t *testing.T) {
	// CONFIG=FILE, as lxc-checkconfig takes it.
	t.Setenv("CONFIG", kconfigData("missing.config"))
	var out, errb bytes.Buffer
	code := run([]string{"checkconfig", "--mountinfo", kconfigData("v2.mountinfo")}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "Pid namespace: missing, required [CONFIG_PID_NS]\n") {
		t.Errorf("missing PID_NS not reported:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Layout: v2\n") {
		t.Errorf("v2 layout not reported:\n%s", out.String())
	}
	if !strings.Contains(errb.String(), "required kernel option(s) missing: CONFIG_PID_NS") {
		t.Errorf("stderr does not name the missing option: %q", errb.String())
	}
}

func TestCheckconfigFlagBeatsEnvAndBadFilesFail(t *testing.T) {
	t.Setenv("CONFIG", kconfigData("missing.config"))
	var out, errb bytes.Buffer
	if code := run([]string{"checkconfig", "--config", kconfigData("full.config"), "--mountinfo", kconfigData("v2.mountinfo")}, &out, &errb); code != 0 {
		t.Errorf("--config full.config with CONFIG=missing.config: exit %d, want 0 (the flag wins)", code)
	}
	notKernel := filepath.Join(t.TempDir(), "config")
	os.WriteFile(notKernel, []byte("lxc.rootfs.path = /x\n"), 0o644)
	out.Reset()
	errb.Reset()
	if code := run([]string{"checkconfig", "--config", notKernel}, &out, &errb); code != 1 {
		t.Errorf("an LXC config given as kernel config: exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), notKernel+":1:") {
		t.Errorf("error does not name file and line: %q", errb.String())
	}
	if code := run([]string{"checkconfig", "--config", filepath.Join(t.TempDir(), "nope")}, &out, &errb); code != 1 {
		t.Errorf("missing file: exit %d, want 1", code)
	}
}
