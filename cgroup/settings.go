package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lxc-shim/lxc-shim/config"
)

// write is one setting placed in the hierarchy that will take it.
type write struct {
	label string // the setting's Pos ("FILE:LINE: KEY") for messages
	path  string // the controller file
	value string
}

// enableCtrl is a cgroup2 controller a setting needs enabled in the
// ancestors' cgroup.subtree_control.
type enableCtrl struct {
	ctrl  string
	label string // the first needing setting's Pos, for messages
}

// plan is what Create will do, worked out before anything is made.
type plan struct {
	writes []write
	// enable lists, per hierarchy index, the controllers to enable in the
	// ancestors' cgroup.subtree_control (cgroup2 only), each with the
	// label of the first setting that needs it.
	enable [][]enableCtrl
	// devices is the hierarchy that takes the device rules (nil: none),
	// and rules the list of the config that applies there.
	devices *hier
	rules   []config.DeviceRule
}

// plan places every setting of the config on the hierarchy that hosts its
// controller, and fails on the first one the host cannot take: its
// controller is mounted nowhere, or it exists only for the other hierarchy
// (NoEquivalent) while this host runs its controller on this one.
func (g *Cgroup) plan() (*plan, error) {
	p := &plan{enable: make([][]enableCtrl, len(g.hiers))}
	for _, set := range []struct {
		v2       bool
		settings []config.CgroupSetting
	}{{false, g.cfg.V1}, {true, g.cfg.V2}} {
		settings := append([]config.CgroupSetting(nil), set.settings...)
		// memory.memsw.limit_in_bytes may not be below the memory limit,
		// which is unlimited until set: write it after the other memory
		// files, whatever the config's order (LXC sorts the same way).
		sort.SliceStable(settings, func(i, j int) bool {
			return memswRank(settings[i].File) < memswRank(settings[j].File)
		})
		for _, s := range settings {
			label := settingLabel(s, set.v2)
			if s.File == "" || strings.ContainsAny(s.File, "/\x00") || s.File == "." || s.File == ".." {
				return nil, fmt.Errorf("%s: invalid cgroup file name %q", label, s.File)
			}
			ctrl := controllerOf(s)
			own := g.hostOf(ctrl, set.v2)
			other := g.hostOf(ctrl, !set.v2)
			switch {
			case own >= 0:
				h := &g.hiers[own]
				p.writes = append(p.writes, write{label: label, path: filepath.Join(h.dir, s.File), value: s.Value})
				if h.v2 && ctrl != "cgroup" && !enables(p.enable[own], ctrl) {
					p.enable[own] = append(p.enable[own], enableCtrl{ctrl: ctrl, label: label})
				}
			case other >= 0 && !s.NoEquivalent:
				// The host runs this controller on the other hierarchy,
				// where the setting's translation is applied instead.
			case other >= 0:
				return nil, fmt.Errorf("%s: cannot be applied on this %s host: the %s controller is on cgroup %s here, and %s has no cgroup %s equivalent",
					label, g.layout, ctrl, version(!set.v2), s.File, version(!set.v2))
			default:
				return nil, fmt.Errorf("%s: cannot be applied on this %s host: no hierarchy has the %s controller", label, g.layout, ctrl)
			}
		}
	}
	if len(g.cfg.Devices) > 0 || len(g.cfg.Devices2) > 0 {
		// The devices controller on v1 takes lxc.cgroup.devices;
		// otherwise cgroup2, which has no devices controller, takes
		// lxc.cgroup2.devices as an eBPF program attached to the cgroup.
		if i := g.hostOf("devices", false); i >= 0 {
			p.devices = &g.hiers[i]
		} else if i := g.v2Index(); i >= 0 {
			p.devices = &g.hiers[i]
		} else {
			return nil, fmt.Errorf("%s: cannot be applied: this host has no devices controller and no cgroup2 hierarchy", ruleLabel(g.cfg.DeviceRules(false)[0]))
		}
		p.rules = g.cfg.DeviceRules(p.devices.v2)
		for _, r := range p.rules {
			if err := checkRule(r); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// hostOf is the index of the hierarchy of the given kind (v2 or not) that
// hosts controller ctrl, or -1. The core cgroup2 files (controller
// "cgroup": cgroup.max.depth, ...) are in every cgroup2 directory.
func (g *Cgroup) hostOf(ctrl string, v2 bool) int {
	for i, h := range g.hiers {
		if h.v2 != v2 {
			continue
		}
		if hasController(h.mount, ctrl) || (v2 && ctrl == "cgroup") {
			return i
		}
	}
	return -1
}

func (g *Cgroup) v2Index() int {
	for i, h := range g.hiers {
		if h.v2 {
			return i
		}
	}
	return -1
}

// enableControllers makes the controllers' files appear in h.dir: cgroup2
// offers a cgroup a controller only when every ancestor has it enabled in
// its cgroup.subtree_control. It walks from the mount point down to the
// parent of h.dir, reads what each level already enables and writes
// "+CTRL" for each one missing, one controller per write so that a failure
// names the controller and the setting that needed it.
func enableControllers(h *hier, ctrls []enableCtrl) error {
	var levels []string
	for d := filepath.Dir(h.dir); len(d) >= len(h.point); d = filepath.Dir(d) {
		levels = append(levels, d)
		if d == h.point {
			break
		}
	}
	for i := len(levels) - 1; i >= 0; i-- {
		file := filepath.Join(levels[i], "cgroup.subtree_control")
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("%s: read %s: %w", ctrls[0].label, file, err)
		}
		on := strings.Fields(string(b))
		for _, c := range ctrls {
			if contains(on, c.ctrl) {
				continue
			}
			if err := writeFile(file, "+"+c.ctrl); err != nil {
				return fmt.Errorf("%s: enable the %s controller: write \"+%s\" to %s: %w", c.label, c.ctrl, c.ctrl, file, err)
			}
		}
	}
	return nil
}

func enables(list []enableCtrl, ctrl string) bool {
	for _, c := range list {
		if c.ctrl == ctrl {
			return true
		}
	}
	return false
}

// writeSetting writes one setting, naming the setting's Pos on failure.
func writeSetting(w write) error {
	err := writeFile(w.path, w.value)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: cannot be applied: this host's kernel has no %s", w.label, w.path)
	default:
		return fmt.Errorf("%s: write %q to %s: %w", w.label, w.value, w.path, err)
	}
}

// controllerOf is the setting's controller, or the file name's prefix.
func controllerOf(s config.CgroupSetting) string {
	if s.Controller != "" {
		return s.Controller
	}
	c, _, _ := strings.Cut(s.File, ".")
	return c
}

// settingLabel names a setting for messages: its Pos ("FILE:LINE: KEY"),
// or the key it stands for when it was built without one.
func settingLabel(s config.CgroupSetting, v2 bool) string {
	if s.Pos.Key != "" {
		return s.Pos.String()
	}
	if v2 {
		return "lxc.cgroup2." + s.File
	}
	return "lxc.cgroup." + s.File
}

func memswRank(file string) int {
	if strings.HasPrefix(file, "memory.memsw.") {
		return 1
	}
	return 0
}

func version(v2 bool) string {
	if v2 {
		return "v2"
	}
	return "v1"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
