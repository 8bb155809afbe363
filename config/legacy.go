package config

import (
	"strconv"
	"strings"
)

// legacyKeys maps LXC 1.x/2.x keys to their LXC 3+ names, exactly as LXC's
// lxc-update-config rewrites them.
var legacyKeys = map[string]string{
	"lxc.utsname":             "lxc.uts.name",
	"lxc.rootfs":              "lxc.rootfs.path",
	"lxc.tty":                 "lxc.tty.max",
	"lxc.pts":                 "lxc.pty.max",
	"lxc.devttydir":           "lxc.tty.dir",
	"lxc.mount":               "lxc.mount.fstab",
	"lxc.console":             "lxc.console.path",
	"lxc.haltsignal":          "lxc.signal.halt",
	"lxc.rebootsignal":        "lxc.signal.reboot",
	"lxc.stopsignal":          "lxc.signal.stop",
	"lxc.init_cmd":            "lxc.init.cmd",
	"lxc.init_uid":            "lxc.init.uid",
	"lxc.init_gid":            "lxc.init.gid",
	"lxc.id_map":              "lxc.idmap",
	"lxc.aa_profile":          "lxc.apparmor.profile",
	"lxc.aa_allow_incomplete": "lxc.apparmor.allow_incomplete",
	"lxc.se_context":          "lxc.selinux.context",
	"lxc.seccomp":             "lxc.seccomp.profile",
	"lxc.syslog":              "lxc.log.syslog",
	"lxc.loglevel":            "lxc.log.level",
	"lxc.logfile":             "lxc.log.file",
	"lxc.network":             "lxc.net",
}

// droppedKeys are legacy keys LXC 3+ no longer has; lxc-update-config
// deletes them.
var droppedKeys = map[string]bool{
	"lxc.rootfs.backend": true,
	"lxc.pivotdir":       true,
	"lxc.kmsg":           true,
}

// legacyMapper carries the unindexed-network counter through one file: each
// "lxc.network.type" line starts a new network, and the unindexed
// lxc.network.* lines that follow belong to it.
type legacyMapper struct {
	// started is true once a "lxc.network.type" line was seen; idx is then
	// the current network's index.
	started bool
	idx     int
}

// current is the index unindexed network keys go to.
func (m *legacyMapper) current() int {
	if !m.started {
		return 0
	}
	return m.idx
}

// mapKey returns key's LXC 3+ name, whether it was a legacy key, and
// whether LXC 3+ drops it. A "lxc.network.type" line advances the counter.
func (m *legacyMapper) mapKey(key string) (newKey string, legacy, drop bool) {
	return m.mapKeyPeek(key, true)
}

// mapKeyPeek is mapKey that advances the counter only when advance is set
// (a commented-out line is renamed without starting a network).
func (m *legacyMapper) mapKeyPeek(key string, advance bool) (string, bool, bool) {
	if droppedKeys[key] {
		return key, true, true
	}
	if n, ok := legacyKeys[key]; ok {
		return n, true, false
	}
	if rest, ok := strings.CutPrefix(key, "lxc.limit."); ok {
		return "lxc.prlimit." + rest, true, false
	}
	rest, ok := strings.CutPrefix(key, "lxc.network.")
	if !ok {
		return key, false, false
	}
	var idx int
	if head, tail, found := strings.Cut(rest, "."); found && isDigits(head) {
		n, err := strconv.Atoi(head)
		if err != nil {
			return key, false, false
		}
		idx, rest = n, tail
	} else if isDigits(rest) {
		// "lxc.network.0" alone is no key LXC knew; leave it for the
		// unknown-key error.
		return key, false, false
	} else {
		if rest == "type" {
			if advance {
				if m.started {
					m.idx++
				}
				m.started = true
				idx = m.idx
			} else if m.started {
				idx = m.idx + 1
			}
		} else {
			idx = m.current()
		}
	}
	switch rest {
	case "ipv4":
		rest = "ipv4.address"
	case "ipv6":
		rest = "ipv6.address"
	}
	return "lxc.net." + strconv.Itoa(idx) + "." + rest, true, false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
