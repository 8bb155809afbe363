package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// stCT is a test-init container on some rootfs storage. The host reaches
// its files through /proc/PID/root (an overlay or an image is not the
// host directory the lifecycle helpers read).
type stCT struct {
	*lcEnv
	dir string // the test's directory: layers, images
}

// newStorageCT makes a test-init tree at e.rootfs (the overlay's lower, or
// what an image is filled from) and a config whose lxc.rootfs.path is
// what rootfs returns for that tree. The cleanup checks that nothing of
// the container is left: processes, cgroups, and any host mount or loop
// device of the storage.
func newStorageCT(t *testing.T, rootfs func(tree string) string, extra ...string) *stCT {
	t.Helper()
	e := newLC(t, rootTestinit, testinitBase)
	// Before the tree goes into an image: a shim killed by a test closes
	// the console's pty master and the kernel hangs up the init's
	// terminal (SIGHUP to its session); real inits handle it, the test
	// init is told to (as in TestLifecycleShimKilled).
	e.testinitConfig("SIGHUP ignore\n")
	c := &stCT{lcEnv: e, dir: filepath.Dir(e.rootfs)}
	// Cleanups run last first: this one stops the container itself
	// before it looks, and runs after whatever rootfs registers.
	t.Cleanup(func() {
		e.initd("stop", "--kill", e.name)
		e.initd("cleanup", e.name)
		c.checkNoStorageLeft()
	})
	testutil.WriteConfig(t, e.lxcpath, e.name, fmt.Sprintf("lxc.uts.name = %s\nlxc.rootfs.path = %s\n%s%s", e.name, rootfs(e.rootfs), testinitBase, strings.Join(extra, "")))
	return c
}

// inside is rel in the container's root as its init sees it.
func (c *stCT) inside(rel string) string {
	return fmt.Sprintf("/proc/%d/root/%s", c.state().Pid, rel)
}

// waitBoot waits for boot n to run and for its init's boot.json.
func (c *stCT) waitBoot(n int) {
	c.t.Helper()
	c.waitState(20*time.Second, fmt.Sprintf("boot %d running", n), func(st *shimctl.Status) bool {
		return st.State == shimctl.StateRunning && st.BootCount == n
	})
	testutil.WaitFor(c.t, 10*time.Second, "boot.json inside", func() error {
		_, err := os.Stat(c.inside("testinit/boot.json"))
		return err
	})
}

// commandInside asks the test init to do action, through its own root.
func (c *stCT) commandInside(action string) {
	c.t.Helper()
	p := c.inside("testinit/cmd")
	if err := os.WriteFile(p+".tmp", []byte(action+"\n"), 0o644); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		c.t.Fatal(err)
	}
}

// rootMount is the init's mount of "/" as the host reads it from
// /proc/PID/mountinfo: what follows the separator (type, source, super
// options).
func (c *stCT) rootMount() string {
	c.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", c.state().Pid))
	if err != nil {
		c.t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && f[4] == "/" {
			_, after, _ := strings.Cut(l, " - ")
			return after
		}
	}
	c.t.Fatalf("no / in the init's mountinfo:\n%s", b)
	return ""
}

// hostMountsOf lists the host's mounts whose source, mount point or
// options name something under dir.
func hostMountsOf(dir string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, dir) {
			out = append(out, l)
		}
	}
	return out
}

// loopsOf lists the loop devices bound to image (sysfs).
func loopsOf(t testing.TB, image string) []string {
	var st syscall.Stat_t
	if err := syscall.Stat(image, &st); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir("/sys/block")
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/sys/block", e.Name(), "loop", "backing_file"))
		if err != nil {
			continue
		}
		var bst syscall.Stat_t
		if syscall.Stat(strings.TrimSpace(string(b)), &bst) == nil && bst.Dev == st.Dev && bst.Ino == st.Ino {
			out = append(out, "/dev/"+e.Name())
		}
	}
	return out
}

func (c *stCT) checkNoStorageLeft() {
	c.t.Helper()
	testutil.WaitFor(c.t, 10*time.Second, "no host mount of the storage", func() error {
		if m := hostMountsOf(c.dir); len(m) > 0 {
			return fmt.Errorf("host mounts:\n%s", strings.Join(m, "\n"))
		}
		return nil
	})
	imgs, _ := filepath.Glob(filepath.Join(c.dir, "*.img"))
	for _, img := range imgs {
		testutil.WaitFor(c.t, 10*time.Second, "no loop device of "+img, func() error {
			if l := loopsOf(c.t, img); len(l) > 0 {
				return fmt.Errorf("still bound: %v", l)
			}
			return nil
		})
	}
}

