package supervise

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
	"github.com/lxc-shim/lxc-shim/hook"
)

// The hooks the shim runs itself, on the host (pre-start, start-host, stop,
// post-stop, lxc.net.N.script.up/down), go through its reaper; the stage
// runs the others inside (container/hooks.go). Where each runs in a boot
// is in bootSteps and run.Teardown, in LXC 5's order (src/lxc/start.c).

// hookNamespaces are the namespaces LXC hands to stop hooks, in the order
// LXC opens them (src/lxc/namespace.c ns_info; the cgroup namespace last,
// once the init made it).
var hookNamespaces = []struct{ proc, env string }{
	{"user", "LXC_USER_NS"},
	{"mnt", "LXC_MNT_NS"},
	{"pid", "LXC_PID_NS"},
	{"uts", "LXC_UTS_NS"},
	{"ipc", "LXC_IPC_NS"},
	{"net", "LXC_NET_NS"},
	{"cgroup", "LXC_CGROUP_NS"},
}

// nsFile is one namespace of the container held open for the stop hooks.
type nsFile struct {
	proc string
	env  string
	f    *os.File
}

// openNamespaces opens the namespaces of pid that are not the shim's own,
// among names (only those not already held), as LXC keeps them for its
// stop hooks.
func openNamespaces(pid int, have []nsFile, names ...string) ([]nsFile, error) {
	out := have
	for _, ns := range hookNamespaces {
		want := false
		for _, n := range names {
			want = want || n == ns.proc
		}
		for _, h := range have {
			want = want && h.proc != ns.proc
		}
		if !want {
			continue
		}
		var own, theirs unix.Stat_t
		if err := unix.Stat("/proc/self/ns/"+ns.proc, &own); err != nil {
			continue // the kernel has no such namespace
		}
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, ns.proc))
		if err != nil {
			closeNamespaces(out)
			return nil, fmt.Errorf("namespaces for lxc.hook.stop: %w", err)
		}
		if err := unix.Fstat(int(f.Fd()), &theirs); err != nil || theirs.Ino == own.Ino {
			// Kept from the host: not the container's to hand on.
			f.Close()
			continue
		}
		out = append(out, nsFile{proc: ns.proc, env: ns.env, f: f})
	}
	return out, nil
}

func closeNamespaces(nss []nsFile) {
	for _, n := range nss {
		n.f.Close()
	}
}

// stopHookArgs are what LXC 5.0 passes to stop hooks: the environment
// LXC_*_NS=/proc/SHIM/fd/N and, with version 0, the arguments
// NS:/proc/SHIM/fd/N too.
func stopHookArgs(version int, nss []nsFile) (env, args []string) {
	self := os.Getpid()
	for _, n := range nss {
		p := fmt.Sprintf("/proc/%d/fd/%d", self, n.f.Fd())
		if version == 0 {
			args = append(args, n.proc+":"+p)
		}
		env = append(env, n.env+"="+p)
	}
	return env, args
}

// netScriptArgs are LXC's arguments to a network's up and down scripts
// (src/lxc/network.c): TYPE, then the link, then the host side of a veth.
func netScriptArgs(n config.Network) []string {
	switch n.Type {
	case "veth":
		return []string{"veth", n.Link, n.VethPair}
	case "empty":
		return []string{n.Type}
	}
	return []string{n.Type, n.Link}
}

// runNetScripts runs every lxc.net.N.script.up (up) or script.down of cfg
// with spec's environment, time limit and log.
// Up stops at the first failure; down runs them all and returns the
// errors joined.
func runNetScripts(f hook.Forker, cfg *config.Config, up bool, spec hook.Spec) []error {
	var errs []error
	for _, n := range cfg.Net {
		cmd, typ := n.ScriptDown, "down"
		if up {
			cmd, typ = n.ScriptUp, "up"
		}
		if cmd == "" || n.Type == "none" {
			continue // LXC runs no script for a "none" network
		}
		s := spec
		s.Cmd, s.Key, s.Pos = cmd, "lxc.net."+strconv.Itoa(n.Index)+".script."+typ, n.Pos
		s.Section, s.Type, s.Args = "net", typ, netScriptArgs(n)
		s.Name, s.Version = cfg.Name, cfg.HookVersion
		if err := hook.Run(f, s); err != nil {
			errs = append(errs, err)
			if up {
				break
			}
		}
	}
	return errs
}
