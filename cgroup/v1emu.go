package cgroup

import (
	"strings"

	"github.com/lxc-shim/lxc-shim/config"
)

// What a v1 devices cgroup holds after a list of rules is written to it,
// so that the cgroup2 filter grants exactly the same access.
//
// A v1 devices cgroup is not a list evaluated "last match wins" (which is
// what a filter program naturally is): it is a default (allow or deny)
// plus a set of exceptions keyed by type, major and minor. The kernel
// (security/device_cgroup.c, devcgroup_update_access) applies a rule so:
//   - "a" (allow or deny) sets the default and clears every exception;
//   - a rule of the other kind than the default adds its access to the
//     exception of exactly its key (merged with what the key had);
//   - a rule of the same kind as the default removes its access from the
//     exception of exactly its key, and nothing else: "deny c 1:3" under a
//     default deny does not narrow an exception "c *:* rwm".
// A request is then decided by the exceptions alone: under a default deny
// it is allowed when one exception grants all of its access; under a
// default allow it is denied when one exception names any of its access.
//
// So "deny c 1:* rwm; allow c 1:5 rw" keeps 1:5 denied on v1 (the allow
// removes nothing, there is no exception "c 1:5"), while read as "last
// match wins" it would allow it; and "deny a; allow c *:* rwm; deny c 1:3"
// allows 1:3 on v1. A fresh cgroup starts from its parent's state, which
// for lxc-shim's unrestricted parent is "allow everything".
//
// normalizeV1 turns the config's list into that state as an ordered list:
// the default as an "a" rule, then the exceptions, all of the other kind.
// In such a list no rule overrides another, so "last match wins" (the
// filter's reading) and v1's reading agree.

// devKey is what a v1 exception is keyed by.
type devKey struct {
	typ          rune
	major, minor int64
}

// exception is one v1 exception: its access and the rule that created it
// (for messages).
type exception struct {
	key    devKey
	access string // subset of "rwm", in that order
	from   config.DeviceRule
}

// normalizeV1 returns the v1 state rules leave as a list (see above).
func normalizeV1(rules []config.DeviceRule) []config.DeviceRule {
	allow := true
	var exc []exception
	find := func(k devKey) int {
		for i := range exc {
			if exc[i].key == k {
				return i
			}
		}
		return -1
	}
	for _, r := range rules {
		if r.Type == 'a' {
			allow, exc = r.Allow, nil
			continue
		}
		k := devKey{r.Type, r.Major, r.Minor}
		i := find(k)
		switch {
		case r.Allow != allow && i < 0:
			exc = append(exc, exception{key: k, access: accessUnion("", r.Access), from: r})
		case r.Allow != allow:
			exc[i].access = accessUnion(exc[i].access, r.Access)
		case i >= 0:
			exc[i].access = accessMinus(exc[i].access, r.Access)
			if exc[i].access == "" {
				exc = append(exc[:i], exc[i+1:]...)
			}
		}
	}
	out := []config.DeviceRule{{Allow: allow, Type: 'a', Major: -1, Minor: -1, Access: "rwm"}}
	for _, e := range exc {
		r := e.from
		r.Allow, r.Access = !allow, e.access
		out = append(out, r)
	}
	return out
}

// fullAccess reads an empty access as v1 does: every access.
func fullAccess(a string) string {
	if a == "" {
		return "rwm"
	}
	return a
}

// accessUnion is the access of exception a ("" for a new one) widened by
// rule access b.
func accessUnion(a, b string) string {
	b = fullAccess(b)
	var out strings.Builder
	for _, c := range "rwm" {
		if strings.ContainsRune(a, c) || strings.ContainsRune(b, c) {
			out.WriteRune(c)
		}
	}
	return out.String()
}

// accessMinus is exception access a narrowed by rule access b.
func accessMinus(a, b string) string {
	b = fullAccess(b)
	var out strings.Builder
	for _, c := range "rwm" {
		if strings.ContainsRune(a, c) && !strings.ContainsRune(b, c) {
			out.WriteRune(c)
		}
	}
	return out.String()
}