// TestStorageOverlay: overlay:LOWER:UPPER (LXC's lxc-copy -s layout: the
// work directory "olwork" next to the upper one) boots; what the init
// writes lands in UPPER, never in LOWER; a reboot from inside mounts it
// again from scratch; nothing of it is ever mounted on the host.
func TestStorageOverlay(t *testing.T) {
	var lower, upper string
	c := newStorageCT(t, func(tree string) string {
		lower = tree
		upper = filepath.Join(filepath.Dir(tree), "snap", "delta0")
		return "overlay:" + lower + ":" + upper
	})
	c.mustInitd(0, "start", c.name)
	c.waitBoot(1)
	if m := c.rootMount(); !strings.HasPrefix(m, "overlay ") || !strings.Contains(m, "upperdir="+upper) ||
		!strings.Contains(m, "workdir="+filepath.Join(filepath.Dir(upper), "olwork")) {
		t.Errorf("root mount %q: want overlay with upperdir %s and workdir olwork next to it", m, upper)
	}
	if _, err := os.Stat(filepath.Join(upper, "testinit/boot.json")); err != nil {
		t.Errorf("the init's boot.json is not in UPPER: %v", err)
	}
	if _, err := os.Stat(filepath.Join(lower, "testinit/boot.json")); err == nil {
		t.Errorf("the init wrote into LOWER")
	}
	if m := hostMountsOf(c.dir); len(m) > 0 {
		t.Errorf("overlay mounted on the host:\n%s", strings.Join(m, "\n"))
	}
	c.commandInside("reboot")
	c.waitBoot(2)
	if _, err := os.Stat(filepath.Join(lower, "testinit/events.log")); err == nil {
		t.Errorf("the init wrote into LOWER after a reboot")
	}
	if ev, _ := os.ReadFile(filepath.Join(upper, "testinit/events.log")); strings.Count(string(ev), "boot") < 2 {
		t.Errorf("UPPER's events.log does not show two boots:\n%s", ev)
	}
	c.mustInitd(0, "stop", c.name)
	c.checkNoStorageLeft()
}

