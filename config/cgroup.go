package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Controllers each hierarchy knows. A key naming another is an error with
// a did-you-mean.
var (
	v1Controllers = []string{"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer",
		"hugetlb", "memory", "net_cls", "net_prio", "perf_event", "pids", "rdma", "misc"}
	v2Controllers = []string{"cgroup", "cpu", "cpuset", "hugetlb", "io", "memory", "pids", "rdma", "misc", "devices"}
)

// cgroupKey handles lxc.cgroup.FILE (version 1) and lxc.cgroup2.FILE.
func (b *builder) cgroupKey(p Pos, version int, file, v string) {
	ctrl, _, ok := strings.Cut(file, ".")
	known := v1Controllers
	if version == 2 {
		known = v2Controllers
	}
	if !ok || !slices.Contains(known, ctrl) {
		if s := closest(ctrl, known); s != "" && ok {
			b.errorf(p, "unknown cgroup controller %q (did you mean %q?)", ctrl, s)
		} else if s := suggestKey(p.Key); s != "" {
			b.errorf(p, "unknown key (did you mean %q?)", s)
		} else {
			b.errorf(p, "unknown cgroup controller %q (one of %s)", ctrl, strings.Join(known, ", "))
		}
		return
	}
	if file == "devices.allow" || file == "devices.deny" {
		list := &b.devices
		if version == 2 {
			list = &b.devices2
		}
		if v == "" {
			*list = nil
			return
		}
		r, err := parseDeviceRule(v, file == "devices.allow")
		if err != nil {
			b.errorf(p, "%v", err)
			return
		}
		r.Pos = p
		*list = append(*list, r)
		return
	}
	if ctrl == "devices" {
		b.errorf(p, "unknown devices file %q (devices.allow or devices.deny)", file)
		return
	}
	if strings.ContainsAny(file, "/ ") || strings.Contains(file, "..") {
		b.errorf(p, "invalid cgroup file %q", file)
		return
	}
	list := &b.v1
	if version == 2 {
		list = &b.v2
	}
	// A later line for the same file replaces an earlier one; an empty
	// value removes it.
	*list = slices.DeleteFunc(*list, func(s CgroupSetting) bool { return s.File == file })
	if v == "" {
		return
	}
	val, err := normaliseCgroupValue(version, file, v)
	if err != nil {
		b.errorf(p, "%v", err)
		return
	}
	*list = append(*list, CgroupSetting{Controller: ctrl, File: file, Value: val, Pos: p})
}

// memory files whose values are sizes; the normalised value is in bytes,
// "-1" (v1) or "max" (v2) for unlimited.
var sizeFiles = map[string]bool{
	"memory.limit_in_bytes": true, "memory.memsw.limit_in_bytes": true,
	"memory.soft_limit_in_bytes": true, "memory.kmem.limit_in_bytes": true,
	"memory.kmem.tcp.limit_in_bytes": true,
	"memory.max":                     true, "memory.high": true, "memory.low": true, "memory.min": true,
	"memory.swap.max": true, "memory.swap.high": true, "memory.zswap.max": true,
}

