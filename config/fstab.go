package config

import (
	"path/filepath"
	"strings"
)

// readFstab reads the lxc.mount.fstab file (a path relative to the config
// file's directory is taken from there). Each entry's Pos is its own line
// of the fstab, under the key lxc.mount.fstab.
func (b *builder) readFstab() []Mount {
	path := b.cfg.MountFstab
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(b.fstab.File), path)
	}
	data, err := readSmallFile(path)
	if err != nil {
		b.errorf(b.fstab, "read fstab %s: %v", path, err)
		return nil
	}
	var out []Mount
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		p := Pos{File: path, Line: i + 1, Key: "lxc.mount.fstab"}
		m, err := parseMount(t)
		if err != nil {
			b.errorf(p, "%v", err)
			continue
		}
		m.Pos = p
		out = append(out, m)
	}
	return out
}
