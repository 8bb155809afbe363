package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
)

// view is what the host sees of a running container, by section (mounts,
// dev, net, cgroup, caps): one normalised line per thing.
type view map[string][]string

// viewOf reads the view of the container whose init is pid and whose host
// veth is hostVeth, from the host.
func viewOf(t *testing.T, pid int, hostVeth string) view {
	t.Helper()
	v := view{}
	root := fmt.Sprintf("/proc/%d/root", pid)
	mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(mi)), "\n") {
		f := strings.Fields(l)
		_, after, _ := strings.Cut(l, " - ")
		g := strings.Fields(after)
		if len(f) < 6 || len(g) < 3 {
			t.Fatalf("mountinfo line %q", l)
		}
		// Mount point, type, per-mount options, superblock options; the
		// source only where it is a path (not a pty index or device
		// number, which differ between any two boots).
		v["mounts"] = append(v["mounts"], strings.Join([]string{f[4], g[0], f[5], g[2]}, " "))
	}
	_ = filepath.Walk(root+"/dev", func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		rel := strings.TrimPrefix(p, root)
		line := rel + " " + fi.Mode().String()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode()&os.ModeDevice != 0 {
			major, minor := st.Rdev>>8&0xfff, st.Rdev&0xff|st.Rdev>>12&0xfff00
			if major == 136 {
				line += " 136:N" // a pty: its number is the allocation's
			} else {
				line += fmt.Sprintf(" %d:%d", major, minor)
			}
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			line += " -> " + target
		}
		if rel != "/dev" {
			v["dev"] = append(v["dev"], line)
		}
		return nil
	})
	hl, err := netlink.LinkByName(hostVeth)
	if err != nil {
		t.Fatalf("host veth %s: %v", hostVeth, err)
	}
	v["net"] = append(v["net"], "host "+linkLine(hl))
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	links, err := nh.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		v["net"] = append(v["net"], "inside "+l.Attrs().Name+" "+linkLine(l))
	}
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(cg)), "\n") {
		parts := strings.SplitN(l, ":", 3)
		for _, file := range cgroupLimitFiles[parts[1]] {
			dir := filepath.Join("/sys/fs/cgroup", parts[1], parts[2])
			if parts[1] == "" {
				dir = filepath.Join("/sys/fs/cgroup/unified", parts[2])
			}
			b, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				continue // not on this host's hierarchy
			}
			for _, val := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				v["cgroup"] = append(v["cgroup"], file+" "+val)
			}
		}
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(st), "\n") {
		if strings.HasPrefix(l, "Cap") || strings.HasPrefix(l, "NoNewPrivs") || strings.HasPrefix(l, "Seccomp:") {
			v["caps"] = append(v["caps"], strings.Join(strings.Fields(l), " "))
		}
	}
	for k := range v {
		slices.Sort(v[k])
	}
	return v
}