func normaliseCgroupValue(version int, file, v string) (string, error) {
	unlimited := "-1"
	if version == 2 {
		unlimited = "max"
	}
	switch {
	case sizeFiles[file]:
		if v == "-1" || v == "max" {
			return unlimited, nil
		}
		n, err := parseSize(v)
		if err != nil {
			return "", err
		}
		return strconv.FormatInt(n, 10), nil
	case file == "pids.max":
		if v == "max" || v == "-1" {
			return "max", nil
		}
		if _, err := parseRange(v, 0, 1<<31-1); err != nil {
			return "", fmt.Errorf("invalid pids.max: %v", err)
		}
	case file == "cpu.shares":
		if _, err := parseRange(v, 2, 262144); err != nil {
			return "", fmt.Errorf("invalid cpu.shares: %v", err)
		}
	case file == "cpu.weight":
		if _, err := parseRange(v, 1, 10000); err != nil {
			return "", fmt.Errorf("invalid cpu.weight: %v", err)
		}
	case file == "blkio.weight":
		if _, err := parseRange(v, 10, 1000); err != nil {
			return "", fmt.Errorf("invalid blkio.weight: %v", err)
		}
	case file == "io.weight":
		w := strings.TrimPrefix(v, "default ")
		if _, err := parseRange(w, 1, 10000); err != nil {
			return "", fmt.Errorf("invalid io.weight: %v", err)
		}
		return w, nil
	case file == "cpuset.cpus" || file == "cpuset.mems":
		if err := checkCPUList(v); err != nil {
			return "", err
		}
	case file == "cpu.cfs_quota_us":
		if _, err := parseRange(v, -1, 1<<53); err != nil || v == "0" {
			return "", fmt.Errorf("invalid cpu.cfs_quota_us %q: want -1 or a positive number of microseconds", v)
		}
	case file == "cpu.cfs_period_us":
		if _, err := parseRange(v, 1000, 1000000); err != nil {
			return "", fmt.Errorf("invalid cpu.cfs_period_us: %v", err)
		}
	case file == "cpu.max":
		q, per, _ := strings.Cut(v, " ")
		if q != "max" {
			if _, err := parseRange(q, 1, 1<<53); err != nil {
				return "", fmt.Errorf("invalid cpu.max %q: want \"QUOTA|max [PERIOD]\"", v)
			}
		}
		if per != "" {
			if _, err := parseRange(per, 1000, 1000000); err != nil {
				return "", fmt.Errorf("invalid cpu.max %q: period: %v", v, err)
			}
		}
	}
	return v, nil
}

// checkCPUList validates a cpuset list such as "0", "0-3,6".
func checkCPUList(v string) error {
	for _, part := range strings.Split(v, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		if err1 != nil {
			return fmt.Errorf("invalid cpu/node list %q", v)
		}
		if isRange {
			z, err2 := strconv.ParseUint(hi, 10, 16)
			if err2 != nil || z < a {
				return fmt.Errorf("invalid cpu/node list %q", v)
			}
		}
	}
	return nil
}

// finishCgroup fills Cgroup: each hierarchy's own settings, then the
// translations of the other's, and the device rules.
func (b *builder) finishCgroup() {
	c := &b.cfg.Cgroup
	c.Devices, c.Devices2 = b.devices, b.devices2
	if len(b.devices) > 0 && len(b.devices2) > 0 && !sameRules(b.devices, b.devices2) {
		// LXC's own common.conf does this on purpose (distribution
		// includes add v1 rules only): each list is for its hierarchy.
		b.warnf(b.devices2[0].Pos, "the lxc.cgroup2.devices rules differ from the lxc.cgroup.devices rules (%s): as in LXC, lxc.cgroup.devices applies where the devices controller is on cgroup v1 and lxc.cgroup2.devices where it is on cgroup2", b.devices[0].Pos)
	}
	get := func(list []CgroupSetting, file string) (CgroupSetting, bool) {
		for _, s := range list {
			if s.File == file {
				return s, true
			}
		}
		return CgroupSetting{}, false
	}
	c.V1 = append(c.V1, b.v1...)
	c.V2 = append(c.V2, b.v2...)
	for i, s := range b.v1 {
		t, ok, err := toV2(s, b.v1)
		if err != nil {
			b.errorf(s.Pos, "%v", err)
			continue
		}
		if !ok {
			c.V1[i].NoEquivalent = true
			continue
		}
		if t.File == "" {
			continue // translated below, with its pair
		}
		if _, written := get(b.v2, t.File); written {
			continue // the config wrote the v2 file itself
		}
		t.Translated, t.Pos = true, s.Pos
		c.V2 = append(c.V2, t)
	}
	for i, s := range b.v2 {
		ts, ok := toV1(s, b.v2)
		if !ok {
			c.V2[i].NoEquivalent = true
			continue
		}
		for _, t := range ts {
			if _, written := get(b.v1, t.File); written {
				continue
			}
			t.Translated, t.Pos = true, s.Pos
			c.V1 = append(c.V1, t)
		}
	}
	// cpu.cfs_quota_us and cpu.cfs_period_us together are cpu.max
	// ("QUOTA PERIOD", "max" for no quota).
	q, hasQ := get(b.v1, "cpu.cfs_quota_us")
	per, hasP := get(b.v1, "cpu.cfs_period_us")
	if _, written := get(b.v2, "cpu.max"); (hasQ || hasP) && !written {
		val, pos := "max", per.Pos
		if hasQ {
			pos = q.Pos
			if q.Value != "-1" {
				val = q.Value
			}
		}
		if hasP {
			val += " " + per.Value
		}
		c.V2 = append(c.V2, CgroupSetting{Controller: "cpu", File: "cpu.max", Value: val, Translated: true, Pos: pos})
	}
}

