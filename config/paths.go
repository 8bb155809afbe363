package config

import "strings"

// DefaultLXCPath is where containers' configs are looked up when -P is not
// given: NAME/config under each directory, first match wins.
const DefaultLXCPath = "/etc/lxc:/var/lib/lxc"

// SplitLXCPath splits a colon-separated lxc path, dropping empty elements.
func SplitLXCPath(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ":") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