// TestStorageOverlayLayers: several lowers, the first on top, as LXC
// passes them to overlayfs.
func TestStorageOverlayLayers(t *testing.T) {
	var top, upper string
	c := newStorageCT(t, func(tree string) string {
		top = filepath.Join(filepath.Dir(tree), "top")
		upper = filepath.Join(filepath.Dir(tree), "snap", "delta0")
		return "overlayfs:" + top + ":" + tree + ":" + upper
	})
	if err := os.MkdirAll(filepath.Join(top, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(top, "etc/layer"), []byte("top\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustInitd(0, "start", c.name)
	c.waitBoot(1)
	if b, err := os.ReadFile(c.inside("etc/layer")); err != nil || string(b) != "top\n" {
		t.Errorf("/etc/layer from the top lower: %q, %v", b, err)
	}
	c.mustInitd(0, "stop", c.name)
}

// mkfsImage makes a 128 MiB image of fstype filled with tree.
func mkfsImage(t *testing.T, fstype, tree, img string) {
	t.Helper()
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(128 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var cmd *exec.Cmd
	switch fstype {
	case "ext4":
		cmd = exec.Command("mkfs.ext4", "-q", "-F", "-d", tree, img)
	case "btrfs":
		cmd = exec.Command("mkfs.btrfs", "-q", "-f", "--rootdir", tree, img)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
}

// loopCT is a test-init container on loop:IMAGE, an image of fstype.
func loopCT(t *testing.T, fstype string) (*stCT, string) {
	var img string
	c := newStorageCT(t, func(tree string) string {
		img = filepath.Join(filepath.Dir(tree), fstype+".img")
		mkfsImage(t, fstype, tree, img)
		return "loop:" + img
	})
	return c, img
}

// TestStorageLoop: loop:IMAGE with ext4 and with btrfs made by mkfs boots
// (the type detected), on a loop device the shim attached; a reboot
// attaches it again from scratch (one device at a time); a stop leaves no
// loop device and no mount on the host.
func TestStorageLoop(t *testing.T) {
	for _, fstype := range []string{"ext4", "btrfs"} {
		t.Run(fstype, func(t *testing.T) {
			c, img := loopCT(t, fstype)
			c.mustInitd(0, "start", c.name)
			c.waitBoot(1)
			loops := loopsOf(t, img)
			if len(loops) != 1 {
				t.Fatalf("image bound to %v, want one loop device", loops)
			}
			if m := c.rootMount(); !strings.HasPrefix(m, fstype+" "+loops[0]+" ") {
				t.Errorf("root mount %q: want %s from %s", m, fstype, loops[0])
			}
			if m := hostMountsOf(c.dir); len(m) > 0 {
				t.Errorf("mounted on the host:\n%s", strings.Join(m, "\n"))
			}
			// The host never mounted it: only the container's write shows.
			if err := os.WriteFile(c.inside("etc/written-inside"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(c.rootfs, "etc/written-inside")); err == nil {
				t.Errorf("a write inside the image reached the tree it was made from")
			}
			c.commandInside("reboot")
			c.waitBoot(2)
			if loops := loopsOf(t, img); len(loops) != 1 {
				t.Errorf("after a reboot the image is bound to %v, want one loop device", loops)
			}
			if _, err := os.Stat(c.inside("etc/written-inside")); err != nil {
				t.Errorf("the write of boot 1 is not in the image at boot 2: %v", err)
			}
			c.mustInitd(0, "stop", c.name)
			c.checkNoStorageLeft()
		})
	}
}

// TestStorageKilledShim: the shim killed with SIGKILL while the container
// runs (on a loop image, on an overlay); stop and cleanup from the state
// directory leave no loop device, mount or process. Then the same with
// the init killed too, and cleanup alone.
func TestStorageKilledShim(t *testing.T) {
	for _, storage := range []string{"loop", "overlay"} {
		for _, killInit := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/killinit=%v", storage, killInit), func(t *testing.T) {
				var c *stCT
				img := ""
				if storage == "loop" {
					c, img = loopCT(t, "ext4")
				} else {
					c = newStorageCT(t, func(tree string) string {
						return "overlay:" + tree + ":" + filepath.Join(filepath.Dir(tree), "snap", "delta0")
					})
				}
				c.mustInitd(0, "start", c.name)
				c.waitBoot(1)
				st := c.state()
				if err := syscall.Kill(st.ShimPid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				c.waitGone(st.ShimPid, "shim")
				if img != "" {
					if loops := loopsOf(t, img); len(loops) != 1 {
						t.Fatalf("with the shim dead the running container's image is bound to %v, want one", loops)
					}
				}
				if killInit {
					if err := syscall.Kill(st.Pid, syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
					c.waitGone(st.Pid, "init")
				} else {
					c.mustInitd(0, "stop", "--kill", c.name)
				}
				c.mustInitd(0, "cleanup", c.name)
				c.checkNoStorageLeft()
			})
		}
	}
}

// TestStorageBadInput: a missing lower layer, an image with no known file
// system and a busy image are refused by check and by start, naming the
// file, line, key and path; start leaves nothing behind.
func TestStorageBadInput(t *testing.T) {
	cases := []struct {
		name   string
		rootfs func(t *testing.T, dir, tree string) string
		want   string
	}{
		{"missing lower", func(t *testing.T, dir, tree string) string {
			return "overlay:" + dir + "/nolower:" + dir + "/snap/delta0"
		}, "overlay lower layer DIR/nolower: no such file or directory"},
		{"unknown fs", func(t *testing.T, dir, tree string) string {
			img := filepath.Join(dir, "blank.img")
			if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
				t.Fatal(err)
			}
			return "loop:" + img
		}, "no known file system on it"},
		{"blank device", func(t *testing.T, dir, tree string) string {
			img := filepath.Join(dir, "blankdev.img")
			if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("losetup", "-f", "--show", img).Output()
			if err != nil {
				t.Fatalf("losetup: %v", err)
			}
			dev := strings.TrimSpace(string(out))
			t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
			return dev
		}, "no known file system on it"},
		{"busy image", func(t *testing.T, dir, tree string) string {
			img := filepath.Join(dir, "busy.img")
			mkfsImage(t, "ext4", tree, img)
			out, err := exec.Command("losetup", "-f", "--show", img).Output()
			if err != nil {
				t.Fatalf("losetup: %v", err)
			}
			dev := strings.TrimSpace(string(out))
			t.Cleanup(func() {
				if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
					t.Errorf("losetup -d %s: %v %s", dev, err, out)
				}
			})
			return "loop:" + img
		}, "the image is in use: attached to /dev/loop"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var dir string
			c := newStorageCT(t, func(tree string) string {
				dir = filepath.Dir(tree)
				return tc.rootfs(t, dir, tree)
			})
			cfg := filepath.Join(c.lxcpath, c.name, "config")
			want := cfg + ":2: lxc.rootfs.path: "
			wantWhy := strings.ReplaceAll(tc.want, "DIR", dir)
			_, errOut, code := c.initd("check", c.name)
			if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, wantWhy) {
				t.Errorf("check: exit %d, stderr %q; want 1 and %q ... %q", code, errOut, want, wantWhy)
			}
			_, errOut, code = c.initd("start", c.name)
			if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, wantWhy) {
				t.Errorf("start: exit %d, stderr %q; want 1 and %q ... %q", code, errOut, want, wantWhy)
			}
			if tc.name == "missing lower" {
				if _, err := os.Stat(filepath.Join(dir, "snap")); err == nil {
					t.Errorf("a refused overlay created its upper directory")
				}
			}
			if rec := filepath.Join(c.rundir, c.name, "loop.json"); fileExists(rec) {
				t.Errorf("a refused start left %s", rec)
			}
			if tc.name == "busy image" {
				// Someone else's loop device is never detached.
				c.initd("cleanup", c.name)
				if l := loopsOf(t, filepath.Join(dir, "busy.img")); len(l) != 1 {
					t.Errorf("after cleanup the busy image is bound to %v, want the test's own device still", l)
				}
			}
		})
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestStorageRootfsOptionsAndMount: lxc.rootfs.options apply to the
// rootfs mount (ro, noatime; the init writes to a tmpfs entry), and
// lxc.rootfs.mount is where it is mounted before the pivot: a directory
// that does not exist is refused naming the key.
func TestStorageRootfsOptionsAndMount(t *testing.T) {
	var mnt string
	c := newStorageCT(t, func(tree string) string {
		dir := filepath.Dir(tree)
		mnt = filepath.Join(dir, "mnt")
		return "overlay:" + tree + ":" + filepath.Join(dir, "snap", "delta0")
	}, "lxc.rootfs.options = ro,noatime\n", "lxc.mount.entry = tmpfs testinit tmpfs defaults 0 0\n")
	cfg := filepath.Join(c.lxcpath, c.name, "config")
	conf, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append(conf, "lxc.rootfs.mount = "+mnt+"\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := c.initd("start", c.name)
	if want := cfg + ":6: lxc.rootfs.mount: " + mnt + ": no such file or directory"; code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("start with a missing lxc.rootfs.mount: exit %d %q, want 1 and %q", code, errOut, want)
	}
	c.initd("cleanup", c.name)
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	c.mustInitd(0, "start", c.name)
	c.waitBoot(1)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", c.state().Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[4] == "/" {
			if opts := strings.Split(f[5], ","); !slices.Contains(opts, "ro") || !slices.Contains(opts, "noatime") {
				t.Errorf("/ mounted %s, want ro and noatime (lxc.rootfs.options)", f[5])
			}
		}
	}
	if m := hostMountsOf(mnt); len(m) > 0 {
		t.Errorf("lxc.rootfs.mount has a mount on the host:\n%s", strings.Join(m, "\n"))
	}
	c.mustInitd(0, "stop", c.name)
}

