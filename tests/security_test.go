package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestStartRelativeMountStaysInRootfs: issue 11's entry, through lxc-initd
// start and the shim (which runs in /): "relative" bound the host's /etc,
// shadow and all, into the container.
func TestStartRelativeMountStaysInRootfs(t *testing.T) {
	e := newLC(t, rootTestinit, "lxc.mount.auto = proc:rw\nlxc.mount.entry = etc mnt/rel none bind,relative,ro 0 0\n")
	if err := os.MkdirAll(filepath.Join(e.rootfs, "mnt/rel"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.rootfs, "etc/tl-marker"), []byte("rootfs etc"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustInitd(0, "start", e.name)
	e.waitReport()
	root := fmt.Sprintf("/proc/%d/root/mnt/rel/", e.state().Pid)
	if _, err := os.Stat(root + "shadow"); err == nil {
		t.Errorf("the host's /etc is mounted on /mnt/rel in the container (its shadow is there)")
	}
	if b, err := os.ReadFile(root + "tl-marker"); err != nil || string(b) != "rootfs etc" {
		t.Errorf("/mnt/rel/tl-marker = %q, %v; want the rootfs's etc", b, err)
	}
}

// TestStartNewSessionKeyring: the user who runs lxc-initd start holds a key
// in their session keyring; the container's init must not read it, unless
// the config says lxc.keyring.session = 0 (issue 11).
func TestStartNewSessionKeyring(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep caller's=%v", keep), func(t *testing.T) {
			base := "lxc.mount.auto = proc:rw\n"
			if keep {
				base += "lxc.keyring.session = 0\n"
			}
			e := newLC(t, rootTestinit, base)
			payload := "tl secret of " + e.name
			type result struct {
				serial int
				out    []byte
				err    error
			}
			done := make(chan result, 1)
			// lxc-initd runs from a thread with a session keyring of its
			// own holding the key, as from a login session. The thread is
			// never unlocked: it ends with the goroutine, its keyring
			// with the container.
			go func() {
				runtime.LockOSThread()
				var r result
				if _, r.err = unix.KeyctlJoinSessionKeyring("tl-" + e.name); r.err != nil {
					done <- r
					return
				}
				if r.serial, r.err = unix.AddKey("user", "tl-secret", []byte(payload), unix.KEY_SPEC_SESSION_KEYRING); r.err != nil {
					done <- r
					return
				}
				if r.err = os.WriteFile(filepath.Join(e.rootfs, "testinit", "keys"), []byte(strconv.Itoa(r.serial)), 0o644); r.err != nil {
					done <- r
					return
				}
				r.out, r.err = exec.Command(e.bins.Initd, e.cli().args("start", e.name)...).CombinedOutput()
				done <- r
			}()
			r := <-done
			if r.err != nil {
				t.Fatalf("start from a session with a key: %v\n%s", r.err, r.out)
			}
			e.waitReport()
			var rep struct {
				Keys map[string]string `json:"keys"`
			}
			b, err := os.ReadFile(filepath.Join(e.rootfs, "testinit", "boot.json"))
			if err == nil {
				err = json.Unmarshal(b, &rep)
			}
			if err != nil {
				t.Fatal(err)
			}
			got := rep.Keys[strconv.Itoa(r.serial)]
			if keep != (got == payload) {
				t.Errorf("lxc.keyring.session kept=%v: the init read the caller's key %d as %q", keep, r.serial, got)
			}
		})
	}
}
