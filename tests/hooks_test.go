package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lxc-shim/lxc-shim/internal/testutil"
	"github.com/lxc-shim/lxc-shim/shimctl"
)

// hookRecorder is a hook that appends what it saw to hooks.log at the
// root of the container's root file system: its type, the namespaces it
// ran in, the mount namespace LXC_MNT_NS names (stop), its arguments, then
// every LXC_* variable. The start hook runs inside, where the root file
// system is "/".
const hookRecorder = `#!/bin/sh
typ=${LXC_HOOK_TYPE:-$3}
log="$LXC_ROOTFS_PATH/hooks.log"
[ "$typ" = start ] && log=/hooks.log
stopmnt=
[ -n "$LXC_MNT_NS" ] && [ "$typ" = stop ] && stopmnt=$(readlink "$LXC_MNT_NS")
fds=$(cd /proc/self/fd && for f in *; do readlink "$f"; done | sed 's/^pipe:.*/pipe/' | sort -u | tr '\n' ',')
echo "hook $typ mnt=$(readlink /proc/self/ns/mnt) pid=$(readlink /proc/self/ns/pid) net=$(readlink /proc/self/ns/net) uts=$(readlink /proc/self/ns/uts) stopmnt=$stopmnt fds=$fds args=$*" >> "$log"
env | grep '^LXC_' | sort | sed "s/^/env $typ /" >> "$log"
`

// hookRun is one line "hook ..." of hooks.log with the env lines after it.
type hookRun struct {
	typ  string
	ns   map[string]string // mnt, pid, net, uts, stopmnt: "host", "container" or ""
	args string
	fds  []string // what the hook's shell has open ("pipe" for any pipe)
	env  map[string]string
}

// procFD is how LXC and lxc-shim name a namespace they hold for stop hooks.
var procFD = regexp.MustCompile(`/proc/[0-9]+/fd/[0-9]+`)

// parseHookLog reads hooks.log, classifying each namespace as the host's
// (the test's own) or not, and normalising what differs between two runs
// by nature (the lxc path, PIDs, descriptor numbers).
func parseHookLog(t *testing.T, path, lxcpath string) []hookRun {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("hooks.log: %v", err)
	}
	host := map[string]string{}
	for _, n := range []string{"mnt", "pid", "net", "uts"} {
		host[n], _ = os.Readlink("/proc/self/ns/" + n)
	}
	var runs []hookRun
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "hook":
			r := hookRun{typ: f[1], ns: map[string]string{}, env: map[string]string{}}
			for _, kv := range f[2:] {
				k, v, _ := strings.Cut(kv, "=")
				if k == "fds" {
					r.fds = strings.Split(strings.TrimSuffix(v, ","), ",")
				}
				switch k {
				case "mnt", "pid", "net", "uts", "stopmnt":
					switch {
					case v == "":
						r.ns[k] = ""
					case v == host[strings.TrimPrefix(k, "stop")]:
						r.ns[k] = "host"
					default:
						r.ns[k] = "container"
					}
				}
			}
			if _, a, ok := strings.Cut(line, " args="); ok {
				r.args = procFD.ReplaceAllString(a, "/proc/P/fd/N")
			}
			runs = append(runs, r)
		case len(f) >= 3 && f[0] == "env" && len(runs) > 0:
			k, v, _ := strings.Cut(strings.Join(f[2:], " "), "=")
			if strings.HasPrefix(k, "LXC_SHIM_") {
				continue // the test's own, which lxc-start passes on
			}
			v = procFD.ReplaceAllString(v, "/proc/P/fd/N")
			switch k {
			case "LXC_CONFIG_FILE":
				v = strings.Replace(v, lxcpath, "LXCPATH", 1)
			case "LXC_PID":
				v = "PID"
			case "LXC_ROOTFS_MOUNT", "LXC_LOG_LEVEL":
				// LXC mounts the root file system at its own
				// directory, lxc-shim where it is; the log level is
				// each one's own.
				v = "-"
			}
			runs[len(runs)-1].env[k] = v
		}
	}
	return runs
}

func hookTypes(runs []hookRun) []string {
	var out []string
	for _, r := range runs {
		out = append(out, r.typ)
	}
	return out
}