// TestStorageBlockDevice: a block device path and lvm:DEVICE boot with the
// device's detected file system (here a loop device the test attached and
// detaches itself: lxc-shim never detaches what it did not attach).
func TestStorageBlockDevice(t *testing.T) {
	for _, prefix := range []string{"", "lvm:"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			var dev string
			c := newStorageCT(t, func(tree string) string {
				img := filepath.Join(filepath.Dir(tree), "dev.img")
				mkfsImage(t, "ext4", tree, img)
				out, err := exec.Command("losetup", "-f", "--show", img).Output()
				if err != nil {
					t.Fatalf("losetup: %v", err)
				}
				dev = strings.TrimSpace(string(out))
				t.Cleanup(func() {
					if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
						t.Errorf("losetup -d %s: %v %s", dev, err, out)
					}
				})
				return prefix + dev
			})
			c.mustInitd(0, "start", c.name)
			c.waitBoot(1)
			if m := c.rootMount(); !strings.HasPrefix(m, "ext4 "+dev+" ") {
				t.Errorf("root mount %q: want ext4 from %s", m, dev)
			}
			c.mustInitd(0, "stop", c.name)
			c.mustInitd(0, "cleanup", c.name)
			if l := loopsOf(t, filepath.Join(c.dir, "dev.img")); len(l) != 1 || l[0] != dev {
				t.Errorf("the test's own device: bound %v, want %s still", l, dev)
			}
		})
	}
}
