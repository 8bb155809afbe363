package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// mountOf returns the mountinfo line of pid whose mount point is target.
func mountOf(t *testing.T, pid int, target string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", itoa(pid), "mountinfo"))
	if err != nil {
		t.Fatal(err)
	}
	found := ""
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[4] == target {
			found = l // the last one is on top
		}
	}
	if found == "" {
		t.Errorf("no mount on %s in the init's mountinfo:\n%s", target, b)
	}
	return found
}

// mountOpts is the per-mount options field of a mountinfo line.
func mountOpts(line string) []string {
	if f := strings.Fields(line); len(f) > 5 {
		return strings.Split(f[5], ",")
	}
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestFidelityWithLXC: what an init sees as under LXC 5 for the same
// config: a random boot id of the container's own that changes with a
// reboot from inside (read-only, LXC's bind of /dev/.lxc-boot-id), the
// console and ttys bound nosuid,noexec, a veth with the kernel's
// txqueuelen (1000) at both ends.
func TestFidelityWithLXC(t *testing.T) {
	h := newTW(t)
	br := h.bridge()
	c := h.add(rootTestinit, func(c *twCT) string {
		return c.head(testinitBase+"lxc.mount.auto = proc:mixed sys:mixed\nlxc.tty.max = 2\n") +
			c.vethNet(br, "02:00:0a:ee:00:02", "10.238.0.2/24")
	})
	st := c.start()
	hostID, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	bootID := func() string {
		var r struct {
			BootID string `json:"boot_id"`
		}
		b, err := os.ReadFile(filepath.Join(c.rootfs, "testinit", "boot.json"))
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err != nil {
			t.Fatal(err)
		}
		return r.BootID
	}
	id1 := bootID()
	if !uuidRe.MatchString(id1) || id1 == strings.TrimSpace(string(hostID)) {
		t.Errorf("boot 1's boot_id %q: want a random UUID of its own (the host's is %s)", id1, hostID)
	}
	if opts := mountOpts(mountOf(t, st.Pid, "/proc/sys/kernel/random/boot_id")); !hasAll(opts, "ro", "nosuid", "nodev", "noexec") {
		t.Errorf("boot_id mounted %v, want ro,nosuid,nodev,noexec", opts)
	}
	for _, tty := range []string{"/dev/console", "/dev/tty1", "/dev/tty2"} {
		if opts := mountOpts(mountOf(t, st.Pid, tty)); !hasAll(opts, "nosuid", "noexec") {
			t.Errorf("%s mounted %v, want nosuid,noexec as LXC", tty, opts)
		}
	}
	hl, err := netlink.LinkByName(c.pair)
	if err != nil {
		t.Fatal(err)
	}
	if q := hl.Attrs().TxQLen; q != 1000 {
		t.Errorf("host veth %s txqueuelen %d, want 1000", c.pair, q)
	}
	il, err := c.insideLink("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if q := il.Attrs().TxQLen; q != 1000 {
		t.Errorf("eth0 inside txqueuelen %d, want 1000", q)
	}

	// A reboot from inside: a new boot id.
	_ = os.Remove(filepath.Join(c.rootfs, "testinit", "boot.json"))
	cmd := filepath.Join(c.rootfs, "testinit", "cmd")
	if err := os.WriteFile(cmd+".tmp", []byte("reboot\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(cmd+".tmp", cmd); err != nil {
		t.Fatal(err)
	}
	st2 := c.waitState(20*time.Second, "boot 2", func(s *shimctl.Status) bool { return s.BootCount == 2 && s.State == shimctl.StateRunning })
	c.noteNetns(st2.Pid)
	testutil.WaitFor(t, 10*time.Second, "boot 2's boot.json", func() error {
		_, err := os.Stat(filepath.Join(c.rootfs, "testinit", "boot.json"))
		return err
	})
	if id2 := bootID(); !uuidRe.MatchString(id2) || id2 == id1 {
		t.Errorf("boot 2's boot_id %q, boot 1's %q: want a new one", id2, id1)
	}
	c.stop()
	h.finish()
}

func hasAll(opts []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, o := range opts {
			found = found || o == w
		}
		if !found {
			return false
		}
	}
	return true
}