// toV2 translates one cgroup v1 setting. ok is false when cgroup v2 has
// no exact equivalent.
func toV2(s CgroupSetting, all []CgroupSetting) (CgroupSetting, bool, error) {
	out := CgroupSetting{Controller: s.Controller}
	switch s.File {
	case "memory.limit_in_bytes":
		out.File, out.Value = "memory.max", v1ToV2Limit(s.Value)
	case "memory.memsw.limit_in_bytes":
		// v2 limits swap alone: swap = memsw - memory.
		out.File = "memory.swap.max"
		if s.Value == "-1" {
			out.Value = "max"
			break
		}
		var mem string
		for _, o := range all {
			if o.File == "memory.limit_in_bytes" {
				mem = o.Value
			}
		}
		if mem == "" || mem == "-1" {
			return out, false, nil
		}
		sw, _ := strconv.ParseInt(s.Value, 10, 64)
		m, _ := strconv.ParseInt(mem, 10, 64)
		if sw < m {
			return out, false, fmt.Errorf("memory.memsw.limit_in_bytes (%d) is below memory.limit_in_bytes (%d)", sw, m)
		}
		out.Value = strconv.FormatInt(sw-m, 10)
	case "cpu.shares":
		n, _ := strconv.ParseInt(s.Value, 10, 64)
		out.File, out.Value = "cpu.weight", strconv.FormatInt(SharesToWeight(n), 10)
	case "cpuset.cpus", "cpuset.mems":
		out.File, out.Value = s.File, s.Value
	case "blkio.weight":
		n, _ := strconv.ParseInt(s.Value, 10, 64)
		out.Controller, out.File, out.Value = "io", "io.weight", strconv.FormatInt(BlkioToIOWeight(n), 10)
	case "pids.max":
		out.File, out.Value = "pids.max", s.Value
	case "cpu.cfs_quota_us", "cpu.cfs_period_us":
		// Translated together in finishCgroup.
		return out, true, nil
	default:
		return out, false, nil
	}
	return out, true, nil
}

// toV1 translates one cgroup v2 setting (cpu.max becomes two files).
func toV1(s CgroupSetting, all []CgroupSetting) ([]CgroupSetting, bool) {
	one := func(ctrl, file, val string) ([]CgroupSetting, bool) {
		return []CgroupSetting{{Controller: ctrl, File: file, Value: val}}, true
	}
	switch s.File {
	case "memory.max":
		return one("memory", "memory.limit_in_bytes", v2ToV1Limit(s.Value))
	case "memory.swap.max":
		// memsw = memory + swap, which needs a memory limit.
		if s.Value == "max" {
			return one("memory", "memory.memsw.limit_in_bytes", "-1")
		}
		for _, o := range all {
			if o.File == "memory.max" && o.Value != "max" {
				m, _ := strconv.ParseInt(o.Value, 10, 64)
				sw, _ := strconv.ParseInt(s.Value, 10, 64)
				return one("memory", "memory.memsw.limit_in_bytes", strconv.FormatInt(m+sw, 10))
			}
		}
		return nil, false
	case "cpu.weight":
		n, _ := strconv.ParseInt(s.Value, 10, 64)
		return one("cpu", "cpu.shares", strconv.FormatInt(WeightToShares(n), 10))
	case "cpuset.cpus", "cpuset.mems":
		return one("cpuset", s.File, s.Value)
	case "io.weight":
		n, _ := strconv.ParseInt(s.Value, 10, 64)
		return one("blkio", "blkio.weight", strconv.FormatInt(IOToBlkioWeight(n), 10))
	case "pids.max":
		return one("pids", "pids.max", s.Value)
	case "cpu.max":
		q, per, _ := strings.Cut(s.Value, " ")
		if q == "max" {
			q = "-1"
		}
		out := []CgroupSetting{{Controller: "cpu", File: "cpu.cfs_quota_us", Value: q}}
		if per != "" {
			out = append(out, CgroupSetting{Controller: "cpu", File: "cpu.cfs_period_us", Value: per})
		}
		return out, true
	}
	return nil, false
}