// hookConfig is a busybox container with every hook type set to script,
// of hook version v, that reboots on SIGTERM and halts on SIGUSR1, with no
// network device (LXC must not touch the host's network).
func hookConfig(script string, v int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "lxc.net.0.type = empty\nlxc.mount.auto = proc:mixed sys:mixed\n"+
		"lxc.signal.halt = SIGUSR1\nlxc.signal.reboot = SIGTERM\nlxc.hook.version = %d\n", v)
	for _, typ := range []string{"pre-start", "pre-mount", "mount", "autodev", "start-host", "start", "stop", "post-stop"} {
		fmt.Fprintf(&b, "lxc.hook.%s = %s\n", typ, script)
	}
	return b.String()
}

// installHook writes script at a host path and at the same path inside
// rootfs (where LXC resolves the start hook) and returns the path.
func installHook(t *testing.T, rootfs, content string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "hook.sh")
	for _, f := range []string{p, filepath.Join(rootfs, p)} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// runUnderLXC boots the container of config under LXC 5 in its own lxc
// path, reboots it from inside once, stops it, and returns hooks.log
// parsed. LXC cleans up its own cgroups; the test checks it stopped.
func runUnderLXC(t *testing.T, name, config, rootfs string) []hookRun {
	t.Helper()
	if _, err := exec.LookPath("lxc-start"); err != nil {
		t.Fatalf("LXC is not installed: %v", err)
	}
	lxcpath := filepath.Join(t.TempDir(), "lxc")
	testutil.WriteConfig(t, lxcpath, name, config)
	lxc := func(cmd string, args ...string) (string, error) {
		out, err := exec.Command(cmd, append([]string{"-P", lxcpath, "-n", name}, args...)...).CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		_, _ = lxc("lxc-stop", "-k")
	})
	log := filepath.Join(rootfs, "hooks.log")
	_ = os.Remove(log)
	if out, err := lxc("lxc-start", "-d", "-o", filepath.Join(lxcpath, "lxc.log")); err != nil {
		b, _ := os.ReadFile(filepath.Join(lxcpath, "lxc.log"))
		t.Fatalf("lxc-start: %v\n%s\n%s", err, out, b)
	}
	waitHooks(t, log, "start-host", 1)
	if out, err := lxc("lxc-wait", "-s", "RUNNING", "-t", "30"); err != nil {
		t.Fatalf("lxc-wait: %v\n%s", err, out)
	}
	if out, err := lxc("lxc-stop", "-r", "-t", "30"); err != nil {
		t.Fatalf("lxc-stop -r: %v\n%s", err, out)
	}
	waitHooks(t, log, "start-host", 2)
	if out, err := lxc("lxc-wait", "-s", "RUNNING", "-t", "30"); err != nil {
		t.Fatalf("lxc-wait: %v\n%s", err, out)
	}
	if out, err := lxc("lxc-stop", "-t", "30"); err != nil {
		t.Fatalf("lxc-stop: %v\n%s", err, out)
	}
	waitHooks(t, log, "post-stop", 2)
	return parseHookLog(t, log, lxcpath)
}

// waitHooks waits until hooks.log holds n runs of hook typ.
func waitHooks(t *testing.T, log, typ string, n int) {
	t.Helper()
	testutil.WaitFor(t, 60*time.Second, fmt.Sprintf("%d× hook %s", n, typ), func() error {
		b, _ := os.ReadFile(log)
		if c := strings.Count(string(b), "hook "+typ+" "); c < n {
			return fmt.Errorf("%d so far:\n%s", c, b)
		}
		return nil
	})
}

