package cgroup

import (
	"fmt"
	"path/filepath"

	"github.com/lxc-shim/lxc-shim/config"
)

// Devices handed to a running container (lxc-initd device add): a rule
// granted on top of the config's, until RevokeDevice or the end of the
// run (a reboot makes a new cgroup with the config's rules only).

// devicesHier is the hierarchy that enforces device rules: the v1 devices
// controller, else cgroup2 (an eBPF program); nil: none.
func (g *Cgroup) devicesHier() *hier {
	if i := g.hostOf("devices", false); i >= 0 {
		return &g.hiers[i]
	}
	if i := g.v2Index(); i >= 0 {
		return &g.hiers[i]
	}
	return nil
}

// AllowDevice grants the container r (an allow rule for one device) in
// its running cgroup: a write to devices.allow on v1; on cgroup2 the
// device program is rebuilt from the config's rules plus every granted one
// and replaces the attached program atomically.
func (g *Cgroup) AllowDevice(r config.DeviceRule) error {
	r.Allow = true
	if err := checkRule(r); err != nil {
		return err
	}
	h := g.devicesHier()
	if h == nil {
		return fmt.Errorf("cgroup %s: no devices controller and no cgroup2 hierarchy", g.name)
	}
	rules := append(append([]config.DeviceRule(nil), g.cfg.Devices...), append(g.extra, r)...)
	if h.v2 {
		// Without a program (the config has no rules) nothing is denied.
		if g.devProg != nil {
			if err := g.applyDevices(h, rules); err != nil {
				return fmt.Errorf("cgroup %s: %w", g.name, err)
			}
		}
	} else if err := writeRule(h, r); err != nil {
		return fmt.Errorf("cgroup %s: %w", g.name, err)
	}
	g.extra = append(g.extra, r)
	return nil
}

// RevokeDevice takes back what AllowDevice granted with r. On v1 a deny
// of r is written, then the config's own rules for that device again (a
// device the config allowed stays allowed); on cgroup2 the program is
// rebuilt without r.
func (g *Cgroup) RevokeDevice(r config.DeviceRule) error {
	r.Allow = true
	var rest []config.DeviceRule
	found := false
	for _, x := range g.extra {
		if !found && x.Type == r.Type && x.Major == r.Major && x.Minor == r.Minor && x.Access == r.Access {
			found = true
			continue
		}
		rest = append(rest, x)
	}
	if !found {
		return fmt.Errorf("cgroup %s: %s was not granted by a device add", g.name, v1Rule(r))
	}
	h := g.devicesHier()
	if h.v2 {
		if g.devProg != nil {
			if err := g.applyDevices(h, append(append([]config.DeviceRule(nil), g.cfg.Devices...), rest...)); err != nil {
				return fmt.Errorf("cgroup %s: %w", g.name, err)
			}
		}
	} else {
		deny := r
		deny.Allow = false
		if err := writeRule(h, deny); err != nil {
			return fmt.Errorf("cgroup %s: %w", g.name, err)
		}
		for _, x := range append(append([]config.DeviceRule(nil), g.cfg.Devices...), rest...) {
			if x.Type == r.Type && x.Major == r.Major && x.Minor == r.Minor {
				if err := writeRule(h, x); err != nil {
					return fmt.Errorf("cgroup %s: %w", g.name, err)
				}
			}
		}
	}
	g.extra = rest
	return nil
}

// writeRule writes one rule to a v1 devices cgroup.
func writeRule(h *hier, r config.DeviceRule) error {
	file := "devices.deny"
	if r.Allow {
		file = "devices.allow"
	}
	p := filepath.Join(h.dir, file)
	if err := writeFile(p, v1Rule(r)); err != nil {
		return fmt.Errorf("%s: write %q to %s: %w", ruleLabel(r), v1Rule(r), p, err)
	}
	return nil
}

// closeDevProg lets go of the attached program's descriptor (the
// attachment keeps the program in force).
func (g *Cgroup) closeDevProg() {
	if g.devProg != nil {
		g.devProg.Close()
		g.devProg = nil
	}
}