func v1ToV2Limit(v string) string {
	if v == "-1" {
		return "max"
	}
	return v
}

func v2ToV1Limit(v string) string {
	if v == "max" {
		return "-1"
	}
	return v
}

// SharesToWeight converts cgroup v1 cpu.shares (2-262144, default 1024) to
// v2 cpu.weight (1-10000, default 100) with the conversion runc, crun and
// github.com/opencontainers/cgroups use since 2025: with L = log2(shares),
// weight = ⌈10^(L²/612 + 125·L/612 − 7/34)⌉, a quadratic in L through the
// three points (2, 1), (1024, 100) and (262144, 10000). The older linear
// formula, 1 + ((shares-2)*9999)/262142, gave the default share a weight
// of 39, so a container with cpu.shares = 1024 got less CPU than its
// neighbours at the default 100.
func SharesToWeight(shares int64) int64 {
	switch {
	case shares <= 2:
		return 1
	case shares >= 262144:
		return 10000
	}
	l := math.Log2(float64(shares))
	return int64(math.Ceil(math.Pow(10, (l*l+125*l)/612-7.0/34)))
}

// WeightToShares is the inverse of SharesToWeight: L solves
// L² + 125·L − 612·(log10(weight) + 7/34) = 0 and shares = 2^L rounded,
// moved to the nearest value SharesToWeight maps back to weight, so that a
// weight round-trips (100 → 1024 → 100).
func WeightToShares(weight int64) int64 {
	switch {
	case weight <= 1:
		return 2
	case weight >= 10000:
		return 262144
	}
	c := 612 * (math.Log10(float64(weight)) + 7.0/34)
	l := (-125 + math.Sqrt(125*125+4*c)) / 2
	s := int64(math.Round(math.Exp2(l)))
	for s < 262144 && SharesToWeight(s) < weight {
		s++
	}
	for s > 2 && SharesToWeight(s) > weight {
		s--
	}
	return s
}

// BlkioToIOWeight converts v1 blkio.weight (10-1000) to v2 io.weight
// (1-10000) as runc does: 1 + (blkio-10)*9999/990.
func BlkioToIOWeight(w int64) int64 {
	return 1 + (w-10)*9999/990
}

// IOToBlkioWeight is the inverse: 10 + (io-1)*990/9999.
func IOToBlkioWeight(w int64) int64 {
	return 10 + (w-1)*990/9999
}

// DeviceRules is the device list for a host whose devices controller is on
// cgroup2 (onV2) or on v1, chosen as LXC chooses: lxc.cgroup2.devices on
// cgroup2, lxc.cgroup.devices on v1. Where the config gives only the other
// hierarchy's list, that one applies (LXC would apply none: lxc-shim never
// runs a container less confined than any list in its config asks).
func (c Cgroup) DeviceRules(onV2 bool) []DeviceRule {
	own, other := c.Devices, c.Devices2
	if onV2 {
		own, other = other, own
	}
	if len(own) > 0 {
		return own
	}
	return other
}

func sameRules(a, b []DeviceRule) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		x.Pos, y.Pos = Pos{}, Pos{}
		if x != y {
			return false
		}
	}
	return true
}
