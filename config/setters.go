package config

import (
	"sort"
	"strings"
	"syscall"

	"github.com/lxc-shim/lxc-shim/signals"
	"golang.org/x/sys/unix"
)

// The builder's readers of one value: each reports a bad value on the
// key's line (FILE:LINE: KEY: message) and stores a good one.

func (b *builder) boolKey(p Pos, v string, dst *bool) bool {
	if v == "" {
		if dst != nil {
			*dst = false
		}
		return true
	}
	on, err := parseBool(v)
	if err != nil {
		b.errorf(p, "%v", err)
		return false
	}
	if dst != nil {
		*dst = on
	}
	return true
}

func (b *builder) intKey(p Pos, v string, lo, hi int64, dst *int) {
	if v == "" {
		*dst = 0
		return
	}
	n, err := parseRange(v, lo, hi)
	if err != nil {
		b.errorf(p, "%v", err)
		return
	}
	*dst = int(n)
}

func (b *builder) signal(p Pos, v string) (syscall.Signal, bool) {
	s, err := signals.Parse(v)
	if err != nil {
		b.errorf(p, "%v", err)
		return 0, false
	}
	return s, true
}

// consoleSize reads lxc.console.size / buffer.size: a size, "auto" (128
// KiB, LXC's automatic size) or 0.
func (b *builder) consoleSize(p Pos, v string, dst *int64, ring bool) {
	switch v {
	case "", "0":
		*dst = 0
		return
	case "auto":
		*dst = 128 << 10
		return
	}
	n, err := parseSize(v)
	if err != nil {
		b.errorf(p, "%v", err)
		return
	}
	if ring {
		// LXC rounds the ring buffer up to whole pages.
		n = (n + 4095) &^ 4095
	}
	*dst = n
}

func (b *builder) keyValue(p Pos, list []KeyValue, family, v string) []KeyValue {
	sub := strings.TrimPrefix(strings.TrimPrefix(p.Key, family), ".")
	if sub == "" {
		if v != "" {
			b.errorf(p, "%s needs a sub-key (%s.NAME = VALUE); alone it only takes an empty value, which clears them", family, family)
			return list
		}
		return nil
	}
	for _, r := range sub {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/", r)) {
			b.errorf(p, "invalid name %q", sub)
			return list
		}
	}
	if strings.Contains(sub, "..") || strings.HasPrefix(sub, "/") {
		b.errorf(p, "invalid name %q", sub)
		return list
	}
	out := list[:0:0]
	for _, kv := range list {
		if kv.Key != sub {
			out = append(out, kv)
		}
	}
	if v == "" {
		return out
	}
	return append(out, KeyValue{Key: sub, Value: v, Pos: p})
}

var prlimitNames = map[string]int{
	"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU,
	"data": unix.RLIMIT_DATA, "fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS,
	"memlock": unix.RLIMIT_MEMLOCK, "msgqueue": unix.RLIMIT_MSGQUEUE,
	"nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE, "nproc": unix.RLIMIT_NPROC,
	"rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO, "rttime": unix.RLIMIT_RTTIME,
	"sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
}

func (b *builder) prlimit(p Pos, name, v string) {
	c := b.cfg
	res, ok := prlimitNames[strings.ToLower(name)]
	if !ok {
		names := make([]string, 0, len(prlimitNames))
		for n := range prlimitNames {
			names = append(names, n)
		}
		sort.Strings(names)
		if s := closest(strings.ToLower(name), names); s != "" {
			b.errorf(p, "unknown resource %q (did you mean %q?)", name, s)
		} else {
			b.errorf(p, "unknown resource %q (one of %s)", name, strings.Join(names, ", "))
		}
		return
	}
	name = strings.ToLower(name)
	kept := c.Prlimits[:0:0]
	for _, l := range c.Prlimits {
		if l.Name != name {
			kept = append(kept, l)
		}
	}
	c.Prlimits = kept
	if v == "" {
		return
	}
	soft, hard, isPair := strings.Cut(v, ":")
	if !isPair {
		hard = soft
	}
	s, err1 := parseLimit(soft)
	h, err2 := parseLimit(hard)
	if err := firstErr(err1, err2); err != nil {
		b.errorf(p, "%v", err)
		return
	}
	if s > h {
		b.errorf(p, "soft limit %s above hard limit %s", soft, hard)
		return
	}
	c.Prlimits = append(c.Prlimits, Prlimit{Name: name, Resource: res, Soft: s, Hard: h, Pos: p})
}
