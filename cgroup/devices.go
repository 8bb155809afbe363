package cgroup

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/lxc-shim/lxc-shim/config"
)

// checkRule rejects a device rule the kernel would not parse.
func checkRule(r config.DeviceRule) error {
	switch r.Type {
	case 'a', 'b', 'c':
	default:
		return fmt.Errorf("%s: invalid device type %q (want a, b or c)", ruleLabel(r), r.Type)
	}
	for _, c := range r.Access {
		if !strings.ContainsRune("rwm", c) {
			return fmt.Errorf("%s: invalid device access %q (want a subset of rwm)", ruleLabel(r), r.Access)
		}
	}
	if r.Major < -1 || r.Minor < -1 || r.Major > 1<<32-1 || r.Minor > 1<<32-1 {
		return fmt.Errorf("%s: invalid device number %d:%d", ruleLabel(r), r.Major, r.Minor)
	}
	return nil
}

// applyDevices enforces the rules on the cgroup of h: v1 rules are written
// in order to devices.deny / devices.allow; on cgroup2 they are compiled to
// an eBPF program attached to the directory (replacing the one attached
// before, which g keeps to be replaced when the rules change).
func (g *Cgroup) applyDevices(h *hier, rules []config.DeviceRule) error {
	if h.v2 {
		replace := -1
		if g.devProg != nil {
			replace = int(g.devProg.Fd())
		}
		fd, err := attachDeviceFilterFd(h.dir, rules, replace)
		if err != nil {
			return err
		}
		g.closeDevProg()
		g.devProg = os.NewFile(uintptr(fd), "bpf-prog")
		return nil
	}
	for _, r := range rules {
		if err := writeRule(h, r); err != nil {
			return err
		}
	}
	return nil
}

// v1Rule is the rule as devices.allow/deny read it: "a" (all devices: a
// deny resets to deny-all, an allow to allow-all) or "c 1:3 rwm".
func v1Rule(r config.DeviceRule) string {
	if r.Type == 'a' {
		return "a"
	}
	access := r.Access
	if access == "" {
		access = "rwm"
	}
	return fmt.Sprintf("%c %s:%s %s", r.Type, devNum(r.Major), devNum(r.Minor), access)
}

func devNum(n int64) string {
	if n < 0 {
		return "*"
	}
	return strconv.FormatInt(n, 10)
}

// attachDeviceFilter compiles the rules into a cgroup2 device program
// (devProgram) and attaches it to dir.
//
// The program reads its list "last matching rule wins, no match denies";
// the rules are first reduced to the state a v1 devices cgroup would hold
// after them (normalizeV1), so that the same config grants the same access
// on v1 and on v2, whatever the order of its rules.
func attachDeviceFilter(dir string, rules []config.DeviceRule) error {
	fd, err := attachDeviceFilterFd(dir, rules, -1)
	if err == nil {
		unix.Close(fd)
	}
	return err
}

// attachDeviceFilterFd is attachDeviceFilter in place of the program
// replaceFd (-1: none), returning the new program's descriptor.
func attachDeviceFilterFd(dir string, rules []config.DeviceRule, replaceFd int) (int, error) {
	for _, r := range rules {
		// Also the rules the reduction drops: a bad one is an error
		// wherever it stands, as a v1 cgroup would refuse it.
		if err := checkRule(r); err != nil {
			return -1, err
		}
	}
	prog, err := devProgram(normalizeV1(rules))
	if err != nil {
		return -1, fmt.Errorf("%s: build the eBPF device filter: %w", ruleLabel(rules[0]), err)
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	progFd, err := loadAttachDevProgram(prog, fd, replaceFd)
	if err != nil {
		return -1, fmt.Errorf("%s: attach the eBPF device filter to %s: %w", ruleLabel(rules[0]), dir, err)
	}
	return progFd, nil
}

// ruleLabel names a device rule for messages.
func ruleLabel(r config.DeviceRule) string {
	if r.Pos.Key != "" {
		return r.Pos.String()
	}
	if r.Allow {
		return "lxc.cgroup.devices.allow"
	}
	return "lxc.cgroup.devices.deny"
}
