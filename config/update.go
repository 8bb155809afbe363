package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Update returns the file at path rewritten to LXC 3+ keys, as
// lxc-update-config does: only keys change; comments, order, white space,
// values and line count are kept (included files are not touched), and
// the '=' of a renamed line stays in its column where the spaces before it
// allow.
// Commented-out legacy lines are renamed too, so uncommenting one later
// gives a valid LXC 3+ line. A dropped key's line is commented out with a
// note. Reading the result gives the same model as reading the original.
func Update(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("update-config %s: %w", path, err)
	}
	return UpdateBytes(data), nil
}

// UpdateBytes is Update on a config's content.
func UpdateBytes(data []byte) []byte {
	lines := strings.Split(string(data), "\n")
	lm := legacyMapper{}
	for i, line := range lines {
		body, active := line, true
		t := strings.TrimLeft(line, " \t")
		if strings.HasPrefix(t, "#") {
			// A commented-out line: rename its key if it is one.
			body, active = strings.TrimLeft(t, "# \t"), false
			if !strings.HasPrefix(body, "lxc.") {
				continue
			}
		}
		key, _, ok, err := splitLine(body)
		if !ok || err != nil {
			continue
		}
		newKey, legacy, drop := lm.mapKeyPeek(key, active)
		if !legacy {
			continue
		}
		if drop {
			if active {
				lines[i] = "# " + strings.TrimSpace(line) + "  # dropped: LXC 3+ has no such key"
			}
			continue
		}
		// The key is the first word of the line (after comment marks).
		at := strings.Index(line, key)
		lines[i] = line[:at] + newKey + realign(line[at+len(key):], len(key)-len(newKey))
	}
	return []byte(strings.Join(lines, "\n"))
}

// realign keeps the '=' of a renamed key's line in its column: rest is
// what followed the old key, grow how much shorter the new key is (negative:
// longer). Only a run of two or more spaces before the '=' (a padded,
// aligned file) changes, and at least one space stays; "key = value",
// "key=value" and tabs are left as they were.
func realign(rest string, grow int) string {
	pad := len(rest) - len(strings.TrimLeft(rest, " "))
	if pad < 2 || pad == len(rest) || rest[pad] != '=' {
		return rest
	}
	return strings.Repeat(" ", max(1, pad+grow)) + rest[pad:]
}

// JSON is the model as printed by `lxc-initd check --json`, indented.
func (c *Config) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("config %s: %w", c.File, err)
	}
	return buf.Bytes(), nil
}
