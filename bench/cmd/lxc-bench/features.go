package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// A feature case is the plain busybox config (writeConfig) with one
// feature of the earlier issues on top, where LXC can run it too: a
// seccomp profile, an overlay or a loop image as the root file system,
// host hooks. Each is timed as start, then a graceful stop whose init
// halts at once.
type feature struct {
	key, title string
	// setup makes the container's root file system and returns its
	// lxc.rootfs.path and the extra config lines.
	setup func(b *bench, s side, name string) (rootfs, extra string, err error)
}

var features = []feature{
	{"seccomp", "seccomp: `lxc.seccomp.profile = /usr/share/lxc/config/common.seccomp`", func(b *bench, s side, name string) (string, string, error) {
		dir := filepath.Join(s.path(), name, "rootfs")
		if err := b.tmpl.instantiate(dir, haltNow); err != nil {
			return "", "", err
		}
		return "dir:" + dir, "lxc.seccomp.profile = /usr/share/lxc/config/common.seccomp\n", nil
	}},
	{"overlay", "storage: overlay (`lxc.rootfs.path = overlay:LOWER:UPPER`)", func(b *bench, s side, name string) (string, string, error) {
		lower := filepath.Join(s.path(), name, "lower")
		upper := filepath.Join(s.path(), name, "upper")
		if err := b.tmpl.instantiate(lower, haltNow); err != nil {
			return "", "", err
		}
		if err := os.MkdirAll(upper, 0o755); err != nil {
			return "", "", err
		}
		return "overlay:" + lower + ":" + upper, "", nil
	}},
	{"loop", "storage: loop image, ext4 (`lxc.rootfs.path = loop:IMAGE`)", func(b *bench, s side, name string) (string, string, error) {
		tree := filepath.Join(s.path(), name, "tree")
		img := filepath.Join(s.path(), name, "rootfs.img")
		if err := b.tmpl.instantiate(tree, haltNow); err != nil {
			return "", "", err
		}
		if _, err := run(context.Background(), nil, "mkfs.ext4", "-q", "-F", "-d", tree, img, "32M"); err != nil {
			return "", "", fmt.Errorf("loop image for %s: %w", name, err)
		}
		return "loop:" + img, "", nil
	}},
	{"hooks", "hooks: pre-start, start-host and post-stop host scripts (`exit 0`)", func(b *bench, s side, name string) (string, string, error) {
		dir := filepath.Join(s.path(), name, "rootfs")
		if err := b.tmpl.instantiate(dir, haltNow); err != nil {
			return "", "", err
		}
		hook := filepath.Join(s.path(), name, "hook.sh")
		if err := os.WriteFile(hook, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			return "", "", err
		}
		extra := fmt.Sprintf("lxc.hook.pre-start = %s\nlxc.hook.start-host = %s\nlxc.hook.post-stop = %s\n", hook, hook, hook)
		return "dir:" + dir, extra, nil
	}},
}

// featureCases times start and a graceful stop of one container per
// feature and side, alternating the sides round by round.
func (b *bench) featureCases(ctx context.Context) error {
	for _, f := range features {
		names := map[side]string{}
		for _, s := range b.sides {
			name := s.prefix() + "f" + f.key
			names[s] = name
			b.remember(s, name)
			rootfs, extra, err := f.setup(b, s, name)
			if err == nil {
				err = writeConfigExtra(s.path(), name, rootfs, false, extra)
			}
			if err != nil {
				b.res.get("f-start-"+f.key, s).fail(err)
			}
		}
		if err := b.startStopRounds(ctx, names, "f-start-"+f.key, "f-stop-"+f.key); err != nil {
			return err
		}
	}
	return nil
}