// cgroupLimitFiles are the limits compared, by v1 controller ("" is the
// unified hierarchy).
var cgroupLimitFiles = map[string][]string{
	"memory":  {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes"},
	"pids":    {"pids.max"},
	"cpu":     {"cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares"},
	"cpuset":  {"cpuset.cpus", "cpuset.mems"},
	"devices": {"devices.list"},
	"blkio":   {"blkio.weight"},
	"":        {"memory.max", "pids.max", "cpu.max", "cpu.weight", "cpuset.cpus", "cgroup.type"},
}

func linkLine(l netlink.Link) string {
	a := l.Attrs()
	up := "down"
	if a.Flags&1 != 0 {
		up = "up"
	}
	master := ""
	if a.MasterIndex != 0 {
		if m, err := netlink.LinkByIndex(a.MasterIndex); err == nil {
			master = " master " + m.Attrs().Name
		}
	}
	return fmt.Sprintf("%s mtu %d txqueuelen %d %s%s", l.Type(), a.MTU, a.TxQLen, up, master)
}

// lxcDifferences are the documented differences (docs/lxc-differences.md)
// between the two views, as rewrites of each side's lines: what is left
// must be equal. Every entry names the section of the document.
type rewrite struct {
	doc     string // the heading in docs/lxc-differences.md
	section string
	re      *regexp.Regexp
	repl    string // "" drops the line
}

var lxcSide = []rewrite{
	// LXC's own helper mounts, left in the container.
	{"/dev/.lxc", "mounts", regexp.MustCompile(`^/dev/\.lxc/(proc|sys) .*`), ""},
	{"/dev/.lxc", "dev", regexp.MustCompile(`^/dev/\.lxc( |/)`), ""},
	// LXC binds /dev/pts/ptmx on /dev/ptmx; lxc-shim links it.
	{"/dev/ptmx", "mounts", regexp.MustCompile(`^/dev/ptmx .*`), ""},
	{"/dev/ptmx", "dev", regexp.MustCompile(`^/dev/ptmx Dcrw-rw-rw- 5:2$`), "/dev/ptmx Lrwxrwxrwx -> pts/ptmx"},
	// LXC takes the ttys from the container's devpts (its max raised
	// by lxc.tty.max, /dev/pts/N present, mode 0620 group tty).
	{"ttys", "dev", regexp.MustCompile(`^/dev/pts/\d+ .*`), ""},
	{"ttys", "dev", regexp.MustCompile(`^(/dev/(tty\d+|console)) Dcrw--w---- 136:N$`), "$1 Dcrw------- 136:N"},
	{"ttys", "mounts", regexp.MustCompile(`^(/dev/tty\d+) devpts (\S+) .*`), "$1 devpts $2 HOSTPTY"},
	{"ttys", "mounts", regexp.MustCompile(`^(/dev/pts devpts \S+ .*),max=\d+$`), "$1"},
	{"console", "mounts", regexp.MustCompile(`^/dev/console devpts rw,relatime (.*)`), "/dev/console devpts rw,nosuid,noexec,relatime HOSTPTY"},
	// lxc-shim's /dev, /proc/sys and /sys carry nosuid,nodev,noexec.
	{"/dev", "mounts", regexp.MustCompile(`^/dev tmpfs rw,relatime `), "/dev tmpfs rw,nosuid,noexec,relatime "},
	{"/proc and /sys", "mounts", regexp.MustCompile(`^(/proc/sys|/sys) (proc|sysfs) ro,relatime (\S+)$`), "$1 $2 ro,nosuid,nodev,noexec,relatime rw"},
}

var shimSide = []rewrite{
	{"ttys", "mounts", regexp.MustCompile(`^(/dev/(tty\d+)) devpts (\S+) .*`), "$1 devpts $3 HOSTPTY"},
	{"console", "mounts", regexp.MustCompile(`^(/dev/console) devpts (\S+) .*`), "$1 devpts $2 HOSTPTY"},
	{"ttys", "mounts", regexp.MustCompile(`^(/dev/pts devpts \S+ .*),max=\d+$`), "$1"},
	// lxc.mount.auto cgroup:* with a cgroup namespace: LXC 5 mounts
	// nothing (unless :force); lxc-shim mounts what is asked.
	{"cgroup:mixed", "mounts", regexp.MustCompile(`^/sys/fs/cgroup(/\S+)? .*`), ""},
}

func (v view) rewrite(rs []rewrite) view {
	out := view{}
	for sec, lines := range v {
		for _, l := range lines {
			keep := true
			for _, r := range rs {
				if r.section != sec || !r.re.MatchString(l) {
					continue
				}
				if r.repl == "" {
					keep = false
					break
				}
				l = r.re.ReplaceAllString(l, r.repl)
			}
			if keep {
				out[sec] = append(out[sec], l)
			}
		}
		slices.Sort(out[sec])
	}
	return out
}

// diffViews lists what one side has and the other has not, by section.
func diffViews(lxc, shim view) []string {
	var out []string
	for _, sec := range []string{"mounts", "dev", "net", "cgroup", "caps"} {
		for _, l := range lxc[sec] {
			if !slices.Contains(shim[sec], l) {
				out = append(out, sec+": only under LXC:       "+l)
			}
		}
		for _, l := range shim[sec] {
			if !slices.Contains(lxc[sec], l) {
				out = append(out, sec+": only under lxc-shim:  "+l)
			}
		}
	}
	return out
}

// TestLXCBusyboxTemplateSameView boots the config LXC's busybox template
// writes (lxc-create -t busybox) under LXC 5 and under lxc-shim, one after
// the other on the same root file system, each with a veth of a
// recognisable name on a bridge of the test's, and compares what the host
// sees of each: the mount table with options, /dev, the network devices,
// the cgroup limits and the capabilities. Only the differences
// docs/lxc-differences.md lists are allowed.
func TestLXCBusyboxTemplateSameView(t *testing.T) {
	h := newTW(t)
	for _, tool := range []string{"lxc-create", "lxc-start", "lxc-stop", "lxc-info"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s: %v (scripts/deps.sh installs lxc)", tool, err)
		}
	}
	br := h.bridge()
	lxcpath := filepath.Join(h.dir, "lxcside")
	name := testutil.Name(h.prefix)
	if out, err := exec.Command("lxc-create", "-P", lxcpath, "-n", name, "-t", "busybox").CombinedOutput(); err != nil {
		t.Fatalf("lxc-create -t busybox: %v\n%s", err, out)
	}
	tmpl, err := os.ReadFile(filepath.Join(lxcpath, name, "config"))
	if err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(lxcpath, name, "rootfs")
	if !strings.Contains(string(tmpl), "lxc.rootfs.path = dir:"+rootfs+"\n") || !strings.Contains(string(tmpl), "lxc.net.0.link = lxcbr0\n") {
		t.Fatalf("the template's config is not the one this test knows:\n%s", tmpl)
	}
	// The one change: the network is on the test's bridge, the host end
	// named so that the test can find and remove it.
	withNet := func(pair string) string {
		return strings.Replace(string(tmpl), "lxc.net.0.link = lxcbr0\n",
			"lxc.net.0.link = "+br+"\nlxc.net.0.veth.pair = "+pair+"\n", 1)
	}
	lxcPair, shimPair := h.prefix+"l0", h.prefix+"s0"
	h.links = append(h.links, lxcPair) // removed at the end if LXC left it
	if err := os.WriteFile(filepath.Join(lxcpath, name, "config"), []byte(withNet(lxcPair)), 0o644); err != nil {
		t.Fatal(err)
	}

	// LXC first.
	lxcStop := func() {
		exec.Command("lxc-stop", "-P", lxcpath, "-n", name, "-k").Run()
	}
	t.Cleanup(lxcStop)
	if out, err := exec.Command("lxc-start", "-P", lxcpath, "-n", name, "-d", "-o", filepath.Join(h.dir, "lxc.log")).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(h.dir, "lxc.log"))
		t.Fatalf("lxc-start: %v\n%s\n%s", err, out, log)
	}
	var lxcPid int
	testutil.WaitFor(t, 20*time.Second, "LXC's init", func() error {
		out, err := exec.Command("lxc-info", "-P", lxcpath, "-n", name, "-p", "-H").Output()
		if err != nil {
			return err
		}
		lxcPid, err = strconv.Atoi(strings.TrimSpace(string(out)))
		return err
	})
	settle(t, lxcPid)
	lxcView := viewOf(t, lxcPid, lxcPair)
	lxcStop()
	testutil.WaitFor(t, 20*time.Second, "LXC's container gone", func() error {
		if alive(lxcPid) {
			return fmt.Errorf("init %d alive", lxcPid)
		}
		if _, err := netlink.LinkByName(lxcPair); err == nil {
			return fmt.Errorf("veth %s still there", lxcPair)
		}
		for _, d := range []string{"lxc.payload." + name, "lxc.monitor." + name} {
			if m, _ := filepath.Glob("/sys/fs/cgroup/*/" + d); len(m) > 0 {
				return fmt.Errorf("LXC's cgroups %v still there", m)
			}
			if _, err := os.Stat("/sys/fs/cgroup/" + d); err == nil {
				return fmt.Errorf("LXC's cgroup %s still there", d)
			}
		}
		return nil
	})

	// Then lxc-shim, on the same root file system.
	c := &twCT{h: h, name: name, rootfs: rootfs, pair: shimPair, root: rootBusybox}
	h.cts = append(h.cts, c)
	testutil.WriteConfig(t, h.lxcpath, name, withNet(shimPair))
	st := c.start()
	settle(t, st.Pid)
	shimView := viewOf(t, st.Pid, shimPair)
	c.stop()

	if d := diffViews(lxcView.rewrite(lxcSide), shimView.rewrite(shimSide)); len(d) > 0 {
		t.Errorf("views differ beyond docs/lxc-differences.md:\n  %s", strings.Join(d, "\n  "))
	}
	// The rewrites must be needed: each names a difference that exists.
	for _, side := range []struct {
		v  view
		rs []rewrite
	}{{lxcView, lxcSide}, {shimView, shimSide}} {
		for _, r := range side.rs {
			if !slices.ContainsFunc(side.v[r.section], r.re.MatchString) {
				t.Errorf("documented difference %q (%s: %s) does not occur: remove it from the test and the document", r.doc, r.section, r.re)
			}
		}
	}
	if t.Failed() {
		t.Logf("LXC's view:\n%s\nlxc-shim's view:\n%s", lxcView, shimView)
	}
	h.finish()
}

func (v view) String() string {
	var b strings.Builder
	for _, sec := range []string{"mounts", "dev", "net", "cgroup", "caps"} {
		for _, l := range v[sec] {
			fmt.Fprintf(&b, "  %s: %s\n", sec, l)
		}
	}
	return b.String()
}

// settle waits until the busybox init's rcS has run (its syslogd made
// /dev/log), so that both views are of a booted container.
func settle(t *testing.T, pid int) {
	t.Helper()
	testutil.WaitFor(t, 15*time.Second, "/dev/log inside", func() error {
		_, err := os.Stat(fmt.Sprintf("/proc/%d/root/dev/log", pid))
		return err
	})
}