// TestHooksLikeLXC runs every hook type under LXC 5 and lxc-shim on the
// same busybox container (one boot, a reboot from inside, a stop) and
// compares: the order, the namespaces each ran in, the namespaces stop
// hooks are handed, the arguments (version 0) and LXC's variables
// (version 1), LXC_TARGET=reboot after the reboot included.
func TestHooksLikeLXC(t *testing.T) {
	for _, v := range []int{1, 0} {
		t.Run(fmt.Sprintf("version%d", v), func(t *testing.T) {
			e := newLC(t, rootBusybox, "")
			script := installHook(t, e.rootfs, hookRecorder)
			cfgPath := filepath.Join(e.lxcpath, e.name, "config")
			base, err := os.ReadFile(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			config := string(base) + hookConfig(script, v) +
				"lxc.console.logfile = " + filepath.Join(t.TempDir(), "console.log") + "\n"
			testutil.WriteConfig(t, e.lxcpath, e.name, config)

			lxcRuns := runUnderLXC(t, e.name, config, e.rootfs)
			testutil.CheckNoLeaks(t, e.name, e.rootfs, "")

			log := filepath.Join(e.rootfs, "hooks.log")
			_ = os.Remove(log)
			e.mustInitd(0, "start", e.name)
			waitHooks(t, log, "start-host", 1)
			e.mustInitd(0, "reboot", e.name)
			e.waitState(60*time.Second, "second boot running", func(st *shimctl.Status) bool {
				return st.State == shimctl.StateRunning && st.BootCount == 2
			})
			e.mustInitd(0, "stop", e.name, "-t", "30")
			waitHooks(t, log, "post-stop", 2)
			shimRuns := parseHookLog(t, log, e.lxcpath)

			want := []string{"pre-start", "pre-mount", "mount", "autodev", "start", "start-host", "stop", "post-stop"}
			want = append(want, want...)
			if got := hookTypes(lxcRuns); !slices.Equal(got, want) {
				t.Fatalf("LXC ran %v, the test expects %v", got, want)
			}
			if got := hookTypes(shimRuns); !slices.Equal(got, want) {
				t.Fatalf("lxc-shim ran %v, LXC %v", got, want)
			}
			for i := range want {
				l, s := lxcRuns[i], shimRuns[i]
				for _, n := range []string{"mnt", "pid", "net", "uts", "stopmnt"} {
					if l.ns[n] != s.ns[n] {
						t.Errorf("hook %d (%s): %s namespace: lxc-shim %q, LXC %q", i, l.typ, n, s.ns[n], l.ns[n])
					}
				}
				if l.args != s.args {
					t.Errorf("hook %d (%s): arguments: lxc-shim %q, LXC %q", i, l.typ, s.args, l.args)
				}
				if (l.typ == "stop" || l.typ == "post-stop") && l.env["LXC_TARGET"] != s.env["LXC_TARGET"] {
					t.Errorf("hook %d (%s): LXC_TARGET: lxc-shim %q, LXC %q", i, l.typ, s.env["LXC_TARGET"], l.env["LXC_TARGET"])
				}
				if i >= len(want)/2 || l.typ == "post-stop" {
					// LXC's monitor keeps what it set for one hook in
					// its environment for the next ones (LXC_*_NS of
					// closed descriptors in post-stop, the first boot's
					// LXC_TARGET in the second's pre-start): only the
					// first boot's own variables are compared.
					continue
				}
				for k, lv := range l.env {
					if sv, ok := s.env[k]; !ok || sv != lv {
						t.Errorf("hook %d (%s): %s: lxc-shim %q (set %v), LXC %q", i, l.typ, k, sv, ok, lv)
					}
				}
				for k, sv := range s.env {
					if _, ok := l.env[k]; !ok {
						t.Errorf("hook %d (%s): lxc-shim sets %s=%q, LXC does not", i, l.typ, k, sv)
					}
				}
			}
			// A hook gets stdin, stdout and stderr (pipes) and nothing
			// else of the shim's or the stage's: /bin/sh itself holds
			// the script it runs. (Seen from a subshell of the hook's
			// shell, which holds the same.)
			for i, r := range shimRuns {
				if len(r.fds) == 0 {
					t.Errorf("hook %d (%s) recorded no descriptors", i, r.typ)
				}
				for _, fd := range r.fds {
					if fd != "pipe" && fd != script {
						t.Errorf("hook %d (%s) holds %q (all: %v)", i, r.typ, fd, r.fds)
					}
				}
			}
			// What the comparison rests on: the stop hook got the
			// container's mount namespace, the reboot was seen as one.
			if s := shimRuns[6]; s.ns["stopmnt"] != "container" && v == 1 {
				t.Errorf("stop hook: LXC_MNT_NS is not the container's: %+v", s)
			}
			if s := shimRuns[6]; s.env["LXC_TARGET"] != "reboot" || shimRuns[7].env["LXC_TARGET"] != "reboot" {
				t.Errorf("after a reboot from inside: stop %q, post-stop %q, want LXC_TARGET=reboot", s.env["LXC_TARGET"], shimRuns[7].env["LXC_TARGET"])
			}
			if s := shimRuns[15]; s.env["LXC_TARGET"] != "stop" {
				t.Errorf("after a stop: post-stop LXC_TARGET=%q, want stop", s.env["LXC_TARGET"])
			}
			if t.Failed() {
				b, _ := os.ReadFile(log)
				t.Logf("lxc-shim's hooks.log:\n%s", b)
			}
		})
	}
}

// TestHookFailure: a failing hook fails the start with its key, place in
// the config, exit status and last output lines, and leaves nothing; the
// post-stop hooks still run once the pre-start ones did (as LXC's lxc_end
// does); a hook that outlives --hook-timeout is killed and fails the start.
func TestHookFailure(t *testing.T) {
	cases := []struct {
		name, typ, body, timeout string
		want                     []string
		postStop                 bool
	}{
		{name: "pre-start", typ: "pre-start", body: "echo first line; echo 'it broke' >&2; exit 3",
			want: []string{"lxc.hook.pre-start", "exited with status 3", "first line", "it broke"}},
		{name: "mount", typ: "mount", body: "echo mount hook says no; exit 4",
			want: []string{"lxc.hook.mount", "exited with status 4", "mount hook says no"}, postStop: true},
		{name: "start-host", typ: "start-host", body: "echo host side refuses; exit 5",
			want: []string{"lxc.hook.start-host", "exited with status 5", "host side refuses"}, postStop: true},
		{name: "timeout", typ: "start", body: "echo sleeping; sleep 600", timeout: "2s",
			want: []string{"lxc.hook.start", "timed out after 2s", "sleeping"}, postStop: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newLC(t, rootBusybox, "")
			marker := filepath.Join(t.TempDir(), "post-stop.log")
			fail := installHook(t, e.rootfs, "#!/bin/sh\n"+c.body+"\n")
			post := filepath.Join(filepath.Dir(fail), "post.sh")
			if err := os.WriteFile(post, []byte("#!/bin/sh\necho \"post-stop $LXC_TARGET\" >> "+marker+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			cfgPath := filepath.Join(e.lxcpath, e.name, "config")
			base, _ := os.ReadFile(cfgPath)
			config := string(base) + "lxc.signal.halt = SIGUSR1\nlxc.mount.auto = proc:mixed\n" +
				"lxc.hook.post-stop = " + post + "\nlxc.hook." + c.typ + " = " + fail + "\n"
			testutil.WriteConfig(t, e.lxcpath, e.name, config)
			line := strings.Count(config, "\n") // the failing hook's line
			args := []string{"start", e.name}
			if c.timeout != "" {
				args = []string{"start", "--hook-timeout", c.timeout, e.name}
			}
			began := time.Now()
			out, errOut, code := e.initd(args...)
			if code == 0 {
				t.Fatalf("start succeeded with a failing %s hook:\n%s%s", c.typ, out, errOut)
			}
			want := append([]string{fmt.Sprintf("%s:%d", cfgPath, line), fail}, c.want...)
			for _, w := range want {
				if !strings.Contains(errOut, w) {
					t.Errorf("start's error lacks %q:\n%s", w, errOut)
				}
			}
			t.Logf("start said:\n%s", errOut)
			if c.timeout != "" && time.Since(began) > 60*time.Second {
				t.Errorf("start took %s with a 2s hook time limit", time.Since(began))
			}
			b, _ := os.ReadFile(marker)
			if got := string(b); c.postStop && got != "post-stop stop\n" {
				t.Errorf("post-stop hooks after the failure: %q, want one run with LXC_TARGET=stop", got)
			} else if !c.postStop && got != "" {
				t.Errorf("post-stop ran although pre-start failed (LXC does not run it): %q", got)
			}
			log, _ := os.ReadFile(filepath.Join(e.logdir, e.name+".log"))
			if !strings.Contains(string(log), "hook output") {
				t.Errorf("the hook's output is not in the shim's log:\n%s", log)
			}
			testutil.CheckNoLeaks(t, e.name, e.rootfs, "")
		})
	}
}

// TestNetScripts: lxc.net.N.script.up runs once the host side of the
// network is made and script.down before it is removed, with LXC's
// arguments (version 0: NAME net up|down TYPE LINK HOSTVETH) and
// environment (version 1: LXC_NET_TYPE, LXC_NET_PARENT, LXC_NET_PEER).
func TestNetScripts(t *testing.T) {
	for _, v := range []int{0, 1} {
		t.Run(fmt.Sprintf("version%d", v), func(t *testing.T) {
			e := newLC(t, rootBusybox, "")
			pair := testutil.Name("hkv")
			rec := filepath.Join(t.TempDir(), "net.log")
			script := installHook(t, e.rootfs, "#!/bin/sh\n"+
				"echo \"args=$* type=$LXC_NET_TYPE parent=$LXC_NET_PARENT peer=$LXC_NET_PEER hook=$LXC_HOOK_TYPE section=$LXC_HOOK_SECTION exists=$(test -e /sys/class/net/"+pair+" && echo yes)\" >> "+rec+"\n")
			cfgPath := filepath.Join(e.lxcpath, e.name, "config")
			base, _ := os.ReadFile(cfgPath)
			config := string(base) + fmt.Sprintf("lxc.signal.halt = SIGUSR1\nlxc.hook.version = %d\n"+
				"lxc.net.0.type = veth\nlxc.net.0.veth.pair = %s\nlxc.net.0.script.up = %s\nlxc.net.0.script.down = %s\n"+
				"lxc.net.1.type = empty\nlxc.net.1.script.up = %s\n", v, pair, script, script, script)
			testutil.WriteConfig(t, e.lxcpath, e.name, config)
			t.Cleanup(func() { testutil.CheckNoLeaks(t, e.name, e.rootfs, pair) })
			e.mustInitd(0, "start", e.name)
			e.mustInitd(0, "stop", e.name, "-t", "30")
			b, err := os.ReadFile(rec)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if v == 0 {
				want = []string{
					fmt.Sprintf("args=%s net up veth %s type= parent= peer= hook= section= exists=yes", e.name, pair),
					fmt.Sprintf("args=%s net up empty type= parent= peer= hook= section= exists=yes", e.name),
					fmt.Sprintf("args=%s net down veth %s type= parent= peer= hook= section= exists=yes", e.name, pair),
				}
			} else {
				want = []string{
					fmt.Sprintf("args=veth %s type=veth parent= peer=%s hook=up section=net exists=yes", pair, pair),
					"args=empty type=empty parent= peer= hook=up section=net exists=yes",
					fmt.Sprintf("args=veth %s type=veth parent= peer=%s hook=down section=net exists=yes", pair, pair),
				}
			}
			if got := strings.Split(strings.TrimSpace(string(b)), "\n"); !slices.Equal(got, want) {
				t.Errorf("network scripts ran as\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// memTotal is the MemTotal line of a /proc/meminfo.
var memTotal = regexp.MustCompile(`(?m)^MemTotal:\s+([0-9]+) kB$`)

// TestLxcfsMeminfo: with lxcfs on the host, a container that includes
// LXC's common.conf (through common.conf.d/00-lxcfs.conf, lxcfs's mount
// and post-stop hooks) and a 256 MiB memory limit sees MemTotal 262144 kB
// in its /proc/meminfo, as under LXC 5.
func TestLxcfsMeminfo(t *testing.T) {
	// LXC's common.conf: its seccomp policy, device lists and
	// common.conf.d/, where lxcfs's package puts its mount and post-stop
	// hooks.
	const snippet = "/usr/share/lxc/config/common.conf"
	if _, err := os.Stat("/usr/share/lxc/config/common.conf.d/00-lxcfs.conf"); err != nil {
		t.Fatalf("lxcfs's LXC snippet: %v (apt-get install lxcfs)", err)
	}
	testutil.RequireRoot(t)
	testutil.StartLxcfs(t)
	e := newLC(t, rootBusybox, "")
	cfgPath := filepath.Join(e.lxcpath, e.name, "config")
	base, _ := os.ReadFile(cfgPath)
	config := string(base) + "lxc.include = " + snippet + "\n" +
		"lxc.cgroup.memory.limit_in_bytes = 256M\n" +
		"lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed\n" +
		"lxc.net.0.type = empty\nlxc.signal.halt = SIGUSR1\n"
	testutil.WriteConfig(t, e.lxcpath, e.name, config)

	// Under LXC first, in its own lxc path.
	lxcpath := filepath.Join(t.TempDir(), "lxc")
	testutil.WriteConfig(t, lxcpath, e.name, config)
	lxc := func(cmd string, args ...string) (string, error) {
		out, err := exec.Command(cmd, append([]string{"-P", lxcpath, "-n", e.name}, args...)...).CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { _, _ = lxc("lxc-stop", "-k") })
	if out, err := lxc("lxc-start", "-d", "-o", filepath.Join(lxcpath, "lxc.log")); err != nil {
		b, _ := os.ReadFile(filepath.Join(lxcpath, "lxc.log"))
		t.Fatalf("lxc-start: %v\n%s\n%s", err, out, b)
	}
	if out, err := lxc("lxc-wait", "-s", "RUNNING", "-t", "30"); err != nil {
		t.Fatalf("lxc-wait: %v\n%s", err, out)
	}
	lxcInfo, err := lxc("lxc-attach", "--", "cat", "/proc/meminfo")
	if err != nil {
		t.Fatalf("lxc-attach: %v\n%s", err, lxcInfo)
	}
	if out, err := lxc("lxc-stop", "-t", "30"); err != nil {
		t.Fatalf("lxc-stop: %v\n%s", err, out)
	}
	testutil.CheckNoLeaks(t, e.name, e.rootfs, "")

	e.mustInitd(0, "start", e.name)
	shimInfo := e.mustInitd(0, "attach", e.name, "--", "cat", "/proc/meminfo")
	e.mustInitd(0, "stop", e.name, "-t", "30")

	lm, sm := memTotal.FindStringSubmatch(lxcInfo), memTotal.FindStringSubmatch(shimInfo)
	if lm == nil || sm == nil {
		t.Fatalf("no MemTotal line: LXC:\n%s\nlxc-shim:\n%s", lxcInfo, shimInfo)
	}
	if sm[1] != "262144" {
		t.Errorf("lxc-shim: MemTotal %s kB, want 262144 (lxcfs under a 256M limit)", sm[1])
	}
	if lm[1] != sm[1] {
		t.Errorf("MemTotal: lxc-shim %s kB, LXC %s kB", sm[1], lm[1])
	}
}

// TestPostStopFailureCancelsReboot: as LXC (lxc_end), a post-stop hook
// that fails after a reboot from inside stops the container instead of
// booting it again.
func TestPostStopFailureCancelsReboot(t *testing.T) {
	e := newLC(t, rootBusybox, "")
	script := installHook(t, e.rootfs, "#!/bin/sh\necho \"post-stop $LXC_TARGET\"\n[ \"$LXC_TARGET\" != reboot ]\n")
	cfgPath := filepath.Join(e.lxcpath, e.name, "config")
	base, _ := os.ReadFile(cfgPath)
	testutil.WriteConfig(t, e.lxcpath, e.name, string(base)+
		"lxc.signal.halt = SIGUSR1\nlxc.signal.reboot = SIGTERM\nlxc.hook.pre-start = /bin/true\nlxc.hook.post-stop = "+script+"\n")
	e.mustInitd(0, "start", e.name)
	e.waitState(30*time.Second, "running", func(st *shimctl.Status) bool { return st.State == shimctl.StateRunning })
	e.mustInitd(0, "reboot", e.name)
	st := e.waitState(60*time.Second, "stopped after the failed post-stop hook", func(st *shimctl.Status) bool {
		return st.State == shimctl.StateStopped || st.BootCount > 1
	})
	if st.State != shimctl.StateStopped || st.BootCount != 1 || !strings.Contains(st.Reason, "post-stop") {
		t.Errorf("after a reboot whose post-stop hook failed: state %s, boot %d, reason %q; want stopped after boot 1", st.State, st.BootCount, st.Reason)
	}
	log, _ := os.ReadFile(filepath.Join(e.logdir, e.name+".log"))
	if !strings.Contains(string(log), "post-stop reboot") {
		t.Errorf("the hook's output is not in the shim's log:\n%s", log)
	}
}

// TestHooksInConfigOrder: several hooks of one type run in config order,
// their own arguments included; "lxc.hook.TYPE =" drops those before it.
func TestHooksInConfigOrder(t *testing.T) {
	e := newLC(t, rootBusybox, "")
	rec := filepath.Join(t.TempDir(), "order.log")
	script := installHook(t, e.rootfs, "#!/bin/sh\necho \"$1 $LXC_HOOK_TYPE\" >> "+rec+"\n")
	cfgPath := filepath.Join(e.lxcpath, e.name, "config")
	base, _ := os.ReadFile(cfgPath)
	testutil.WriteConfig(t, e.lxcpath, e.name, string(base)+"lxc.signal.halt = SIGUSR1\nlxc.hook.version = 1\n"+
		"lxc.hook.start-host = "+script+" first\n"+
		"lxc.hook.mount = "+script+" dropped\n"+
		"lxc.hook.mount =\n"+
		"lxc.hook.start-host = "+script+" second\n"+
		"lxc.hook.mount = "+script+" kept\n")
	e.mustInitd(0, "start", e.name)
	e.mustInitd(0, "stop", e.name, "-t", "30")
	b, _ := os.ReadFile(rec)
	if got, want := string(b), "kept mount\nfirst start-host\nsecond start-host\n"; got != want {
		t.Errorf("hooks ran as\n%swant\n%s", got, want)
	}
}
